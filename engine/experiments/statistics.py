"""The statistics of an A/B test review, as plain functions of counts, means and variances.

Everything here is a pure function (numbers in, numbers out) so it can be checked against
scipy and hand computations (tests/test_experiment_stats.py). Rates are proportions of
independent trials (an impression is clicked or not); means are per-user averages.

- Intervals for one rate: Wilson's score interval.
- A variant against the control: the relative lift `b / a - 1` with an interval from the delta
  method on `log(b / a)`; the absolute difference `b - a` with Newcombe's hybrid score interval
  (from the two Wilson intervals).
- Fixed-horizon p-values: the pooled two-proportion z test for rates, Welch's t test for means
  (valid when the sample size was fixed in advance and the data is looked at once).
- Peeking-safe ("always valid") results: the mixture sequential probability ratio test
  (mSPRT) of Johari, Koomen, Pekelis and Walsh, "Peeking at A/B Tests: Why it matters, and what
  to do about it", KDD 2017 (and "Always Valid Inference", Operations Research 2022).
- The sample-ratio-mismatch check: Pearson's chi-square of the units per variant against the
  configured traffic shares.
- A cluster bootstrap for ratio estimators (resampling users, not impressions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

#: A sample-ratio mismatch is flagged below this p-value (the usual, deliberately strict,
#: threshold: an SRM means the assignment or the logging is broken, not a small effect).
SRM_ALPHA = 0.001


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def wilson_interval(successes: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson's score interval for a proportion `successes / n` ((nan, nan) when n = 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(alpha)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_z_test(x_a: float, n_a: float, x_b: float, n_b: float) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z test of `x_b/n_b` against `x_a/n_a`."""
    if n_a <= 0 or n_b <= 0:
        return (math.nan, math.nan)
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return (0.0, 1.0)
    z = (x_b / n_b - x_a / n_a) / se
    return (z, float(2 * stats.norm.sf(abs(z))))


def newcombe_interval(
    x_a: float, n_a: float, x_b: float, n_b: float, alpha: float = 0.05
) -> tuple[float, float, float]:
    """(difference, low, high) for `p_b - p_a`: Newcombe's hybrid score interval (method 10 of
    Newcombe 1998), built from each proportion's Wilson interval."""
    if n_a <= 0 or n_b <= 0:
        return (math.nan, math.nan, math.nan)
    p_a, p_b = x_a / n_a, x_b / n_b
    l_a, u_a = wilson_interval(x_a, n_a, alpha)
    l_b, u_b = wilson_interval(x_b, n_b, alpha)
    d = p_b - p_a
    low = d - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2)
    high = d + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2)
    return (d, low, high)


def log_ratio_interval(
    mean_a: float, se_a: float, mean_b: float, se_b: float, alpha: float = 0.05
) -> tuple[float, float, float]:
    """(lift, low, high) for the relative lift `mean_b / mean_a - 1`.

    Delta method on the log ratio: `Var(log(b / a)) ~ (se_b / b)^2 + (se_a / a)^2` (the two
    groups independent); the interval is `exp(log(b / a) +- z * se) - 1`, so it is asymmetric
    and never goes below -100%. nan when either mean is 0."""
    if not (mean_a > 0 and mean_b > 0):
        return (math.nan, math.nan, math.nan)
    log_ratio = math.log(mean_b / mean_a)
    se = math.sqrt((se_b / mean_b) ** 2 + (se_a / mean_a) ** 2)
    z = _z(alpha)
    return (
        math.exp(log_ratio) - 1,
        math.exp(log_ratio - z * se) - 1,
        math.exp(log_ratio + z * se) - 1,
    )


def proportion_lift(
    x_a: float, n_a: float, x_b: float, n_b: float, alpha: float = 0.05
) -> tuple[float, float, float]:
    """(lift, low, high) of `p_b / p_a - 1` for two proportions (delta method, log ratio)."""
    if n_a <= 0 or n_b <= 0:
        return (math.nan, math.nan, math.nan)
    p_a, p_b = x_a / n_a, x_b / n_b
    return log_ratio_interval(
        p_a, math.sqrt(p_a * (1 - p_a) / n_a), p_b, math.sqrt(p_b * (1 - p_b) / n_b), alpha
    )


def welch_t_test(
    mean_a: float, var_a: float, n_a: float, mean_b: float, var_b: float, n_b: float
) -> tuple[float, float, float]:
    """(t, degrees of freedom, two-sided p) of Welch's unequal-variance t test of b against a
    (`var_*` are sample variances, ddof = 1)."""
    if n_a < 2 or n_b < 2:
        return (math.nan, math.nan, math.nan)
    se2 = var_a / n_a + var_b / n_b
    if se2 == 0:
        return (0.0, math.nan, 1.0)
    t, p = stats.ttest_ind_from_stats(
        mean_b, math.sqrt(var_b), n_b, mean_a, math.sqrt(var_a), n_a, equal_var=False
    )
    df = se2**2 / ((var_a / n_a) ** 2 / (n_a - 1) + (var_b / n_b) ** 2 / (n_b - 1))
    return (float(t), float(df), float(p))


def mean_interval(mean: float, var: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Student's t interval for a mean (`var`: the sample variance)."""
    if n < 2:
        return (math.nan, math.nan)
    half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * math.sqrt(var / n)
    return (mean - half, mean + half)


# --- sequential testing -------------------------------------------------------------------


def msprt_statistic(difference: float, variance: float, tau2: float, theta0: float = 0.0) -> float:
    """The mixture likelihood ratio Lambda of the mSPRT (Johari et al. 2017) for a difference of
    means.

    `difference` is the observed `mean_b - mean_a`, `variance` its variance
    (`var_a / n_a + var_b / n_b`), and the mixing distribution over the true difference is
    normal, `N(theta0, tau2)`. With `v = variance`::

        Lambda = sqrt(v / (v + tau2)) * exp(tau2 * (difference - theta0)^2 / (2 v (v + tau2)))

    which for `n` units per arm and per-unit variance `V` (`v = V / n`) is the paper's
    `sqrt(V / (V + n tau2)) exp(n^2 tau2 (Y_n - X_n - theta0)^2 / (2 V (V + n tau2)))`.
    Under H0 (difference = theta0) Lambda is a nonnegative martingale with mean 1, so by
    Ville's inequality P(Lambda ever >= 1 / alpha) <= alpha: the test may be checked after
    every unit and stopped at any time."""
    if not variance > 0 or not tau2 > 0:
        return 1.0
    v = variance
    exponent = tau2 * (difference - theta0) ** 2 / (2 * v * (v + tau2))
    return math.sqrt(v / (v + tau2)) * math.exp(min(exponent, 700.0))


def always_valid_p_values(
    differences: Sequence[float], variances: Sequence[float], tau2: float | Sequence[float]
) -> np.ndarray:
    """The always-valid p-value after each look: `p_n = min(p_{n-1}, 1 / Lambda_n)`, p_0 = 1.

    P(p_n <= alpha at any n) <= alpha under H0, so it may be read after every look (every
    user, every day) and the experiment stopped as soon as it is small enough. Looking at
    fewer points than every unit only makes it larger (still valid)."""
    taus = np.broadcast_to(np.asarray(tau2, dtype=float), (len(differences),))
    out = np.empty(len(differences))
    p = 1.0
    for i, (d, v) in enumerate(zip(differences, variances, strict=True)):
        p = min(p, 1.0 / msprt_statistic(d, v, float(taus[i])))
        out[i] = p
    return out


def sequential_interval(
    difference: float, variance: float, tau2: float, alpha: float = 0.05
) -> tuple[float, float]:
    """The always-valid confidence interval for the true difference: every theta0 the mSPRT
    would not reject at level alpha (`Lambda(theta0) < 1 / alpha`)::

        difference +- sqrt(2 v (v + tau2) / tau2 * log(sqrt((v + tau2) / v) / alpha))

    It covers the true difference at every time simultaneously with probability >= 1 - alpha,
    so it is wider than the fixed-horizon interval."""
    if not variance > 0 or not tau2 > 0:
        return (math.nan, math.nan)
    v = variance
    half = math.sqrt(2 * v * (v + tau2) / tau2 * math.log(math.sqrt((v + tau2) / v) / alpha))
    return (difference - half, difference + half)


def mixture_variance(pooled_unit_variance: float, effect: float = 0.1) -> float:
    """Tailor's default mSPRT mixing variance: `tau = effect` standard deviations of one unit's
    outcome (0.1: the mixture puts its weight on small standardized effects; Johari et al.
    recommend matching tau to the effects one expects, which only changes power, not
    validity)."""
    return (effect**2) * pooled_unit_variance


# --- sample ratio mismatch ----------------------------------------------------------------


def sample_ratio_test(counts: Sequence[float], shares: Sequence[float]) -> tuple[float, float]:
    """(chi-square, p) of Pearson's goodness-of-fit test of the units per variant against the
    configured traffic shares (a small p: the split is not what was configured)."""
    observed = np.asarray(counts, dtype=float)
    total = observed.sum()
    if total <= 0 or len(observed) < 2:
        return (math.nan, math.nan)
    expected = np.asarray(shares, dtype=float) / float(np.sum(shares)) * total
    chi2, p = stats.chisquare(observed, expected)
    return (float(chi2), float(p))


# --- bootstrap ----------------------------------------------------------------------------


def bootstrap_weights(n_clusters: int, repeats: int, seed: int = 0) -> np.ndarray:
    """`repeats x n_clusters` counts of how often each cluster (user) is drawn when `n_clusters`
    are resampled with replacement."""
    rng = np.random.default_rng(seed)
    if n_clusters == 0:
        return np.zeros((repeats, 0))
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=repeats)


def bootstrap_ratio_interval(
    weights: np.ndarray,
    numerator: np.ndarray,
    denominator: np.ndarray,
    scale: float = 1.0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile interval of `scale * sum(numerator) / sum(denominator)` over the bootstrap
    resamples in `weights` (per-cluster sums in `numerator` / `denominator`)."""
    if weights.shape[1] == 0:
        return (math.nan, math.nan)
    num = weights @ numerator
    den = weights @ denominator
    with np.errstate(invalid="ignore", divide="ignore"):
        values = scale * num / den
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (math.nan, math.nan)
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return (float(low), float(high))

"""The statistics of experiments (issue 6): each function against scipy, published values or
hand computations, and the sequential test's promise (peeking keeps false positives at alpha)
by simulation. Also the review's bookkeeping and the offline estimators on synthetic logs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.experiments import statistics as st
from engine.experiments.replay import Exposure, estimate
from engine.experiments.review import guardrail_status, review, verdict


def test_wilson_interval_matches_scipy():
    for x, n in [(2017, 25017), (0, 20), (20, 20), (3, 7), (420, 2017)]:
        expected = stats.binomtest(x, n).proportion_ci(0.95, method="wilson")
        low, high = st.wilson_interval(x, n)
        assert low == pytest.approx(expected.low, abs=1e-12)
        assert high == pytest.approx(expected.high, abs=1e-12)
    low, high = st.wilson_interval(5, 50, alpha=0.1)
    expected = stats.binomtest(5, 50).proportion_ci(0.90, method="wilson")
    assert (low, high) == pytest.approx((expected.low, expected.high))
    assert all(math.isnan(v) for v in st.wilson_interval(0, 0))


def test_two_proportion_z_test_is_the_uncorrected_chi_square():
    for x_a, n_a, x_b, n_b in [(2017, 25017, 2776, 24983), (420, 2017, 712, 2776), (5, 40, 9, 38)]:
        z, p = st.two_proportion_z_test(x_a, n_a, x_b, n_b)
        table = [[x_a, n_a - x_a], [x_b, n_b - x_b]]
        chi2, p_chi, _, _ = stats.chi2_contingency(table, correction=False)
        assert z**2 == pytest.approx(chi2, rel=1e-9)
        assert p == pytest.approx(p_chi, rel=1e-9)
        assert (z > 0) == (x_b / n_b > x_a / n_a)
    # the sample store's planted test, as engine/sample/measure.py reports it
    assert st.two_proportion_z_test(2017, 25017, 2776, 24983)[1] == pytest.approx(5.2e-31, rel=0.01)


def test_newcombe_interval_reproduces_newcombe_1998():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80,
    # method 10 (hybrid score): 0.0524 to 0.3339
    diff, low, high = st.newcombe_interval(48, 80, 56, 70)
    assert diff == pytest.approx(56 / 70 - 48 / 80)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    # example (e): 9/10 - 3/10: 0.1705 to 0.8090
    assert st.newcombe_interval(3, 10, 9, 10)[1:] == pytest.approx((0.1705, 0.8090), abs=5e-5)


def test_lift_interval_is_the_delta_method_on_the_log_ratio():
    x_a, n_a, x_b, n_b = 2017, 25017, 2776, 24983
    lift, low, high = st.proportion_lift(x_a, n_a, x_b, n_b)
    p_a, p_b = x_a / n_a, x_b / n_b
    se = math.sqrt((1 - p_a) / (n_a * p_a) + (1 - p_b) / (n_b * p_b))
    z = stats.norm.ppf(0.975)
    assert lift == pytest.approx(p_b / p_a - 1)
    assert low == pytest.approx(p_b / p_a * math.exp(-z * se) - 1)
    assert high == pytest.approx(p_b / p_a * math.exp(z * se) - 1)
    assert math.isnan(st.proportion_lift(0, 100, 5, 100)[0])


def test_lift_interval_covers_the_true_lift_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    n, p_a, p_b = 4000, 0.08, 0.1
    truth = p_b / p_a - 1
    x_a = rng.binomial(n, p_a, size=2000)
    x_b = rng.binomial(n, p_b, size=2000)
    covered = [
        low <= truth <= high
        for a, b in zip(x_a, x_b, strict=True)
        for _, low, high in [st.proportion_lift(a, n, b, n)]
    ]
    assert 0.93 <= np.mean(covered) <= 0.97


def test_welch_t_test_matches_scipy_on_raw_samples():
    rng = np.random.default_rng(1)
    a = rng.exponential(10.0, 300)
    b = rng.exponential(12.0, 450)
    t, df, p = st.welch_t_test(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    expected = stats.ttest_ind(b, a, equal_var=False)
    assert t == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)
    assert df == pytest.approx(expected.df)
    low, high = st.mean_interval(a.mean(), a.var(ddof=1), len(a))
    ref = stats.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=stats.sem(a))
    assert (low, high) == pytest.approx(ref)


def test_msprt_statistic_is_the_papers_formula_for_equal_arms():
    # Johari et al. 2017: n per arm, per-unit variance sigma^2 in each arm, V = 2 sigma^2
    n, sigma2, tau2, diff = 500, 0.09, 0.0004, 0.02
    big_v = 2 * sigma2
    paper = math.sqrt(big_v / (big_v + n * tau2)) * math.exp(
        n**2 * tau2 * diff**2 / (2 * big_v * (big_v + n * tau2))
    )
    assert st.msprt_statistic(diff, big_v / n, tau2) == pytest.approx(paper)
    # its always-valid interval is exactly where Lambda(theta0) = 1 / alpha
    low, high = st.sequential_interval(diff, big_v / n, tau2, alpha=0.05)
    for edge in (low, high):
        assert st.msprt_statistic(diff, big_v / n, tau2, theta0=edge) == pytest.approx(20.0)
    assert high - low > 2 * 1.96 * math.sqrt(big_v / n)  # wider than the fixed interval
    # p_n = min(p_{n-1}, 1 / Lambda_n), starting from 1
    strong = 1 / st.msprt_statistic(0.05, 0.0001, 0.001)
    found = st.always_valid_p_values([0.0, 0.05, 0.0], [0.01, 0.0001, 0.01], 0.001)
    assert list(found) == pytest.approx([1.0, strong, strong])


def _peeking(p_a: float, p_b: float, reps: int, users: int, every: int, seed: int):
    """Fraction of simulated experiments declared significant at any look (every `every`
    users per arm), by the naive z test and by the mSPRT's always-valid p-value."""
    rng = np.random.default_rng(seed)
    looks = np.arange(every, users + 1, every)
    clicks_a = np.cumsum(rng.random((reps, users)) < p_a, axis=1)[:, looks - 1]
    clicks_b = np.cumsum(rng.random((reps, users)) < p_b, axis=1)[:, looks - 1]
    naive = np.zeros(reps, bool)
    sequential = np.zeros(reps, bool)
    for r in range(reps):
        diffs, variances, taus = [], [], []
        for j, n in enumerate(looks):
            x_a, x_b = clicks_a[r, j], clicks_b[r, j]
            naive[r] |= st.two_proportion_z_test(x_a, n, x_b, n)[1] < 0.05
            q_a, q_b = x_a / n, x_b / n
            pooled = (x_a + x_b) / (2 * n)
            diffs.append(q_b - q_a)
            variances.append(q_a * (1 - q_a) / n + q_b * (1 - q_b) / n)
            taus.append(st.mixture_variance(pooled * (1 - pooled)))
        sequential[r] = st.always_valid_p_values(diffs, variances, taus).min() <= 0.05
    return naive.mean(), sequential.mean()


@pytest.mark.slow
def test_peeking_every_100_users_keeps_msprt_false_positives_near_alpha():
    naive, sequential = _peeking(0.1, 0.1, reps=1000, users=5000, every=100, seed=11)
    assert naive > 0.15  # peeking at a fixed-horizon test inflates false positives
    assert sequential <= 0.05 + 0.015  # the always-valid p-value does not
    _, power = _peeking(0.1, 0.13, reps=200, users=5000, every=100, seed=12)
    assert power > 0.8  # and it still finds a real difference


def test_msprt_on_normal_means_keeps_alpha_under_continuous_monitoring():
    rng = np.random.default_rng(3)
    reps, users, every = 400, 3000, 100
    looks = np.arange(every, users + 1, every)
    rejected = 0
    for _ in range(reps):
        a = rng.normal(5.0, 2.0, users)
        b = rng.normal(5.0, 3.0, users)
        diffs, variances, taus = [], [], []
        for n in looks:
            va, vb = a[:n].var(ddof=1), b[:n].var(ddof=1)
            diffs.append(b[:n].mean() - a[:n].mean())
            variances.append(va / n + vb / n)
            taus.append(st.mixture_variance((va + vb) / 2))
        rejected += st.always_valid_p_values(diffs, variances, taus).min() <= 0.05
    assert rejected / reps <= 0.05 + 0.02


def test_sample_ratio_test_matches_scipy_and_flags_a_broken_split():
    chi2, p = st.sample_ratio_test([1967, 1965], [0.5, 0.5])
    expected = stats.chisquare([1967, 1965], [1966, 1966])
    assert (chi2, p) == pytest.approx((expected.statistic, expected.pvalue))
    assert p > 0.5
    _, p = st.sample_ratio_test([5200, 4800], [0.5, 0.5])
    assert p < st.SRM_ALPHA
    _, p = st.sample_ratio_test([3000, 7000], [0.3, 0.7])
    assert p == pytest.approx(1.0)


def test_bootstrap_ratio_interval_agrees_with_the_normal_interval():
    rng = np.random.default_rng(5)
    clicks = rng.binomial(1, 0.1, 5000).astype(float)
    weights = st.bootstrap_weights(len(clicks), 2000, seed=1)
    low, high = st.bootstrap_ratio_interval(weights, clicks, np.ones(len(clicks)))
    p = clicks.mean()
    half = 1.96 * math.sqrt(p * (1 - p) / len(clicks))
    assert low == pytest.approx(p - half, abs=0.002)
    assert high == pytest.approx(p + half, abs=0.002)
    assert weights.sum(axis=1).tolist() == [len(clicks)] * 2000


def test_guardrail_is_a_non_inferiority_check():
    assert guardrail_status({"ciLow": -0.02, "ciHigh": 0.1}, 0.05) == "PASS"
    assert guardrail_status({"ciLow": -0.2, "ciHigh": -0.08}, 0.05) == "FAIL"
    assert guardrail_status({"ciLow": -0.09, "ciHigh": 0.03}, 0.05) == "INCONCLUSIVE"
    assert guardrail_status({"ciLow": math.nan, "ciHigh": math.nan}, 0.05) == "INCONCLUSIVE"


def _rows(entries):
    """variant_user_days-shaped arrays from (variant, user, day, impressions, clicks,
    conversions, revenue) tuples."""
    cols = list(zip(*entries, strict=True))
    variant, user = np.array(cols[0]), np.array(cols[1])
    pairs = sorted(set(zip(variant, user, strict=True)))
    unit = np.array([pairs.index(p) for p in zip(variant, user, strict=True)])
    people = sorted(set(user))
    return {
        "variant": variant,
        "user": user,
        "day": np.array(cols[2]),
        "impressions": np.array(cols[3]),
        "clicks": np.array(cols[4]),
        "conversions": np.array(cols[5]),
        "revenue": np.array(cols[6], float),
        "unit": unit,
        "person": np.array([people.index(u) for u in user]),
    }


def test_review_totals_timeline_and_revenue_per_user():
    day = 20000
    rows = _rows(
        [
            ("a", "u1", day, 10, 1, 0, 0.0),
            ("a", "u2", day, 10, 2, 1, 30.0),
            ("b", "u3", day, 10, 3, 1, 50.0),
            ("a", "u1", day + 1, 10, 1, 1, 20.0),
            ("b", "u4", day + 1, 10, 2, 0, 0.0),
            ("b", "u3", day + 1, 5, 0, 0, 0.0),
        ]
    )
    r = review(rows, ["a", "b"], [0.5, 0.5], "CLICK_THROUGH", [], alpha=0.05)
    a, b = r["variants"]
    assert (a["users"], a["impressions"], a["clicks"], a["conversions"]) == (2, 30, 4, 2)
    assert (b["users"], b["impressions"], b["clicks"], b["conversions"]) == (2, 25, 5, 1)
    assert a["metrics"]["CLICK_THROUGH"]["value"] == pytest.approx(4 / 30)
    assert b["metrics"]["CONVERSION"]["value"] == pytest.approx(1 / 5)
    # per-user revenue: a = [20, 30] (u1's two days summed), b = [50, 0]
    assert a["metrics"]["REVENUE_PER_USER"]["value"] == pytest.approx(25.0)
    assert a["metrics"]["REVENUE_PER_USER"]["std"] == pytest.approx(np.std([20, 30], ddof=1))
    assert b["metrics"]["REVENUE_PER_USER"]["std"] == pytest.approx(np.std([50, 0], ddof=1))
    first = [t for t in r["timeline"] if t["metric"] == "CLICK_THROUGH"]
    assert [t["date"] for t in first] == ["2024-10-04", "2024-10-05"]
    assert first[0]["controlImpressions"] == 20 and first[0]["impressions"] == 10
    assert first[0]["value"] == pytest.approx(3 / 10) and first[1]["value"] == pytest.approx(5 / 25)
    assert first[1]["lift"] == pytest.approx(r["comparisons"][0]["lift"]["value"])
    assert r["sampleRatio"]["observed"] == {"a": 2, "b": 2}
    assert r["sampleRatio"]["usersInSeveralVariants"] == 0
    assert r["verdict"]["decision"] == "NO_DIFFERENCE"


def test_review_flags_sample_ratio_mismatch_and_users_in_two_variants():
    rows = _rows(
        [("a", f"u{i}", 20000, 1, 0, 0, 0.0) for i in range(700)]
        + [("b", f"u{i}", 20000, 1, 0, 0, 0.0) for i in range(690, 1000)]
    )
    r = review(rows, ["a", "b"], [0.5, 0.5], "CLICK_THROUGH", [], status="RUNNING")
    assert r["sampleRatio"]["mismatch"] and r["sampleRatio"]["usersInSeveralVariants"] == 10
    assert r["verdict"]["decision"] == "INVESTIGATE"
    # undefined numbers are None (JSON-able), never nan
    assert r["comparisons"][0]["lift"]["value"] is None


def _synthetic_log(seed: int = 0, n: int = 20000):
    """Variant a shows items a0-a9, b shows b0-b9; a list is clicked with probability 8% (a)
    or 11% (b), on one of its items at random."""
    rng = np.random.default_rng(seed)
    exposures = []
    for i in range(n):
        user = f"u{i % 2000}"
        variant = "a" if (i % 2000) < 1000 else "b"
        items = [f"{variant}{j}" for j in range(10)]
        rate = 0.08 if variant == "a" else 0.11
        clicked = items[rng.integers(10)] if rng.random() < rate else None
        exposures.append(Exposure(f"r{i}", variant, user, float(i), items, clicked))
    return exposures


def test_offline_estimators_recover_a_logged_policy():
    exposures = _synthetic_log()
    logged_a = np.mean([e.clicked is not None for e in exposures if e.variant == "a"])
    as_a = [[f"a{j}" for j in range(10)] for _ in exposures]
    found = estimate(exposures, as_a, {"a": 0.5, "b": 0.5}, k=10, repeats=300)
    for name in ("replay", "ips", "snips"):
        value = found[name]["clickThrough"]
        assert value["value"] == pytest.approx(logged_a, rel=1e-9), name
        assert value["ciLow"] < logged_a < value["ciHigh"]
    assert found["snips"]["support"] == pytest.approx(1.0)
    assert found["replayExact"]["matchedExposures"] == 10000
    assert found["clickRecall"]["value"] == pytest.approx(
        sum(e.clicked is not None for e in exposures if e.variant == "a")
        / sum(e.clicked is not None for e in exposures)
    )
    # half of a's list and half of b's: the supported half of each is estimated at its rate
    mixed = [[f"a{j}" for j in range(5)] + [f"b{j}" for j in range(5)] for _ in exposures]
    found = estimate(exposures, mixed, {"a": 0.5, "b": 0.5}, k=10, repeats=100)
    assert found["snips"]["clickThrough"]["value"] == pytest.approx(0.095, abs=0.01)
    assert found["replayExact"]["matchedExposures"] == 0
    assert found["replayExact"]["clickThrough"]["value"] is None
    assert found["logged"]["byVariant"]["a"]["exposures"] == 10000


def _comparison(variant, lift, p, p_seq, metric="CLICK_THROUGH"):
    return {
        "variant": variant,
        "metric": metric,
        "difference": {"value": lift},
        "lift": {"value": lift, "ciLow": lift - 0.05, "ciHigh": lift + 0.05},
        "pValue": p,
        "significant": p < 0.05,
        "sequential": {"pValue": p_seq, "significant": p_seq < 0.05},
    }


def test_verdict_reads_fixed_p_only_for_a_completed_experiment():
    ok_srm = {"mismatch": False}
    better = [_comparison("b", 0.2, 0.001, 0.2)]  # significant only at the fixed horizon
    assert verdict(better, [], ok_srm, "CLICK_THROUGH", "COMPLETED")["decision"] == "SHIP"
    assert verdict(better, [], ok_srm, "CLICK_THROUGH", "RUNNING")["decision"] == "CONTINUE"
    assert verdict(better, [], ok_srm, "CLICK_THROUGH", "STOPPED")["decision"] == "NO_DIFFERENCE"
    strong = [_comparison("b", 0.2, 1e-6, 1e-4), _comparison("c", 0.3, 1e-6, 1e-4)]
    found = verdict(strong, [], ok_srm, "CLICK_THROUGH", "RUNNING")
    assert (found["decision"], found["variant"]) == ("SHIP", "c")
    failing = [{"variant": "c", "metricName": "CONVERSION", "status": "FAIL"}]
    found = verdict(strong, failing, ok_srm, "CLICK_THROUGH", "RUNNING")
    assert found["decision"] == "KEEP_CONTROL" and "CONVERSION" in found["reason"]
    worse = [_comparison("b", -0.2, 1e-6, 1e-4)]
    assert verdict(worse, [], ok_srm, "CLICK_THROUGH", "COMPLETED")["decision"] == "KEEP_CONTROL"
    srm = {"mismatch": True, "observed": {"a": 1, "b": 9}, "pValue": 1e-9}
    assert verdict(strong, [], srm, "CLICK_THROUGH", "COMPLETED")["decision"] == "INVESTIGATE"

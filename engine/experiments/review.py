"""The review of an experiment: per-variant metrics, comparisons with the control, guardrails,
the sample-ratio check, the daily cumulative timeline and a verdict.

Input is one row per (variant, user, UTC day) with that day's impressions, clicked
impressions, converted clicks and revenue (`engine.store.experiments.variant_user_days`);
output is plain JSON-able data (None where a number is undefined, e.g. a rate of nothing).

Metrics:

- `CLICK_THROUGH`: clicked impressions / impressions (an impression is one logged
  recommendation list; clicked = at least one click event carried its recommendationId).
- `CONVERSION`: converted clicks / clicked impressions ("purchase after click").
- `REVENUE_PER_USER`: the attributed EVENT_VALUE of conversion events per exposed user.

Rates are compared impression by impression (the two-proportion z test and Wilson/Newcombe
intervals treat impressions as independent; impressions of one user are correlated, so for
users with many impressions these intervals are somewhat too narrow: the per-user revenue
metric and the users-based sample-ratio check do not have this issue).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engine.experiments import statistics as st

CLICK_THROUGH = "CLICK_THROUGH"
CONVERSION = "CONVERSION"
REVENUE_PER_USER = "REVENUE_PER_USER"
METRICS = (CLICK_THROUGH, CONVERSION, REVENUE_PER_USER)
RATES = {CLICK_THROUGH: ("clicks", "impressions"), CONVERSION: ("conversions", "clicks")}
DAY = 86400


@dataclass
class Totals:
    """One variant's (cumulative) counts."""

    impressions: float = 0.0
    clicks: float = 0.0
    conversions: float = 0.0
    revenue: float = 0.0
    users: float = 0.0
    revenue_sq: float = 0.0  # sum over users of (the user's revenue)^2

    def revenue_mean(self) -> float:
        return self.revenue / self.users if self.users else math.nan

    def revenue_var(self) -> float:
        """Sample variance (ddof 1) of revenue per user."""
        if self.users < 2:
            return math.nan
        return max(0.0, (self.revenue_sq - self.revenue**2 / self.users) / (self.users - 1))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def metric_summary(metric: str, t: Totals, alpha: float) -> dict[str, Any]:
    """The metric's value and its (1 - alpha) interval for one variant."""
    if metric in RATES:
        num, den = (getattr(t, f) for f in RATES[metric])
        low, high = st.wilson_interval(num, den, alpha)
        return {
            "value": _ratio(num, den),
            "ciLow": low,
            "ciHigh": high,
            "numerator": int(num),
            "denominator": int(den),
        }
    mean, var = t.revenue_mean(), t.revenue_var()
    low, high = st.mean_interval(mean, var, t.users, alpha)
    return {
        "value": mean,
        "ciLow": low,
        "ciHigh": high,
        "numerator": t.revenue,
        "denominator": int(t.users),
        "std": math.sqrt(var) if var == var else math.nan,
    }


def compare(
    metric: str, a: Totals, b: Totals, alpha: float, effect: float = 0.1
) -> tuple[dict[str, Any], float]:
    """Variant `b` against control `a` on `metric`: (comparison, mSPRT Lambda)."""
    if metric in RATES:
        x_a, n_a = (getattr(a, f) for f in RATES[metric])
        x_b, n_b = (getattr(b, f) for f in RATES[metric])
        if not (n_a > 0 and n_b > 0):
            return _empty_comparison(metric, a, b), 1.0
        p_a, p_b = x_a / n_a, x_b / n_b
        _, p_value = st.two_proportion_z_test(x_a, n_a, x_b, n_b)
        diff, d_low, d_high = st.newcombe_interval(x_a, n_a, x_b, n_b, alpha)
        lift, l_low, l_high = st.proportion_lift(x_a, n_a, x_b, n_b, alpha)
        variance = p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b
        pooled = (x_a + x_b) / (n_a + n_b)
        tau2 = st.mixture_variance(pooled * (1 - pooled), effect)
        test = "two-proportion z test"
        value_a, value_b = p_a, p_b
    else:
        m_a, v_a, n_a = a.revenue_mean(), a.revenue_var(), a.users
        m_b, v_b, n_b = b.revenue_mean(), b.revenue_var(), b.users
        if not (n_a >= 2 and n_b >= 2):
            return _empty_comparison(metric, a, b), 1.0
        _, df, p_value = st.welch_t_test(m_a, v_a, n_a, m_b, v_b, n_b)
        variance = v_a / n_a + v_b / n_b
        diff = m_b - m_a
        if variance > 0:
            half = float(st.stats.t.ppf(1 - alpha / 2, df)) * math.sqrt(variance)
        else:
            half = 0.0
        d_low, d_high = diff - half, diff + half
        lift, l_low, l_high = st.log_ratio_interval(
            m_a, math.sqrt(v_a / n_a), m_b, math.sqrt(v_b / n_b), alpha
        )
        tau2 = st.mixture_variance((v_a + v_b) / 2, effect)
        test = "Welch t test"
        value_a, value_b = m_a, m_b
    lam = st.msprt_statistic(diff, variance, tau2)
    s_low, s_high = st.sequential_interval(diff, variance, tau2, alpha)
    out = {
        "metric": metric,
        "controlValue": value_a,
        "value": value_b,
        "difference": {"value": diff, "ciLow": d_low, "ciHigh": d_high},
        "lift": {"value": lift, "ciLow": l_low, "ciHigh": l_high},
        "pValue": p_value,
        "test": test,
        "significant": bool(p_value < alpha),
        "sequential": {
            "pValue": min(1.0, 1.0 / lam),
            "ciLow": s_low,
            "ciHigh": s_high,
            "significant": bool(1.0 / lam <= alpha),
            "mixtureVariance": tau2,
        },
    }
    return out, lam


def _empty_comparison(metric: str, a: Totals, b: Totals) -> dict[str, Any]:
    nan = math.nan
    return {
        "metric": metric,
        "controlValue": nan,
        "value": nan,
        "difference": {"value": nan, "ciLow": nan, "ciHigh": nan},
        "lift": {"value": nan, "ciLow": nan, "ciHigh": nan},
        "pValue": nan,
        "test": "two-proportion z test" if metric in RATES else "Welch t test",
        "significant": False,
        "sequential": {
            "pValue": 1.0,
            "ciLow": nan,
            "ciHigh": nan,
            "significant": False,
            "mixtureVariance": nan,
        },
    }


def guardrail_status(lift: dict[str, Any], max_drop: float) -> str:
    """A guardrail is a non-inferiority test on the relative lift: PASS when the whole interval
    lies above `-max_drop` (any drop is smaller than allowed), FAIL when the whole interval
    lies below it (the drop is larger than allowed), else INCONCLUSIVE (not enough data)."""
    low, high = lift["ciLow"], lift["ciHigh"]
    if not (low == low and high == high):
        return "INCONCLUSIVE"
    if low > -max_drop:
        return "PASS"
    if high < -max_drop:
        return "FAIL"
    return "INCONCLUSIVE"


class _Cumulative:
    """Per-variant cumulative totals, advanced one day at a time."""

    def __init__(self, rows: dict[str, np.ndarray], variant_of_row: np.ndarray, n: int) -> None:
        self.rows = rows
        self.v = variant_of_row
        self.n = n
        units = rows["unit"].astype(np.int64)
        self.units = units
        n_units = int(units.max()) + 1 if len(units) else 0
        self.unit_variant = np.zeros(n_units, np.int64)
        self.unit_variant[units] = variant_of_row
        self.unit_revenue = np.zeros(n_units)
        self.seen = np.zeros(n_units, bool)
        self.totals = [Totals() for _ in range(n)]

    def add(self, mask: np.ndarray) -> list[Totals]:
        r, v, units = self.rows, self.v[mask], self.units[mask]
        for field in ("impressions", "clicks", "conversions", "revenue"):
            sums = np.bincount(v, weights=r[field][mask].astype(float), minlength=self.n)
            for i in range(self.n):
                setattr(self.totals[i], field, getattr(self.totals[i], field) + float(sums[i]))
        np.add.at(self.unit_revenue, units, r["revenue"][mask].astype(float))
        self.seen[units] = True
        users = np.bincount(self.unit_variant[self.seen], minlength=self.n)
        squares = np.bincount(self.unit_variant, weights=self.unit_revenue**2, minlength=self.n)
        for i in range(self.n):
            self.totals[i].users = float(users[i])
            self.totals[i].revenue_sq = float(squares[i])
        return [Totals(**vars(t)) for t in self.totals]


def review(
    rows: dict[str, np.ndarray],
    variants: list[str],
    shares: list[float],
    primary: str,
    guardrails: list[dict[str, Any]],
    alpha: float = 0.05,
    status: str = "COMPLETED",
    effect: float = 0.1,
) -> dict[str, Any]:
    """The review of an experiment (variants[0] is the control; `status`: the experiment's,
    which decides how the verdict reads significance). See the module docstring."""
    index = {name: i for i, name in enumerate(variants)}
    n = len(variants)
    names = rows["variant"].astype(str) if len(rows["variant"]) else np.zeros(0, str)
    variant_of_row = np.array([index[x] for x in names], np.int64)
    days = np.unique(rows["day"]) if len(rows["day"]) else np.zeros(0, np.int64)
    cumulative = _Cumulative(rows, variant_of_row, n)
    timeline: list[dict[str, Any]] = []
    running_p = {(i, m): 1.0 for i in range(1, n) for m in METRICS}
    totals = [Totals() for _ in range(n)]
    for day in days:
        totals = cumulative.add(rows["day"] == day)
        date = datetime.fromtimestamp(int(day) * DAY, UTC).date().isoformat()
        for i in range(1, n):
            for metric in METRICS:
                found, lam = compare(metric, totals[0], totals[i], alpha, effect)
                running_p[(i, metric)] = min(running_p[(i, metric)], 1.0 / lam)
                timeline.append(
                    {
                        "date": date,
                        "variant": variants[i],
                        "metric": metric,
                        "controlValue": found["controlValue"],
                        "value": found["value"],
                        "lift": found["lift"]["value"],
                        "liftLow": found["lift"]["ciLow"],
                        "liftHigh": found["lift"]["ciHigh"],
                        "pValue": found["pValue"],
                        "sequentialPValue": running_p[(i, metric)],
                        "controlImpressions": int(totals[0].impressions),
                        "impressions": int(totals[i].impressions),
                        "controlUsers": int(totals[0].users),
                        "users": int(totals[i].users),
                    }
                )
    per_variant = []
    for i, name in enumerate(variants):
        t = totals[i]
        per_variant.append(
            {
                "name": name,
                "trafficShare": shares[i],
                "users": int(t.users),
                "impressions": int(t.impressions),
                "clicks": int(t.clicks),
                "conversions": int(t.conversions),
                "revenue": t.revenue,
                "metrics": {m: metric_summary(m, t, alpha) for m in METRICS},
            }
        )
    comparisons = []
    for i in range(1, n):
        for metric in METRICS:
            found, lam = compare(metric, totals[0], totals[i], alpha, effect)
            p_seq = min(running_p[(i, metric)], 1.0 / lam)
            found["sequential"]["pValue"] = p_seq
            found["sequential"]["significant"] = bool(p_seq <= alpha)
            comparisons.append({"variant": variants[i], "control": variants[0], **found})
    guard = []
    for rule in guardrails:
        for c in comparisons:
            if c["metric"] == rule["metricName"]:
                guard.append(
                    {
                        "variant": c["variant"],
                        "metricName": rule["metricName"],
                        "maxRelativeDrop": rule["maxRelativeDrop"],
                        "lift": c["lift"]["value"],
                        "ciLow": c["lift"]["ciLow"],
                        "ciHigh": c["lift"]["ciHigh"],
                        "status": guardrail_status(c["lift"], rule["maxRelativeDrop"]),
                    }
                )
    users = [int(t.users) for t in totals]
    chi2, p_srm = st.sample_ratio_test(users, shares)
    total_users = sum(users)
    persons = rows["person"].astype(np.int64)
    several = 0
    if len(persons):
        pairs = np.unique(np.stack([persons, rows["unit"].astype(np.int64)]), axis=1)
        several = int((np.bincount(pairs[0]) > 1).sum())
    srm = {
        "unit": "users",
        "observed": {name: users[i] for i, name in enumerate(variants)},
        "expected": {name: shares[i] * total_users for i, name in enumerate(variants)},
        "chiSquare": chi2,
        "pValue": p_srm,
        "threshold": st.SRM_ALPHA,
        "mismatch": bool(p_srm == p_srm and p_srm < st.SRM_ALPHA),
        "usersInSeveralVariants": several,
    }
    return clean(
        {
            "alpha": alpha,
            "primaryMetric": primary,
            "control": variants[0],
            "variants": per_variant,
            "comparisons": comparisons,
            "guardrails": guard,
            "sampleRatio": srm,
            "timeline": timeline,
            "verdict": verdict(comparisons, guard, srm, primary, status),
        }
    )


def verdict(
    comparisons: list[dict[str, Any]],
    guardrails: list[dict[str, Any]],
    srm: dict[str, Any],
    primary: str,
    status: str,
) -> dict[str, Any]:
    """What to do: INVESTIGATE (sample-ratio mismatch: the numbers cannot be trusted), SHIP
    a variant (significantly better on the primary metric and no guardrail FAILs), KEEP_CONTROL
    (no variant better, one significantly worse or a winner failing a guardrail), CONTINUE
    (a running experiment without a decision yet) or NO_DIFFERENCE (over, none significant).

    Only an experiment that ran its planned course (COMPLETED) is judged by the fixed-horizon
    p-value; one that is running (read every day) or was stopped early (perhaps because of
    what was read) is judged by the always-valid sequential p-value, which stays valid under
    peeking and optional stopping."""
    if srm["mismatch"]:
        return {
            "decision": "INVESTIGATE",
            "variant": None,
            "reason": (
                f"sample-ratio mismatch: users per variant {srm['observed']} differ from the "
                f"configured shares (p = {srm['pValue']:.2g}); check assignment and logging"
            ),
        }

    sequential = status != "COMPLETED"

    def significant(c: dict[str, Any]) -> bool:
        return c["sequential"]["significant"] if sequential else c["significant"]

    main = [c for c in comparisons if c["metric"] == primary]
    better = [c for c in main if significant(c) and (c["difference"]["value"] or 0) > 0]
    worse = [c for c in main if significant(c) and (c["difference"]["value"] or 0) < 0]
    kind = "sequential" if sequential else "fixed-horizon"
    if better:
        best = max(better, key=lambda c: c["lift"]["value"] or 0)
        failed = [
            g for g in guardrails if g["variant"] == best["variant"] and g["status"] == "FAIL"
        ]
        if failed:
            names = ", ".join(g["metricName"] for g in failed)
            return {
                "decision": "KEEP_CONTROL",
                "variant": best["variant"],
                "reason": f"{best['variant']} wins on {primary} but fails guardrail(s) {names}",
            }
        open_ = [
            g["metricName"]
            for g in guardrails
            if g["variant"] == best["variant"] and g["status"] == "INCONCLUSIVE"
        ]
        note = f"; guardrail(s) {', '.join(open_)} not yet conclusive" if open_ else ""
        lift = best["lift"]
        return {
            "decision": "SHIP",
            "variant": best["variant"],
            "reason": (
                f"{best['variant']} lifts {primary} by {lift['value']:+.1%} "
                f"[{lift['ciLow']:+.1%}, {lift['ciHigh']:+.1%}] ({kind} p = "
                f"{(best['sequential']['pValue'] if sequential else best['pValue']):.2g}){note}"
            ),
        }
    if worse:
        return {
            "decision": "KEEP_CONTROL",
            "variant": None,
            "reason": f"{', '.join(c['variant'] for c in worse)} significantly worse on {primary}",
        }
    if status in ("RUNNING", "SCHEDULED"):
        return {"decision": "CONTINUE", "variant": None, "reason": "no significant difference yet"}
    return {
        "decision": "NO_DIFFERENCE",
        "variant": None,
        "reason": f"no variant differs significantly from the control on {primary}",
    }


def clean(value: Any) -> Any:
    """JSON-able: numpy scalars as Python numbers, nan/inf as None."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

"""The A/B review page's words and charts: the verdict in plain words (from
`Engine.get_experiment_results`), each metric per variant with its interval and the lift of
each variant against the control (Altair), the cumulative lift and the p-values day by day
(Plotly, to explore), and an offline replay estimate next to the logged variants (Altair).
Plain functions of the engine's result dictionaries, tested without Streamlit."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import altair as alt
import plotly.graph_objects as go
import polars as pl

CLICK_THROUGH, CONVERSION, REVENUE_PER_USER = "CLICK_THROUGH", "CONVERSION", "REVENUE_PER_USER"
METRICS = (CLICK_THROUGH, CONVERSION, REVENUE_PER_USER)
#: How a metric reads inside a sentence, and as a title.
METRIC_WORDS = {
    CLICK_THROUGH: "click-through",
    CONVERSION: "conversion",
    REVENUE_PER_USER: "revenue per user",
}
METRIC_TITLES = {
    CLICK_THROUGH: "Click-through",
    CONVERSION: "Conversion",
    REVENUE_PER_USER: "Revenue per user",
}
METRIC_HELP = {
    CLICK_THROUGH: "lists shown that got a click ÷ lists shown",
    CONVERSION: "clicked lists followed by a conversion (e.g. a purchase) ÷ clicked lists",
    REVENUE_PER_USER: "attributed revenue (EVENT_VALUE of conversions) ÷ users who saw a list",
}
VARIANT_COLORS = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#72B7B2", "#9D755D")
UP, DOWN, FLAT = "#2E7D32", "#C62828", "#9E9E9E"
EFFECTS = ("better than control", "worse than control", "could be chance")
RUNNING_STATES = ("RUNNING", "SCHEDULED")


# --- formatting ----------------------------------------------------------------------------------


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def fmt_value(metric: str, value: float | None) -> str:
    """A metric's value as people read it: 8.06% for rates, 18.94 for revenue per user."""
    if not _finite(value):
        return "—"
    return f"{value:,.2f}" if metric == REVENUE_PER_USER else f"{value:.2%}"


def fmt_pct(value: float | None, signed: bool = False) -> str:
    """A relative change: 37.8% (or +37.8% when `signed`)."""
    if not _finite(value):
        return "—"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def fmt_p(value: float | None) -> str:
    """A p-value with two significant digits: 5.2e-31, 0.034, 0.5."""
    return f"{value:.2g}" if _finite(value) else "—"


def confidence(results: dict[str, Any]) -> str:
    """The intervals' level as a percentage: '95%'."""
    return f"{1 - results['alpha']:.0%}"


# --- the verdict in words ------------------------------------------------------------------------


def is_sequential(results: dict[str, Any]) -> bool:
    """Whether the decision reads the always-valid sequential test (an experiment that is
    running, scheduled or was stopped early) rather than the fixed-horizon one (COMPLETED: it
    ran its planned course). Mirrors `engine.experiments.review.verdict`."""
    return results["status"] != "COMPLETED"


def significant(comparison: dict[str, Any], sequential: bool) -> bool:
    """Significance as the verdict reads it."""
    return bool(
        comparison["sequential"]["significant"] if sequential else comparison["significant"]
    )


def p_value(comparison: dict[str, Any], sequential: bool) -> float | None:
    return comparison["sequential"]["pValue"] if sequential else comparison["pValue"]


def primary_comparison(results: dict[str, Any], variant: str) -> dict[str, Any]:
    return next(
        c
        for c in results["comparisons"]
        if c["variant"] == variant and c["metric"] == results["primaryMetric"]
    )


def challengers(results: dict[str, Any]) -> list[str]:
    """The variants compared with the control, in their configured order."""
    return [v["name"] for v in results["variants"][1:]]


def guardrail_words(results: dict[str, Any], variant: str) -> str:
    """The guardrails of one variant in a clause: 'no guardrail breached', 'guardrail
    breached: conversion fell by more than 5% (-12.0%, -18.0% to -6.0%)', ..."""
    rules = [g for g in results["guardrails"] if g["variant"] == variant]
    if not rules:
        return "no guardrails set"
    failed = [g for g in rules if g["status"] == "FAIL"]
    if failed:
        parts = [
            f"{METRIC_WORDS[g['metricName']]} fell by more than "
            f"{g['maxRelativeDrop']:.0%} ({fmt_pct(g['lift'], True)}, "
            f"{fmt_pct(g['ciLow'], True)} to {fmt_pct(g['ciHigh'], True)})"
            for g in failed
        ]
        word = "guardrail breached" if len(failed) == 1 else "guardrails breached"
        return f"{word}: " + "; ".join(parts)
    open_ = [g for g in rules if g["status"] != "PASS"]
    if open_:
        names = " and ".join(
            f"{METRIC_WORDS[g['metricName']]} (may drop at most {g['maxRelativeDrop']:.0%})"
            for g in open_
        )
        return f"no guardrail breached, but {names} is not conclusive yet"
    return "no guardrail breached"


def verdict_sentence(results: dict[str, Any], variant: str | None = None) -> str:
    """One variant against the control on the primary metric, in a sentence a product
    manager can repeat: 'variant_b beats variant_a on click-through by 37.8% (30.5% to
    45.6%), significant (p = 5.2e-31); no guardrail breached.' `variant` defaults to the one
    the verdict is about (else the first challenger)."""
    if variant is None:
        variant = results["verdict"].get("variant") or challengers(results)[0]
    control, metric = results["control"], results["primaryMetric"]
    words = METRIC_WORDS[metric]
    c = primary_comparison(results, variant)
    sequential = is_sequential(results)
    running = results["status"] in RUNNING_STATES
    lift = c["lift"]
    guard = guardrail_words(results, variant)
    if not _finite(lift["value"]):
        wait = "yet" if running else "in this experiment"
        return (
            f"{variant} vs {control}: not enough data to compare {words} {wait} "
            f"(it needs lists shown, and clicks, in both variants); {guard}."
        )
    p = fmt_p(p_value(c, sequential))
    test = f"by the always-valid sequential test (p = {p})" if sequential else f"(p = {p})"
    low, high = lift["ciLow"], lift["ciHigh"]
    if significant(c, sequential) and c["difference"]["value"] > 0:
        return (
            f"{variant} beats {control} on {words} by {fmt_pct(lift['value'])} "
            f"({fmt_pct(low)} to {fmt_pct(high)}), significant {test}; {guard}."
        )
    if significant(c, sequential) and c["difference"]["value"] < 0:
        return (
            f"{variant} loses to {control} on {words} by {fmt_pct(-lift['value'])} "
            f"({fmt_pct(-high if _finite(high) else None)} to "
            f"{fmt_pct(-low if _finite(low) else None)}), significant {test}; {guard}."
        )
    yet = " yet" if running else ""
    return (
        f"No clear difference between {variant} and {control} on {words}: "
        f"{fmt_pct(lift['value'], True)} ({fmt_pct(low, True)} to {fmt_pct(high, True)}), "
        f"not significant{yet} {test}; {guard}."
    )


def verdict_headline(results: dict[str, Any]) -> tuple[str, str]:
    """(kind, headline) of the decision: kind is success, warning, error or info (the
    Streamlit box it goes in)."""
    verdict, control = results["verdict"], results["control"]
    decision, variant = verdict["decision"], verdict.get("variant")
    metric = METRIC_WORDS[results["primaryMetric"]]
    if decision == "SHIP":
        return "success", f"Ship {variant}: it wins on {metric} and no guardrail fails."
    if decision == "INVESTIGATE":
        return "error", (
            "Investigate before deciding: the users are not split as configured "
            "(sample-ratio mismatch), so these numbers cannot be trusted."
        )
    if decision == "KEEP_CONTROL":
        if variant:
            return "warning", (
                f"Keep {control}: {variant} wins on {metric} but breaks a guardrail."
            )
        return "warning", f"Keep {control}: the other variant(s) do worse on {metric}."
    if decision == "CONTINUE":
        return "info", "Keep it running: no significant difference yet."
    return "info", (
        f"No difference on {metric}: the variants perform alike, decide on other grounds "
        f"(cost, simplicity) or keep {control}."
    )


def test_note(results: dict[str, Any]) -> str:
    """Which test the decision reads, and why."""
    if not is_sequential(results):
        return (
            "Judged by the fixed-horizon test (two-proportion z test for rates, Welch's t "
            "test for revenue): the experiment ran its planned course, so its p-value is read "
            "once, at the end."
        )
    why = (
        "is still running" if results["status"] in RUNNING_STATES else "was stopped before its end"
    )
    return (
        f"Judged by the always-valid sequential test (mSPRT), because the experiment {why}: "
        "it stays valid however often the results are looked at, so checking every day "
        "does not inflate false wins."
    )


# --- tables --------------------------------------------------------------------------------------


def variant_frame(results: dict[str, Any]) -> pl.DataFrame:
    """One row per (variant, metric): value with its interval, numerator and denominator."""
    rows = []
    for order, v in enumerate(results["variants"]):
        for metric in METRICS:
            m = v["metrics"][metric]
            rows.append(
                {
                    "variant": v["name"],
                    "order": order,
                    "role": "control" if order == 0 else "variant",
                    "metric": metric,
                    "value": m["value"],
                    "low": m["ciLow"],
                    "high": m["ciHigh"],
                    "numerator": float(m["numerator"] or 0),
                    "denominator": int(m["denominator"] or 0),
                }
            )
    schema = {
        "variant": pl.Utf8,
        "order": pl.Int64,
        "role": pl.Utf8,
        "metric": pl.Utf8,
        "value": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "numerator": pl.Float64,
        "denominator": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def comparison_frame(results: dict[str, Any]) -> pl.DataFrame:
    """One row per (variant, metric) against the control, for the 'All numbers' table."""
    sequential = is_sequential(results)
    rows = [
        {
            "variant": c["variant"],
            "metric": METRIC_WORDS[c["metric"]],
            "primary": c["metric"] == results["primaryMetric"],
            "control value": c["controlValue"],
            "variant value": c["value"],
            "lift": c["lift"]["value"],
            "lift low": c["lift"]["ciLow"],
            "lift high": c["lift"]["ciHigh"],
            "difference": c["difference"]["value"],
            "p (fixed horizon)": c["pValue"],
            "p (sequential)": c["sequential"]["pValue"],
            "significant": significant(c, sequential),
            "test": c["test"],
        }
        for c in results["comparisons"]
    ]
    return pl.DataFrame(rows, infer_schema_length=None)


# --- Altair: estimates with intervals ------------------------------------------------------------


def _variant_scale(results: dict[str, Any]) -> alt.Scale:
    names = [v["name"] for v in results["variants"]]
    colors = [VARIANT_COLORS[i % len(VARIANT_COLORS)] for i in range(len(names))]
    return alt.Scale(domain=names, range=colors)


def _nothing(message: str) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=[{"text": message}]))
        .mark_text(fontSize=13, color="#666")
        .encode(text="text:N")
        .properties(height=80)
    )


def metric_whiskers(results: dict[str, Any], metric: str) -> alt.LayerChart | alt.Chart:
    """One metric of every variant: a dot at its value and a whisker over its interval
    (Wilson's for rates, t for revenue per user), control first."""
    frame = variant_frame(results).filter(
        (pl.col("metric") == metric) & pl.col("value").is_not_nan() & pl.col("value").is_not_null()
    )
    if frame.is_empty():
        return _nothing(f"No {METRIC_WORDS[metric]} yet")
    rate = metric != REVENUE_PER_USER
    axis_format = ".1%" if rate else ",.2~f"
    frame = frame.with_columns(
        pl.col("value")
        .map_elements(lambda x: fmt_value(metric, x), return_dtype=pl.Utf8)
        .alias("value_text"),
        (
            pl.col("low").map_elements(lambda x: fmt_value(metric, x), return_dtype=pl.Utf8)
            + " to "
            + pl.col("high").map_elements(lambda x: fmt_value(metric, x), return_dtype=pl.Utf8)
        ).alias("interval"),
        pl.col("low").fill_null(pl.col("value")),
        pl.col("high").fill_null(pl.col("value")),
    )
    order = frame["variant"].to_list()
    y = alt.Y("variant:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    color = alt.Color("variant:N", scale=_variant_scale(results), legend=None)
    tooltip = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("role:N"),
        alt.Tooltip("value_text:N", title=METRIC_WORDS[metric]),
        alt.Tooltip("interval:N", title=f"{confidence(results)} interval"),
        alt.Tooltip("numerator:Q", title="numerator", format=",.2f" if not rate else ","),
        alt.Tooltip("denominator:Q", title="denominator", format=","),
    ]
    x_title = f"{METRIC_TITLES[metric]} ({confidence(results)} interval)"
    scale = alt.Scale(zero=False, padding=12)
    base = alt.Chart(frame.to_pandas())
    whiskers = base.mark_rule(strokeWidth=3).encode(
        x=alt.X(
            "low:Q", title=x_title, scale=scale, axis=alt.Axis(format=axis_format, tickCount=6)
        ),
        x2="high:Q",
        y=y,
        color=color,
        tooltip=tooltip,
    )
    dots = base.mark_circle(size=140, opacity=1).encode(
        x="value:Q", y=y, color=color, tooltip=tooltip
    )
    labels = base.mark_text(dy=-14, fontSize=12).encode(x="value:Q", y=y, text="value_text:N")
    return (whiskers + dots + labels).properties(height=alt.Step(52))


def lift_frame(results: dict[str, Any]) -> pl.DataFrame:
    """One row per (variant, metric) against the control: lift, interval, whether it is
    significant (as the verdict reads it) and the guardrail's largest allowed drop."""
    sequential = is_sequential(results)
    several = len(results["variants"]) > 2
    drops = {(g["variant"], g["metricName"]): g["maxRelativeDrop"] for g in results["guardrails"]}
    rows = []
    for c in results["comparisons"]:
        lift = c["lift"]
        if not _finite(lift["value"]):
            continue
        metric = c["metric"]
        label = METRIC_WORDS[metric] + (" (primary)" if metric == results["primaryMetric"] else "")
        if several:
            label = f"{c['variant']} · {label}"
        good = significant(c, sequential)
        effect = EFFECTS[2] if not good else EFFECTS[0] if lift["value"] > 0 else EFFECTS[1]
        drop = drops.get((c["variant"], metric))
        low = lift["ciLow"] if _finite(lift["ciLow"]) else lift["value"]
        high = lift["ciHigh"] if _finite(lift["ciHigh"]) else lift["value"]
        rows.append(
            {
                "label": label,
                "variant": c["variant"],
                "metric": metric,
                "lift": lift["value"],
                "low": low,
                "high": high,
                "effect": effect,
                "lift_text": fmt_pct(lift["value"], True),
                "interval": f"{fmt_pct(low, True)} to {fmt_pct(high, True)}",
                "p": fmt_p(p_value(c, sequential)),
                "guardrail": -drop if drop is not None else None,
                "guardrail_text": f"may drop at most {drop:.0%}" if drop is not None else "—",
            }
        )
    schema = {
        "label": pl.Utf8,
        "variant": pl.Utf8,
        "metric": pl.Utf8,
        "lift": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "effect": pl.Utf8,
        "lift_text": pl.Utf8,
        "interval": pl.Utf8,
        "p": pl.Utf8,
        "guardrail": pl.Float64,
        "guardrail_text": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


def lift_whiskers(results: dict[str, Any]) -> alt.LayerChart | alt.Chart:
    """The lift of each variant against the control on each metric: a dot with its interval
    against the zero line (no difference). Green: significantly better, red: significantly
    worse, grey: could be chance. A red tick marks a guardrail's largest allowed drop."""
    frame = lift_frame(results)
    if frame.is_empty():
        return _nothing("No lift yet: both variants need lists shown and clicks")
    order = frame["label"].to_list()
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    color = alt.Color(
        "effect:N",
        title=None,
        scale=alt.Scale(domain=list(EFFECTS), range=[UP, DOWN, FLAT]),
        legend=alt.Legend(orient="bottom"),
    )
    test = "sequential p" if is_sequential(results) else "p"
    tooltip = [
        alt.Tooltip("label:N", title="metric"),
        alt.Tooltip("lift_text:N", title="lift"),
        alt.Tooltip("interval:N", title=f"{confidence(results)} interval"),
        alt.Tooltip("p:N", title=test),
        alt.Tooltip("effect:N"),
        alt.Tooltip("guardrail_text:N", title="guardrail"),
    ]
    ends = [*frame["low"].to_list(), *frame["high"].to_list(), 0.0]
    ends += [g for g in frame["guardrail"].to_list() if g is not None]
    low, high = min(ends), max(ends)
    pad = max(0.02, 0.06 * (high - low))
    scale = alt.Scale(domain=[low - pad, high + pad], nice=False)
    axis = alt.Axis(format="+.0%", tickCount=8)
    title = f"lift against {results['control']} ({confidence(results)} interval)"

    def x(field: str) -> alt.X:
        return alt.X(f"{field}:Q", title=title, axis=axis, scale=scale)

    base = alt.Chart(frame.to_pandas())
    zero = (
        alt.Chart(alt.Data(values=[{"lift": 0.0}]))
        .mark_rule(strokeDash=[4, 4], color="#666")
        .encode(x=x("lift"))
    )
    whiskers = base.mark_rule(strokeWidth=3).encode(
        x=x("low"), x2="high:Q", y=y, color=color, tooltip=tooltip
    )
    dots = base.mark_circle(size=140, opacity=1).encode(
        x=x("lift"), y=y, color=color, tooltip=tooltip
    )
    labels = base.mark_text(dy=-14, fontSize=12).encode(x=x("lift"), y=y, text="lift_text:N")
    guard = (
        base.transform_filter("isValid(datum.guardrail)")
        .mark_tick(color=DOWN, thickness=2, size=26, opacity=0.8)
        .encode(x=x("guardrail"), y=y, tooltip=tooltip)
    )
    guard_label = (
        base.transform_filter("isValid(datum.guardrail)")
        .transform_calculate(limit="'limit ' + format(datum.guardrail, '+.0%')")
        .mark_text(color=DOWN, dy=20, fontSize=10)
        .encode(x=x("guardrail"), y=y, text="limit:N")
    )
    return (zero + whiskers + guard + guard_label + dots + labels).properties(height=alt.Step(52))


def replay_frame(results: dict[str, Any], estimate: dict[str, Any], candidate: str) -> pl.DataFrame:
    """The logged variants' click-through (with their intervals from the review) and the
    candidate's replay, IPS and SNIPS estimates (bootstrap intervals), one row each."""
    shown = set(estimate["logged"]["byVariant"])
    rows = []
    for v in results["variants"]:
        if v["name"] not in shown:
            continue
        m = v["metrics"][CLICK_THROUGH]
        rows.append(
            {
                "label": f"{v['name']} (logged)",
                "kind": "logged",
                "value": m["value"],
                "low": m["ciLow"],
                "high": m["ciHigh"],
                "based_on": f"{m['denominator']:,} lists shown, {m['numerator']:,} clicked",
            }
        )
    replay = estimate["replay"]
    based = {
        "replay": f"{replay['matchedSlots']:,} slots where the logged and candidate lists agree "
        f"({replay['matchedClicks']:,} clicked)",
        "ips": f"all {estimate['exposures']:,} logged lists, weighted by 1 / traffic share",
        "snips": f"self-normalised IPS; the log covers {fmt_pct(estimate['snips']['support'])} "
        "of the candidate's slots",
    }
    names = {"replay": "replay", "ips": "IPS", "snips": "SNIPS"}
    for key, name in names.items():
        ct = estimate[key]["clickThrough"]
        rows.append(
            {
                "label": f"{candidate}: {name}",
                "kind": "candidate (estimated)",
                "value": ct["value"],
                "low": ct["ciLow"],
                "high": ct["ciHigh"],
                "based_on": based[key],
            }
        )
    schema = {
        "label": pl.Utf8,
        "kind": pl.Utf8,
        "value": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "based_on": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


def replay_chart(
    results: dict[str, Any], estimate: dict[str, Any], candidate: str
) -> alt.LayerChart | alt.Chart:
    """The candidate's estimated click-through (replay, IPS, SNIPS) under the logged
    variants' measured click-through, each with its interval."""
    frame = replay_frame(results, estimate, candidate).filter(pl.col("value").is_not_null())
    if frame.is_empty():
        return _nothing("Nothing to show: no logged lists matched the candidate")
    frame = frame.with_columns(
        pl.col("value").map_elements(lambda x: f"{x:.2%}", return_dtype=pl.Utf8).alias("text"),
        pl.col("low").fill_null(pl.col("value")),
        pl.col("high").fill_null(pl.col("value")),
    ).with_columns(
        (
            pl.col("low").map_elements(lambda x: f"{x:.2%}", return_dtype=pl.Utf8)
            + " to "
            + pl.col("high").map_elements(lambda x: f"{x:.2%}", return_dtype=pl.Utf8)
        ).alias("interval")
    )
    order = frame["label"].to_list()
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    color = alt.Color(
        "kind:N",
        title=None,
        scale=alt.Scale(domain=["logged", "candidate (estimated)"], range=["#4C78A8", "#E45756"]),
        legend=alt.Legend(orient="bottom"),
    )
    tooltip = [
        alt.Tooltip("label:N", title="estimate"),
        alt.Tooltip("text:N", title="click-through"),
        alt.Tooltip("interval:N", title="95% interval"),
        alt.Tooltip("based_on:N", title="based on"),
    ]
    x_title = f"click-through of a top-{estimate['k']} list (95% interval)"
    scale = alt.Scale(zero=False, padding=12)
    base = alt.Chart(frame.to_pandas())
    whiskers = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("low:Q", title=x_title, scale=scale, axis=alt.Axis(format=".1%", tickCount=8)),
        x2="high:Q",
        y=y,
        color=color,
        tooltip=tooltip,
    )
    dots = base.mark_circle(size=140, opacity=1).encode(
        x="value:Q", y=y, color=color, tooltip=tooltip
    )
    labels = base.mark_text(dy=-14, fontSize=12).encode(x="value:Q", y=y, text="text:N")
    return (whiskers + dots + labels).properties(height=alt.Step(48))


# --- Plotly: over time ---------------------------------------------------------------------------


def _empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 16})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=200, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def timeline_frame(results: dict[str, Any], metric: str) -> pl.DataFrame:
    """The daily cumulative comparisons of one metric (rows of `timeline`)."""
    rows = [t for t in results["timeline"] if t["metric"] == metric]
    schema = {
        "date": pl.Utf8,
        "variant": pl.Utf8,
        "lift": pl.Float64,
        "liftLow": pl.Float64,
        "liftHigh": pl.Float64,
        "pValue": pl.Float64,
        "sequentialPValue": pl.Float64,
        "controlImpressions": pl.Int64,
        "impressions": pl.Int64,
        "controlUsers": pl.Int64,
        "users": pl.Int64,
    }
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema).with_columns(
        pl.col("date").str.to_date()
    )


def cumulative_lift(results: dict[str, Any], metric: str) -> go.Figure:
    """Each variant's lift against the control on `metric`, counting everything up to each
    day, with its interval as a band and the zero line: where the estimate settled and how
    early it could be trusted."""
    frame = timeline_frame(results, metric).drop_nulls("lift")
    if frame.is_empty():
        return _empty_figure(f"No {METRIC_WORDS[metric]} lift to show yet")
    fig = go.Figure()
    names = [v["name"] for v in results["variants"]]
    level = confidence(results)
    for variant in challengers(results):
        rows = frame.filter(pl.col("variant") == variant)
        if rows.is_empty():
            continue
        color = VARIANT_COLORS[names.index(variant) % len(VARIANT_COLORS)]
        dates = rows["date"].to_list()
        lifts = rows["lift"].to_list()
        high = rows["liftHigh"].fill_null(rows["lift"]).to_list()
        low = rows["liftLow"].fill_null(rows["lift"]).to_list()
        # A band needs two days; on the first day the interval is a whisker.
        whisker = (
            {
                "type": "data",
                "symmetric": False,
                "array": [h - v for h, v in zip(high, lifts, strict=True)],
                "arrayminus": [v - lo for v, lo in zip(lifts, low, strict=True)],
                "color": color,
                "thickness": 2,
                "width": 8,
            }
            if len(dates) == 1
            else None
        )
        if whisker is None:
            fig.add_trace(
                go.Scatter(
                    x=dates + dates[::-1],
                    y=high + low[::-1],
                    mode="lines",
                    fill="toself",
                    fillcolor=_rgba(color, 0.18),
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"{variant}: {level} interval",
                )
            )
        hover = [
            f"<b>{variant}</b> vs {results['control']}, up to {d:%d %b %Y}<br>"
            f"lift {fmt_pct(r['lift'], True)} ({fmt_pct(r['liftLow'], True)} to "
            f"{fmt_pct(r['liftHigh'], True)})<br>"
            f"p {fmt_p(r['pValue'])}, sequential p {fmt_p(r['sequentialPValue'])}<br>"
            f"lists shown: {r['impressions']:,} vs {r['controlImpressions']:,}"
            for d, r in zip(dates, rows.iter_rows(named=True), strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=lifts,
                mode="lines+markers",
                line={"color": color, "width": 2.5},
                marker={"size": 5 if whisker is None else 10},
                error_y=whisker,
                name=f"{variant}: lift"
                if whisker is None
                else f"{variant}: lift, {level} interval",
                customdata=hover,
                hovertemplate="%{customdata}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line_dash="dash", line_color="#666")
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": f"{METRIC_WORDS[metric]} lift (cumulative)", "tickformat": "+.0%"},
        xaxis=_date_axis(frame["date"].to_list()),
        legend={"orientation": "h", "y": 1.12},
        hovermode="closest",
    )
    return fig


def _date_axis(dates: list[date]) -> dict[str, Any]:
    """Days on the x axis; a single day gets a day of room on either side."""
    axis: dict[str, Any] = {"title": "", "type": "date", "tickformat": "%-d %b"}
    if dates and min(dates) == max(dates):
        axis["range"] = [min(dates) - timedelta(days=1), max(dates) + timedelta(days=1)]
        axis["dtick"] = 86400000
    return axis


def p_values_over_time(results: dict[str, Any], metric: str) -> go.Figure:
    """The fixed-horizon p-value and the always-valid sequential p-value day by day (log
    scale) against the significance level: the first dips below it by chance when peeked at
    daily; the second only goes down and stays valid."""
    frame = timeline_frame(results, metric)
    frame = frame.filter(pl.col("pValue").is_not_null() | pl.col("sequentialPValue").is_not_null())
    if frame.is_empty():
        return _empty_figure("No p-values yet")
    fig = go.Figure()
    names = [v["name"] for v in results["variants"]]
    several = len(names) > 2
    floor = 1e-300  # a p-value of exactly 0 still has a place on the log axis
    for variant in challengers(results):
        rows = frame.filter(pl.col("variant") == variant)
        if rows.is_empty():
            continue
        color = VARIANT_COLORS[names.index(variant) % len(VARIANT_COLORS)]
        prefix = f"{variant}: " if several else ""
        for column, name, dash in (
            ("pValue", "fixed-horizon p", "dot"),
            ("sequentialPValue", "sequential p", "solid"),
        ):
            values = [max(v, floor) if v is not None else None for v in rows[column].to_list()]
            fig.add_trace(
                go.Scatter(
                    x=rows["date"].to_list(),
                    y=values,
                    mode="lines+markers",
                    line={"color": color, "dash": dash, "width": 2},
                    marker={"size": 4},
                    name=prefix + name,
                    hovertemplate=f"{prefix}{name}: %{{y:.2g}}<extra>%{{x|%d %b}}</extra>",
                )
            )
    fig.add_hline(
        y=results["alpha"],
        line_dash="dash",
        line_color=DOWN,
        annotation_text=f"significance level {results['alpha']:g}",
        annotation_position="top left",
    )
    fig.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": "p-value (log scale)", "type": "log", "exponentformat": "power"},
        xaxis=_date_axis(frame["date"].to_list()),
        legend={"orientation": "h", "y": 1.15},
    )
    return fig

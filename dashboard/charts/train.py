"""The Train page's data shaping and charts: solution versions with their metrics as Polars
frames, bars comparing versions, metrics over time, AutoML candidates. Plain functions,
tested without Streamlit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

# Offline metrics: key -> (short label, what it means for a product manager).
METRICS: dict[str, tuple[str, str]] = {
    "normalized_discounted_cumulative_gain_at_10": (
        "NDCG@10",
        "How high in the top 10 the items people went on to use appear (1 = always first).",
    ),
    "normalized_discounted_cumulative_gain_at_5": ("NDCG@5", "NDCG over the top 5."),
    "normalized_discounted_cumulative_gain_at_25": ("NDCG@25", "NDCG over the top 25."),
    "precision_at_5": ("Precision@5", "Share of the top 5 that people went on to use."),
    "precision_at_10": ("Precision@10", "Share of the top 10 that people went on to use."),
    "precision_at_25": ("Precision@25", "Share of the top 25 that people went on to use."),
    "recall_at_25": ("Recall@25", "Share of what people went on to use that is in the top 25."),
    "mean_reciprocal_rank_at_25": (
        "MRR@25",
        "1 / the position of the first item people went on to use (1 = always first).",
    ),
    "coverage": ("Coverage", "Share of the catalogue recommended to at least one test user."),
    "novelty_at_25": (
        "Novelty@25",
        "How unexpected the recommended items are (bits; higher = less popular items).",
    ),
    "popularity_bias_at_25": (
        "Popularity bias@25",
        "Mean popularity percentile of recommended items (1 = only bestsellers, 0.5 = median).",
    ),
    "intra_list_diversity_at_25": (
        "Diversity@25",
        "How different the items of one list are from each other (0 = alike, 1 = unrelated).",
    ),
    "training_seconds": ("Training time (s)", "Seconds the version took to train."),
}
DEFAULT_METRIC = "normalized_discounted_cumulative_gain_at_10"
AUTOML_METRICS = (
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
    "mean_reciprocal_rank_at_25",
    "recall_at_25",
    "coverage",
)
RECIPE_COLORS = px.colors.qualitative.Safe


def metric_label(key: str) -> str:
    """`NDCG@10` for `normalized_discounted_cumulative_gain_at_10` (the key if unknown)."""
    return METRICS.get(key, (key, ""))[0]


def metric_order(keys: list[str]) -> list[str]:
    """Known metrics in METRICS' order, then any others alphabetically."""
    known = [k for k in METRICS if k in keys]
    return known + sorted(k for k in keys if k not in METRICS)


def recipe_short(recipe_arn: str | None) -> str:
    """`arn:aws:personalize:::recipe/aws-sims` -> `aws-sims` (`AutoML` for None)."""
    return recipe_arn.rsplit("/", 1)[-1] if recipe_arn else "AutoML"


def versions_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per solution version from dicts with `solution`, `version` (ARN), `recipe`,
    `status`, `created` (datetime), optional `failure` and `metrics` (dict): columns
    `solution, version_id, recipe, status, created, failure, version` and one column per
    metric, newest first."""
    metric_keys = metric_order(sorted({k for r in rows for k in (r.get("metrics") or {})}))
    base = {
        "solution": pl.Utf8,
        "version_id": pl.Utf8,
        "recipe": pl.Utf8,
        "status": pl.Utf8,
        "created": pl.Datetime("us", "UTC"),
        "failure": pl.Utf8,
        "version": pl.Utf8,
    }
    schema = {**base, **{k: pl.Float64 for k in metric_keys}}
    records = []
    for r in rows:
        metrics = r.get("metrics") or {}
        records.append(
            {
                "solution": r["solution"],
                "version_id": r["version"].rsplit("/", 1)[-1],
                "recipe": recipe_short(r.get("recipe")),
                "status": r["status"],
                "created": r["created"],
                "failure": r.get("failure"),
                "version": r["version"],
                **{k: metrics.get(k) for k in metric_keys},
            }
        )
    frame = (
        pl.DataFrame(records, schema=schema, orient="row")
        if records
        else pl.DataFrame(schema=schema)
    )
    return frame.sort("created", descending=True)


def version_label() -> pl.Expr:
    """`solution · version id`, the name of a version on charts."""
    return pl.concat_str([pl.col("solution"), pl.lit(" · "), pl.col("version_id")])


def metrics_long(frame: pl.DataFrame, metrics: list[str]) -> pl.DataFrame:
    """ACTIVE versions' chosen metrics in long form: `label, recipe, created, metric, value`."""
    present = [m for m in metrics if m in frame.columns]
    active = frame.filter(pl.col("status") == "ACTIVE").with_columns(label=version_label())
    if not present or active.is_empty():
        return pl.DataFrame(
            schema={
                "label": pl.Utf8,
                "recipe": pl.Utf8,
                "created": pl.Datetime("us", "UTC"),
                "solution": pl.Utf8,
                "metric": pl.Utf8,
                "value": pl.Float64,
            }
        )
    return (
        active.select("label", "recipe", "created", "solution", *present)
        .unpivot(index=["label", "recipe", "created", "solution"], variable_name="metric")
        .with_columns(
            pl.col("metric").replace_strict(
                {m: metric_label(m) for m in present}, default=pl.col("metric")
            )
        )
        .sort("created")
    )


def _empty(message: str, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 15})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def metric_bars(long: pl.DataFrame) -> go.Figure:
    """One panel per metric (its own scale), one bar per version coloured by recipe, oldest
    to newest, each labelled with its value."""
    if long.is_empty():
        return _empty("No trained versions yet")
    metrics = list(dict.fromkeys(long["metric"].to_list()))
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=metrics,
        horizontal_spacing=0.06,
        vertical_spacing=0.3 / rows,
    )
    recipes = list(dict.fromkeys(long["recipe"].to_list()))
    colors = {r: RECIPE_COLORS[i % len(RECIPE_COLORS)] for i, r in enumerate(recipes)}
    for i, metric in enumerate(metrics):
        part = long.filter(pl.col("metric") == metric)
        row, col = i // cols + 1, i % cols + 1
        for recipe in recipes:
            bars = part.filter(pl.col("recipe") == recipe)
            if bars.is_empty():
                continue
            fig.add_trace(
                go.Bar(
                    x=bars["label"].to_list(),
                    y=bars["value"].to_list(),
                    name=recipe,
                    legendgroup=recipe,
                    showlegend=i == 0,
                    marker_color=colors[recipe],
                    text=[f"{v:.3g}" for v in bars["value"]],
                    textposition="outside",
                    cliponaxis=False,
                    hovertemplate="%{x}<br>" + metric + " %{y:.4f}<extra>" + recipe + "</extra>",
                ),
                row=row,
                col=col,
            )
        top = max((v for v in part["value"] if v is not None), default=0.0)
        fig.update_yaxes(range=[0, top * 1.2 if top > 0 else 1], row=row, col=col)
        order = list(dict.fromkeys(long["label"].to_list()))
        fig.update_xaxes(categoryorder="array", categoryarray=order, row=row, col=col)
    fig.update_xaxes(tickangle=-30)
    fig.update_layout(
        height=60 + 320 * rows,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        legend={"orientation": "h", "y": 0.99, "yanchor": "top", "x": 0, "yref": "container"},
        bargap=0.25,
    )
    return fig


def metric_history(long: pl.DataFrame, metric_name: str) -> go.Figure:
    """A metric of every ACTIVE version over its creation time, one line per solution."""
    if long.is_empty():
        return _empty("No trained versions yet")
    fig = px.line(
        long.to_pandas(),
        x="created",
        y="value",
        color="solution",
        markers=True,
        hover_name="label",
        hover_data={"recipe": True, "solution": False},
        color_discrete_sequence=RECIPE_COLORS,
        labels={"created": "trained at", "value": metric_name, "solution": "solution"},
    )
    fig.update_traces(marker={"size": 10})
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(
        height=380,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": 0.99, "yanchor": "top", "x": 0, "yref": "container"},
    )
    return fig


def candidates_frame(candidates: list[dict[str, Any]], metric: str) -> pl.DataFrame:
    """AutoML's candidates (or one recipe's evaluation): `recipe, trials, hyperparameters,
    <metric>, chosen` (the best by `metric`, the first on ties, as training picks it)."""
    if not candidates:
        return pl.DataFrame(
            schema={
                "recipe": pl.Utf8,
                "trials": pl.Int64,
                "hyperparameters": pl.Utf8,
                "value": pl.Float64,
                "chosen": pl.Boolean,
            }
        )
    best = max(range(len(candidates)), key=lambda i: candidates[i]["metrics"].get(metric, 0.0))
    return pl.DataFrame(
        {
            "recipe": [recipe_short(c["recipeArn"]) for c in candidates],
            "trials": [int(c.get("trials") or 0) for c in candidates],
            "hyperparameters": [
                ", ".join(f"{k}={v}" for k, v in (c.get("params") or {}).items()) or "defaults"
                for c in candidates
            ],
            "value": [float(c["metrics"].get(metric, 0.0)) for c in candidates],
            "chosen": [i == best for i in range(len(candidates))],
        }
    )


def candidate_bars(frame: pl.DataFrame, metric_name: str) -> go.Figure:
    """Each candidate recipe's score by the chosen metric; the kept one highlighted."""
    if frame.is_empty():
        return _empty("No candidates recorded")
    ordered = frame.sort("value")
    colors = ["#54A24B" if c else "#B0B7C3" for c in ordered["chosen"]]
    fig = go.Figure(
        go.Bar(
            x=ordered["value"].to_list(),
            y=ordered["recipe"].to_list(),
            orientation="h",
            marker_color=colors,
            text=[
                f"{v:.4f}{'  ✓ kept' if c else ''}"
                for v, c in zip(ordered["value"], ordered["chosen"], strict=True)
            ],
            textposition="auto",
        )
    )
    fig.update_layout(
        height=80 + 45 * frame.height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": metric_name},
    )
    return fig


def now_name(prefix: str, when: datetime) -> str:
    """A solution name from a recipe name and a time (Personalize's name pattern)."""
    return f"{prefix}-{when:%Y%m%d-%H%M%S}"[:63]


# --- the launch form's tables -> Personalize's solutionConfig ---------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def hyperparameters(algorithm: dict[str, Any]) -> pl.DataFrame:
    """A recipe's hyperparameters from DescribeAlgorithm: `name, kind` (int, float,
    categorical, bool or text), `default` (as Personalize gives it, a string), `low`, `high`
    (tunable bounds), `choices` and `allowed` (the range in words)."""
    ranges = algorithm.get("defaultHyperParameterRanges") or {}
    bounds: dict[str, tuple[str, float | None, float | None, str | None]] = {}
    for kind, key in (
        ("int", "integerHyperParameterRanges"),
        ("float", "continuousHyperParameterRanges"),
    ):
        for r in ranges.get(key) or []:
            bounds[r["name"]] = (kind, float(r["minValue"]), float(r["maxValue"]), None)
    for r in ranges.get("categoricalHyperParameterRanges") or []:
        bounds[r["name"]] = ("categorical", None, None, ", ".join(r["values"]))
    rows = []
    for name, default in (algorithm.get("defaultHyperParameters") or {}).items():
        kind, low, high, choices = bounds.get(name, ("", None, None, None))
        if not kind:
            kind = "bool" if default in ("True", "False") else "text"
        if kind in ("int", "float"):
            fmt = "{:,.0f}" if kind == "int" else "{:g}"
            allowed = f"{fmt.format(low)} to {fmt.format(high)}"
        elif kind == "categorical":
            allowed = f"one of {choices}"
        elif kind == "bool":
            allowed = "True or False"
        else:
            allowed = "fixed"
        rows.append(
            {
                "name": name,
                "kind": kind,
                "default": default,
                "low": low,
                "high": high,
                "choices": choices,
                "allowed": allowed,
            }
        )
    schema = {
        "name": pl.Utf8,
        "kind": pl.Utf8,
        "default": pl.Utf8,
        "low": pl.Float64,
        "high": pl.Float64,
        "choices": pl.Utf8,
        "allowed": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def suggested_range(kind: str, default: str, low: float, high: float) -> tuple[float, float]:
    """A search range around the default: a tenth to ten times it, within the allowed
    bounds (the whole allowed range when the default is 0 or not a number)."""
    value = _number(default)
    if value is None or value <= 0:
        lo, hi = low, high
    else:
        lo, hi = max(low, value / 10), min(high, value * 10)
    if kind == "int":
        lo, hi = float(round(lo)), float(round(hi))
    return lo, hi


def hpo_tables(hp: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The editable HPO tables: numeric `tune, hyperparameter, from, to, allowed` (ranges
    suggested around the defaults) and categorical `tune, hyperparameter, values, allowed`."""
    numeric = [
        {
            "tune": True,
            "hyperparameter": r["name"],
            "from": suggested_range(r["kind"], r["default"], r["low"], r["high"])[0],
            "to": suggested_range(r["kind"], r["default"], r["low"], r["high"])[1],
            "allowed": r["allowed"],
        }
        for r in hp.iter_rows(named=True)
        if r["kind"] in ("int", "float")
    ]
    categorical = [
        {"tune": True, "hyperparameter": r["name"], "values": r["choices"], "allowed": r["allowed"]}
        for r in hp.iter_rows(named=True)
        if r["kind"] == "categorical"
    ]
    return (
        pl.DataFrame(
            numeric,
            schema={
                "tune": pl.Boolean,
                "hyperparameter": pl.Utf8,
                "from": pl.Float64,
                "to": pl.Float64,
                "allowed": pl.Utf8,
            },
        ),
        pl.DataFrame(
            categorical,
            schema={
                "tune": pl.Boolean,
                "hyperparameter": pl.Utf8,
                "values": pl.Utf8,
                "allowed": pl.Utf8,
            },
        ),
    )


def hpo_ranges(hp: pl.DataFrame, numeric: pl.DataFrame, categorical: pl.DataFrame) -> dict:
    """`algorithmHyperParameterRanges` from the ticked rows of the HPO tables."""
    kinds = dict(zip(hp["name"], hp["kind"], strict=True))
    out: dict[str, list[dict[str, Any]]] = {}
    for r in numeric.iter_rows(named=True):
        if not r["tune"]:
            continue
        if kinds.get(r["hyperparameter"]) == "int":
            key, low, high = "integerHyperParameterRanges", int(r["from"]), int(r["to"])
        else:
            key, low, high = "continuousHyperParameterRanges", float(r["from"]), float(r["to"])
        out.setdefault(key, []).append(
            {"name": r["hyperparameter"], "minValue": low, "maxValue": high}
        )
    for r in categorical.iter_rows(named=True):
        if r["tune"]:
            values = [v.strip() for v in (r["values"] or "").split(",") if v.strip()]
            out.setdefault("categoricalHyperParameterRanges", []).append(
                {"name": r["hyperparameter"], "values": values}
            )
    return out


def changed_values(hp: pl.DataFrame, edited: pl.DataFrame) -> dict[str, str]:
    """`algorithmHyperParameters`: the values edited away from their defaults (as strings)."""
    defaults = dict(zip(hp["name"], hp["default"], strict=True))
    out = {}
    for r in edited.iter_rows(named=True):
        value = "" if r["value"] is None else str(r["value"]).strip()
        if value and value != defaults.get(r["hyperparameter"]):
            out[r["hyperparameter"]] = value
    return out


def events_table(event_types: dict[str, int]) -> pl.DataFrame:
    """The editable events table: `use, event type, events, weight, minimum value`."""
    return pl.DataFrame(
        {
            "use": [True] * len(event_types),
            "event type": list(event_types),
            "events": list(event_types.values()),
            "weight": [1.0] * len(event_types),
            "minimum value": [None] * len(event_types),
        },
        schema={
            "use": pl.Boolean,
            "event type": pl.Utf8,
            "events": pl.Int64,
            "weight": pl.Float64,
            "minimum value": pl.Float64,
        },
    )


def events_config(edited: pl.DataFrame) -> dict[str, Any] | None:
    """`eventsConfig` from the events table, or None when every event type is used as it is
    (all ticked, weight 1, no minimum value)."""
    rows = list(edited.iter_rows(named=True))
    if all(
        r["use"] and (r["weight"] is None or r["weight"] == 1.0) and r["minimum value"] is None
        for r in rows
    ):
        return None
    params = []
    for r in rows:
        if not r["use"]:
            continue
        entry: dict[str, Any] = {
            "eventType": r["event type"],
            "weight": 1.0 if r["weight"] is None else float(r["weight"]),
        }
        if r["minimum value"] is not None:
            entry["eventValueThreshold"] = float(r["minimum value"])
        params.append(entry)
    return {"eventParametersList": params}


def shown_fraction(progress: dict[str, Any], recipes: list[str]) -> float:
    """0..1 for a training's progress bar. One recipe trained once: the engine's own
    fraction. With AutoML (`recipes`, the candidates) or tuning, the share of candidates and
    of their tuning trials done, the final fit on all the data being the last 5%."""
    fraction = min(max(float(progress.get("fraction") or 0.0), 0.0), 1.0)
    step = progress.get("step") or ""
    trials = int(progress.get("trials") or 0)
    if step == "done":
        return 1.0
    if len(recipes) <= 1 and not trials:
        return fraction
    if step == "training the final model":
        return 0.95
    candidate = progress.get("candidate")
    index = recipes.index(candidate) if candidate in recipes else 0
    inner = min(int(progress.get("trial") or 0) / trials, 1.0) if trials else 0.0
    return min(0.95 * (index + inner) / max(len(recipes), 1), 0.95)

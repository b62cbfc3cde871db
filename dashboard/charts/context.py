"""Chart builders of the Context effects page: a lift heatmap (Plotly, to explore), the lift
of one category in each context with its confidence interval (Altair), and the category mix
of a campaign's recommendations in each context (Plotly)."""

from __future__ import annotations

import math

import altair as alt
import plotly.graph_objects as go
import polars as pl

MAX_LIFT = 2.0  # colours saturate at 2x (and 1/2x)
NICE_TICKS = (0.1, 0.2, 0.3, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
UP, DOWN, FLAT = "#2E6DB4", "#D1495B", "#9E9E9E"
CATEGORY_COLORS = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#EECA3B",
    "#BAB0AC",
)


def _empty(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 16})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=200, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def times(value: float) -> str:
    """A lift as people say it: 1.29×, 0.72×."""
    return f"{value:.2f}×" if math.isfinite(value) else "—"


def lift_heatmap(lifts: pl.DataFrame, context_label: str, dimension_label: str) -> go.Figure:
    """Categories (rows, largest overall share first) × context values (columns, in their
    natural order). Colour: lift on a log scale, blue above 1×, red below; cells whose 95%
    interval includes 1× stay white. Text: the lift; hover: shares, counts and interval."""
    if lifts.is_empty():
        return _empty("No interactions with a value for this context")
    columns = lifts.select("context", "context_order").unique().sort("context_order")["context"]
    rows = (
        lifts.select("category", "share_overall")
        .unique()
        .sort(["share_overall", "category"], descending=[True, False])["category"]
        .to_list()
    )
    cells = {(r["category"], r["context"]): r for r in lifts.iter_rows(named=True)}
    limit = math.log2(MAX_LIFT)
    z, text, hover = [], [], []
    for category in rows:
        z_row, text_row, hover_row = [], [], []
        for context in columns:
            cell = cells[(category, context)]
            lift = cell["lift"]
            shown = math.log2(lift) if cell["significant"] and lift > 0 else 0.0
            z_row.append(max(-limit, min(limit, shown)))
            text_row.append(times(lift))
            hover_row.append(
                f"<b>{category}</b> · {context}<br>"
                f"lift {times(lift)} (95% CI {times(cell['lift_low'])}–"
                f"{times(cell['lift_high'])})<br>"
                f"share here {cell['share_in_context']:.1%} vs {cell['share_overall']:.1%} "
                f"overall<br>{cell['events']:,} of {cell['context_total']:,} interactions"
                + ("" if cell["significant"] else "<br><i>could be chance</i>")
            )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    ticks = [0.5, 1 / 1.5, 1, 1.5, 2]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(columns),
            y=rows,
            text=text,
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=[[0.0, DOWN], [0.5, "#FFFFFF"], [1.0, UP]],
            zmin=-limit,
            zmax=limit,
            zmid=0,
            xgap=2,
            ygap=2,
            colorbar={
                "title": {"text": "lift"},
                "tickvals": [math.log2(t) for t in ticks],
                "ticktext": ["½× or less", "0.67×", "1×", "1.5×", "2× or more"],
                "thickness": 12,
            },
        )
    )
    fig.update_layout(
        height=max(260, 44 * len(rows) + 110),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": context_label, "side": "top", "type": "category"},
        yaxis={"title": dimension_label, "autorange": "reversed", "type": "category"},
    )
    return fig


def lift_whiskers(lifts: pl.DataFrame, category: str, context_label: str) -> alt.LayerChart:
    """One category's lift in each context value: a dot with its 95% interval, against the
    1× line (no difference). Blue: clearly above; red: clearly below; grey: could be chance."""
    data = lifts.filter(pl.col("category") == category).sort("context_order")
    data = data.with_columns(
        pl.when(~pl.col("significant"))
        .then(pl.lit("could be chance"))
        .when(pl.col("lift") > 1)
        .then(pl.lit("more than usual"))
        .otherwise(pl.lit("less than usual"))
        .alias("effect"),
        pl.col("lift").map_elements(times, return_dtype=pl.Utf8).alias("lift_text"),
        (
            pl.col("lift_low").map_elements(times, return_dtype=pl.Utf8)
            + " – "
            + pl.col("lift_high").map_elements(times, return_dtype=pl.Utf8)
        ).alias("interval"),
        (pl.col("share_in_context") * 100).round(1).alias("share_here_pct"),
        (pl.col("share_overall") * 100).round(1).alias("share_overall_pct"),
        pl.col("lift_low").clip(lower_bound=0.01).alias("low_shown"),
    )
    order = data["context"].to_list()
    values = [*data["low_shown"].to_list(), *data["lift_high"].to_list(), 1.0]
    finite = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    domain = [min(finite) / 1.1, max(finite) * 1.1] if finite else [0.5, 2.0]
    scale = alt.Scale(type="log", domain=domain, nice=False)
    x = alt.X(
        "lift:Q",
        title=f"lift of {category} (share in context ÷ share overall, log scale)",
        scale=scale,
        axis=alt.Axis(
            values=[t for t in NICE_TICKS if domain[0] <= t <= domain[1]],
            format=".2~f",
            labelExpr="datum.label ? datum.label + '×' : ''",
        ),
    )
    y = alt.Y("context:N", sort=order, title=context_label)
    color = alt.Color(
        "effect:N",
        title=None,
        scale=alt.Scale(
            domain=["more than usual", "less than usual", "could be chance"],
            range=[UP, DOWN, FLAT],
        ),
        legend=alt.Legend(orient="bottom"),
    )
    tooltip = [
        alt.Tooltip("context:N", title="context"),
        alt.Tooltip("lift_text:N", title="lift"),
        alt.Tooltip("interval:N", title="95% interval"),
        alt.Tooltip("share_here_pct:Q", title="share here (%)"),
        alt.Tooltip("share_overall_pct:Q", title="share overall (%)"),
        alt.Tooltip("events:Q", title="interactions", format=","),
    ]
    base = alt.Chart(data.to_pandas())
    whiskers = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low_shown:Q", scale=scale), x2="lift_high:Q", y=y, color=color, tooltip=tooltip
    )
    dots = base.mark_circle(size=120, opacity=1).encode(x=x, y=y, color=color, tooltip=tooltip)
    labels = base.mark_text(dy=-12, fontSize=11).encode(x=x, y=y, text="lift_text:N")
    one = (
        alt.Chart(alt.Data(values=[{"lift": 1.0}]))
        .mark_rule(strokeDash=[4, 4], color="#666")
        .encode(x=alt.X("lift:Q", scale=scale))
    )
    return (one + whiskers + dots + labels).properties(height=alt.Step(44))


def recommendation_mix(recs: pl.DataFrame, dimension_label: str) -> go.Figure:
    """How many of each context's recommended items fall in each category (stacked bars, one
    per context, the list without context first)."""
    data = recs.drop_nulls("category")
    if data.is_empty():
        return _empty("No recommendations to compare")
    counts = data.group_by("context", "context_order", "category").agg(pl.len().alias("items"))
    contexts = counts.select("context", "context_order").unique().sort("context_order")["context"]
    categories = (
        counts.group_by("category")
        .agg(pl.col("items").sum())
        .sort(["items", "category"], descending=[True, False])["category"]
    )
    fig = go.Figure()
    for i, category in enumerate(categories):
        per = dict(
            counts.filter(pl.col("category") == category).select("context", "items").iter_rows()
        )
        fig.add_trace(
            go.Bar(
                name=category,
                x=list(contexts),
                y=[per.get(c, 0) for c in contexts],
                marker_color=CATEGORY_COLORS[i % len(CATEGORY_COLORS)],
                hovertemplate=f"{category}: %{{y}} items<extra>%{{x}}</extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": f"recommended items by {dimension_label}"},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig

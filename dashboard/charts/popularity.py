"""Chart builders of the Popularity & trends page: top items (overall or one panel per group),
rising items and categories, weekly counts of chosen items (Plotly, to explore), and the
long-tail curve and category lifts (Altair: small statistical views)."""

from __future__ import annotations

import math

import altair as alt
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

BAR = "#4C78A8"
NEW = "#F58518"
UP, DOWN = "#2E6DB4", "#D1495B"
MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}


def empty_figure(message: str, height: int = 200) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 16})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, margin=MARGIN)
    return fig


def _label(labels: dict[str, str] | None, item: str) -> str:
    return (labels or {}).get(item, item)


def top_items_chart(
    top: pl.DataFrame, labels: dict[str, str] | None = None, columns: int = 2
) -> go.Figure:
    """Horizontal bars of the most interacted-with items, most popular on top; one panel per
    group (titled with the group's total interactions) when there are several groups.
    `top`: grp, item, interactions, share, rank, group_interactions (popularity.top_items)."""
    if top.is_empty():
        return empty_figure("No interactions in this window")
    groups = top.select("grp", "group_interactions").unique(maintain_order=True)
    names = groups["grp"].to_list()
    single = len(names) == 1
    cols = 1 if single else min(columns, len(names))
    rows = math.ceil(len(names) / cols)
    titles = None if single else [f"{g} · {n:,}" for g, n in groups.iter_rows()]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=0.3 if cols > 1 else 0.02,
        vertical_spacing=min(0.12, 0.3 / max(rows - 1, 1)) if rows > 1 else 0.0,
    )
    per_panel = top.group_by("grp").len()["len"].max()
    for index, name in enumerate(names):
        part = top.filter(pl.col("grp") == name).sort("rank")
        row, col = index // cols + 1, index % cols + 1
        items = part["item"].to_list()
        fig.add_trace(
            go.Bar(
                x=part["interactions"].to_list(),
                y=[_label(labels, i) for i in items],
                orientation="h",
                marker_color=BAR,
                text=[f"{n:,}" for n in part["interactions"]],
                textposition="auto",
                customdata=[[s * 100] for s in part["share"]],
                hovertemplate="<b>%{y}</b><br>%{x:,} interactions<br>"
                "%{customdata[0]:.1f}% of this group's<extra></extra>",
                name=str(name),
                showlegend=False,
            ),
            row=row,
            col=col,
        )
        fig.update_yaxes(autorange="reversed", row=row, col=col, automargin=True)
    fig.update_xaxes(title_text="interactions" if single else None)
    height = max(220, 28 * per_panel + 60) if single else rows * (22 * per_panel + 70)
    fig.update_layout(height=height, margin=MARGIN, bargap=0.25)
    return fig


def trending_chart(
    trending: pl.DataFrame, labels: dict[str, str] | None = None, what: str = "items"
) -> go.Figure:
    """Growth of each key, biggest on top: bars of the growth in % (blue up, red down), text
    `before → now`; keys with nothing in the previous window (new) are orange.
    `trending`: key, current, previous, growth, new (popularity.trending().frame)."""
    if trending.is_empty():
        return empty_figure(f"No {what} with enough interactions in the latest window")
    keys = trending["key"].to_list()
    growth = [g * 100 for g in trending["growth"]]
    new = trending["new"].to_list()
    colors = [NEW if n else (UP if g >= 0 else DOWN) for n, g in zip(new, growth, strict=True)]
    fig = go.Figure(
        go.Bar(
            x=growth,
            y=[_label(labels, k) for k in keys],
            orientation="h",
            marker_color=colors,
            text=[
                f"{p:,} → {c:,}" + (" (new)" if n else "")
                for p, c, n in zip(trending["previous"], trending["current"], new, strict=True)
            ],
            textposition="auto",
            customdata=trending.select("previous", "current").rows(),
            hovertemplate="<b>%{y}</b><br>%{x:+,.0f}%<br>"
            "previous window %{customdata[0]:,}, latest %{customdata[1]:,}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="#888")
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title_text="growth over the previous window (%)", ticksuffix="%")
    fig.update_layout(height=max(220, 28 * len(keys) + 70), margin=MARGIN)
    return fig


def new_items_chart(trending: pl.DataFrame, labels: dict[str, str] | None = None) -> go.Figure:
    """Keys with nothing in the previous window, busiest on top: bars of their interactions in
    the latest one. `trending`: key, current (popularity.trending().frame, `new` rows)."""
    if trending.is_empty():
        return empty_figure("Nothing new with enough interactions in the latest window")
    keys = trending["key"].to_list()
    fig = go.Figure(
        go.Bar(
            x=trending["current"].to_list(),
            y=[_label(labels, k) for k in keys],
            orientation="h",
            marker_color=NEW,
            text=[f"{c:,}" for c in trending["current"]],
            textposition="auto",
            hovertemplate="<b>%{y}</b><br>%{x:,} interactions in the latest window, "
            "none before<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title_text="interactions in the latest window")
    fig.update_layout(height=max(220, 28 * len(keys) + 70), margin=MARGIN)
    return fig


def weekly_chart(weekly: pl.DataFrame, labels: dict[str, str] | None = None) -> go.Figure:
    """One line per item: interactions per week. `weekly`: week, item, interactions."""
    if weekly.is_empty():
        return empty_figure("Choose items to see their weekly interactions")
    fig = go.Figure()
    for item in weekly["item"].unique(maintain_order=True).to_list():
        part = weekly.filter(pl.col("item") == item).sort("week")
        fig.add_trace(
            go.Scatter(
                x=part["week"].to_list(),
                y=part["interactions"].to_list(),
                mode="lines+markers",
                name=_label(labels, item),
                hovertemplate="week of %{x|%Y-%m-%d}<br>%{y:,} interactions<extra>%{fullData.name}"
                "</extra>",
            )
        )
    fig.update_layout(
        height=360,
        margin=MARGIN,
        legend={"orientation": "h", "y": 1.12},
        yaxis_title="interactions per week",
        xaxis_title="",
    )
    return fig


def long_tail_chart(
    curve: pl.DataFrame, gini: float, top_10_share: float, bottom_50_share: float
) -> alt.LayerChart:
    """The concentration curve: cumulative share of interactions against the share of items,
    most popular first, over the diagonal of perfect equality; the top-10% and bottom-50%
    points are marked. `curve`: item_share, interaction_share (popularity.long_tail)."""
    data = curve.to_pandas()
    base = alt.Chart(data).encode(
        x=alt.X(
            "item_share:Q",
            title="share of items (most popular first)",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        y=alt.Y(
            "interaction_share:Q",
            title="share of interactions",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
    )
    area = base.mark_area(opacity=0.25, color=BAR, line={"color": BAR}).encode(
        tooltip=[
            alt.Tooltip("item_share:Q", title="top items", format=".1%"),
            alt.Tooltip("interaction_share:Q", title="their interactions", format=".1%"),
        ]
    )
    diagonal = (
        alt.Chart(alt.Data(values=[{"x": 0, "y": 0}, {"x": 1, "y": 1}]))
        .mark_line(strokeDash=[4, 4], color="#888")
        .encode(x="x:Q", y="y:Q")
    )
    marks = alt.Data(
        values=[
            {"x": 0.1, "y": top_10_share, "text": f"top 10% of items: {top_10_share:.0%}"},
            {
                "x": 0.5,
                "y": 1 - bottom_50_share,
                "text": f"bottom 50%: {bottom_50_share:.0%} of interactions",
            },
        ]
    )
    points = alt.Chart(marks).mark_point(filled=True, size=70, color=NEW).encode(x="x:Q", y="y:Q")
    text = (
        alt.Chart(marks)
        .mark_text(align="left", dx=8, dy=12, fontSize=12)
        .encode(x="x:Q", y="y:Q", text="text:N")
    )
    return (area + diagonal + points + text).properties(
        height=360, title=f"Gini {gini:.2f} (0 = every item equally popular, 1 = one item has all)"
    )


def lift_chart(lift: pl.DataFrame, group_label: str, category_label: str) -> alt.Chart:
    """Each group's lift per category (share of the group's interactions in the category over
    the overall share), on a log scale around 1×: a dot per group and category.
    `lift`: grp, category, lift, share, overall_share, interactions (segments.category_lift)."""
    data = lift.with_columns(pl.col("lift").clip(0.05, 20.0)).to_pandas()
    order = (
        lift.group_by("category")
        .agg(pl.col("overall_share").first())
        .sort("overall_share", descending=True)["category"]
        .to_list()
    )
    reach = max((abs(math.log(v)) for v in data["lift"] if v > 0), default=0.1)
    reach = max(reach * 1.15, math.log(1.25))
    ticks = [t for t in (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 10) if abs(math.log(t)) <= reach]
    dots = (
        alt.Chart(data)
        .mark_circle(size=110, opacity=0.9)
        .encode(
            x=alt.X(
                "lift:Q",
                title="lift: share in the group ÷ overall share (log scale)",
                scale=alt.Scale(type="log", domain=[math.exp(-reach), math.exp(reach)], nice=False),
                axis=alt.Axis(values=ticks, format=".2~f"),
            ),
            y=alt.Y("category:N", title=category_label, sort=order),
            color=alt.Color("grp:N", title=group_label, scale=alt.Scale(scheme="tableau10")),
            tooltip=[
                alt.Tooltip("grp:N", title=group_label),
                alt.Tooltip("category:N", title=category_label),
                alt.Tooltip("lift:Q", format=".2f"),
                alt.Tooltip("share:Q", title="share in group", format=".1%"),
                alt.Tooltip("overall_share:Q", title="overall share", format=".1%"),
                alt.Tooltip("interactions:Q", format=","),
            ],
        )
    )
    one = alt.Chart(alt.Data(values=[{"x": 1}])).mark_rule(color="#888").encode(x="x:Q")
    return (one + dots).properties(height=max(160, 34 * len(order)))

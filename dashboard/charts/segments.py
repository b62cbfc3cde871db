"""Chart builders of the Segments page: the category-affinity heatmap, cohort sizes, the
recency x frequency grid and segment overlaps (Plotly, to explore), and who is in a model's
segment (Altair: a small share-vs-overall view)."""

from __future__ import annotations

import math

import altair as alt
import plotly.graph_objects as go
import polars as pl

from dashboard.charts.popularity import MARGIN, empty_figure

MAX_LIFT = 3.0  # colours saturate at 3x and 1/3x
UP, DOWN, BAR = "#2E6DB4", "#D1495B", "#4C78A8"
BOTH = "#72B7B2"


def times(value: float | None) -> str:
    """A lift as people say it: 2.04×."""
    return f"{value:.2f}×" if value is not None and math.isfinite(value) else "—"


def affinity_heatmap(lift: pl.DataFrame, cohort_label: str, category_label: str) -> go.Figure:
    """Segments (rows, in the cohort's order, with their users) x categories (columns, largest
    overall share first). Colour: lift on a log scale, blue above 1x, red below; text: the
    lift. `lift`: grp, category, interactions, group_interactions, share, overall_share, lift,
    users (segments.category_lift)."""
    if lift.is_empty():
        return empty_figure("No interactions for these segments in this window")
    rows = lift["grp"].unique(maintain_order=True).to_list()
    users = dict(lift.select("grp", "users").unique().iter_rows())
    columns = (
        lift.group_by("category")
        .agg(pl.col("overall_share").first())
        .sort(["overall_share", "category"], descending=[True, False])["category"]
        .to_list()
    )
    cells = {(r["grp"], r["category"]): r for r in lift.iter_rows(named=True)}
    limit = math.log2(MAX_LIFT)
    z, text, hover = [], [], []
    for grp in rows:
        z_row, text_row, hover_row = [], [], []
        for category in columns:
            cell = cells.get((grp, category))
            if cell is None:
                z_row.append(None)
                text_row.append("")
                hover_row.append(f"<b>{grp}</b> · {category}<br>no interactions")
                continue
            value = cell["lift"]
            z_row.append(max(-limit, min(limit, math.log2(value))) if value > 0 else -limit)
            text_row.append(times(value))
            hover_row.append(
                f"<b>{grp}</b> · {category}<br>lift {times(value)}<br>"
                f"{cell['share']:.1%} of this segment's interactions vs "
                f"{cell['overall_share']:.1%} overall<br>"
                f"{cell['interactions']:,} of {cell['group_interactions']:,} interactions"
            )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    ticks = [1 / 3, 0.5, 1, 2, 3]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=[f"{g} ({users.get(g, 0):,} users)" for g in rows],
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            colorscale=[[0.0, DOWN], [0.5, "#F7F7F7"], [1.0, UP]],
            zmin=-limit,
            zmax=limit,
            zmid=0,
            colorbar={
                "title": "lift",
                "tickvals": [math.log2(t) for t in ticks],
                "ticktext": ["⅓×", "½×", "1×", "2×", "3×"],
            },
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed", title_text=cohort_label, automargin=True)
    fig.update_xaxes(title_text=category_label, side="top")
    fig.update_layout(height=max(260, 46 * len(rows) + 120), margin=MARGIN)
    return fig


def cohort_sizes_chart(sizes: pl.DataFrame, cohort_label: str) -> go.Figure:
    """Users per segment, in the cohort's order. `sizes`: grp, users."""
    if sizes.is_empty():
        return empty_figure("No users in these segments")
    total = max(int(sizes["users"].sum()), 1)
    fig = go.Figure(
        go.Bar(
            x=sizes["grp"].to_list(),
            y=sizes["users"].to_list(),
            marker_color=BAR,
            text=[f"{u:,} ({u / total:.0%})" for u in sizes["users"]],
            textposition="auto",
            hovertemplate="<b>%{x}</b><br>%{y:,} users<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title_text=cohort_label)
    fig.update_yaxes(title_text="users")
    fig.update_layout(height=280, margin=MARGIN)
    return fig


def rfm_chart(grid: pl.DataFrame) -> go.Figure:
    """Users by recency band (rows, most recent on top) x frequency band (columns, fewest
    interactions first); text: users and their mean value where there is one.
    `grid`: recency, frequency (labels), recency_band, frequency_band (their order), users,
    mean_value (segments.rfm_grid)."""
    if grid.is_empty():
        return empty_figure("No interactions in this window")
    rows = grid.sort("recency_band")["recency"].unique(maintain_order=True).to_list()
    columns = grid.sort("frequency_band")["frequency"].unique(maintain_order=True).to_list()
    cells = {(r["recency"], r["frequency"]): r for r in grid.iter_rows(named=True)}
    z, text = [], []
    for r in rows:
        z_row, text_row = [], []
        for c in columns:
            cell = cells.get((r, c))
            users = cell["users"] if cell else 0
            value = cell["mean_value"] if cell else None
            z_row.append(users)
            text_row.append(f"{users:,}" + (f"<br>avg {value:,.0f}" if value else ""))
        z.append(z_row)
        text.append(text_row)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "users"},
            hovertemplate="last seen %{y} ago<br>%{x} interactions<br>%{z:,} users<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_xaxes(title_text="frequency: interactions in the window", type="category")
    fig.update_yaxes(
        title_text="recency: days since last interaction", type="category", autorange="reversed"
    )
    fig.update_layout(height=380, margin=MARGIN)
    return fig


def overlap_bars(overlap: pl.DataFrame, a: str, b: str) -> go.Figure:
    """Two segments side by side as one stacked bar: only in A, in both, only in B.
    `overlap`: a, b, a_users, b_users, shared (segments.overlap)."""
    row = overlap.filter((pl.col("a") == a) & (pl.col("b") == b))
    if row.is_empty():
        return empty_figure("Choose two items to compare their segments")
    cell = row.row(0, named=True)
    parts = [
        (f"only {a}", cell["a_users"] - cell["shared"], BAR),
        ("in both", cell["shared"], BOTH),
        (f"only {b}", cell["b_users"] - cell["shared"], "#F58518"),
    ]
    fig = go.Figure()
    for name, users, color in parts:
        fig.add_trace(
            go.Bar(
                x=[users],
                y=["users"],
                orientation="h",
                name=name,
                marker_color=color,
                text=[f"{name}: {users:,}"],
                textposition="inside",
                insidetextanchor="middle",
                hovertemplate=f"{name}: %{{x:,}} users<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=150,
        margin=MARGIN,
        showlegend=False,
        title={"text": f"{cell['jaccard']:.0%} overlap (shared ÷ either)", "font": {"size": 14}},
    )
    fig.update_yaxes(visible=False)
    fig.update_xaxes(title_text="users")
    return fig


def overlap_matrix(overlap: pl.DataFrame) -> go.Figure:
    """Share of each row's segment that is also in each column's segment (the diagonal shows
    each segment's size). `overlap`: a, b, a_users, shared, share_of_a (segments.overlap)."""
    if overlap.is_empty():
        return empty_figure("Choose items to compare their segments")
    names = overlap["a"].unique(maintain_order=True).to_list()
    cells = {(r["a"], r["b"]): r for r in overlap.iter_rows(named=True)}
    z = [[None if a == b else cells[(a, b)]["share_of_a"] for b in names] for a in names]
    text = [
        [
            f"{cells[(a, b)]['a_users']:,} users"
            if a == b
            else f"{cells[(a, b)]['share_of_a']:.0%}<br>{cells[(a, b)]['shared']:,}"
            for b in names
        ]
        for a in names
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale="Teal",
            zmin=0,
            zmax=1,
            colorbar={"title": "share", "tickformat": ".0%"},
            hovertemplate="%{z:.0%} of %{y}'s segment is also in %{x}'s<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", title_text="segment of")
    fig.update_xaxes(type="category", title_text="also in the segment of", side="top")
    fig.update_layout(height=max(220, 60 * len(names) + 100), margin=MARGIN)
    return fig


def profile_chart(profile: pl.DataFrame, field: str) -> alt.LayerChart:
    """Who is in a segment: the share of its users with each value of a user field (bars)
    against the share among all users (black ticks).
    `profile`: value, segment_users, segment_share, all_users, overall_share, lift."""
    data = profile.to_pandas()
    bars = (
        alt.Chart(data)
        .mark_bar(color=BAR)
        .encode(
            x=alt.X(
                "segment_share:Q", title="share of the segment's users", axis=alt.Axis(format="%")
            ),
            y=alt.Y("value:N", title=field),
            tooltip=[
                alt.Tooltip("value:N", title=field),
                alt.Tooltip("segment_users:Q", title="users in segment", format=","),
                alt.Tooltip("segment_share:Q", title="share in segment", format=".1%"),
                alt.Tooltip("overall_share:Q", title="share of all users", format=".1%"),
                alt.Tooltip("lift:Q", format=".2f"),
            ],
        )
    )
    ticks = (
        alt.Chart(data)
        .mark_tick(color="black", thickness=3, size=30)
        .encode(x="overall_share:Q", y="value:N")
    )
    labels = (
        alt.Chart(data)
        .mark_text(align="left", dx=6, fontSize=12)
        .transform_calculate(label="format(datum.lift, '.2f') + '×'")
        .encode(x="segment_share:Q", y="value:N", text="label:N")
    )
    return (bars + ticks + labels).properties(height=max(180, 44 * len(data)))

"""Chart builders of the Data page: how complete each column is, a column's top values, its
distribution over time or over its range; and the profile as a readable table."""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.graph_objects as go
import polars as pl

from engine.analytics.profile import TIMESTAMP_FIELDS

GOOD, OPTIONAL, POOR, BAR = "#54A24B", "#9ECAE9", "#E45756", "#4C78A8"


def _empty(text: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, font={"size": 16})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=200, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def completeness_bars(profile: pl.DataFrame) -> go.Figure:
    """One bar per field: the share of rows that have a value, labelled with the distinct
    count. Green when every row has one; blue for an optional (nullable) field some rows
    leave empty; red for a required field with empty rows."""
    if profile.is_empty() or profile["rows"][0] == 0:
        return _empty("No rows yet")
    filled = (1.0 - profile["null_share"]).to_list()
    nullable = profile["nullable"].to_list()
    colors = [
        GOOD if s >= 1.0 else OPTIONAL if n else POOR for s, n in zip(filled, nullable, strict=True)
    ]
    text = [
        f"{s:.0%} filled · {d:,} distinct"
        if s >= 0.995 or s < 0.005
        else f"{s:.1%} filled · {d:,} distinct"
        for s, d in zip(filled, profile["distinct"].to_list(), strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=filled,
            y=profile["field"].to_list(),
            orientation="h",
            marker_color=colors,
            text=text,
            textposition=["inside" if s >= 0.5 else "outside" for s in filled],
            insidetextanchor="start",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%} of rows have a value<extra></extra>",
        )
    )
    fig.update_layout(
        height=70 + 28 * profile.height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        uniformtext={"minsize": 10, "mode": "show"},
        xaxis={
            "range": [0, 1.02],
            "tickvals": [0, 0.25, 0.5, 0.75, 1],
            "tickformat": ".0%",
            "title": "rows with a value",
        },
        yaxis={"autorange": "reversed"},
    )
    return fig


def top_values_bar(top: pl.DataFrame, field: str, rows: int) -> go.Figure:
    """The most frequent values of a field, most frequent on top, with their share of rows."""
    if top.is_empty():
        return _empty(f"{field} has no values yet")
    values = [v if len(v) <= 40 else v[:37] + "..." for v in top["value"].to_list()]
    counts = top["count"].to_list()
    fig = go.Figure(
        go.Bar(
            x=counts,
            y=values,
            orientation="h",
            marker_color=BAR,
            text=[f"{c:,} ({c / rows:.1%})" if rows else f"{c:,}" for c in counts],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        )
    )
    fig.update_layout(
        height=80 + 24 * top.height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": f"rows with this {field}"},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return fig


def time_histogram_chart(frame: pl.DataFrame, unit: str, field: str) -> go.Figure:
    """Rows per day/week/month of an epoch-seconds field."""
    if frame.is_empty():
        return _empty(f"{field} has no values yet")
    fig = go.Figure(
        go.Bar(
            x=frame["period"].to_list(),
            y=frame["rows"].to_list(),
            marker_color=BAR,
            hovertemplate=f"{unit} of %{{x|%Y-%m-%d}}: %{{y:,}} rows<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        bargap=0.05,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": f"rows per {unit}"},
    )
    return fig


def numeric_histogram_chart(frame: pl.DataFrame, field: str) -> go.Figure:
    """Rows per equal-width bin of a numeric field."""
    if frame.is_empty() or frame["rows"].sum() == 0:
        return _empty(f"{field} has no values yet")
    lows, highs = frame["low"].to_list(), frame["high"].to_list()
    fig = go.Figure(
        go.Bar(
            x=[(lo + hi) / 2 for lo, hi in zip(lows, highs, strict=True)],
            y=frame["rows"].to_list(),
            width=[hi - lo for lo, hi in zip(lows, highs, strict=True)],
            customdata=list(zip(lows, highs, strict=True)),
            marker_color=BAR,
            marker_line={"color": "white", "width": 1},
            hovertemplate="%{customdata[0]:,.2f} to %{customdata[1]:,.2f}: %{y:,} rows"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": field},
        yaxis={"title": "rows"},
    )
    return fig


def _number(field: str, value: float | None) -> str:
    if value is None:
        return ""
    if field in TIMESTAMP_FIELDS:
        return f"{datetime.fromtimestamp(value, UTC):%Y-%m-%d}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def profile_table(profile: pl.DataFrame) -> pl.DataFrame:
    """The profile as people read it: field, type, filled (share), nulls, distinct, top
    values ("value (count)"), and min/median/max as text (dates for timestamps)."""
    kinds = []
    for row in profile.iter_rows(named=True):
        kind = row["type"] + (" · nullable" if row["nullable"] else "")
        if row["categorical"]:
            kind += " · categorical"
        if row["textual"]:
            kind += " · textual"
        kinds.append(kind)
    tops = [
        ""
        if field in TIMESTAMP_FIELDS
        else ", ".join(
            f"{(t['value'] if len(t['value']) <= 24 else t['value'][:21] + '...')} ({t['count']:,})"
            for t in values
        )
        for field, values in zip(
            profile["field"].to_list(), profile["top_values"].to_list(), strict=True
        )
    ]
    ranges = {
        key: [
            _number(f, v)
            for f, v in zip(profile["field"].to_list(), profile[key].to_list(), strict=True)
        ]
        for key in ("min", "median", "max")
    }
    return pl.DataFrame(
        {
            "field": profile["field"],
            "type": kinds,
            "filled": (1.0 - profile["null_share"]),
            "nulls": profile["nulls"],
            "distinct": profile["distinct"],
            "top values": tops,
            **ranges,
        }
    )

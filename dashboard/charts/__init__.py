"""Chart builders: plain functions returning figures, tested without Streamlit; one module
per page (`dashboard/charts/<page>.py`), the Overview's here.

Roles: Plotly draws what people explore (time series, bars, heatmaps, ranked lists; hover and
zoom); Altair draws small statistical views (estimates with confidence intervals, lifts,
distributions) where its layered grammar says more in less code."""

from __future__ import annotations

from typing import Any

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

EVENT_COLORS = {"view": "#4C78A8", "add_to_cart": "#F58518", "purchase": "#54A24B"}


def events_over_time(timeline: pl.DataFrame) -> go.Figure:
    """Stacked daily interactions by event type."""
    if timeline.is_empty():
        fig = go.Figure()
        fig.add_annotation(text="No interactions yet", showarrow=False, font={"size": 16})
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    fig = px.area(
        timeline.to_pandas(),
        x="day",
        y="events",
        color="event_type",
        color_discrete_map=EVENT_COLORS,
        labels={"day": "", "events": "interactions per day", "event_type": "event type"},
    )
    fig.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def readiness_gauges(report: dict[str, Any]) -> go.Figure:
    """One bar per training minimum: how far the data is past (or short of) it."""
    names = [c["name"] for c in report["checks"]]
    shares = [min(c["value"] / c["minimum"], 3.0) for c in report["checks"]]
    colors = ["#54A24B" if c["passed"] else "#E45756" for c in report["checks"]]
    labels = {"interactions": "interactions", "usersWithAtLeast2Interactions": "users with 2+"}
    fig = go.Figure(
        go.Bar(
            x=shares,
            y=[labels.get(n, n) for n in names],
            orientation="h",
            marker_color=colors,
            text=[f"{c['value']:,} / {c['minimum']:,}" for c in report["checks"]],
            textposition="inside",
        )
    )
    fig.add_vline(x=1.0, line_dash="dash", line_color="#888")
    fig.update_layout(
        height=140,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "multiple of the training minimum (capped at 3x)", "range": [0, 3]},
    )
    return fig

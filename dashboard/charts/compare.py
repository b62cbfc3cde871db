"""The Compare page's tables and charts: ranked lists with rank-shift arrows, the reasons
behind each item, where each item ranks in each list (Plotly), and the statistics over a
sample of users with their confidence intervals and distributions (Altair). Plain
functions, tested without Streamlit."""

from __future__ import annotations

from typing import Any

import altair as alt
import plotly.graph_objects as go
import polars as pl

SOURCE_COLORS = ["#4C78A8", "#F58518", "#54A24B", "#B279A2"]


def shift_text(shift: int | None, in_reference: bool) -> str:
    """An arrow for a rank shift against the reference list: `▲ 3` (three places higher
    here), `▼ 2`, `=`, or `new` (not in the reference list)."""
    if not in_reference or shift is None:
        return "new"
    if shift > 0:
        return f"▲ {shift}"
    if shift < 0:
        return f"▼ {-shift}"
    return "="


def list_table(
    items: list[str],
    shifts: pl.DataFrame | None,
    details: pl.DataFrame,
    columns: list[str],
) -> pl.DataFrame:
    """One ranked list for display: `#, item`, `shift` (arrows against the reference list,
    when `shifts` holds this list's rows of `rank_shifts`), then the metadata `columns`
    and `age_days` from `details`."""
    frame = pl.DataFrame(
        {"#": list(range(1, len(items) + 1)), "item": items},
        schema={"#": pl.Int64, "item": pl.Utf8},
    )
    if shifts is not None:
        arrows = [
            shift_text(s, r is not None)
            for s, r in zip(shifts["shift"], shifts["reference_rank"], strict=True)
        ]
        frame = frame.with_columns(shift=pl.Series(arrows[: len(items)], dtype=pl.Utf8))
    keep = ["item", *[c for c in [*columns, "age_days"] if c in details.columns]]
    return frame.join(details.select(keep), on="item", how="left", maintain_order="left")


def why_table(
    items: list[str],
    reasons: list[str],
    explained: pl.DataFrame,
    details: pl.DataFrame,
    label_column: str | None,
    catalogue: int,
) -> pl.DataFrame:
    """Why each item of one list is there: `#, item, <label_column>`, `pulled up by` (the
    history items most associated with it, with the users they share), `popularity`
    (`#rank of N`) and `reason` (exploration, a promotion)."""
    labels: dict[str, str] = {}
    if label_column and label_column in details.columns:
        labels = {
            i: "" if v is None else str(v)
            for i, v in zip(details["item"], details[label_column], strict=True)
        }
    found = {r["item"]: r for r in explained.iter_rows(named=True)}
    rows = []
    for rank, (item, reason) in enumerate(zip(items, reasons, strict=True), start=1):
        row = found.get(item) or {}
        pulled = [
            f"{anchor} ({labels[anchor] + ', ' if labels.get(anchor) else ''}{n:,})"
            for anchor, n in zip(
                row.get("pulled_by") or [], row.get("shared_users") or [], strict=True
            )
        ]
        popularity = row.get("popularity_rank")
        rows.append(
            {
                "#": rank,
                "item": item,
                "label": labels.get(item, ""),
                "pulled up by": ", ".join(pulled) or "nothing in the history",
                "popularity": f"#{popularity:,} of {catalogue:,}" if popularity else "no events",
                "reason": reason or "",
            }
        )
    schema = {
        "#": pl.Int64,
        "item": pl.Utf8,
        "label": pl.Utf8,
        "pulled up by": pl.Utf8,
        "popularity": pl.Utf8,
        "reason": pl.Utf8,
    }
    frame = pl.DataFrame(rows, schema=schema)
    return frame.rename({"label": label_column}) if label_column else frame.drop("label")


def rank_chart(shifts: pl.DataFrame, sources: list[str]) -> go.Figure:
    """Where each item ranks in each list: one column per list, rank 1 at the top, a line
    joining an item's places in neighbouring lists (steep = a big rank shift); items in
    only one list are grey dots."""
    fig = go.Figure()
    if shifts.is_empty():
        fig.add_annotation(text="No recommendations", showarrow=False)
        return fig
    x_of = {name: i for i, name in enumerate(sources)}
    counts = shifts.group_by("item").len()
    shared = set(counts.filter(pl.col("len") > 1)["item"])
    for item, part in shifts.sort("source").group_by("item", maintain_order=True):
        part = part.with_columns(x=pl.col("source").replace_strict(x_of)).sort("x")
        name = str(item[0])
        both = name in shared
        fig.add_trace(
            go.Scatter(
                x=part["x"].to_list(),
                y=part["rank"].to_list(),
                mode="lines+markers+text" if both else "markers+text",
                text=["  " + name] * part.height,
                textposition="middle right",
                textfont={"size": 12, "color": "#222" if both else "#888"},
                line={"color": "#4C78A8", "width": 2},
                marker={"size": 10, "color": "#4C78A8" if both else "#C8CDD3"},
                name=name,
                hovertemplate=name + "<br>rank %{y}<extra></extra>",
                showlegend=False,
            )
        )
    k = int(shifts["rank"].max())
    fig.update_xaxes(
        tickvals=list(range(len(sources))),
        ticktext=sources,
        range=[-0.3, len(sources) - 0.4],
        side="top",
        showgrid=False,
    )
    fig.update_yaxes(autorange="reversed", title="rank", dtick=1 if k <= 15 else 5, zeroline=False)
    fig.update_layout(height=max(300, 34 * k + 80), margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def estimates_chart(
    frame: pl.DataFrame,
    category: str,
    value: str,
    low: str,
    high: str,
    title: str,
    axis_format: str = ".0%",
    domain: tuple[float, float] | None = (0.0, 1.0),
) -> alt.Chart:
    """Point estimates with their 95% confidence intervals, one row per category."""
    data = frame.select(category, value, low, high).to_pandas()
    scale = alt.Scale(domain=list(domain)) if domain else alt.Scale(zero=False)
    base = alt.Chart(data).encode(
        y=alt.Y(f"{category}:N", title=None, sort=None, axis=alt.Axis(labelLimit=320))
    )
    bars = base.mark_rule(strokeWidth=3, color="#9DB4CF").encode(
        x=alt.X(
            f"{low}:Q", title=title, scale=scale, axis=alt.Axis(format=axis_format, tickCount=5)
        ),
        x2=f"{high}:Q",
    )
    points = base.mark_point(filled=True, size=90, color="#4C78A8").encode(
        x=f"{value}:Q",
        tooltip=[
            alt.Tooltip(f"{category}:N"),
            alt.Tooltip(f"{value}:Q", format=".3f", title="mean"),
            alt.Tooltip(f"{low}:Q", format=".3f", title="95% CI low"),
            alt.Tooltip(f"{high}:Q", format=".3f", title="95% CI high"),
        ],
    )
    labels = base.mark_text(align="left", dx=8, dy=-10, fontSize=11).encode(
        x=f"{value}:Q", text=alt.Text(f"{value}:Q", format=axis_format)
    )
    return (bars + points + labels).properties(height=alt.Step(38))


def overlap_distribution(overlaps: pl.DataFrame, k: int) -> alt.Chart:
    """The distribution of overlap@k per pair of lists over the sampled users: how often
    two lists share 0, 1, ... k items (a heat strip: darker = more users)."""
    pairs = list(dict.fromkeys(overlaps["pair"].to_list()))  # in the order they came
    counts = (
        overlaps.with_columns(shared=(pl.col("overlap") * k).round(0).cast(pl.Int64))
        .group_by("pair", "shared")
        .len()
        .with_columns(share=pl.col("len") / pl.col("len").sum().over("pair"))
    )
    return (
        alt.Chart(counts.to_pandas())
        .mark_rect()
        .encode(
            x=alt.X(
                "shared:O",
                title=f"items the two top-{k} lists have in common",
                scale=alt.Scale(domain=list(range(k + 1))),
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("pair:N", title=None, sort=pairs, axis=alt.Axis(labelLimit=360)),
            color=alt.Color(
                "share:Q",
                title="share of users",
                scale=alt.Scale(scheme="blues"),
                legend=alt.Legend(format=".0%"),
            ),
            tooltip=[
                "pair:N",
                alt.Tooltip("shared:O", title="items in common"),
                alt.Tooltip("len:Q", title="users"),
                alt.Tooltip("share:Q", format=".1%", title="share of users"),
            ],
        )
        .properties(height=alt.Step(34))
    )


def coverage_chart(sources: pl.DataFrame) -> alt.Chart:
    """Catalogue coverage per list source: the share of the catalogue recommended to at
    least one sampled user."""
    data = sources.select("source", "coverage", "distinct_items").to_pandas()
    base = alt.Chart(data).encode(
        y=alt.Y("source:N", title=None, sort=None, axis=alt.Axis(labelLimit=320))
    )
    bars = base.mark_bar(color="#4C78A8").encode(
        x=alt.X(
            "coverage:Q", title="share of the catalogue recommended", axis=alt.Axis(format=".0%")
        ),
        tooltip=[
            "source:N",
            alt.Tooltip("coverage:Q", format=".1%"),
            alt.Tooltip("distinct_items:Q", title="distinct items"),
        ],
    )
    text = base.mark_text(align="left", dx=4).encode(
        x="coverage:Q", text=alt.Text("coverage:Q", format=".1%")
    )
    return (bars + text).properties(height=alt.Step(34))


def agreement_words(overlap: float) -> str:
    """Plain words for a share of shared items."""
    if overlap >= 0.8:
        return "nearly the same"
    if overlap >= 0.5:
        return "largely the same"
    if overlap >= 0.2:
        return "partly different"
    return "very different"


def pair_rows(pairs: pl.DataFrame, k: int) -> list[dict[str, Any]]:
    """Sentences for the pair table: `a`, `b`, `in common` (`6 of 10`), words."""
    return [
        {
            "a": r["a"],
            "b": r["b"],
            "in common": f"{round(r['overlap'] * k)} of {k}",
            "verdict": agreement_words(r["overlap"]),
        }
        for r in pairs.iter_rows(named=True)
    ]

"""Popularity & trends page: the most popular items overall and by item category, user
segment or context; what is rising now; how concentrated interactions are (the long tail);
and chosen items week by week."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard.charts.popularity import (
    lift_chart,
    long_tail_chart,
    new_items_chart,
    top_items_chart,
    trending_chart,
    weekly_chart,
)
from dashboard.engine_access import get_engine, group_version, pick_group
from engine.analytics import popularity, segments
from engine.analytics.popularity import INTERACTIONS, ITEMS, USERS, Breakdown, Filters
from engine.errors import PersonalizeError

MAX_GROUPS = 9
ITEM_CHOICES = 500

# --- cached data (keyed by the group's data version, so new data shows up) -------------------


@st.cache_data(show_spinner=False, max_entries=32)
def overview(_engine, arn: str, version: int) -> dict:
    data = popularity.group_data(_engine, arn)
    report = _engine.get_data_readiness(datasetGroupArn=arn)
    return {
        "interactions": report["interactions"],
        "first": report["firstEvent"].date() if report["firstEvent"] else None,
        "last": report["lastEvent"].date() if report["lastEvent"] else None,
        "event_types": [t for t in report["eventTypes"] if t],
        "breakdowns": data.breakdowns(),
        "item_fields": data.categorical(ITEMS),
    }


@st.cache_data(show_spinner="Counting interactions…", max_entries=64)
def top_items(_engine, arn: str, version: int, filters: Filters, by, n: int) -> pl.DataFrame:
    return popularity.top_items(_engine, arn, filters, by, n)


@st.cache_data(show_spinner=False, max_entries=256)
def labels(_engine, arn: str, version: int, items: tuple[str, ...]) -> dict[str, str]:
    return popularity.item_labels(_engine, arn, list(items))


@st.cache_data(show_spinner="Comparing categories…", max_entries=64)
def category_lift(_engine, arn: str, version: int, by, category: str, filters: Filters):
    return segments.category_lift(_engine, arn, by, category, filters)


@st.cache_data(show_spinner="Comparing windows…", max_entries=64)
def trending(_engine, arn: str, version: int, filters: Filters, days: int, minimum: int, by):
    return popularity.trending(_engine, arn, filters, days, minimum, 15, by)


@st.cache_data(show_spinner="Ranking items…", max_entries=32)
def long_tail(_engine, arn: str, version: int, filters: Filters):
    return popularity.long_tail(_engine, arn, filters)


@st.cache_data(show_spinner=False, max_entries=32)
def item_counts(_engine, arn: str, version: int, filters: Filters) -> pl.DataFrame:
    return popularity.item_counts(_engine, arn, filters).head(ITEM_CHOICES)


@st.cache_data(show_spinner="Counting weeks…", max_entries=64)
def weekly(_engine, arn: str, version: int, items: tuple[str, ...], filters: Filters):
    return popularity.weekly_counts(_engine, arn, list(items), filters)


def label_of(breakdown: Breakdown | None) -> str:
    return "Nothing (all interactions)" if breakdown is None else breakdown.label


# --- page --------------------------------------------------------------------------------------

engine = get_engine()
st.title("Popularity & trends")
st.caption(
    "What people interact with most, what is rising now, and how much of the attention goes "
    "to a few items."
)

arn, names = pick_group(engine, "pop_group")
version = group_version(engine, arn)
try:
    info = overview(engine, arn, version)
except PersonalizeError as exc:
    st.error(exc.message)
    st.stop()
if not info["interactions"]:
    st.info(
        f"**{names[arn]}** has no interactions yet. Import an Interactions dataset "
        "(`create_dataset_import_job`) or send events with `put_events`, then come back."
    )
    st.stop()

left, middle, right = st.columns([2, 2, 2])
with left:
    chosen_types = st.multiselect(
        "Event types",
        info["event_types"],
        placeholder="All event types",
        key="pop_types",
        help="Count only these event types (none chosen: all).",
    )
with middle:
    window = st.date_input(
        "Time window (UTC days)",
        value=(info["first"], info["last"]),
        min_value=info["first"],
        max_value=info["last"],
        key="pop_window",
    )
with right:
    breakdown = st.selectbox(
        "Break down by",
        [None, *info["breakdowns"]],
        format_func=label_of,
        key="pop_breakdown",
        help="Item: the item's category field; User: the user's segment; Context: a field "
        "recorded with each interaction (device, time of day…).",
    )
if not isinstance(window, tuple) or len(window) != 2:
    st.info("Pick the last day of the time window.")
    st.stop()
start, end = window
filters = Filters(tuple(sorted(chosen_types)), start, end)
scope = f"{start:%d %b %Y} – {end:%d %b %Y}" + (
    f", {', '.join(filters.event_types)} only" if filters.event_types else ""
)

popular_tab, trending_tab, tail_tab, time_tab = st.tabs(
    ["Most popular", "Trending now", "Long tail", "Over time"], key="pop_tab", on_change="rerun"
)

if popular_tab.open:
    with popular_tab:
        n = st.slider("Items per list", 3, 25, 10, key="pop_n")
        try:
            top = top_items(engine, arn, version, filters, breakdown, n)
        except PersonalizeError as exc:
            st.error(exc.message)
            top = None
        if top is not None and top.is_empty():
            st.info("No interactions in this window: widen the time window or the event types.")
        elif top is not None:
            if breakdown is None:
                st.subheader("Most popular items")
            else:
                st.subheader(f"Most popular items by {breakdown.field}")
                volumes = top.select("grp", "group_interactions").unique(maintain_order=True)
                values = volumes["grp"].to_list()
                shown = st.multiselect(
                    f"{breakdown.field} values",
                    values,
                    default=values[:MAX_GROUPS],
                    key=f"pop_values_{breakdown.source}_{breakdown.field}",
                    help="Largest groups first; the first nine are shown.",
                )
                top = top.filter(pl.col("grp").is_in(shown))
            names_of = labels(engine, arn, version, tuple(sorted(set(top["item"]))))
            st.plotly_chart(top_items_chart(top, names_of), width="stretch", key="pop_top")
            st.caption(
                f"Interactions per item, {scope}. "
                + (
                    "Longer bar = more interactions; hover for the item's share."
                    if breakdown is None
                    else f"Each panel is one {breakdown.field} value with its total "
                    "interactions: compare which items lead in each."
                )
            )
            if breakdown is not None and breakdown.source in (USERS, INTERACTIONS):
                if info["item_fields"]:
                    st.subheader(f"Which categories each {breakdown.field} favours")
                    category = st.selectbox("Item field", info["item_fields"], key="pop_lift_field")
                    try:
                        lift = category_lift(engine, arn, version, breakdown, category, filters)
                        lift = lift.filter(pl.col("grp").is_in(shown))
                        st.altair_chart(
                            lift_chart(lift, breakdown.field, category), width="stretch"
                        )
                        st.caption(
                            f"A dot right of the line: that {breakdown.field} puts a larger "
                            f"share of its interactions on the {category} than everyone does "
                            "(2 = twice the overall share)."
                        )
                    except PersonalizeError as exc:
                        st.error(exc.message)

if trending_tab.open:
    with trending_tab:
        c1, c2 = st.columns(2)
        days = c1.select_slider(
            "Window (days)", [1, 3, 7, 14, 28, 56], value=14, key="pop_trend_days"
        )
        minimum = c2.number_input(
            "Minimum interactions in the latest window",
            min_value=1,
            value=20,
            step=5,
            key="pop_trend_min",
            help="Ignore items with fewer interactions than this in the latest window.",
        )
        try:
            rising = trending(engine, arn, version, filters, days, int(minimum), None)
            names_of = labels(engine, arn, version, tuple(rising.frame["key"]))
            grew, fresh = st.columns([3, 2])
            with grew:
                st.subheader("Rising items")
                st.plotly_chart(
                    trending_chart(rising.frame.filter(~pl.col("new")), names_of),
                    width="stretch",
                    key="pop_rising",
                )
            with fresh:
                st.subheader("New this window")
                st.plotly_chart(
                    new_items_chart(rising.frame.filter(pl.col("new")), names_of),
                    width="stretch",
                    key="pop_new",
                )
            cur, prev = rising.current, rising.previous
            st.caption(
                f"Latest {days} days ({cur[0]:%d %b} – {cur[1]:%d %b %Y}) against the {days} "
                f"before ({prev[0]:%d %b} – {prev[1]:%d %b}), items with at least {minimum:,} "
                "interactions in the latest. Left: growth = (latest − previous) ÷ previous, "
                "the label says previous → latest. Right: items with none in the previous "
                "window (often new to the catalogue). The window ends on the last day of the "
                "time window above."
            )
            by = breakdown if breakdown is not None and breakdown.source == ITEMS else None
            if by is None and info["item_fields"]:
                by = Breakdown(ITEMS, info["item_fields"][0])
            if by is not None:
                groups_rising = trending(engine, arn, version, filters, days, 1, by)
                st.subheader(f"Rising {by.field} values")
                st.plotly_chart(
                    trending_chart(groups_rising.frame, what=f"{by.field} values"),
                    width="stretch",
                    key="pop_rising_groups",
                )
                st.caption(f"The same comparison for each {by.field}: blue grew, red shrank.")
        except PersonalizeError as exc:
            st.error(exc.message)

if tail_tab.open:
    with tail_tab:
        try:
            tail = long_tail(engine, arn, version, filters)
            cols = st.columns(4)
            cols[0].metric(
                "Gini",
                f"{tail.gini:.2f}",
                help="0: all items equally popular; 1: one item has every interaction.",
            )
            cols[1].metric(
                "Top 10% of items",
                f"{tail.top_10_share:.0%}",
                help="Share of interactions on the most popular tenth of items.",
            )
            cols[2].metric(
                "Bottom 50% of items",
                f"{tail.bottom_50_share:.0%}",
                help="Share of interactions on the less popular half of items.",
            )
            cols[3].metric(
                "Items without interactions",
                f"{tail.items_without_interactions:,}",
                help=f"Of {tail.items:,} items.",
            )
            st.altair_chart(
                long_tail_chart(tail.curve, tail.gini, tail.top_10_share, tail.bottom_50_share),
                width="stretch",
            )
            st.caption(
                f"Cumulative share of interactions ({scope}) as items are added from the most "
                "popular down. The dashed diagonal is a catalogue where every item is equally "
                "popular: the further the curve bows above it, the more attention goes to a few "
                "items and the longer the tail. Items in the catalogue without interactions "
                "count as zeros."
            )
        except PersonalizeError as exc:
            st.error(exc.message)

if time_tab.open:
    with time_tab:
        try:
            counts = item_counts(engine, arn, version, filters)
            options = counts["item"].to_list()
            names_of = labels(engine, arn, version, tuple(options))
            chosen = st.multiselect(
                "Items",
                options,
                default=options[:3],
                format_func=lambda i: names_of.get(i, i),
                key=f"pop_items_{start}_{end}",
                help=f"The {len(options)} most popular items of the window, most popular first; "
                "type to search.",
                max_selections=10,
            )
            series = weekly(engine, arn, version, tuple(chosen), filters)
            st.plotly_chart(weekly_chart(series, names_of), width="stretch")
            st.caption(
                f"Interactions per week (Monday to Sunday, UTC), {scope}; only whole weeks are "
                "shown. Hover for the numbers; click a legend entry to hide a line."
            )
        except PersonalizeError as exc:
            st.error(exc.message)

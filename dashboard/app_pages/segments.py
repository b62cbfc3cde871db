"""Segments page: user cohorts from user metadata and from behaviour (recency, frequency,
value), which item categories each cohort favours, and the audiences a trained item-affinity
model finds for chosen items or attribute values (size, overlap, who is in them, CSV)."""

from __future__ import annotations

import re
import time

import polars as pl
import streamlit as st

from dashboard.charts.segments import (
    affinity_heatmap,
    cohort_sizes_chart,
    overlap_bars,
    overlap_matrix,
    profile_chart,
    rfm_chart,
)
from dashboard.engine_access import get_engine, group_version, pick_group
from engine.analytics import popularity, segments
from engine.analytics.popularity import ITEMS, USERS, Filters
from engine.analytics.segments import ITEM_ATTRIBUTE_AFFINITY, SEGMENT_RECIPES
from engine.errors import PersonalizeError

MAX_TARGETS = 4
DONE = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")

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
        "cohorts": segments.cohorts(data),
        "item_fields": data.categorical(ITEMS),
        "user_fields": data.categorical(USERS),
    }


@st.cache_data(show_spinner="Comparing segments…", max_entries=64)
def category_lift(_engine, arn: str, version: int, cohort, category: str, filters: Filters):
    return segments.category_lift(_engine, arn, cohort, category, filters)


@st.cache_data(show_spinner=False, max_entries=64)
def cohort_sizes(_engine, arn: str, version: int, cohort, filters: Filters) -> pl.DataFrame:
    return segments.cohort_sizes(_engine, arn, cohort, filters)


@st.cache_data(show_spinner="Banding users…", max_entries=32)
def rfm(_engine, arn: str, version: int, filters: Filters) -> pl.DataFrame:
    return segments.rfm_grid(_engine, arn, filters)


@st.cache_data(show_spinner=False, max_entries=32)
def popular_items(_engine, arn: str, version: int) -> list[str]:
    return popularity.item_counts(_engine, arn, Filters()).head(500)["item"].to_list()


@st.cache_data(show_spinner=False, max_entries=256)
def labels(_engine, arn: str, version: int, items: tuple[str, ...]) -> dict[str, str]:
    return popularity.item_labels(_engine, arn, list(items))


@st.cache_data(show_spinner=False, max_entries=64)
def field_values(_engine, arn: str, version: int, field: str) -> list[str]:
    return segments.item_field_values(_engine, arn, field)["value"].to_list()


@st.cache_data(show_spinner=False, max_entries=256)
def matching(_engine, arn: str, version: int, field: str, value: str) -> list[str]:
    return segments.items_matching(_engine, arn, field, value)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def model_of(_engine, version_arn: str):
    return segments.load_segment_model(_engine, version_arn)


@st.cache_data(show_spinner="Finding users…", max_entries=128)
def segment_of(_engine, version_arn: str, items: tuple[str, ...], size: int) -> pl.DataFrame:
    return segments.segment(model_of(_engine, version_arn), list(items), size)


@st.cache_data(show_spinner=False, max_entries=64)
def profile(_engine, arn: str, version: int, users: tuple[str, ...], field: str):
    return segments.profile(_engine, arn, list(users), field)


def csv_of(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode()


def file_name(*parts: str) -> str:
    """A download's file name from its parts (letters, digits, - and _ only)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", "-".join(parts)).strip("_") + ".csv"


def train(engine, arn: str, recipe: str) -> None:
    """Start a segment model and follow it with a progress bar until it ends."""
    try:
        version_arn = segments.train_segment_model(engine, arn, recipe)
    except PersonalizeError as exc:
        st.error(exc.message)
        return
    bar = st.progress(0.0, text="Queued…")
    while True:
        progress = engine.job_progress(version_arn)
        bar.progress(
            min(max(float(progress.get("fraction") or 0.0), 0.0), 1.0),
            text=f"Training: {progress.get('step') or progress['status']}",
        )
        if progress["status"] in DONE:
            break
        time.sleep(0.3)
    status = engine.describe_solution_version(solutionVersionArn=version_arn)["solutionVersion"]
    if status["status"] == "ACTIVE":
        st.session_state["seg_trained"] = version_arn  # chosen on the next run
        st.rerun()
    st.error(f"Training ended {status['status']}: {status.get('failureReason') or ''}")


def train_controls(engine, arn: str, key: str) -> None:
    recipe = st.radio(
        "Recipe",
        list(SEGMENT_RECIPES),
        format_func=SEGMENT_RECIPES.get,
        horizontal=True,
        key=f"{key}_recipe",
        help="Item affinity: users likely to interact with an item. Item-attribute affinity: "
        "users likely to interact with items of an attribute value (e.g. a category). Both "
        "answer both questions here.",
    )
    if st.button("Train a segment model", key=f"{key}_train", type="primary"):
        train(engine, arn, recipe)


# --- page --------------------------------------------------------------------------------------

engine = get_engine()
st.title("Segments")
st.caption(
    "Who your users are, which categories each group favours, and the audience a trained "
    "model finds for an item or a category."
)

arn, names = pick_group(engine, "seg_group")
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

left, right = st.columns(2)
with left:
    chosen_types = st.multiselect(
        "Event types",
        info["event_types"],
        placeholder="All event types",
        key="seg_types",
        help="Count only these event types (none chosen: all).",
    )
with right:
    window = st.date_input(
        "Time window (UTC days)",
        value=(info["first"], info["last"]),
        min_value=info["first"],
        max_value=info["last"],
        key="seg_window",
        help="Interactions in this window define behaviour bands and category shares.",
    )
if not isinstance(window, tuple) or len(window) != 2:
    st.info("Pick the last day of the time window.")
    st.stop()
filters = Filters(tuple(sorted(chosen_types)), window[0], window[1])

affinity_tab, rfm_tab, model_tab = st.tabs(
    ["Category affinity", "Recency & frequency", "Model segments"],
    key="seg_tab",
    on_change="rerun",
)

if affinity_tab.open:
    with affinity_tab:
        c1, c2 = st.columns(2)
        cohort = c1.selectbox(
            "Segments",
            info["cohorts"],
            format_func=lambda c: c.label,
            key="seg_cohort",
            help="User: a field of the Users dataset. Behaviour: users in quartile bands of "
            "how recently, how often and (with EVENT_VALUE) for how much they interacted in "
            "the window.",
        )
        category = c2.selectbox("Item field", info["item_fields"], key="seg_category")
        if category is None:
            st.info(
                "Category affinity needs an Items dataset with a categorical field (e.g. "
                "CATEGORY): create one and import items, then come back."
            )
        else:
            try:
                lift = category_lift(engine, arn, version, cohort, category, filters)
                st.plotly_chart(
                    affinity_heatmap(lift, cohort.label, category), width="stretch", key="seg_heat"
                )
                st.caption(
                    "Each cell: the segment's share of interactions in that "
                    f"{category} ÷ everyone's share. Blue: the segment favours it (2× = twice "
                    "as likely as the average user); red: it avoids it; white: about the same."
                )
                sizes = cohort_sizes(engine, arn, version, cohort, filters)
                chart, download = st.columns([3, 2])
                with chart:
                    st.plotly_chart(
                        cohort_sizes_chart(sizes, cohort.label), width="stretch", key="seg_sizes"
                    )
                    st.caption(
                        "Users in each segment"
                        + (
                            " (every user of the Users dataset)."
                            if cohort.source == USERS
                            else " (users with interactions in the window)."
                        )
                    )
                with download:
                    st.markdown("**Download a segment**")
                    value = st.selectbox(
                        "Segment", sizes["grp"].to_list(), key="seg_download_value"
                    )
                    if value is not None:
                        count = sizes.filter(pl.col("grp") == value)["users"].sum()
                        st.download_button(
                            f"Download {count:,} users as CSV",
                            lambda: csv_of(
                                segments.cohort_members(engine, arn, cohort, value, filters)
                            ),
                            file_name=file_name(names[arn], cohort.field, value),
                            mime="text/csv",
                            on_click="ignore",
                            icon=":material/download:",
                            key="seg_download",
                        )
                        st.caption(
                            "USER_ID with their interactions and last interaction in the window."
                        )
            except PersonalizeError as exc:
                st.error(exc.message)

if rfm_tab.open:
    with rfm_tab:
        try:
            grid = rfm(engine, arn, version, filters)
            st.subheader("Users by recency and frequency")
            st.plotly_chart(rfm_chart(grid), width="stretch", key="seg_rfm")
            st.caption(
                "Users with interactions in the window, by how recently (rows, most recent on "
                "top) and how often (columns) they interacted; bands are quartiles. Top right: "
                "your most engaged users; bottom left: users slipping away."
                + (
                    " 'avg' is their mean total EVENT_VALUE (0 for users without one)."
                    if grid["mean_value"].is_not_null().any()
                    else ""
                )
            )
        except PersonalizeError as exc:
            st.error(exc.message)

if model_tab.open:
    with model_tab:
        try:
            models = segments.segment_models(engine, arn)
        except PersonalizeError as exc:
            st.error(exc.message)
            models = []
        if not models:
            st.info(
                "No segment model for this group yet. Segments come from a trained "
                "**aws-item-affinity** or **aws-item-attribute-affinity** solution version: "
                "train one here (a minute or less on the sample) or with "
                "`create_solution` + `create_solution_version`."
            )
            train_controls(engine, arn, "seg_first")
        else:
            by_arn = {m["solutionVersionArn"]: m for m in models}
            trained = st.session_state.pop("seg_trained", None)
            if trained in by_arn:
                st.session_state["seg_model"] = trained
            if st.session_state.get("seg_model") not in by_arn:
                st.session_state["seg_model"] = models[0]["solutionVersionArn"]
            version_arn = st.selectbox(
                "Model",
                list(by_arn),
                format_func=lambda a: (
                    f"{by_arn[a]['solutionName']} · "
                    f"{SEGMENT_RECIPES[by_arn[a]['recipeArn']]} · trained "
                    f"{by_arn[a]['trained']:%Y-%m-%d %H:%M}"
                ),
                key="seg_model",
            )
            with st.expander("Train another segment model"):
                train_controls(engine, arn, "seg_more")
            try:
                model = model_of(engine, version_arn)
                n_users = model.recipe.n_users
                c1, c2 = st.columns(2)
                default_mode = (
                    "attribute"
                    if by_arn[version_arn]["recipeArn"] == ITEM_ATTRIBUTE_AFFINITY
                    else "item"
                )
                modes = {"item": "Items", "attribute": "Attribute values"}
                if not info["item_fields"]:
                    modes.pop("attribute")
                mode = c1.radio(
                    "Segments for",
                    list(modes),
                    index=list(modes).index(default_mode) if default_mode in modes else 0,
                    format_func=modes.get,
                    horizontal=True,
                    key="seg_mode",
                )
                size = c2.slider(
                    "Users per segment",
                    min_value=min(10, n_users),
                    max_value=n_users,
                    value=min(max(10, n_users // 10), n_users),
                    key="seg_size",
                    help="The users with the highest predicted affinity.",
                )
                targets: dict[str, tuple[str, ...]] = {}
                if mode == "item":
                    options = popular_items(engine, arn, version)
                    names_of = labels(engine, arn, version, tuple(options))
                    chosen = st.multiselect(
                        "Items",
                        options,
                        default=options[:2],
                        format_func=lambda i: names_of.get(i, i),
                        max_selections=MAX_TARGETS,
                        key="seg_items",
                        help="The most popular items first; type to search. Choose two or "
                        "more to compare their audiences.",
                    )
                    targets = {names_of.get(item, item): (item,) for item in chosen}
                else:
                    field = st.selectbox("Item field", info["item_fields"], key="seg_attr_field")
                    values = field_values(engine, arn, version, field)
                    chosen = st.multiselect(
                        f"{field} values",
                        values,
                        default=values[:2],
                        max_selections=MAX_TARGETS,
                        key=f"seg_attr_values_{field}",
                    )
                    targets = {
                        f"{field}={v}": tuple(matching(engine, arn, version, field, v))
                        for v in chosen
                    }
                found = {
                    name: segment_of(engine, version_arn, items, size)
                    for name, items in targets.items()
                }
            except PersonalizeError as exc:
                st.error(exc.message)
                found = {}
            if not found:
                st.caption("Choose items or values above to see their audiences.")
            else:
                cols = st.columns(len(found))
                for col, (name, users) in zip(cols, found.items(), strict=True):
                    with col:
                        st.metric(
                            name,
                            f"{users.height:,} users",
                            help=f"of {n_users:,} users the model knows",
                        )
                        st.download_button(
                            "CSV",
                            csv_of(users),
                            file_name=file_name(names[arn], "segment", name),
                            mime="text/csv",
                            on_click="ignore",
                            icon=":material/download:",
                            key=f"seg_csv_{name}",
                        )
                overlap = segments.overlap({n: f["USER_ID"].to_list() for n, f in found.items()})
                if len(found) == 2:
                    a, b = list(found)
                    st.subheader("How much the two audiences overlap")
                    st.plotly_chart(overlap_bars(overlap, a, b), width="stretch", key="seg_overlap")
                    st.caption(
                        "Users in only one segment and in both. A large overlap means one campaign "
                        "can reach both audiences; a small one means they are different people."
                    )
                elif len(found) > 2:
                    st.subheader("How much the audiences overlap")
                    st.plotly_chart(overlap_matrix(overlap), width="stretch", key="seg_overlap")
                    st.caption(
                        "Each cell: the share of the row's segment that is also in the column's. "
                        "Dark: mostly the same people."
                    )
                if info["user_fields"]:
                    st.subheader("Who is in the segment")
                    c1, c2 = st.columns(2)
                    target = c1.selectbox("Segment", list(found), key="seg_profile_target")
                    field = c2.selectbox("User field", info["user_fields"], key="seg_profile_field")
                    try:
                        shares = profile(
                            engine, arn, version, tuple(found[target]["USER_ID"]), field
                        )
                        st.altair_chart(profile_chart(shares, field), width="stretch")
                        st.caption(
                            f"Bars: share of the segment's users in each {field}; black ticks: the "
                            "share among all users. The number is the ratio: above 1, the "
                            "segment over-represents that group."
                        )
                    except PersonalizeError as exc:
                        st.error(exc.message)

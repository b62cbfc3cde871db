"""Context effects: how behaviour changes with device, time of day, day of week and season
(lift of each category in each context, with 95% intervals), and how a context-aware
campaign's recommendations for one user change as the context changes."""

from __future__ import annotations

import time
from typing import Any

import polars as pl
import streamlit as st

from dashboard.charts.context import lift_heatmap, lift_whiskers, recommendation_mix, times
from dashboard.engine_access import get_engine, group_version
from engine.analytics import context as ctx
from engine.errors import PersonalizeError

CONTEXT_RECIPE = ctx.CONTEXT_RECIPES[0]
TOP_ITEMS = 20
NEW_VISITOR = "new-visitor"
ALL_EVENTS = "(all)"
SERVABLE = ("USER_PERSONALIZATION", "PERSONALIZED_RANKING", "POPULAR_ITEMS")
DERIVED_HELP = (
    "Derived from each interaction's TIMESTAMP in UTC. Seasons are meteorological, northern "
    "hemisphere: Dec–Feb winter, Mar–May spring, Jun–Aug summer, Sep–Nov autumn."
)

st.set_page_config(layout="wide")
engine = get_engine()
home = str(engine.data_dir)


@st.cache_data(show_spinner=False, max_entries=16)
def _fields(home: str, group_arn: str, version: int) -> list[ctx.ContextField]:
    return ctx.context_fields(engine, group_arn)


@st.cache_data(show_spinner=False, max_entries=16)
def _dimensions(home: str, group_arn: str, version: int) -> list[str]:
    return ctx.item_dimensions(engine, group_arn)


@st.cache_data(show_spinner=False, max_entries=16)
def _event_types(home: str, group_arn: str, version: int) -> list[str]:
    return ctx.event_types(engine, group_arn)


@st.cache_data(show_spinner=False, max_entries=128)
def _lifts(
    home: str,
    group_arn: str,
    version: int,
    field: str,
    dimension: str,
    event_type: str | None,
) -> pl.DataFrame:
    counts = ctx.context_counts(engine, group_arn, field, dimension, event_type, TOP_ITEMS)
    return ctx.lifts(counts)


@st.cache_data(show_spinner=False, max_entries=16)
def _users(home: str, group_arn: str, version: int) -> pl.DataFrame:
    return ctx.top_users(engine, group_arn, 200)


@st.cache_data(show_spinner=False, max_entries=32)
def _values(home: str, group_arn: str, version: int, field: str) -> list[str]:
    return ctx.context_values(engine, group_arn, field, limit=12)


@st.cache_data(show_spinner=False, max_entries=64, ttl=300)
def _recommendations(
    home: str,
    version: int,
    campaign_arn: str,
    updated: str,
    user_id: str,
    field: str,
    values: tuple[str, ...],
    num_results: int,
    item_field: str | None,
) -> pl.DataFrame:
    recs = ctx.recommendations_by_context(
        engine, campaign_arn, user_id, field, list(values), num_results, item_field
    )
    return ctx.mark_changes(recs)


def user_label(user_id: str, counts: dict[str, int]) -> str:
    if user_id == NEW_VISITOR:
        return "a new visitor (no history)"
    return f"{user_id} ({counts[user_id]:,} interactions)" if user_id in counts else user_id


def dimension_label(name: str) -> str:
    return f"item (top {TOP_ITEMS})" if name == ctx.ITEM_ID else name


def in_words(row: dict[str, Any], context_label: str) -> str:
    """One effect as a sentence a product manager can repeat."""
    return (
        f"With {context_label} = **{row['context']}**, **{row['category']}** makes up "
        f"{row['share_in_context']:.1%} of interactions vs {row['share_overall']:.1%} overall: "
        f"**{times(row['lift'])}** (95% interval {times(row['lift_low'])}–"
        f"{times(row['lift_high'])})."
    )


# --- page ---------------------------------------------------------------------------------

st.title("Context effects")
st.caption(
    "Does what people look at change with the device, the time of day, the day of the week or "
    "the season? And does a context-aware campaign follow? **Lift** = a category's share of "
    "interactions in one context ÷ its share of all interactions: 1.30× means 30% more often "
    "than usual, 0.70× 30% less."
)

groups = engine.list_dataset_groups()["datasetGroups"]
if not groups:
    st.info(
        "No dataset groups yet. Run `tailor init --sample` to load the sample store, or create "
        "a dataset group and import interactions with contextual fields (e.g. DEVICE)."
    )
    st.stop()
names = [g["name"] for g in groups]
default_group = names.index("sample") if "sample" in names else 0
group_name = (
    st.selectbox("Dataset group", names, index=default_group, key="context_group")
    if len(groups) > 1
    else names[0]
)
group_arn = groups[names.index(group_name)]["datasetGroupArn"]
version = group_version(engine, group_arn)

fields = _fields(home, group_arn, version)
if not fields:
    st.info(
        f"Dataset group **{group_name}** has no Interactions dataset yet. Import interactions "
        '(with a contextual field such as DEVICE, marked `"categorical": true` in the '
        "schema) and come back."
    )
    st.stop()
by_key = {f.key: f for f in fields}
dimensions = _dimensions(home, group_arn, version)

data_tab, user_tab = st.tabs(
    ["Lifts in your data", "One user's recommendations"], key="context_tab", on_change="rerun"
)

# --- lifts ----------------------------------------------------------------------------------

if data_tab.open:
    with data_tab:
        if not any(not f.derived for f in fields):
            st.info(
                "The Interactions schema has no contextual field (a categorical string field "
                "such as DEVICE or TIME_OF_DAY), so only day of week, season and month are "
                "shown. Add one to the schema to see its effect and to train context-aware "
                "campaigns."
            )
        types = _event_types(home, group_arn, version)
        left, middle, right = st.columns(3)
        field_key = left.selectbox(
            "Context",
            list(by_key),
            format_func=lambda k: by_key[k].label,
            key="context_field",
            help=DERIVED_HELP,
        )
        dimension = middle.selectbox(
            "Group items by",
            dimensions,
            format_func=dimension_label,
            key="context_dimension",
            help="A categorical field of the Items dataset, or the most popular items.",
        )
        chosen_type = right.selectbox(
            "Events",
            [ALL_EVENTS, *types],
            format_func=lambda t: "all event types" if t == ALL_EVENTS else t,
            key="context_event_type",
            disabled=not types,
        )
        event_type = None if chosen_type == ALL_EVENTS else chosen_type
        field = by_key[field_key]
        try:
            lift_frame = _lifts(home, group_arn, version, field_key, dimension, event_type)
        except PersonalizeError as error:
            st.error(error.message)
            st.stop()
        if lift_frame.is_empty():
            st.info(
                f"No {event_type + ' ' if event_type else ''}interactions have a value for "
                f"{field.label} yet. Pick "
                "another context or event type, or import interactions that carry it."
            )
        else:
            short = field.label.split(" (")[0]
            best = ctx.strongest(lift_frame, k=3)
            if best.is_empty():
                st.info(
                    f"No clear effect: every lift's 95% interval includes 1×, so {short} "
                    "does not visibly change which items people pick."
                )
            else:
                st.markdown(f"**What stands out for {short}**")
                cards = st.columns(len(best))
                for card, row in zip(cards, best.iter_rows(named=True), strict=True):
                    card.metric(
                        f"{row['category']} · {row['context']}",
                        times(row["lift"]),
                        delta=f"{row['share_in_context']:.1%} of interactions here vs "
                        f"{row['share_overall']:.1%} overall",
                        delta_color="off",
                        delta_arrow="off",
                        help=in_words(row, short),
                        border=True,
                    )
            st.plotly_chart(
                lift_heatmap(lift_frame, short, dimension_label(dimension)),
                width="stretch",
                key="context_heatmap",
            )
            st.caption(
                "Blue: more than usual, red: less. White cells could be chance (their 95% "
                "interval includes 1×). Hover a cell for the shares and counts."
            )
            categories = (
                lift_frame.select("category", "share_overall")
                .unique()
                .sort(["share_overall", "category"], descending=[True, False])["category"]
                .to_list()
            )
            first = best["category"][0] if not best.is_empty() else categories[0]
            chart_col, words_col = st.columns([3, 2])
            with chart_col:
                chosen = st.selectbox(
                    f"One {dimension_label(dimension)} in detail",
                    categories,
                    index=categories.index(first),
                    key=f"context_category_{field_key}_{dimension}_{event_type}",
                )
                st.altair_chart(lift_whiskers(lift_frame, chosen, short), width="stretch")
            with words_col:
                st.markdown(f"**{chosen} by {short}, in words**")
                rows = lift_frame.filter(pl.col("category") == chosen).sort("context_order")
                for row in rows.iter_rows(named=True):
                    if row["significant"]:
                        st.markdown("- " + in_words(row, short))
                    else:
                        st.markdown(
                            f"- With {short} = **{row['context']}**: {times(row['lift'])}, "
                            f"no clear difference (95% interval {times(row['lift_low'])}–"
                            f"{times(row['lift_high'])} includes 1×)."
                        )
            with st.expander("All numbers"):
                st.dataframe(
                    lift_frame.select(
                        "context",
                        "category",
                        "events",
                        "context_total",
                        "share_in_context",
                        "share_overall",
                        "lift",
                        "lift_low",
                        "lift_high",
                        "significant",
                    ),
                    hide_index=True,
                    column_config={
                        "events": st.column_config.NumberColumn("interactions", format="%d"),
                        "context_total": st.column_config.NumberColumn("in context", format="%d"),
                        "share_in_context": st.column_config.NumberColumn(
                            "share here", format="percent"
                        ),
                        "share_overall": st.column_config.NumberColumn(
                            "share overall", format="percent"
                        ),
                        "lift": st.column_config.NumberColumn(format="%.2f×"),
                        "lift_low": st.column_config.NumberColumn("95% low", format="%.2f×"),
                        "lift_high": st.column_config.NumberColumn("95% high", format="%.2f×"),
                    },
                )
            st.caption(
                "Intervals: delta method on log(lift), counting every interaction as "
                "independent. One user's interactions resemble each other, so treat effects "
                "near the edge of their interval with care."
            )

# --- one user's recommendations ----------------------------------------------------------------


def _wait(label: str, arn: str, resource: str) -> str:
    """Show a job's progress until it is done; return its final status."""
    bar = st.progress(0.0, text=label)
    while True:
        if resource == "campaign":
            status = engine.describe_campaign(campaignArn=arn)["campaign"]["status"]
            fraction, step = (1.0, status) if status == "ACTIVE" else (0.5, "loading the model")
        else:
            progress = engine.job_progress(arn)
            status = progress["status"]
            fraction, step = float(progress.get("fraction") or 0.0), progress.get("step")
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {step}")
        if status in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED", None):
            return status or "missing"
        time.sleep(0.5)


def _deploy(version_arn: str) -> None:
    taken = {c["name"] for c in engine.list_campaigns()["campaigns"]}
    name = ctx.unused_name(taken, "context-aware")
    campaign = engine.create_campaign(
        name=name,
        solutionVersionArn=version_arn,
        # No cold-item exploration: the lists then show only what the model ranks.
        campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}},
    )["campaignArn"]
    status = _wait(f"Deploying campaign {name}", campaign, "campaign")
    if status != "ACTIVE":
        reason = engine.describe_campaign(campaignArn=campaign)["campaign"].get("failureReason")
        st.error(f"The campaign could not start: {reason or status}")
        st.stop()
    st.rerun()


def _train(group_arn: str) -> None:
    taken = {s["name"] for s in engine.list_solutions()["solutions"]}
    name = ctx.unused_name(taken, "context-aware")
    solution = engine.create_solution(
        name=name,
        datasetGroupArn=group_arn,
        recipeArn=CONTEXT_RECIPE,
        solutionConfig={"algorithmHyperParameters": {"epochs": "5"}},
    )["solutionArn"]
    version_arn = engine.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    status = _wait("Training", version_arn, "version")
    if status != "ACTIVE":
        reason = engine.describe_solution_version(solutionVersionArn=version_arn)[
            "solutionVersion"
        ].get("failureReason")
        st.error(f"Training did not finish: {reason or status}")
        st.stop()
    _deploy(version_arn)


def _no_campaign(group_arn: str) -> None:
    """Say why there is nothing to compare, and offer to train and deploy a campaign."""
    state = ctx.context_training(engine, group_arn)
    if state["running"]:
        st.info("A context-aware solution version is training in this dataset group.")
        if _wait("Training", state["running"][0], "version") == "ACTIVE":
            st.rerun()
        return
    if state["undeployed"]:
        st.info(
            "A context-aware solution version is trained but no campaign serves it yet. "
            "Deploy it to compare recommendations across contexts."
        )
        if st.button("Deploy it as a campaign", type="primary", key="context_deploy"):
            try:
                _deploy(state["undeployed"][0])
            except PersonalizeError as error:
                st.error(error.message)
        return
    st.info(
        f"No active campaign in **{group_name}** uses context. Train one with "
        "aws-user-personalization (5 epochs: under a minute on the sample store) and this "
        "tab compares its recommendations for any user across contexts."
    )
    if st.button("Train and deploy a context-aware campaign", type="primary", key="context_train"):
        try:
            _train(group_arn)
        except PersonalizeError as error:
            st.error(error.message)


def _show_lists(recs: pl.DataFrame, changes: pl.DataFrame, field: str) -> None:
    contexts = recs.select("context", "context_order").unique().sort("context_order")["context"]
    differs = {r["context"]: r for r in changes.iter_rows(named=True)}
    columns = st.columns(len(contexts))
    for column, context in zip(columns, contexts, strict=True):
        rows = recs.filter(pl.col("context") == context).sort("rank")
        with column:
            if context == ctx.NO_CONTEXT:
                st.metric(
                    "No context", "usual list", help="What the campaign answers without context"
                )
            else:
                change = differs.get(context, {"differs": 0, "items": len(rows)})
                st.metric(
                    f"{field} = {context}",
                    f"{change['differs']} of {change['items']} new",
                    help="Items that are not in the list without context",
                    border=False,
                )
            lines = []
            for row in rows.iter_rows(named=True):
                category = f" · {row['category']}" if row["category"] else ""
                badges = " :orange-badge[new]" if row["changed"] else ""
                if row["reason"]:
                    badges += f" :gray-badge[{row['reason'].lower()}]"
                lines.append(f"{row['rank']}. `{row['item_id']}`{category}{badges}")
            st.markdown("\n".join(lines))


if user_tab.open:
    with user_tab:
        show_all = st.toggle(
            "Include campaigns whose recipe ignores context",
            key="context_show_all",
            help="Only aws-user-personalization uses the request's context; other recipes "
            "answer the same list for every context.",
        )
        servable = [
            c
            for c in ctx.campaign_overview(engine, group_arn)
            if c["status"] in ("ACTIVE", "UPDATE IN_PROGRESS") and c["recipeType"] in SERVABLE
        ]
        campaigns = [c for c in servable if show_all or c["usesContext"]]
        request_fields = [f.key for f in fields if not f.derived]
        if not request_fields:
            st.info(
                "Recommendations can only follow contextual fields of the Interactions schema "
                "(such as DEVICE); this dataset group has none. Add one to the schema, import "
                "interactions that carry it and train a campaign with aws-user-personalization."
            )
        elif not any(c["usesContext"] for c in servable):
            _no_campaign(group_arn)
        if request_fields and campaigns:
            labels = {
                c["campaignArn"]: f"{c['name']} ({c['recipeArn'].rsplit('/', 1)[-1]})"
                for c in campaigns
            }
            top, second = st.columns(2), st.columns([2, 2, 1])
            campaign_arn = top[0].selectbox(
                "Campaign", list(labels), format_func=labels.get, key="context_campaign"
            )
            users = _users(home, group_arn, version)
            counts = dict(users.iter_rows())
            user_id = top[1].selectbox(
                "User",
                [NEW_VISITOR, *users["user_id"].to_list()],
                format_func=lambda u: user_label(u, counts),
                accept_new_options=True,
                key="context_user",
                help="A new visitor, whom the model knows only by the context, or one of the "
                "most active users; type any other user ID.",
            )
            request_field = second[0].selectbox("Context field", request_fields, key="context_rf")
            item_fields = [d for d in dimensions if d != ctx.ITEM_ID]
            item_field = second[1].selectbox(
                "Describe items by", item_fields or [None], key="context_item_field"
            )
            num_results = second[2].number_input(
                "Items", min_value=3, max_value=25, value=10, key="context_n"
            )
            chosen = next(c for c in campaigns if c["campaignArn"] == campaign_arn)
            if not chosen["usesContext"]:
                st.warning(
                    f"{chosen['name']} uses {chosen['recipeArn'].rsplit('/', 1)[-1]}, which "
                    "ignores context: expect the same list everywhere."
                )
            values = _values(home, group_arn, version, request_field)
            updated = str(engine.describe_campaign(campaignArn=campaign_arn)["campaign"])
            if not user_id:
                st.info("Pick or type a user ID.")
            else:
                try:
                    recs = _recommendations(
                        home,
                        version,
                        campaign_arn,
                        updated,
                        user_id,
                        request_field,
                        tuple(values),
                        int(num_results),
                        item_field,
                    )
                except PersonalizeError as error:
                    st.error(error.message)
                    st.stop()
                changes = ctx.list_changes(recs)
                distinct = recs["item_id"].n_unique()
                changed = int(changes["differs"].sum()) if not changes.is_empty() else 0
                st.caption(
                    "For a new visitor the context is all the model knows, so lists change "
                    "most; for a known user the context adjusts their usual taste."
                )
                st.markdown(
                    f"Across **{len(values)}** values of {request_field}, **{changed}** "
                    f"recommendations are not in the list without context; the lists hold "
                    f"**{distinct}** different items between them. "
                    ":orange-badge[new] marks an item that is not in the list without context."
                )
                _show_lists(recs, changes, request_field)
                if item_field:
                    st.markdown(f"**{item_field} mix of each list**")
                    st.plotly_chart(
                        recommendation_mix(recs, item_field),
                        width="stretch",
                        key="context_mix",
                    )
                exploration = chosen["campaignConfig"].get("itemExplorationConfig") or {}
                if chosen["usesContext"] and float(exploration.get("explorationWeight", 0)) > 0:
                    st.caption(
                        "This campaign explores cold items (weight "
                        f"{exploration['explorationWeight']}): items marked exploration are "
                        "new or rarely seen items mixed in on purpose."
                    )

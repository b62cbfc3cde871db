"""Campaigns playground: create a campaign from a trained solution version, call it the way an
app would (GetRecommendations / GetPersonalizedRanking with context, filters, promotions and
metadata columns), see the answer, and copy the boto3 code or AWS CLI command that sends the
same request."""

from __future__ import annotations

import re
import time
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.engine_access import get_engine, group_version
from dashboard.snippets import boto3_snippet, cli_command
from engine.analytics import context as ctx
from engine.errors import PersonalizeError
from engine.serving.campaigns import exploration_of
from engine.serving.filter_grammar import FilterSyntaxError, parse_filter

EXPLORING_RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization"
RECOMMEND, RANK = "GetRecommendations", "GetPersonalizedRanking"
NONE = "(none)"
KIND_ORDER = {"USER_PERSONALIZATION": 0, "PERSONALIZED_RANKING": 1, "POPULAR_ITEMS": 2}
PROMOTED_COLOR, EXPLORED_COLOR = "#EFE7F6", "#FDEBD9"

st.set_page_config(layout="wide")
engine = get_engine()
home = str(engine.data_dir)


@st.cache_data(show_spinner=False, max_entries=16)
def _users(home: str, group_arn: str, version: int) -> list[str]:
    return ctx.top_users(engine, group_arn, 200)["user_id"].to_list()


@st.cache_data(show_spinner=False, max_entries=16)
def _items(home: str, group_arn: str, version: int) -> list[str]:
    return ctx.top_items(engine, group_arn, 200)["item_id"].to_list()


@st.cache_data(show_spinner=False, max_entries=16)
def _schema(home: str, group_arn: str, version: int) -> tuple[list[str], list[str], list[str]]:
    """(request context fields, Items fields, categorical Items fields)."""
    data = ctx.group_data(engine, group_arn)
    fields = [f.key for f in ctx.context_fields(engine, group_arn) if not f.derived]
    items = [f.name for f in data.item_fields if f.name != "ITEM_ID"] if data else []
    categorical = [f.name for f in data.item_fields if f.categorical] if data else []
    return fields, items, categorical


@st.cache_data(show_spinner=False, max_entries=64)
def _values(home: str, group_arn: str, version: int, field: str) -> list[str]:
    return ctx.context_values(engine, group_arn, field, limit=50)


def endpoint_url() -> str:
    """The API address of this process (`tailor up`), or the default one."""
    return engine.store.lock.info.get("api_url") or "http://127.0.0.1:8501/api"


def credentials_file() -> str | None:
    path = engine.data_dir.resolve() / "credentials"
    return str(path) if path.exists() else None


def quoted_values(text: str) -> str:
    """What a person types for a filter parameter (`shoes, hats`) as Personalize wants it
    (`"shoes","hats"`); text that already starts with a double quote is kept as it is."""
    text = text.strip()
    if text.startswith('"'):
        return text
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return ",".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def filter_parameters(expression: str) -> tuple[str, ...]:
    try:
        return parse_filter(expression).parameters
    except PersonalizeError:
        return ()


def show_filter_error(error: PersonalizeError, expression: str) -> None:
    """The engine's message, and for a syntax error the expression with a caret under the spot."""
    st.error(error.message)
    if isinstance(error, FilterSyntaxError) and 1 <= error.position <= len(expression) + 1:
        before = expression[: error.position - 1]
        line_start = before.rfind("\n") + 1
        line_end = expression.find("\n", error.position - 1)
        line = expression[line_start : line_end if line_end >= 0 else len(expression)]
        caret = " " * (error.position - 1 - line_start) + "^"
        st.code(f"{line}\n{caret}", language=None)


def wait_for_campaign(arn: str, name: str) -> str:
    bar = st.progress(0.1, text=f"Deploying {name}: loading the model")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        campaign = engine.describe_campaign(campaignArn=arn)["campaign"]
        if campaign["status"] in ("ACTIVE", "CREATE FAILED"):
            bar.progress(1.0, text=f"{name}: {campaign['status']}")
            return campaign["status"]
        time.sleep(0.3)
    return "still loading"


def active_versions() -> list[dict[str, Any]]:
    """ACTIVE solution versions, newest first, with their solution's name and recipe."""
    out = []
    for solution in engine.list_solutions()["solutions"]:
        listed = engine.list_solution_versions(solutionArn=solution["solutionArn"])
        for version in listed["solutionVersions"]:
            if version["status"] == "ACTIVE":
                out.append(
                    {
                        "arn": version["solutionVersionArn"],
                        "solution": solution["name"],
                        "recipeArn": solution.get("recipeArn") or "AutoML",
                        "created": version["creationDateTime"],
                    }
                )
    return sorted(out, key=lambda v: v["created"], reverse=True)


def create_campaign_panel(campaigns: list[dict[str, Any]]) -> None:
    versions = active_versions()
    if not versions:
        st.info(
            "No trained solution version yet. Train one first (boto3: `create_solution`, "
            "then `create_solution_version`), then deploy it here."
        )
        return
    labels = {
        v["arn"]: f"{v['solution']} · {v['arn'].rsplit('/', 1)[-1]} "
        f"({v['recipeArn'].rsplit('/', 1)[-1]})"
        for v in versions
    }
    left, right = st.columns(2)
    version_arn = left.selectbox(
        "Solution version", list(labels), format_func=labels.get, key="pg_new_version"
    )
    version = next(v for v in versions if v["arn"] == version_arn)
    taken = {c["name"] for c in campaigns}
    name = right.text_input(
        "Campaign name",
        value=ctx.unused_name(taken, f"{version['solution']}-playground"),
        key=f"pg_new_name_{version_arn}",
    )
    exploring = version["recipeArn"] == EXPLORING_RECIPE
    explore = st.toggle(
        "Explore cold items (itemExplorationConfig)",
        value=exploring,
        key=f"pg_new_explore_{version_arn}",
        help="Mix new or rarely seen items into the lists so they get a chance to be seen. "
        "On by default for aws-user-personalization, as in Amazon Personalize.",
    )
    weight, cutoff = 0.3, 30
    if explore:
        a, b = st.columns(2)
        weight = a.slider(
            "Exploration weight",
            0.0,
            1.0,
            0.3,
            0.05,
            key="pg_new_weight",
            help="0: only relevance; 1: as many cold items as possible.",
        )
        cutoff = b.number_input(
            "Item age cut-off (days)",
            min_value=1,
            max_value=3650,
            value=30,
            key="pg_new_cutoff",
            help="Items younger than this count as cold.",
        )
    config: dict[str, Any] | None = None
    if explore:
        config = {
            "itemExplorationConfig": {
                "explorationWeight": f"{weight:g}",
                "explorationItemAgeCutOff": f"{int(cutoff)}",
            }
        }
    elif exploring:
        config = {"itemExplorationConfig": {"explorationWeight": "0"}}
    if st.button("Create campaign", type="primary", key="pg_create"):
        request: dict[str, Any] = {"name": name.strip(), "solutionVersionArn": version_arn}
        if config:
            request["campaignConfig"] = config
        try:
            arn = engine.create_campaign(**request)["campaignArn"]
        except PersonalizeError as error:
            st.error(error.message)
            return
        status = wait_for_campaign(arn, request["name"])
        if status != "ACTIVE":
            reason = engine.describe_campaign(campaignArn=arn)["campaign"].get("failureReason")
            st.error(f"Campaign {request['name']} is {status}: {reason or 'no reason given'}")
            return
        st.session_state["pg_campaign"] = arn
        st.session_state.pop("pg_last", None)
        st.rerun()


def filter_values_inputs(filter_arn: str, key: str) -> dict[str, str]:
    """A text input per `$PARAM` of the filter; the non-empty ones as filterValues."""
    expression = engine.describe_filter(filterArn=filter_arn)["filter"]["filterExpression"]
    st.code(expression, language=None, wrap_lines=True)
    values: dict[str, str] = {}
    for param in filter_parameters(expression):
        typed = st.text_input(
            f"${param}",
            key=f"{key}_{filter_arn}_{param}",
            placeholder="e.g. fashion, books",
            help="Comma-separated values; they are sent double-quoted, as Personalize expects "
            '(`"fashion","books"`). Leave empty to drop an EXCLUDE part.',
        )
        if typed.strip():
            values[param] = quoted_values(typed)
    return values


def create_filter_panel(group_arn: str) -> None:
    name = st.text_input("Filter name", key="pg_filter_name", placeholder="e.g. only-fashion")
    expression = st.text_area(
        "Filter expression",
        key="pg_filter_expression",
        placeholder="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
        help="Amazon Personalize's filter language: INCLUDE/EXCLUDE ItemID WHERE "
        "Items.FIELD IN (...) | Interactions.EVENT_TYPE IN (...), with $PARAMETERS.",
    )
    if st.button("Create filter", key="pg_filter_create"):
        if not name.strip():
            st.error("Give the filter a name.")
            return
        try:
            arn = engine.create_filter(
                name=name.strip(), datasetGroupArn=group_arn, filterExpression=expression
            )["filterArn"]
        except PersonalizeError as error:
            show_filter_error(error, expression)
            return
        st.session_state["pg_filter_next"] = arn  # selected on the next run
        st.session_state["pg_filter_created"] = name.strip()
        st.rerun()


def response_table(operation: str, response: dict[str, Any]) -> pd.DataFrame:
    """The answer's items as rows: rank, item, score, reason, promotion, metadata columns."""
    items = response.get("itemList" if operation == RECOMMEND else "personalizedRanking", [])
    rows = []
    for rank, item in enumerate(items, start=1):
        row = {
            "rank": rank,
            "itemId": item["itemId"],
            "score": item.get("score"),
            "reason": ", ".join(item.get("reason") or []),
            "promotionName": item.get("promotionName", ""),
        }
        row.update(item.get("metadata") or {})
        rows.append(row)
    return pd.DataFrame(rows)


def show_response(operation: str, response: dict[str, Any]) -> None:
    table = response_table(operation, response)
    promoted = int((table["promotionName"] != "").sum()) if not table.empty else 0
    explored = int(table["reason"].str.contains("Exploration").sum()) if not table.empty else 0
    badges = [f":blue-badge[{len(table)} items]"]
    if promoted:
        badges.append(f":violet-badge[:material/campaign: {promoted} promoted]")
    if explored:
        badges.append(f":orange-badge[:material/explore: {explored} exploration]")
    st.markdown(" ".join(badges) + f"  `recommendationId` {response.get('recommendationId')}")
    if table.empty:
        st.info("The answer is empty: the filter may exclude every item, or the user saw them all.")
        return

    def colour(row: pd.Series) -> list[str]:
        if row["promotionName"]:
            return [f"background-color: {PROMOTED_COLOR}"] * len(row)
        if "Exploration" in row["reason"]:
            return [f"background-color: {EXPLORED_COLOR}"] * len(row)
        return [""] * len(row)

    top = table["score"].max() if table["score"].notna().any() else 1.0
    st.dataframe(
        table.style.apply(colour, axis=1),
        hide_index=True,
        key="pg_table",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "score": st.column_config.ProgressColumn(
                "score", format="%.5f", min_value=0.0, max_value=float(top or 1.0)
            ),
            "reason": st.column_config.TextColumn("reason", width="medium"),
            "promotionName": st.column_config.TextColumn("promotion"),
        },
    )
    st.caption(
        "Score: the item's share of the model's preference over the whole catalogue "
        "(Personalize's softmax); the bar is scaled to the top item. Violet rows are promoted, "
        "orange rows explore cold items."
    )


# --- page ---------------------------------------------------------------------------------

st.title("Campaigns playground")
st.caption(
    "Call a campaign the way your app will: choose the user, the context, a filter and a "
    "promotion, and see the answer next to the boto3 code and AWS CLI command that send "
    "exactly the same request."
)

campaigns = ctx.campaign_overview(engine)
serving = sorted(  # personalized recommendations first, then rankings, related items, ...
    (c for c in campaigns if c["status"] in ("ACTIVE", "UPDATE IN_PROGRESS")),
    key=lambda c: (not c["usesContext"], KIND_ORDER.get(c["recipeType"], len(KIND_ORDER))),
)
with st.expander("Create a campaign", expanded=not serving, icon=":material/add_circle:"):
    create_campaign_panel(campaigns)
pending = [c for c in campaigns if c["status"] == "CREATE PENDING"]
if pending:
    st.caption("Loading: " + ", ".join(c["name"] for c in pending))
if not serving:
    st.info("No active campaign yet: deploy a trained solution version above, then call it here.")
    st.stop()

labels = {c["campaignArn"]: f"{c['name']} · {c['recipeArn'].rsplit('/', 1)[-1]}" for c in serving}
if st.session_state.get("pg_campaign") not in labels:
    st.session_state.pop("pg_campaign", None)
campaign_arn = st.selectbox("Campaign", list(labels), format_func=labels.get, key="pg_campaign")
chosen = next(c for c in serving if c["campaignArn"] == campaign_arn)
group_arn = chosen["datasetGroupArn"]
version = group_version(engine, group_arn)
explores = exploration_of(
    engine.catalog.require(campaign_arn, "campaign").spec, chosen["recipeArn"]
)
st.caption(
    f"Recipe `{chosen['recipeArn']}` ({chosen['recipeType'].replace('_', ' ').lower()}) · "
    f"dataset group `{group_arn.rsplit('/', 1)[-1]}` · "
    + (
        f"explores cold items: weight {explores[0]:g}, items younger than {explores[1]:g} days"
        if explores
        else "no cold-item exploration"
    )
)

related = chosen["recipeType"] == "RELATED_ITEMS"
operations = [RECOMMEND] if related else [RECOMMEND, RANK]
operation = st.radio(
    "Operation",
    operations,
    index=1 if chosen["recipeType"] == "PERSONALIZED_RANKING" else 0,
    horizontal=True,
    key=f"pg_operation_{chosen['recipeType']}",
    help="GetRecommendations: the best items for a user (or like an item). "
    "GetPersonalizedRanking: your list of items, re-ordered for the user.",
)
context_fields, item_fields, categorical = _schema(home, group_arn, version)
filters = engine.list_filters(datasetGroupArn=group_arn)["Filters"]
filter_names = {f["filterArn"]: f["name"] for f in filters}

request: dict[str, Any] = {"campaignArn": campaign_arn}
who, shape = st.columns(2, gap="large")
with who:
    st.markdown("**Who, and which items**")
    if related:
        request["itemId"] = st.selectbox(
            "Item ID",
            _items(home, group_arn, version),
            accept_new_options=True,
            key="pg_item",
            help="This campaign's recipe recommends items related to this one.",
        )
    else:
        request["userId"] = st.selectbox(
            "User ID",
            _users(home, group_arn, version),
            accept_new_options=True,
            key="pg_user",
            help="The most active users first; type any ID (an unknown user gets the "
            "answer for a new visitor).",
        )
    if operation == RANK:
        typed = st.text_area(
            "Items to rank (inputList)",
            value=", ".join(_items(home, group_arn, version)[:10]),
            key="pg_input_list",
            help="Item IDs separated by commas, spaces or new lines.",
        )
        request["inputList"] = [i for i in re.split(r"[\s,]+", typed) if i]
    else:
        request["numResults"] = int(
            st.number_input(
                "numResults", min_value=1, max_value=500, value=10, key="pg_num_results"
            )
        )
    context: dict[str, str] = {}
    if context_fields:
        st.markdown("Context")
        columns = st.columns(len(context_fields))
        for column, field in zip(columns, context_fields, strict=True):
            value = column.selectbox(
                field,
                [NONE, *_values(home, group_arn, version, field)],
                key=f"pg_context_{field}",
            )
            if value != NONE:
                context[field] = value
    else:
        st.caption("The Interactions schema has no contextual fields to send as context.")
    if context:
        request["context"] = context

with shape:
    st.markdown("**Shape the list**")
    created = st.session_state.pop("pg_filter_created", None)
    if created:
        st.success(f"Filter {created} created.")
    if "pg_filter_next" in st.session_state:
        st.session_state["pg_filter"] = st.session_state.pop("pg_filter_next")
    if st.session_state.get("pg_filter") not in [NONE, *filter_names]:
        st.session_state.pop("pg_filter", None)
    filter_arn = st.selectbox(
        "Filter (filterArn)",
        [NONE, *filter_names],
        format_func=lambda a: "no filter" if a == NONE else filter_names[a],
        key="pg_filter",
    )
    if filter_arn != NONE:
        request["filterArn"] = filter_arn
        values = filter_values_inputs(filter_arn, "pg_fv")
        if values:
            request["filterValues"] = values
    with st.expander("New filter", icon=":material/filter_alt:"):
        create_filter_panel(group_arn)
    if operation == RECOMMEND:
        promote = st.toggle(
            "Promote items (promotions)",
            key="pg_promote",
            help="Reserve a share of the list for items a filter picks, e.g. a sale.",
        )
        if promote:
            if not filters:
                st.info("A promotion picks its items through a filter: create one first.")
            else:
                a, b = st.columns(2)
                promotion: dict[str, Any] = {
                    "name": a.text_input("Promotion name", value="promotion", key="pg_promo_name"),
                    "percentPromotedItems": int(
                        b.slider("Share of the list (%)", 1, 100, 20, key="pg_promo_percent")
                    ),
                }
                promo_filter = st.selectbox(
                    "Promotion filter",
                    list(filter_names),
                    format_func=filter_names.get,
                    key="pg_promo_filter",
                )
                promotion["filterArn"] = promo_filter
                promo_values = filter_values_inputs(promo_filter, "pg_promo_fv")
                if promo_values:
                    promotion["filterValues"] = promo_values
                request["promotions"] = [promotion]
    if item_fields:
        metadata = st.multiselect(
            "Item metadata in the answer (metadataColumns)",
            item_fields,
            default=categorical[:1],
            key="pg_metadata",
            help="Personalize returns these Items columns with each item (at most 50 items).",
        )
        if metadata:
            request["metadataColumns"] = {"ITEMS": metadata}

send = st.button(
    "Get recommendations" if operation == RECOMMEND else "Rank the items",
    type="primary",
    key="pg_send",
    icon=":material/send:",
)
if send:
    call = engine.get_recommendations if operation == RECOMMEND else engine.get_personalized_ranking
    try:
        response = call(**request)
        st.session_state["pg_last"] = {
            "operation": operation,
            "request": request,
            "response": response,
            "at": time.strftime("%H:%M:%S"),
        }
    except PersonalizeError as error:
        st.session_state.pop("pg_last", None)
        st.error(f"{type(error).__name__}: {error.message}")

st.subheader("Response")
last = st.session_state.get("pg_last")
if last is None:
    st.caption("Press the button to send the request.")
else:
    if last["request"] != request or last["operation"] != operation:
        st.caption(
            f":material/history: The answer below is for the request sent at {last['at']}; "
            "the inputs changed since. Send again to update it."
        )
    show_response(last["operation"], last["response"])
    with st.expander("Raw JSON response"):
        st.json(last["response"], expanded=2)

st.subheader("The same request in code")
st.caption(
    "Both sign the request with AWS Signature Version 4, so they need a key Tailor issued "
    "(`tailor keys create`, or the admin key in the data directory's `credentials`)."
)
url, region, credentials = endpoint_url(), engine.settings.region, credentials_file()
python_col, cli_col = st.columns(2, gap="large")
with python_col:
    st.markdown("**boto3**")
    st.code(boto3_snippet(operation, request, url, region, credentials), "python", wrap_lines=True)
with cli_col:
    st.markdown("**AWS CLI**")
    st.code(cli_command(operation, request, url, region, credentials), "bash", wrap_lines=True)

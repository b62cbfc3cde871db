"""Compare page: two to four campaigns or solution versions side by side for one user (or one
item, for related-items recipes): ranked lists with item metadata and rank shifts, the user's
recent history, how much the lists agree and why each item is there; then the same over a
sample of users, with confidence intervals."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import streamlit as st

from dashboard.charts import compare as charts
from dashboard.engine_access import get_engine, group_version, list_all
from engine.analytics import compare
from engine.errors import PersonalizeError

USER, ITEM = "A user", "An item"
CHUNK = 20

engine = get_engine()


# --- cached reads (keyed by the group's data version) -----------------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def _sample(data_dir: str, version: int, group_arn: str, n: int, items: bool) -> list[str]:
    del data_dir, version
    return compare.sample_entities(engine, group_arn, n, items=items)


@st.cache_data(show_spinner=False, max_entries=16)
def _popularity(data_dir: str, version: int, group_arn: str) -> pl.DataFrame:
    del data_dir, version
    return compare.item_popularity(engine, group_arn)


def _catalogue_size(data_dir: str, version: int, group_arn: str) -> int:
    """Items in the catalogue."""
    return _popularity(data_dir, version, group_arn).height


@st.cache_data(show_spinner=False, max_entries=256)
def _details(data_dir: str, version: int, group_arn: str, items: tuple[str, ...]) -> pl.DataFrame:
    del data_dir, version
    return compare.item_details(engine, group_arn, list(items))


@st.cache_data(show_spinner=False, max_entries=256)
def _history(data_dir: str, version: int, group_arn: str, user_id: str) -> pl.DataFrame:
    del data_dir, version
    return compare.recent_history(engine, group_arn, user_id, limit=12)


@st.cache_data(show_spinner=False, max_entries=256)
def _anchors(data_dir: str, version: int, group_arn: str, user_id: str) -> list[str]:
    del data_dir, version
    return compare.history_items(engine, group_arn, user_id)


@st.cache_data(show_spinner=False, max_entries=256)
def _explain(
    data_dir: str, version: int, group_arn: str, items: tuple[str, ...], anchors: tuple[str, ...]
) -> pl.DataFrame:
    del data_dir, version
    return compare.explain(engine, group_arn, list(items), list(anchors))


@st.cache_data(show_spinner=False, max_entries=32)
def _aggregate(
    data_dir: str,
    version: int,
    group_arn: str,
    chosen: tuple[str, ...],
    entities: tuple[str, ...],
    for_items: bool,
    k: int,
    filter_arn: str | None,
    filter_values: str | None,
    promotion: str | None,
) -> dict[str, Any]:
    """The many-users statistics (cached: a rerun of the page does not redo the bootstrap);
    the lists themselves come from `_lists`' cache."""
    per_entity: list[dict[str, dict[str, Any]]] = []
    for start in range(0, len(entities), CHUNK):
        per_entity += _lists(
            data_dir,
            version,
            chosen,
            entities[start : start + CHUNK],
            for_items,
            k,
            filter_arn,
            filter_values,
            promotion,
        )
    return compare.aggregate(
        [{name: a["items"] for name, a in row.items()} for row in per_entity],
        _popularity(data_dir, version, group_arn),
        k,
    )


@st.cache_data(show_spinner=False, max_entries=512)
def _lists(
    data_dir: str,
    version: int,
    sources: tuple[compare.Source, ...],
    entities: tuple[str, ...],
    for_items: bool,
    k: int,
    filter_arn: str | None,
    filter_values: str | None,
    promotion: str | None = None,
) -> list[dict[str, dict[str, Any]]]:
    """Each source's list for each user (or item): [{source name: recommend(...)}]
    (`filter_values` and `promotion` as JSON text, so that they are cache keys)."""
    del data_dir, version
    values = json.loads(filter_values) if filter_values else None
    promoted = json.loads(promotion) if promotion else None
    out = []
    for entity in entities:
        who = {"item_id": entity} if for_items else {"user_id": entity}
        out.append(
            {
                s.name: compare.recommend(
                    engine,
                    s,
                    k=k,
                    filter_arn=filter_arn,
                    filter_values=values,
                    promotion=promoted,
                    **who,
                )
                for s in sources
            }
        )
    return out


# --- one user ---------------------------------------------------------------------------------


def _pick_next(key: str, choices: list[str]) -> None:
    """Button callback: the next entity of the sample."""
    current = st.session_state.get(key)
    position = choices.index(current) + 1 if current in choices else 0
    st.session_state[key] = choices[position % len(choices)]


def _one(
    group_arn: str,
    version: int,
    chosen: list[compare.Source],
    for_items: bool,
    k: int,
    filter_arn: str | None,
    filter_values: str | None,
    promotion: str | None,
) -> None:
    data_dir = str(engine.data_dir)
    choices = _sample(data_dir, version, group_arn, 50, for_items)
    key = "compare-item" if for_items else "compare-user"
    if not choices:
        st.info("This dataset group has no interactions yet: import some first.")
        return
    st.session_state.setdefault(key, choices[0])
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    entity = left.text_input(
        "Item ID" if for_items else "User ID",
        key=key,
        help="Any ID; unknown ones get what a newcomer would get.",
    ).strip()
    right.button(
        "Another item" if for_items else "Another user",
        icon=":material/shuffle:",
        on_click=_pick_next,
        args=(key, choices),
        width="stretch",
    )
    if not entity:
        st.info("Type an ID to compare the lists.")
        return
    try:
        with st.spinner("Asking each list…"):
            found = _lists(
                data_dir,
                version,
                tuple(chosen),
                (entity,),
                for_items,
                k,
                filter_arn,
                filter_values,
                promotion,
            )[0]
    except PersonalizeError as exc:
        st.error(exc.message)
        return
    lists = {name: answer["items"] for name, answer in found.items()}
    every = list(dict.fromkeys(i for items in lists.values() for i in items))
    columns = compare.metadata_columns(engine, group_arn)
    label_column = columns[0] if columns else None

    pairs = compare.pair_statistics(lists, k)
    st.markdown("#### How much do they agree?")
    agreement = pairs.with_columns(
        pl.Series("in common", [r["in common"] for r in charts.pair_rows(pairs, k)]),
        pl.Series("verdict", [r["verdict"] for r in charts.pair_rows(pairs, k)]),
    )
    st.dataframe(
        agreement.select("a", "b", "in common", "overlap", "rbo", "kendall_tau", "verdict"),
        hide_index=True,
        key="compare-pairs",
        column_config={
            "a": "list",
            "b": "compared with",
            "overlap": st.column_config.ProgressColumn(
                f"overlap@{k}",
                help=f"Share of the top {k} the two lists have in common",
                format="percent",
                min_value=0.0,
                max_value=1.0,
            ),
            "rbo": st.column_config.ProgressColumn(
                "rank-biased overlap",
                help="Agreement that counts the top places most (1 = same list, 0 = nothing "
                "in common)",
                format="%.2f",
                min_value=0.0,
                max_value=1.0,
            ),
            "kendall_tau": st.column_config.NumberColumn(
                "Kendall tau",
                help="Same order? 1 = same order, 0 = unrelated, -1 = reversed or disjoint "
                "(items missing from a list count as ranked after its end)",
                format="%.2f",
            ),
        },
    )

    details = _details(data_dir, version, group_arn, tuple(every))
    shown_columns = [
        c
        for c in columns
        if c in details.columns and (c == label_column or details[c].dtype.is_numeric())
    ]
    shifts = compare.rank_shifts(lists)
    names = list(lists)
    widths = [1.1] + [1.4] * len(names)
    blocks = st.columns(widths, gap="small")
    with blocks[0]:
        if for_items:
            st.markdown(f"**The item {entity}**")
            seed = _details(data_dir, version, group_arn, (entity,))
            popularity = _popularity(data_dir, version, group_arn).filter(pl.col("item") == entity)
            if seed.is_empty():
                st.caption("No metadata for this item.")
            else:
                facts = seed.drop("item").with_columns(pl.all().cast(pl.Utf8))
                if "age_days" in facts.columns:
                    facts = facts.rename({"age_days": "age (days)"})
                st.dataframe(
                    facts.transpose(
                        include_header=True, header_name="field", column_names=["value"]
                    ),
                    hide_index=True,
                )
            if popularity.is_empty() or popularity["users"][0] == 0:
                st.caption("Nobody has interacted with it yet.")
            else:
                row = popularity.row(0, named=True)
                st.caption(
                    f"{row['users']:,} users interacted with it: the #{row['popularity_rank']:,} "
                    f"most popular of {_catalogue_size(data_dir, version, group_arn):,} items."
                )
        else:
            st.markdown(f"**What {entity} did lately**")
            history = _history(data_dir, version, group_arn, entity)
            if history.is_empty():
                st.caption("No events yet: the lists show what a newcomer gets.")
            else:
                shown = history.join(
                    _details(data_dir, version, group_arn, tuple(history["item"].unique())),
                    on="item",
                    how="left",
                    maintain_order="left",
                )
                st.dataframe(
                    shown.select(
                        "time", "event_type", "item", *([label_column] if label_column else [])
                    ),
                    hide_index=True,
                    column_config={
                        "time": st.column_config.DatetimeColumn("when", format="MMM D"),
                        "event_type": "event",
                    },
                    height=35 * history.height + 38,
                )
    for position, (block, name) in enumerate(zip(blocks[1:], names, strict=True)):
        source = next(s for s in chosen if s.name == name)
        with block:
            st.markdown(f"**{name}**")
            st.caption(
                f"{'campaign' if source.kind == 'campaign' else 'solution version'} · "
                f"{source.recipe_arn.rsplit('/', 1)[-1]}"
            )
            own = shifts.filter(pl.col("source") == name).sort("rank")
            table = charts.list_table(
                lists[name], own if position > 0 else None, details, shown_columns
            )
            if not lists[name]:
                st.caption("No recommendations.")
                continue
            st.dataframe(
                table,
                hide_index=True,
                key=f"compare-list-{position}",
                height=35 * len(lists[name]) + 38,
                column_config={
                    "#": st.column_config.NumberColumn(width=35),
                    "shift": st.column_config.TextColumn(
                        f"vs {names[0]}",
                        help=f"▲ higher here than in {names[0]}, ▼ lower, new: not in it",
                    ),
                    **{
                        c: st.column_config.NumberColumn(format="localized")
                        for c in shown_columns
                        if c != label_column
                    },
                    "age_days": st.column_config.NumberColumn(
                        "age (days)", help="Days since the item was created"
                    ),
                },
            )
            if found[name]["removed"]:
                st.caption("The filter removed: " + ", ".join(found[name]["removed"]))

    st.markdown("#### Where each item ranks in each list")
    st.plotly_chart(charts.rank_chart(shifts, names), width="stretch", key="compare-ranks")

    st.markdown("#### Why is each item there?")
    st.caption(
        "The history items most associated with it (users who interacted with both, "
        "relative to how popular both are), its popularity, and the campaign's reason "
        "(exploration of new items, a promotion)."
        if not for_items
        else "How many users interacted with both the item and each recommendation, its "
        "popularity, and the campaign's reason."
    )
    anchors = (entity,) if for_items else tuple(_anchors(data_dir, version, group_arn, entity))
    explained = _explain(data_dir, version, group_arn, tuple(every), anchors)
    catalogue = _catalogue_size(data_dir, version, group_arn)
    anchor_details = _details(data_dir, version, group_arn, anchors) if anchors else details
    labels = pl.concat([details, anchor_details], how="diagonal_relaxed").unique("item")
    for tab, name in zip(st.tabs(names), names, strict=True):
        with tab:
            st.dataframe(
                charts.why_table(
                    lists[name], found[name]["reasons"], explained, labels, label_column, catalogue
                ),
                hide_index=True,
                column_config={
                    "#": st.column_config.NumberColumn(width=35),
                    "pulled up by": st.column_config.TextColumn(
                        width="large",
                        help="Items it is most associated with (users who interacted with both)",
                    ),
                },
            )


# --- many users -------------------------------------------------------------------------------


def _many(
    group_arn: str,
    version: int,
    chosen: list[compare.Source],
    for_items: bool,
    k: int,
    filter_arn: str | None,
    filter_values: str | None,
    promotion: str | None,
) -> None:
    data_dir = str(engine.data_dir)
    who = "items" if for_items else "users"
    n = st.slider(
        f"How many {who} to sample",
        20,
        1000,
        200,
        step=20,
        key="compare-sample",
        help=f"A fixed random sample of {who} with at least two interactions",
    )
    entities = _sample(data_dir, version, group_arn, n, for_items)
    if len(entities) < 2:
        st.info(f"Too few {who} with two or more interactions to sample.")
        return
    per_entity: list[dict[str, dict[str, Any]]] = []
    with st.status(f"Asking each list for {len(entities):,} {who}…", expanded=False) as status:
        bar = st.progress(0.0)
        try:
            for start in range(0, len(entities), CHUNK):
                chunk = tuple(entities[start : start + CHUNK])
                per_entity += _lists(
                    data_dir,
                    version,
                    tuple(chosen),
                    chunk,
                    for_items,
                    k,
                    filter_arn,
                    filter_values,
                    promotion,
                )
                done = min(start + CHUNK, len(entities))
                bar.progress(done / len(entities), text=f"{done:,} of {len(entities):,} {who}")
        except PersonalizeError as exc:
            status.update(label="Could not compare", state="error")
            st.error(exc.message)
            return
        status.update(label=f"Compared over {len(entities):,} {who}", state="complete")
    stats = _aggregate(
        data_dir,
        version,
        group_arn,
        tuple(chosen),
        tuple(entities),
        for_items,
        k,
        filter_arn,
        filter_values,
        promotion,
    )
    sources, pairs = stats["sources"], stats["pairs"]

    st.markdown(f"#### How much do the lists agree, over {len(entities):,} {who}?")
    st.caption(
        f"Mean share of the top {k} two lists have in common, with its 95% confidence "
        "interval (bootstrap): the bar is where the true mean most likely lies."
    )
    st.altair_chart(
        charts.estimates_chart(pairs, "pair", "overlap", "low", "high", f"mean overlap@{k}"),
        width="stretch",
    )
    st.altair_chart(charts.overlap_distribution(stats["overlaps"], k), width="stretch")
    st.dataframe(
        pairs.select("a", "b", "users", "overlap", "low", "high", "rbo", "kendall_tau"),
        hide_index=True,
        key="compare-many-pairs",
        column_config={
            "a": "list",
            "b": "compared with",
            "users": who,
            "overlap": st.column_config.NumberColumn(f"mean overlap@{k}", format="percent"),
            "low": st.column_config.NumberColumn("95% CI from", format="percent"),
            "high": st.column_config.NumberColumn("to", format="percent"),
            "rbo": st.column_config.NumberColumn("mean RBO", format="%.2f"),
            "kendall_tau": st.column_config.NumberColumn("mean Kendall tau", format="%.2f"),
        },
    )

    st.markdown("#### Catalogue coverage and popularity bias")
    left, right = st.columns(2, gap="large")
    with left:
        st.caption(f"Share of the catalogue that appears in at least one of these {who}' lists.")
        st.altair_chart(charts.coverage_chart(sources), width="stretch")
    with right:
        st.caption(
            "Mean popularity percentile of the recommended items, with its 95% confidence "
            "interval: 100% = only the bestseller, 50% = as popular as the median item."
        )
        st.altair_chart(
            charts.estimates_chart(
                sources, "source", "popularity_bias", "pb_low", "pb_high", "popularity bias"
            ),
            width="stretch",
        )
    st.caption(
        "Accuracy is not measured here: the models were trained on these users' events, so "
        "any hit rate would flatter them. The Train page has each version's offline metrics "
        "on held-out users."
    )


# --- the page ---------------------------------------------------------------------------------

st.title("Compare")
st.caption(
    "Put two to four campaigns or trained versions side by side: what each recommends to one "
    "user, how much the lists agree and why each item is there; then the same over many users."
)

groups = list_all(engine.list_dataset_groups, "datasetGroups")
if not groups:
    st.info(
        "No dataset groups yet. Run `tailor init --sample` to load the sample store, then "
        "train two versions on the Train page."
    )
    st.stop()
group_names = {g["datasetGroupArn"]: g["name"] for g in groups}
top = st.columns([1, 1, 1])
group_arn = top[0].selectbox(
    "Dataset group", list(group_names), format_func=group_names.get, key="compare-group"
)
sources = compare.list_sources(engine, group_arn)
has_items = any(s.for_items for s in sources)
mode = top[1].segmented_control(
    "Recommendations for",
    [USER, ITEM] if has_items else [USER],
    default=USER,
    required=True,
    key="compare-mode",
    help="Related-items recipes (aws-sims, aws-similar-items) answer for an item",
)
for_items = mode == ITEM
eligible = [s for s in sources if s.for_items == for_items]
if len(eligible) < 2:
    st.info(
        "Nothing to compare yet: this needs at least two trained solution versions (or "
        f"campaigns) that recommend for {'an item' if for_items else 'a user'}. Train them on "
        "the **Train** page, then come back."
    )
    st.stop()

by_label = {s.label: s for s in eligible}
picked = st.multiselect(
    "Lists to compare (two to four campaigns or solution versions)",
    list(by_label),
    default=list(by_label)[:2],
    max_selections=4,
    key=f"compare-sources-{mode}",
)
chosen = [by_label[label] for label in picked]
options = st.columns([1, 1, 1])
k = options[0].slider("List length", 5, 25, 10, key="compare-k")
filters = {
    f["filterArn"]: f["name"]
    for f in list_all(engine.list_filters, "Filters", datasetGroupArn=group_arn)
}
filter_arn = options[1].selectbox(
    "Filter",
    [None, *filters],
    format_func=lambda a: "No filter" if a is None else filters[a],
    key="compare-filter",
    help="Apply one of the group's filters to every list and see what it removes",
)
filter_values = None
if filter_arn:
    expression = engine.describe_filter(filterArn=filter_arn)["filter"]["filterExpression"]
    options[1].caption(f"`{expression}`")
    if "$" in expression:
        filter_values = (
            options[1]
            .text_input(
                "Filter values (JSON)",
                key="compare-filter-values",
                placeholder='{"CATEGORY": "\\"books\\""}',
            )
            .strip()
            or None
        )
        if filter_values:
            try:
                json.loads(filter_values)
            except ValueError as exc:
                st.error(f"Filter values must be JSON: {exc}")
                st.stop()
promotion = None
promote_arn = options[2].selectbox(
    "Promote items from",
    [None, *filters],
    format_func=lambda a: "No promotion" if a is None else f"what filter {filters[a]} allows",
    key="compare-promotion",
    help="A promotion gives a share of each campaign's list to the items a filter allows "
    "(solution versions without a campaign have no promotions)",
)
if promote_arn:
    share = options[2].slider("Share of the list promoted", 5, 50, 20, 5, key="compare-share")
    promotion = json.dumps(
        {"name": filters[promote_arn], "percentPromotedItems": share, "filterArn": promote_arn}
    )
if len(chosen) < 2:
    st.info("Pick at least two lists to compare.")
    st.stop()

version = group_version(engine, group_arn)
one_tab, many_tab = st.tabs(
    [
        "One " + ("item" if for_items else "user"),
        "Across many " + ("items" if for_items else "users"),
    ],
    on_change="rerun",
    key=f"compare-view-{mode}",
)
with one_tab:
    if one_tab.open:
        _one(group_arn, version, chosen, for_items, k, filter_arn, filter_values, promotion)
with many_tab:
    if many_tab.open:
        _many(group_arn, version, chosen, for_items, k, filter_arn, filter_values, promotion)

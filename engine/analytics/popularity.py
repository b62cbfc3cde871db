"""Popularity & trends: what people interact with, overall and by group, what is rising, how
concentrated interactions are on a few items (the long tail, Gini) and how items fare week by
week.

Every function takes the Engine and a dataset group ARN and returns Polars frames (or small
dataclasses of them). `Filters` narrows the interactions (event types, a UTC date range);
`Breakdown` groups them by a categorical field of the Items, Users or Interactions dataset
(values like `a|b` count in each of their groups). Field names come only from the group's
schemas (`GroupData.breakdowns`); every value is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from engine.datasets.avro import INTERACTIONS_RESERVED, SchemaField
from engine.datasets.rules import quote
from engine.errors import InvalidInputException
from engine.store import Resource
from engine.store.data_tables import table_name

ITEMS, USERS, INTERACTIONS = "ITEMS", "USERS", "INTERACTIONS"
NONE_VALUE = "(none)"
DAY = 86_400
SOURCE_NAMES = {ITEMS: "Item", USERS: "User", INTERACTIONS: "Context"}


@dataclass(frozen=True)
class Filters:
    """Which interactions count: event types (empty: all) and UTC days, both ends included."""

    event_types: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None

    def bounds(self) -> tuple[int | None, int | None]:
        """[start, end) in epoch seconds (None: open)."""
        lo = _epoch(self.start) if self.start else None
        hi = _epoch(self.end + timedelta(days=1)) if self.end else None
        return lo, hi


@dataclass(frozen=True)
class Breakdown:
    """Group by one categorical field of the Items, Users or Interactions dataset."""

    source: str
    field: str

    @property
    def label(self) -> str:
        return f"{SOURCE_NAMES[self.source]} · {self.field}"


@dataclass
class GroupData:
    """A dataset group's datasets and their schema fields."""

    arn: str
    datasets: dict[str, Resource]
    fields: dict[str, list[SchemaField]] = field(default_factory=dict)

    def table(self, kind: str) -> str:
        return table_name(self.datasets[kind].id)

    def has(self, kind: str, name: str | None = None) -> bool:
        if kind not in self.datasets:
            return False
        return name is None or any(f.name == name for f in self.fields[kind])

    def categorical(self, kind: str) -> list[str]:
        """The categorical fields of a dataset (Interactions: its context fields)."""
        out = []
        for f in self.fields.get(kind, []):
            reserved = kind == INTERACTIONS and f.name in INTERACTIONS_RESERVED
            if f.categorical and f.type == "string" and not reserved:
                out.append(f.name)
        return out

    def breakdowns(self) -> list[Breakdown]:
        """Every grouping this group's schemas allow: Items, then Users, then context fields."""
        return [
            Breakdown(kind, name)
            for kind in (ITEMS, USERS, INTERACTIONS)
            for name in self.categorical(kind)
        ]

    def check(self, breakdown: Breakdown) -> Breakdown:
        """The breakdown, if its dataset and field exist; InvalidInputException otherwise."""
        if breakdown.source not in SOURCE_NAMES or not self.has(breakdown.source):
            raise InvalidInputException(
                f"this dataset group has no {breakdown.source.title()} dataset to group by"
            )
        if breakdown.field not in self.categorical(breakdown.source):
            raise InvalidInputException(
                f"{breakdown.field} is not a categorical field of the group's "
                f"{breakdown.source.title()} dataset"
            )
        return breakdown

    def require_interactions(self) -> None:
        if INTERACTIONS not in self.datasets:
            raise InvalidInputException(
                "this dataset group has no Interactions dataset yet: create one and import "
                "interactions first"
            )


def group_data(engine: Any, group_arn: str) -> GroupData:
    """The group's datasets by type (INTERACTIONS, USERS, ITEMS) with their fields."""
    datasets: dict[str, Resource] = {}
    for row in engine.list_datasets(datasetGroupArn=group_arn)["datasets"]:
        datasets[row["datasetType"]] = engine.catalog.require(row["datasetArn"], "dataset")
    fields = {kind: engine.dataset_fields(d) for kind, d in datasets.items()}
    return GroupData(group_arn, datasets, fields)


# --- SQL building blocks ---------------------------------------------------------------------


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def day_of(ts: int | float) -> date:
    """The UTC day of an epoch-seconds timestamp."""
    return datetime.fromtimestamp(int(ts), UTC).date()


def values_sql(column: str) -> str:
    """The values of a categorical column, one row each (`a|b` gives a and b)."""
    return (
        f"unnest(string_split(coalesce(nullif(trim(CAST({column} AS VARCHAR)), ''), "
        f"'{NONE_VALUE}'), '|'))"
    )


def events_sql(
    data: GroupData,
    filters: Filters,
    *,
    context: str | None = None,
    value: bool = False,
    since: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """A query of the filtered interactions with columns uid, item, ts (plus grp for a context
    field, one row per value; plus value = EVENT_VALUE if asked and present)."""
    data.require_interactions()
    table = data.table(INTERACTIONS)
    columns = ['"USER_ID" AS uid', '"ITEM_ID" AS item', '"TIMESTAMP" AS ts']
    if value:
        has_value = data.has(INTERACTIONS, "EVENT_VALUE")
        columns.append('CAST("EVENT_VALUE" AS DOUBLE) AS value' if has_value else "NULL AS value")
    if context is not None:
        if context not in data.categorical(INTERACTIONS):
            raise InvalidInputException(f"{context} is not a context field of the Interactions")
        columns.append(f"{values_sql(quote(context))} AS grp")
    where, params = ['"USER_ID" IS NOT NULL'], {}
    if filters.event_types and data.has(INTERACTIONS, "EVENT_TYPE"):
        where.append('list_contains($event_types, "EVENT_TYPE")')
        params["event_types"] = list(filters.event_types)
    lo, hi = filters.bounds()
    if since is not None:
        lo = since if lo is None else max(lo, since)
    if lo is not None:
        where.append('"TIMESTAMP" >= $lo')
        params["lo"] = lo
    if hi is not None:
        where.append('"TIMESTAMP" < $hi')
        params["hi"] = hi
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(where)}", params


def entity_values_sql(data: GroupData, kind: str, name: str) -> str:
    """Distinct (id, grp) pairs of a Users or Items categorical field."""
    id_field = "ITEM_ID" if kind == ITEMS else "USER_ID"
    return (
        f"SELECT DISTINCT id, grp FROM (SELECT {quote(id_field)} AS id, "
        f"{values_sql(quote(name))} AS grp FROM {data.table(kind)})"
    )


def grouped_events_sql(
    data: GroupData, filters: Filters, breakdown: Breakdown | None
) -> tuple[str, dict[str, Any]]:
    """The filtered interactions with a grp column: the breakdown's value(s), or 'All'.
    Interactions of users or items missing from the Users/Items dataset fall in (none)."""
    if breakdown is None:
        sql, params = events_sql(data, filters)
        return f"SELECT uid, item, ts, 'All' AS grp FROM ({sql})", params
    data.check(breakdown)
    if breakdown.source == INTERACTIONS:
        return events_sql(data, filters, context=breakdown.field)
    sql, params = events_sql(data, filters)
    key = "item" if breakdown.source == ITEMS else "uid"
    values = entity_values_sql(data, breakdown.source, breakdown.field)
    return (
        f"SELECT e.uid, e.item, e.ts, coalesce(v.grp, '{NONE_VALUE}') AS grp "
        f"FROM ({sql}) e LEFT JOIN ({values}) v ON v.id = e.{key}",
        params,
    )


def query_frame(engine: Any, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    """Run a query on a cursor of the store; the result as a Polars frame."""
    with engine.store.cursor() as cur:
        return cur.sql(sql, params=params).pl()


# --- most popular ----------------------------------------------------------------------------


def item_counts(engine: Any, group_arn: str, filters: Filters) -> pl.DataFrame:
    """Interactions per item (item, interactions), most first."""
    data = group_data(engine, group_arn)
    sql, params = events_sql(data, filters)
    return query_frame(
        engine,
        f"SELECT item, count(*) AS interactions FROM ({sql}) GROUP BY item "
        "ORDER BY interactions DESC, item",
        params,
    )


def top_items(
    engine: Any,
    group_arn: str,
    filters: Filters,
    breakdown: Breakdown | None = None,
    n: int = 10,
) -> pl.DataFrame:
    """The `n` most interacted-with items of each group: grp, item, interactions, share (of
    the group's interactions), rank, group_interactions; groups with most interactions first."""
    data = group_data(engine, group_arn)
    sql, params = grouped_events_sql(data, filters, breakdown)
    query = f"""
        WITH counts AS (SELECT grp, item, count(*) AS interactions FROM ({sql}) GROUP BY ALL)
        SELECT grp, item, interactions,
            interactions / sum(interactions) OVER (PARTITION BY grp) AS share,
            row_number() OVER (PARTITION BY grp ORDER BY interactions DESC, item) AS rank,
            sum(interactions) OVER (PARTITION BY grp) AS group_interactions
        FROM counts
        QUALIFY rank <= $n
        ORDER BY group_interactions DESC, grp, rank
    """
    return query_frame(engine, query, {**params, "n": int(n)}).with_columns(
        pl.col("rank").cast(pl.Int64), pl.col("group_interactions").cast(pl.Int64)
    )


def item_facts(engine: Any, group_arn: str, items: list[str]) -> pl.DataFrame:
    """The Items dataset's categorical fields for `items` (ITEM_ID plus one column each)."""
    data = group_data(engine, group_arn)
    names = data.categorical(ITEMS)
    if not data.has(ITEMS) or not items:
        return pl.DataFrame({"ITEM_ID": items}, schema={"ITEM_ID": pl.Utf8})
    columns = ", ".join(quote(n) for n in ["ITEM_ID", *names])
    return query_frame(
        engine,
        f'SELECT DISTINCT ON ("ITEM_ID") {columns} FROM {data.table(ITEMS)} '
        'WHERE list_contains($items, "ITEM_ID") ORDER BY "ITEM_ID"',
        {"items": list(items)},
    )


def item_labels(engine: Any, group_arn: str, items: list[str], fields: int = 2) -> dict[str, str]:
    """`item -> "item (value · value)"` from the item's first categorical fields, for charts."""
    facts = item_facts(engine, group_arn, items)
    names = [c for c in facts.columns if c != "ITEM_ID"][:fields]
    labels = {item: item for item in items}
    for row in facts.iter_rows(named=True):
        values = [str(row[n]) for n in names if row[n]]
        if values:
            labels[row["ITEM_ID"]] = f"{row['ITEM_ID']} ({' · '.join(values)})"
    return labels


# --- trending --------------------------------------------------------------------------------


@dataclass
class Trending:
    """Growth of the latest window over the one before it."""

    frame: pl.DataFrame  # key, current, previous, growth, new (rising first, then new)
    current: tuple[date, date]  # first and last day, inclusive
    previous: tuple[date, date]


def trending(
    engine: Any,
    group_arn: str,
    filters: Filters,
    window_days: int = 7,
    min_count: int = 5,
    n: int = 15,
    by: Breakdown | None = None,
) -> Trending:
    """What rose most in the last `window_days` (ending at `filters.end`, or the latest event)
    against the `window_days` before: per item, or per value of `by`.

    growth = (current - previous) / previous; only keys with at least `min_count`
    interactions in the current window count. The frame holds the `n` fastest-growing keys
    seen in both windows, then the `n` busiest `new` keys (none in the previous window; their
    growth is taken against 1). `filters.start` is ignored: the two windows are the span."""
    data = group_data(engine, group_arn)
    if window_days < 1:
        raise InvalidInputException("the trending window must be at least 1 day")
    end = filters.end or _last_day(engine, data)
    hi = _epoch(end + timedelta(days=1))
    mid, lo = hi - window_days * DAY, hi - 2 * window_days * DAY
    windowed = Filters(filters.event_types, day_of(lo), end)
    if by is None:
        sql, params = events_sql(data, windowed)
        key = "item"
    else:
        sql, params = grouped_events_sql(data, windowed, by)
        key = "grp"
    frame = query_frame(
        engine,
        f"SELECT {key} AS key, count(*) FILTER (WHERE ts >= $mid) AS current, "
        f"count(*) FILTER (WHERE ts < $mid) AS previous FROM ({sql}) GROUP BY ALL",
        {**params, "mid": mid},
    )
    frame = frame.with_columns(
        ((pl.col("current") - pl.col("previous")) / pl.max_horizontal("previous", 1)).alias(
            "growth"
        ),
        (pl.col("previous") == 0).alias("new"),
    ).filter(pl.col("current") >= min_count)
    rising = frame.filter(~pl.col("new")).sort(
        ["growth", "current", "key"], descending=[True, True, False]
    )
    new = frame.filter(pl.col("new")).sort(["current", "key"], descending=[True, False])
    frame = pl.concat([rising.head(n), new.head(n)])
    return Trending(
        frame,
        (day_of(mid), end),
        (day_of(lo), day_of(mid - 1)),
    )


def _last_day(engine: Any, data: GroupData) -> date:
    data.require_interactions()
    with engine.store.cursor() as cur:
        ((last,),) = cur.sql(f'SELECT max("TIMESTAMP") FROM {data.table(INTERACTIONS)}').fetchall()
    return day_of(last) if last is not None else datetime.now(UTC).date()


# --- long tail -------------------------------------------------------------------------------


@dataclass
class LongTail:
    """How concentrated interactions are: the curve, Gini and headline shares."""

    curve: pl.DataFrame  # item_share (top x of items), interaction_share (cumulative), at most
    #                      `points` rows, ranked most popular first, starting at (0, 0)
    gini: float
    items: int  # items counted (the catalogue, when there is an Items dataset)
    items_without_interactions: int
    interactions: int
    top_10_share: float  # share of interactions on the most popular 10% of items
    bottom_50_share: float  # ... on the least popular half


def gini(counts: np.ndarray) -> float:
    """The Gini coefficient of non-negative counts (0: all equal; near 1: one item has all)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(2.0 * np.sum(ranks * x) / (n * total) - (n + 1) / n)


def long_tail(engine: Any, group_arn: str, filters: Filters, points: int = 400) -> LongTail:
    """The concentration curve (cumulative share of interactions by item rank) and Gini.
    Items of the Items dataset with no interactions count as zeros."""
    data = group_data(engine, group_arn)
    sql, params = events_sql(data, filters)
    query = f"SELECT item, count(*) AS interactions FROM ({sql}) GROUP BY item"
    if data.has(ITEMS):
        query = (
            f"SELECT coalesce(c.item, i.item) AS item, coalesce(c.interactions, 0) AS "
            f"interactions FROM ({query}) c FULL OUTER JOIN (SELECT DISTINCT "
            f'"ITEM_ID" AS item FROM {data.table(ITEMS)}) i ON i.item = c.item'
        )
    counts = query_frame(engine, query, params)["interactions"].to_numpy().astype(np.int64)
    counts = np.sort(counts)[::-1]
    n, total = len(counts), int(counts.sum())
    if n == 0 or total == 0:
        empty = pl.DataFrame({"item_share": [0.0], "interaction_share": [0.0]})
        return LongTail(empty, 0.0, n, n, 0, 0.0, 0.0)
    cumulative = np.concatenate([[0], np.cumsum(counts)]) / total
    ranks = np.unique(np.linspace(0, n, min(points, n) + 1).round().astype(np.int64))
    curve = pl.DataFrame({"item_share": ranks / n, "interaction_share": cumulative[ranks]})
    top = int(np.ceil(0.1 * n))
    bottom = n // 2
    return LongTail(
        curve,
        gini(counts),
        n,
        int((counts == 0).sum()),
        total,
        float(counts[:top].sum() / total),
        float(counts[n - bottom :].sum() / total) if bottom else 0.0,
    )


# --- over time -------------------------------------------------------------------------------


def weekly_counts(engine: Any, group_arn: str, items: list[str], filters: Filters) -> pl.DataFrame:
    """Interactions per week (Monday to Sunday, UTC) of each of `items`: week (its Monday),
    item, interactions, with zeros for weeks without any. Only whole weeks inside the window
    count, unless the window is shorter than a week or two."""
    schema = {"week": pl.Date, "item": pl.Utf8, "interactions": pl.Int64}
    if not items:
        return pl.DataFrame(schema=schema)
    data = group_data(engine, group_arn)
    sql, params = events_sql(data, filters)
    span = query_frame(
        engine,
        f"SELECT min(ts) AS first, max(ts) AS last FROM ({sql})",
        params,
    )
    first, last = span.row(0)
    if first is None:
        return pl.DataFrame(schema=schema)
    lo, hi = filters.bounds()
    first_day = day_of(lo) if lo is not None else day_of(first)
    last_day = day_of(hi - 1) if hi is not None else day_of(last)
    counts = query_frame(
        engine,
        "SELECT CAST(date_trunc('week', make_timestamp(ts * 1000000)) AS DATE) AS week, item, "
        f"count(*) AS interactions FROM ({sql}) WHERE list_contains($items, item) "
        "GROUP BY ALL",
        {**params, "items": list(items)},
    )
    monday = first_day - timedelta(days=first_day.weekday())
    if monday < first_day and monday + timedelta(days=13) <= last_day:
        monday += timedelta(days=7)  # the first week is partial and a whole one follows
    last_monday = last_day - timedelta(days=last_day.weekday())
    if last_day.weekday() < 6 and last_monday > monday:
        last_monday -= timedelta(days=7)  # the last week is partial
    weeks = pl.date_range(monday, last_monday, "1w", eager=True).alias("week")
    grid = pl.DataFrame(weeks).join(pl.DataFrame({"item": list(items)}), how="cross")
    return (
        grid.join(counts, on=["week", "item"], how="left")
        .with_columns(pl.col("interactions").fill_null(0).cast(pl.Int64))
        .sort(["item", "week"])
        .select(schema.keys())
    )

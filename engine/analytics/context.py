"""Context effects: how behaviour changes with each contextual field (device, time of day, day
of week, season), and how a campaign's recommendations change with the request context.

Queries take the Engine and return Polars frames; the statistics (`lifts`, `lift_interval`,
`strongest`, `list_changes`) are plain functions of those frames.

Context fields are the Interactions schema's categorical string fields other than the
reserved ones (what `aws-user-personalization` trains on, e.g. DEVICE, TIME_OF_DAY), plus
values derived from TIMESTAMP (UTC): day of week, month and (meteorological, northern
hemisphere) season.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.datasets.avro import INTERACTIONS_RESERVED, SchemaField
from engine.datasets.rules import quote
from engine.errors import InvalidInputException, PersonalizeError
from engine.serving.recommend import preview
from engine.store.data_tables import table_name

Z95 = 1.959963984540054
ITEM_ID = "ITEM_ID"
NO_VALUE = "(no value)"
NO_CONTEXT = "(no context)"
CONTEXT_RECIPES = ("arn:aws:personalize:::recipe/aws-user-personalization",)

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
SEASONS = ("spring", "summer", "autumn", "winter")
# Display orders for common contextual values (anything else sorts alphabetically).
KNOWN_ORDERS = (
    ("night", "morning", "afternoon", "evening"),
    ("mobile", "desktop", "tablet"),
)

# `t` is the Interactions table; each derived expression is fixed SQL (no user text).
_UTC = 'make_timestamp(t."TIMESTAMP" * 1000000)'
_DERIVED = {
    "TIMESTAMP:day_of_week": (
        "Day of week (from TIMESTAMP, UTC)",
        f"dayname({_UTC})",
        DAYS,
    ),
    "TIMESTAMP:season": (
        "Season (from TIMESTAMP, UTC)",
        f"CASE WHEN month({_UTC}) IN (12, 1, 2) THEN 'winter' "
        f"WHEN month({_UTC}) IN (3, 4, 5) THEN 'spring' "
        f"WHEN month({_UTC}) IN (6, 7, 8) THEN 'summer' ELSE 'autumn' END",
        SEASONS,
    ),
    "TIMESTAMP:month": ("Month (from TIMESTAMP, UTC)", f"monthname({_UTC})", MONTHS),
}


@dataclass(frozen=True)
class ContextField:
    """A context to split interactions by: a schema field or a value derived from TIMESTAMP."""

    key: str  # the schema field's name, or "TIMESTAMP:<derived>"
    label: str
    derived: bool

    @property
    def request_field(self) -> str | None:
        """The name to use in a request's `context` (None for derived values)."""
        return None if self.derived else self.key


@dataclass(frozen=True)
class GroupData:
    """The Interactions (and Items, if any) datasets of a group, with their fields."""

    interactions_id: int
    interaction_fields: list[SchemaField]
    items_id: int | None
    item_fields: list[SchemaField]


def group_data(engine: Any, group_arn: str) -> GroupData | None:
    """The group's datasets and their schema fields, or None without an Interactions dataset."""
    found: dict[str, Any] = {}
    for summary in engine.list_datasets(datasetGroupArn=group_arn)["datasets"]:
        found[summary["datasetType"]] = engine.catalog.require(summary["datasetArn"], "dataset")
    if "INTERACTIONS" not in found:
        return None
    items = found.get("ITEMS")
    return GroupData(
        found["INTERACTIONS"].id,
        engine.dataset_fields(found["INTERACTIONS"]),
        items.id if items is not None else None,
        engine.dataset_fields(items) if items is not None else [],
    )


def context_fields(engine: Any, group_arn: str) -> list[ContextField]:
    """The group's context fields: categorical string fields of the Interactions schema (not
    the reserved ones), then day of week, season and month derived from TIMESTAMP."""
    data = group_data(engine, group_arn)
    if data is None:
        return []
    fields = [
        ContextField(f.name, f.name, False)
        for f in data.interaction_fields
        if f.type == "string" and f.categorical and f.name not in INTERACTIONS_RESERVED
    ]
    if any(f.name == "TIMESTAMP" for f in data.interaction_fields):
        fields += [ContextField(key, label, True) for key, (label, _, _) in _DERIVED.items()]
    return fields


def item_dimensions(engine: Any, group_arn: str) -> list[str]:
    """What interactions can be grouped by: the Items schema's categorical fields (CATEGORY,
    BRAND, ...) and, always, ITEM_ID (the most interacted-with items)."""
    data = group_data(engine, group_arn)
    if data is None:
        return []
    names = [f.name for f in data.item_fields if f.categorical and f.name != ITEM_ID]
    return [*names, ITEM_ID]


def event_types(engine: Any, group_arn: str) -> list[str]:
    """The group's event types, most frequent first (empty without an EVENT_TYPE field)."""
    data = group_data(engine, group_arn)
    if data is None or not any(f.name == "EVENT_TYPE" for f in data.interaction_fields):
        return []
    with engine.store.cursor() as cur:
        frame = cur.sql(
            f'SELECT "EVENT_TYPE" AS event_type, count(*) AS n FROM '
            f"{table_name(data.interactions_id)} t "
            f'WHERE "EVENT_TYPE" IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1'
        ).pl()
    return frame["event_type"].to_list()


def _order(values: list[str], derived: tuple[str, ...] | None) -> dict[str, int]:
    """A display position for each context value."""
    if derived is not None:
        known = derived
    else:
        known = next((k for k in KNOWN_ORDERS if set(values) <= set(k)), ())
    position = {v: i for i, v in enumerate(known) if v in values}
    for v in sorted(v for v in values if v not in position):
        position[v] = len(known) + len(position)
    return position


def context_counts(
    engine: Any,
    group_arn: str,
    field_key: str,
    dimension: str,
    event_type: str | None = None,
    top_items: int = 20,
) -> pl.DataFrame:
    """Interactions per (context value, category): columns `context`, `context_order`,
    `category`, `events` (interactions of the category in the context), `context_total` (all
    interactions in the context). Every context × category pair is present (0 if none).

    Only interactions with a context value count. `dimension` is a categorical Items field
    (multi-valued `a|b` values count once for each part, as filters read them; items missing
    from the Items dataset count as "(no value)") or ITEM_ID, in which case the categories
    are the `top_items` most interacted-with items (the others still count in
    `context_total`). `event_type` keeps one event type only."""
    data = group_data(engine, group_arn)
    if data is None:
        raise InvalidInputException(f"dataset group {group_arn} has no Interactions dataset")
    interaction_names = {f.name for f in data.interaction_fields}
    fields = {f.key: f for f in context_fields(engine, group_arn)}
    if field_key not in fields:
        raise InvalidInputException(
            f"{field_key!r} is not a context field of this dataset group "
            f"(its context fields: {', '.join(fields) or 'none'})"
        )
    derived = _DERIVED.get(field_key)
    context_sql = derived[1] if derived else f"t.{quote(field_key)}"
    params: dict[str, Any] = {}
    where = [f"({context_sql}) IS NOT NULL", f"CAST(({context_sql}) AS VARCHAR) <> ''"]
    if event_type is not None:
        if "EVENT_TYPE" not in interaction_names:
            raise InvalidInputException("the Interactions dataset has no EVENT_TYPE field")
        where.append('t."EVENT_TYPE" = $event_type')
        params["event_type"] = event_type
    interactions = table_name(data.interactions_id)
    base = (
        f'SELECT CAST(({context_sql}) AS VARCHAR) AS context, t."ITEM_ID" AS item_id '
        f"FROM {interactions} t WHERE {' AND '.join(where)}"
    )
    if dimension == ITEM_ID:
        params["top"] = int(top_items)
        query = f"""
            WITH base AS ({base}),
            top AS (SELECT item_id FROM base GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT $top)
            SELECT context,
                   CASE WHEN item_id IN (SELECT item_id FROM top) THEN item_id END AS category,
                   count(*) AS events
            FROM base GROUP BY ALL
        """
    else:
        item_names = {f.name for f in data.item_fields if f.categorical}
        if data.items_id is None or dimension not in item_names:
            raise InvalidInputException(
                f"{dimension!r} is not a categorical field of the Items dataset"
            )
        query = f"""
            WITH base AS ({base}),
            items AS (
                SELECT "ITEM_ID" AS item_id, any_value({quote(dimension)}) AS category
                FROM {table_name(data.items_id)} GROUP BY 1
            )
            SELECT b.context, coalesce(nullif(i.category, ''), $none) AS category,
                   count(*) AS events
            FROM base b LEFT JOIN items i USING (item_id) GROUP BY ALL
        """
        params["none"] = NO_VALUE
    with engine.store.cursor() as cur:
        raw = cur.sql(query, params=params).pl()
    return _complete(raw, dimension, derived[2] if derived else None)


def _complete(raw: pl.DataFrame, dimension: str, order: tuple[str, ...] | None) -> pl.DataFrame:
    """Totals per context, `|`-split categories, the full context × category grid."""
    schema = {
        "context": pl.Utf8,
        "context_order": pl.Int64,
        "category": pl.Utf8,
        "events": pl.Int64,
        "context_total": pl.Int64,
    }
    if raw.is_empty():
        return pl.DataFrame(schema=schema)
    totals = raw.group_by("context").agg(
        pl.col("events").sum().cast(pl.Int64).alias("context_total")
    )
    counts = raw.drop_nulls("category")
    if dimension != ITEM_ID:
        counts = (
            counts.with_columns(pl.col("category").str.split("|"))
            .explode("category")
            .with_columns(pl.col("category").str.strip_chars())
            .filter(pl.col("category") != "")
        )
    counts = counts.group_by("context", "category").agg(pl.col("events").sum().cast(pl.Int64))
    positions = _order(totals["context"].to_list(), order)
    grid = totals.join(counts.select("category").unique(), how="cross")
    return (
        grid.join(counts, on=["context", "category"], how="left")
        .with_columns(
            pl.col("events").fill_null(0),
            pl.col("context")
            .replace_strict(positions, return_dtype=pl.Int64)
            .alias("context_order"),
        )
        .select(list(schema))
        .sort("context_order", "category")
    )


def lift_interval(
    events: np.ndarray,
    context_total: np.ndarray,
    category_total: np.ndarray,
    total: np.ndarray,
    z: float = Z95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lift of a category in a context against its overall share, with a confidence interval.

    lift = (x / n) / (X / N): x interactions of the category among the n in the context, X
    among all N. The interval is a delta-method interval on log(lift), exponentiated (so it
    is asymmetric and never negative). The context is part of the whole, so the overall share
    is p = w·p1 + (1 − w)·p2 with p1 = x / n, p2 = (X − x) / (N − n) (the rest) and w = n / N;
    treating p1 and p2 as independent binomial shares,

        Var(log lift) = (1/p1 − w/p)² · p1(1 − p1)/n + ((1 − w)/p)² · p2(1 − p2)/(N − n).

    A zero count gets 0.5 added for the interval only (the lift itself is 0). Interactions
    are treated as independent; a user's interactions resemble each other, so the true
    uncertainty is somewhat wider than this interval.
    Returns (lift, low, high) arrays."""
    x = np.asarray(events, dtype=float)
    n = np.asarray(context_total, dtype=float)
    big_x = np.asarray(category_total, dtype=float)
    big_n = np.asarray(total, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = (x / n) / (big_x / big_n)
        xc = np.where(x == 0, 0.5, x)
        rest = np.maximum(big_n - n, 0.0)
        y = np.maximum(big_x - x, 0.0)
        p1 = np.minimum(xc / n, 1.0)
        p2 = np.where(rest > 0, y / np.where(rest > 0, rest, 1.0), 0.0)
        w = n / big_n
        p = w * p1 + (1 - w) * p2
        var = (1 / p1 - w / p) ** 2 * p1 * (1 - p1) / n + np.where(
            rest > 0, ((1 - w) / p) ** 2 * p2 * (1 - p2) / np.where(rest > 0, rest, 1.0), 0.0
        )
        centre = np.log(p1 / p)
        half = z * np.sqrt(np.maximum(var, 0.0))
        low = np.where(x == 0, 0.0, np.exp(centre - half))
        high = np.exp(centre + half)
    return lift, low, high


def lifts(counts: pl.DataFrame, z: float = Z95) -> pl.DataFrame:
    """`context_counts` plus each category's share in the context, its overall share, the lift
    (share in context ÷ overall share) and its interval (`lift_interval`); `significant`
    says whether the interval excludes 1."""
    if counts.is_empty():
        return counts.with_columns(
            *(pl.lit(None, dtype=pl.Float64).alias(c) for c in _LIFT_COLUMNS),
            pl.lit(None, dtype=pl.Int64).alias("category_total"),
            pl.lit(None, dtype=pl.Int64).alias("total"),
            pl.lit(None, dtype=pl.Boolean).alias("significant"),
        )
    total = counts.select("context", "context_total").unique()["context_total"].sum()
    frame = counts.with_columns(
        pl.col("events").sum().over("category").alias("category_total"),
        pl.lit(total, dtype=pl.Int64).alias("total"),
    )
    lift, low, high = lift_interval(
        frame["events"].to_numpy(),
        frame["context_total"].to_numpy(),
        frame["category_total"].to_numpy(),
        frame["total"].to_numpy(),
        z,
    )
    return frame.with_columns(
        (pl.col("events") / pl.col("context_total")).alias("share_in_context"),
        (pl.col("category_total") / pl.col("total")).alias("share_overall"),
        pl.Series("lift", lift),
        pl.Series("lift_low", low),
        pl.Series("lift_high", high),
    ).with_columns(((pl.col("lift_low") > 1) | (pl.col("lift_high") < 1)).alias("significant"))


_LIFT_COLUMNS = ("share_in_context", "share_overall", "lift", "lift_low", "lift_high")


def strongest(lift_frame: pl.DataFrame, k: int = 3, min_events: int = 20) -> pl.DataFrame:
    """The `k` clearest effects: significant lifts (with at least `min_events` interactions)
    furthest from 1 on a log scale, at most one per category."""
    if lift_frame.is_empty():
        return lift_frame
    return (
        lift_frame.filter(pl.col("significant") & (pl.col("events") >= min_events))
        .with_columns(pl.col("lift").log().abs().alias("_strength"))
        .sort("_strength", descending=True)
        .unique("category", keep="first", maintain_order=True)
        .head(k)
        .drop("_strength")
    )


def context_values(engine: Any, group_arn: str, field: str, limit: int = 50) -> list[str]:
    """The values a schema context field takes, most frequent first (at most `limit`)."""
    data = group_data(engine, group_arn)
    names = {f.key for f in context_fields(engine, group_arn) if not f.derived}
    if data is None or field not in names:
        raise InvalidInputException(f"{field!r} is not a context field of this dataset group")
    column = quote(field)
    with engine.store.cursor() as cur:
        frame = cur.sql(
            f"SELECT {column} AS value, count(*) AS n FROM {table_name(data.interactions_id)} "
            f"WHERE {column} IS NOT NULL AND {column} <> '' GROUP BY 1 ORDER BY 2 DESC, 1 "
            "LIMIT $limit",
            params={"limit": int(limit)},
        ).pl()
    values = frame["value"].to_list()
    positions = _order(values, None)
    return sorted(values, key=lambda v: positions[v])


def top_users(engine: Any, group_arn: str, limit: int = 100) -> pl.DataFrame:
    """The most active users: `user_id`, `interactions`."""
    data = group_data(engine, group_arn)
    if data is None:
        return pl.DataFrame(schema={"user_id": pl.Utf8, "interactions": pl.Int64})
    with engine.store.cursor() as cur:
        return cur.sql(
            f'SELECT "USER_ID" AS user_id, count(*) AS interactions '
            f"FROM {table_name(data.interactions_id)} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $limit",
            params={"limit": int(limit)},
        ).pl()


def top_items(engine: Any, group_arn: str, limit: int = 100) -> pl.DataFrame:
    """The most interacted-with items: `item_id`, `interactions`."""
    data = group_data(engine, group_arn)
    if data is None:
        return pl.DataFrame(schema={"item_id": pl.Utf8, "interactions": pl.Int64})
    with engine.store.cursor() as cur:
        return cur.sql(
            f'SELECT "ITEM_ID" AS item_id, count(*) AS interactions '
            f"FROM {table_name(data.interactions_id)} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $limit",
            params={"limit": int(limit)},
        ).pl()


def campaign_overview(engine: Any, group_arn: str | None = None) -> list[dict[str, Any]]:
    """Every campaign (of one dataset group if given) with what it serves: `name`,
    `campaignArn`, `status`, `solutionVersionArn`, `datasetGroupArn`, `recipeArn`,
    `recipeType` (USER_PERSONALIZATION, RELATED_ITEMS, ...), `usesContext`, `campaignConfig`."""
    out = []
    for summary in engine.list_campaigns()["campaigns"]:
        campaign = engine.describe_campaign(campaignArn=summary["campaignArn"])["campaign"]
        version = engine.catalog.get(campaign["solutionVersionArn"])
        if version is None:
            continue
        recipe = version.spec.get("trainedRecipeArn") or version.spec["solution"].get("recipeArn")
        group = version.spec["datasetGroupArn"]
        if group_arn is not None and group != group_arn:
            continue
        try:
            recipe_type = engine.describe_recipe(recipeArn=recipe)["recipe"]["recipeType"]
        except PersonalizeError:  # an unknown recipe (or none yet) is shown, not fatal
            recipe_type = "UNKNOWN"
        out.append(
            {
                "name": campaign["name"],
                "campaignArn": campaign["campaignArn"],
                "status": campaign["status"],
                "solutionVersionArn": campaign["solutionVersionArn"],
                "datasetGroupArn": group,
                "recipeArn": recipe,
                "recipeType": recipe_type,
                "usesContext": recipe in CONTEXT_RECIPES,
                "campaignConfig": campaign.get("campaignConfig") or {},
                "failureReason": campaign.get("failureReason"),
            }
        )
    return out


def recommendations_by_context(
    engine: Any,
    campaign_arn: str,
    user_id: str,
    field: str,
    values: list[str],
    num_results: int = 10,
    item_field: str | None = None,
) -> pl.DataFrame:
    """The campaign's recommendations for the user without context and under each value of
    `field`: columns `context`, `context_order` (0 = no context), `rank`, `item_id`, `score`,
    `reason`, `category` (the item's `item_field`, if given)."""
    rows: list[dict[str, Any]] = []
    requests: list[tuple[str, dict[str, str] | None]] = [(NO_CONTEXT, None)]
    requests += [(v, {field: v}) for v in values]
    for position, (label, context) in enumerate(requests):
        request: dict[str, Any] = {
            "campaignArn": campaign_arn,
            "userId": user_id,
            "numResults": num_results,
        }
        if context:
            request["context"] = context
        if item_field:
            request["metadataColumns"] = {"ITEMS": [item_field]}
        answer = preview(engine.get_recommendations, **request)
        for rank, item in enumerate(answer["itemList"], start=1):
            rows.append(
                {
                    "context": label,
                    "context_order": position,
                    "rank": rank,
                    "item_id": item["itemId"],
                    "score": item.get("score"),
                    "reason": ", ".join(item.get("reason") or []),
                    "category": (item.get("metadata") or {}).get(item_field or "", NO_VALUE)
                    if item_field
                    else None,
                }
            )
    schema = {
        "context": pl.Utf8,
        "context_order": pl.Int64,
        "rank": pl.Int64,
        "item_id": pl.Utf8,
        "score": pl.Float64,
        "reason": pl.Utf8,
        "category": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


def list_changes(recs: pl.DataFrame) -> pl.DataFrame:
    """Per context: `differs` (items not in the no-context list), `only_here` (items in no
    other context's list), `items` (list length). `recs` is `recommendations_by_context`."""
    baseline = set(recs.filter(pl.col("context") == NO_CONTEXT)["item_id"].to_list())
    contexts = recs.filter(pl.col("context") != NO_CONTEXT)
    seen_in = contexts.group_by("item_id").agg(pl.col("context").n_unique().alias("_lists"))
    return (
        contexts.join(seen_in, on="item_id")
        .group_by("context", "context_order")
        .agg(
            pl.len().alias("items"),
            (~pl.col("item_id").is_in(list(baseline))).sum().alias("differs"),
            (pl.col("_lists") == 1).sum().alias("only_here"),
        )
        .sort("context_order")
    )


def mark_changes(recs: pl.DataFrame) -> pl.DataFrame:
    """`recs` with `changed`: the item is not in the no-context list."""
    baseline = recs.filter(pl.col("context") == NO_CONTEXT)["item_id"].to_list()
    return recs.with_columns(
        ((pl.col("context") != NO_CONTEXT) & ~pl.col("item_id").is_in(baseline)).alias("changed")
    )


def context_training(engine: Any, group_arn: str) -> dict[str, list[str]]:
    """Solution versions of context-aware recipes in the group: `running` (still training)
    and `undeployed` (ACTIVE, served by no campaign), newest first."""
    served = {c["solutionVersionArn"] for c in campaign_overview(engine)}
    running: list[str] = []
    undeployed: list[str] = []
    for solution in engine.list_solutions(datasetGroupArn=group_arn)["solutions"]:
        if solution.get("recipeArn") not in CONTEXT_RECIPES:
            continue
        arn = solution["solutionArn"]
        for version in engine.list_solution_versions(solutionArn=arn)["solutionVersions"]:
            if version["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING"):
                running.append(version["solutionVersionArn"])
            elif version["status"] == "ACTIVE" and version["solutionVersionArn"] not in served:
                undeployed.append(version["solutionVersionArn"])
    return {"running": running, "undeployed": undeployed}


def unused_name(taken: set[str], base: str) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is not taken."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"

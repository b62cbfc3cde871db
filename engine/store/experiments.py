"""SQL of experiments: what each variant showed (the recommendation log) joined with the events
that carry its recommendationId, and loading a historical exposure log into the log.

An experiment's rows of `recommendation_log` are those of its dataset group whose `(variant,
campaign_arn)` is one of the experiment's variants, logged inside its time window. Events are
attributed by recommendationId: `_recommendation_id` (real-time events) or the schema's
`RECOMMENDATION_ID` field (imported rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.store.data_tables import table_name

DAY = 86400


@dataclass(frozen=True)
class EventColumns:
    """Which optional Interactions fields the dataset has."""

    recommendation_id: bool
    event_type: bool
    event_value: bool

    def rid(self) -> str:
        if self.recommendation_id:
            return 'coalesce(t._recommendation_id, t."RECOMMENDATION_ID")'
        return "t._recommendation_id"

    def event_type_expr(self) -> str:
        return 'lower(t."EVENT_TYPE")' if self.event_type else "NULL::VARCHAR"

    def value(self) -> str:
        return 't."EVENT_VALUE"::DOUBLE' if self.event_value else "NULL::DOUBLE"


def _scope(dataset_id: int | None, columns: EventColumns) -> str:
    """CTEs `m` (the variants), `log` (the experiment's logged recommendations) and `per`
    (per recommendation: clicked, converted, revenue, first clicked item)."""
    if dataset_id is None:
        events = (
            "SELECT NULL::VARCHAR AS rid, NULL::VARCHAR AS et, NULL::DOUBLE AS val, "
            "NULL::VARCHAR AS item, NULL::BIGINT AS ts WHERE false"
        )
    else:
        events = f"""
            SELECT {columns.rid()} AS rid, {columns.event_type_expr()} AS et,
                   {columns.value()} AS val, t."ITEM_ID" AS item, t."TIMESTAMP" AS ts
            FROM {table_name(dataset_id)} t
            WHERE {columns.rid()} IN (SELECT rid FROM log)"""
    # Without an EVENT_TYPE field every attributed event counts as a click.
    is_click = "(et IS NULL OR list_contains($clicks, et))"
    return f"""
        m AS (SELECT unnest($variants::VARCHAR[]) AS variant,
                     unnest($campaigns::VARCHAR[]) AS campaign),
        log AS (
            SELECT l.recommendation_id AS rid, l.variant, l.user_id, l.created_at, l.item_ids
            FROM recommendation_log l
            JOIN m ON l.variant = m.variant AND l.campaign_arn = m.campaign
            WHERE l.dataset_group_id = $group AND l.created_at >= $start AND l.created_at < $end
        ),
        ev AS ({events}),
        per AS (
            SELECT rid,
                   bool_or({is_click}) AS clicked,
                   bool_or(list_contains($conversions, et)) AS converted,
                   coalesce(sum(val) FILTER (list_contains($conversions, et)), 0) AS revenue,
                   arg_min(item, ts) FILTER ({is_click}) AS clicked_item
            FROM ev GROUP BY rid
        )"""


def _params(
    group_id: int,
    variants: list[tuple[str, str]],
    start: float,
    end: float,
    clicks: list[str],
    conversions: list[str],
) -> dict[str, Any]:
    return {
        "group": group_id,
        "variants": [v for v, _ in variants],
        "campaigns": [c for _, c in variants],
        "start": start,
        "end": end,
        "clicks": [c.lower() for c in clicks],
        "conversions": [c.lower() for c in conversions],
    }


def variant_user_days(
    cur: Any,
    group_id: int,
    dataset_id: int | None,
    columns: EventColumns,
    variants: list[tuple[str, str]],
    start: float,
    end: float,
    clicks: list[str],
    conversions: list[str],
) -> dict[str, np.ndarray]:
    """One row per (variant, user, UTC day) of the experiment's logged recommendations:
    `variant`, `user`, `day` (days since the epoch), `impressions`, `clicks` (clicked
    impressions), `conversions` (clicked impressions with a conversion event) and `revenue`
    (EVENT_VALUE of the attributed conversion events); `unit` numbers the (variant, user)
    pairs from 0 and `person` the users."""
    return cur.sql(
        f"""
        WITH {_scope(dataset_id, columns)},
        g AS (
            SELECT log.variant AS variant, coalesce(log.user_id, '') AS user,
                   floor(log.created_at / {DAY})::BIGINT AS day,
                   count(*)::BIGINT AS impressions,
                   count(*) FILTER (per.clicked)::BIGINT AS clicks,
                   count(*) FILTER (per.clicked AND per.converted)::BIGINT AS conversions,
                   coalesce(sum(per.revenue), 0)::DOUBLE AS revenue
            FROM log LEFT JOIN per ON per.rid = log.rid
            GROUP BY ALL
        )
        SELECT *, (dense_rank() OVER (ORDER BY variant, user) - 1)::BIGINT AS unit,
               (dense_rank() OVER (ORDER BY user) - 1)::BIGINT AS person
        FROM g ORDER BY day, variant, user
        """,
        params=_params(group_id, variants, start, end, clicks, conversions),
    ).fetchnumpy()


def exposures(
    cur: Any,
    group_id: int,
    dataset_id: int | None,
    columns: EventColumns,
    variants: list[tuple[str, str]],
    start: float,
    end: float,
    clicks: list[str],
) -> list[tuple]:
    """The experiment's logged recommendations, oldest first: `(recommendation_id, variant,
    user_id, created_at, item_ids, clicked_item or None)`."""
    return cur.sql(
        f"""
        WITH {_scope(dataset_id, columns)}
        SELECT log.rid, log.variant, log.user_id, log.created_at, log.item_ids,
               per.clicked_item
        FROM log LEFT JOIN per ON per.rid = log.rid
        ORDER BY log.created_at, log.rid
        """,
        params=_params(group_id, variants, start, end, clicks, []),
    ).fetchall()


# --- historical exposure logs -------------------------------------------------------------

EXPOSURE_COLUMNS = ("RECOMMENDATION_ID", "USER_ID", "TIMESTAMP", "VARIANT", "ITEM_IDS")

_CSV = "read_csv($files, header = true, all_varchar = true, union_by_name = true)"


def check_exposure_files(
    cur: Any, files: list[Path], names: list[str], start: float, end: float
) -> dict[str, Any]:
    """Counts of what is wrong with an exposure log (none of it is written): `rows`,
    `bad_timestamp`, `empty` (a required value missing), `outside` (outside [start, end)),
    `duplicates` (repeated RECOMMENDATION_ID), `unknown_variants` (up to 10 names)."""
    params = {"files": [str(f) for f in files], "names": names, "start": start, "end": end}
    row = cur.sql(
        f"""
        WITH x AS (SELECT *, TRY_CAST("TIMESTAMP" AS BIGINT) AS ts FROM {_CSV})
        SELECT count(*),
               count(*) FILTER (ts IS NULL AND "TIMESTAMP" IS NOT NULL),
               count(*) FILTER (coalesce("RECOMMENDATION_ID", '') = ''
                                OR coalesce("USER_ID", '') = ''
                                OR coalesce("VARIANT", '') = ''
                                OR coalesce("ITEM_IDS", '') = '' OR "TIMESTAMP" IS NULL),
               count(*) FILTER (ts < $start OR ts >= $end),
               count(*) - count(DISTINCT "RECOMMENDATION_ID"),
               list(DISTINCT "VARIANT") FILTER (NOT list_contains($names, "VARIANT"))
        FROM x
        """,
        params=params,
    ).fetchall()[0]
    return {
        "rows": row[0],
        "bad_timestamp": row[1],
        "empty": row[2],
        "outside": row[3],
        "duplicates": row[4],
        "unknown_variants": sorted(v for v in (row[5] or []) if v)[:10],
    }


def logged_elsewhere(
    cur: Any, files: list[Path], group_id: int, variants: list[tuple[str, str]]
) -> list[tuple[str, str, int]]:
    """(variant, campaign, rows) already in the group's recommendation log under the files'
    recommendation ids but not as one of `variants` (another campaign's or experiment's)."""
    return cur.sql(
        f"""
        WITH m AS (SELECT unnest($variants::VARCHAR[]) AS variant,
                          unnest($campaigns::VARCHAR[]) AS campaign)
        SELECT coalesce(l.variant, ''), l.campaign_arn, count(*)
        FROM recommendation_log l
        WHERE l.dataset_group_id = $group
          AND l.recommendation_id IN (SELECT "RECOMMENDATION_ID" FROM {_CSV})
          AND NOT EXISTS (SELECT 1 FROM m WHERE m.variant = l.variant
                                             AND m.campaign = l.campaign_arn)
        GROUP BY ALL ORDER BY 3 DESC
        """,
        params={
            "files": [str(f) for f in files],
            "group": group_id,
            "variants": [v for v, _ in variants],
            "campaigns": [c for _, c in variants],
        },
    ).fetchall()


def import_exposures(
    cur: Any, files: list[Path], group_id: int, variants: list[tuple[str, str]]
) -> tuple[int, int]:
    """Write checked exposure files into `recommendation_log` as the variants' logged
    recommendations (campaign = the variant's campaign key); rows the variants already logged
    under the same recommendation ids are replaced. Returns (written, replaced)."""
    params = {
        "files": [str(f) for f in files],
        "group": group_id,
        "variants": [v for v, _ in variants],
        "campaigns": [c for _, c in variants],
    }
    replaced = cur.sql(
        f"""
        WITH m AS (SELECT unnest($variants::VARCHAR[]) AS variant,
                          unnest($campaigns::VARCHAR[]) AS campaign)
        DELETE FROM recommendation_log l
        WHERE l.dataset_group_id = $group
          AND l.recommendation_id IN (SELECT "RECOMMENDATION_ID" FROM {_CSV})
          AND EXISTS (SELECT 1 FROM m WHERE m.variant = l.variant
                                         AND m.campaign = l.campaign_arn)
        RETURNING 1
        """,
        params=params,
    ).fetchall()
    cur.execute(
        f"""
        INSERT INTO recommendation_log
        WITH m AS (SELECT unnest($variants::VARCHAR[]) AS variant,
                          unnest($campaigns::VARCHAR[]) AS campaign)
        SELECT x."RECOMMENDATION_ID", m.campaign, $group, x."USER_ID", NULL,
               string_split(x."ITEM_IDS", '|'), CAST(x."TIMESTAMP" AS BIGINT)::DOUBLE,
               x."VARIANT"
        FROM {_CSV} x JOIN m ON m.variant = x."VARIANT"
        """,
        params,
    )
    written = cur.execute("SELECT count(*) FROM " + _CSV, {"files": params["files"]}).fetchall()
    return int(written[0][0]), len(replaced)


def exposure_file_rows(cur: Any, files: list[Path]) -> list[tuple]:
    """An exposure log's rows for an offline estimate, oldest first: `(recommendation_id,
    variant, user_id, created_at, item_ids)`."""
    return cur.sql(
        f"""
        SELECT "RECOMMENDATION_ID", "VARIANT", "USER_ID", CAST("TIMESTAMP" AS BIGINT)::DOUBLE,
               string_split("ITEM_IDS", '|')
        FROM {_CSV} ORDER BY 4, 1
        """,
        params={"files": [str(f) for f in files]},
    ).fetchall()


def clicked_items(
    cur: Any, dataset_id: int, columns: EventColumns, ids: list[str], clicks: list[str]
) -> dict[str, str]:
    """recommendationId -> the item of its first click event, for the given ids."""
    is_click = "(et IS NULL OR list_contains($clicks, et))"
    rows = cur.sql(
        f"""
        WITH ev AS (
            SELECT {columns.rid()} AS rid, {columns.event_type_expr()} AS et,
                   t."ITEM_ID" AS item, t."TIMESTAMP" AS ts
            FROM {table_name(dataset_id)} t
            WHERE {columns.rid()} IN (SELECT unnest($ids::VARCHAR[]))
        )
        SELECT rid, arg_min(item, ts) FROM ev WHERE {is_click} GROUP BY rid
        """,
        params={"ids": ids, "clicks": [c.lower() for c in clicks]},
    ).fetchall()
    return {r[0]: r[1] for r in rows}

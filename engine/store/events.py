"""SQL of real-time ingestion: event rows, entity upserts, session stitching, the
recommendation log, and the scans the serving indexes are built from.

Every value is a bound parameter; rows go in column-wise (`unnest` of typed lists), one
statement per dataset per batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.datasets.rules import quote
from engine.store.data_tables import SOURCE_EVENT, table_name


def insert_rows(
    cur: Any, dataset_id: int, columns: dict[str, list[Any]], types: dict[str, str], now: float
) -> int:
    """Append rows given column-wise (`columns[name]` lists of equal length) as event rows."""
    names = list(columns)
    if not names or not columns[names[0]]:
        return 0
    target = ", ".join(quote(n) for n in names)
    select = ", ".join(f"unnest(?::{types[n]}[])" for n in names)
    row = cur.execute(
        f"INSERT INTO {table_name(dataset_id)} ({target}, _source, _loaded_at) "
        f"SELECT {select}, '{SOURCE_EVENT}', ?",
        [*(columns[n] for n in names), now],
    ).fetchall()[0]
    return int(row[0])


def delete_ids(cur: Any, dataset_id: int, id_field: str, ids: list[str]) -> int:
    """Remove the rows of these users or items (before writing their new version)."""
    row = cur.execute(
        f"DELETE FROM {table_name(dataset_id)} "
        f"WHERE {quote(id_field)} IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    ).fetchall()[0]
    return int(row[0]) if row else 0


def event_ids(cur: Any, dataset_id: int) -> set[str]:
    """Every event id stored in an Interactions dataset."""
    rows = cur.execute(
        f"SELECT DISTINCT _event_id FROM {table_name(dataset_id)} WHERE _event_id IS NOT NULL"
    ).fetchall()
    return {r[0] for r in rows}


def anonymous_sessions(cur: Any, dataset_id: int) -> set[str]:
    """Sessions whose events were recorded without a user (under the session id)."""
    rows = cur.execute(
        f"SELECT DISTINCT _session_id FROM {table_name(dataset_id)} "
        f"WHERE _source = '{SOURCE_EVENT}' AND \"USER_ID\" = _session_id"
    ).fetchall()
    return {r[0] for r in rows}


def stitch_session(cur: Any, dataset_id: int, session_id: str, user_id: str) -> int:
    """Give the anonymous events of `session_id` (recorded with the session as user) to
    `user_id`. Returns how many rows moved."""
    row = cur.execute(
        f'UPDATE {table_name(dataset_id)} SET "USER_ID" = ? '
        f"WHERE _source = '{SOURCE_EVENT}' AND _session_id = ? AND \"USER_ID\" = ?",
        [user_id, session_id, session_id],
    ).fetchall()[0]
    return int(row[0]) if row else 0


def dense_ids(cur: Any, group_id: int, entity: str, external: list[str]) -> dict[str, int]:
    """Dense ids of the given external ids (those that have one)."""
    rows = cur.execute(
        "SELECT external_id, dense_id FROM id_map WHERE dataset_group_id = ? AND entity = ? "
        "AND external_id IN (SELECT unnest(?::VARCHAR[]))",
        [group_id, entity, external],
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def log_recommendations(cur: Any, rows: list[tuple]) -> None:
    """Append to the recommendation log: (recommendation_id, campaign_arn, dataset_group_id,
    user_id, item_id, item_ids, created_at, variant) tuples."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    cur.execute(
        "INSERT INTO recommendation_log SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
        "unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
        "unnest(?::VARCHAR[][]), unnest(?::DOUBLE[]), unnest(?::VARCHAR[])",
        [list(c) for c in columns],
    )


def recommendation_items(cur: Any, recommendation_id: str) -> list[str] | None:
    """The items a logged recommendation showed, or None."""
    rows = cur.execute(
        "SELECT item_ids FROM recommendation_log WHERE recommendation_id = ? LIMIT 1",
        [recommendation_id],
    ).fetchall()
    return list(rows[0][0]) if rows else None


def history_scan(cur: Any, group_id: int, dataset_id: int) -> dict[str, np.ndarray]:
    """Every interaction of a group as arrays, ordered by user then time:
    `user` (external id), `item` (dense id), `ts`, `event_type` (lower-cased; empty when the
    schema has no EVENT_TYPE field)."""
    has_type = cur.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = 'EVENT_TYPE'",
        [table_name(dataset_id)],
    ).fetchall()[0][0]
    event_type = "lower(coalesce(t.\"EVENT_TYPE\", ''))" if has_type else "''"
    return cur.sql(
        f"""
        SELECT t."USER_ID" AS user, m.dense_id AS item, t."TIMESTAMP" AS ts,
               {event_type} AS event_type
        FROM {table_name(dataset_id)} t
        JOIN id_map m ON m.dataset_group_id = $group AND m.entity = 'ITEM'
                     AND m.external_id = t."ITEM_ID"
        WHERE t."USER_ID" IS NOT NULL
        ORDER BY t."USER_ID", t."TIMESTAMP"
        """,
        params={"group": group_id},
    ).fetchnumpy()


def item_facts(
    cur: Any,
    group_id: int,
    interactions_dataset: int | None,
    items_dataset: int | None,
    has_creation_time: bool,
) -> dict[str, np.ndarray]:
    """Per item of the group's id map (in dense order): `external_id`, `created` (unix
    seconds or -1), `count` (interactions); and `latest` (the newest interaction's time)."""
    none = '(SELECT NULL::VARCHAR AS "ITEM_ID", 0 AS v WHERE false)'
    created = (
        f'(SELECT "ITEM_ID", max("CREATION_TIMESTAMP") AS v FROM {table_name(items_dataset)} '
        'GROUP BY "ITEM_ID")'
        if items_dataset is not None and has_creation_time
        else none
    )
    counts = (
        f'(SELECT "ITEM_ID", count(*) AS v FROM {table_name(interactions_dataset)} '
        'GROUP BY "ITEM_ID")'
        if interactions_dataset is not None
        else none
    )
    out = cur.sql(
        f"""
        SELECT m.external_id, coalesce(cr.v, -1)::BIGINT AS created,
               coalesce(c.v, 0)::BIGINT AS count
        FROM id_map m
        LEFT JOIN {created} cr ON cr."ITEM_ID" = m.external_id
        LEFT JOIN {counts} c ON c."ITEM_ID" = m.external_id
        WHERE m.dataset_group_id = $group AND m.entity = 'ITEM'
        ORDER BY m.dense_id
        """,
        params={"group": group_id},
    ).fetchnumpy()
    latest = 0
    if interactions_dataset is not None:
        found = cur.execute(
            f'SELECT max("TIMESTAMP") FROM {table_name(interactions_dataset)}'
        ).fetchall()[0][0]
        latest = int(found or 0)
    out["latest"] = np.array([latest], np.int64)
    return out

"""SQL the serving path needs: one user's history, item metadata for responses."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.datasets.rules import quote
from engine.store.data_tables import table_name


def user_history(
    cur: Any, group_id: int, dataset_id: int, user_id: str, limit: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """The user's latest `limit` events as (dense item ids, timestamps), oldest first."""
    rows = cur.execute(
        f"""
        SELECT m.dense_id, t."TIMESTAMP" FROM {table_name(dataset_id)} t
        JOIN id_map m ON m.dataset_group_id = ? AND m.entity = 'ITEM'
                     AND m.external_id = t."ITEM_ID"
        WHERE t."USER_ID" = ?
        ORDER BY t."TIMESTAMP" DESC LIMIT ?
        """,
        [group_id, user_id, limit],
    ).fetchall()
    rows.reverse()
    items = np.array([r[0] for r in rows], np.int32)
    times = np.array([r[1] for r in rows], np.int64)
    return items, times


def item_metadata(
    cur: Any, dataset_id: int, columns: list[str], item_ids: list[str]
) -> dict[str, dict[str, str]]:
    """Requested metadata columns of the given items, as strings (Personalize's shape)."""
    if not item_ids or not columns:
        return {}
    select = ", ".join(f"CAST({quote(c)} AS VARCHAR)" for c in columns)
    rows = cur.execute(
        f'SELECT "ITEM_ID", {select} FROM {table_name(dataset_id)} '
        'WHERE "ITEM_ID" IN (SELECT unnest(?::VARCHAR[]))',
        [item_ids],
    ).fetchall()
    return {
        r[0]: {c: v for c, v in zip(columns, r[1:], strict=True) if v is not None} for r in rows
    }


def entity_columns(
    cur: Any, group_id: int, entity: str, dataset_id: int, id_field: str, columns: list[str]
) -> dict[str, list[Any]]:
    """Metadata columns of every row of a Users/Items dataset, keyed by dense id order:
    `{"dense_id": [...], column: [...]}`."""
    select = "".join(f", t.{quote(c)}" for c in columns)
    rows = cur.execute(
        f"""
        SELECT m.dense_id{select} FROM {table_name(dataset_id)} t
        JOIN id_map m ON m.dataset_group_id = ? AND m.entity = ?
                     AND m.external_id = t.{quote(id_field)}
        ORDER BY m.dense_id
        """,
        [group_id, entity],
    ).fetchall()
    out: dict[str, list[Any]] = {"dense_id": [r[0] for r in rows]}
    for i, column in enumerate(columns, start=1):
        out[column] = [r[i] for r in rows]
    return out


def entity_row(
    cur: Any, dataset_id: int, id_field: str, entity_id: str, columns: list[str]
) -> dict[str, Any] | None:
    """One user's or item's metadata, or None."""
    select = ", ".join(quote(c) for c in columns)
    rows = cur.execute(
        f"SELECT {select} FROM {table_name(dataset_id)} WHERE {quote(id_field)} = ? LIMIT 1",
        [entity_id],
    ).fetchall()
    return dict(zip(columns, rows[0], strict=True)) if rows else None


def user_event_items(
    cur: Any, group_id: int, dataset_id: int, user_id: str, per_type: int = 100
) -> dict[str, list[int]]:
    """Lower-cased event type -> dense items of the user's latest `per_type` events of it."""
    rows = cur.execute(
        f"""
        SELECT event_type, dense_id FROM (
            SELECT lower(coalesce(t."EVENT_TYPE", '')) AS event_type, m.dense_id,
                   row_number() OVER (PARTITION BY lower(coalesce(t."EVENT_TYPE", ''))
                                      ORDER BY t."TIMESTAMP" DESC) AS n
            FROM {table_name(dataset_id)} t
            JOIN id_map m ON m.dataset_group_id = ? AND m.entity = 'ITEM'
                         AND m.external_id = t."ITEM_ID"
            WHERE t."USER_ID" = ?
        ) WHERE n <= ?
        """,
        [group_id, user_id, per_type],
    ).fetchall()
    out: dict[str, list[int]] = {}
    for event_type, dense in rows:
        out.setdefault(event_type, []).append(int(dense))
    return out

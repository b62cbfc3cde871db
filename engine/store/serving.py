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

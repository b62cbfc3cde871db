"""SQL for the per-dataset-group map of external string ids to dense integer ids."""

from __future__ import annotations

from typing import Any

from engine.datasets.rules import quote
from engine.store.data_tables import table_name

ENTITIES = ("USER", "ITEM")


def _assign(cur: Any, group_id: int, entity: str, new_ids_sql: str, params: list) -> int:
    """Give the next dense ids, in sorted order, to the ids of `new_ids_sql` (a query with one
    column `ext`) that have none yet. Returns how many ids were added."""
    assert entity in ENTITIES
    row = cur.execute(
        f"""
        INSERT INTO id_map
        SELECT ?, ?, ext, base + row_number() OVER (ORDER BY ext) - 1
        FROM ({new_ids_sql}) AS new_ids
        CROSS JOIN (
            SELECT coalesce(max(dense_id) + 1, 0) AS base FROM id_map
            WHERE dataset_group_id = ? AND entity = ?
        ) AS start
        WHERE NOT EXISTS (
            SELECT 1 FROM id_map m
            WHERE m.dataset_group_id = ? AND m.entity = ? AND m.external_id = new_ids.ext
        )
        """,
        [group_id, entity, *params, group_id, entity, group_id, entity],
    ).fetchall()[0]
    return int(row[0]) if row else 0


def extend(
    cur: Any, group_id: int, entity: str, dataset_id: int, id_field: str, job_id: int
) -> int:
    """Give a dense id to each `id_field` value written by import job `job_id` that has none.

    New ids continue after the largest existing one, in sorted order of the external id, so
    the same imports always produce the same map.
    """
    col = quote(id_field)
    new_ids = (
        f"SELECT DISTINCT {col} AS ext FROM {table_name(dataset_id)} "
        f"WHERE _job = ? AND {col} IS NOT NULL"
    )
    return _assign(cur, group_id, entity, new_ids, [job_id])


def extend_with_values(cur: Any, group_id: int, entity: str, values: list[str]) -> int:
    """Give dense ids to the given external ids that have none (for real-time events)."""
    if not values:
        return 0
    return _assign(cur, group_id, entity, "SELECT DISTINCT unnest(?::VARCHAR[]) AS ext", [values])


def load(cur: Any, group_id: int, entity: str) -> list[str]:
    """External ids of a group's users or items, indexed by dense id."""
    rows = cur.execute(
        "SELECT external_id FROM id_map WHERE dataset_group_id = ? AND entity = ? "
        "ORDER BY dense_id",
        [group_id, entity],
    ).fetchall()
    return [r[0] for r in rows]


def forget_group(cur: Any, group_id: int) -> None:
    """Remove a deleted dataset group's ids."""
    cur.execute("DELETE FROM id_map WHERE dataset_group_id = ?", [group_id])

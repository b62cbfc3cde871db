"""SQL that reads a dataset group's data for training: events in dense ids, entity metadata."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.datasets.rules import quote
from engine.store.data_tables import table_name


def interaction_arrays(
    cur: Any,
    group_id: int,
    dataset_id: int,
    columns: list[str],
    event_types: list[str] | None,
    value_threshold: float | None,
) -> dict[str, np.ndarray]:
    """Events as numpy arrays: `user`, `item` (dense ids), `timestamp`, and each of `columns`.

    Only events whose EVENT_TYPE is in `event_types` (case-insensitive; None = all) and whose
    EVENT_VALUE is at least `value_threshold` (None = no threshold) are read.
    """
    extra = "".join(f", t.{quote(c)} AS {quote(c)}" for c in columns)
    where, params = ["1 = 1"], [group_id, group_id]
    if event_types is not None:
        where.append('lower(t."EVENT_TYPE") IN (SELECT lower(unnest(?::VARCHAR[])))')
        params.append(event_types)
    if value_threshold is not None:
        where.append('t."EVENT_VALUE" >= ?')
        params.append(value_threshold)
    sql = f"""
        SELECT u.dense_id AS user, i.dense_id AS item, t."TIMESTAMP" AS timestamp{extra}
        FROM {table_name(dataset_id)} t
        JOIN id_map u ON u.dataset_group_id = ? AND u.entity = 'USER'
                     AND u.external_id = t."USER_ID"
        JOIN id_map i ON i.dataset_group_id = ? AND i.entity = 'ITEM'
                     AND i.external_id = t."ITEM_ID"
        WHERE {" AND ".join(where)}
        ORDER BY user, timestamp
    """
    return cur.sql(sql, params=params).fetchnumpy()


def entity_rows(
    cur: Any, group_id: int, entity: str, dataset_id: int, id_field: str, columns: list[str]
) -> dict[str, np.ndarray]:
    """Metadata rows of a Users/Items dataset with the entity's dense id as `dense_id`."""
    extra = "".join(f", t.{quote(c)} AS {quote(c)}" for c in columns)
    sql = f"""
        SELECT m.dense_id AS dense_id{extra}
        FROM {table_name(dataset_id)} t
        JOIN id_map m ON m.dataset_group_id = ? AND m.entity = ?
                     AND m.external_id = t.{quote(id_field)}
        ORDER BY dense_id
    """
    return cur.sql(sql, params=[group_id, entity]).fetchnumpy()


def entity_count(cur: Any, group_id: int, entity: str) -> int:
    """How many users or items the group's id map knows."""
    return int(
        cur.execute(
            "SELECT count(*) FROM id_map WHERE dataset_group_id = ? AND entity = ?",
            [group_id, entity],
        ).fetchall()[0][0]
    )

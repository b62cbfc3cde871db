"""SQL for the data readiness report of a dataset group."""

from __future__ import annotations

from typing import Any

from engine.store.data_tables import table_name


def interactions_profile(cur: Any, dataset_id: int, has_event_type: bool) -> dict[str, Any]:
    """Counts over an Interactions table: rows, users, items, users with >= 2, time span, types."""
    table = table_name(dataset_id)
    rows, users, items, first, last = cur.execute(
        f'SELECT count(*), count(DISTINCT "USER_ID"), count(DISTINCT "ITEM_ID"), '
        f'min("TIMESTAMP"), max("TIMESTAMP") FROM {table}'
    ).fetchall()[0]
    repeat_users = cur.execute(
        f'SELECT count(*) FROM (SELECT "USER_ID" FROM {table} GROUP BY 1 HAVING count(*) >= 2)'
    ).fetchall()[0][0]
    event_types: dict[str, int] = {}
    if has_event_type:
        for name, count in cur.execute(
            f"SELECT coalesce(\"EVENT_TYPE\", ''), count(*) FROM {table} GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            event_types[name] = int(count)
    return {
        "interactions": int(rows),
        "users": int(users),
        "items": int(items),
        "usersWithAtLeast2Interactions": int(repeat_users),
        "firstTimestamp": first,
        "lastTimestamp": last,
        "eventTypes": event_types,
    }


def entity_count(cur: Any, dataset_id: int) -> int:
    """Rows of a Users or Items table."""
    return int(cur.execute(f"SELECT count(*) FROM {table_name(dataset_id)}").fetchall()[0][0])


def events_per_day(cur: Any, dataset_id: int, has_event_type: bool) -> Any:
    """A Polars frame (day, event_type, events) over an Interactions table."""
    event_type = '"EVENT_TYPE"' if has_event_type else "'interaction'"
    return cur.sql(
        f'SELECT CAST(to_timestamp("TIMESTAMP") AS DATE) AS day, '
        f"coalesce({event_type}, '') AS event_type, count(*) AS events "
        f"FROM {table_name(dataset_id)} GROUP BY ALL ORDER BY day, event_type"
    ).pl()

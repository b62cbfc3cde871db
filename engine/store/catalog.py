"""Catalog rows: one per Personalize resource (dataset group, schema, dataset, job, ...).

Each row keeps the columns every resource has (ARN, type, name, parent, status, failure
reason, timestamps) and the rest of its describe fields as JSON in `spec`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from engine.errors import (
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    TooManyTagsException,
)
from engine.store.connection import Store

COLUMNS = (
    "id, arn, resource_type, name, parent_arn, status, failure_reason, created_at, updated_at, spec"
)
# Personalize's tag rules: at most 50 tags per resource; keys and values starting with `aws:`
# are reserved for AWS.
MAX_TAGS_PER_RESOURCE = 50
RESERVED_TAG_PREFIX = "aws:"


@dataclass
class Resource:
    """One catalog row."""

    id: int
    arn: str
    resource_type: str
    name: str
    parent_arn: str | None
    status: str | None
    failure_reason: str | None
    created_at: float
    updated_at: float
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_at, UTC)

    @property
    def updated(self) -> datetime:
        return datetime.fromtimestamp(self.updated_at, UTC)

    @classmethod
    def from_row(cls, row: tuple) -> Resource:
        return cls(*row[:9], spec=json.loads(row[9]))


UPDATE_ATTEMPTS = 5


class Catalog:
    """Reads and writes catalog rows; every value is a bound parameter."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(
        self,
        resource_type: str,
        arn: str,
        name: str,
        *,
        parent_arn: str | None = None,
        status: str | None = None,
        spec: dict[str, Any] | None = None,
        cursor: Any = None,
    ) -> Resource:
        """Add a resource; ResourceAlreadyExistsException if its ARN is taken."""
        now = time.time()
        with self.store.write_lock:
            if self.get(arn) is not None:
                raise ResourceAlreadyExistsException(f"{resource_type} {arn} already exists")
            with self._cursor(cursor) as cur:
                row = cur.execute(
                    f"INSERT INTO resources ({COLUMNS}) VALUES "
                    "(nextval('resource_id_seq'), ?, ?, ?, ?, ?, NULL, ?, ?, ?) "
                    f"RETURNING {COLUMNS}",
                    [
                        arn,
                        resource_type,
                        name,
                        parent_arn,
                        status,
                        now,
                        now,
                        json.dumps(spec or {}),
                    ],
                ).fetchall()[0]
        return Resource.from_row(row)

    def get(self, arn: str, cursor: Any = None) -> Resource | None:
        """The resource with this ARN, or None."""
        with self._cursor(cursor) as cur:
            rows = cur.execute(f"SELECT {COLUMNS} FROM resources WHERE arn = ?", [arn]).fetchall()
        return Resource.from_row(rows[0]) if rows else None

    def require(self, arn: str, resource_type: str, cursor: Any = None) -> Resource:
        """The resource with this ARN and type, or ResourceNotFoundException."""
        found = self.get(arn, cursor)
        if found is None or found.resource_type != resource_type:
            raise ResourceNotFoundException(f"Could not find {resource_type} {arn}")
        return found

    def list(self, resource_type: str, parent_arn: str | None = None) -> list[Resource]:
        """Resources of a type (optionally under one parent), newest first."""
        sql = f"SELECT {COLUMNS} FROM resources WHERE resource_type = ?"
        params: list[Any] = [resource_type]
        if parent_arn is not None:
            sql += " AND parent_arn = ?"
            params.append(parent_arn)
        with self.store.cursor() as cur:
            rows = cur.execute(sql + " ORDER BY created_at DESC, id DESC", params).fetchall()
        return [Resource.from_row(r) for r in rows]

    def children(self, parent_arn: str) -> list[Resource]:
        """Every resource whose parent is `parent_arn`."""
        with self.store.cursor() as cur:
            rows = cur.execute(
                f"SELECT {COLUMNS} FROM resources WHERE parent_arn = ? ORDER BY id", [parent_arn]
            ).fetchall()
        return [Resource.from_row(r) for r in rows]

    def update(
        self,
        arn: str,
        *,
        status: str | None = None,
        failure_reason: str | None = None,
        spec_updates: dict[str, Any] | None = None,
        cursor: Any = None,
    ) -> None:
        """Set a resource's status / failure reason / spec fields, and its updated time.

        Without a cursor the update commits on its own; if another thread's transaction
        changed the same row at the same moment (DuckDB's write-write conflict), it is
        retried a few times rather than failing the caller."""
        if cursor is not None:
            self._update(cursor, arn, status, failure_reason, spec_updates)
            return
        for attempt in range(UPDATE_ATTEMPTS):
            try:
                with self.store.write_lock, self.store.cursor() as cur:
                    self._update(cur, arn, status, failure_reason, spec_updates)
                return
            except duckdb.TransactionException:
                if attempt == UPDATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))

    def _update(
        self,
        cur: Any,
        arn: str,
        status: str | None,
        failure_reason: str | None,
        spec_updates: dict[str, Any] | None,
    ) -> None:
        current = self.get(arn, cur)
        if current is None:
            raise ResourceNotFoundException(f"Could not find {arn}")
        spec = {**current.spec, **(spec_updates or {})}
        cur.execute(
            "UPDATE resources SET status = ?, failure_reason = ?, spec = ?, updated_at = ? "
            "WHERE arn = ?",
            [
                status if status is not None else current.status,
                failure_reason if failure_reason is not None else current.failure_reason,
                json.dumps(spec),
                time.time(),
                arn,
            ],
        )

    def delete(self, arn: str, cursor: Any = None) -> None:
        """Remove a resource and its tags."""
        with self._cursor(cursor) as cur:
            cur.execute("DELETE FROM resources WHERE arn = ?", [arn])
            cur.execute("DELETE FROM tags WHERE resource_arn = ?", [arn])

    def add_tags(self, arn: str, tags: list[dict[str, str]] | None, cursor: Any = None) -> None:
        """Attach `[{"tagKey": ..., "tagValue": ...}]` to a resource (a key set again replaces).

        Checks Personalize's rules first and writes nothing if one is broken: `aws:` keys and
        values are InvalidInputException, more than 50 tags on the resource afterwards is
        TooManyTagsException.
        """
        if not tags:
            return
        for i, tag in enumerate(tags):
            for part in ("tagKey", "tagValue"):
                if tag[part].lower().startswith(RESERVED_TAG_PREFIX):
                    raise InvalidInputException(
                        f"tags[{i}].{part} {tag[part]!r}: tag keys and values starting with "
                        f"{RESERVED_TAG_PREFIX!r} are reserved for AWS"
                    )
        with self.store.write_lock, self._cursor(cursor) as cur:
            keys = {t["tagKey"] for t in self.tags_of(arn, cur)} | {t["tagKey"] for t in tags}
            if len(keys) > MAX_TAGS_PER_RESOURCE:
                raise TooManyTagsException(
                    f"tags: {arn} would carry {len(keys)} tags; a resource may carry at most "
                    f"{MAX_TAGS_PER_RESOURCE}"
                )
            for tag in tags:
                cur.execute(
                    "DELETE FROM tags WHERE resource_arn = ? AND tag_key = ?", [arn, tag["tagKey"]]
                )
                cur.execute(
                    "INSERT INTO tags VALUES (?, ?, ?)", [arn, tag["tagKey"], tag["tagValue"]]
                )

    def tags_of(self, arn: str, cursor: Any = None) -> list[dict[str, str]]:
        """The tags of a resource as `[{"tagKey": ..., "tagValue": ...}]`, by key."""
        with self._cursor(cursor) as cur:
            rows = cur.execute(
                "SELECT tag_key, tag_value FROM tags WHERE resource_arn = ? ORDER BY tag_key",
                [arn],
            ).fetchall()
        return [{"tagKey": key, "tagValue": value} for key, value in rows]

    def remove_tags(self, arn: str, keys: list[str], cursor: Any = None) -> None:
        """Detach the tags with these keys from a resource (keys it does not carry are ignored)."""
        if not keys:
            return
        with self._cursor(cursor) as cur:
            cur.execute(
                "DELETE FROM tags WHERE resource_arn = ? AND list_contains(?, tag_key)",
                [arn, list(keys)],
            )

    def _cursor(self, cursor: Any):
        """Use the caller's cursor (inside its transaction) or a fresh one."""
        if cursor is not None:
            return _Borrowed(cursor)
        return self.store.cursor()


class _Borrowed:
    """A context manager that hands back a cursor without closing it."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def __enter__(self) -> Any:
        return self.cursor

    def __exit__(self, *exc: object) -> None:
        return None

"""The single writer of real-time data: events, users and items, and the recommendation log.

Callers validate their rows first, then hand them to `EventWriter.submit`; one thread takes
everything queued at that moment and writes it in ONE transaction (group commit), so the cost
of a commit is shared by every request that arrived while the previous one was being written.
A request's future completes only after its commit: a PutEvents answered 200 is durable.

If a batch fails, each of its requests is retried alone, so one bad request fails only itself.
After the commit, still holding the group's history lock, the writer updates the in-memory
indexes (history, seen event ids, anonymous sessions), so the next request sees the events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from engine.serving.history import HistoryIndex
from engine.store import Store, id_map
from engine.store import events as sql

log = logging.getLogger("tailor.events")

MAX_BATCH = 1000
#: How long recommendation-log rows may wait to be written with others (not durable writes).
LOG_DELAY = 0.05


@dataclass
class EventRows:
    """The events of one PutEvents call, one list per column (schema fields and bookkeeping)."""

    group_id: int
    dataset_id: int
    columns: dict[str, list[Any]]
    types: dict[str, str]
    stitch: tuple[str, str] | None = None  # (session_id, user_id) when both are known
    anonymous_session: str | None = None  # events recorded under the session id
    future: Future = field(default_factory=Future)

    def __len__(self) -> int:
        return len(self.columns["USER_ID"])


@dataclass
class EntityRows:
    """The users or items of one PutUsers/PutItems call (new versions replace old rows)."""

    group_id: int
    dataset_id: int
    entity: str  # USER or ITEM
    id_field: str
    columns: dict[str, list[Any]]
    types: dict[str, str]
    future: Future = field(default_factory=Future)


@dataclass
class LogRows:
    """Recommendation log rows (fire and forget: nobody waits for them)."""

    rows: list[tuple]
    future: Future = field(default_factory=Future)


Request = EventRows | EntityRows | LogRows
_STOP = object()


class EventWriter:
    """One thread that commits queued real-time writes in batches."""

    def __init__(
        self,
        store: Store,
        history: HistoryIndex,
        on_commit: Callable[[set[int], set[int]], None] | None = None,
    ) -> None:
        """`on_commit(groups_with_events, groups_with_entities)` runs after each commit."""
        self.store = store
        self.history = history
        self.on_commit = on_commit
        self._queue: queue.Queue = queue.Queue()
        self._seen: dict[int, set[str]] = {}  # interactions dataset id -> event ids
        self._anonymous: dict[int, set[str]] = {}  # interactions dataset id -> sessions
        self.batches = 0
        self.requests = 0
        self._thread = threading.Thread(target=self._loop, name="tailor-events", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, request: Request) -> Future:
        """Queue a write; its future completes after the commit (or with the error)."""
        if self._closed:
            raise RuntimeError("the event writer is closed")
        self._queue.put(request)
        return request.future

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            # Durable writes go at once; a batch of log rows only waits up to LOG_DELAY for
            # company, so answering requests does not cost a commit each.
            deadline = time.monotonic() + LOG_DELAY
            while len(batch) < MAX_BATCH:
                only_logs = all(isinstance(r, LogRows) for r in batch)
                wait = deadline - time.monotonic() if only_logs else 0.0
                try:
                    nxt = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._write(batch)

    def _write(self, batch: list[Request]) -> None:
        try:
            self._commit(batch)
        except Exception as exc:  # noqa: BLE001 - reported to the waiting callers
            if len(batch) > 1:
                for request in batch:
                    self._write([request])
                return
            if isinstance(batch[0], LogRows):
                log.warning("could not write the recommendation log: %s", exc)
            batch[0].future.set_exception(exc)
            return
        self.batches += 1
        self.requests += len(batch)
        for request in batch:
            if not request.future.done():
                request.future.set_result(None)

    def _commit(self, batch: list[Request]) -> None:
        events = [r for r in batch if isinstance(r, EventRows)]
        entities = [r for r in batch if isinstance(r, EntityRows)]
        logs = [r for r in batch if isinstance(r, LogRows)]
        groups = sorted({r.group_id for r in events} | {r.group_id for r in entities})
        now = time.time()
        with contextlib.ExitStack() as held:
            for group_id in groups:  # sorted: no two writers, but keep a fixed order anyway
                held.enter_context(self.history.lock(group_id))
            with self.store.id_map_lock, self.store.transaction() as cur:
                kept = self._dedupe(cur, events)
                self._extend_ids(cur, kept, entities)
                stitches = self._stitch(cur, kept)
                appended = self._insert_events(cur, kept, now)
                self._upsert_entities(cur, entities, now)
                sql.log_recommendations(cur, [row for r in logs for row in r.rows])
            # Committed: make it visible to the next request before anyone is answered.
            for request in kept:
                self._seen[request.dataset_id].update(e for e in request.columns["_event_id"] if e)
                if request.anonymous_session:
                    self._anonymous[request.dataset_id].add(request.anonymous_session)
                if request.stitch:
                    self._anonymous[request.dataset_id].discard(request.stitch[0])
            for group_id in groups:
                self.history.append(
                    group_id, appended.get(group_id, []), stitches.get(group_id, [])
                )
        if self.on_commit is not None and groups:
            self.on_commit({r.group_id for r in events}, {r.group_id for r in entities})

    def _dedupe(self, cur: Any, events: list[EventRows]) -> list[EventRows]:
        """Drop events whose eventId is already stored (or earlier in this batch)."""
        kept = []
        batch_ids: dict[int, set[str]] = {}
        for request in events:
            seen = self._seen.get(request.dataset_id)
            if seen is None:
                seen = self._seen[request.dataset_id] = sql.event_ids(cur, request.dataset_id)
                self._anonymous[request.dataset_id] = sql.anonymous_sessions(
                    cur, request.dataset_id
                )
            fresh = batch_ids.setdefault(request.dataset_id, set())
            ids = request.columns["_event_id"]
            keep = [i for i, e in enumerate(ids) if e not in seen and e not in fresh]
            fresh.update(ids[i] for i in keep)
            if len(keep) < len(ids):  # a copy: a retry after a failed batch starts afresh
                columns = {k: [v[i] for i in keep] for k, v in request.columns.items()}
                request = dataclasses.replace(request, columns=columns)
            kept.append(request)
        return kept

    def _extend_ids(self, cur: Any, events: list[EventRows], entities: list[EntityRows]) -> None:
        wanted: dict[tuple[int, str], set[str]] = {}
        for request in events:
            wanted.setdefault((request.group_id, "USER"), set()).update(request.columns["USER_ID"])
            wanted.setdefault((request.group_id, "ITEM"), set()).update(request.columns["ITEM_ID"])
            if request.stitch:
                wanted[(request.group_id, "USER")].add(request.stitch[1])
        for request in entities:
            wanted.setdefault((request.group_id, request.entity), set()).update(
                request.columns[request.id_field]
            )
        for (group_id, entity), values in sorted(wanted.items()):
            values = sorted(v for v in values if v)
            # Most events name known users and items: look first, assign only what is new
            # (the assignment's scan of the id map costs more than the lookup).
            missing = sorted(set(values) - set(sql.dense_ids(cur, group_id, entity, values)))
            if missing:
                id_map.extend_with_values(cur, group_id, entity, missing)

    def _stitch(self, cur: Any, events: list[EventRows]) -> dict[int, list[tuple[str, str]]]:
        """Join anonymous session events to their user (only sessions known to have any)."""
        done: dict[int, list[tuple[str, str]]] = {}
        for request in events:
            if not request.stitch:
                continue
            session_id, user_id = request.stitch
            anonymous = self._anonymous.get(request.dataset_id, set())
            if session_id in anonymous:
                sql.stitch_session(cur, request.dataset_id, session_id, user_id)
                done.setdefault(request.group_id, []).append((session_id, user_id))
        return done

    def _insert_events(
        self, cur: Any, events: list[EventRows], now: float
    ) -> dict[int, list[tuple[str, int, int, str]]]:
        """One INSERT per dataset; returns the rows for the history index per group."""
        by_dataset: dict[int, list[EventRows]] = {}
        for request in events:
            if len(request):
                by_dataset.setdefault(request.dataset_id, []).append(request)
        appended: dict[int, list[tuple[str, int, int, str]]] = {}
        for dataset_id, requests in by_dataset.items():
            names = list(requests[0].columns)
            columns = {n: [v for r in requests for v in r.columns[n]] for n in names}
            sql.insert_rows(cur, dataset_id, columns, requests[0].types, now)
            group_id = requests[0].group_id
            dense = sql.dense_ids(cur, group_id, "ITEM", sorted(set(columns["ITEM_ID"])))
            types = columns.get("EVENT_TYPE") or [""] * len(columns["USER_ID"])
            appended.setdefault(group_id, []).extend(
                (user, dense[item], int(ts), event_type or "")
                for user, item, ts, event_type in zip(
                    columns["USER_ID"],
                    columns["ITEM_ID"],
                    columns["TIMESTAMP"],
                    types,
                    strict=True,
                )
                if item in dense
            )
        return appended

    def _upsert_entities(self, cur: Any, entities: list[EntityRows], now: float) -> None:
        by_dataset: dict[int, list[EntityRows]] = {}
        for request in entities:
            by_dataset.setdefault(request.dataset_id, []).append(request)
        for dataset_id, requests in by_dataset.items():
            id_field = requests[0].id_field
            names = list(requests[0].columns)
            latest: dict[str, int] = {}  # the last version of an id in the batch wins
            rows = [(r, i) for r in requests for i in range(len(r.columns[id_field]))]
            for position, (r, i) in enumerate(rows):
                latest[r.columns[id_field][i]] = position
            chosen = [rows[p] for p in sorted(latest.values())]
            columns = {n: [r.columns[n][i] for r, i in chosen] for n in names}
            sql.delete_ids(cur, dataset_id, id_field, list(latest))
            sql.insert_rows(cur, dataset_id, columns, requests[0].types, now)

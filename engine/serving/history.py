"""Each user's interactions in memory, per dataset group: what real-time answers read.

Built from the store on a group's first request (one scan), then kept current by the event
writer, which appends each committed batch while holding the group's lock (so a build sees a
batch either entirely or not at all, never twice). An import changes a group's data in bulk:
it invalidates the group, and the next request rebuilds it.

A user's arrays are replaced, never changed in place, so a request reads a consistent
snapshot without taking a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.recipes.base import History

#: Most recent events a recipe sees per request (Personalize uses a user's recent history).
MAX_HISTORY = 500
#: Filters on Interactions look at the latest 100 events per event type (as Personalize does).
PER_TYPE = 100


@dataclass(frozen=True)
class UserEvents:
    """One user's events, oldest first: dense items, times, event-type codes."""

    items: np.ndarray
    times: np.ndarray
    types: np.ndarray

    @classmethod
    def empty(cls) -> UserEvents:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int16))

    def merged(self, other: UserEvents) -> UserEvents:
        """Both users' events in time order (a stable merge: ties keep self first)."""
        times = np.concatenate([self.times, other.times])
        order = np.argsort(times, kind="stable")
        return UserEvents(
            np.concatenate([self.items, other.items])[order],
            times[order],
            np.concatenate([self.types, other.types])[order],
        )


@dataclass
class GroupHistory:
    """The users of one dataset group (and the event-type vocabulary of their codes)."""

    users: dict[str, UserEvents] = field(default_factory=dict)
    type_codes: dict[str, int] = field(default_factory=dict)

    def code(self, event_type: str) -> int:
        return self.type_codes.setdefault(event_type, len(self.type_codes))


class HistoryIndex:
    """Users' interactions by dataset group, built lazily and appended to in real time."""

    def __init__(self, scan: Callable[[int, int], dict[str, np.ndarray]]) -> None:
        """`scan(group_id, dataset_id)` returns the group's interactions as arrays ordered by
        user then time (`user`, `item`, `ts`, `event_type`)."""
        self._scan = scan
        self._groups: dict[int, GroupHistory] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def lock(self, group_id: int) -> threading.Lock:
        """The lock that orders builds and appends of one group."""
        with self._locks_lock:
            return self._locks.setdefault(group_id, threading.Lock())

    def _group(self, group_id: int, dataset_id: int) -> GroupHistory:
        found = self._groups.get(group_id)
        if found is not None:
            return found
        with self.lock(group_id):
            found = self._groups.get(group_id)
            if found is None:
                found = self._build(self._scan(group_id, dataset_id))
                self._groups[group_id] = found
        return found

    @staticmethod
    def _build(rows: dict[str, np.ndarray]) -> GroupHistory:
        group = GroupHistory()
        users = rows["user"]
        if len(users) == 0:
            return group
        names, codes = np.unique(rows["event_type"].astype(str), return_inverse=True)
        for name in names:
            group.code(str(name))
        items = rows["item"].astype(np.int32)
        times = rows["ts"].astype(np.int64)
        types = codes.astype(np.int16)
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        ends = np.r_[starts[1:], len(users)]
        for s, e in zip(starts, ends, strict=True):
            group.users[str(users[s])] = UserEvents(items[s:e], times[s:e], types[s:e])
        return group

    def events(self, group_id: int, dataset_id: int, user_id: str) -> UserEvents:
        """All of a user's events (empty for a user with none)."""
        return self._group(group_id, dataset_id).users.get(user_id) or UserEvents.empty()

    def history(self, group_id: int, dataset_id: int, user_id: str) -> History:
        """The user's latest `MAX_HISTORY` events as a one-user History for a recipe."""
        found = self.events(group_id, dataset_id, user_id)
        return History([found.items[-MAX_HISTORY:]], [found.times[-MAX_HISTORY:]], None)

    def by_event_type(self, group_id: int, dataset_id: int, user_id: str) -> dict[str, Any]:
        """Lower-cased event type -> the user's latest `PER_TYPE` items of that type."""
        group = self._group(group_id, dataset_id)
        found = group.users.get(user_id)
        if found is None or len(found.items) == 0:
            return {}
        names = {code: name for name, code in group.type_codes.items()}
        out = {}
        for code in np.unique(found.types):
            items = found.items[found.types == code]
            out[names[int(code)]] = items[-PER_TYPE:].astype(np.int64)
        return out

    def append(
        self,
        group_id: int,
        rows: list[tuple[str, int, int, str]],
        stitches: list[tuple[str, str]] = (),
    ) -> None:
        """Add committed events `(user, dense item, ts, event type)` and move stitched sessions
        `(session_id, user_id)` to their user. Call with `lock(group_id)` held. A group not
        built yet is left alone (its build will read the rows from the store)."""
        group = self._groups.get(group_id)
        if group is None:
            return
        for session_id, user_id in stitches:
            moved = group.users.pop(session_id, None)
            if moved is not None:
                current = group.users.get(user_id) or UserEvents.empty()
                group.users[user_id] = current.merged(moved)
        new: dict[str, list[tuple[int, int, int]]] = {}
        for user, item, ts, event_type in rows:
            new.setdefault(user, []).append((item, ts, group.code(event_type.lower())))
        for user, events in new.items():
            added = UserEvents(
                np.array([e[0] for e in events], np.int32),
                np.array([e[1] for e in events], np.int64),
                np.array([e[2] for e in events], np.int16),
            )
            current = group.users.get(user)
            group.users[user] = added if current is None else current.merged(added)

    def invalidate(self, group_id: int) -> None:
        """Forget a group (after an import); the next request rebuilds it."""
        with self.lock(group_id):
            self._groups.pop(group_id, None)

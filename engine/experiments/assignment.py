"""Deterministic assignment of users to an experiment's variants.

A user's position in [0, 1) is `sha256(salt + ":" + userId)` read as a 64-bit fraction; the
variant is the one whose cumulative traffic share first exceeds it. The salt is drawn once
when the experiment is created and stored with it, so a user gets the same variant on every
request, after restarts and on any replica, and different experiments (different salts)
split users independently of each other.
"""

from __future__ import annotations

import bisect
import hashlib
import secrets
from collections.abc import Sequence

SCALE = float(2**64)


def new_salt() -> str:
    """A fresh random salt (16 hex digits)."""
    return secrets.token_hex(8)


def unit_position(salt: str, user_id: str) -> float:
    """The user's place in [0, 1) for this salt."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / SCALE


def cumulative(shares: Sequence[float]) -> list[float]:
    """Cumulative shares, the last forced to exactly 1 (rounding must not leave a gap)."""
    out, total = [], 0.0
    for share in shares:
        total += share
        out.append(total)
    out[-1] = 1.0
    return out


def variant_index(salt: str, user_id: str, bounds: Sequence[float]) -> int:
    """Index of the variant the user is assigned to (`bounds` from `cumulative`)."""
    return min(bisect.bisect_right(bounds, unit_position(salt, user_id)), len(bounds) - 1)

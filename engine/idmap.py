"""IdMap: a dataset group's external user and item ids <-> the dense integer ids recipes see.

Dense ids are assigned in the store when rows arrive (imports and events) and never change,
so models trained at different times agree on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class IdMap:
    """Two-way mapping for one entity (users or items) of one dataset group."""

    external_ids: list[str]
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {ext: i for i, ext in enumerate(self.external_ids)}

    def __len__(self) -> int:
        return len(self.external_ids)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index

    def dense(self, external_id: str) -> int | None:
        """The dense id of `external_id`, or None if it is unknown."""
        return self._index.get(external_id)

    def dense_many(self, external_ids: Iterable[str]) -> np.ndarray:
        """Dense ids as an int64 array; unknown ids become -1."""
        return np.fromiter((self._index.get(e, -1) for e in external_ids), dtype=np.int64)

    def external(self, dense_ids: Iterable[int]) -> list[str]:
        """External ids for dense ids."""
        return [self.external_ids[int(i)] for i in dense_ids]

"""Cold-item exploration and promotions: how a ranked list makes room for new items and for
items a business wants to push.

Exploration (campaignConfig.itemExplorationConfig). An item is *cold* when it is younger than
`explorationItemAgeCutOff` days (age counted back from the newest interaction in the
dataset, as Personalize does) or has fewer than `FEW_INTERACTIONS` interactions (which
includes items added after the model was trained). `round(explorationWeight x numResults)`
places of the list, spread evenly through it, go to cold items the list would not have held
anyway, best first by

    (1 - w) * relevance_percentile + w * freshness,    w = explorationWeight

where freshness is 1 for a brand-new item falling linearly to 0 at the cut-off (items with
few interactions count as fresh in proportion to how few they have). Items the model cannot
score (newer than the model) get the median relevance. With w = 0 there is no exploration;
with w = 1 the list is the freshest cold items.

Promotions. `percentPromotedItems` of the list (at least one item) are the best items by the
same final score among those the promotion's filter lets through; they are placed at
positions drawn at random (seeded by the recommendationId, so a logged answer can be
reproduced) among the others.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from engine.idmap import IdMap

DAY = 86_400
FEW_INTERACTIONS = 5


@dataclass(frozen=True)
class ItemFacts:
    """Every item of a dataset group (dense order), with what exploration needs."""

    items: IdMap
    created: np.ndarray  # unix seconds, -1 when unknown
    counts: np.ndarray  # interactions
    latest: int  # the newest interaction's time
    _fresh: dict[float, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.items)

    def freshness(self, cutoff_days: float) -> np.ndarray:
        """0..1 per item: 1 = brand new or never interacted with; 0 = warm."""
        found = self._fresh.get(cutoff_days)
        if found is not None:
            return found
        horizon = cutoff_days * DAY
        age = (self.latest - self.created).astype(np.float64)
        young = np.where(
            (self.created >= 0) & (age < horizon), 1.0 - np.clip(age, 0, None) / horizon, 0.0
        )
        rare = np.clip(1.0 - self.counts / FEW_INTERACTIONS, 0.0, 1.0)
        fresh = np.maximum(young, rare)
        self._fresh[cutoff_days] = fresh
        return fresh


def percentile(scores: np.ndarray) -> np.ndarray:
    """Each finite score's rank as 0..1 (best = 1); others stay NaN."""
    out = np.full(len(scores), np.nan)
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) == 1:
        out[finite] = 1.0
    elif len(finite) > 1:
        order = np.argsort(scores[finite], kind="stable")
        ranks = np.empty(len(finite))
        ranks[order] = np.arange(len(finite))
        out[finite] = ranks / (len(finite) - 1)
    return out


def exploration_scores(
    relevance: np.ndarray, pool: np.ndarray, fresh: np.ndarray, weight: float
) -> np.ndarray:
    """How good each item of `pool` (a mask over the catalogue) is to explore (-inf outside
    it). `relevance` may be shorter than the catalogue (items newer than the model); those
    get the median relevance."""
    n = len(pool)
    rel = np.full(n, -np.inf)
    rel[: len(relevance)] = relevance[:n]
    pct = percentile(np.where(pool, rel, -np.inf))
    pct[pool & np.isnan(pct)] = 0.5  # unscorable but allowed: new to the model
    final = (1.0 - weight) * pct + weight * fresh[:n]
    return np.where(pool, final, -np.inf)


def exploration_slots(n: int, weight: float) -> int:
    """How many of `n` places go to exploration."""
    return max(0, min(n, math.floor(n * weight + 0.5)))


def spread_positions(n_total: int, n_spread: int) -> list[int]:
    """`n_spread` positions spread evenly over a list of `n_total`."""
    if n_spread <= 0:
        return []
    return sorted({min(n_total - 1, int((j + 0.5) * n_total / n_spread)) for j in range(n_spread)})


def interleave(main: list[int], extra: list[int], positions: list[int]) -> list[int]:
    """`extra` placed at `positions` (sorted) of the merged list, `main` filling the rest."""
    merged: list[int] = []
    rest, placed = iter(main), iter(extra)
    wanted = set(positions[: len(extra)])
    for position in range(len(main) + len(extra)):
        merged.append(next(placed) if position in wanted else next(rest))
    return merged


def promoted_count(n: int, percent: int) -> int:
    """How many of `n` places a promotion takes (at least one)."""
    return max(1, min(n, math.floor(n * percent / 100 + 0.5)))


def promotion_positions(n_total: int, n_promoted: int, recommendation_id: str) -> list[int]:
    """Sorted list positions of the promoted items, random but reproducible."""
    seed = int.from_bytes(hashlib.sha256(recommendation_id.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(n_total, size=n_promoted, replace=False).tolist())

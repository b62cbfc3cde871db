"""A campaign's model in memory: the recipe, the id maps, and what answering needs."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.artifacts import load_model
from engine.idmap import IdMap
from engine.recipes.base import Recipe
from engine.store import id_map


@dataclass
class LoadedModel:
    """Everything one campaign answers from (immutable once built; swapped whole)."""

    solution_version_arn: str
    recipe: Recipe
    users: IdMap
    items: IdMap
    group_id: int
    interactions_dataset: int | None
    items_dataset: int | None
    group_arn: str = ""
    users_dataset: int | None = None
    #: the Users fields a profile of an unseen user is read from (categorical/string ones)
    user_fields: tuple[str, ...] = ()
    #: (explorationWeight, explorationItemAgeCutOff days), or None: no cold-item exploration
    exploration: tuple[float, float] | None = None
    #: whether the Items schema has CREATION_TIMESTAMP (item age for exploration)
    items_have_created: bool = False


class ModelCache:
    """Loaded models by campaign ARN; a swap replaces the reference, so a request in flight
    finishes on the model it started with and none fails during an update."""

    def __init__(self) -> None:
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def get(self, campaign_arn: str) -> LoadedModel | None:
        return self._models.get(campaign_arn)

    def put(self, campaign_arn: str, model: LoadedModel) -> None:
        with self._lock:
            self._models[campaign_arn] = model

    def reconfigure(self, campaign_arn: str, **changes: Any) -> None:
        """Swap in a copy of a loaded model with some fields changed (a config update)."""
        with self._lock:
            current = self._models.get(campaign_arn)
            if current is not None:
                self._models[campaign_arn] = dataclasses.replace(current, **changes)

    def drop(self, campaign_arn: str) -> None:
        with self._lock:
            self._models.pop(campaign_arn, None)


def load(
    store: Any,
    artifacts: Any,
    version_arn: str,
    artifact_id: str,
    group_id: int,
    datasets: dict[str, int],
    **settings: Any,
) -> LoadedModel:
    """Read a solution version's model and its group's id maps (`settings`: the optional
    LoadedModel fields: group_arn, exploration, items_have_created)."""
    recipe = load_model(artifacts, artifact_id)
    with store.cursor() as cur:
        users = IdMap(id_map.load(cur, group_id, "USER"))
        items = IdMap(id_map.load(cur, group_id, "ITEM"))
    return LoadedModel(
        version_arn,
        recipe,
        users,
        items,
        group_id,
        datasets.get("INTERACTIONS"),
        datasets.get("ITEMS"),
        **{"users_dataset": datasets.get("USERS"), **settings},
    )


def softmax(scores: np.ndarray) -> np.ndarray:
    """Personalize-style scores: a softmax over the finite scores (they sum to 1)."""
    out = np.zeros_like(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    if finite.any():
        shifted = scores[finite] - scores[finite].max()
        weights = np.exp(shifted)
        out[finite] = weights / weights.sum()
    return out

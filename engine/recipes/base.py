"""The recipe contract: what every recipe implements, on dense ids and sparse matrices.

A recipe never sees external ids, ARNs or DuckDB. It is fitted on `TrainingData` (dense
user/item ids, events sorted by user then time, optional user/item feature matrices) and
answers for a batch of users given their `History` (what they did, oldest first), so new
events change answers without retraining. Hyperparameters are a pydantic model with
defaults and bounds; `describe_hyperparameters()` turns it into Personalize's recipe
description. Models are saved as named numpy arrays (no pickle).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict

ProgressFn = Callable[[float, str], None]
BATCH = 512


class RecipeNotApplicable(Exception):
    """The recipe cannot answer this kind of request (e.g. related items from a ranking model)."""


class TrainingStopped(Exception):
    """Raised by a progress callback when training was asked to stop."""


class Hyperparameters(BaseModel):
    """Base for each recipe's hyperparameters: unknown names are errors, values are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Features:
    """A feature matrix (entities x features) with a name per column, e.g. `CATEGORY=shoes`."""

    matrix: sp.csr_matrix
    names: list[str]

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]


@dataclass
class Interactions:
    """Events in dense ids, sorted by user, then timestamp.

    `weight` is each event's training weight (from event type weights / event values);
    `context` maps a contextual field (e.g. DEVICE) to one code per event (-1 = missing),
    with the value names in `context_values`.
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    n_users: int
    n_items: int
    weight: np.ndarray | None = None
    event_type: np.ndarray | None = None
    event_types: list[str] = field(default_factory=list)
    context: dict[str, np.ndarray] = field(default_factory=dict)
    context_values: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.user = np.asarray(self.user, dtype=np.int32)
        self.item = np.asarray(self.item, dtype=np.int32)
        self.timestamp = np.asarray(self.timestamp, dtype=np.int64)
        if self.weight is None:
            self.weight = np.ones(len(self.user), dtype=np.float32)
        order = np.lexsort((self.timestamp, self.user))
        if not np.all(order == np.arange(len(order))):
            self._reorder(order)

    def _reorder(self, order: np.ndarray) -> None:
        self.user, self.item = self.user[order], self.item[order]
        self.timestamp, self.weight = self.timestamp[order], self.weight[order]
        if self.event_type is not None:
            self.event_type = self.event_type[order]
        self.context = {k: v[order] for k, v in self.context.items()}

    def __len__(self) -> int:
        return len(self.user)

    def matrix(self, binary: bool = True) -> sp.csr_matrix:
        """Users x items: 1 where a user interacted (or the summed weights)."""
        values = np.ones(len(self.user), np.float32) if binary else self.weight
        m = sp.csr_matrix(
            (values, (self.user, self.item)), shape=(self.n_users, self.n_items), dtype=np.float32
        )
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def select(self, mask: np.ndarray) -> Interactions:
        """The events where `mask` is true (same id spaces)."""
        return Interactions(
            self.user[mask],
            self.item[mask],
            self.timestamp[mask],
            self.n_users,
            self.n_items,
            self.weight[mask],
            None if self.event_type is None else self.event_type[mask],
            self.event_types,
            {k: v[mask] for k, v in self.context.items()},
            self.context_values,
        )

    def history(self, users: np.ndarray) -> History:
        """The chronological history of `users` from these events."""
        starts = np.searchsorted(self.user, users, side="left")
        ends = np.searchsorted(self.user, users, side="right")
        return History(
            items=[self.item[s:e] for s, e in zip(starts, ends, strict=True)],
            timestamps=[self.timestamp[s:e] for s, e in zip(starts, ends, strict=True)],
            weights=[self.weight[s:e] for s, e in zip(starts, ends, strict=True)],
        )


@dataclass
class History:
    """What each user of a batch did, oldest first (dense item ids)."""

    items: list[np.ndarray]
    timestamps: list[np.ndarray] | None = None
    weights: list[np.ndarray] | None = None
    #: what the Users dataset says about each user ({field: value}), for users the model
    #: has not seen: recipes with user-metadata features can place them by it
    profiles: list[dict[str, Any] | None] | None = None

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def empty(cls, n: int) -> History:
        return cls([np.zeros(0, np.int32) for _ in range(n)])

    def matrix(self, n_items: int, binary: bool = True) -> sp.csr_matrix:
        """Batch x items: 1 where the user interacted (or summed weights)."""
        lengths = [len(i) for i in self.items]
        rows = np.repeat(np.arange(len(self.items)), lengths)
        cols = np.concatenate(self.items) if self.items else np.zeros(0, np.int32)
        if binary or self.weights is None:
            data = np.ones(len(cols), np.float32)
        else:
            data = np.concatenate(self.weights).astype(np.float32)
        keep = cols < n_items  # items newer than the model are unknown to it
        m = sp.csr_matrix(
            (data[keep], (rows[keep], cols[keep])),
            shape=(len(self.items), n_items),
            dtype=np.float32,
        )
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def last_timestamp(self) -> np.ndarray:
        """Each user's latest event time (0 for users with no timestamps)."""
        if self.timestamps is None:
            return np.zeros(len(self.items), np.int64)
        return np.array([t[-1] if len(t) else 0 for t in self.timestamps], np.int64)


@dataclass
class TrainingData:
    """Everything a recipe may learn from."""

    interactions: Interactions
    user_features: Features | None = None
    item_features: Features | None = None
    item_creation: np.ndarray | None = None  # epoch seconds per item, NaN if unknown

    @property
    def n_users(self) -> int:
        return self.interactions.n_users

    @property
    def n_items(self) -> int:
        return self.interactions.n_items


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Best `n` columns of each row, best first; rows with fewer finite scores pad with -1."""
    n = min(n, scores.shape[1])
    if n <= 0:
        return np.zeros((scores.shape[0], 0), np.int64), np.zeros((scores.shape[0], 0))
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, axis=1)
    best = np.take_along_axis(part_scores, order, axis=1)
    ids = np.where(np.isfinite(best), ids, -1)
    return ids, best


class Recipe(ABC):
    """One recommendation algorithm. Subclasses set the class attributes and implement `fit`
    and `score_all` (and `similar_scores` for related items)."""

    recipe_arn: ClassVar[str]
    recipe_type: ClassVar[str]  # USER_PERSONALIZATION, PERSONALIZED_RANKING, RELATED_ITEMS, ...
    description: ClassVar[str]
    Config: ClassVar[type[Hyperparameters]] = Hyperparameters

    def __init__(self, **hyperparameters: Any) -> None:
        self.config = self.Config(**hyperparameters)
        self.n_users = 0
        self.n_items = 0

    # --- training ---------------------------------------------------------------------------

    @abstractmethod
    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> Recipe:
        """Learn from `data`; call `progress(fraction, message)` now and then."""

    # --- answering --------------------------------------------------------------------------

    @abstractmethod
    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        """Scores (batch x n_items, float32) for `users` (dense ids; ids >= n_users are new
        users known only by `history`). Higher is better; -inf means never recommend."""

    def recommend(
        self,
        users: np.ndarray,
        history: History,
        n: int = 25,
        *,
        exclude_seen: bool = True,
        exclude: sp.csr_matrix | None = None,
        allow: np.ndarray | None = None,
        context: dict[str, str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `n` items per user: (ids, scores), both (batch x n), best first, -1 padded.

        `exclude_seen` drops items in the user's history; `exclude` (batch x n_items) drops
        more; `allow` (item ids) keeps only those.
        """
        users = np.asarray(users)
        all_ids, all_scores = [], []
        for start in range(0, len(users), BATCH):
            chunk = slice(start, start + BATCH)
            sub = History(
                history.items[chunk],
                None if history.timestamps is None else history.timestamps[chunk],
                None if history.weights is None else history.weights[chunk],
            )
            scores = self.score_all(users[chunk], sub, context).astype(np.float32, copy=True)
            self._mask(
                scores, sub, exclude_seen, None if exclude is None else exclude[chunk], allow
            )
            ids, best = top_n(scores, n)
            all_ids.append(ids)
            all_scores.append(best)
        if not all_ids:
            return np.zeros((0, n), np.int64), np.zeros((0, n), np.float32)
        return np.vstack(all_ids), np.vstack(all_scores)

    def _mask(
        self,
        scores: np.ndarray,
        history: History,
        exclude_seen: bool,
        exclude: sp.csr_matrix | None,
        allow: np.ndarray | None,
    ) -> None:
        if exclude_seen:
            seen = history.matrix(self.n_items)
            scores[seen.nonzero()] = -np.inf
        if exclude is not None:
            scores[exclude[:, : self.n_items].nonzero()] = -np.inf
        if allow is not None:
            keep = np.zeros(self.n_items, bool)
            allow = np.asarray(allow)
            keep[allow[allow < self.n_items]] = True
            scores[:, ~keep] = -np.inf

    def score(
        self, user: int, history: History, items: np.ndarray, context: dict[str, str] | None = None
    ) -> np.ndarray:
        """Scores of the given items for one user; NaN for items the model does not know."""
        items = np.asarray(items)
        out = np.full(len(items), np.nan, np.float32)
        known = (items >= 0) & (items < self.n_items)
        if known.any():
            row = self.score_all(np.array([user]), history, context)[0]
            out[known] = row[items[known]]
        return out

    def similar_scores(self, items: np.ndarray) -> np.ndarray:
        """Scores (len(items) x n_items) of every item as a neighbour of each given item."""
        raise RecipeNotApplicable(f"{self.recipe_arn} does not recommend related items")

    def similar_items(
        self, items: np.ndarray, n: int = 25, allow: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `n` neighbours per item (the item itself excluded): (ids, scores)."""
        items = np.asarray(items)
        scores = self.similar_scores(items).astype(np.float32, copy=True)
        known = items < self.n_items
        scores[np.arange(len(items))[known], items[known]] = -np.inf
        if allow is not None:
            keep = np.zeros(self.n_items, bool)
            keep[np.asarray(allow)[np.asarray(allow) < self.n_items]] = True
            scores[:, ~keep] = -np.inf
        return top_n(scores, n)

    def segment_scores(self, item_sets: list[np.ndarray]) -> np.ndarray:
        """Affinity (len(item_sets) x n_users) of every known user for each set of items
        (one item for aws-item-affinity; the items matching an attribute query for
        aws-item-attribute-affinity)."""
        raise RecipeNotApplicable(f"{self.recipe_arn} does not make user segments")

    def user_segments(
        self, item_sets: list[np.ndarray], n: int = 100
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `n` users per item set: (user ids, scores), best first, -1 padded."""
        return top_n(self.segment_scores(item_sets).astype(np.float32, copy=False), n)

    # --- persistence ------------------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """The fitted model as named arrays (override to add more)."""
        return {}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Restore from `state()`'s arrays."""

    def save(self, folder: Path) -> None:
        """Write `model.npz` (arrays, no pickle) and `recipe.json` into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {**self.state(), "_shape": np.array([self.n_users, self.n_items], np.int64)}
        np.savez(folder / "model.npz", **arrays)
        meta = {"recipeArn": self.recipe_arn, "hyperparameters": self.config.model_dump()}
        (folder / "recipe.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, folder: Path) -> Recipe:
        """Read a model written by `save` (arrays are loaded with allow_pickle=False)."""
        folder = Path(folder)
        meta = json.loads((folder / "recipe.json").read_text())
        if meta["recipeArn"] != cls.recipe_arn:
            raise ValueError(f"{folder} holds a {meta['recipeArn']} model, not {cls.recipe_arn}")
        model = cls(**meta["hyperparameters"])
        with np.load(folder / "model.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        model.n_users, model.n_items = (int(x) for x in arrays.pop("_shape"))
        model.load_state(arrays)
        return model

    # --- description ------------------------------------------------------------------------

    @classmethod
    def describe_hyperparameters(cls) -> list[dict[str, Any]]:
        """Each hyperparameter's name, type, default and range (from the Config model)."""
        out = []
        for name, info in cls.Config.model_fields.items():
            entry: dict[str, Any] = {
                "name": name,
                "default": info.default,
                "description": info.description or "",
            }
            annotation = info.annotation
            entry["type"] = getattr(annotation, "__name__", str(annotation))
            for meta in info.metadata:
                for key in ("ge", "gt", "le", "lt"):
                    if getattr(meta, key, None) is not None:
                        entry[key] = getattr(meta, key)
            if hasattr(annotation, "__args__"):
                entry["choices"] = list(annotation.__args__)
            out.append(entry)
        return out

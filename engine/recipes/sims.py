"""aws-sims: item-to-item similarities from co-occurrence in user histories.

Two items are similar when the same users interacted with both. Users whose history length
(number of events) falls outside the `min/max_user_history_length_percentile` range are left
out first (bots, crawlers, one-off visitors). For each pair with at least
`min_cointeraction_count` shared users,

    similarity(i, j) = co_count(i, j) / (pop_i * pop_j) ** popularity_discount_factor

where pop is each item's number of distinct users: a factor of 0 ranks neighbours by raw
co-occurrence (popular items win), 1 by co-occurrence relative to popularity. The best
`neighbours` per item are kept. Unknown items and items with no neighbours get popular items,
and lists shorter than asked are filled with popular items (as Personalize does).

SIMS is a RELATED_ITEMS recipe; `score_all` (the sum of the neighbour scores of a user's
history) lets it answer for users too, e.g. in offline evaluation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from engine.recipes.base import Hyperparameters, ProgressFn, TrainingData
from engine.recipes.item_knn import NeighbourhoodRecipe, item_item_neighbours


class CooccurrenceConfig(Hyperparameters):
    """The co-occurrence hyperparameters SIMS shares with Similar-Items."""

    popularity_discount_factor: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Balance between popularity and correlation: 0 ranks neighbours by how "
        "often they co-occur (popular items first), 1 by co-occurrence relative to popularity.",
    )
    min_cointeraction_count: int = Field(
        3,
        ge=0,
        le=10,
        description="Minimum number of users who interacted with both items for the pair to "
        "count as similar.",
    )
    neighbours: int = Field(
        100, ge=1, le=10_000, description="Neighbours kept per item (Tailor's addition)."
    )


class Config(CooccurrenceConfig):
    """SIMS's hyperparameters (Personalize's names, ranges and defaults)."""

    min_user_history_length_percentile: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Leave out users whose history length is below this percentile.",
    )
    max_user_history_length_percentile: float = Field(
        0.995,
        ge=0.0,
        le=1.0,
        description="Leave out users whose history length is above this percentile (e.g. "
        "bots that interact with everything).",
    )

    @model_validator(mode="after")
    def _percentiles_in_order(self) -> Config:
        if self.min_user_history_length_percentile > self.max_user_history_length_percentile:
            raise ValueError(
                "min_user_history_length_percentile "
                f"({self.min_user_history_length_percentile}) must not exceed "
                f"max_user_history_length_percentile ({self.max_user_history_length_percentile})"
            )
        return self


def users_within_percentiles(lengths: np.ndarray, low: float, high: float) -> np.ndarray:
    """Mask of users (with at least one event) whose length lies in the percentile range."""
    active = lengths > 0
    if not active.any():
        return active
    lo, hi = np.quantile(lengths[active], [low, high])
    return active & (lengths >= lo) & (lengths <= hi)


def cooccurrence_similarity(
    matrix: sp.csr_matrix,
    config: CooccurrenceConfig,
    progress: ProgressFn | None = None,
) -> sp.csr_matrix:
    """Top-neighbour item x item similarities from a binary users x items matrix."""
    popularity = matrix.getnnz(axis=0).astype(np.float32)
    discounted = np.power(np.maximum(popularity, 1.0), config.popularity_discount_factor)
    min_count = max(config.min_cointeraction_count, 1)

    def weigh(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        score = values / (discounted[rows] * discounted[cols])
        return np.where(values >= min_count, score, 0.0)

    report = (lambda f: progress(f, "co-occurrence similarities")) if progress else None
    return item_item_neighbours(matrix.T.tocsr(), matrix, config.neighbours, weigh, report)


class Sims(NeighbourhoodRecipe):
    """Item-to-item similarities (SIMS): items often interacted with by the same users."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-sims"
    recipe_type = "RELATED_ITEMS"
    description = (
        "Items similar to a given item by co-occurrence in user histories, discounted by "
        "popularity; popular items for unknown or isolated items."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> Sims:
        cfg = self.config
        interactions = data.interactions
        matrix = interactions.matrix(binary=True)
        self.n_users, self.n_items = matrix.shape
        lengths = np.bincount(interactions.user, minlength=self.n_users)
        keep = users_within_percentiles(
            lengths,
            cfg.min_user_history_length_percentile,
            cfg.max_user_history_length_percentile,
        )
        matrix = matrix[np.flatnonzero(keep)]
        self.popularity = matrix.getnnz(axis=0).astype(np.float32)
        self.similarity = cooccurrence_similarity(matrix, cfg, progress)
        if progress:
            progress(1.0, f"{int(keep.sum())} users, {self.similarity.nnz} similar pairs")
        return self

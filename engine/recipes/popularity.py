"""aws-popularity-count: items ranked by how many distinct users interacted with them."""

from __future__ import annotations

import numpy as np

from engine.recipes.base import History, Hyperparameters, ProgressFn, Recipe, TrainingData


class PopularityCount(Recipe):
    """The same list for everyone: the count of unique users per item (Personalize's baseline)."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-popularity-count"
    recipe_type = "USER_PERSONALIZATION"
    description = "Most popular items by the number of distinct users; the baseline to beat."
    Config = Hyperparameters

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> PopularityCount:
        matrix = data.interactions.matrix(binary=True)
        self.n_users, self.n_items = matrix.shape
        self.counts = np.asarray(matrix.sum(axis=0)).ravel().astype(np.float32)
        if progress:
            progress(1.0, "counted users per item")
        return self

    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), self.n_items)).copy()

    def similar_scores(self, items: np.ndarray) -> np.ndarray:
        """Popular items stand in as neighbours (Personalize's fallback)."""
        return np.broadcast_to(self.counts, (len(items), self.n_items)).copy()

    def state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts = arrays["counts"]

"""aws-trending-now: the items whose interactions are rising fastest, the same list for all.

With T the latest event time in the training data and w the `trend_discovery_frequency`,
each item's events are counted in the last window (T - w, T] and the one before it
(T - 2w, T - w], and

    trend = (count_last - count_previous) / (count_previous + smoothing)

ranks the items; equal trends are ordered by count_last (the busier item first). Personalize
recomputes trends every `trend_discovery_frequency` from the incoming events; Tailor computes
them when the model is trained, so retrain (cheap) to move the windows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from engine.recipes.base import History, Hyperparameters, ProgressFn, Recipe, TrainingData

WINDOW_SECONDS = {"30 minutes": 1800, "1 hour": 3600, "3 hours": 3 * 3600, "1 day": 86400}


class Config(Hyperparameters):
    """Trending-Now's settings."""

    trend_discovery_frequency: Literal["30 minutes", "1 hour", "3 hours", "1 day"] = Field(
        "1 day", description="Length of the two consecutive windows whose counts are compared."
    )
    smoothing: float = Field(
        1.0,
        gt=0.0,
        le=1_000_000.0,
        description="Added to the previous window's count so items new in the last window do "
        "not divide by zero; larger values favour items with more events (Tailor's addition).",
    )


def window_counts(
    item: np.ndarray, timestamp: np.ndarray, n_items: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Events per item in the last window before the latest event and in the one before."""
    if len(timestamp) == 0:
        return np.zeros(n_items), np.zeros(n_items)
    end = timestamp.max()
    last = (timestamp > end - window) & (timestamp <= end)
    previous = (timestamp > end - 2 * window) & (timestamp <= end - window)
    return (
        np.bincount(item[last], minlength=n_items).astype(np.float64),
        np.bincount(item[previous], minlength=n_items).astype(np.float64),
    )


def trend_scores(last: np.ndarray, previous: np.ndarray, smoothing: float) -> np.ndarray:
    """The trend of each item, plus a tie-break by `last` smaller than any gap between two
    distinct trends, so sorting by the score sorts by (trend, last)."""
    trend = (last - previous) / (previous + smoothing)
    distinct = np.unique(trend)
    gap = float(np.diff(distinct).min()) if len(distinct) > 1 else 1.0
    return trend + 0.5 * gap * last / (last.max(initial=0.0) + 1.0)


class TrendingNow(Recipe):
    """Items ranked by the rate of increase of their interactions between two windows."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-trending-now"
    recipe_type = "POPULAR_ITEMS"
    description = (
        "Items gaining popularity fastest: the growth of each item's interactions between the "
        "last two windows of trend_discovery_frequency."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> TrendingNow:
        interactions = data.interactions
        self.n_users, self.n_items = interactions.n_users, interactions.n_items
        window = WINDOW_SECONDS[self.config.trend_discovery_frequency]
        self.count_last, self.count_previous = window_counts(
            interactions.item, interactions.timestamp, self.n_items, window
        )
        self.trend = (self.count_last - self.count_previous) / (
            self.count_previous + self.config.smoothing
        )
        self.scores = trend_scores(self.count_last, self.count_previous, self.config.smoothing)
        if progress:
            progress(1.0, f"trends over two windows of {self.config.trend_discovery_frequency}")
        return self

    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        row = self.scores.astype(np.float32)
        return np.broadcast_to(row, (len(users), self.n_items)).copy()

    def state(self) -> dict[str, np.ndarray]:
        return {
            "count_last": self.count_last,
            "count_previous": self.count_previous,
            "trend": self.trend,
            "scores": self.scores,
        }

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.count_last = arrays["count_last"]
        self.count_previous = arrays["count_previous"]
        self.trend = arrays["trend"]
        self.scores = arrays["scores"]

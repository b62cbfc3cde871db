"""aws-trending-now under the recipe contract, plus its windows and tie-break."""

import numpy as np

from engine.recipes.base import History, Interactions, TrainingData
from engine.recipes.trending import TrendingNow
from tests.recipes.contract import RecipeContract

T = 10 * 86_400
HOUR, DAY = 3600, 86_400


def events(*spec: tuple[int, list[int]]) -> TrainingData:
    """(item, [seconds before T, ...]) pairs; every event has its own user."""
    items = np.array([item for item, ages in spec for _ in ages])
    times = np.array([T - age for _, ages in spec for age in ages])
    n = len(items)
    return TrainingData(Interactions(np.arange(n), items, times, n, int(items.max()) + 1))


def ranking(data: TrainingData, **hyperparameters) -> list[int]:
    model = TrendingNow(**hyperparameters).fit(data)
    ids, _ = model.recommend(np.array([0]), History.empty(1), n=data.n_items, exclude_seen=False)
    return ids[0].tolist()


class TestTrendingNow(RecipeContract):
    recipe = TrendingNow
    personalized = False

    def test_jump_in_the_last_window_ranks_first_and_window_size_matters(self):
        data = events(
            (0, [2 * DAY + 10 * k for k in range(30)]),  # popular, but long ago
            (1, [5 * HOUR] * 5),  # a jump within the last day, not the last 30 minutes
            (2, [0, 10 * 60, 30 * HOUR, 30 * HOUR]),  # a jump in the last 30 minutes
        )
        assert ranking(data)[0] == 1
        assert ranking(data, trend_discovery_frequency="30 minutes")[0] == 2
        assert ranking(data, trend_discovery_frequency="1 hour")[0] == 2

    def test_equal_trends_are_ordered_by_the_last_count(self):
        data = events(
            (0, [HOUR] * 2),  # 0 -> 2: (2 - 0) / (0 + 1) = 2
            (1, [HOUR] * 5 + [DAY + HOUR]),  # 1 -> 5: (5 - 1) / (1 + 1) = 2
            (2, [DAY + HOUR] * 3),  # falling
        )
        model = TrendingNow().fit(data)
        np.testing.assert_allclose(model.trend, [2.0, 2.0, -0.75])
        assert ranking(data) == [1, 0, 2]

"""aws-popularity-count under the recipe contract."""

import numpy as np

from engine.recipes.base import History
from engine.recipes.popularity import PopularityCount
from tests.recipes.contract import RecipeContract


class TestPopularityCount(RecipeContract):
    recipe = PopularityCount
    personalized = False
    related_items = True

    def test_most_popular_first(self, model):
        ids, scores = model.recommend(np.array([0]), History.empty(1), n=3, exclude_seen=False)
        assert scores[0][0] == model.counts.max()

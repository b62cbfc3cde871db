"""aws-sims under the recipe contract, plus its popularity discount and pair threshold."""

import numpy as np
import pytest

from engine.recipes.base import Interactions, TrainingData
from engine.recipes.sims import Sims
from tests.recipes.contract import RecipeContract


def pairs_data() -> TrainingData:
    """Item 0 shares 5 users with item 1 and 2 users with item 2; item 3 is alone."""
    baskets = [[0, 1]] * 5 + [[0, 2]] * 2 + [[3]] * 4
    users = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
    items = np.concatenate(baskets)
    return TrainingData(Interactions(users, items, np.arange(len(items)), len(baskets), 4))


class TestSims(RecipeContract):
    recipe = Sims
    related_items = True

    def test_discount_factor_favours_less_popular_neighbours(self, data):
        popularity = data.interactions.matrix().getnnz(axis=0)
        mean_popularity = {}
        for factor in (0.0, 1.0):
            model = Sims(popularity_discount_factor=factor).fit(data)
            ids, _ = model.similar_items(np.arange(30), n=3)
            mean_popularity[factor] = popularity[ids].mean()
        assert mean_popularity[1.0] < mean_popularity[0.0]

    def test_min_cointeraction_count_removes_weak_pairs(self):
        strict = Sims(min_cointeraction_count=3).fit(pairs_data()).similarity.toarray()
        loose = Sims(min_cointeraction_count=1).fit(pairs_data()).similarity.toarray()
        assert strict[0, 1] > 0 and strict[0, 2] == 0
        assert loose[0, 2] > 0

    def test_isolated_and_unknown_items_fall_back_to_popular(self):
        model = Sims(min_cointeraction_count=1).fit(pairs_data())
        ids, _ = model.similar_items(np.array([3, 99]), n=2)
        assert list(ids[0]) == [0, 1]  # item 0 has 7 users, item 1 has 5
        assert list(ids[1]) == [0, 1]
        ids, _ = model.similar_items(np.array([2]), n=3)
        assert list(ids[0]) == [0, 1, 3]  # its neighbour first, then popular items

    def test_extreme_history_lengths_are_trimmed(self):
        with pytest.raises(ValueError, match="must not exceed"):
            Sims(min_user_history_length_percentile=0.9, max_user_history_length_percentile=0.1)
        model = Sims(min_cointeraction_count=1, max_user_history_length_percentile=0.3)
        similarity = model.fit(pairs_data()).similarity  # 4 of 11 users have 1 event: 2 is above
        assert similarity.nnz == 0

"""aws-item-affinity and aws-item-attribute-affinity under the recipe contract, plus segments
for single items and attribute queries and the real-time history fold-in."""

from __future__ import annotations

import numpy as np

from engine.recipes.affinity import ItemAffinity, ItemAttributeAffinity
from engine.recipes.base import History
from tests.recipes.contract import N_ITEMS, N_USERS, RecipeContract

FAST = {"factors": 8, "regularization": 5.0, "alpha": 5.0, "iterations": 10}


class TestItemAffinity(RecipeContract):
    recipe = ItemAffinity
    hyperparameters = FAST
    segments = True

    def test_one_item_segment_finds_its_half(self, model):
        users, scores = model.user_segments([np.array([3]), np.array([18])], n=20)
        assert np.mean(users[0] % 2 == 0) > 0.8, users[0]
        assert np.mean(users[1] % 2 == 1) > 0.8, users[1]
        assert np.all(np.diff(scores, axis=1) <= 1e-6)

    def test_segment_scores_cover_every_known_user(self, model):
        assert model.segment_scores([np.array([0])]).shape == (1, N_USERS)

    def test_an_unknown_item_gives_an_empty_segment(self, model):
        users, _ = model.user_segments([np.array([N_ITEMS + 5]), np.array([2, N_ITEMS + 5])], n=5)
        assert (users[0] == -1).all()
        assert (users[1] >= 0).all()  # the unknown item is ignored, item 2 still counts

    def test_history_fold_in_matches_the_trained_users(self, model, data):
        users = np.arange(10)
        folded = model.user_vectors(data.interactions.history(users))
        assert folded.any(axis=1).all()
        trained = model.user_factors[users]
        cosine = np.sum(folded * trained, axis=1) / (
            np.linalg.norm(folded, axis=1) * np.linalg.norm(trained, axis=1)
        )
        assert np.all(cosine > 0.99), cosine

    def test_new_events_change_recommendations_without_refitting(self, model, data):
        user = np.array([0])  # an even user: likes items 0-14
        history = data.interactions.history(user)
        before, _ = model.recommend(user, history, n=10)
        events = np.array([15, 16, 17, 18, 19, 20, 21, 22, 23], np.int32)
        later = History([np.concatenate([history.items[0], events])])
        after, _ = model.recommend(user, later, n=10)
        assert np.mean(after[0] >= 15) > np.mean(before[0] >= 15), (before, after)

    def test_new_user_follows_history(self, model):
        history = History([np.array([16, 17, 18], np.int32)])
        ids, _ = model.recommend(np.array([N_USERS + 2]), history, n=5)
        assert np.mean(ids[0] >= 15) > 0.7, ids


class TestItemAttributeAffinity(RecipeContract):
    recipe = ItemAttributeAffinity
    hyperparameters = FAST
    segments = True

    def test_category_b_finds_odd_users(self, model, data):
        """The caller resolves `CATEGORY = "b"` to item ids; odd users like items 15-29."""
        column = data.item_features.names.index("CATEGORY=b")
        items = data.item_features.matrix[:, column].nonzero()[0]
        users, _ = model.user_segments([items], n=20)
        assert np.mean(users[0] % 2 == 1) > 0.8, users

    def test_category_a_finds_even_users(self, model, data):
        column = data.item_features.names.index("CATEGORY=a")
        items = data.item_features.matrix[:, column].nonzero()[0]
        users, _ = model.user_segments([items], n=20)
        assert np.mean(users[0] % 2 == 0) > 0.8, users

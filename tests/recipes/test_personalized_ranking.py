"""aws-personalized-ranking under the recipe contract, plus re-ranking an input list."""

from __future__ import annotations

import numpy as np
import pytest

from engine.recipes.base import History
from engine.recipes.personalized_ranking import PersonalizedRanking
from tests.recipes.contract import N_ITEMS, N_USERS, RecipeContract


class TestPersonalizedRanking(RecipeContract):
    recipe = PersonalizedRanking
    hyperparameters = {"no_components": 16, "epochs": 20}

    def test_rank_puts_unknown_items_last_without_score(self, model, data):
        user = 0  # an even user: likes items 0-14
        items = np.array([N_ITEMS + 2, 20, 0, N_ITEMS + 1, 1, 16])
        ids, scores = model.rank(user, data.interactions.history(np.array([user])), items)
        assert ids[-2:].tolist() == [N_ITEMS + 2, N_ITEMS + 1]  # unknown, in input order
        assert np.isnan(scores[-2:]).all() and np.isfinite(scores[:-2]).all()
        assert np.all(np.diff(scores[:-2]) <= 0)
        assert sorted(ids.tolist()) == sorted(items.tolist())
        assert set(ids[:2].tolist()) == {0, 1}, ids

    def test_rank_agrees_with_score(self, model, data):
        history = data.interactions.history(np.array([3]))
        items = np.array([5, 25, 17, 2])
        ids, scores = model.rank(3, history, items)
        by_item = dict(zip(items.tolist(), model.score(3, history, items).tolist(), strict=True))
        assert scores.tolist() == [by_item[i] for i in ids.tolist()]

    def test_rank_follows_context(self, model):
        items = np.array([3, 18, 4, 19])
        new_user = N_USERS + 7
        mobile, _ = model.rank(new_user, History.empty(1), items, {"DEVICE": "mobile"})
        desktop, _ = model.rank(new_user, History.empty(1), items, {"DEVICE": "desktop"})
        assert set(mobile[:2].tolist()) == {3, 4}, mobile
        assert set(desktop[:2].tolist()) == {18, 19}, desktop

    def test_only_unknown_items_keep_input_order(self, model):
        items = np.array([N_ITEMS + 3, N_ITEMS + 1, N_ITEMS + 2])
        ids, scores = model.rank(0, History.empty(1), items)
        assert ids.tolist() == items.tolist() and np.isnan(scores).all()

    def test_rank_of_an_empty_list(self, model):
        ids, scores = model.rank(0, History.empty(1), np.array([], np.int64))
        assert len(ids) == 0 and len(scores) == 0

    def test_has_no_exploration_settings(self):
        names = {h["name"] for h in PersonalizedRanking.describe_hyperparameters()}
        assert "exploration_weight" not in names and "no_components" in names
        with pytest.raises(ValueError):
            PersonalizedRanking(exploration_weight=0.3)

"""The shared contract every recipe passes, on a tiny deterministic dataset (issue 3).

Each recipe's test module is a small subclass of `RecipeContract` that names the recipe class
and, if needed, fast hyperparameters.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from engine.recipes.base import (
    Features,
    History,
    Interactions,
    Recipe,
    RecipeNotApplicable,
    TrainingData,
)

N_USERS, N_ITEMS = 60, 30


def tiny_data() -> TrainingData:
    """Two tastes: even users like items 0-14, odd users items 15-29; popularity falls with
    the item id inside each half; every user has 8 events, in time order; a DEVICE context
    follows the taste; items carry a CATEGORY feature (half) and users an AGE feature."""
    rng = np.random.default_rng(7)
    users, items, times, device = [], [], [], []
    for u in range(N_USERS):
        base = 0 if u % 2 == 0 else 15
        probs = 1.0 / np.arange(1, 16)
        chosen = rng.choice(15, size=8, replace=False, p=probs / probs.sum()) + base
        for k, i in enumerate(chosen):
            users.append(u)
            items.append(int(i))
            times.append(1_700_000_000 + u * 1000 + k * 60)
            device.append(u % 2)
    interactions = Interactions(
        np.array(users),
        np.array(items),
        np.array(times),
        N_USERS,
        N_ITEMS,
        context={"DEVICE": np.array(device)},
        context_values={"DEVICE": ["mobile", "desktop"]},
    )
    item_features = Features(
        sp.csr_matrix(
            (np.ones(N_ITEMS), (np.arange(N_ITEMS), np.arange(N_ITEMS) // 15)), shape=(N_ITEMS, 2)
        ),
        ["CATEGORY=a", "CATEGORY=b"],
    )
    user_features = Features(
        sp.csr_matrix(
            (np.ones(N_USERS), (np.arange(N_USERS), np.arange(N_USERS) % 2)), shape=(N_USERS, 2)
        ),
        ["AGE=young", "AGE=old"],
    )
    creation = np.full(N_ITEMS, 1_600_000_000.0)
    return TrainingData(interactions, user_features, item_features, creation)


class RecipeContract:
    """Subclass with `recipe = SomeRecipe` (and `hyperparameters = {...}` to keep it fast)."""

    recipe: ClassVar[type[Recipe]]
    hyperparameters: ClassVar[dict[str, Any]] = {}
    personalized: ClassVar[bool] = True  # False for popularity-like recipes
    related_items: ClassVar[bool] = False  # True if similar_items must work
    segments: ClassVar[bool] = False  # True if user_segments must work

    def histories(self, data: TrainingData, users: np.ndarray) -> History:
        return data.interactions.history(users)

    def test_describes_itself(self):
        assert self.recipe.recipe_arn.startswith("arn:aws:personalize:::recipe/")
        assert self.recipe.recipe_type in (
            "USER_PERSONALIZATION",
            "PERSONALIZED_RANKING",
            "RELATED_ITEMS",
            "POPULAR_ITEMS",
            "USER_SEGMENTATION",
        )
        assert self.recipe.description
        for hp in self.recipe.describe_hyperparameters():
            assert {"name", "default", "type"} <= set(hp)

    def test_unknown_hyperparameter_is_rejected(self):
        with pytest.raises(ValueError):
            self.recipe(no_such_hyperparameter=1)

    def test_recommend_shapes_and_order(self, model, data):
        users = np.arange(10)
        ids, scores = model.recommend(users, self.histories(data, users), n=5)
        assert ids.shape == (10, 5) and scores.shape == (10, 5)
        assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
        assert np.all((ids >= -1) & (ids < N_ITEMS))

    def test_seen_items_are_excluded(self, model, data):
        users = np.arange(20)
        history = self.histories(data, users)
        ids, _ = model.recommend(users, history, n=10)
        for row, seen in zip(ids, history.items, strict=True):
            assert not set(row[row >= 0]) & set(seen.tolist())

    def test_exclude_and_allow_lists(self, model, data):
        users = np.arange(4)
        history = History.empty(4)
        allow = np.array([1, 3, 5, 20, 22])
        ids, _ = model.recommend(users, history, n=10, exclude_seen=False, allow=allow)
        assert set(ids[ids >= 0]) <= set(allow.tolist())
        exclude = sp.csr_matrix((np.ones(4), (np.arange(4), [1, 3, 20, 22])), shape=(4, N_ITEMS))
        ids, _ = model.recommend(
            users, history, n=10, exclude_seen=False, allow=allow, exclude=exclude
        )
        for row, banned in zip(ids, [1, 3, 20, 22], strict=True):
            assert banned not in row

    def test_personalization_follows_taste(self, model, data):
        if not self.personalized:
            pytest.skip("the same list for everyone")
        users = np.arange(20)
        ids, _ = model.recommend(users, self.histories(data, users), n=5)
        even = ids[0::2][ids[0::2] >= 0]
        odd = ids[1::2][ids[1::2] >= 0]
        assert np.mean(even < 15) > 0.7, ids
        assert np.mean(odd >= 15) > 0.7, ids

    def test_score_agrees_with_recommend(self, model, data):
        user = np.array([2])
        history = self.histories(data, user)
        ids, scores = model.recommend(user, history, n=5)
        items = np.append(ids[0][ids[0] >= 0], N_ITEMS + 5)  # plus an item the model never saw
        got = model.score(2, history, items)
        assert np.isnan(got[-1])
        np.testing.assert_allclose(got[:-1], scores[0][: len(items) - 1], rtol=1e-4, atol=1e-5)

    def test_new_user_known_only_by_history(self, model, data):
        history = History([np.array([16, 17, 18], np.int32)], [np.array([1, 2, 3], np.int64)], None)
        ids, _ = model.recommend(np.array([N_USERS + 3]), history, n=5)
        assert (ids >= 0).sum() > 0

    def test_similar_items(self, model):
        if not self.related_items:
            with pytest.raises(RecipeNotApplicable):
                model.similar_items(np.array([0]), n=3)
            return
        ids, scores = model.similar_items(np.array([0, 16]), n=5)
        assert ids.shape == (2, 5)
        assert 0 not in ids[0] and 16 not in ids[1]

    def test_user_segments(self, model):
        if not self.segments:
            with pytest.raises(RecipeNotApplicable):
                model.user_segments([np.array([0])], n=3)
            return
        users, scores = model.user_segments([np.array([0, 1, 2]), np.array([20, 21])], n=10)
        assert users.shape == (2, 10)
        assert np.mean(users[0] % 2 == 0) > 0.7  # even users like items 0-14
        assert np.mean(users[1] % 2 == 1) > 0.7

    def test_save_and_load_round_trip(self, model, data, tmp_path):
        model.save(tmp_path / "m")
        again = type(model).load(tmp_path / "m")
        users = np.arange(6)
        history = self.histories(data, users)
        a = model.recommend(users, history, n=5)
        b = again.recommend(users, history, n=5)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-5)
        assert again.config == model.config

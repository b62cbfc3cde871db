"""tailor-ease under the recipe contract, plus its closed form and its size limit."""

import numpy as np
import pytest

from engine.recipes.base import History, Interactions, TrainingData
from engine.recipes.ease import Ease
from tests.recipes.contract import RecipeContract


class TestEase(RecipeContract):
    recipe = Ease
    hyperparameters = {"l2_lambda": 10.0}
    related_items = True
    segments = True

    def test_weights_equal_the_closed_form(self, model, data):
        x = data.interactions.matrix().toarray().astype(np.float64)
        p = np.linalg.inv(x.T @ x + 10.0 * np.eye(x.shape[1]))
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        np.testing.assert_allclose(model.weights, b, atol=1e-6)
        history = data.interactions.history(np.arange(5))
        np.testing.assert_allclose(
            model.score_all(np.arange(5), history), x[:5] @ b, rtol=1e-4, atol=1e-6
        )

    def test_related_items_are_columns_of_b(self, model):
        np.testing.assert_allclose(model.similar_scores(np.array([3]))[0], model.weights[:, 3])

    def test_too_many_items_is_refused_before_allocating(self):
        big = Interactions(np.array([0, 1]), np.array([0, 20_000]), np.array([1, 2]), 2, 20_001)
        with pytest.raises(ValueError, match="20,001 items would take 1.6 GB"):
            Ease().fit(TrainingData(big))

    def test_cold_user_gets_popular_items(self, model):
        ids, _ = model.recommend(np.array([999]), History.empty(1), n=1)
        assert ids[0, 0] == np.argmax(model.popularity)

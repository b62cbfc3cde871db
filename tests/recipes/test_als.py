"""tailor-als under the recipe contract, plus its fold-in against implicit's own solve."""

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from engine.recipes.als import ImplicitAls
from engine.recipes.base import History
from tests.recipes.contract import RecipeContract


class TestImplicitAls(RecipeContract):
    recipe = ImplicitAls
    hyperparameters = {"factors": 8, "iterations": 5, "regularization": 0.1}
    segments = True

    @pytest.mark.parametrize("alpha", [1.0, 4.0])  # 1.0: every confidence - 1 is 0
    def test_fold_in_equals_implicit_recalculate_user(self, data, alpha):
        model = ImplicitAls(factors=8, iterations=3, alpha=alpha, regularization=0.5).fit(data)
        history = History(
            [np.array([0, 1, 2, 1], np.int32), np.array([20, 25], np.int32), np.array([], int)]
        )
        ours = model.user_vectors(history)
        with threadpool_limits(1, "blas"):
            reference = AlternatingLeastSquares(factors=8, regularization=0.5, alpha=alpha)
        reference.item_factors = model.item_factors
        reference.user_factors = model.user_factors
        rows = sp.csr_matrix(history.matrix(model.n_items))
        expected = reference.recalculate_user(np.arange(3), rows)
        np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-5)
        assert not ours[2].any()  # nothing known: zero vector (then the popular list)

    def test_progress_is_reported_per_iteration(self, data):
        calls = []
        ImplicitAls(factors=4, iterations=3).fit(data, lambda f, m: calls.append(f))
        assert calls == [1 / 3, 2 / 3, 1.0]

    def test_new_events_change_the_answer(self, model):
        before = model.score_all(np.array([0]), History([np.array([0, 1], np.int32)]))
        after = model.score_all(np.array([0]), History([np.array([0, 1, 20, 21], np.int32)]))
        assert after[0, 22] > before[0, 22]

"""aws-similar-items under the recipe contract, plus neighbours for cold items."""

import numpy as np
import scipy.sparse as sp

from engine.recipes.base import Features, Interactions, TrainingData
from engine.recipes.similar_items import SimilarItems, tfidf_rows
from tests.recipes.contract import N_ITEMS, RecipeContract


def with_cold_item(data: TrainingData) -> TrainingData:
    """The tiny data plus item 30, which nobody touched, in category a (items 0-14)."""
    i = data.interactions
    grown = Interactions(i.user, i.item, i.timestamp, i.n_users, N_ITEMS + 1)
    features = sp.vstack([data.item_features.matrix, sp.csr_matrix(([1.0], ([0], [0])), (1, 2))])
    return TrainingData(grown, item_features=Features(sp.csr_matrix(features), ["a", "b"]))


class TestSimilarItems(RecipeContract):
    recipe = SimilarItems
    related_items = True

    def test_cold_item_gets_neighbours_of_its_category(self, data):
        model = SimilarItems().fit(with_cold_item(data))
        ids, scores = model.similar_items(np.array([30]), n=10)
        assert np.all((ids[0] >= 0) & (ids[0] < 15))
        neighbours_of_warm, _ = model.similar_items(np.array([1]), n=20)
        assert 30 in neighbours_of_warm[0]  # and it is offered as a neighbour too

    def test_metadata_weight_zero_is_co_occurrence_only(self, data):
        model = SimilarItems(metadata_weight=0.0).fit(with_cold_item(data))
        assert model.similarity[30].nnz == 0
        ids, _ = model.similar_items(np.array([30]), n=3)
        np.testing.assert_array_equal(ids[0], np.argsort(-model.popularity, kind="stable")[:3])

    def test_tfidf_weighs_rare_values_more(self):
        features = Features(
            sp.csr_matrix(np.array([[1, 1], [1, 0], [1, 0], [1, 0]], np.float32)),
            ["COLOR=black", "GENRE=niche"],
        )
        rows = tfidf_rows(features, 4).toarray()
        assert rows[0, 1] > rows[0, 0]
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-6)

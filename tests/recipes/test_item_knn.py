"""tailor-item-knn under the recipe contract, plus its cosine and neighbour cut."""

import numpy as np
import scipy.sparse as sp

from engine.recipes.item_knn import ItemKnn, top_k_per_row
from tests.recipes.contract import RecipeContract


class TestItemKnn(RecipeContract):
    recipe = ItemKnn
    related_items = True

    def test_similarity_is_the_cosine(self, model, data):
        x = data.interactions.matrix().toarray().astype(np.float64)
        co = x.T @ x
        norms = np.sqrt(np.diag(co))
        cosine = co / np.outer(norms, norms)
        np.fill_diagonal(cosine, 0.0)
        np.testing.assert_allclose(model.similarity.toarray(), cosine, atol=1e-6)

    def test_neighbours_and_shrink(self, data):
        model = ItemKnn(neighbours=3, shrink=5.0).fit(data)
        assert np.diff(model.similarity.indptr).max() == 3
        full = ItemKnn(shrink=5.0).fit(data).similarity.toarray()
        kept = model.similarity.toarray()
        for row, best in zip(kept, full, strict=True):
            top = np.sort(best)[-3:]
            np.testing.assert_allclose(np.sort(row[row > 0]), top[top > 0], rtol=1e-6)
        assert full.max() < ItemKnn().fit(data).similarity.max()

    def test_top_k_per_row_keeps_the_largest(self):
        m = sp.csr_matrix(np.array([[0, 3, 1, 2], [5, 0, 0, 0], [0, 0, 0, 0]], np.float32))
        kept = top_k_per_row(m, 2).toarray()
        np.testing.assert_array_equal(kept, [[0, 3, 0, 2], [5, 0, 0, 0], [0, 0, 0, 0]])

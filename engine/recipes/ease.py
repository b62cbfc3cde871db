"""tailor-ease: EASE, the closed-form linear item-item model (Steck, WWW 2019).

EASE learns a dense item x item weight matrix B with a zero diagonal that best rebuilds each
user's row of the interaction matrix X from the user's other items:

    min ||X - X B||^2 + l2_lambda ||B||^2   subject to diag(B) = 0

whose solution is P = (X^T X + l2_lambda I)^-1 and B_ij = -P_ij / P_jj (B_jj = 0). A user's
scores are `history @ B`, so new users and new events count without retraining. Column j of B
says which items predict j: the related items of j, and (with the training matrix kept) the
users most likely to take up a set of items (item affinity segments).

B is n_items^2 dense, so the catalogue is capped at MAX_ITEMS items.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from pydantic import Field

from engine.recipes.base import History, Hyperparameters, ProgressFn, Recipe, TrainingData
from engine.recipes.item_knn import item_set_indicator, sparse_from_state, sparse_state

MAX_ITEMS = 20_000
FLOAT64_MAX_ITEMS = 8_000  # invert in float64 (<= 512 MB) up to here, float32 beyond


class Config(Hyperparameters):
    """EASE's hyperparameters."""

    l2_lambda: float = Field(
        300.0,
        ge=1.0,
        le=10_000.0,
        description="L2 penalty on B; larger values favour popular items and smoother lists "
        "(Steck's best values lie between 100 and 1000 on most data).",
    )
    use_weights: bool = Field(
        False,
        description="Train and answer on summed event weights instead of 0/1 interactions.",
    )


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix through its Cholesky factor (LAPACK
    potrf + potri: about half the work of a general inverse); falls back to `inv`."""
    potrf, potri = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potri"), (matrix,))
    factor, info = potrf(matrix, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        return scipy.linalg.inv(matrix, check_finite=False)
    inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        return scipy.linalg.inv(matrix, check_finite=False)
    upper = np.triu(inverse)
    return upper + np.triu(upper, 1).T


def ease_weights(gram: np.ndarray, l2_lambda: float) -> np.ndarray:
    """B from the Gram matrix X^T X (dense, overwritten): B = -P / diag(P), diag(B) = 0."""
    gram[np.diag_indices_from(gram)] += l2_lambda
    precision = spd_inverse(gram)
    precision /= -np.diag(precision)[None, :]
    precision[np.diag_indices_from(precision)] = 0.0
    return precision.astype(np.float32, copy=False)


def check_item_count(n_items: int) -> None:
    """EASE keeps an n_items x n_items dense matrix: refuse catalogues it cannot hold."""
    if n_items > MAX_ITEMS:
        gb = n_items**2 * 4 / 1e9
        raise ValueError(
            f"tailor-ease needs a dense n_items x n_items matrix: {n_items:,} items would take "
            f"{gb:.1f} GB in float32 (about twice that while inverting); the limit is "
            f"{MAX_ITEMS:,} items. Use tailor-item-knn, tailor-als or aws-sims instead."
        )


class Ease(Recipe):
    """Embarrassingly Shallow Autoencoder: a closed-form item-item model with L2 penalty."""

    recipe_arn = "arn:aws:personalize:::recipe/tailor-ease"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "EASE (Steck 2019): a closed-form linear item-item model; very strong on catalogues "
        f"up to {MAX_ITEMS:,} items. Also serves related items and item affinity."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> Ease:
        check_item_count(data.n_items)
        binary = not self.config.use_weights
        self.matrix = data.interactions.matrix(binary=binary)
        self.n_users, self.n_items = self.matrix.shape
        self.popularity = self.matrix.getnnz(axis=0).astype(np.float32)
        dtype = np.float64 if self.n_items <= FLOAT64_MAX_ITEMS else np.float32
        gram = (self.matrix.T @ self.matrix).toarray().astype(dtype, copy=False)
        if progress:
            progress(0.3, "computed X^T X")
        self.weights = ease_weights(gram, self.config.l2_lambda)
        if progress:
            progress(1.0, f"inverted the {self.n_items} x {self.n_items} Gram matrix")
        return self

    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        rows = history.matrix(self.n_items, binary=not self.config.use_weights)
        scores = np.asarray(rows @ self.weights, dtype=np.float32)
        cold = rows.getnnz(axis=1) == 0
        if cold.any():  # nothing known about the user: the popular list
            scores[cold] = self.popularity / (self.popularity.max(initial=0.0) + 1.0)
        return scores

    def similar_scores(self, items: np.ndarray) -> np.ndarray:
        """Column j of B (how much each item predicts j); unknown items get the popular list."""
        items = np.asarray(items)
        popular = self.popularity / (self.popularity.max(initial=0.0) + 1.0)
        scores = np.broadcast_to(popular, (len(items), self.n_items)).astype(np.float32)
        known = (items >= 0) & (items < self.n_items)
        scores[known] = self.weights[:, items[known]].T
        return scores

    def segment_scores(self, item_sets: list[np.ndarray]) -> np.ndarray:
        """Each training user's predicted score summed over the set's items."""
        pick = item_set_indicator(item_sets, self.n_items)
        per_set = self.weights @ pick.toarray()  # n_items x n_sets
        return np.asarray((self.matrix @ per_set).T, dtype=np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights,
            "popularity": self.popularity,
            **sparse_state("matrix", self.matrix),
        }

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights = arrays["weights"]
        self.popularity = arrays["popularity"]
        self.matrix = sparse_from_state(arrays, "matrix", (self.n_users, self.n_items))

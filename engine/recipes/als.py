"""tailor-als: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) by
`implicit`'s AlternatingLeastSquares, with users folded in at answer time.

Training runs implicit's conjugate-gradient ALS on the users x items matrix (0/1, or summed
event weights with `use_weights`), with BLAS held to one thread as implicit asks. Only the
factor arrays are kept. At answer time every user, known or new, is folded in from the
`History` passed in: the exact least-squares solve implicit's `recalculate_user` does,

    x_u = (Y^T Y + reg I + sum_i (c_ui - 1) y_i y_i^T)^-1  sum_i c_ui y_i,   c_ui = alpha r_ui

vectorised over the batch, so new users and new events count without retraining. A known
user with no history given keeps the trained vector; other users with no known items get the
popular list. The trained user factors serve item affinity segments.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from engine.recipes.base import History, Hyperparameters, ProgressFn, Recipe, TrainingData
from engine.recipes.item_knn import item_set_indicator

PADDED_ENTRIES = 1 << 22  # bound on the padded history stack of a fold-in chunk (32 MB)
SYSTEM_ENTRIES = 1 << 24  # bound on the users' f x f systems solved at once (128 MB)


class Config(Hyperparameters):
    """ALS's hyperparameters (implicit's names and defaults, but 64 factors)."""

    factors: int = Field(64, ge=1, le=1024, description="Size of the user and item vectors.")
    regularization: float = Field(
        0.01, ge=0.0, le=1000.0, description="L2 penalty on the user and item vectors."
    )
    alpha: float = Field(
        1.0,
        gt=0.0,
        le=10_000.0,
        description="Confidence scaling: an interaction's confidence is alpha x its value "
        "(implicit's convention; with 0/1 data values of 10-40 are common).",
    )
    iterations: int = Field(15, ge=1, le=1000, description="ALS sweeps over users and items.")
    random_state: int = Field(42, ge=0, description="Seed of the factors' initialisation.")
    use_weights: bool = Field(
        False, description="Use summed event weights as values instead of 0/1 interactions."
    )


def _weighted_grams(rows: sp.csr_matrix, weights: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Per row u: sum over its entries i of weights_ui * y_i y_i^T, as (n_rows, f, f) float64.

    Rows are taken shortest first in chunks whose zero-padded (rows x longest x f) stack stays
    under PADDED_ENTRIES, and each chunk is one batched matrix product."""
    n_rows, f = rows.shape[0], factors.shape[1]
    grams = np.zeros((n_rows, f, f), np.float64)
    weighted = sp.csr_matrix((weights, rows.indices, rows.indptr), shape=rows.shape, copy=True)
    weighted.eliminate_zeros()  # weight 0 (confidence 1) adds nothing: skip it
    lengths = np.diff(weighted.indptr)
    order = np.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]
    budget = max(1, PADDED_ENTRIES // f)
    start = 0
    while start < len(order):
        count = np.arange(1, len(order) - start + 1)
        fits = count * lengths[order[start : start + len(count)]] <= budget
        end = start + max(1, int(fits.sum()))  # lengths ascend, so `fits` is a prefix
        users = order[start:end]
        grams[users] = _padded_gram(weighted, users, lengths[users], factors)
        start = end
    return grams


def _padded_gram(
    weighted: sp.csr_matrix, users: np.ndarray, lengths: np.ndarray, factors: np.ndarray
) -> np.ndarray:
    """sum_i w_ui y_i y_i^T for `users`, through a zero-padded (users x longest x f) stack."""
    total = int(lengths.sum())
    row = np.repeat(np.arange(len(users)), lengths)
    position = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    entry = np.repeat(weighted.indptr[users], lengths) + position
    stacked = np.zeros((len(users), int(lengths.max()), factors.shape[1]), np.float64)
    scale = np.zeros(stacked.shape[:2], np.float64)
    stacked[row, position] = factors[weighted.indices[entry]]
    scale[row, position] = weighted.data[entry]
    return np.matmul(stacked.transpose(0, 2, 1), stacked * scale[:, :, None])


def fold_in_base(item_factors: np.ndarray, regularization: float) -> tuple[np.ndarray, np.ndarray]:
    """The item factors in float64 and YᵀY + rI: what every fold-in against them shares."""
    y64 = item_factors.astype(np.float64)
    return y64, y64.T @ y64 + regularization * np.eye(item_factors.shape[1])


def fold_in(
    rows: sp.csr_matrix,
    item_factors: np.ndarray,
    regularization: float,
    alpha: float,
    prepared: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """User vectors (float32) that best explain `rows` (users x items values) given fixed item
    factors: implicit's `recalculate_user` (Cholesky solve), batched. Empty rows give 0.
    `prepared`: `fold_in_base(item_factors, regularization)`, when the caller keeps it."""
    rows = sp.csr_matrix(rows, dtype=np.float32)
    f = item_factors.shape[1]
    y64, base = prepared if prepared is not None else fold_in_base(item_factors, regularization)
    out = np.zeros((rows.shape[0], f), np.float32)
    step = max(1, SYSTEM_ENTRIES // (f * f))  # users whose f x f systems are held at once
    for start in range(0, rows.shape[0], step):
        part = rows[start : start + step]
        confidence = alpha * part.data.astype(np.float64)
        gram = base[None] + _weighted_grams(part, np.abs(confidence) - 1.0, item_factors)
        positive = sp.csr_matrix(
            (np.maximum(confidence, 0.0), part.indices, part.indptr), shape=part.shape
        )
        target = np.asarray(positive @ y64)
        has = np.diff(part.indptr) > 0
        if has.any():
            solved = np.linalg.solve(gram[has], target[has][:, :, None])[:, :, 0]
            out[start : start + step][has] = solved
    return out


class ImplicitAls(Recipe):
    """Weighted matrix factorisation for implicit feedback, trained by alternating least
    squares (implicit's CPU solver)."""

    recipe_arn = "arn:aws:personalize:::recipe/tailor-als"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Implicit-feedback matrix factorisation (ALS, Hu et al. 2008) via the implicit "
        "library; users are folded in from their latest history at answer time."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> ImplicitAls:
        from implicit.cpu.als import AlternatingLeastSquares  # optional heavy dependency

        cfg = self.config
        matrix = data.interactions.matrix(binary=not cfg.use_weights)
        self.n_users, self.n_items = matrix.shape
        self.popularity = matrix.getnnz(axis=0).astype(np.float32)

        def each_iteration(iteration: int, elapsed: float, loss: float | None) -> None:
            if progress:
                progress((iteration + 1) / cfg.iterations, f"ALS iteration {iteration + 1}")

        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                alpha=cfg.alpha,
                iterations=cfg.iterations,
                random_state=cfg.random_state,
            )
            model.fit(matrix, show_progress=False, callback=each_iteration)
        self.item_factors = np.ascontiguousarray(model.item_factors, np.float32)
        self.user_factors = np.ascontiguousarray(model.user_factors, np.float32)
        self._prepared = None
        return self

    def user_vectors(self, history: History) -> np.ndarray:
        """Each history folded into a user vector (batch x factors)."""
        rows = history.matrix(self.n_items, binary=not self.config.use_weights)
        prepared = getattr(self, "_prepared", None)
        if prepared is None or prepared[0].shape != self.item_factors.shape:
            prepared = self._prepared = fold_in_base(self.item_factors, self.config.regularization)
        return fold_in(
            rows, self.item_factors, self.config.regularization, self.config.alpha, prepared
        )

    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        vectors = self.user_vectors(history)
        users = np.asarray(users)
        trained = ~vectors.any(axis=1) & (users >= 0) & (users < len(self.user_factors))
        vectors[trained] = self.user_factors[users[trained]]  # known, but no history given
        scores = vectors @ self.item_factors.T
        cold = ~vectors.any(axis=1)
        if cold.any():  # nothing known about the user: the popular list
            scores[cold] = self.popularity / (self.popularity.max(initial=0.0) + 1.0)
        return scores.astype(np.float32, copy=False)

    def segment_scores(self, item_sets: list[np.ndarray]) -> np.ndarray:
        """Each training user's predicted score summed over the set's items."""
        per_set = item_set_indicator(item_sets, self.n_items).T @ self.item_factors
        return np.asarray(per_set @ self.user_factors.T, dtype=np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {
            "item_factors": self.item_factors,
            "user_factors": self.user_factors,
            "popularity": self.popularity,
        }

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self._prepared = None
        self.item_factors = arrays["item_factors"]
        self.user_factors = arrays["user_factors"]
        self.popularity = arrays["popularity"]

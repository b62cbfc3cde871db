"""aws-item-affinity and aws-item-attribute-affinity: user segments from implicit-feedback ALS.

Both recipes fit one model, implicit's Alternating Least Squares (Hu, Koren & Volinsky 2008:
confidence `alpha * summed event weight` on observed pairs, 1 elsewhere). The affinity of a
user for a set of items is the mean predicted preference over the set, i.e. the user's factors
dotted with the set's mean item factors, so one matrix product scores every known user for
every set. Item-Affinity passes one item per set; Item-Attribute-Affinity the items matching an
attribute query (the caller resolves the query to item ids). Items the model has not seen are
ignored; a set with none it knows gives an empty segment (-inf for everyone).

`score_all` recommends from the same model. A non-empty `History` is folded in exactly as one
ALS user step (a k x k solve against the fixed item factors), so new events count at once and
new users are served from their history; a known user with no history uses the trained factors.
"""

from __future__ import annotations

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from pydantic import Field
from threadpoolctl import threadpool_limits

from engine.recipes.base import History, Hyperparameters, ProgressFn, Recipe, TrainingData


class Config(Hyperparameters):
    """ALS hyperparameters of the affinity recipes."""

    factors: int = Field(64, ge=1, le=512, description="Number of latent factors.")
    regularization: float = Field(
        0.1, ge=0.0, le=1000.0, description="L2 penalty on user and item factors."
    )
    alpha: float = Field(
        10.0, gt=0.0, le=10000.0, description="Confidence of an observed pair per unit of weight."
    )
    iterations: int = Field(15, ge=1, le=200, description="ALS sweeps (users then items).")
    random_state: int = Field(42, ge=0, description="Seed of the factor initialisation.")


class ItemAffinity(Recipe):
    """Users most likely to interact with each given item (one segment per item)."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-item-affinity"
    recipe_type = "USER_SEGMENTATION"
    description = (
        "User segments: the users most likely to interact with each item, from an "
        "implicit-feedback ALS factor model."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> ItemAffinity:
        self.n_users, self.n_items = data.n_users, data.n_items
        confidence = data.interactions.matrix(binary=False)
        confidence.eliminate_zeros()
        c = self.config

        def report(iteration: int, _elapsed: float, _loss: float | None) -> None:
            if progress:
                progress((iteration + 1) / c.iterations, f"ALS sweep {iteration + 1}")

        with threadpool_limits(1):  # implicit checks (and warns about) BLAS threads on creation
            model = AlternatingLeastSquares(
                factors=c.factors,
                regularization=c.regularization,
                alpha=c.alpha,
                iterations=c.iterations,
                num_threads=1,
                random_state=c.random_state,
            )
            model.fit(confidence, show_progress=False, callback=report)
        self.user_factors = np.asarray(model.user_factors, np.float32)
        self.item_factors = np.asarray(model.item_factors, np.float32)
        return self

    # --- segments ---------------------------------------------------------------------------

    def segment_scores(self, item_sets: list[np.ndarray]) -> np.ndarray:
        means = np.zeros((len(item_sets), self.item_factors.shape[1]), np.float32)
        empty = np.zeros(len(item_sets), bool)
        for s, items in enumerate(item_sets):
            items = np.asarray(items, np.int64)
            items = np.unique(items[(items >= 0) & (items < self.n_items)])
            if len(items):
                means[s] = self.item_factors[items].mean(axis=0)
            else:
                empty[s] = True
        scores = means @ self.user_factors.T
        scores[empty] = -np.inf
        return scores.astype(np.float32)

    # --- recommendations --------------------------------------------------------------------

    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        users = np.asarray(users)
        vectors = np.zeros((len(users), self.item_factors.shape[1]), np.float32)
        known = (users >= 0) & (users < self.n_users)
        vectors[known] = self.user_factors[users[known]]
        folded, has_history = self.fold_in(history)
        vectors[has_history] = folded[has_history]
        return (vectors @ self.item_factors.T).astype(np.float32)

    def fold_in(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        """One exact ALS user step per history row: solve
        (YᵀY + λI + Σ (c-1) y yᵀ) x = Σ c y over the history's items, c = alpha * weight
        (negative weights are dislikes, as in implicit). Returns (factors, has history)."""
        y = self.item_factors.astype(np.float64)
        k = y.shape[1]
        base = y.T @ y + self.config.regularization * np.eye(k)
        ratings = history.matrix(self.n_items, binary=False)
        lhs = np.broadcast_to(base, (len(history), k, k)).copy()
        rhs = np.zeros((len(history), k))
        for r in range(len(history)):
            start, end = ratings.indptr[r], ratings.indptr[r + 1]
            items, c = ratings.indices[start:end], self.config.alpha * ratings.data[start:end]
            liked, c = c > 0, np.abs(c)
            lhs[r] += (y[items] * (c - 1.0)[:, None]).T @ y[items]
            rhs[r] = (c * liked) @ y[items]
        has = np.diff(ratings.indptr) > 0
        out = np.zeros((len(history), k), np.float32)
        if has.any():
            out[has] = np.linalg.solve(lhs[has], rhs[has][..., None])[..., 0]
        return out, has

    # --- persistence ------------------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors = arrays["user_factors"]
        self.item_factors = arrays["item_factors"]


class ItemAttributeAffinity(ItemAffinity):
    """Users most likely to interact with items matching an attribute query (one segment per
    query; the caller passes the matching item ids)."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"
    recipe_type = "USER_SEGMENTATION"
    description = (
        "User segments: the users with the highest mean affinity to the items matching an "
        "attribute query (e.g. GENRE = comedy), from an implicit-feedback ALS factor model."
    )

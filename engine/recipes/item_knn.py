"""tailor-item-knn: cosine item-item neighbours, plus the sparse neighbour helpers other
neighbourhood recipes (aws-sims, aws-similar-items) share.

The similarity of items i and j is the number of users who interacted with both, divided by
`sqrt(n_i * n_j) + shrink` (cosine on the binary users x items matrix, shrunk towards 0 for
items with few users). Only the best `neighbours` per item are kept, as a sparse matrix `S`
whose row i holds i's neighbours. A user's scores are `history @ S`: the summed similarity of
each item to everything the user did, so new events count without retraining. Items no
neighbour reaches are ranked after the neighbours by popularity (the fallback Personalize's
neighbourhood recipes use).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from engine.recipes.base import (
    History,
    Hyperparameters,
    ProgressFn,
    Recipe,
    TrainingData,
)

# values, row item ids, column item ids -> new values (0 drops the pair)
WeighFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
BLOCK_ENTRIES = 8_000_000  # rows of a block x n_items stays under this many entries


# --- helpers shared by the neighbourhood recipes --------------------------------------------


def popular_fill(scores: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Scores where every item a row leaves at 0 ranks after the row's positive scores, by
    popularity: rows with no positive score (unknown items, cold users) become the popular
    list. Scores must be >= 0; returns a new float32 array."""
    scores = np.asarray(scores, np.float32)
    positive = scores > 0
    floor = np.where(positive, scores, np.inf).min(axis=1, initial=np.inf)
    floor = np.where(np.isfinite(floor), floor, 1.0).astype(np.float32)
    share = popularity / (popularity.max(initial=0.0) + 1.0)  # in [0, 1)
    fill = 0.5 * floor[:, None] * share[None, :].astype(np.float32)
    return np.where(positive, scores, fill).astype(np.float32)


DENSE_TOP_K_ENTRIES = 1 << 24  # blocks up to 16M entries take the dense path (64 MB float32)


def _top_k_dense(dense: np.ndarray, k: int) -> sp.csr_matrix:
    """`top_k_per_row` on a dense block: argpartition, then ties at the k-th value resolved
    by column order, exactly as the sparse path does (without sorting every entry)."""
    k = min(k, dense.shape[1])
    kth = -np.partition(-dense, k - 1, axis=1)[:, k - 1 : k]
    above = dense > kth
    tied = dense == kth
    room = k - above.sum(axis=1, keepdims=True)
    keep = (above | (tied & (np.cumsum(tied, axis=1) <= room))) & (dense != 0)
    out = sp.csr_matrix(np.where(keep, dense, 0.0), dtype=np.float32)
    out.sort_indices()
    return out


def top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the `k` largest entries of each row (ties by column order); zeros are dropped."""
    matrix = sp.csr_matrix(matrix)
    matrix.eliminate_zeros()
    counts = np.diff(matrix.indptr)
    if counts.max(initial=0) <= k:
        matrix.sort_indices()
        return matrix
    if matrix.shape[0] * matrix.shape[1] <= DENSE_TOP_K_ENTRIES:
        return _top_k_dense(matrix.toarray(), k)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((-matrix.data, rows))
    rank = np.arange(len(order)) - np.repeat(matrix.indptr[:-1], counts)
    keep = order[rank < k]
    out = sp.csr_matrix(
        (matrix.data[keep], (rows[keep], matrix.indices[keep])),
        shape=matrix.shape,
        dtype=np.float32,
    )
    out.sort_indices()
    return out


def item_item_neighbours(
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    k: int,
    weigh: WeighFn,
    progress: Callable[[float], None] | None = None,
) -> sp.csr_matrix:
    """Top-`k` item-item matrix from the products `left[rows] @ right`, block by block.

    `left` is items x something (users, features) and `right` something x items; each pair's
    product is re-weighted by `weigh(values, row items, column items)`; an item is never its
    own neighbour. Memory stays bounded by computing BLOCK_ENTRIES-sized row blocks.
    """
    n_rows, n_cols = left.shape[0], right.shape[1]
    step = int(np.clip(BLOCK_ENTRIES // max(n_cols, 1), 16, 4096))
    blocks = []
    for start in range(0, n_rows, step):
        block = sp.csr_matrix(left[start : start + step] @ right, dtype=np.float32)
        rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr)) + start
        values = weigh(block.data, rows, block.indices)
        block.data = np.where(block.indices == rows, 0.0, values).astype(np.float32)
        blocks.append(top_k_per_row(block, k))
        if progress:
            progress(min(1.0, (start + step) / max(n_rows, 1)))
    if not blocks:
        return sp.csr_matrix((n_rows, n_cols), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=np.float32)


def sparse_state(name: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    """A CSR matrix as three named arrays (for `Recipe.state`)."""
    return {
        f"{name}_indptr": matrix.indptr,
        f"{name}_indices": matrix.indices,
        f"{name}_data": matrix.data,
    }


def sparse_from_state(
    arrays: dict[str, np.ndarray], name: str, shape: tuple[int, int]
) -> sp.csr_matrix:
    """The CSR matrix `sparse_state(name, ...)` saved."""
    return sp.csr_matrix(
        (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
        shape=shape,
    )


def item_set_indicator(item_sets: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Items x sets: 1 where an item (known to the model) belongs to a set."""
    rows, cols = [], []
    for k, items in enumerate(item_sets):
        items = np.unique(np.asarray(items, np.int64))
        items = items[(items >= 0) & (items < n_items)]
        rows.append(items)
        cols.append(np.full(len(items), k))
    rows_all = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols_all = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return sp.csr_matrix(
        (np.ones(len(rows_all), np.float32), (rows_all, cols_all)),
        shape=(n_items, len(item_sets)),
    )


# --- the recipe -----------------------------------------------------------------------------


class NeighbourhoodRecipe(Recipe):
    """A recipe answered from a sparse item x item `similarity` (row i = i's neighbours) and
    item `popularity` (the fallback); subclasses only `fit` them."""

    similarity: sp.csr_matrix
    popularity: np.ndarray

    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        scores = (history.matrix(self.n_items) @ self.similarity).toarray()
        return popular_fill(scores, self.popularity)

    def similar_scores(self, items: np.ndarray) -> np.ndarray:
        """Each item's neighbours, then popular items; unknown items get the popular list."""
        items = np.asarray(items)
        scores = np.zeros((len(items), self.n_items), np.float32)
        known = (items >= 0) & (items < self.n_items)
        scores[known] = self.similarity[items[known]].toarray()
        return popular_fill(scores, self.popularity)

    def state(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity, **sparse_state("similarity", self.similarity)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity = arrays["popularity"]
        shape = (self.n_items, self.n_items)
        self.similarity = sparse_from_state(arrays, "similarity", shape)


class Config(Hyperparameters):
    """Item-KNN's hyperparameters."""

    neighbours: int = Field(
        100, ge=1, le=10_000, description="Neighbours kept per item (the rest count as 0)."
    )
    shrink: float = Field(
        0.0,
        ge=0.0,
        le=10_000.0,
        description="Added to the cosine's denominator: pulls the similarity of items with "
        "few users towards 0 (0 = plain cosine).",
    )


class ItemKnn(NeighbourhoodRecipe):
    """Item-based collaborative filtering with cosine similarity (Sarwar et al. 2001)."""

    recipe_arn = "arn:aws:personalize:::recipe/tailor-item-knn"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Item-based k-nearest neighbours: items similar (cosine over users) to what the user "
        "did. Fast, transparent, and new events count at once."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> ItemKnn:
        matrix = data.interactions.matrix(binary=True)
        self.n_users, self.n_items = matrix.shape
        self.popularity = matrix.getnnz(axis=0).astype(np.float32)
        norms = np.sqrt(self.popularity)
        shrink = np.float32(self.config.shrink)

        def cosine(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            return values / (norms[rows] * norms[cols] + shrink)

        report = (lambda f: progress(f, "item-item similarities")) if progress else None
        self.similarity = item_item_neighbours(
            matrix.T.tocsr(), matrix, self.config.neighbours, cosine, report
        )
        if progress:
            progress(1.0, f"kept {self.similarity.nnz} item pairs")
        return self

"""aws-similar-items: related items from co-occurrence blended with item metadata similarity.

Two similarities are computed per item pair and blended:

- co-occurrence, as in aws-sims (shared users, discounted by popularity), each item's row
  scaled so its best neighbour scores 1;
- metadata: the cosine between the items' `Items` feature rows (categorical values and text
  tokens are already one column each), with columns TF-IDF-weighted so rare values (a niche
  genre, an unusual word) count more than values most items share.

    similarity = (1 - metadata_weight) * co-occurrence + metadata_weight * metadata

and the best `neighbours` per item are kept. Items nobody interacted with still get (and
appear as) neighbours through their metadata, which is what Personalize promises for cold
items. Unknown items, and items with neither, get popular items.

Personalize's Similar-Items learns item-id and metadata embeddings (`item_id_hidden_dim`,
`item_metadata_hidden_dim`); Tailor's has no embeddings, so those two are accepted for
compatibility and otherwise unused.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from engine.recipes.base import Features, ProgressFn, TrainingData
from engine.recipes.item_knn import NeighbourhoodRecipe, item_item_neighbours, top_k_per_row
from engine.recipes.sims import CooccurrenceConfig, cooccurrence_similarity


class Config(CooccurrenceConfig):
    """Similar-Items' hyperparameters: the co-occurrence ones of SIMS plus the blend."""

    metadata_weight: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Share of item metadata similarity in the blend (0 = co-occurrence only, "
        "1 = metadata only).",
    )
    item_id_hidden_dim: int = Field(
        100,
        ge=1,
        le=1024,
        description="Accepted for compatibility with Personalize; unused (no embeddings).",
    )
    item_metadata_hidden_dim: int = Field(
        100,
        ge=1,
        le=1024,
        description="Accepted for compatibility with Personalize; unused (no embeddings).",
    )


def tfidf_rows(features: Features, n_items: int) -> sp.csr_matrix:
    """Items x features, TF-IDF weighted (smoothed idf) and L2-normalised per row."""
    matrix = sp.csr_matrix(features.matrix, dtype=np.float32)
    if matrix.shape[0] < n_items:  # items newer than the feature matrix have no metadata
        matrix = sp.vstack([matrix, sp.csr_matrix((n_items - matrix.shape[0], matrix.shape[1]))])
    matrix = sp.csr_matrix(matrix[:n_items], dtype=np.float32)
    matrix.data = np.abs(matrix.data)
    matrix.eliminate_zeros()
    frequency = matrix.getnnz(axis=0)
    idf = np.log((1.0 + n_items) / (1.0 + frequency)) + 1.0
    weighted = sp.csr_matrix(matrix @ sp.diags(idf.astype(np.float32)), dtype=np.float32)
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ weighted, dtype=np.float32)


def metadata_similarity(
    features: Features | None, n_items: int, neighbours: int, progress: ProgressFn | None
) -> sp.csr_matrix:
    """Top-neighbour cosine similarity of the items' TF-IDF feature rows (empty if none)."""
    if features is None or features.n_features == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    rows = tfidf_rows(features, n_items)
    report = (lambda f: progress(0.5 + 0.4 * f, "metadata similarities")) if progress else None
    return item_item_neighbours(rows, rows.T.tocsr(), neighbours, lambda v, r, c: v, report)


def scale_rows_to_max(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its largest entry (entries >= 0), so the best neighbour is 1."""
    top = matrix.max(axis=1).toarray().ravel()
    scale = np.divide(1.0, top, out=np.zeros_like(top), where=top > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ matrix, dtype=np.float32)


class SimilarItems(NeighbourhoodRecipe):
    """Related items from what users do together and what the items are."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-similar-items"
    recipe_type = "RELATED_ITEMS"
    description = (
        "Items similar to a given item by co-occurrence and item metadata (categories, text); "
        "cold items get neighbours through their metadata."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> SimilarItems:
        cfg = self.config
        matrix = data.interactions.matrix(binary=True)
        self.n_users, self.n_items = matrix.shape
        self.popularity = matrix.getnnz(axis=0).astype(np.float32)
        co_report = (lambda f, m: progress(0.5 * f, m)) if progress else None
        behaviour = scale_rows_to_max(cooccurrence_similarity(matrix, cfg, co_report))
        metadata = metadata_similarity(data.item_features, self.n_items, cfg.neighbours, progress)
        blend = (1.0 - cfg.metadata_weight) * behaviour + cfg.metadata_weight * metadata
        self.similarity = top_k_per_row(sp.csr_matrix(blend, dtype=np.float32), cfg.neighbours)
        if progress:
            progress(1.0, f"{self.similarity.nnz} similar pairs")
        return self

"""Offline metrics of top-k recommendation lists: GetSolutionMetrics' names plus Tailor's own.

Inputs are `recommended` (users x k dense item ids, best first, -1 = no recommendation) and
`truth` (per user, the held-out item ids). Relevance is binary: a recommended item is a hit if
it is in the user's truth (duplicates in the truth count once). Users whose truth is empty
are left out of the accuracy averages; every other metric is a mean over users.

Accuracy (means over users; H_u(k) = hits among the first k, T_u = truth set, r = 1-based rank):
- `precision_at_K` = H_u(K) / K (Personalize divides by K even when fewer items came back);
- `recall_at_25` = H_u(25) / |T_u|;
- `mean_reciprocal_rank_at_25` = 1 / (rank of the first hit within the top 25), 0 if none;
- `normalized_discounted_cumulative_gain_at_K` = DCG / IDCG with DCG = sum over hits of
  1 / log2(1 + r) and IDCG = sum_{r=1..min(|T_u|, K)} 1 / log2(1 + r) (Personalize's
  "1/log(1 + position)"; the log base cancels).

Catalogue and beyond-accuracy (over the top 25):
- `coverage` = |distinct recommended items| / n_items (the share of the catalogue that
  appears in any list);
- `novelty_at_25` = mean over users of mean over their items of -log2 p(i), with p(i) =
  popularity(i) / sum(popularity) the item's share of the training popularity (items with
  popularity 0 count as 1); needs `item_popularity`;
- `popularity_bias_at_25` = mean over users of the mean popularity *percentile* of their items,
  (rank(i) - 1) / (n_items - 1) with ties at their average rank: 1.0 = only the most popular
  item, 0.5 = as popular as the median item (a scale-free variant of average recommendation
  popularity, ARP); needs `item_popularity`;
- `intra_list_diversity_at_25` = mean over users (with >= 2 items) of the mean over item pairs
  of 1 - cos(f_i, f_j), f = item feature rows (an item without features is orthogonal to all);
  needs `item_features`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

if TYPE_CHECKING:
    from engine.recipes.base import Interactions, Recipe
    from engine.training.split import Split

CUTOFFS = (5, 10, 25)
LIST_LENGTH = 25


def evaluate(
    recommended: np.ndarray,
    truth: list[np.ndarray],
    n_items: int,
    item_popularity: np.ndarray | None = None,
    item_features: Any = None,
) -> dict[str, float]:
    """Personalize's metrics (and Tailor's extras) for these lists against this truth."""
    recommended = _as_lists(recommended, len(truth))
    truth_sizes, hits = _hits(recommended, truth, n_items)
    judged = truth_sizes > 0
    out: dict[str, float] = {"coverage": coverage(recommended, n_items)}
    if judged.any():
        h, sizes = hits[judged], truth_sizes[judged]
        out["mean_reciprocal_rank_at_25"] = float(_reciprocal_rank(h).mean())
        for k in CUTOFFS:
            out[f"normalized_discounted_cumulative_gain_at_{k}"] = float(_ndcg(h, sizes, k).mean())
        for k in CUTOFFS:
            out[f"precision_at_{k}"] = float((h[:, :k].sum(axis=1) / k).mean())
        out["recall_at_25"] = float((h.sum(axis=1) / sizes).mean())
    else:
        for name in _accuracy_names():
            out[name] = 0.0
    if item_popularity is not None:
        popularity = np.asarray(item_popularity, dtype=np.float64)[:n_items]
        out["novelty_at_25"] = _mean_over_lists(recommended, _self_information(popularity))
        out["popularity_bias_at_25"] = _mean_over_lists(recommended, _percentile(popularity))
    if item_features is not None:
        out["intra_list_diversity_at_25"] = intra_list_diversity(recommended, item_features)
    return out


def evaluate_recipe(
    recipe: Recipe, split: Split, k: int = LIST_LENGTH, item_features: Any = None
) -> dict[str, float]:
    """Metrics of a fitted recipe on a `Split`: it recommends `k` items (seen items excluded)
    for the test users from their input history; popularity comes from the split's training
    events (distinct users per item)."""
    ids, _ = recipe.recommend(split.test_users, split.test_history, n=k)
    return evaluate(
        ids,
        split.truth,
        split.train.n_items,
        item_popularity=item_popularity(split.train),
        item_features=item_features,
    )


def item_popularity(interactions: Interactions) -> np.ndarray:
    """Distinct users per item (Personalize's popularity count) of an `Interactions`."""
    return np.asarray(interactions.matrix(binary=True).sum(axis=0)).ravel()


def coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the `n_items` catalogue that appears in at least one list."""
    ids = recommended[(recommended >= 0) & (recommended < n_items)]
    return float(len(np.unique(ids)) / n_items) if n_items else 0.0


def intra_list_diversity(recommended: np.ndarray, item_features: Any) -> float:
    """Mean over lists (>= 2 items) of the mean pairwise 1 - cosine of the items' features
    (items x features: a sparse or dense matrix, or a `Features`).

    Uses sum_{i != j} cos(f_i, f_j) = |sum_i g_i|^2 - sum_i |g_i|^2 with g = f / |f|, so no
    pair is formed explicitly."""
    if isinstance(getattr(item_features, "matrix", None), sp.spmatrix | sp.sparray):
        item_features = item_features.matrix  # a `Features`
    features = sp.csr_matrix(item_features, dtype=np.float64)
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    unit = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ features
    unit_sq = np.asarray(unit.multiply(unit).sum(axis=1)).ravel()  # 1, or 0 without features
    lists = _indicator(recommended, features.shape[0])
    sizes = np.asarray(lists.sum(axis=1)).ravel()
    summed = lists @ unit
    pair_sum = np.asarray(summed.multiply(summed).sum(axis=1)).ravel() - lists @ unit_sq
    keep = sizes >= 2
    if not keep.any():
        return 0.0
    mean_cos = pair_sum[keep] / (sizes[keep] * (sizes[keep] - 1))
    return float((1.0 - mean_cos).mean())


# --- pieces -----------------------------------------------------------------------------------


def _accuracy_names() -> list[str]:
    names = ["mean_reciprocal_rank_at_25"]
    names += [f"normalized_discounted_cumulative_gain_at_{k}" for k in CUTOFFS]
    names += [f"precision_at_{k}" for k in CUTOFFS] + ["recall_at_25"]
    return names


def _as_lists(recommended: np.ndarray, n_users: int) -> np.ndarray:
    """The first 25 columns as int64, padded with -1 to 25 columns."""
    recommended = np.asarray(recommended, dtype=np.int64).reshape(n_users, -1)[:, :LIST_LENGTH]
    pad = LIST_LENGTH - recommended.shape[1]
    if pad:
        recommended = np.hstack([recommended, np.full((n_users, pad), -1, np.int64)])
    return recommended


def _hits(
    recommended: np.ndarray, truth: list[np.ndarray], n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """(distinct truth items per user, users x 25 boolean hit matrix)."""
    n_users = len(truth)
    lengths = np.array([len(t) for t in truth], dtype=np.int64)
    rows = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    items = np.concatenate(truth).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    width = max(n_items, int(items.max()) + 1 if len(items) else 0, 1)
    truth_keys = np.unique(rows * width + items)
    sizes = np.bincount(truth_keys // width, minlength=n_users)
    keys = np.arange(n_users, dtype=np.int64)[:, None] * width + recommended
    hits = np.isin(keys, truth_keys) & (recommended >= 0)
    # a list that repeats an item gets credit for it once
    first = _first_occurrence(recommended)
    return sizes, hits & first


def _first_occurrence(recommended: np.ndarray) -> np.ndarray:
    """True where an id appears for the first time in its row."""
    order = np.argsort(recommended, axis=1, kind="stable")
    ordered = np.take_along_axis(recommended, order, axis=1)
    repeat = np.zeros_like(ordered, dtype=bool)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    out = np.empty_like(repeat)
    np.put_along_axis(out, order, ~repeat, axis=1)
    return out


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def _ndcg(hits: np.ndarray, truth_sizes: np.ndarray, k: int) -> np.ndarray:
    discount = _discounts(k)
    dcg = hits[:, :k] @ discount
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(truth_sizes, k)]
    return dcg / ideal


def _reciprocal_rank(hits: np.ndarray) -> np.ndarray:
    first = hits.argmax(axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


def _self_information(popularity: np.ndarray) -> np.ndarray:
    counts = np.maximum(popularity, 1.0)
    return -np.log2(counts / counts.sum())


def _percentile(popularity: np.ndarray) -> np.ndarray:
    if len(popularity) < 2:
        return np.ones(len(popularity))
    return (rankdata(popularity, method="average") - 1.0) / (len(popularity) - 1)


def _mean_over_lists(recommended: np.ndarray, per_item: np.ndarray) -> float:
    """Mean over non-empty lists of the mean of `per_item` over the list's items."""
    valid = (recommended >= 0) & (recommended < len(per_item))
    values = np.where(valid, per_item[np.where(valid, recommended, 0)], 0.0)
    sizes = valid.sum(axis=1)
    keep = sizes > 0
    return float((values.sum(axis=1)[keep] / sizes[keep]).mean()) if keep.any() else 0.0


def _indicator(recommended: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Users x items, 1 where the item is in the user's list (repeats count once)."""
    rows, cols = np.nonzero((recommended >= 0) & (recommended < n_items))
    m = sp.csr_matrix(
        (np.ones(len(rows)), (rows, recommended[rows, cols])),
        shape=(len(recommended), n_items),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m

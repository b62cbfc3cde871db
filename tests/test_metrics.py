"""engine.training.metrics against ranx (an independent implementation) and hand computations."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from engine.recipes.base import Features
from engine.training.metrics import evaluate, evaluate_recipe, item_popularity

NDCG = "normalized_discounted_cumulative_gain_at_"


def ranx_metrics(recommended: np.ndarray, truth: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-user ndcg/precision/mrr/recall from ranx, for users with a non-empty truth."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ranx import Qrels, Run
        from ranx import evaluate as ranx_evaluate

        qrels, run = {}, {}
        for u, (row, items) in enumerate(zip(recommended, truth, strict=True)):
            if len(items) == 0:
                continue
            qrels[f"u{u}"] = {f"i{i}": 1 for i in items}
            listed = [i for i in row if i >= 0]
            # ranx needs every query in the run; an item no truth holds stands for "nothing"
            ranked = {f"i{i}": float(len(row) - r) for r, i in enumerate(listed)}
            run[f"u{u}"] = ranked or {"none": 0.0}
        names = ["ndcg@5", "ndcg@10", "ndcg@25", "precision@5", "precision@10", "precision@25"]
        names += ["mrr@25", "recall@25"]
        return ranx_evaluate(Qrels(qrels), Run(run), names, return_mean=False)


def assert_matches_ranx(recommended: np.ndarray, truth: list[np.ndarray], n_items: int) -> None:
    ours = evaluate(recommended, truth, n_items)
    theirs = {k: float(np.mean(v)) for k, v in ranx_metrics(recommended, truth).items()}
    names = {
        f"{NDCG}5": "ndcg@5",
        f"{NDCG}10": "ndcg@10",
        f"{NDCG}25": "ndcg@25",
        "precision_at_5": "precision@5",
        "precision_at_10": "precision@10",
        "precision_at_25": "precision@25",
        "mean_reciprocal_rank_at_25": "mrr@25",
        "recall_at_25": "recall@25",
    }
    for ours_name, ranx_name in names.items():
        assert ours[ours_name] == pytest.approx(theirs[ranx_name], abs=1e-9), ours_name


def random_case(seed: int, n_users: int = 200, n_items: int = 60, k: int = 25):
    """Random distinct lists (some padded with -1) and random truths of 1-40 items."""
    rng = np.random.default_rng(seed)
    recommended = np.full((n_users, k), -1, np.int64)
    truth = []
    for u in range(n_users):
        length = int(rng.integers(0, k + 1)) if u % 5 == 0 else k
        recommended[u, :length] = rng.choice(n_items, size=length, replace=False)
        size = int(rng.integers(1, 41))
        # skew the truth towards low ids so that hits happen often
        p = 1.0 / np.arange(1, n_items + 1)
        truth.append(rng.choice(n_items, size=size, replace=False, p=p / p.sum()))
    return recommended, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_lists_match_ranx(seed: int) -> None:
    recommended, truth = random_case(seed)
    assert_matches_ranx(recommended, truth, 60)


def test_hand_made_lists_match_ranx_and_hand_values() -> None:
    recommended = np.array(
        [
            [3, 1, 4, 0, 5, -1, -1],  # truth {1, 5}: hits at ranks 2 and 5
            [9, 8, 7, 6, 2, 0, 1],  # truth {0}: hit at rank 6
            [-1, -1, -1, -1, -1, -1, -1],  # nothing recommended
        ]
    )
    truth = [np.array([5, 1]), np.array([0]), np.array([4, 4])]
    assert_matches_ranx(recommended, truth, 10)
    m = evaluate(recommended, truth, 10)
    d = [1 / math.log2(r + 1) for r in range(1, 26)]
    assert m[f"{NDCG}5"] == pytest.approx(((d[1] + d[4]) / (d[0] + d[1]) + 0 + 0) / 3)
    assert m[f"{NDCG}10"] == pytest.approx(((d[1] + d[4]) / (d[0] + d[1]) + d[5] / d[0]) / 3)
    assert m["precision_at_5"] == pytest.approx((2 / 5) / 3)
    assert m["precision_at_25"] == pytest.approx((2 / 25 + 1 / 25) / 3)
    assert m["mean_reciprocal_rank_at_25"] == pytest.approx((1 / 2 + 1 / 6) / 3)
    assert m["recall_at_25"] == pytest.approx((1 + 1 + 0) / 3)  # user 2's truth is {4}
    assert m["coverage"] == pytest.approx(len({3, 1, 4, 0, 5, 9, 8, 7, 6, 2}) / 10)


def test_no_hits_gives_zero_accuracy() -> None:
    recommended = np.array([[0, 1, 2], [0, 1, 2]])
    m = evaluate(recommended, [np.array([5]), np.array([6, 7])], 8)
    for name in ["mean_reciprocal_rank_at_25", f"{NDCG}5", f"{NDCG}25", "precision_at_5"]:
        assert m[name] == 0.0
    assert m["recall_at_25"] == 0.0
    assert m["coverage"] == pytest.approx(3 / 8)


def test_truth_larger_than_k_caps_the_ideal_dcg() -> None:
    """A perfect top 5 scores NDCG@5 = 1 even with 30 truth items; NDCG@25 is below 1 if
    only 5 of 25 hit."""
    truth = [np.arange(30)]
    recommended = np.array([[0, 1, 2, 3, 4] + list(range(100, 120))])
    m = evaluate(recommended, truth, 200)
    assert m[f"{NDCG}5"] == pytest.approx(1.0)
    assert m["precision_at_5"] == pytest.approx(1.0)
    assert m[f"{NDCG}25"] < 1.0
    assert m["recall_at_25"] == pytest.approx(5 / 30)
    assert_matches_ranx(recommended, truth, 200)


def test_short_lists_are_padded_and_precision_divides_by_k() -> None:
    m = evaluate(np.array([[7]]), [np.array([7])], 10)
    assert m["precision_at_5"] == pytest.approx(1 / 5)
    assert m["precision_at_25"] == pytest.approx(1 / 25)
    assert m[f"{NDCG}25"] == pytest.approx(1.0)
    assert m["mean_reciprocal_rank_at_25"] == 1.0


def test_a_repeated_item_counts_once() -> None:
    m = evaluate(np.array([[1, 1, 2, -1, -1]]), [np.array([1, 2])], 3)
    assert m["precision_at_5"] == pytest.approx(2 / 5)
    assert m[f"{NDCG}5"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_users_with_empty_truth_are_not_averaged() -> None:
    m = evaluate(np.array([[1, 2], [1, 2]]), [np.array([1]), np.zeros(0, np.int64)], 3)
    assert m["mean_reciprocal_rank_at_25"] == 1.0


def test_only_the_first_25_columns_count() -> None:
    recommended = np.arange(30)[None, :]
    m = evaluate(recommended, [np.array([27])], 30)
    assert m["recall_at_25"] == 0.0
    assert m["coverage"] == pytest.approx(25 / 30)


def test_novelty_and_popularity_bias_by_hand() -> None:
    popularity = np.array([6.0, 3.0, 1.0, 0.0])  # share 6/11, 3/11, 1/11, (floored to 1) 1/11
    recommended = np.array([[0, 1, -1], [2, 3, -1], [-1, -1, -1]])
    m = evaluate(recommended, [np.array([0])] * 3, 4, item_popularity=popularity)
    info = -np.log2(np.array([6, 3, 1, 1]) / 11)
    assert m["novelty_at_25"] == pytest.approx(
        ((info[0] + info[1]) / 2 + (info[2] + info[3]) / 2) / 2
    )
    pct = np.array([1.0, 2 / 3, 1 / 3, 0.0])
    assert m["popularity_bias_at_25"] == pytest.approx(
        ((pct[0] + pct[1]) / 2 + (pct[2] + pct[3]) / 2) / 2
    )


def test_intra_list_diversity_by_hand() -> None:
    features = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
    recommended = np.array([[0, 1, 2], [0, 3, -1], [2, -1, -1]])
    m = evaluate(recommended, [np.array([0])] * 3, 4, item_features=features)
    # list 0: pairs (0,1) cos 1, (0,2) cos 0, (1,2) cos 0; list 1: cos 1/sqrt(2); list 2 skipped
    expected = ((1 - 1 / 3) + (1 - 1 / math.sqrt(2))) / 2
    assert m["intra_list_diversity_at_25"] == pytest.approx(expected)
    named = Features(features, ["GENRES=a", "GENRES=b"])
    m = evaluate(recommended, [np.array([0])] * 3, 4, item_features=named)
    assert m["intra_list_diversity_at_25"] == pytest.approx(expected)
    dense = evaluate(recommended, [np.array([0])] * 3, 4, item_features=features.toarray())
    assert dense["intra_list_diversity_at_25"] == pytest.approx(expected)
    assert "intra_list_diversity_at_25" not in evaluate(recommended, [np.array([0])] * 3, 4)


def test_evaluate_recipe_uses_the_split() -> None:
    from engine.recipes.base import TrainingData
    from engine.recipes.popularity import PopularityCount
    from engine.training.split import holdout_split
    from tests.recipes.contract import tiny_data

    data = tiny_data()
    split = holdout_split(data.interactions, test_fraction=0.2, seed=3)
    recipe = PopularityCount().fit(TrainingData(split.train))
    m = evaluate_recipe(recipe, split)
    ids, _ = recipe.recommend(split.test_users, split.test_history, n=25)
    pop = item_popularity(split.train)
    assert m == evaluate(ids, split.truth, data.n_items, item_popularity=pop)
    assert 0 < m[f"{NDCG}10"] <= 1

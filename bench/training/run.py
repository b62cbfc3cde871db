"""Benchmark: each recipe's training time against the raw library's fit on the same matrix.

For every recipe with a library underneath, fit Tailor's recipe and the library itself with
the same hyperparameters on the same data, in the same run, and print both times and the
ratio (goal: Tailor's overhead within 1.2x). Then time an HPO search (EASE, 8 trials, 2 in
parallel) on the same data.

Data: MovieLens 100K from ../shared/data when present, else a seeded synthetic matrix of the
same size (943 users, 1,682 items, 100,000 events).

Run: `.venv/bin/python bench/training/run.py [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.recipes.base import Interactions, TrainingData  # noqa: E402

ML100K = ROOT.parent / "shared" / "data" / "ml-100k" / "u.data"


def load() -> tuple[Interactions, str]:
    if ML100K.exists():
        raw = np.loadtxt(ML100K, dtype=np.int64)
        users, items, times = raw[:, 0] - 1, raw[:, 1] - 1, raw[:, 3]
        name = "MovieLens 100K"
    else:
        rng = np.random.default_rng(0)
        users = rng.integers(0, 943, 100_000)
        items = np.minimum((rng.pareto(1.2, 100_000) * 50).astype(np.int64), 1681)
        times = np.arange(100_000)
        name = "synthetic 943 x 1,682, 100,000 events (MovieLens 100K not found)"
    data = Interactions(users, items, times, int(users.max()) + 1, int(items.max()) + 1)
    return data, name


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def raw_ease(matrix: sp.csr_matrix, lam: float) -> np.ndarray:
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    inverse = np.linalg.inv(gram)
    b = -inverse / np.diag(inverse)
    b[np.diag_indices_from(b)] = 0.0
    return b


def pairs(data: TrainingData, repeat: int) -> list[tuple[str, float, float]]:
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import CosineRecommender
    from lightfm import LightFM
    from threadpoolctl import threadpool_limits

    from engine.recipes.als import ImplicitAls
    from engine.recipes.ease import Ease
    from engine.recipes.item_knn import ItemKnn
    from engine.recipes.popularity import PopularityCount
    from engine.recipes.user_personalization import UserPersonalization

    matrix = data.interactions.matrix()
    rows = []

    def raw_als():
        with threadpool_limits(1, "blas"):
            AlternatingLeastSquares(factors=64, regularization=0.01, alpha=1.0, iterations=15,
                                    random_state=42).fit(matrix, show_progress=False)

    rows.append(("tailor-als vs implicit ALS (64 factors, 15 iterations)",
                 best_of(repeat, lambda: ImplicitAls(factors=64, iterations=15).fit(data)),
                 best_of(repeat, raw_als)))
    rows.append(("tailor-ease vs numpy EASE (lambda 300)",
                 best_of(repeat, lambda: Ease(l2_lambda=300).fit(data)),
                 best_of(repeat, lambda: raw_ease(matrix, 300.0))))
    rows.append(("tailor-item-knn vs implicit CosineRecommender (K=100)",
                 best_of(repeat, lambda: ItemKnn(neighbours=100, shrink=0).fit(data)),
                 best_of(repeat, lambda: CosineRecommender(K=100).fit(matrix,
                                                                      show_progress=False))))

    def raw_lightfm():
        with threadpool_limits(1):
            LightFM(no_components=64, loss="warp", learning_rate=0.05, random_state=42).fit(
                matrix.tocoo(), epochs=20, num_threads=1)

    rows.append(("aws-user-personalization vs LightFM WARP (64, 20 epochs)",
                 best_of(repeat, lambda: UserPersonalization(no_components=64, epochs=20).fit(
                     data)),
                 best_of(repeat, raw_lightfm)))
    events = data.interactions

    def raw_popularity():
        pairs = np.unique(events.user.astype(np.int64) * events.n_items + events.item)
        return np.bincount(pairs % events.n_items, minlength=events.n_items)

    rows.append(("aws-popularity-count vs numpy distinct-user counts",
                 best_of(repeat, lambda: PopularityCount().fit(data)),
                 best_of(repeat, raw_popularity)))
    return rows


def hpo_time(data: TrainingData) -> tuple[float, float]:
    from engine.recipes.ease import Ease
    from engine.training import hpo
    from engine.training.split import holdout_split

    split = holdout_split(data.interactions, seed=1)
    start = time.perf_counter()
    result = hpo.search(Ease, {}, hpo.default_space(Ease), data, split, trials=8, parallel=2)
    return time.perf_counter() - start, result.best_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    interactions, name = load()
    data = TrainingData(interactions)
    print(f"data: {name}; best of {args.repeat} runs")
    print(f"{'recipe vs library':60} {'tailor':>8} {'library':>8} {'ratio':>6}")
    for label, tailor, raw in pairs(data, args.repeat):
        print(f"{label:60} {tailor:7.2f}s {raw:7.2f}s {tailor / raw:5.2f}x")
    seconds, best = hpo_time(data)
    print(f"HPO: tailor-ease, 8 trials, 2 in parallel: {seconds:.1f} s (best NDCG@10 {best:.4f})")


if __name__ == "__main__":
    main()

"""Benchmark: offline quality of Tailor's recipes vs the raw libraries, on MovieLens.

Protocol (engine.training.split: Personalize's GetSolutionMetrics split, run as k-fold): the
eligible users (>= 2 events) are shuffled and cut into `--folds` parts; in each fold one part
is the test users, whose newest 10% of events (`max(1, round(0.1 n))`; equal timestamps in a
seeded pseudo-random order, `--ties`) are the truth and the rest their input. Every model is
fitted on the fold's training events (all other users + the test users' input) and
recommends 25 items per test user from the input, seen items excluded. Every user is
evaluated exactly once; metrics are means over all users (coverage: mean over folds). Every
rating is an interaction, its timestamp the rating time.

Raw peers, used as a data scientist would use the libraries directly:
- implicit ALS (64 factors, defaults otherwise, BLAS at 1 thread), implicit BPR (64 factors),
  implicit CosineRecommender (item kNN, K=20), LightFM WARP (64 components, 20 epochs, no
  features), EASE (lambda 100/300/500, plain numpy), popularity (distinct users per item).
  The test users' input is in the training matrix, so factor models already have their
  vectors (no recalculation needed).
Tailor candidates: each recipe class in engine.recipes.{popularity, ease, als, item_knn,
user_personalization, sequence} that exists, with default hyperparameters, fitted on the same
training events plus item genres and (ml-100k) user demographics as features. Any other
candidate (e.g. AutoML through the Engine) is a `Candidate` whose `recommend(fold)` fits on
`fold.data` and returns 25 ids per `fold.split.test_users`.

Run: `.venv/bin/python bench/quality/run.py [--dataset ml-100k|ml-latest-small] [--folds 10]
[--models raw|tailor|ease|ease-300,als,...] [--max-folds N] [--ties random|stored|input|truth]
[--study-ties]`. `--study-ties` runs the chosen models (default EASE lambda=300) under each
rule for events that share a timestamp and prints NDCG@10 per rule. All 10 folds of ml-100k
take about 1 minute for the raw peers on 2 cores; ml-latest-small (9,742 items) takes about
35 minutes, as EASE inverts a 9,742 x 9,742 matrix per lambda and fold (~1 minute each).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from engine.recipes.base import (  # noqa: E402
    Features,
    Interactions,
    Recipe,
    TrainingData,
    top_n,
)
from engine.training.metrics import evaluate, item_popularity  # noqa: E402
from engine.training.split import Split, kfold_splits  # noqa: E402

K = 25
NDCG = "normalized_discounted_cumulative_gain_at_10"
TAILOR_MODULES = ["popularity", "ease", "als", "item_knn", "user_personalization", "sequence"]


# --- data ----------------------------------------------------------------------------------


@dataclass
class Dataset:
    name: str
    interactions: Interactions
    user_features: Features | None
    item_features: Features | None


def one_hot(rows: np.ndarray, labels: list[str], prefix: str, n_rows: int) -> Features:
    """A one-hot feature matrix: row `rows[k]` has `prefix=labels[k]`."""
    names = sorted(set(labels))
    col = {name: j for j, name in enumerate(names)}
    cols = np.array([col[v] for v in labels])
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n_rows, len(names))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return Features(matrix, [f"{prefix}={n}" for n in names])


def stack(parts: list[Features]) -> Features:
    return Features(
        sp.hstack([p.matrix for p in parts], format="csr"), [n for p in parts for n in p.names]
    )


def age_band(age: int) -> str:
    for upper, band in [(18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (56, "45-55")]:
        if age < upper:
            return band
    return "56+"


def load_ml_100k(folder: Path) -> Dataset:
    """u.data (user, item, rating, time), u.item genres, u.user age/gender/occupation."""
    ratings = np.loadtxt(folder / "u.data", dtype=np.int64)
    items = [line.split("|") for line in (folder / "u.item").read_text("latin-1").splitlines()]
    genre_names = [
        line.split("|")[0] for line in (folder / "u.genre").read_text().splitlines() if line
    ]
    users = [line.split("|") for line in (folder / "u.user").read_text().splitlines() if line]
    n_users, n_items = len(users), len(items)
    interactions = Interactions(
        ratings[:, 0] - 1, ratings[:, 1] - 1, ratings[:, 3], n_users, n_items
    )
    flags = np.array([[int(v) for v in row[5:24]] for row in items])
    item_rows, genre_cols = np.nonzero(flags)
    genres = one_hot(item_rows, [genre_names[g] for g in genre_cols], "GENRES", n_items)
    rows = np.array([int(u[0]) - 1 for u in users])
    demographics = stack(
        [
            one_hot(rows, [age_band(int(u[1])) for u in users], "AGE", n_users),
            one_hot(rows, [u[2] for u in users], "GENDER", n_users),
            one_hot(rows, [u[3] for u in users], "OCCUPATION", n_users),
        ]
    )
    return Dataset("ml-100k", interactions, demographics, genres)


def load_ml_latest_small(folder: Path) -> Dataset:
    """ratings.csv and movies.csv (pipe-separated genres); no user attributes."""
    import polars as pl

    ratings = pl.read_csv(folder / "ratings.csv")
    movies = pl.read_csv(folder / "movies.csv")
    item_index = {m: j for j, m in enumerate(movies["movieId"].to_list())}
    user_ids = np.unique(ratings["userId"].to_numpy())
    user = np.searchsorted(user_ids, ratings["userId"].to_numpy())
    item = np.array([item_index[m] for m in ratings["movieId"].to_list()])
    interactions = Interactions(
        user, item, ratings["timestamp"].to_numpy(), len(user_ids), len(item_index)
    )
    rows, labels = [], []
    for j, genres in enumerate(movies["genres"].to_list()):
        for g in genres.split("|"):
            if g != "(no genres listed)":
                rows.append(j)
                labels.append(g)
    genres = one_hot(np.array(rows), labels, "GENRES", len(item_index))
    return Dataset("ml-latest-small", interactions, None, genres)


LOADERS = {"ml-100k": load_ml_100k, "ml-latest-small": load_ml_latest_small}


# --- one fold --------------------------------------------------------------------------------


@dataclass
class Fold:
    """One split with what every model needs from it."""

    split: Split
    data: TrainingData  # the fold's training events + the dataset's features
    train_matrix: sp.csr_matrix  # users x items, binary
    seen: sp.csr_matrix  # test users x items: their input


def make_fold(split: Split, dataset: Dataset) -> Fold:
    train_matrix = split.train.matrix(binary=True)
    return Fold(
        split,
        TrainingData(split.train, dataset.user_features, dataset.item_features),
        train_matrix,
        train_matrix[split.test_users],
    )


def top_unseen(scores: np.ndarray, seen: sp.csr_matrix, k: int = K) -> np.ndarray:
    """Best `k` ids per row after removing the row's seen items."""
    scores = np.array(scores, dtype=np.float32)
    scores[seen.nonzero()] = -np.inf
    return top_n(scores, k)[0]


def recommend_popularity(fold: Fold) -> np.ndarray:
    counts = np.asarray(fold.train_matrix.sum(axis=0)).ravel()
    return top_unseen(np.tile(counts, (len(fold.split.test_users), 1)), fold.seen)


def recommend_ease(fold: Fold, lam: float) -> np.ndarray:
    """EASE (Steck 2019): B = I - P diagMat(1 / diag(P)), P = (X'X + lambda I)^-1, diag(B) = 0."""
    x = fold.train_matrix.astype(np.float64)
    gram = (x.T @ x).toarray()
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return top_unseen(fold.seen @ b, fold.seen)


def implicit_recommend(model, fold: Fold) -> np.ndarray:
    users = fold.split.test_users
    ids, _ = model.recommend(users, fold.seen, N=K, filter_already_liked_items=True)
    return np.asarray(ids)


def recommend_als(fold: Fold, seed: int = 0) -> np.ndarray:
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=64, random_state=seed)
        model.fit(fold.train_matrix, show_progress=False)
        return implicit_recommend(model, fold)


def recommend_bpr(fold: Fold, seed: int = 0) -> np.ndarray:
    from implicit.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(factors=64, random_state=seed)
    model.fit(fold.train_matrix, show_progress=False)
    return implicit_recommend(model, fold)


def recommend_item_knn(fold: Fold) -> np.ndarray:
    from implicit.nearest_neighbours import CosineRecommender

    model = CosineRecommender()
    with warnings.catch_warnings():  # implicit converts its own transposed matrix to CSR
        warnings.simplefilter("ignore")
        model.fit(fold.train_matrix, show_progress=False)
    return implicit_recommend(model, fold)


def recommend_lightfm_warp(fold: Fold, seed: int = 0) -> np.ndarray:
    from lightfm import LightFM

    model = LightFM(no_components=64, loss="warp", random_state=seed)
    model.fit(fold.train_matrix.tocoo(), epochs=20)
    item_bias, item_vectors = model.get_item_representations()
    _, user_vectors = model.get_user_representations()
    scores = user_vectors[fold.split.test_users] @ item_vectors.T + item_bias[None, :]
    return top_unseen(scores, fold.seen)


@dataclass
class Candidate:
    """A model under test: `recommend(fold)` fits it on the fold and returns K ids per test
    user. `key` is what --models filters on; `kind` is "raw" or "tailor"."""

    key: str
    name: str
    kind: str
    recommend: Callable[[Fold], np.ndarray]


def raw_peers() -> list[Candidate]:
    peers = [
        Candidate("als", "implicit ALS", "raw", recommend_als),
        Candidate("bpr", "implicit BPR", "raw", recommend_bpr),
        Candidate("item-knn", "implicit item-kNN (cosine)", "raw", recommend_item_knn),
        Candidate("lightfm-warp", "LightFM WARP", "raw", recommend_lightfm_warp),
    ]
    for lam in (100, 300, 500):
        ease = partial(recommend_ease, lam=lam)
        peers.append(Candidate(f"ease-{lam}", f"EASE lambda={lam}", "raw", ease))
    peers.append(Candidate("popularity", "popularity", "raw", recommend_popularity))
    return peers


# --- Tailor candidates -----------------------------------------------------------------------


def recipe_classes(module_name: str) -> list[type[Recipe]] | None:
    """Concrete Recipe classes defined in engine.recipes.<module_name>; None if it's missing."""
    full = f"engine.recipes.{module_name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as error:
        if error.name in (full, "engine.recipes"):
            return None
        raise
    return [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls)
        and issubclass(cls, Recipe)
        and cls.__module__ == full
        and not inspect.isabstract(cls)
    ]


def tailor_candidates(verbose: bool = True) -> list[tuple[str, Callable[[], Recipe]]]:
    """(name, factory) per Tailor recipe that exists; factory() returns an unfitted recipe
    with its default hyperparameters (the benchmark fits it on each fold)."""
    found: list[tuple[str, Callable[[], Recipe]]] = []
    for module_name in TAILOR_MODULES:
        classes = recipe_classes(module_name)
        if classes is None:
            if verbose:
                print(f"  tailor {module_name}: not available (engine/recipes/{module_name}.py)")
            continue
        for cls in classes:
            suffix = f" {cls.__name__}" if len(classes) > 1 else ""
            found.append((f"tailor {module_name}{suffix}", cls))
    return found


def tailor_recipe_candidates() -> list[Candidate]:
    """The Tailor recipes as candidates, keyed `tailor-<recipe name>`."""
    return [
        Candidate(name.replace(" ", "-"), name, "tailor", recipe_candidate(factory))
        for name, factory in tailor_candidates()
    ]


def recipe_candidate(factory: Callable[[], Recipe]) -> Callable[[Fold], np.ndarray]:
    """A candidate that fits a fresh Tailor recipe on the fold and recommends from the input."""

    def recommend(fold: Fold) -> np.ndarray:
        recipe = factory().fit(fold.data)
        ids, _ = recipe.recommend(fold.split.test_users, fold.split.test_history, n=K)
        return ids

    return recommend


def automl_candidate(trials: int = 0) -> Candidate:
    """Tailor's AutoML exactly as a solution with performAutoML runs it: every default
    candidate recipe (tuned with `trials` HPO trials each if > 0) is evaluated on a holdout
    split of the fold's training users, the best by NDCG@10 is fitted on the whole fold."""
    from engine.recipes import AUTOML_DEFAULT, recipe_class, recipe_name
    from engine.training.automl import Tuning, best_candidate, evaluate_candidate
    from engine.training.split import holdout_split

    def recommend(fold: Fold) -> np.ndarray:
        inner = holdout_split(fold.split.train, seed=0)
        tuning = Tuning(trials=trials, parallel=2) if trials else None
        found = [evaluate_candidate(arn, fold.data, inner, {}, tuning) for arn in AUTOML_DEFAULT]
        best = best_candidate(found)
        print(
            f"    automl picked {recipe_name(best.recipe_arn)} "
            f"({', '.join(f'{recipe_name(c.recipe_arn)} {c.metrics[NDCG]:.4f}' for c in found)})"
        )
        model = recipe_class(best.recipe_arn)(**best.params).fit(fold.data)
        ids, _ = model.recommend(fold.split.test_users, fold.split.test_history, n=K)
        return ids

    label = f"Tailor AutoML (HPO {trials} trials)" if trials else "Tailor AutoML"
    return Candidate("tailor-automl", label, "tailor", recommend)


# --- running and reporting -------------------------------------------------------------------


@dataclass
class Result:
    name: str
    kind: str  # "raw" or "tailor"
    folds: list[dict[str, float]]
    users: list[int]
    seconds: list[float]

    def mean(self, metric: str) -> float:
        values = [f[metric] for f in self.folds]
        if metric == "coverage":
            return float(np.mean(values))
        return float(np.average(values, weights=self.users))

    def spread(self, metric: str) -> float:
        return float(np.std([f[metric] for f in self.folds]))


def run_fold(recommend: Callable[[Fold], np.ndarray], fold: Fold) -> tuple[dict, float]:
    """Fit + recommend on one fold; (metrics, seconds)."""
    start = time.perf_counter()
    ids = recommend(fold)
    seconds = time.perf_counter() - start
    split = fold.split
    metrics = evaluate(ids, split.truth, split.train.n_items, item_popularity(split.train))
    return metrics, seconds


def run_benchmark(
    dataset: Dataset,
    candidates: Iterable[Candidate],
    folds: int,
    seed: int = 0,
    ties: str = "random",
    max_folds: int | None = None,
    quiet: bool = False,
) -> list[Result]:
    """Every candidate on every fold (the same folds for all); results in candidate order."""
    candidates = list(candidates)
    results = [Result(c.name, c.kind, [], [], []) for c in candidates]
    splits = kfold_splits(dataset.interactions, folds=folds, seed=seed, ties=ties)
    for number, split in enumerate(splits):
        if max_folds is not None and number >= max_folds:
            break
        fold = make_fold(split, dataset)
        for result, candidate in zip(results, candidates, strict=True):
            metrics, seconds = run_fold(candidate.recommend, fold)
            result.folds.append(metrics)
            result.users.append(len(split.test_users))
            result.seconds.append(seconds)
        if not quiet:
            print(f"  fold {number + 1}/{folds}: {len(split.test_users)} test users", flush=True)
    return results


COLUMNS = [
    ("NDCG@10", "normalized_discounted_cumulative_gain_at_10"),
    ("precision@10", "precision_at_10"),
    ("MRR@25", "mean_reciprocal_rank_at_25"),
    ("coverage", "coverage"),
]


def print_table(results: list[Result]) -> None:
    """A markdown table of the means, then the best raw peer and the Tailor ratio."""
    labels = ["model", "NDCG@10 (sd)"] + [label for label, _ in COLUMNS[1:]] + ["s/fold"]
    widths = [34, 15] + [12] * (len(COLUMNS) - 1) + [7]
    print("| " + " | ".join(f"{x:<{w}}" for x, w in zip(labels, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in results:
        ndcg = f"{r.mean(COLUMNS[0][1]):.4f} ({r.spread(COLUMNS[0][1]):.3f})"
        cells = [r.name, ndcg] + [f"{r.mean(m):.4f}" for _, m in COLUMNS[1:]]
        cells.append(f"{np.mean(r.seconds):.2f}")
        print("| " + " | ".join(f"{x:<{w}}" for x, w in zip(cells, widths, strict=True)) + " |")
    ndcg = COLUMNS[0][1]
    raw = [r for r in results if r.kind == "raw"]
    tailor = [r for r in results if r.kind == "tailor"]
    best_raw = max(raw, key=lambda r: r.mean(ndcg)) if raw else None
    if best_raw:
        print(f"\nbest raw peer: {best_raw.name} (NDCG@10 {best_raw.mean(ndcg):.4f})")
    if tailor:
        best = max(tailor, key=lambda r: r.mean(ndcg))
        print(f"best Tailor candidate: {best.name} (NDCG@10 {best.mean(ndcg):.4f})")
        if best_raw:
            ratio = best.mean(ndcg) / best_raw.mean(ndcg)
            print(f"ratio best Tailor / best raw peer (NDCG@10): {ratio:.3f}")


def select(candidates: list[Candidate], wanted: str | None) -> list[Candidate]:
    """Candidates whose key starts with one of the comma-separated filters (`ease` = all
    three EASE, `ease-300` = one); `raw` and `tailor` select a whole group."""
    if not wanted:
        return candidates
    filters = [w.strip().lower() for w in wanted.split(",") if w.strip()]
    return [c for c in candidates if any(c.kind == f or c.key.startswith(f) for f in filters)]


def reordered(interactions: Interactions, key: np.ndarray) -> Interactions:
    """The same events stored in `key` order within equal (user, timestamp)."""
    o = np.argsort(key, kind="stable")
    i = interactions
    return Interactions(i.user[o], i.item[o], i.timestamp[o], i.n_users, i.n_items)


def study_ties(dataset: Dataset, candidates: list[Candidate], args: argparse.Namespace) -> None:
    """NDCG@10 of `candidates` under each rule for events that share a timestamp."""
    inter = dataset.interactions
    variants = [
        ("random (default: seeded hash)", inter, "random"),
        ("stored = file order", inter, "stored"),
        ("stored, ties by item id ascending", reordered(inter, inter.item), "stored"),
        ("stored, ties by item id descending", reordered(inter, -inter.item), "stored"),
        ("whole boundary run -> truth", inter, "truth"),
        ("whole boundary run -> input", inter, "input"),
    ]
    rows = []
    for label, events, ties in variants:
        variant = Dataset(dataset.name, events, dataset.user_features, dataset.item_features)
        results = run_benchmark(
            variant, candidates, args.folds, args.seed, ties, args.max_folds, quiet=True
        )
        rows.append((label, ties, results))
        ndcg = ", ".join(f"{r.name} {r.mean(COLUMNS[0][1]):.4f}" for r in results)
        print(f"  {label} (ties={ties}): {ndcg}", flush=True)
    print("\n| tie rule | --ties | " + " | ".join(c.name for c in candidates) + " |")
    print("|---|---|" + "---|" * len(candidates))
    for label, ties, results in rows:
        cells = " | ".join(
            f"{r.mean(COLUMNS[0][1]):.4f} (sd {r.spread(COLUMNS[0][1]):.3f})" for r in results
        )
        print(f"| {label} | {ties} | {cells} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="ml-100k")
    parser.add_argument("--folds", type=int, default=10, help="k of the k-fold protocol")
    parser.add_argument("--max-folds", type=int, help="stop after this many folds (quick runs)")
    parser.add_argument("--models", help="comma-separated name filters, e.g. ease,als,tailor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ties", choices=["random", "stored", "input", "truth"], default="random")
    parser.add_argument("--study-ties", action="store_true", help="NDCG@10 per tie rule")
    parser.add_argument(
        "--automl-trials",
        type=int,
        default=0,
        help="HPO trials per AutoML candidate (0: recipe defaults)",
    )
    args = parser.parse_args(argv)

    folder = DATA / args.dataset
    if not folder.is_dir():
        print(f"MovieLens data not found at {folder}: nothing to benchmark (see ../shared/data).")
        return 0
    dataset = LOADERS[args.dataset](folder)
    inter = dataset.interactions
    print(
        f"{args.dataset}: {len(inter):,} interactions, {inter.n_users} users, "
        f"{inter.n_items} items; {args.folds}-fold Personalize split (ties={args.ties})"
    )
    if args.study_ties:
        study_ties(dataset, select(raw_peers(), args.models or "ease-300"), args)
        return 0
    filters = (args.models or "").lower()
    wants_tailor = not filters or "tailor" in filters
    tailor = tailor_recipe_candidates() + [automl_candidate(args.automl_trials)]
    candidates = raw_peers() + (tailor if wants_tailor else [])
    candidates = select(candidates, args.models)
    if not candidates:
        print(f"no model matches --models {args.models!r}")
        return 1
    results = run_benchmark(dataset, candidates, args.folds, args.seed, args.ties, args.max_folds)
    print()
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: batch inference jobs (users per second, top 25) against a plain numpy bound.

Setup (a temporary data directory): the sample store (`engine.sample_data.load_sample`:
4,000 users, 1,000 items, 148k interactions) and, when `../shared/data/ml-100k` is present,
MovieLens 100K (943 users, 1,682 movies, every rating an interaction) through ordinary import
jobs; one solution version per recipe (`--recipes`). The input file holds every user of the
dataset, repeated up to `--lines` lines, one `{"userId": ...}` per line. Jobs ask for the plain
top 25 (`explorationWeight` 0; `--explore` keeps aws-user-personalization's default cold-item
exploration, which ranks each user's list on its own).

Measured `--repeat` times, each job right after a bound run. Printed: best-of users/s for
each; the job/bound ratio as the median of the per-pair wall-time ratios (drift hits both
sides of a pair), and as a ratio of CPU seconds (all threads of the process; other processes
on a busy machine disturb it least, but it does not credit the job's two threads):
- job: `create_batch_inference_job` until ACTIVE (model load, input read, history, scoring,
  seen items, top 25, softmax scores, JSON lines written and renamed into the s3 mapping);
- score_all alone: the recipe's own scoring of the same users in the job's blocks, one
  thread, histories prepared beforehand (the floor under any batch machinery);
- bound: a plain numpy float32 product of the same size, users x 64 factors @ 64 x items,
  plus `np.argpartition` for the top 25 of each row (nothing else: no history, no seen items,
  no scores, no output).

Run: `make bench-batch` or `.venv/bin/python bench/batch/run.py [--repeat 5] [--lines 20000]`.
Goal: the job at least half the bound's users per second (ratio >= 0.5).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from engine import Engine  # noqa: E402
from engine.batch.inference import InferenceAnswerer  # noqa: E402
from engine.batch.jobs import BatchPlan  # noqa: E402
from engine.sample_data import load_sample  # noqa: E402

ML_100K = ROOT.parent / "shared" / "data" / "ml-100k"
RECIPE = "arn:aws:personalize:::recipe/"
ROLE = "arn:aws:iam::123456789012:role/batch"
FACTORS = 64
TOP = 25
HYPERPARAMETERS = {"aws-user-personalization": {"epochs": "5"}}
ML_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
    ],
    "version": "1.0",
}


def load_ml_100k(engine: Engine, work: Path) -> str:
    """MovieLens 100K's u.data as an Interactions dataset (every rating an interaction)."""
    path = work / "ml-100k.csv"
    with open(ML_100K / "u.data") as source, open(path, "w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"])
        for line in source:
            user, item, _, ts = line.split("\t")
            writer.writerow([user, item, ts.strip(), "rating"])
    group = engine.create_dataset_group(name="ml-100k")["datasetGroupArn"]
    schema = engine.create_schema(name="ml-100k", schema=json.dumps(ML_SCHEMA))["schemaArn"]
    dataset = engine.create_dataset(
        name="ml-100k", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    job = engine.create_dataset_import_job(
        jobName="ml-100k", datasetArn=dataset, dataSource={"dataLocation": str(path)}
    )["datasetImportJobArn"]
    done = engine.wait_for(job)
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"ml-100k import failed: {done['failureReason']}")
    return group


def train(engine: Engine, group: str, recipe: str, name: str) -> str:
    """An ACTIVE solution version of `recipe` on the group."""
    hyper = HYPERPARAMETERS.get(recipe)
    config = {"solutionConfig": {"algorithmHyperParameters": hyper}} if hyper else {}
    solution = engine.create_solution(
        name=name, datasetGroupArn=group, recipeArn=RECIPE + recipe, **config
    )["solutionArn"]
    version = engine.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = engine.wait_for(version, timeout=3600)
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"training {recipe} failed: {done['failureReason']}")
    return version


def users_of(engine: Engine, group: str) -> list[str]:
    """Every user id of the group's id map, in dense order."""
    from engine.store import id_map

    group_id = engine.catalog.require(group, "dataset-group").id
    with engine.store.cursor() as cur:
        return id_map.load(cur, group_id, "USER")


def clocks() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: every thread, the job's included)."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    now = clocks()
    return now[0] - start[0], now[1] - start[1]


def run_job(
    engine: Engine, version: str, bucket: str, name: str, explore: bool
) -> tuple[float, float]:
    """(wall, CPU) seconds from create_batch_inference_job to ACTIVE."""
    config = None if explore else {"itemExplorationConfig": {"explorationWeight": "0"}}
    started = clocks()
    arn = engine.create_batch_inference_job(
        jobName=name,
        solutionVersionArn=version,
        numResults=TOP,
        batchInferenceJobConfig=config,
        jobInput={"s3DataSource": {"path": f"s3://{bucket}/input/users.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/output/"}},
        roleArn=ROLE,
    )["batchInferenceJobArn"]
    done = engine.wait_for(arn, timeout=3600)
    elapsed = since(started)
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"batch job {name} failed: {done['failureReason']}")
    return elapsed


def run_recipe(engine: Engine, version: str, lines: list[bytes]) -> float:
    """Seconds the recipe's own `score_all` takes for the same users (one thread, the job's
    blocks, histories prepared beforehand): what no batch machinery can go below."""
    model = engine.version_model(engine.catalog.require(version, "solution-version"))
    answerer = InferenceAnswerer(engine, model, BatchPlan("bench", None, "", "", None, TOP))
    entries = [(k, json.loads(line), line) for k, line in enumerate(lines)]
    size = answerer.block
    blocks = [answerer._histories(entries[s : s + size], True) for s in range(0, len(lines), size)]
    started = time.perf_counter()
    for users, history in blocks:
        model.recipe.score_all(users, history)
    return time.perf_counter() - started


def bound(n_users: int, n_items: int, rng: np.random.Generator) -> tuple[float, float]:
    """(wall, CPU) seconds for users x 64 @ 64 x items (float32) and argpartition's top 25
    of each row."""
    users = rng.standard_normal((n_users, FACTORS), dtype=np.float32)
    items = rng.standard_normal((FACTORS, n_items), dtype=np.float32)
    started = clocks()
    scores = users @ items
    top = np.argpartition(-scores, TOP - 1, axis=1)[:, :TOP]
    elapsed = since(started)
    assert top.shape == (n_users, TOP)
    return elapsed


def bench_dataset(
    label: str, loader: Any, args: argparse.Namespace, rng: np.random.Generator
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="tailor-bench-batch-") as tmp:
        work = Path(tmp)
        with Engine(work / "data") as engine:
            group = loader(engine, work)
            users = users_of(engine, group)
            copies = max(1, -(-args.lines // len(users)))
            lines = [json.dumps({"userId": u}).encode() for u in users] * copies
            path = work / "data" / "s3" / label / "input" / "users.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\n".join(lines) + b"\n")
            group_id = engine.catalog.require(group, "dataset-group").id
            with engine.store.cursor() as cur:
                n_items = cur.execute(
                    "SELECT count(*) FROM id_map WHERE dataset_group_id = ? AND entity = 'ITEM'",
                    [group_id],
                ).fetchone()[0]
            for recipe in args.recipes.split(","):
                print(f"{label}: training {recipe} ...", flush=True)
                version = train(engine, group, recipe, f"{label}-{recipe}")
                jobs, recipes, bounds = [], [], []
                for r in range(args.repeat):
                    bounds.append(bound(len(lines), n_items, rng))
                    name = f"{label}-{recipe}-{r}"
                    jobs.append(run_job(engine, version, label, name, args.explore))
                    recipes.append(run_recipe(engine, version, lines))
                n = len(lines)
                row = {
                    "dataset": label,
                    "recipe": recipe,
                    "lines": n,
                    "items": n_items,
                    "job_s": min(j[0] for j in jobs),
                    "job_ups": n / min(j[0] for j in jobs),
                    "recipe_ups": n / min(recipes),
                    "bound_ups": n / min(b[0] for b in bounds),
                    # each job against the bound run just before it: drift hits both
                    "paired": float(
                        np.median([b[0] / j[0] for b, j in zip(bounds, jobs, strict=True)])
                    ),
                    # CPU seconds (all threads) per user: what other processes disturb least
                    "cpu": min(b[1] for b in bounds) / min(j[1] for j in jobs),
                }
                rows.append(row)
                print_row(row)
    return rows


def print_row(row: dict[str, Any]) -> None:
    print(
        f"{row['dataset']:>8} {row['recipe']:<26} {row['lines']:>7,} lines x {row['items']:,} "
        f"items | job {row['job_ups']:>9,.0f} users/s ({row['job_s']:.3f} s) | score_all "
        f"alone {row['recipe_ups']:>9,.0f} | bound {row['bound_ups']:>9,.0f} | job/bound: "
        f"wall {row['paired']:.2f} (paired median), CPU {row['cpu']:.2f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--lines", type=int, default=20_000, help="input lines (every user, repeated)"
    )
    parser.add_argument(
        "--explore",
        action="store_true",
        help="keep aws-user-personalization's default cold-item exploration (weight 0.3); "
        "without it every job asks for explorationWeight 0: the plain top 25",
    )
    parser.add_argument("--recipes", default="tailor-als,tailor-ease,aws-user-personalization")
    parser.add_argument("--datasets", default="sample,ml-100k")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    loaders = {
        "sample": lambda engine, work: load_sample(engine),
        "ml-100k": load_ml_100k,
    }
    results = []
    for label in args.datasets.split(","):
        if label == "ml-100k" and not (ML_100K / "u.data").exists():
            print(f"ml-100k: skipped ({ML_100K} is absent)")
            continue
        results += bench_dataset(label, loaders[label], args, rng)
    print("\nsummary (best of", args.repeat, "runs):")
    for row in results:
        print_row(row)
    for row in results:
        verdict = "meets" if row["paired"] >= 0.5 else "misses"
        print(
            f"{row['dataset']} {row['recipe']}: job/bound {row['paired']:.2f} wall, "
            f"{row['cpu']:.2f} CPU ({verdict} 0.5 on wall time)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: real-time get_recommendations over HTTP vs a bare endpoint on the same stack.

Setup (in this process, then closed): a synthetic store with a 10,000-item catalogue (seeded;
users with a favourite category, skewed item popularity, DEVICE context), imported through
import jobs; a solution trained with `--recipe` (aws-user-personalization by default) and
deployed as a campaign; an admin access key.

Measurement: `bench/serving/server.py` serves `tailor api`'s app (uvicorn, one process) with
one extra route, `POST /api/bench-constant`, behind the same SigV4 middleware and router,
answering a constant 25-item body. A separate load process (`bench/serving/load.py`) sends
boto3-built, SigV4-signed requests over `--concurrency` persistent loopback connections,
random known users plus 5% unknown ones, 25 results. Phases alternate bare / real
`--rounds` times (`--duration` seconds each, after `--warmup` seconds) to cancel drift.
Then, if the server has a put_events route, events/s acknowledged through POST /api/events.
Finally one request path is timed stage by stage in-process (`breakdown.py`).

Run: `make bench-serving` or `.venv/bin/python bench/serving/run.py [--duration 15] ...`.
Goal: real throughput >= 0.7x the bare endpoint's, real p99 <= 2x the bare p99.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from engine import Engine  # noqa: E402
from engine.auth.keys import KeyStore  # noqa: E402

RECIPE_PREFIX = "arn:aws:personalize:::recipe/"
START = 1_740_000_000  # epoch seconds of the first event
SPAN = 90 * 86_400  # the events cover 90 days
N_CATEGORIES = 50
DEVICES = ["mobile", "desktop", "tablet"]
CORES = os.cpu_count() or 1
#: Hyperparameters per recipe: small enough to train in a minute or two on 2 cores.
DEFAULT_HYPERPARAMETERS = {
    "aws-user-personalization": {"epochs": "5"},
    "aws-personalized-ranking": {"epochs": "5"},
}

INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
    ],
    "version": "1.0",
}
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "CATEGORY", "type": "string", "categorical": True},
        {"name": "PRICE", "type": "float"},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}


# -- data -------------------------------------------------------------------------------------


def generate(work: Path, n_items: int, n_users: int, n_events: int, seed: int) -> None:
    """items.csv and interactions.csv: each user has a favourite category that 70% of their
    events come from; item popularity is skewed inside a category and across the catalogue;
    user activity is log-normal."""
    rng = np.random.default_rng(seed)
    category = rng.integers(0, N_CATEGORIES, n_items)
    by_category = np.argsort(category, kind="stable")  # item ids grouped by category
    counts = np.bincount(category, minlength=N_CATEGORIES)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pl.DataFrame(
        {
            "ITEM_ID": [f"i{i:05d}" for i in range(n_items)],
            "CATEGORY": [f"c{c:02d}" for c in category],
            "PRICE": np.round(rng.lognormal(3.0, 0.8, n_items), 2),
            "CREATION_TIMESTAMP": START - rng.integers(0, 3 * 365 * 86_400, n_items),
        }
    ).write_csv(work / "items.csv")

    activity = rng.lognormal(0.0, 1.0, n_users)
    user = rng.choice(n_users, n_events, p=activity / activity.sum())
    favourite = rng.integers(0, N_CATEGORIES, n_users)[user]
    favourite = np.where(counts[favourite] > 0, favourite, int(np.argmax(counts)))
    inside = starts[favourite] + (counts[favourite] * rng.random(n_events) ** 2).astype(np.int64)
    popular = rng.permutation(n_items)[(n_items * rng.random(n_events) ** 3).astype(np.int64)]
    item = np.where(rng.random(n_events) < 0.7, by_category[inside], popular)
    kind = np.array(["view", "add_to_cart", "purchase"])[
        rng.choice(3, n_events, p=[0.85, 0.10, 0.05])
    ]
    pl.DataFrame(
        {
            "USER_ID": pl.Series([f"u{u:05d}" for u in range(n_users)])[user],
            "ITEM_ID": pl.Series([f"i{i:05d}" for i in range(n_items)])[item],
            "TIMESTAMP": START + np.sort(rng.integers(0, SPAN, n_events)),
            "EVENT_TYPE": kind,
            "DEVICE": np.array(DEVICES)[rng.choice(3, n_events, p=[0.6, 0.3, 0.1])],
        }
    ).write_csv(work / "interactions.csv")


def wait_status(describe, arn: str, what: str, timeout: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = describe(arn)
        if found["status"] in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED"):
            if found["status"] != "ACTIVE":
                raise SystemExit(f"{what} {found['status']}: {found.get('failureReason')}")
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} not ACTIVE after {timeout}s: {found['status']}")
        time.sleep(0.2)


def setup(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The store, the campaign, an event tracker (if this build has them) and a key."""
    data_dir = work / "tailor"
    timings: dict[str, float] = {}
    started = time.perf_counter()
    generate(work, args.items, args.users, args.interactions, args.seed)
    timings["generate"] = time.perf_counter() - started
    with Engine(data_dir) as engine:
        group = engine.create_dataset_group(name="bench")["datasetGroupArn"]
        for kind, schema, csv in (
            ("Interactions", INTERACTIONS_SCHEMA, "interactions.csv"),
            ("Items", ITEMS_SCHEMA, "items.csv"),
        ):
            schema_arn = engine.create_schema(name=f"bench-{kind}", schema=json.dumps(schema))[
                "schemaArn"
            ]
            dataset = engine.create_dataset(
                name=f"bench-{kind}",
                schemaArn=schema_arn,
                datasetGroupArn=group,
                datasetType=kind,
            )["datasetArn"]
            started = time.perf_counter()
            job = engine.create_dataset_import_job(
                jobName=f"bench-{kind}",
                datasetArn=dataset,
                dataSource={"dataLocation": str(work / csv)},
            )["datasetImportJobArn"]
            done = engine.wait_for(job, timeout=3600)
            if done["status"] != "ACTIVE":
                raise SystemExit(f"import of {csv} failed: {done['failureReason']}")
            timings[f"import {kind.lower()}"] = time.perf_counter() - started

        recipe = args.recipe if args.recipe.startswith("arn:") else RECIPE_PREFIX + args.recipe
        hyper = json.loads(args.hyperparameters) if args.hyperparameters else None
        if hyper is None:
            hyper = DEFAULT_HYPERPARAMETERS.get(recipe.removeprefix(RECIPE_PREFIX), {})
        started = time.perf_counter()
        solution = engine.create_solution(
            name="bench",
            datasetGroupArn=group,
            recipeArn=recipe,
            solutionConfig={"algorithmHyperParameters": {k: str(v) for k, v in hyper.items()}},
        )["solutionArn"]
        version = engine.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        trained = wait_status(
            lambda a: engine.describe_solution_version(solutionVersionArn=a)["solutionVersion"],
            version,
            "solution version",
        )
        timings["train"] = time.perf_counter() - started
        campaign = engine.create_campaign(name="bench", solutionVersionArn=version)["campaignArn"]
        wait_status(
            lambda a: engine.describe_campaign(campaignArn=a)["campaign"], campaign, "campaign"
        )
        metrics = engine.get_solution_metrics(solutionVersionArn=version).get("metrics", {})
        tracking_id = None
        if hasattr(engine, "create_event_tracker"):
            tracking_id = engine.create_event_tracker(name="bench", datasetGroupArn=group)[
                "trackingId"
            ]
    key = KeyStore(data_dir).create("bench", "admin")
    return {
        "data_dir": str(data_dir),
        "campaign_arn": campaign,
        "recipe": recipe,
        "hyperparameters": hyper,
        "training_status": trained["status"],
        "metrics": {k: v for k, v in metrics.items() if k.startswith(("normalized", "precision"))},
        "tracking_id": tracking_id,
        "key_id": key.access_key_id,
        "secret": key.secret_access_key,
        "timings": timings,
    }


# -- server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: str, port: int, log: Path) -> subprocess.Popen:
    handle = open(log, "wb")  # noqa: SIM115 - owned by the process's lifetime
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), data_dir, str(port)],
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health/ready")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise SystemExit(f"server did not start within 120 s: see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sdk_check(endpoint: str, info: dict[str, Any]) -> dict[str, Any]:
    """One call through boto3 itself: the endpoint answers the real SDK (and the campaign's
    model is loaded before any phase starts)."""
    import boto3

    client = boto3.client(
        "personalize-runtime",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=info["key_id"],
        aws_secret_access_key=info["secret"],
    )
    answer = client.get_recommendations(
        campaignArn=info["campaign_arn"], userId="u00001", numResults=25
    )
    assert len(answer["itemList"]) == 25, answer
    return answer


# -- phases -----------------------------------------------------------------------------------


def run_phase(cfg: dict[str, Any], work: Path, label: str) -> dict[str, Any]:
    """One load process; a progress bar while it measures."""
    path = work / f"load-{label.replace(' ', '-').replace('/', 'of')}.json"
    path.touch(mode=0o600)  # holds the bench key's secret
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "load.py"), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    result = None
    bar = None
    started = 0.0
    for line in proc.stdout:
        message = json.loads(line)
        if message["event"] == "measuring":
            started = time.monotonic()
            bar = tqdm(
                total=cfg["duration"],
                desc=f"{label:>12}",
                unit="s",
                bar_format="{desc}: {bar:30} {n:.0f}/{total:.0f} s {postfix}",
                leave=False,
                disable=not sys.stderr.isatty(),
            )
        elif message["event"] == "progress" and bar is not None:
            elapsed = min(cfg["duration"], time.monotonic() - started)
            bar.update(elapsed - bar.n)
            bar.set_postfix_str(f"{message['done'] / max(elapsed, 1e-9):,.0f} req/s")
        elif message["event"] == "result":
            result = message
    if bar is not None:
        bar.close()
    if proc.wait() != 0 or result is None:
        raise SystemExit(f"load process for {label} failed ({proc.returncode})")
    return result


def summarize(results: list[dict[str, Any]], per_request: int = 1) -> dict[str, Any]:
    latencies = np.concatenate([np.asarray(r["latencies"]) for r in results]) * 1000.0
    ok = sum(r["statuses"].get("200", 0) for r in results)
    total = sum(sum(r["statuses"].values()) for r in results)
    wall = sum(r["wall"] for r in results)
    return {
        "rps": total / wall,
        "ok": ok,
        "errors": total - ok,
        "statuses": [r["statuses"] for r in results],
        "per_second": [sum(r["statuses"].values()) / r["wall"] for r in results],
        "items_per_second": ok * per_request / wall,
        "p50": float(np.percentile(latencies, 50)),
        "p90": float(np.percentile(latencies, 90)),
        "p99": float(np.percentile(latencies, 99)),
        "client_cpu": sum(r["client_cpu"] for r in results) / wall,
        "server_cpu": sum(r["server_cpu"] for r in results) / wall,
        "machine_busy": float(np.mean([r["machine_busy"] for r in results])),
        # CPU of everything else on the machine (cores): other work skews a run.
        "others": float(
            np.mean(
                [
                    r["machine_busy"] * CORES - (r["server_cpu"] + r["client_cpu"]) / r["wall"]
                    for r in results
                ]
            )
        ),
        "pool": results[0]["pool"],
        "sign_seconds": results[0]["sign_seconds"],
    }


def events_probe(port: int, info: dict[str, Any]) -> tuple[bool, str]:
    """Whether POST /api/events exists: a route-level 404 (no AWS error type) means no."""
    from signing import Signer

    signer = Signer(f"http://127.0.0.1:{port}/api", info["key_id"], info["secret"])
    params = {
        "trackingId": info["tracking_id"] or "none",
        "sessionId": "probe",
        "userId": "u00000",
        "eventList": [{"eventType": "view", "sentAt": time.time(), "itemId": "i00000"}],
    }
    raw = signer.raw("POST", "/events", json.dumps(params).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head[9:12])
    available = not (status == 404 and "x-amzn-errortype" not in head.lower())
    return available, f"probe answered {status}"


def code_state() -> str:
    """The commit, and the engine files changed since (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain", "engine"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    files = [line[3:] for line in changed if line.strip()]
    return f"{head}" + (f" + uncommitted changes to {', '.join(files)}" if files else "")


# -- report -----------------------------------------------------------------------------------


def print_report(bare: dict[str, Any], real: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(
        f"{'target':<22}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'server CPU':>12}{'CPU ms/req':>12}{'client CPU':>12}{'others':>8}"
    )
    for name, s in (("bare endpoint", bare), ("get_recommendations", real)):
        print(
            f"{name:<22}{s['rps']:>9,.0f}{s['p50']:>9.2f}{s['p90']:>9.2f}{s['p99']:>9.2f}"
            f"{s['errors']:>8}{s['server_cpu']:>12.0%}{s['server_cpu'] * 1000 / s['rps']:>12.2f}"
            f"{s['client_cpu']:>12.0%}{s['others']:>8.0%}"
        )
        rounds = ", ".join(f"{x:,.0f}" for x in s["per_second"])
        print(f"{'':<22}per round: {rounds} req/s")
    throughput = real["rps"] / bare["rps"]
    p99 = real["p99"] / bare["p99"]
    print(
        f"throughput real/bare: {throughput:.2f}x (goal >= 0.7x) "
        f"{'met' if throughput >= 0.7 else 'MISSED'}"
    )
    print(f"p99 real/bare       : {p99:.2f}x (goal <= 2.0x) {'met' if p99 <= 2.0 else 'MISSED'}")
    best_real, best_bare = max(real["per_second"]), max(bare["per_second"])
    print(
        f"best rounds         : {best_real:,.0f} / {best_bare:,.0f} req/s = "
        f"{best_real / best_bare:.2f}x (less sensitive to other work on the machine)"
    )
    print(
        "(CPU: share of one core over the measured windows; CPU ms/req: server CPU time per "
        f"request; others: every other process. {args.concurrency} connections, closed loop.)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--recipe", default="aws-user-personalization", help="name or ARN")
    parser.add_argument(
        "--hyperparameters", help="JSON, e.g. '{\"epochs\": 5}' (default: small epochs)"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each phase")
    parser.add_argument("--rounds", type=int, default=2, help="bare/real alternations")
    parser.add_argument("--concurrency", type=int, default=8, help="connections in flight")
    parser.add_argument("--unknown-users", type=float, default=0.05, help="share of requests")
    parser.add_argument("--pool", type=int, default=4000, help="signed requests per phase")
    parser.add_argument("--events-duration", type=float, default=15.0)
    parser.add_argument("--events-per-request", type=int, default=1)
    parser.add_argument("--profile-requests", type=int, default=1000)
    parser.add_argument("--profile-out", type=Path, help="save the cProfile stats here")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--work", type=Path, help="keep the store here and reuse it on the next run"
    )
    args = parser.parse_args()

    print(f"code: {code_state()}")
    keep = args.work is not None
    work = args.work or Path(tempfile.mkdtemp(prefix="tailor-bench-serving-"))
    work.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        state = work / "setup.json"
        if keep and state.exists():
            info = json.loads(state.read_text())
            print(f"reusing the store in {work} ({info['recipe']})")
        else:
            print(
                f"setup: {args.items:,} items, {args.users:,} users, "
                f"{args.interactions:,} interactions, recipe {args.recipe}"
            )
            info = setup(work, args)
            state.write_text(json.dumps(info))
            os.chmod(state, 0o600)  # holds the bench key's secret
            steps = ", ".join(f"{k} {v:.1f} s" for k, v in info["timings"].items())
            print(f"setup done: {steps}; metrics {info['metrics']}")

        port = free_port()
        endpoint = f"http://127.0.0.1:{port}/api"
        proc = start_server(info["data_dir"], port, work / "server.log")
        checked = sdk_check(endpoint, info)
        base = {
            "endpoint": endpoint,
            "host": "127.0.0.1",
            "port": port,
            "server_pid": proc.pid,
            "key_id": info["key_id"],
            "secret": info["secret"],
            "campaign_arn": info["campaign_arn"],
            "bare_path": "/bench-constant",
            "n_users": args.users,
            "n_items": args.items,
            "unknown_share": args.unknown_users,
            "duration": args.duration,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "pool": args.pool,
        }
        results: dict[str, list[dict[str, Any]]] = {"bare": [], "real": []}
        for r in range(args.rounds):
            for kind in ("bare", "real"):
                cfg = {**base, "kind": kind, "seed": args.seed * 1000 + r}
                results[kind].append(run_phase(cfg, work, f"{kind} {r + 1}/{args.rounds}"))
        bare, real = summarize(results["bare"]), summarize(results["real"])
        answer = json.loads(results["real"][0]["sample"].split("\r\n\r\n", 1)[1])
        print(
            f"checked: boto3 answered {len(checked['itemList'])} items; a measured answer has "
            f"{len(answer['itemList'])} items, e.g. {answer['itemList'][0]}"
        )
        print_report(bare, real, args)

        available, probe = events_probe(port, info)
        if not available or not info.get("tracking_id"):
            why = probe if not available else "no create_event_tracker"
            print(f"\nput_events: not available in this build ({why})")
        else:
            cfg = {
                **base,
                "kind": "events",
                "seed": args.seed * 1000 + 99,
                "duration": args.events_duration,
                "tracking_id": info["tracking_id"],
                "events_per_request": args.events_per_request,
                "pool": max(args.pool, 20_000),
            }
            events = summarize([run_phase(cfg, work, "put_events")], args.events_per_request)
            print(
                f"\nput_events: {events['items_per_second']:,.0f} events/s acknowledged "
                f"({events['rps']:,.0f} req/s of {args.events_per_request} event(s)), "
                f"p50 {events['p50']:.2f} ms, p99 {events['p99']:.2f} ms, "
                f"errors {events['errors']} {events['statuses']}, "
                f"server CPU {events['server_cpu']:.0%}"
            )
        stop_server(proc)
        proc = None

        if args.profile_requests:
            from breakdown import breakdown, print_breakdown

            print(
                f"\nwhere the time goes ({args.profile_requests} requests each, in-process, "
                "one at a time, no network):"
            )
            print_breakdown(breakdown(info, args))
    finally:
        if proc is not None:
            stop_server(proc)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Where one request's time goes: the benchmark's app driven in-process, stage by stage.

The same app as the server (`server.bench_app`), called directly as an ASGI app (no socket,
no uvicorn), one request at a time, with boto3-built signed requests. Stages are timed by
wrapping the functions the request path calls:

- SigV4 verification (`engine.auth.middleware.verify`);
- the Engine's `get_recommendations` (validation, model lookup, scoring, response), and
  inside it each Engine method of `ENGINE_STAGES` this build has (the user's history, ...)
  and the recipe's `score_all`;
- the thread-pool hop around the Engine call (`runtime_routes.run_in_threadpool`);
- the rest of the app: routing, FastAPI's body model, JSON parsing and encoding.

Then cProfile over the same requests (the Engine call run inline so the profiler sees it).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from load import user_ids
from server import BARE_PATH, bench_app
from signing import Signer

import engine.api.runtime_routes as runtime_routes
import engine.auth.middleware as middleware
from engine import Engine, runtime

HOST = "127.0.0.1:8000"


def parse(raw: bytes) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    method, path, _ = lines[0].decode().split(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    return method, path, headers, body


async def call(app: Any, request: tuple[str, str, list[tuple[bytes, bytes]], bytes]) -> int:
    method, path, headers, body = request
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # no disconnect
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


class Stages:
    """Accumulated wall time per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return timed

    def wrap_async(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return timed


def requests(info: dict[str, Any], args: Any, kind: str, seed: int) -> list[Any]:
    signer = Signer(f"http://{HOST}/api", info["key_id"], info["secret"])
    users = user_ids(np.random.default_rng(seed), args.profile_requests, args.users, 0.05)
    out = []
    for user in users:
        params = {"campaignArn": info["campaign_arn"], "userId": user, "numResults": 25}
        if kind == "real":
            raw = signer.operation("personalize-runtime", "GetRecommendations", params)
        else:
            import json

            raw = signer.raw("POST", BARE_PATH, json.dumps(params).encode())
        out.append(parse(raw))
    return out


async def drive(app: Any, batch: list[Any]) -> float:
    start = time.perf_counter()
    for request in batch:
        status = await call(app, request)
        if status != 200:
            raise RuntimeError(f"in-process request answered {status}")
    return time.perf_counter() - start


#: Engine methods on the request path, timed when this build has them (name, label).
ENGINE_STAGES = (
    ("_history", "user history"),
    ("_profile", "unseen user's profile (Users dataset)"),
    ("item_facts", "item facts (exploration)"),
    ("log_recommendation", "recommendation log (queued)"),
)


def breakdown(info: dict[str, Any], args: Any) -> dict[str, Any]:
    engine = Engine(info["data_dir"])
    runtime.register(engine)
    saved_verify, saved_hop = middleware.verify, runtime_routes.run_in_threadpool
    try:
        app = bench_app(engine)
        model = engine.campaign_model(info["campaign_arn"])
        n = args.profile_requests
        bare = requests(info, args, "bare", 11)
        real = requests(info, args, "real", 12)
        asyncio.run(drive(app, bare[:100] + real[:100]))  # warm up

        out: dict[str, Any] = {"n": n, "stages": []}
        stages = Stages()
        middleware.verify = stages.wrap("sigv4", saved_verify)
        cpu = time.process_time()
        out["bare_total"] = asyncio.run(drive(app, bare)) / n
        out["bare_cpu"] = (time.process_time() - cpu) / n
        out["bare_sigv4"] = stages.seconds.pop("sigv4") / n

        runtime_routes.run_in_threadpool = stages.wrap_async("hop", saved_hop)
        patched: list[tuple[Any, str]] = []
        for name, label in ENGINE_STAGES:
            if callable(getattr(engine, name, None)):
                setattr(engine, name, stages.wrap(label, getattr(engine, name)))
                patched.append((engine, name))
                out["stages"].append(label)
        engine.get_recommendations = stages.wrap("engine", engine.get_recommendations)
        model.recipe.score_all = stages.wrap("recipe score_all", model.recipe.score_all)
        patched += [(engine, "get_recommendations"), (model.recipe, "score_all")]
        out["stages"].append("recipe score_all")
        cpu = time.process_time()
        out["real_total"] = asyncio.run(drive(app, real)) / n
        out["real_cpu"] = (time.process_time() - cpu) / n
        out.update({f"real_{k}": v / n for k, v in stages.seconds.items()})
        for owner, name in patched:
            delattr(owner, name)  # back to the class's method
        middleware.verify = saved_verify

        # cProfile: run the Engine call inline so the profiler (main thread) sees it.
        async def inline(func: Callable[..., Any], *a: Any, **k: Any) -> Any:
            return func(*a, **k)

        runtime_routes.run_in_threadpool = inline
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(drive(app, real))
        profiler.disable()
        if getattr(args, "profile_out", None):
            profiler.dump_stats(args.profile_out)
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime")
        stats.print_stats(14)
        out["profile"] = text.getvalue()
        return out
    finally:
        middleware.verify, runtime_routes.run_in_threadpool = saved_verify, saved_hop
        runtime.unregister()
        engine.close()


def print_breakdown(out: dict[str, Any]) -> None:
    ms = 1000.0
    real, bare = out["real_total"], out["bare_total"]
    engine_s = out.get("real_engine", 0.0)
    hop = out.get("real_hop", 0.0) - engine_s
    sigv4 = out.get("real_sigv4", 0.0)
    inner = [(label, out.get(f"real_{label}", 0.0)) for label in out["stages"]]
    rows = [
        ("bare endpoint, whole app", bare, bare),
        ("  of which SigV4 verification", out["bare_sigv4"], bare),
        ("get_recommendations, whole app", real, real),
        ("  SigV4 verification", sigv4, real),
        ("  routing, body model, JSON in/out", real - sigv4 - engine_s - hop, real),
        ("  thread-pool hop", hop, real),
        ("  Engine.get_recommendations", engine_s, real),
    ]
    rows += [(f"    {label}", seconds, real) for label, seconds in inner]
    rest = engine_s - sum(seconds for _, seconds in inner)
    rows.append(("    rest: validation, lookup, exploration, top-n, ids", rest, real))
    for name, seconds, whole in rows:
        print(f"  {name:<56}{seconds * ms:8.3f} ms  {seconds / whole:6.1%}")
    print(
        f"  process CPU per request (all threads): bare {out['bare_cpu'] * ms:.3f} ms, "
        f"real {out['real_cpu'] * ms:.3f} ms"
    )
    print("  (uvicorn's HTTP parsing and access log come on top of both, equally.)")
    print("\ncProfile of the real path, top functions by own time:")
    lines = out["profile"].splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    for line in lines[start:]:
        if line.strip():
            print("  " + line.rstrip())

"""The benchmark's server process: `tailor api`'s app plus a bare endpoint on the same stack.

The app is `engine.server.build_app(engine, dashboard=False)` itself (what `tailor api`
serves); the bare route is added to the same FastAPI app inside it, so both routes pass
through the same uvicorn (one process, one worker), the same `/api` mount and the same
`SigV4Middleware`, and the same FastAPI router. The bare route reads the body and answers a
precomputed 25-item JSON body in GetRecommendations' shape; everything else a real
recommendation costs (body model, JSON parsing, the thread-pool hop, the Engine) is what the
benchmark measures.

Run by bench/serving/run.py: `python bench/serving/server.py DATA_DIR PORT`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI, Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Mount  # noqa: E402

from engine import Engine  # noqa: E402
from engine.auth.middleware import SigV4Middleware  # noqa: E402
from engine.server import build_app  # noqa: E402

BARE_PATH = "/bench-constant"
N_RESULTS = 25

#: The bare endpoint's answer: 25 items and scores, as get_recommendations returns them.
CONSTANT_ANSWER = json.dumps(
    {
        "itemList": [
            {"itemId": f"i{i:05d}", "score": round(0.0123456 / (i + 1), 7)}
            for i in range(N_RESULTS)
        ],
        "recommendationId": "RID-00000000-0000-4000-8000-000000000000",
    }
).encode()


async def bare(request: Request) -> Response:
    """A constant 25-item answer (the body is read, as any handler would)."""
    await request.body()
    return Response(CONSTANT_ANSWER, media_type="application/json")


def api_of(app: Any) -> FastAPI:
    """The FastAPI app that build_app mounts at /api (behind SigV4Middleware)."""
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/api":
            guard = route.app
            assert isinstance(guard, SigV4Middleware), guard
            assert isinstance(guard.app, FastAPI), guard.app
            return guard.app
    raise RuntimeError("build_app has no /api mount")


def bench_app(engine: Engine) -> Any:
    """build_app's API-only app with the bare route added to its FastAPI app."""
    app = build_app(engine, dashboard=False)
    api_of(app).add_api_route(BARE_PATH, bare, methods=["POST"], include_in_schema=False)
    return app


def main() -> None:
    import uvicorn

    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    engine = Engine(data_dir)
    # The same settings as engine.server.serve (`tailor api`): one process, access log on.
    uvicorn.run(bench_app(engine), host="127.0.0.1", port=port, log_level="info")


if __name__ == "__main__":
    main()

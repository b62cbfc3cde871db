"""The one-process server: Streamlit's ASGI App with the API mounted at /api, one Engine.

`tailor up` serves both; `tailor api` serves the API alone. The Engine is opened before the
server starts (so a locked data directory fails at once) and closed by the app's lifespan.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from threadpoolctl import threadpool_limits

from engine import runtime
from engine.api import create_api
from engine.api.control_plane import dispatch
from engine.auth.keys import KeyStore
from engine.auth.middleware import SigV4Middleware
from engine.engine import Engine

DASHBOARD_SCRIPT = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def _lifespan(engine: Engine):
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        # One BLAS thread per operation: requests already run side by side on the thread
        # pool, and two BLAS threads on a request's small products doubled its CPU time
        # (bench/serving); background training shares the cores with serving the same way.
        threadpool_limits(limits=1)
        runtime.register(engine)
        try:
            yield {"engine": engine}
        finally:
            runtime.unregister()
            engine.close()

    return lifespan


def build_app(engine: Engine, dashboard: bool = True) -> Any:
    """The ASGI app: dashboard at /, API at /api (or the API alone), sharing `engine`."""
    api = create_api()
    # Every /api request must carry an AWS SigV4 signature made with a key Tailor issued
    # (health and the OpenAPI docs are exempt). SDKs post the control plane to the endpoint
    # itself (`/api`, no slash): that route is guarded too.
    keys = KeyStore(engine.data_dir)
    control_plane = Starlette(routes=[Route("/api", dispatch, methods=["POST"])])
    routes = [
        Route("/api", SigV4Middleware(control_plane, keys), methods=["POST"]),
        Mount("/api", app=SigV4Middleware(api, keys)),
    ]
    if not dashboard:
        return Starlette(routes=routes, lifespan=_lifespan(engine))
    from streamlit.starlette import App  # settings: dashboard/.streamlit/config.toml

    return App(str(DASHBOARD_SCRIPT), routes=routes, lifespan=_lifespan(engine))


def serve(engine: Engine, host: str, port: int, dashboard: bool = True) -> None:
    """Run uvicorn until interrupted; the Engine is closed on the way out."""
    import uvicorn

    shown_host = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    engine.store.lock.announce(f"http://{shown_host}:{port}/api")
    uvicorn.run(build_app(engine, dashboard), host=host, port=port, log_level="info")

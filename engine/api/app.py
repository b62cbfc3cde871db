"""The FastAPI application mounted at `/api`: health now; Personalize's protocols later."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from engine import runtime
from engine.api.control_plane import dispatch
from engine.api.events_routes import router as events_router
from engine.api.experiments_routes import router as experiments_router
from engine.api.runtime_routes import aws_error
from engine.api.runtime_routes import router as runtime_router


def _version() -> str:
    try:
        return version("tailor")
    except PackageNotFoundError:
        return "0+unknown"


def validation_message(exc: RequestValidationError) -> str:
    """`eventList: List should have at most 10 items (value [...])`, for each problem."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        value = repr(error.get("input"))
        if len(value) > 80:
            value = value[:77] + "..."
        parts.append(f"{where or 'body'}: {error.get('msg')} (value {value})")
    return "; ".join(parts)


def create_api() -> FastAPI:
    """A new API app; its routes use the Engine registered in `engine.runtime`."""
    api = FastAPI(
        title="Tailor API",
        version=_version(),
        description="Amazon Personalize's API, self-hosted. Point an AWS SDK's endpoint_url here.",
    )

    @api.get("/health", tags=["health"])
    def health() -> JSONResponse:
        """200 with the data directory and catalog counts when the Engine is open, else 503."""
        engine = runtime.current()
        if engine is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        body: dict[str, Any] = {
            "status": "ok",
            "version": _version(),
            "dataDir": str(engine.data_dir),
            "datasetGroups": len(engine.list_dataset_groups()["datasetGroups"]),
            "runningJobs": len(engine.jobs.pending()),
        }
        return JSONResponse(body)

    @api.get("/health/live", tags=["health"])
    def live() -> dict[str, str]:
        """200 while the process serves requests."""
        return {"status": "ok"}

    @api.get("/health/ready", tags=["health"])
    def ready() -> JSONResponse:
        """200 once the Engine is open, 503 before."""
        ok = runtime.current() is not None
        return JSONResponse({"status": "ok" if ok else "starting"}, status_code=200 if ok else 503)

    @api.exception_handler(RequestValidationError)
    async def invalid_body(_request: Request, exc: RequestValidationError) -> Any:
        """A body the route's model rejects gets AWS's InvalidInputException, naming the
        field, the value and the rule (never FastAPI's own 422 shape)."""
        return aws_error("InvalidInputException", validation_message(exc), 400)

    api.include_router(runtime_router)
    api.include_router(events_router)
    api.include_router(experiments_router)
    api.add_api_route("/", dispatch, methods=["POST"], include_in_schema=False)
    return api

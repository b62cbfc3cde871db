"""Tailor's experiments over HTTP (REST-JSON under /api/experiments): create, list, describe,
stop, delete, review, historical exposure logs and offline replay.

Bodies and query parameters are the Engine methods' parameters (camelCase); times come back
as epoch seconds, as in AWS's REST-JSON protocols; errors use AWS's shape (`x-amzn-ErrorType`
header, `__type`/`message` body). The routes are control plane: admin keys only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engine import runtime
from engine.api.runtime_routes import aws_error
from engine.errors import PersonalizeError

router = APIRouter(prefix="/experiments", tags=["experiments"])


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


async def _body(request: Request) -> dict[str, Any] | Response:
    try:
        params: Any = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        return aws_error("SerializationException", f"request body is not JSON: {exc}", 400)
    if not isinstance(params, dict):
        return aws_error("SerializationException", "the body must be a JSON object", 400)
    return params


async def call(operation: str, params: dict[str, Any], status: int = 200) -> Response:
    """Run an Engine experiments operation with `params` as its keyword arguments."""
    engine = runtime.current()
    if engine is None:
        return aws_error("ServiceUnavailableException", "Tailor is starting", 503)
    method = getattr(engine, operation)
    try:
        result = await run_in_threadpool(lambda: method(**params))
    except PersonalizeError as exc:
        return aws_error(exc.code, exc.message, exc.status)
    return Response(
        json.dumps(result, default=_default), status_code=status, media_type="application/json"
    )


def _arn(name: str) -> str | Response:
    engine = runtime.current()
    if engine is None:
        return aws_error("ServiceUnavailableException", "Tailor is starting", 503)
    return engine.experiment_arn(name)


async def _on(name: str, operation: str, **params: Any) -> Response:
    arn = _arn(name)
    if isinstance(arn, Response):
        return arn
    return await call(operation, {"experimentArn": arn, **params})


@router.post("", summary="CreateExperiment", status_code=201)
async def create_experiment(request: Request) -> Response:
    """Create an experiment: `{"name", "datasetGroupArn", "variants": [{"name",
    "campaignArn", "trafficShare"}], "primaryMetric", "guardrails", "startTime", "endTime",
    "clickEventTypes", "conversionEventTypes"}`."""
    params = await _body(request)
    if isinstance(params, Response):
        return params
    return await call("create_experiment", params, 201)


@router.get("", summary="ListExperiments")
async def list_experiments(
    datasetGroupArn: str | None = None,
    maxResults: int | None = Query(None, ge=1, le=100),
    nextToken: str | None = None,
) -> Response:
    """Experiments, newest first."""
    return await call(
        "list_experiments",
        {"datasetGroupArn": datasetGroupArn, "maxResults": maxResults, "nextToken": nextToken},
    )


@router.post("/offline-estimate", summary="EstimateOffline")
async def estimate_offline(request: Request) -> Response:
    """Replay / IPS / SNIPS estimate of a campaign's or solution version's click-through on
    logged lists (the parameters of `Engine.estimate_offline`)."""
    params = await _body(request)
    if isinstance(params, Response):
        return params
    return await call("estimate_offline", params)


@router.get("/{name}", summary="DescribeExperiment")
async def describe_experiment(name: str) -> Response:
    """One experiment."""
    return await _on(name, "describe_experiment")


@router.delete("/{name}", summary="DeleteExperiment")
async def delete_experiment(name: str) -> Response:
    """Delete an experiment (its logged recommendations stay)."""
    return await _on(name, "delete_experiment")


@router.post("/{name}/stop", summary="StopExperiment")
async def stop_experiment(name: str) -> Response:
    """Stop an experiment now: users go back to the control's campaign."""
    return await _on(name, "stop_experiment")


@router.get("/{name}/results", summary="GetExperimentResults")
async def get_experiment_results(
    name: str,
    alpha: float = Query(0.05, gt=0, lt=0.5),
    mixtureEffect: float = Query(0.1, gt=0),
) -> Response:
    """The review: per-variant metrics, comparisons, guardrails, sample-ratio check, daily
    timeline and verdict."""
    return await _on(name, "get_experiment_results", alpha=alpha, mixtureEffect=mixtureEffect)


@router.post("/{name}/exposures", summary="ImportExperimentLog")
async def import_experiment_log(name: str, request: Request) -> Response:
    """Load a historical exposure log: `{"dataLocation": "s3://bucket/exposures.csv"}`."""
    params = await _body(request)
    if isinstance(params, Response):
        return params
    return await _on(name, "import_experiment_log", **params)

"""personalize-runtime over HTTP (REST-JSON): POST /recommendations, POST /personalize-ranking.

Request bodies are the operations' parameters as botocore sends them; errors use AWS's shape
(`x-amzn-ErrorType` header and `__type`/`message` body) so boto3 raises its usual classes.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from engine import runtime
from engine.errors import PersonalizeError

router = APIRouter(tags=["personalize-runtime"])


class Promotion(BaseModel):
    name: str | None = None
    percentPromotedItems: int | None = None
    filterArn: str | None = None
    filterValues: dict[str, str] | None = None


class GetRecommendationsRequest(BaseModel):
    """Parameters of GetRecommendations (see botocore's personalize-runtime model)."""

    model_config = ConfigDict(extra="allow")
    campaignArn: str | None = None
    itemId: str | None = None
    userId: str | None = None
    numResults: int | None = None
    context: dict[str, str] | None = None
    filterArn: str | None = None
    filterValues: dict[str, str] | None = None
    recommenderArn: str | None = None
    promotions: list[Promotion] | None = None
    metadataColumns: dict[str, list[str]] | None = None


class GetPersonalizedRankingRequest(BaseModel):
    """Parameters of GetPersonalizedRanking."""

    model_config = ConfigDict(extra="allow")
    campaignArn: str
    inputList: list[str]
    userId: str
    context: dict[str, str] | None = None
    filterArn: str | None = None
    filterValues: dict[str, str] | None = None
    metadataColumns: dict[str, list[str]] | None = None


def aws_error(code: str, message: str, status: int) -> Response:
    """AWS's REST-JSON error shape."""
    return JSONResponse(
        {"__type": code, "message": message}, status_code=status, headers={"x-amzn-ErrorType": code}
    )


async def call(operation: str, request: Request) -> Response:
    """Run an Engine runtime operation with the request's JSON body as its parameters."""
    engine = runtime.current()
    if engine is None:
        return aws_error("ServiceUnavailableException", "Tailor is starting", 503)
    try:
        params: Any = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        return aws_error("SerializationException", f"request body is not JSON: {exc}", 400)
    if not isinstance(params, dict):
        return aws_error("SerializationException", "the body must be a JSON object", 400)
    method = getattr(engine, operation)
    try:
        result = await run_in_threadpool(lambda: method(**params))
    except PersonalizeError as exc:
        return aws_error(exc.code, exc.message, exc.status)
    return JSONResponse(result)


@router.post("/recommendations", summary="GetRecommendations")
async def get_recommendations(
    request: Request, body: GetRecommendationsRequest | None = None
) -> Response:
    """Recommended items for a user, or related items for an item, from a campaign."""
    return await call("get_recommendations", request)


@router.post("/personalize-ranking", summary="GetPersonalizedRanking")
async def get_personalized_ranking(
    request: Request, body: GetPersonalizedRankingRequest | None = None
) -> Response:
    """A list of items re-ranked for a user."""
    return await call("get_personalized_ranking", request)

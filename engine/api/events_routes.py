"""personalize-events over HTTP (REST-JSON): POST /events, POST /items, POST /users.

A 200 means the records are committed. Bodies are the operations' parameters as botocore
sends them (`sentAt` as unix seconds); errors use AWS's shape like the runtime routes.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from engine.api.runtime_routes import call

router = APIRouter(tags=["personalize-events"])


class MetricAttribution(BaseModel):
    eventAttributionSource: str


class Event(BaseModel):
    """One interaction (see botocore's personalize-events model, shape `Event`)."""

    eventId: str | None = None
    eventType: str
    eventValue: float | None = None
    itemId: str | None = None
    properties: str | None = Field(None, description="JSON object; camelCase schema fields")
    sentAt: float = Field(description="unix seconds")
    recommendationId: str | None = None
    impression: list[str] | None = None
    metricAttribution: MetricAttribution | None = None


class PutEventsRequest(BaseModel):
    """Parameters of PutEvents."""

    model_config = ConfigDict(extra="allow")
    trackingId: str
    userId: str | None = None
    sessionId: str
    eventList: list[Event] = Field(min_length=1, max_length=10)


class Record(BaseModel):
    itemId: str | None = None
    userId: str | None = None
    properties: str | None = Field(None, description="JSON object; camelCase schema fields")


class PutItemsRequest(BaseModel):
    """Parameters of PutItems."""

    model_config = ConfigDict(extra="allow")
    datasetArn: str
    items: list[Record] = Field(min_length=1, max_length=10)


class PutUsersRequest(BaseModel):
    """Parameters of PutUsers."""

    model_config = ConfigDict(extra="allow")
    datasetArn: str
    users: list[Record] = Field(min_length=1, max_length=10)


@router.post("/events", summary="PutEvents")
async def put_events(request: Request, body: PutEventsRequest | None = None) -> Response:
    """Record interaction events of a user or an anonymous session (durable on 200)."""
    return await call("put_events", request)


@router.post("/items", summary="PutItems")
async def put_items(request: Request, body: PutItemsRequest | None = None) -> Response:
    """Add or replace items of an Items dataset."""
    return await call("put_items", request)


@router.post("/users", summary="PutUsers")
async def put_users(request: Request, body: PutUsersRequest | None = None) -> Response:
    """Add or replace users of a Users dataset."""
    return await call("put_users", request)

"""Personalize's control plane over HTTP: AWS JSON 1.1 (`X-Amz-Target: AmazonPersonalize.Op`).

Each request is dispatched to the Engine method of the same name in snake_case; the JSON body
is its keyword arguments. Errors use AWS's JSON error shape (`__type`, `message`) so the AWS
SDKs and CLI raise their usual exceptions. Operations Tailor does not implement yet answer
with a clear error, never a 500.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from engine import runtime
from engine.errors import PersonalizeError
from engine.operations import service_model

log = logging.getLogger("tailor.api")

TARGET_PREFIX = "AmazonPersonalize."
CONTENT_TYPE = "application/x-amz-json-1.1"


def snake_case(operation: str) -> str:
    """`CreateDatasetGroup` -> `create_dataset_group`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def aws_response(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON 1.1 response."""
    return Response(
        json.dumps(body, default=_json_default), status_code=status, media_type=CONTENT_TYPE
    )


def aws_error(code: str, message: str, status: int = 400) -> Response:
    """AWS's JSON error shape."""
    return aws_response({"__type": code, "message": message}, status)


def implemented_operations(engine: Any) -> list[str]:
    """The Personalize operations the Engine implements."""
    names = service_model("personalize").operation_names
    return [op for op in names if hasattr(getattr(engine, snake_case(op), None), "operation_name")]


async def dispatch(request: Request) -> Response:
    """Handle one JSON 1.1 request."""
    target = request.headers.get("x-amz-target", "")
    if not target.startswith(TARGET_PREFIX):
        return aws_error(
            "UnknownOperationException",
            f"X-Amz-Target {target!r} must be AmazonPersonalize.<Operation>",
        )
    op = target[len(TARGET_PREFIX) :]
    if op not in service_model("personalize").operation_names:
        return aws_error(
            "UnknownOperationException", f"{op} is not an Amazon Personalize operation"
        )
    engine = runtime.current()
    if engine is None:
        return aws_error("ServiceUnavailable", "Tailor is starting; try again", 503)
    method = getattr(engine, snake_case(op), None)
    if method is None or not hasattr(method, "operation_name"):
        return aws_error(
            "UnsupportedOperationException",
            f"Tailor does not support {op} yet (supported: "
            f"{', '.join(implemented_operations(engine))})",
        )
    try:
        raw = await request.body()
        params = json.loads(raw) if raw.strip() else {}
        if not isinstance(params, dict):
            raise ValueError("the body must be a JSON object")
    except ValueError as exc:
        return aws_error("SerializationException", f"request body is not valid JSON: {exc}")
    try:
        result = await run_in_threadpool(lambda: method(**params))
    except PersonalizeError as exc:
        return aws_error(exc.code, exc.message, exc.status)
    except Exception as exc:  # noqa: BLE001 - a bug must still answer in AWS's shape
        log.exception("%s failed", op)
        return aws_error("InternalFailure", f"{op} failed inside Tailor: {type(exc).__name__}", 500)
    return aws_response(result or {})

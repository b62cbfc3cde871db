"""Request validation against botocore's Personalize service model, and pagination tokens.

botocore ships Amazon Personalize's service models; they are the contract for every request.
`@operation("CreateDatasetGroup")` on an Engine method checks its keyword arguments against
the operation's input shape (required members, types, lengths, ranges, patterns, enums) and
raises InvalidInputException naming the field, the value and the rule.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import botocore.session
import regex
from botocore.model import OperationModel, ServiceModel, Shape

from engine.errors import InvalidInputException, InvalidNextTokenException

F = TypeVar("F", bound=Callable[..., Any])

# Tailor accepts local paths and file:// URLs where Personalize only takes s3:// (documented).
PATTERN_OVERRIDES = {"dataLocation": None}


@functools.cache
def service_model(service: str = "personalize") -> ServiceModel:
    """botocore's service model for `personalize`, `personalize-runtime` or `personalize-events`."""
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _compiled(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def operation_model(name: str, service: str = "personalize") -> OperationModel:
    """The botocore operation model called `name` (e.g. `CreateDatasetGroup`)."""
    return service_model(service).operation_model(name)


def validate_input(op_name: str, params: dict[str, Any], service: str = "personalize") -> None:
    """Raise InvalidInputException unless `params` satisfy the operation's input shape."""
    shape = operation_model(op_name, service).input_shape
    if shape is None:
        if params:
            raise InvalidInputException(f"{op_name} takes no parameters, got {sorted(params)}")
        return
    _check_structure(shape, params, "")


def _where(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_structure(shape: Shape, value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise InvalidInputException(f"{path}: expected an object, got {value!r}")
    for name in shape.required_members:
        if value.get(name) is None:
            raise InvalidInputException(f"{_where(path, name)} is required")
    for name, member_value in value.items():
        if name not in shape.members:
            allowed = ", ".join(shape.members)
            raise InvalidInputException(
                f"{_where(path, name)} is not a parameter here (known: {allowed})"
            )
        if member_value is not None:
            _check_value(shape.members[name], member_value, _where(path, name), name)


def _check_value(shape: Shape, value: Any, path: str, name: str) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        _check_structure(shape, value, path)
    elif kind == "list":
        if not isinstance(value, list):
            raise InvalidInputException(f"{path}: expected a list, got {value!r}")
        _check_size(len(value), meta, path, "items")
        for i, item in enumerate(value):
            _check_value(shape.member, item, f"{path}[{i}]", name)
    elif kind == "map":
        if not isinstance(value, dict):
            raise InvalidInputException(f"{path}: expected a map, got {value!r}")
        _check_size(len(value), meta, path, "entries")
        for key, item in value.items():
            _check_value(shape.key, key, f"{path} key", name)
            _check_value(shape.value, item, f"{path}[{key!r}]", name)
    elif kind == "string":
        _check_string(value, meta, path, name)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInputException(f"{path}: value {value!r} must be an integer")
        _check_range(value, meta, path)
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidInputException(f"{path}: value {value!r} must be a number")
        _check_range(value, meta, path)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidInputException(f"{path}: value {value!r} must be true or false")
    elif kind == "timestamp":
        if not isinstance(value, datetime | int | float):
            raise InvalidInputException(f"{path}: value {value!r} must be a timestamp")


def _check_string(value: Any, meta: dict, path: str, name: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputException(f"{path}: value {value!r} must be a string")
    _check_size(len(value), meta, path, "characters", value)
    if "enum" in meta and value not in meta["enum"]:
        allowed = ", ".join(meta["enum"])
        raise InvalidInputException(f"{path}: value {value!r} must be one of: {allowed}")
    pattern = PATTERN_OVERRIDES.get(name, meta.get("pattern"))
    if pattern and not _compiled(pattern).fullmatch(value):
        raise InvalidInputException(f"{path}: value {value!r} does not match the pattern {pattern}")


def _check_size(size: int, meta: dict, path: str, unit: str, value: Any = None) -> None:
    shown = f"value {_shown(value)} " if value is not None else ""
    if "min" in meta and size < meta["min"]:
        raise InvalidInputException(
            f"{path}: {shown}must have at least {meta['min']} {unit}, has {size}"
        )
    if "max" in meta and size > meta["max"]:
        raise InvalidInputException(
            f"{path}: {shown}must have at most {meta['max']} {unit}, has {size}"
        )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_range(value: float, meta: dict, path: str) -> None:
    if "min" in meta and value < meta["min"]:
        raise InvalidInputException(f"{path}: value {value} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise InvalidInputException(f"{path}: value {value} is above the maximum {meta['max']}")


def operation(op_name: str, service: str = "personalize") -> Callable[[F], F]:
    """Decorate an Engine method named after `op_name`: validate its keyword arguments first.

    Arguments left as None are treated as not given, as boto3 does. Unknown arguments are an
    InvalidInputException naming them (not a TypeError), so the HTTP layer can pass a request
    body straight through.
    """

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, **kwargs: Any) -> Any:
            params = {k: v for k, v in kwargs.items() if v is not None}
            validate_input(op_name, params, service)
            return method(self, **params)

        wrapper.operation_name = op_name  # type: ignore[attr-defined]
        wrapper.service = service  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def encode_next_token(listing: str, offset: int) -> str:
    """An opaque pagination token for `listing` continuing at `offset`."""
    raw = json.dumps({"l": listing, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_next_token(listing: str, token: str | None) -> int:
    """The offset a token from `encode_next_token` continues at; 0 for no token."""
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token.encode(), altchars=b"-_", validate=True))
        offset = data["o"]
        if data["l"] != listing or type(offset) is not int or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError):
        raise InvalidNextTokenException(
            f"nextToken {token!r} was not issued for {listing}"
        ) from None


def paginate(
    listing: str, rows: list, key: str, next_token: str | None, max_results: int | None
) -> dict[str, Any]:
    """A page of `rows` as `{key: [...], "nextToken": ...}` (Personalize's default page: 100)."""
    start = decode_next_token(listing, next_token)
    size = max_results or 100
    page = rows[start : start + size]
    out: dict[str, Any] = {key: page}
    if start + size < len(rows):
        out["nextToken"] = encode_next_token(listing, start + size)
    return out

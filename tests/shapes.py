"""Check an Engine response against botocore's OUTPUT shape of its operation.

`assert_output_shape("DescribeDatasetGroup", response)` walks the operation's output shape
(structures, lists, maps, strings with their enums, lengths and patterns, numbers, booleans
and timestamps) and fails on a key the shape does not have or a value of the wrong type.
Timestamps must be timezone-aware `datetime`s, as boto3 returns them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import regex
from botocore.model import Shape

from engine.operations import operation_model

__all__ = ["assert_output_shape", "shape_errors"]


def assert_output_shape(op_name: str, response: Any, service: str = "personalize") -> None:
    """Fail unless `response` fits the output shape of `op_name` (no output shape: `{}`)."""
    errors = shape_errors(op_name, response, service)
    assert not errors, f"{op_name} response does not fit its output shape:\n" + "\n".join(errors)


def shape_errors(op_name: str, response: Any, service: str = "personalize") -> list[str]:
    """Every way `response` breaks the output shape of `op_name` (empty when it fits)."""
    shape = operation_model(op_name, service).output_shape
    errors: list[str] = []
    if shape is None:
        if response not in ({}, None):
            errors.append(f"response: {op_name} has no output shape, got {response!r}")
        return errors
    _walk(shape, response, "response", errors)
    return errors


def _walk(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        _structure(shape, value, path, errors)
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list ({shape.name}), got {value!r}")
            return
        _size(len(value), shape.metadata, path, errors)
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{i}]", errors)
    elif kind == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map ({shape.name}), got {value!r}")
            return
        _size(len(value), shape.metadata, path, errors)
        for key, item in value.items():
            _walk(shape.key, key, f"{path} key {key!r}", errors)
            _walk(shape.value, item, f"{path}[{key!r}]", errors)
    elif kind == "string":
        _string(shape, value, path, errors)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer ({shape.name}), got {value!r}")
        else:
            _range(value, shape.metadata, path, errors)
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors.append(f"{path}: expected a number ({shape.name}), got {value!r}")
        else:
            _range(value, shape.metadata, path, errors)
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean ({shape.name}), got {value!r}")
    elif kind == "timestamp":
        if not isinstance(value, datetime):
            errors.append(f"{path}: expected a datetime ({shape.name}), got {value!r}")
        elif value.tzinfo is None or value.utcoffset() is None:
            errors.append(f"{path}: datetime {value!r} is not timezone-aware")
    elif kind == "blob":
        if not isinstance(value, bytes | bytearray):
            errors.append(f"{path}: expected bytes ({shape.name}), got {value!r}")
    else:
        errors.append(f"{path}: shape type {kind!r} is not known to this checker")


def _structure(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({shape.name}), got {value!r}")
        return
    for name in shape.required_members:
        if value.get(name) is None:
            errors.append(f"{path}.{name}: required by {shape.name} and missing")
    for name, member in value.items():
        if name not in shape.members:
            errors.append(
                f"{path}.{name}: unknown key (the members of {shape.name} are "
                f"{', '.join(shape.members)})"
            )
        elif member is None:
            errors.append(f"{path}.{name}: None (boto3 would leave the key out)")
        else:
            _walk(shape.members[name], member, f"{path}.{name}", errors)


def _string(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str):
        errors.append(f"{path}: expected a string ({shape.name}), got {value!r}")
        return
    meta = shape.metadata
    if "enum" in meta and value not in meta["enum"]:
        errors.append(f"{path}: {value!r} is not one of {meta['enum']}")
    _size(len(value), meta, path, errors)
    pattern = meta.get("pattern")
    if pattern and not regex.fullmatch(pattern, value):
        errors.append(f"{path}: {value!r} does not match the pattern {pattern}")


def _size(size: int, meta: dict, path: str, errors: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        errors.append(f"{path}: size {size} is below the minimum {meta['min']}")
    if "max" in meta and size > meta["max"]:
        errors.append(f"{path}: size {size} is above the maximum {meta['max']}")


def _range(value: float, meta: dict, path: str, errors: list[str]) -> None:
    if "min" in meta and value < meta["min"]:
        errors.append(f"{path}: {value} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        errors.append(f"{path}: {value} is above the maximum {meta['max']}")

"""The code that makes the same request as the dashboard: boto3 and the AWS CLI.

`boto3_snippet` and `cli_command` take a personalize-runtime request exactly as it was sent
to the Engine (boto3's parameter names and values) and return text a developer can paste:
the boto3 call with Python literals, and an `aws personalize-runtime ...` command whose
structured arguments are JSON, single-quoted for a POSIX shell."""

from __future__ import annotations

import json
import shlex
from typing import Any

from botocore import xform_name

OPERATIONS = ("GetRecommendations", "GetPersonalizedRanking")
LIST_KEYS = {"itemList": "GetRecommendations", "personalizedRanking": "GetPersonalizedRanking"}


def _flat(value: Any) -> str:
    """A one-line Python literal for JSON-like data."""
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flat(str(k))}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a Python literal")


def _python(value: Any, indent: int) -> str:
    """A Python literal for a request value: on one line if it fits, else one member a line."""
    flat = _flat(value)
    if len(flat) + indent + 20 <= 100 or not isinstance(value, dict | list | tuple) or not value:
        return flat
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict):
        members = [f"{inner}{_flat(str(k))}: {_python(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(members) + f"\n{pad}}}"
    members = [f"{inner}{_python(v, indent + 4)}," for v in value]
    return "[\n" + "\n".join(members) + f"\n{pad}]"


def _check(operation: str) -> None:
    if operation not in OPERATIONS:
        raise ValueError(f"operation {operation!r} must be one of {', '.join(OPERATIONS)}")


def boto3_snippet(
    operation: str,
    request: dict[str, Any],
    endpoint_url: str,
    region: str,
    credentials_file: str | None = None,
) -> str:
    """Python that sends `request` with boto3's personalize-runtime client."""
    _check(operation)
    lines = ["import boto3", ""]
    if credentials_file:
        lines += [
            "# Tailor's admin key (or any key it issued):",
            f"#   export AWS_SHARED_CREDENTIALS_FILE={credentials_file}",
        ]
    lines += [
        "runtime = boto3.client(",
        '    "personalize-runtime",',
        f"    endpoint_url={json.dumps(endpoint_url)},",
        f"    region_name={json.dumps(region)},",
        ")",
        f"response = runtime.{xform_name(operation)}(",
    ]
    lines += [f"    {key}={_python(value, 4)}," for key, value in request.items()]
    lines.append(")")
    list_key = "itemList" if operation == "GetRecommendations" else "personalizedRanking"
    lines += [
        f'for item in response["{list_key}"]:',
        '    print(item["itemId"], item.get("score"), item.get("reason", ""))',
    ]
    return "\n".join(lines) + "\n"


def _options(request: dict[str, Any]) -> list[list[str]]:
    """Each request member as `[--option, value, ...]`: strings and numbers as they are,
    lists of strings one argument each (inputList), maps and structures as compact JSON."""
    options = []
    for key, value in request.items():
        option = "--" + xform_name(key, "-")
        if isinstance(value, bool) or value is None:
            raise TypeError(f"{key}: {value!r} is not a personalize-runtime request value")
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            options.append([option, *value])
        elif isinstance(value, dict | list):
            options.append([option, json.dumps(value, separators=(",", ":"), ensure_ascii=False)])
        else:
            options.append([option, str(value)])
    return options


def cli_args(operation: str, request: dict[str, Any]) -> list[str]:
    """The AWS CLI arguments after `aws personalize-runtime` (an unquoted argv)."""
    _check(operation)
    return [xform_name(operation, "-"), *(a for option in _options(request) for a in option)]


def cli_command(
    operation: str,
    request: dict[str, Any],
    endpoint_url: str,
    region: str,
    credentials_file: str | None = None,
) -> str:
    """A shell command (POSIX quoting, one option per line) that sends `request`."""
    _check(operation)
    options = [["--endpoint-url", endpoint_url], ["--region", region], *_options(request)]
    lines = [f"aws personalize-runtime {xform_name(operation, '-')}"]
    lines += ["    " + " ".join(shlex.quote(a) for a in option) for option in options]
    prefix = ""
    if credentials_file:
        prefix = f"export AWS_SHARED_CREDENTIALS_FILE={shlex.quote(credentials_file)}\n"
    return prefix + " \\\n".join(lines) + "\n"

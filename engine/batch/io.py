"""Batch job files: the JSON-lines input files a job reads, the `.out` files it publishes.

Input (`jobInput.s3DataSource.path`) is one file or a folder of files: `s3://bucket/key`
(the embedded object store under `<data_dir>/s3`, or downloaded first when an S3 endpoint is
configured), and, as Tailor's addition, a local path or `file://` URL. Each input file
`<name>` gives one output file `<jobOutput path>/<name>.out`, as Personalize names them,
written under a temporary name and renamed (or uploaded) when complete, so a reader never
sees a partial file and a job run again replaces the output instead of adding to it.
Temporary files a killed process left next to an output are removed by the next run that
publishes the same name.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from engine.config import Settings
from engine.datasets import sources
from engine.errors import InvalidInputException
from engine.operations import validate_input

try:  # orjson is much faster; the standard library is the fallback
    import orjson

    def dumps(value: Any) -> bytes:
        """`value` as compact JSON bytes."""
        return orjson.dumps(value)

    loads = orjson.loads
    JSONError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - depends on the environment

    def dumps(value: Any) -> bytes:
        """`value` as compact JSON bytes."""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    loads = json.loads
    JSONError = ValueError

F = TypeVar("F", bound=Callable[..., Any])

INPUT_FIELD = "jobInput.s3DataSource.path"
OUTPUT_FIELD = "jobOutput.s3DataDestination.path"
OUTPUT_SUFFIX = ".out"
#: The temporary output files jobs of this process are writing.
_WRITING: set[Path] = set()
_WRITING_LOCK = threading.Lock()


def batch_operation(op_name: str) -> Callable[[F], F]:
    """`@operation(op_name)` for the batch jobs, except that `jobInput.s3DataSource.path`
    may also be a local path or `file://` URL (Tailor's addition, as for imports'
    `dataLocation`; botocore's pattern only allows s3/http(s) URLs)."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, **kwargs: Any) -> Any:
            params = {k: v for k, v in kwargs.items() if v is not None}
            checked = params
            path = _input_path(params)
            if isinstance(path, str) and urlparse(path).scheme not in ("s3", "http", "https"):
                checked = copy.deepcopy(params)
                checked["jobInput"]["s3DataSource"]["path"] = "s3://local/" + path[:245]
            validate_input(op_name, checked)
            return method(self, **params)

        wrapper.operation_name = op_name  # type: ignore[attr-defined]
        wrapper.service = "personalize"  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _input_path(params: dict[str, Any]) -> Any:
    job_input = params.get("jobInput")
    if not isinstance(job_input, dict):
        return None
    source = job_input.get("s3DataSource")
    return source.get("path") if isinstance(source, dict) else None


def check_input(location: str, data_dir: Path, settings: Settings) -> None:
    """InvalidInputException now (at create time) unless the input exists (an S3 endpoint
    is only asked when the job runs)."""
    if location.startswith("s3://") and settings.s3_endpoint_url:
        _bucket_and_key(location)
        return
    _local_files(location, data_dir)


@contextlib.contextmanager
def input_files(location: str, data_dir: Path, settings: Settings) -> Iterator[list[Path]]:
    """The input files, sorted by name (hidden files skipped); downloads are removed after."""
    if not (location.startswith("s3://") and settings.s3_endpoint_url):
        yield _local_files(location, data_dir)
        return
    folder = Path(data_dir) / "tmp" / f"batch-{time.time_ns()}"
    try:
        yield _download(location, settings, folder)
    finally:
        for path in folder.glob("*"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()


def _local_files(location: str, data_dir: Path) -> list[Path]:
    if urlparse(location).scheme in ("http", "https"):
        raise InvalidInputException(
            f"{INPUT_FIELD} {location!r}: http(s) locations are not supported; use "
            "s3://bucket/key, file:// or a local path"
        )
    if location.startswith("s3://"):
        _bucket_and_key(location)
    path = sources.local_path(location, data_dir)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise InvalidInputException(f"{INPUT_FIELD} {location!r} is a folder with no files")
        return files
    if path.is_file():
        return [path]
    raise InvalidInputException(f"{INPUT_FIELD} {location!r}: no such file or folder")


def _bucket_and_key(location: str) -> tuple[str, str]:
    parsed = urlparse(location)
    key = unquote(parsed.path.lstrip("/"))
    if not parsed.netloc or any(s in (".", "..") for s in key.split("/")):
        raise InvalidInputException(
            f"{INPUT_FIELD} {location!r} must name a bucket and a key without '.' or '..'"
        )
    return parsed.netloc, key


def _download(location: str, settings: Settings, folder: Path) -> list[Path]:
    import boto3

    bucket, key = _bucket_and_key(location)
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.region)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    keys = sorted(
        obj["Key"]
        for page in pages
        for obj in page.get("Contents", [])
        if obj["Key"] == key or obj["Key"].startswith(key.rstrip("/") + "/")
    )
    keys = [k for k in keys if not k.endswith("/") and not Path(k).name.startswith(".")]
    if not keys:
        raise InvalidInputException(f"{INPUT_FIELD} {location!r}: no objects there")
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in keys:
        target = folder / Path(k).name
        s3.download_file(bucket, k, str(target))
        files.append(target)
    return files


def check_output(location: str) -> None:
    """InvalidInputException unless the output is an `s3://bucket/prefix/` location."""
    sources.output_prefix(location, OUTPUT_FIELD)


@contextlib.contextmanager
def published(location: str, filename: str, data_dir: Path, settings: Settings) -> Iterator[Path]:
    """A temporary file that appears as `location/filename` when the block succeeds
    (`sources.published`), after removing the temporary files of that name that no job of
    this process is writing: only a killed process (the data directory's earlier owner)
    leaves them."""
    if not settings.s3_endpoint_url:
        bucket, prefix = sources.output_prefix(location, OUTPUT_FIELD)
        folder = Path(data_dir) / "s3" / bucket / prefix
        with _WRITING_LOCK:
            for stale in folder.glob(f".{filename}.*.part"):
                if stale not in _WRITING:
                    stale.unlink(missing_ok=True)
    with sources.published(location, filename, data_dir, settings, OUTPUT_FIELD) as temporary:
        with _WRITING_LOCK:
            _WRITING.add(temporary)
        try:
            yield temporary
        finally:
            with _WRITING_LOCK:
                _WRITING.discard(temporary)


def count_lines(path: Path) -> int:
    """Lines in a file (a last line without a newline counts)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def blocks(path: Path, size: int) -> Iterator[tuple[int, list[bytes]]]:
    """The file's non-blank lines in blocks of up to `size`, each with the number of lines
    (blank ones included) read since the previous block."""
    block: list[bytes] = []
    read = 0
    with open(path, "rb") as handle:
        for raw in handle:
            read += 1
            line = raw.strip()
            if line.startswith(b"\xef\xbb\xbf"):  # a byte-order mark on the first line
                line = line[3:].strip()
            if line:
                block.append(line)
            if len(block) >= size:
                yield read, block
                block, read = [], 0
    if block or read:
        yield read, block


def output_line(echo: bytes, output: Any, error: str | None) -> bytes:
    """One line of an output file, as Personalize writes them: `echo` is the input line's
    JSON, `output` a dict or its JSON (None: null)."""
    if output is None:
        output = b"null"
    elif not isinstance(output, bytes):
        output = dumps(output)
    problem = b"null" if error is None else dumps(error)
    return b'{"input":' + echo + b',"output":' + output + b',"error":' + problem + b"}\n"


def parse_line(line: bytes) -> tuple[Any, bytes, str | None]:
    """(the line's JSON value, the JSON to echo as its input, what is wrong with it or None).

    A line that is not JSON is echoed as a JSON string."""
    try:
        value = loads(line)
    except (JSONError, ValueError) as exc:
        text = line.decode("utf-8", errors="replace")
        return None, dumps(text), f"the line is not valid JSON: {exc}"
    if not isinstance(value, dict):
        return value, line, "each line must be a JSON object"
    return value, line, None


#: How an answered line ends (the answerers' lines with an error do not).
ANSWERED = b',"error":null}\n'

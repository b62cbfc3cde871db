"""Where import data comes from and export data goes: a local path, `file://`, or `s3://`.

`s3://bucket/key` resolves to `<data_dir>/s3/bucket/key` (the embedded object store) unless
an S3-compatible endpoint is configured, in which case boto3 downloads the objects first.
A location that is a folder (or a key prefix ending in `/`) imports every data file under it.
Exports write only to `s3://bucket/prefix/`, through `published` (atomic rename or upload).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from engine.config import Settings
from engine.errors import InvalidInputException

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


def _is_data_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(DATA_SUFFIXES)


def local_path(location: str, data_dir: Path) -> Path:
    """The local file or folder a location names (for s3://, inside the embedded store)."""
    parsed = urlparse(location)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InvalidInputException(f"dataSource.dataLocation {location!r} names no bucket")
        return Path(data_dir) / "s3" / parsed.netloc / unquote(parsed.path.lstrip("/"))
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("http", "https"):
        raise InvalidInputException(
            f"dataSource.dataLocation {location!r}: http(s) locations are not supported; "
            "use s3://bucket/key, file:// or a local path"
        )
    return Path(location).expanduser()


def files_at(location: str, data_dir: Path, settings: Settings, download_dir: Path) -> list[Path]:
    """The data files to import from `location`, sorted by name; InvalidInput if there are none."""
    if location.startswith("s3://") and settings.s3_endpoint_url:
        return _download_s3(location, settings, download_dir)
    path = local_path(location, data_dir)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if _is_data_file(p))
        if not files:
            raise InvalidInputException(
                f"dataSource.dataLocation {location!r} is a folder with no .csv or .parquet files"
            )
        return files
    if path.is_file():
        return [path]
    raise InvalidInputException(
        f"dataSource.dataLocation {location!r}: no such file or folder ({path})"
    )


def _download_s3(location: str, settings: Settings, download_dir: Path) -> list[Path]:
    import boto3

    parsed = urlparse(location)
    bucket, key = parsed.netloc, unquote(parsed.path.lstrip("/"))
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.region)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    keys = sorted(
        obj["Key"]
        for page in pages
        for obj in page.get("Contents", [])
        if obj["Key"] == key or (key.endswith("/") or obj["Key"].startswith(key.rstrip("/") + "/"))
    )
    keys = [k for k in keys if k.lower().endswith(DATA_SUFFIXES)]
    if not keys:
        raise InvalidInputException(f"dataSource.dataLocation {location!r}: no data files there")
    download_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i, k in enumerate(keys):
        target = download_dir / f"{i:05d}-{Path(k).name}"
        s3.download_file(bucket, k, str(target))
        files.append(target)
    return files


def output_prefix(location: str, field: str) -> tuple[str, str]:
    """The bucket and key prefix of an `s3://bucket/prefix/` output location.

    InvalidInputException naming `field` unless the location is s3:// with a bucket and no
    `.`/`..` segments (so a write never leaves the bucket's folder of the embedded store).
    """
    parsed = urlparse(location)
    if parsed.scheme != "s3":
        raise InvalidInputException(
            f"{field} {location!r} must be an s3://bucket/prefix/ location "
            f"({parsed.scheme or 'a local path'} is not supported for output)"
        )
    segments = [s for s in unquote(parsed.path).split("/") if s]
    if parsed.netloc in ("", ".", "..") or any(s in (".", "..") for s in segments):
        raise InvalidInputException(
            f"{field} {location!r} must name a bucket and a key prefix without '.' or '..' segments"
        )
    return parsed.netloc, "/".join(segments)


@contextlib.contextmanager
def published(
    location: str, filename: str, data_dir: Path, settings: Settings, field: str
) -> Iterator[Path]:
    """A temporary file to write; when the block succeeds it appears as `location/filename`.

    In the embedded store the file is written next to its target and renamed (atomic: a
    reader sees the whole file or none); with an S3 endpoint it is uploaded with boto3. The
    temporary file is removed whatever happens.
    """
    bucket, prefix = output_prefix(location, field)
    key = f"{prefix}/{filename}" if prefix else filename
    if settings.s3_endpoint_url:
        folder = Path(data_dir) / "tmp"
        target = None
    else:
        target = Path(data_dir) / "s3" / bucket / key
        folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{filename}.{uuid.uuid4().hex}.part"
    try:
        yield temporary
        if target is not None:
            os.replace(temporary, target)
        else:
            _upload_s3(temporary, bucket, key, settings)
    finally:
        temporary.unlink(missing_ok=True)


def _upload_s3(path: Path, bucket: str, key: str, settings: Settings) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.region)
    s3.upload_file(str(path), bucket, key)


def open_text(path: Path) -> io.TextIOBase:
    """A CSV file as text (UTF-8, a byte-order mark is skipped; .gz is decompressed)."""
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def csv_header(path: Path) -> list[str]:
    """The column names on a CSV file's first line."""
    with open_text(path) as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            return []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInputException(
                f"{path.name}: cannot read the header line: {exc}"
            ) from None

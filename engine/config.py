"""Tailor's settings: data directory, region, account, optional S3 endpoint.

Every setting has a default and a `TAILOR_*` environment override, validated at load time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"


def default_data_dir() -> Path:
    """`TAILOR_DATA_DIR`, or `./.tailor-data` in the current directory."""
    return Path(os.environ.get("TAILOR_DATA_DIR", ".tailor-data")).expanduser()


@dataclass(frozen=True)
class Settings:
    """How an Engine is configured.

    - `region` (default `us-east-1`, env `TAILOR_REGION`) and `account_id` (default
      `000000000000`, env `TAILOR_ACCOUNT_ID`) go into every ARN.
    - `s3_endpoint_url` (env `TAILOR_S3_ENDPOINT_URL`): when set, `s3://bucket/key` locations
      are read from that S3-compatible endpoint with boto3; when unset they resolve to
      `<data_dir>/s3/bucket/key`.
    - `memory_limit` (env `TAILOR_MEMORY_LIMIT`, e.g. `2GB`): DuckDB's memory limit; DuckDB
      spills to `<data_dir>/tmp` beyond it.
    - `threads` (env `TAILOR_THREADS`): DuckDB worker threads (default: all cores).
    """

    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    s3_endpoint_url: str | None = None
    memory_limit: str | None = None
    threads: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            raise ValueError(f"region {self.region!r} is not an AWS region name like us-east-1")
        if not re.fullmatch(r"\d{12}", self.account_id):
            raise ValueError(f"account_id {self.account_id!r} must be 12 digits")
        if self.memory_limit and not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", self.memory_limit):
            raise ValueError(f"memory_limit {self.memory_limit!r} must look like 512MB or 2GB")

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from `TAILOR_*` environment variables, defaults elsewhere."""
        threads = os.environ.get("TAILOR_THREADS")
        return cls(
            region=os.environ.get("TAILOR_REGION", DEFAULT_REGION),
            account_id=os.environ.get("TAILOR_ACCOUNT_ID", DEFAULT_ACCOUNT_ID),
            s3_endpoint_url=os.environ.get("TAILOR_S3_ENDPOINT_URL") or None,
            memory_limit=os.environ.get("TAILOR_MEMORY_LIMIT") or None,
            threads=int(threads) if threads else None,
        )

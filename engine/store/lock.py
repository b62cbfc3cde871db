"""The lock that lets one process own a data directory: `<data_dir>/tailor.lock`.

The holder writes who it is (pid, command, start time, API address) into the lock file, so a
second process can say exactly which process to use instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from engine.errors import DataDirectoryLocked

LOCK_FILE = "tailor.lock"


class DataDirLock:
    """An exclusive, non-blocking flock on `<data_dir>/tailor.lock`, released on close or exit."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None
        self.info: dict = {}

    def acquire(self) -> None:
        """Take the lock or raise DataDirectoryLocked naming the process that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirectoryLocked(self._held_message()) from None
        self._fd = fd
        self.info = {
            "pid": os.getpid(),
            "command": " ".join(sys.argv)[:300],
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self._write()

    def announce(self, api_url: str) -> None:
        """Record the address of this process's API, for the error a second process gets."""
        self.info["api_url"] = api_url
        self._write()

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _write(self) -> None:
        assert self._fd is not None
        data = json.dumps(self.info).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def _held_message(self) -> str:
        try:
            holder = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        who = f"process {holder.get('pid', '?')}"
        if holder.get("command"):
            who += f" ({holder['command']}, started {holder.get('started', '?')})"
        use = (
            f"use that process's API at {holder['api_url']} instead"
            if holder.get("api_url")
            else "use that process's API instead, or stop it first"
        )
        return (
            f"The data directory {self.path.parent} is in use by {who}. "
            f"Only one process may open a data directory: {use}."
        )

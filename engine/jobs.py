"""Background work of the Engine (import jobs now, training and batch jobs later).

A small thread pool; each job is keyed by its resource ARN and has a progress object that
the CLI and the dashboard read. Jobs interrupted by a stop are marked failed, never left
"in progress".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger("tailor.jobs")

RUNNING_STATUSES = ("CREATE PENDING", "CREATE IN_PROGRESS")


class BackgroundJobs:
    """Runs callables on worker threads and remembers their futures and progress."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tailor-job")
        self._futures: dict[str, Future] = {}
        self._progress: dict[str, Any] = {}
        self._lock = threading.Lock()

    def submit(self, arn: str, work: Callable[[], None], progress: Any = None) -> Future:
        """Run `work` in the background under the name `arn`."""
        with self._lock:
            future = self._pool.submit(self._guard, arn, work)
            self._futures[arn] = future
            self._progress[arn] = progress
        return future

    @staticmethod
    def _guard(arn: str, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - logged; the job records its own failure
            log.exception("background job %s crashed", arn)

    def progress(self, arn: str) -> Any:
        """The progress object of a job, or None."""
        return self._progress.get(arn)

    def wait(self, arn: str, timeout: float | None = None) -> None:
        """Block until the job `arn` has finished (no-op for unknown jobs)."""
        future = self._futures.get(arn)
        if future is not None:
            future.result(timeout=timeout)

    def pending(self) -> list[str]:
        """ARNs of jobs not finished yet."""
        return [arn for arn, f in self._futures.items() if not f.done()]

    def shutdown(self) -> list[str]:
        """Cancel queued jobs, wait for running ones; return the ARNs that were cancelled."""
        cancelled = [arn for arn, f in self._futures.items() if f.cancel()]
        self._pool.shutdown(wait=True, cancel_futures=True)
        return cancelled

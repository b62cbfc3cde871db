"""The Engine: Amazon Personalize's operations over one data directory (the facade).

Its public methods are Personalize's operations in snake_case, with boto3's parameter names
and response shapes. Each family of operations lives in its own module and is mixed in here;
HTTP, CLI and dashboard are thin adapters over this class.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from engine.arns import ArnFactory
from engine.attribution import MetricAttributionOps
from engine.batch.inference import BATCH_INFERENCE_JOB, BatchInferenceOps
from engine.batch.segments import BATCH_SEGMENT_JOB, BatchSegmentOps
from engine.config import Settings, default_data_dir
from engine.datasets.exports import EXPORT_JOB, DatasetExportJobOps
from engine.datasets.groups import DatasetGroupOps
from engine.datasets.imports import IMPORT_JOB, ImportJobOps
from engine.datasets.readiness import ReadinessOps
from engine.datasets.schemas import SchemaOps
from engine.events.ingest import EventOps
from engine.events.writer import EventWriter
from engine.experiments import ExperimentOps
from engine.jobs import RUNNING_STATUSES, BackgroundJobs
from engine.serving.history import HistoryIndex
from engine.serving.loaded import ModelCache
from engine.serving.recommend import RecommendOps
from engine.solutions.recipes import RecipeOps
from engine.solutions.solutions import VERSION
from engine.solutions.versions import SolutionVersionOps
from engine.store import Catalog, Store, data_tables
from engine.store import events as event_sql
from engine.tagging import TagOps

log = logging.getLogger("tailor")

INTERRUPTED = (
    "Interrupted: the process that ran this job stopped before it finished; "
    "nothing of it was kept. Create the job again."
)
TERMINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")
RUNNING = (*RUNNING_STATUSES, "CREATE STOPPING")


class Engine(
    BatchInferenceOps,
    BatchSegmentOps,
    RecommendOps,
    EventOps,
    SolutionVersionOps,
    RecipeOps,
    ImportJobOps,
    DatasetExportJobOps,
    MetricAttributionOps,
    ReadinessOps,
    SchemaOps,
    DatasetGroupOps,
    TagOps,
    ExperimentOps,
):
    """Amazon Personalize's operations on `<data_dir>/tailor.duckdb`.

    >>> with Engine("/tmp/tailor-data") as engine:
    ...     engine.create_dataset_group(name="shop")["datasetGroupArn"]
    'arn:aws:personalize:us-east-1:000000000000:dataset-group/shop'

    One process may open a data directory; a second gets DataDirectoryLocked naming the
    holder. Background jobs (imports) run on a small thread pool; `wait_for` blocks on one.
    """

    def __init__(
        self, data_dir: str | Path | None = None, settings: Settings | None = None
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.store = Store(self.data_dir, self.settings)
        self.catalog = Catalog(self.store)
        self.arns = ArnFactory(self.settings.region, self.settings.account_id)
        self.jobs = BackgroundJobs()
        self.models = ModelCache()
        self._versions: dict[int, int] = {}
        self._metadata_versions: dict[int, int] = {}
        self._trackers = {}
        self._trackers_lock = threading.Lock()
        self._recent = OrderedDict()
        self._facts = {}
        self._add_event_columns()
        self.history = HistoryIndex(self._scan_history)
        self.events = EventWriter(self.store, self.history, self._events_committed)
        self._fail_interrupted_jobs()

    def _add_event_columns(self) -> None:
        with self.store.transaction() as cur:
            for dataset in self.catalog.list("dataset"):
                data_tables.add_event_columns(cur, dataset.id)

    def _scan_history(self, group_id: int, dataset_id: int) -> dict[str, Any]:
        with self.store.cursor() as cur:
            return event_sql.history_scan(cur, group_id, dataset_id)

    def _events_committed(self, event_groups: set[int], entity_groups: set[int]) -> None:
        for group_id in event_groups:
            self._versions[group_id] = self._versions.get(group_id, 0) + 1
        for group_id in entity_groups:
            self.data_changed(group_id, bulk=False)

    def data_changed(self, group_id: int, bulk: bool = True) -> None:
        """A group's data changed: bump its version; an import also rebuilds its history."""
        self._versions[group_id] = self._versions.get(group_id, 0) + 1
        self._metadata_versions[group_id] = self._metadata_versions.get(group_id, 0) + 1
        if bulk:
            self.history.invalidate(group_id)

    def data_version(self, group_id: int) -> int:
        """Tailor's own: a counter that changes whenever the group's data does (imports,
        events, users and items), for caches keyed by the data they were built from."""
        return self._versions.get(group_id, 0)

    def metadata_version(self, group_id: int) -> int:
        """Like `data_version`, but unchanged by interaction events: it moves with imports
        and with PutItems/PutUsers (what item and user facts are built from)."""
        return self._metadata_versions.get(group_id, 0)

    def _fail_interrupted_jobs(self) -> None:
        """Jobs left pending or in progress by a process that died are failed, not resumed."""
        for kind in (IMPORT_JOB, EXPORT_JOB, VERSION, BATCH_INFERENCE_JOB, BATCH_SEGMENT_JOB):
            for job in self.catalog.list(kind):
                if job.status in RUNNING:
                    log.warning("marking interrupted job %s as failed", job.arn)
                    self.catalog.update(job.arn, status="CREATE FAILED", failure_reason=INTERRUPTED)

    def wait_for(self, arn: str, timeout: float = 600.0) -> dict[str, Any]:
        """Block until a background job has finished; return its catalog status and reason."""
        deadline = time.monotonic() + timeout
        self.jobs.wait(arn, timeout)
        while True:
            resource = self.catalog.get(arn)
            if resource is None or resource.status in TERMINAL or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return {
            "status": resource.status if resource else None,
            "failureReason": resource.failure_reason if resource else None,
        }

    def job_progress(self, arn: str) -> dict[str, Any]:
        """Tailor's own: how far a background job is: `status`, `fraction` (0..1), `step`, and
        job-specific details (rows imported; HPO trial, candidate recipe)."""
        progress = self.jobs.progress(arn)
        resource = self.catalog.get(arn)
        status = resource.status if resource else None
        if progress is None:
            done = status in TERMINAL
            return {"status": status, "fraction": 1.0 if done else 0.0, "step": status}
        return {"status": status, **progress.snapshot()}

    def close(self) -> None:
        """Stop background work (queued jobs are failed), checkpoint and release the directory."""
        for arn in self.jobs.shutdown():
            self.catalog.update(arn, status="CREATE FAILED", failure_reason=INTERRUPTED)
        self.events.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

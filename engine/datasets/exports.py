"""Dataset export jobs: CreateDatasetExportJob, DescribeDatasetExportJob, ListDatasetExportJobs.

An export job writes a dataset's rows to `<jobOutput.s3DataDestination.path>/<jobName>.csv`
in the background (CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE or CREATE FAILED): a header
of the schema's field names, then the rows that arrived the chosen way (`ingestionMode`: BULK
= import jobs, PUT = real-time events and PutUsers/PutItems, ALL = both; Personalize's default
is PUT). The file appears whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.base import summary
from engine.datasets import sources
from engine.datasets.avro import SchemaField
from engine.datasets.datasets import DATASET, DatasetOps
from engine.errors import InvalidInputException
from engine.operations import operation, paginate
from engine.store import Resource, data_tables

EXPORT_JOB = "dataset-export-job"
OUTPUT_FIELD = "jobOutput.s3DataDestination.path"
DEFAULT_INGESTION_MODE = "PUT"
SOURCES = {
    "BULK": (data_tables.SOURCE_IMPORT,),
    "PUT": (data_tables.SOURCE_EVENT,),
    "ALL": (data_tables.SOURCE_IMPORT, data_tables.SOURCE_EVENT),
}


def _describe(job: Resource) -> dict[str, Any]:
    spec = job.spec
    return summary(
        job,
        "datasetExportJobArn",
        "jobName",
        datasetArn=job.parent_arn,
        ingestionMode=spec["ingestionMode"],
        roleArn=spec["roleArn"],
        jobOutput=spec["jobOutput"],
    )


def _listed(job: Resource) -> dict[str, Any]:
    return summary(job, "datasetExportJobArn", "jobName")


@dataclass(frozen=True)
class ExportPlan:
    """Everything a run needs, read from the catalog before the background work starts."""

    job_arn: str
    dataset_id: int
    fields: list[SchemaField]
    sources: tuple[str, ...]
    location: str
    filename: str


@dataclass
class ExportProgress:
    """What a running export is doing, for progress bars."""

    step: str = "queued"
    rows: int = 0
    cursor: Any = field(default=None, repr=False)

    def snapshot(self) -> dict[str, Any]:
        """`fraction`, `step` and `rows` for progress displays (DuckDB's own progress)."""
        if self.step == "done":
            fraction = 1.0
        elif self.cursor is None:
            fraction = 0.0
        else:
            try:
                fraction = min(1.0, max(0.0, float(self.cursor.query_progress()) / 100.0))
            except Exception:  # noqa: BLE001 - progress is best effort
                fraction = 0.0
        return {"fraction": fraction, "step": self.step, "rows": self.rows}


class DatasetExportJobOps(DatasetOps):
    """The export job operations of the Engine (jobs run on the Engine's background pool)."""

    @operation("CreateDatasetExportJob")
    def create_dataset_export_job(
        self,
        *,
        jobName: str,
        datasetArn: str,
        roleArn: str,
        jobOutput: dict[str, Any],
        ingestionMode: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Start exporting a dataset's rows to `s3://bucket/prefix/<jobName>.csv`.

        `s3://` resolves to the embedded object store under `<data_dir>/s3` unless an S3
        endpoint is configured. `ingestionMode` picks the rows: BULK (from import jobs), PUT
        (the default, as in Personalize: from real-time events, PutUsers and PutItems) or ALL.
        `kmsKeyArn` is kept and described but Tailor does not encrypt the file.
        """
        dataset = self.catalog.require(datasetArn, DATASET)
        destination = jobOutput["s3DataDestination"]
        location = destination["path"]
        sources.output_prefix(location, OUTPUT_FIELD)
        mode = ingestionMode or DEFAULT_INGESTION_MODE
        arn = self.arns.make(EXPORT_JOB, jobName)
        spec = {
            "ingestionMode": mode,
            "roleArn": roleArn,
            "jobOutput": {"s3DataDestination": dict(destination)},
        }
        with self.store.transaction() as cur:
            self.catalog.insert(
                EXPORT_JOB,
                arn,
                jobName,
                parent_arn=datasetArn,
                status="CREATE PENDING",
                spec=spec,
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)
        plan = ExportPlan(
            arn, dataset.id, self.dataset_fields(dataset), SOURCES[mode], location, f"{jobName}.csv"
        )
        progress = ExportProgress()
        self.jobs.submit(arn, lambda: self._run_export(plan, progress), progress)
        return {"datasetExportJobArn": arn}

    def _run_export(self, plan: ExportPlan, progress: ExportProgress) -> None:
        """Write the file and record ACTIVE, or CREATE FAILED with the reason."""
        self.catalog.update(plan.job_arn, status="CREATE IN_PROGRESS")
        progress.step = "writing"
        try:
            with (
                sources.published(
                    plan.location, plan.filename, self.store.data_dir, self.settings, OUTPUT_FIELD
                ) as temporary,
                self.store.cursor() as cur,
            ):
                progress.cursor = cur
                progress.rows = data_tables.export_csv(
                    cur, plan.dataset_id, plan.fields, plan.sources, temporary
                )
                progress.cursor = None
        except InvalidInputException as exc:
            self._fail_export(plan, progress, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any failure must end the job visibly
            self._fail_export(
                plan, progress, f"internal error while exporting: {type(exc).__name__}: {exc}"
            )
            return
        progress.step = "done"
        self.catalog.update(plan.job_arn, status="ACTIVE", spec_updates={"rows": progress.rows})

    def _fail_export(self, plan: ExportPlan, progress: ExportProgress, reason: str) -> None:
        progress.step = "failed"
        progress.cursor = None
        self.catalog.update(plan.job_arn, status="CREATE FAILED", failure_reason=reason)

    @operation("DescribeDatasetExportJob")
    def describe_dataset_export_job(self, *, datasetExportJobArn: str) -> dict[str, Any]:
        """Describe an export job: its status, and failureReason if it failed."""
        job = self.catalog.require(datasetExportJobArn, EXPORT_JOB)
        return {"datasetExportJob": _describe(job)}

    @operation("ListDatasetExportJobs")
    def list_dataset_export_jobs(
        self,
        *,
        datasetArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List export jobs (of one dataset if given), newest first."""
        if datasetArn:
            self.catalog.require(datasetArn, DATASET)
        rows = [_listed(j) for j in self.catalog.list(EXPORT_JOB, datasetArn)]
        return paginate(
            f"ListDatasetExportJobs:{datasetArn or ''}",
            rows,
            "datasetExportJobs",
            nextToken,
            maxResults,
        )

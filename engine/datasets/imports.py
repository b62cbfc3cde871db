"""Dataset import jobs: CreateDatasetImportJob, DescribeDatasetImportJob, ListDatasetImportJobs."""

from __future__ import annotations

from typing import Any

from engine.datasets.datasets import DATASET, RUNNING, DatasetOps
from engine.datasets.import_runner import ImportPlan, ImportProgress, ImportRun
from engine.datasets.sources import files_at
from engine.errors import InvalidInputException, ResourceInUseException
from engine.operations import operation, paginate
from engine.store import Resource

IMPORT_JOB = "dataset-import-job"


def _describe(job: Resource, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"jobName": job.name, "datasetImportJobArn": job.arn}
    if full:
        out["datasetArn"] = job.parent_arn
        out["dataSource"] = {"dataLocation": job.spec["dataLocation"]}
        if job.spec.get("roleArn"):
            out["roleArn"] = job.spec["roleArn"]
    out["status"] = job.status
    out["creationDateTime"] = job.created
    out["lastUpdatedDateTime"] = job.updated
    if job.failure_reason:
        out["failureReason"] = job.failure_reason
    out["importMode"] = job.spec["importMode"]
    if full:
        out["publishAttributionMetricsToS3"] = job.spec.get("publishAttributionMetricsToS3", False)
    return out


class ImportJobOps(DatasetOps):
    """The import job operations of the Engine (jobs run on the Engine's background pool)."""

    @operation("CreateDatasetImportJob")
    def create_dataset_import_job(
        self,
        *,
        jobName: str,
        datasetArn: str,
        dataSource: dict[str, str],
        roleArn: str | None = None,
        tags: list[dict[str, str]] | None = None,
        importMode: str | None = None,
        publishAttributionMetricsToS3: bool | None = None,
    ) -> dict[str, Any]:
        """Start importing `dataSource.dataLocation` into a dataset in the background.

        The location may be `s3://bucket/key` (the embedded store under `<data_dir>/s3` unless
        an S3 endpoint is configured), `file://...` or a local path; a folder imports every
        CSV/Parquet file in it. FULL (the default) replaces earlier imported rows, INCREMENTAL
        appends (for Users/Items, an id imported again replaces its old row).
        """
        dataset = self.catalog.require(datasetArn, DATASET)
        location = dataSource.get("dataLocation")
        if location is None:
            raise InvalidInputException("dataSource.dataLocation is required")
        if not location.startswith("s3://") or not self.settings.s3_endpoint_url:
            files_at(location, self.store.data_dir, self.settings, self.store.data_dir / "tmp")
        running = [
            j.arn
            for j in self.catalog.children(datasetArn)
            if j.resource_type == IMPORT_JOB and j.status in RUNNING
        ]
        if running:
            raise ResourceInUseException(
                f"Dataset {datasetArn} already has an import job in progress: {running[0]}"
            )
        mode = importMode or "FULL"
        arn = self.arns.dataset_import_job(jobName)
        spec = {
            "dataLocation": location,
            "roleArn": roleArn,
            "importMode": mode,
            "publishAttributionMetricsToS3": bool(publishAttributionMetricsToS3),
        }
        with self.store.transaction() as cur:
            job = self.catalog.insert(
                IMPORT_JOB,
                arn,
                jobName,
                parent_arn=datasetArn,
                status="CREATE PENDING",
                spec=spec,
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)
        group = self.catalog.require(dataset.spec["datasetGroupArn"], "dataset-group")
        plan = ImportPlan(
            arn,
            job.id,
            dataset.id,
            dataset.spec["datasetType"],
            group.id,
            self.dataset_fields(dataset),
            location,
            mode,
        )
        progress = ImportProgress()
        self.jobs.submit(arn, lambda: self._run_import(plan, progress), progress)
        return {"datasetImportJobArn": arn}

    def _run_import(self, plan: ImportPlan, progress: ImportProgress) -> None:
        self.catalog.update(plan.job_arn, status="CREATE IN_PROGRESS")
        try:
            ImportRun(self.store, self.catalog, self.settings, plan, progress).run()
        finally:
            self.data_changed(plan.group_id)

    @operation("DescribeDatasetImportJob")
    def describe_dataset_import_job(self, *, datasetImportJobArn: str) -> dict[str, Any]:
        """Describe an import job: status, and failureReason with the bad rows if it failed."""
        return {
            "datasetImportJob": _describe(self.catalog.require(datasetImportJobArn, IMPORT_JOB))
        }

    @operation("ListDatasetImportJobs")
    def list_dataset_import_jobs(
        self,
        *,
        datasetArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List import jobs (of one dataset if given), newest first."""
        if datasetArn:
            self.catalog.require(datasetArn, DATASET)
        rows = [_describe(j, full=False) for j in self.catalog.list(IMPORT_JOB, datasetArn)]
        return paginate(
            f"ListDatasetImportJobs:{datasetArn or ''}",
            rows,
            "datasetImportJobs",
            nextToken,
            maxResults,
        )

"""Load the sample store (data/sample) into a data directory through ordinary import jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from engine.engine import Engine

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
DATASETS = (("Interactions", "interactions"), ("Users", "users"), ("Items", "items"))

ProgressCallback = Callable[[str, float], None]


def load_sample(
    engine: Engine,
    sample_dir: Path = SAMPLE_DIR,
    group: str = "sample",
    on_progress: ProgressCallback | None = None,
) -> str:
    """Create dataset group `group` with the sample's three datasets and import them.

    Uses create_schema / create_dataset / create_dataset_import_job exactly as a user would;
    `on_progress(job_name, fraction)` is called while the imports run. Returns the group ARN.
    Raises RuntimeError naming the job if an import fails.
    """
    sample_dir = Path(sample_dir)
    group_arn = engine.create_dataset_group(name=group)["datasetGroupArn"]
    jobs: list[tuple[str, str]] = []
    for dataset_type, stem in DATASETS:
        schema_text = (sample_dir / f"{stem}.schema.json").read_text()
        schema_arn = engine.create_schema(name=f"{group}-{stem}", schema=schema_text)["schemaArn"]
        dataset_arn = engine.create_dataset(
            name=f"{group}-{stem}",
            schemaArn=schema_arn,
            datasetGroupArn=group_arn,
            datasetType=dataset_type,
        )["datasetArn"]
        job_name = f"{group}-{stem}-initial"
        job_arn = engine.create_dataset_import_job(
            jobName=job_name,
            datasetArn=dataset_arn,
            dataSource={"dataLocation": str((sample_dir / f"{stem}.csv").resolve())},
            importMode="FULL",
        )["datasetImportJobArn"]
        jobs.append((job_name, job_arn))
    for job_name, job_arn in jobs:
        _follow(engine, job_name, job_arn, on_progress)
    return group_arn


def _follow(
    engine: Engine, job_name: str, job_arn: str, on_progress: ProgressCallback | None
) -> None:
    while True:
        progress = engine.job_progress(job_arn)
        if on_progress:
            on_progress(job_name, progress["fraction"])
        if progress["status"] in ("ACTIVE", "CREATE FAILED"):
            break
        time.sleep(0.1)
    job = engine.describe_dataset_import_job(datasetImportJobArn=job_arn)["datasetImportJob"]
    if job["status"] != "ACTIVE":
        raise RuntimeError(f"sample import {job_name} failed: {job.get('failureReason')}")
    if on_progress:
        on_progress(job_name, 1.0)

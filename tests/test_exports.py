"""Dataset export jobs: the exported CSV against the source data, ingestion modes, statuses,
errors, interrupted jobs, output shapes, and the operations over the wire with boto3."""

from __future__ import annotations

import json
import time

import boto3
import duckdb
import pytest
import regex

from engine import (
    Engine,
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from engine.operations import operation_model
from engine.sample_data import SAMPLE_DIR, load_sample
from engine.store import data_tables
from tests.helpers import (
    CLIENT_CREDENTIALS,
    HEADER,
    INTERACTIONS_SCHEMA,
    interaction_rows,
    make_dataset,
    run_import,
    write_csv,
)
from tests.shapes import assert_output_shape
from tests.test_server import free_port, start, stop, wait_until_up

ROLE = "arn:aws:iam::123456789012:role/personalize-export"
PREFIX = "arn:aws:personalize:us-east-1:000000000000:"


def export(engine: Engine, dataset: str, name: str, path: str, **kwargs) -> dict:
    """Create an export job, wait for it, return its description (shape-checked)."""
    arn = engine.create_dataset_export_job(
        jobName=name,
        datasetArn=dataset,
        roleArn=ROLE,
        jobOutput={"s3DataDestination": {"path": path}},
        **kwargs,
    )["datasetExportJobArn"]
    engine.wait_for(arn, timeout=120)
    response = engine.describe_dataset_export_job(datasetExportJobArn=arn)
    assert_describe_shape(response)
    return response["datasetExportJob"]


def assert_describe_shape(response: dict) -> None:
    """DescribeDatasetExportJob's output shape, with one botocore quirk handled explicitly.

    botocore models the output `roleArn` with Personalize's own `Arn` pattern, although the
    request takes (and Personalize returns) an IAM role ARN; that one field is checked
    against the request's `RoleArn` pattern, everything else against the output shape.
    """
    job = dict(response["datasetExportJob"])
    role = job.pop("roleArn")
    assert_output_shape("DescribeDatasetExportJob", {"datasetExportJob": job})
    request = operation_model("CreateDatasetExportJob").input_shape
    assert regex.fullmatch(request.members["roleArn"].metadata["pattern"], role)


def add_event_rows(engine: Engine, dataset: str, rows: list[list[object]]) -> None:
    """Rows as real-time events would store them (`_source = 'event'`)."""
    table = data_tables.table_name(engine.catalog.require(dataset, "dataset").id)
    columns = ", ".join(f'"{c}"' for c in HEADER)
    with engine.store.cursor() as cur:
        for row in rows:
            cur.execute(
                f"INSERT INTO {table} ({columns}, _source, _loaded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'event', 0)",
                [None if v == "" else v for v in row],
            )


def test_bulk_export_of_the_sample_interactions_equals_the_sample_file(engine):
    group = load_sample(engine)
    dataset = f"{PREFIX}dataset/sample/INTERACTIONS"
    assert group == f"{PREFIX}dataset-group/sample"
    job = export(engine, dataset, "sample-bulk", "s3://exports/sample/", ingestionMode="BULK")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["ingestionMode"] == "BULK"
    assert job["jobOutput"] == {"s3DataDestination": {"path": "s3://exports/sample/"}}

    exported = engine.data_dir / "s3" / "exports" / "sample" / "sample-bulk.csv"
    source = SAMPLE_DIR / "interactions.csv"
    fields = [
        f["name"]
        for f in json.loads((SAMPLE_DIR / "interactions.schema.json").read_text())["fields"]
    ]
    db = duckdb.connect()
    with open(exported) as handle:
        header = handle.readline().rstrip("\n").split(",")
    assert header == fields
    source_columns = db.execute("SELECT * FROM read_csv(?) LIMIT 0", [str(source)]).description
    assert [c[0] for c in source_columns] == header
    count = "SELECT count(*) FROM read_csv(?)"
    expected = db.execute(count, [str(source)]).fetchone()[0]
    assert expected > 100_000
    assert db.execute(count, [str(exported)]).fetchone()[0] == expected
    for left, right in ((exported, source), (source, exported)):
        missing = db.execute(
            "SELECT count(*) FROM (SELECT * FROM read_csv(?) EXCEPT ALL SELECT * FROM read_csv(?))",
            [str(left), str(right)],
        ).fetchone()[0]
        assert missing == 0
    assert not list(exported.parent.glob(".*.part"))


def test_the_exported_file_imports_again(engine, interactions):
    assert run_import(engine, interactions, _csv(engine, 300), "in")["status"] == "ACTIVE"
    assert (
        export(engine, interactions, "out", "s3://shop/round-trip", ingestionMode="ALL")["status"]
        == "ACTIVE"
    )
    other = engine.create_dataset_group(name="copy")["datasetGroupArn"]
    copy = make_dataset(engine, other, "Interactions", INTERACTIONS_SCHEMA)
    job = run_import(engine, copy, "s3://shop/round-trip/", "again")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["dataSource"]["dataLocation"] == "s3://shop/round-trip/"
    with engine.store.cursor() as cur:
        ids = [engine.catalog.require(d, "dataset").id for d in (interactions, copy)]
        tables = [data_tables.table_name(i) for i in ids]
        columns = ", ".join(f'"{c}"' for c in HEADER)
        differ = cur.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM {tables[0]} "
            f"EXCEPT ALL SELECT {columns} FROM {tables[1]})"
        ).fetchone()[0]
    assert differ == 0


def test_put_export_of_a_dataset_without_events_is_only_the_header(engine, interactions):
    assert run_import(engine, interactions, _csv(engine, 50), "in")["status"] == "ACTIVE"
    job = export(engine, interactions, "put-only", "s3://shop/exports/")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["ingestionMode"] == "PUT"  # Personalize's default
    written = engine.data_dir / "s3" / "shop" / "exports" / "put-only.csv"
    assert written.read_text() == ",".join(HEADER) + "\n"


@pytest.mark.parametrize(("mode", "expected"), [("BULK", 40), ("PUT", 3), ("ALL", 43)])
def test_ingestion_mode_picks_rows_by_how_they_arrived(engine, interactions, mode, expected):
    assert run_import(engine, interactions, _csv(engine, 40), "in")["status"] == "ACTIVE"
    add_event_rows(engine, interactions, interaction_rows(3, start=1_900_000_000))
    job = export(engine, interactions, f"mode-{mode.lower()}", "s3://shop/x", ingestionMode=mode)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    written = engine.data_dir / "s3" / "shop" / "x" / f"mode-{mode.lower()}.csv"
    lines = written.read_text().splitlines()
    assert lines[0] == ",".join(HEADER)
    assert len(lines) - 1 == expected
    assert ("u0,i0,1900000000,view,,mobile" in lines) == (mode != "BULK")


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("https://bucket/exports/", "must be an s3://bucket/prefix/ location"),
        ("/tmp/exports", "does not match the pattern"),
        ("file:///tmp/exports", "does not match the pattern"),
        ("s3://bucket/../../outside/", "without '.' or '..' segments"),
    ],
)
def test_output_path_must_be_an_s3_location(engine, interactions, path, rule):
    with pytest.raises(InvalidInputException) as caught:
        engine.create_dataset_export_job(
            jobName="bad",
            datasetArn=interactions,
            roleArn=ROLE,
            jobOutput={"s3DataDestination": {"path": path}},
        )
    message = str(caught.value)
    assert "jobOutput.s3DataDestination.path" in message
    assert path in message and rule in message
    assert engine.list_dataset_export_jobs()["datasetExportJobs"] == []


def test_unknown_dataset_is_not_found(engine):
    missing = f"{PREFIX}dataset/nowhere/INTERACTIONS"
    with pytest.raises(ResourceNotFoundException) as caught:
        export(engine, missing, "lost", "s3://shop/x/")
    assert missing in str(caught.value)


def test_status_listing_pagination_and_names(engine, interactions):
    first = engine.create_dataset_export_job(
        jobName="first",
        datasetArn=interactions,
        roleArn=ROLE,
        jobOutput={"s3DataDestination": {"path": "s3://shop/x/", "kmsKeyArn": _kms()}},
        tags=[{"tagKey": "team", "tagValue": "data"}],
    )
    assert_output_shape("CreateDatasetExportJob", first)
    arn = first["datasetExportJobArn"]
    assert arn == f"{PREFIX}dataset-export-job/first"
    status = engine.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"]
    assert status["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    engine.wait_for(arn)
    second = export(engine, interactions, "second", "s3://shop/x/")
    described = engine.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"]
    assert described["jobOutput"]["s3DataDestination"]["kmsKeyArn"] == _kms()
    assert described["roleArn"] == ROLE and described["datasetArn"] == interactions
    assert engine.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"tagKey": "team", "tagValue": "data"}
    ]

    listed = engine.list_dataset_export_jobs(datasetArn=interactions)
    assert_output_shape("ListDatasetExportJobs", listed)
    assert [j["jobName"] for j in listed["datasetExportJobs"]] == ["second", "first"]
    assert listed["datasetExportJobs"][0]["datasetExportJobArn"] == second["datasetExportJobArn"]
    page = engine.list_dataset_export_jobs(maxResults=1)
    assert len(page["datasetExportJobs"]) == 1 and "nextToken" in page
    rest = engine.list_dataset_export_jobs(maxResults=1, nextToken=page["nextToken"])
    assert [j["jobName"] for j in rest["datasetExportJobs"]] == ["first"]
    assert "nextToken" not in rest
    with pytest.raises(ResourceAlreadyExistsException):
        export(engine, interactions, "first", "s3://shop/y/")
    with pytest.raises(ResourceNotFoundException):
        engine.list_dataset_export_jobs(datasetArn=f"{PREFIX}dataset/nowhere/USERS")
    with pytest.raises(ResourceNotFoundException):
        engine.describe_dataset_export_job(datasetExportJobArn=f"{PREFIX}dataset-export-job/no")


def test_a_write_that_fails_fails_the_job_and_leaves_no_partial_file(engine, interactions):
    blocked = engine.data_dir / "s3" / "shop" / "x" / "blocked.csv"
    blocked.mkdir(parents=True)  # a folder where the file should go
    job = export(engine, interactions, "blocked", "s3://shop/x/", ingestionMode="ALL")
    assert job["status"] == "CREATE FAILED"
    assert "internal error while exporting" in job["failureReason"]
    assert blocked.is_dir() and not list(blocked.parent.glob(".*.part"))


def test_an_interrupted_export_is_failed_when_the_data_directory_reopens(tmp_path):
    data_dir = tmp_path / "data"
    with Engine(data_dir) as engine:
        arn = f"{PREFIX}dataset-export-job/cut"
        engine.catalog.insert(
            "dataset-export-job",
            arn,
            "cut",
            status="CREATE IN_PROGRESS",
            spec={
                "ingestionMode": "PUT",
                "roleArn": ROLE,
                "jobOutput": {"s3DataDestination": {"path": "s3://b/x/"}},
            },
        )
    with Engine(data_dir) as engine:
        job = engine.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"]
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"].startswith("Interrupted")


def test_boto3_creates_and_describes_an_export_over_the_wire(tmp_path):
    data_dir = tmp_path / "served"
    port = free_port()
    proc = start("api", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        client = boto3.client(
            "personalize",
            endpoint_url=f"http://127.0.0.1:{port}/api",
            region_name="us-east-1",
            **CLIENT_CREDENTIALS,
        )
        write_csv(data_dir / "s3" / "in" / "i.csv", HEADER, interaction_rows(25))
        group = client.create_dataset_group(name="wire")["datasetGroupArn"]
        schema = client.create_schema(name="wire-i", schema=json.dumps(INTERACTIONS_SCHEMA))
        dataset = client.create_dataset(
            name="i",
            schemaArn=schema["schemaArn"],
            datasetGroupArn=group,
            datasetType="Interactions",
        )["datasetArn"]
        imported = client.create_dataset_import_job(
            jobName="in",
            datasetArn=dataset,
            dataSource={"dataLocation": "s3://in/i.csv"},
            roleArn=ROLE,
        )["datasetImportJobArn"]
        _poll(
            lambda: client.describe_dataset_import_job(datasetImportJobArn=imported)[
                "datasetImportJob"
            ]
        )
        arn = client.create_dataset_export_job(
            jobName="wire-export",
            datasetArn=dataset,
            ingestionMode="BULK",
            roleArn=ROLE,
            jobOutput={"s3DataDestination": {"path": "s3://out/wire/"}},
        )["datasetExportJobArn"]
        job = _poll(
            lambda: client.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"]
        )
        assert job["status"] == "ACTIVE", job.get("failureReason")
        assert job["creationDateTime"].tzinfo is not None
        assert job["jobOutput"]["s3DataDestination"]["path"] == "s3://out/wire/"
        lines = (data_dir / "s3" / "out" / "wire" / "wire-export.csv").read_text().splitlines()
        assert lines[0] == ",".join(HEADER) and len(lines) == 26
        with pytest.raises(client.exceptions.InvalidInputException) as caught:
            client.create_dataset_export_job(
                jobName="web",
                datasetArn=dataset,
                roleArn=ROLE,
                jobOutput={"s3DataDestination": {"path": "https://example.com/x/"}},
            )
        assert "jobOutput.s3DataDestination.path" in caught.value.response["Error"]["Message"]
    finally:
        stop(proc)


def _poll(describe, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = describe()
        if job["status"] in ("ACTIVE", "CREATE FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def _csv(engine: Engine, rows: int) -> str:
    return str(write_csv(engine.data_dir / "in" / f"i{rows}.csv", HEADER, interaction_rows(rows)))


def _kms() -> str:
    return "arn:aws:kms:us-east-1:123456789012:key/export"

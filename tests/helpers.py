"""Test helpers: schemas, CSV writers, dataset creation and import runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from engine import Engine

INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
    ],
    "version": "1.0",
}
USERS_SCHEMA = {
    "type": "record",
    "name": "Users",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "AGE_BAND", "type": "string", "categorical": True},
    ],
    "version": "1.0",
}
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "CATEGORY", "type": "string", "categorical": True},
        {"name": "PRICE", "type": "float"},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ],
    "version": "1.0",
}


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """Write a CSV file with a header line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def interaction_rows(
    n: int, users: int = 50, items: int = 40, start: int = 1_700_000_000
) -> list[list[object]]:
    """`n` valid interaction rows with a deterministic pattern."""
    kinds = ["view", "view", "view", "add_to_cart", "purchase"]
    rows = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        value = f"{(i % 90) + 9.99:.2f}" if kind == "purchase" else ""
        rows.append(
            [
                f"u{i % users}",
                f"i{(i * 7) % items}",
                start + i * 60,
                kind,
                value,
                ["mobile", "desktop", "tablet"][i % 3],
            ]
        )
    return rows


HEADER = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "DEVICE"]


def run_import(
    engine: Engine, dataset_arn: str, location: str, name: str, mode: str = "FULL"
) -> dict:
    """Create an import job, wait for it, return its description."""
    arn = engine.create_dataset_import_job(
        jobName=name,
        datasetArn=dataset_arn,
        dataSource={"dataLocation": location},
        importMode=mode,
    )["datasetImportJobArn"]
    engine.wait_for(arn, timeout=120)
    return engine.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]


def dataset_rows(engine: Engine, dataset_arn: str) -> int:
    """Rows in a dataset's table."""
    from engine.store import data_tables

    dataset = engine.catalog.require(dataset_arn, "dataset")
    with engine.store.cursor() as cur:
        return data_tables.row_count(cur, dataset.id)


def make_dataset(engine: Engine, group_arn: str, kind: str, schema: dict) -> str:
    """Create schema + dataset of `kind` (Interactions/Users/Items) in the group."""
    name = f"{kind.lower()}-schema-{len(engine.list_schemas()['schemas'])}"
    schema_arn = engine.create_schema(name=name, schema=json.dumps(schema))["schemaArn"]
    return engine.create_dataset(
        name=f"{kind.lower()}-ds", schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType=kind
    )["datasetArn"]


# The admin key test servers are started with (TAILOR_ACCESS_KEY_ID / _SECRET_ACCESS_KEY).
TEST_KEY_ID = "tailor-test-admin"
TEST_SECRET = "tailor-test-secret-not-for-production"
TEST_KEY_ENV = {"TAILOR_ACCESS_KEY_ID": TEST_KEY_ID, "TAILOR_SECRET_ACCESS_KEY": TEST_SECRET}
CLIENT_CREDENTIALS = {"aws_access_key_id": TEST_KEY_ID, "aws_secret_access_key": TEST_SECRET}

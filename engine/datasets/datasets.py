"""Datasets: CreateDataset, DescribeDataset, ListDatasets, DeleteDataset."""

from __future__ import annotations

from typing import Any

from engine.base import EngineBase, summary
from engine.datasets.avro import SchemaField, check_for_dataset_type, parse_schema
from engine.datasets.groups import DATASET_GROUP
from engine.datasets.schemas import SCHEMA
from engine.errors import InvalidInputException, ResourceInUseException
from engine.operations import operation, paginate
from engine.store import Resource, data_tables

DATASET = "dataset"
SUPPORTED_TYPES = ("INTERACTIONS", "USERS", "ITEMS")
RUNNING = ("CREATE PENDING", "CREATE IN_PROGRESS")


def _describe(dataset: Resource) -> dict[str, Any]:
    return summary(
        dataset,
        "datasetArn",
        datasetGroupArn=dataset.spec["datasetGroupArn"],
        datasetType=dataset.spec["datasetType"],
        schemaArn=dataset.spec["schemaArn"],
        trackingId=dataset.spec.get("trackingId"),
    )


def dataset_type_of(value: str) -> str:
    """Canonical dataset type (INTERACTIONS, USERS, ITEMS) from a case-insensitive name."""
    upper = value.upper()
    if upper in ("ACTIONS", "ACTION_INTERACTIONS"):
        raise InvalidInputException(
            f"datasetType {value!r}: Actions datasets are not supported by Tailor yet; "
            f"supported: Interactions, Users, Items"
        )
    if upper not in SUPPORTED_TYPES:
        raise InvalidInputException(
            f"datasetType {value!r} must be one of Interactions, Users, Items"
        )
    return upper


class DatasetOps(EngineBase):
    """The dataset operations of the Engine."""

    @operation("CreateDataset")
    def create_dataset(
        self,
        *,
        name: str,
        schemaArn: str,
        datasetGroupArn: str,
        datasetType: str,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Create a dataset of a type the schema suits; one dataset per type per group."""
        kind = dataset_type_of(datasetType)
        group = self.catalog.require(datasetGroupArn, DATASET_GROUP)
        schema = self.catalog.require(schemaArn, SCHEMA)
        fields = parse_schema(schema.spec["schema"])
        check_for_dataset_type(fields, kind)
        arn = self.arns.dataset(group.name, kind)
        spec = {"datasetGroupArn": datasetGroupArn, "datasetType": kind, "schemaArn": schemaArn}
        with self.store.transaction() as cur:
            dataset = self.catalog.insert(
                DATASET,
                arn,
                name,
                parent_arn=datasetGroupArn,
                status="ACTIVE",
                spec=spec,
                cursor=cur,
            )
            data_tables.create_table(cur, dataset.id, fields)
            self.catalog.add_tags(arn, tags, cur)
        return {"datasetArn": arn}

    @operation("DescribeDataset")
    def describe_dataset(self, *, datasetArn: str) -> dict[str, Any]:
        """Describe a dataset."""
        return {"dataset": _describe(self.catalog.require(datasetArn, DATASET))}

    @operation("ListDatasets")
    def list_datasets(
        self,
        *,
        datasetGroupArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List datasets (of one dataset group if given), newest first."""
        if datasetGroupArn:
            self.catalog.require(datasetGroupArn, DATASET_GROUP)
        rows = []
        for d in self.catalog.list(DATASET, datasetGroupArn):
            row = _describe(d)
            for key in ("datasetGroupArn", "schemaArn", "trackingId"):
                row.pop(key, None)
            rows.append(row)
        return paginate(
            f"ListDatasets:{datasetGroupArn or ''}", rows, "datasets", nextToken, maxResults
        )

    @operation("DeleteDataset")
    def delete_dataset(self, *, datasetArn: str) -> dict[str, Any]:
        """Delete a dataset and its data; ResourceInUseException while an import runs."""
        dataset = self.catalog.require(datasetArn, DATASET)
        jobs = self.catalog.children(datasetArn)
        running = [j.arn for j in jobs if j.status in RUNNING]
        if running:
            raise ResourceInUseException(
                f"Dataset {datasetArn} has import job(s) in progress: {', '.join(running)}"
            )
        with self.store.transaction() as cur:
            for job in jobs:
                self.catalog.delete(job.arn, cur)
            data_tables.drop_table(cur, dataset.id)
            self.catalog.delete(datasetArn, cur)
        group = self.catalog.get(dataset.spec["datasetGroupArn"])
        if group is not None:
            self.data_changed(group.id)
        return {}

    def dataset_fields(self, dataset: Resource) -> list[SchemaField]:
        """The schema fields of a dataset."""
        return parse_schema(self.catalog.require(dataset.spec["schemaArn"], SCHEMA).spec["schema"])

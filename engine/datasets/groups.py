"""Dataset groups: Create-, Describe-, List- and DeleteDatasetGroup."""

from __future__ import annotations

from typing import Any

from engine.base import EngineBase, summary
from engine.errors import ResourceInUseException
from engine.operations import operation, paginate
from engine.store import Resource, id_map

DATASET_GROUP = "dataset-group"


def _describe(group: Resource) -> dict[str, Any]:
    return summary(
        group,
        "datasetGroupArn",
        roleArn=group.spec.get("roleArn"),
        kmsKeyArn=group.spec.get("kmsKeyArn"),
        domain=group.spec.get("domain"),
    )


class DatasetGroupOps(EngineBase):
    """The dataset group operations of the Engine."""

    @operation("CreateDatasetGroup")
    def create_dataset_group(
        self,
        *,
        name: str,
        roleArn: str | None = None,
        kmsKeyArn: str | None = None,
        domain: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Create a dataset group (ACTIVE at once: nothing needs provisioning here)."""
        arn = self.arns.dataset_group(name)
        spec = {"roleArn": roleArn, "kmsKeyArn": kmsKeyArn, "domain": domain}
        with self.store.transaction() as cur:
            self.catalog.insert(DATASET_GROUP, arn, name, status="ACTIVE", spec=spec, cursor=cur)
            self.catalog.add_tags(arn, tags, cur)
        out: dict[str, Any] = {"datasetGroupArn": arn}
        if domain:
            out["domain"] = domain
        return out

    @operation("DescribeDatasetGroup")
    def describe_dataset_group(self, *, datasetGroupArn: str) -> dict[str, Any]:
        """Describe a dataset group."""
        return {"datasetGroup": _describe(self.catalog.require(datasetGroupArn, DATASET_GROUP))}

    @operation("ListDatasetGroups")
    def list_dataset_groups(
        self, *, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        """List dataset groups, newest first."""
        rows = [_describe(g) for g in self.catalog.list(DATASET_GROUP)]
        for row in rows:
            row.pop("roleArn", None)
            row.pop("kmsKeyArn", None)
        return paginate("ListDatasetGroups", rows, "datasetGroups", nextToken, maxResults)

    @operation("DeleteDatasetGroup")
    def delete_dataset_group(self, *, datasetGroupArn: str) -> dict[str, Any]:
        """Delete an empty dataset group; ResourceInUseException while it has resources."""
        group = self.catalog.require(datasetGroupArn, DATASET_GROUP)
        children = self.catalog.children(datasetGroupArn)
        if children:
            kinds = sorted({c.resource_type for c in children})
            raise ResourceInUseException(
                f"Dataset group {datasetGroupArn} still has {len(children)} resource(s) "
                f"({', '.join(kinds)}): delete them first"
            )
        with self.store.transaction() as cur:
            id_map.forget_group(cur, group.id)
            self.catalog.delete(datasetGroupArn, cur)
        return {}

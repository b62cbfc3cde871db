"""ARNs in AWS's formats: `arn:aws:personalize:REGION:ACCOUNT:<resource-type>/<name>`."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InvalidInputException

DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS")


@dataclass(frozen=True)
class ArnFactory:
    """Builds and parses ARNs for one region and account."""

    region: str
    account_id: str

    @property
    def prefix(self) -> str:
        return f"arn:aws:personalize:{self.region}:{self.account_id}:"

    def make(self, resource_type: str, *path: str) -> str:
        """`make("dataset-group", "shop")` -> `arn:aws:personalize:...:dataset-group/shop`."""
        return self.prefix + resource_type + "/" + "/".join(path)

    def dataset_group(self, name: str) -> str:
        return self.make("dataset-group", name)

    def schema(self, name: str) -> str:
        return self.make("schema", name)

    def dataset(self, group_name: str, dataset_type: str) -> str:
        return self.make("dataset", group_name, dataset_type.upper())

    def dataset_import_job(self, name: str) -> str:
        return self.make("dataset-import-job", name)

    def resource_type_of(self, arn: str, field: str) -> str:
        """The resource type in `arn` (e.g. `dataset-group`); InvalidInput if it is not ours."""
        if not arn.startswith("arn:") or arn.count(":") < 5 or "/" not in arn:
            raise InvalidInputException(
                f"{field} {arn!r} is not a Personalize ARN "
                f"(expected {self.prefix}<resource-type>/<name>)"
            )
        return arn.split(":", 5)[5].split("/", 1)[0]

"""What every family of Engine operations shares: the store, the catalog, ARNs and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.arns import ArnFactory
from engine.config import Settings
from engine.store import Catalog, Resource, Store

if TYPE_CHECKING:
    from engine.jobs import BackgroundJobs


def summary(
    resource: Resource, arn_key: str, name_key: str = "name", **extra: Any
) -> dict[str, Any]:
    """The fields every describe/list response has, in Personalize's names."""
    out: dict[str, Any] = {name_key: resource.name, arn_key: resource.arn}
    if resource.status is not None:
        out["status"] = resource.status
    out["creationDateTime"] = resource.created
    out["lastUpdatedDateTime"] = resource.updated
    if resource.failure_reason:
        out["failureReason"] = resource.failure_reason
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


class EngineBase:
    """Attributes the operation mixins rely on; `engine.Engine` sets them up."""

    store: Store
    catalog: Catalog
    arns: ArnFactory
    settings: Settings
    jobs: BackgroundJobs

    def data_changed(self, group_id: int, bulk: bool = True) -> None:
        """Called after a dataset group's data changed (`bulk`: by an import or a delete,
        rather than by real-time events); `engine.Engine` refreshes its indexes."""

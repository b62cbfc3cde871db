"""Event trackers: CreateEventTracker, DescribeEventTracker, ListEventTrackers,
DeleteEventTracker.

A tracker belongs to one dataset group (one tracker per group, as in Personalize) and hands
out the `trackingId` that PutEvents calls carry.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

from engine.base import EngineBase, summary
from engine.errors import LimitExceededException, ResourceNotFoundException
from engine.operations import operation, paginate
from engine.store import Resource

EVENT_TRACKER = "event-tracker"


@dataclass(frozen=True)
class Tracker:
    """What PutEvents needs to know about a tracking id."""

    arn: str
    tracking_id: str
    group_arn: str


def _describe(tracker: Resource, account: str, full: bool = True) -> dict[str, Any]:
    if not full:
        return summary(tracker, "eventTrackerArn")
    return summary(
        tracker,
        "eventTrackerArn",
        accountId=account,
        trackingId=tracker.spec["trackingId"],
        datasetGroupArn=tracker.parent_arn,
    )


class EventTrackerOps(EngineBase):
    """The event tracker operations of the Engine."""

    _trackers: dict[str, Tracker]
    _trackers_lock: threading.Lock

    @operation("CreateEventTracker")
    def create_event_tracker(
        self, *, name: str, datasetGroupArn: str, tags: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        """Create the dataset group's event tracker; returns its ARN and `trackingId`."""
        self.catalog.require(datasetGroupArn, "dataset-group")
        existing = self.catalog.list(EVENT_TRACKER, datasetGroupArn)
        if existing:
            raise LimitExceededException(
                f"datasetGroupArn {datasetGroupArn} already has an event tracker "
                f"({existing[0].arn}); a dataset group has at most one"
            )
        arn = self.arns.make(EVENT_TRACKER, name)
        tracking_id = str(uuid.uuid4())
        with self.store.transaction() as cur:
            self.catalog.insert(
                EVENT_TRACKER,
                arn,
                name,
                parent_arn=datasetGroupArn,
                status="ACTIVE",
                spec={"trackingId": tracking_id, "datasetGroupArn": datasetGroupArn},
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    @operation("DescribeEventTracker")
    def describe_event_tracker(self, *, eventTrackerArn: str) -> dict[str, Any]:
        """Describe an event tracker (with its trackingId)."""
        tracker = self.catalog.require(eventTrackerArn, EVENT_TRACKER)
        return {"eventTracker": _describe(tracker, self.settings.account_id)}

    @operation("ListEventTrackers")
    def list_event_trackers(
        self,
        *,
        datasetGroupArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List event trackers (of one dataset group if given), newest first."""
        if datasetGroupArn:
            self.catalog.require(datasetGroupArn, "dataset-group")
        rows = [
            _describe(t, self.settings.account_id, full=False)
            for t in self.catalog.list(EVENT_TRACKER, datasetGroupArn)
        ]
        return paginate(
            f"ListEventTrackers:{datasetGroupArn or ''}",
            rows,
            "eventTrackers",
            nextToken,
            maxResults,
        )

    @operation("DeleteEventTracker")
    def delete_event_tracker(self, *, eventTrackerArn: str) -> dict[str, Any]:
        """Delete an event tracker: its trackingId stops being accepted at once."""
        tracker = self.catalog.require(eventTrackerArn, EVENT_TRACKER)
        self.catalog.delete(eventTrackerArn)
        with self._trackers_lock:
            self._trackers.pop(tracker.spec["trackingId"], None)
        return {}

    def tracker(self, tracking_id: str) -> Tracker:
        """The tracker of a tracking id (cached), or ResourceNotFoundException."""
        found = self._trackers.get(tracking_id)
        if found is not None:
            return found
        for resource in self.catalog.list(EVENT_TRACKER):
            if resource.spec["trackingId"] == tracking_id:
                found = Tracker(resource.arn, tracking_id, resource.parent_arn or "")
                with self._trackers_lock:
                    self._trackers[tracking_id] = found
                return found
        raise ResourceNotFoundException(
            f"trackingId {tracking_id} does not belong to any event tracker"
        )

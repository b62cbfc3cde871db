"""The data readiness report: is a dataset group's data enough to train, and what is in it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.datasets.datasets import DATASET, DatasetOps
from engine.datasets.groups import DATASET_GROUP
from engine.store import readiness

MIN_INTERACTIONS = 1000
MIN_REPEAT_USERS = 25


def _when(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class ReadinessOps(DatasetOps):
    """Tailor's own operation (not in Personalize): the data readiness report."""

    def get_data_readiness(self, *, datasetGroupArn: str) -> dict[str, Any]:
        """Rows, users, items, repeat users, event types, time span and the training minimums.

        Personalize trains only with at least 1,000 interactions and 25 users with at least
        2 interactions each; `checks` says for each minimum whether it holds and by how much.
        """
        self.catalog.require(datasetGroupArn, DATASET_GROUP)
        datasets = {d.spec["datasetType"]: d for d in self.catalog.list(DATASET, datasetGroupArn)}
        report: dict[str, Any] = {"datasetGroupArn": datasetGroupArn, "datasets": {}}
        profile: dict[str, Any] = {
            "interactions": 0,
            "users": 0,
            "items": 0,
            "usersWithAtLeast2Interactions": 0,
            "firstTimestamp": None,
            "lastTimestamp": None,
            "eventTypes": {},
        }
        with self.store.cursor() as cur:
            for kind, dataset in datasets.items():
                if kind == "INTERACTIONS":
                    names = {f.name for f in self.dataset_fields(dataset)}
                    profile = readiness.interactions_profile(cur, dataset.id, "EVENT_TYPE" in names)
                    report["datasets"][kind] = profile["interactions"]
                else:
                    report["datasets"][kind] = readiness.entity_count(cur, dataset.id)
        report.update(profile)
        report["firstEvent"] = _when(profile["firstTimestamp"])
        report["lastEvent"] = _when(profile["lastTimestamp"])
        report["checks"] = [
            _check(
                "interactions",
                profile["interactions"],
                MIN_INTERACTIONS,
                "interactions in the Interactions dataset",
            ),
            _check(
                "usersWithAtLeast2Interactions",
                profile["usersWithAtLeast2Interactions"],
                MIN_REPEAT_USERS,
                "users with at least 2 interactions",
            ),
        ]
        report["readyToTrain"] = all(c["passed"] for c in report["checks"])
        return report

    def get_event_timeline(self, *, datasetGroupArn: str) -> Any:
        """Tailor's own: interactions per day and event type, as a Polars frame
        (columns day, event_type, events); empty when the group has no Interactions."""
        import polars as pl

        self.catalog.require(datasetGroupArn, DATASET_GROUP)
        for dataset in self.catalog.list(DATASET, datasetGroupArn):
            if dataset.spec["datasetType"] == "INTERACTIONS":
                names = {f.name for f in self.dataset_fields(dataset)}
                with self.store.cursor() as cur:
                    return readiness.events_per_day(cur, dataset.id, "EVENT_TYPE" in names)
        return pl.DataFrame(schema={"day": pl.Date, "event_type": pl.Utf8, "events": pl.Int64})


def _check(name: str, value: int, minimum: int, what: str) -> dict[str, Any]:
    passed = value >= minimum
    message = (
        f"{value:,} {what} (minimum {minimum:,})"
        if passed
        else f"only {value:,} {what}; training needs at least {minimum:,} "
        f"({minimum - value:,} more)"
    )
    return {"name": name, "value": value, "minimum": minimum, "passed": passed, "message": message}

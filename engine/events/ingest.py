"""Real-time ingestion (personalize-events): PutEvents, PutItems, PutUsers.

Every record is checked against the dataset's schema here, in the caller's thread (the field,
the value and the rule are named on failure, and nothing of the call is written); the rows
then go to the single writer, and the call returns once they are committed.

Mapping of a PutEvents event to the Interactions schema: USER_ID is `userId` (or, for an
anonymous visitor, the `sessionId`), ITEM_ID `itemId`, TIMESTAMP `sentAt` (unix seconds),
EVENT_TYPE `eventType`, EVENT_VALUE `eventValue`, IMPRESSION `impression` joined with `|`
(or, when only `recommendationId` is given, the items that recommendation showed),
RECOMMENDATION_ID `recommendationId`, EVENT_ATTRIBUTION_SOURCE
`metricAttribution.eventAttributionSource`; other fields come from `properties`, a JSON object
whose camelCase keys name schema fields (`timeOfDay` -> TIME_OF_DAY).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

from engine.datasets.avro import SchemaField
from engine.datasets.rules import rules_for
from engine.errors import InvalidInputException
from engine.events.trackers import EventTrackerOps
from engine.events.writer import EntityRows, EventRows, EventWriter, LogRows
from engine.operations import operation
from engine.store import Resource
from engine.store import events as sql

EVENTS = "personalize-events"
WRITE_TIMEOUT = 30.0
#: Recent recommendations remembered for implicit impressions (older ones are read back).
RECENT_RECOMMENDATIONS = 100_000
#: Fields PutEvents fills from the event itself, not from `properties`.
EVENT_FIELDS = {
    "USER_ID",
    "ITEM_ID",
    "TIMESTAMP",
    "EVENT_TYPE",
    "EVENT_VALUE",
    "IMPRESSION",
    "RECOMMENDATION_ID",
    "EVENT_ATTRIBUTION_SOURCE",
}
ID_FIELD = {"ITEMS": "ITEM_ID", "USERS": "USER_ID"}
ENTITY = {"ITEMS": "ITEM", "USERS": "USER"}


def field_of_key(key: str) -> str:
    """`timeOfDay` -> `TIME_OF_DAY` (a key already in field form is kept)."""
    if key.isupper() or "_" in key:
        return key.upper()
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


def unix_seconds(value: Any, where: str) -> int:
    """`sentAt` as whole unix seconds (datetime, number or ISO-8601 text)."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            pass
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass
    raise InvalidInputException(f"{where} {value!r} must be a timestamp")


def typed_value(field: SchemaField, value: Any, where: str) -> Any:
    """A JSON value converted to the field's type, or InvalidInputException naming it."""
    if value is None:
        if not field.nullable:
            raise InvalidInputException(f"{where}: {field.name} is required and must not be null")
        return None
    kind = field.type
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidInputException(f"{where} {value!r} must be a string ({field.name})")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidInputException(f"{where} {value!r} must be true or false ({field.name})")
        return value
    if isinstance(value, str):
        try:
            value = float(value) if kind in ("float", "double") else int(value)
        except ValueError:
            raise InvalidInputException(
                f"{where} {value!r} must be a number of type {kind} ({field.name})"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputException(f"{where} {value!r} must be a number of type {kind}")
    if kind in ("int", "long"):
        if isinstance(value, float) and not value.is_integer():
            raise InvalidInputException(f"{where} {value!r} must be a whole number ({kind})")
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputException(f"{where} {value!r} must be a finite number")
    return float(value)


def parse_properties(text: str | None, where: str) -> dict[str, Any]:
    """The `properties` JSON object, or InvalidInputException."""
    if text is None:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise InvalidInputException(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInputException(f"{where} must be a JSON object, not {type(parsed).__name__}")
    return parsed


class Schema:
    """A dataset's fields, types and value rules, as ingestion checks them."""

    def __init__(self, dataset: Resource, fields: list[SchemaField]) -> None:
        self.dataset = dataset
        self.fields = {f.name: f for f in fields}
        self.types = {f.name: f.duckdb_type for f in fields}
        self.rules = rules_for(fields, dataset.spec["datasetType"])

    def record(
        self, values: dict[str, Any], properties: dict[str, Any], where: str, reserved: set[str]
    ) -> dict[str, Any]:
        """One row: the given values plus the properties, typed and checked."""
        row = dict(values)
        for key, value in properties.items():
            name = field_of_key(key)
            if name not in self.fields or name in reserved:
                allowed = sorted(
                    _camel(f) for f in self.fields if f not in reserved and f not in values
                )
                raise InvalidInputException(
                    f"{where}.properties key {key!r} is not a field of the "
                    f"{self.dataset.spec['datasetType']} schema (allowed: {', '.join(allowed)})"
                )
            row[name] = typed_value(self.fields[name], value, f"{where}.properties.{key}")
        for name, f in self.fields.items():
            if name not in row:
                if not f.nullable:
                    raise InvalidInputException(
                        f"{where}: {name} is required by the schema and was not given"
                    )
                row[name] = None
        for rule in self.rules:
            value = row.get(rule.field)
            if value is not None and rule.is_bad(str(value)):
                raise InvalidInputException(f"{where}: {rule.field} {value!r} {rule.rule}")
        return row


def _camel(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def columns_of(rows: list[dict[str, Any]], names: list[str]) -> dict[str, list[Any]]:
    """Rows as one list per column."""
    return {n: [r.get(n) for r in rows] for n in names}


class EventOps(EventTrackerOps):
    """The personalize-events operations of the Engine, and the recommendation log."""

    events: EventWriter
    _recent: OrderedDict[str, list[str]]

    def _dataset_of_type(self, group_arn: str, dataset_type: str) -> Resource | None:
        for dataset in self.catalog.list("dataset", group_arn):
            if dataset.spec["datasetType"] == dataset_type:
                return dataset
        return None

    def _interactions_schema(self, group_arn: str) -> tuple[int, Schema]:
        """The group's id and its Interactions dataset's schema, cached until the group's
        datasets change (a delete or an import bumps its metadata version)."""
        cache = self.__dict__.setdefault("_ingest_schemas", {})
        found = cache.get(group_arn)
        if found is not None:
            group_id, version, schema = found
            if self.metadata_version(group_id) == version:  # type: ignore[attr-defined]
                return group_id, schema
        group_id = self.catalog.require(group_arn, "dataset-group").id
        version = self.metadata_version(group_id)  # type: ignore[attr-defined]
        dataset = self._dataset_of_type(group_arn, "INTERACTIONS")
        if dataset is None:
            raise InvalidInputException(
                f"dataset group {group_arn} has no Interactions dataset: create one "
                "before recording events"
            )
        schema = self._schema(dataset)
        cache[group_arn] = (group_id, version, schema)
        return group_id, schema

    def _schema(self, dataset: Resource) -> Schema:
        return Schema(dataset, self.dataset_fields(dataset))  # type: ignore[attr-defined]

    @operation("PutEvents", service=EVENTS)
    def put_events(
        self,
        *,
        trackingId: str,
        sessionId: str,
        eventList: list[dict[str, Any]],
        userId: str | None = None,
    ) -> dict[str, Any]:
        """Record a user's (or an anonymous session's) events; durable when this returns.

        A repeated `eventId` is stored once. When `userId` and `sessionId` both appear, the
        session's earlier anonymous events become the user's."""
        tracker = self.tracker(trackingId)
        group_id, schema = self._interactions_schema(tracker.group_arn)
        dataset = schema.dataset
        rows = [
            self._event_row(schema, event, userId or sessionId, sessionId, f"eventList[{i}]")
            for i, event in enumerate(eventList)
        ]
        names = [*schema.fields, "_event_id", "_session_id", "_recommendation_id"]
        types = {**schema.types, "_event_id": "VARCHAR"}
        types["_session_id"] = types["_recommendation_id"] = "VARCHAR"
        request = EventRows(
            group_id,
            dataset.id,
            columns_of(rows, names),
            types,
            stitch=(sessionId, userId) if userId and userId != sessionId else None,
            anonymous_session=None if userId else sessionId,
        )
        self.events.submit(request).result(WRITE_TIMEOUT)
        return {}

    def _event_row(
        self, schema: Schema, event: dict[str, Any], user: str, session: str, where: str
    ) -> dict[str, Any]:
        fields = schema.fields
        values: dict[str, Any] = {"USER_ID": user}
        if event.get("itemId") is not None:
            values["ITEM_ID"] = event["itemId"]
        elif "ITEM_ID" in fields:
            raise InvalidInputException(f"{where}.itemId is required by the Interactions schema")
        values["TIMESTAMP"] = unix_seconds(event.get("sentAt"), f"{where}.sentAt")
        optional = {
            "EVENT_TYPE": event.get("eventType"),
            "EVENT_VALUE": event.get("eventValue"),
            "RECOMMENDATION_ID": event.get("recommendationId"),
            "EVENT_ATTRIBUTION_SOURCE": (event.get("metricAttribution") or {}).get(
                "eventAttributionSource"
            ),
        }
        impression = event.get("impression")
        if impression is None and event.get("recommendationId") and "IMPRESSION" in fields:
            impression = self.recommended_items(event["recommendationId"])
        if impression:
            optional["IMPRESSION"] = "|".join(impression)
        for name, value in optional.items():
            if value is None:
                continue
            if name not in fields:
                if name in ("EVENT_TYPE", "IMPRESSION", "RECOMMENDATION_ID"):
                    continue  # kept by Personalize only when the schema has the field
                raise InvalidInputException(
                    f"{where}: {name} is given but the Interactions schema has no such field"
                )
            values[name] = typed_value(fields[name], value, f"{where}.{_camel(name)}")
        properties = parse_properties(event.get("properties"), f"{where}.properties")
        row = schema.record(values, properties, where, EVENT_FIELDS)
        row["_event_id"] = event.get("eventId") or str(uuid.uuid4())
        row["_session_id"] = session
        row["_recommendation_id"] = event.get("recommendationId")
        return row

    def _put_entities(
        self, dataset_arn: str, records: list[dict[str, Any]], dataset_type: str, key: str
    ) -> None:
        dataset = self.catalog.require(dataset_arn, "dataset")
        if dataset.spec["datasetType"] != dataset_type:
            raise InvalidInputException(
                f"datasetArn {dataset_arn} is a {dataset.spec['datasetType']} dataset; "
                f"this operation writes to a {dataset_type} dataset"
            )
        schema = self._schema(dataset)
        id_field = ID_FIELD[dataset_type]
        rows = []
        for i, record in enumerate(records):
            where = f"{key}[{i}]"
            properties = parse_properties(record.get("properties"), f"{where}.properties")
            values = {id_field: record[_camel(id_field)]}
            rows.append(schema.record(values, properties, where, {id_field}))
        group = self.catalog.require(dataset.spec["datasetGroupArn"], "dataset-group")
        request = EntityRows(
            group.id,
            dataset.id,
            ENTITY[dataset_type],
            id_field,
            columns_of(rows, list(schema.fields)),
            schema.types,
        )
        self.events.submit(request).result(WRITE_TIMEOUT)

    @operation("PutItems", service=EVENTS)
    def put_items(self, *, datasetArn: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Add or replace items of an Items dataset (each record replaces the item's row)."""
        self._put_entities(datasetArn, items, "ITEMS", "items")
        return {}

    @operation("PutUsers", service=EVENTS)
    def put_users(self, *, datasetArn: str, users: list[dict[str, Any]]) -> dict[str, Any]:
        """Add or replace users of a Users dataset."""
        self._put_entities(datasetArn, users, "USERS", "users")
        return {}

    def log_recommendation(
        self,
        recommendation_id: str,
        campaign_arn: str,
        group_id: int,
        user_id: str | None,
        item_id: str | None,
        items: list[str],
        created_at: float,
        variant: str | None = None,
    ) -> None:
        """Remember what a recommendation showed (for implicit impressions and attribution);
        written to the store in the background with the next batch of events."""
        self._recent[recommendation_id] = items
        while len(self._recent) > RECENT_RECOMMENDATIONS:
            self._recent.popitem(last=False)
        self.events.submit(
            LogRows(
                [
                    (
                        recommendation_id,
                        campaign_arn,
                        group_id,
                        user_id,
                        item_id,
                        items,
                        created_at,
                        variant,
                    )
                ]
            )
        )

    def recommended_items(self, recommendation_id: str) -> list[str] | None:
        """The items a recommendation showed (None if Tailor never gave that id)."""
        found = self._recent.get(recommendation_id)
        if found is not None:
            return found
        with self.store.cursor() as cur:
            return sql.recommendation_items(cur, recommendation_id)

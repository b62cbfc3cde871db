"""Avro schemas as Amazon Personalize accepts them, and the rules for each dataset type.

A schema is a flat Avro record. Field types: string, int, long, float, double, boolean, or a
union of one of them with null. `"categorical": true` marks `|`-separated string values;
`"textual": true` marks free text (Items only). Every error names the field and the rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from engine.errors import InvalidInputException

PRIMITIVES = ("string", "int", "long", "float", "double", "boolean")
NUMERIC = ("int", "long", "float", "double")
AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FIELD_KEYS = {"name", "type", "categorical", "textual", "doc", "default", "aliases", "order"}

INTERACTIONS_RESERVED = {
    "USER_ID": ("string",),
    "ITEM_ID": ("string",),
    "TIMESTAMP": ("long",),
    "EVENT_TYPE": ("string",),
    "EVENT_VALUE": NUMERIC,
    "IMPRESSION": ("string",),
    "RECOMMENDATION_ID": ("string",),
    "EVENT_ATTRIBUTION_SOURCE": ("string",),
}
REQUIRED = {
    "INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "USERS": ("USER_ID",),
    "ITEMS": ("ITEM_ID",),
}
MAX_METADATA = {"USERS": 25, "ITEMS": 100}
ID_MAX_LENGTH = 256
CATEGORICAL_MAX_LENGTH = 1000
TEXTUAL_MAX_LENGTH = 20000


@dataclass(frozen=True)
class SchemaField:
    """One field of a dataset schema."""

    name: str
    type: str
    nullable: bool = False
    categorical: bool = False
    textual: bool = False

    @property
    def duckdb_type(self) -> str:
        """The DuckDB column type that stores this field."""
        return {
            "string": "VARCHAR",
            "int": "INTEGER",
            "long": "BIGINT",
            "float": "DOUBLE",
            "double": "DOUBLE",
            "boolean": "BOOLEAN",
        }[self.type]

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC


def _error(field: str, rule: str) -> InvalidInputException:
    return InvalidInputException(f"schema field {field}: {rule}")


def parse_schema(text: str) -> list[SchemaField]:
    """Parse and check an Avro schema's JSON text; return its fields in order."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputException(
            f"schema: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(doc, dict) or doc.get("type") != "record":
        raise InvalidInputException('schema: the top level must be an object with "type": "record"')
    name = doc.get("name")
    if not isinstance(name, str) or not AVRO_NAME.fullmatch(name):
        raise InvalidInputException(
            f'schema: "name" {name!r} must be an Avro name ([A-Za-z_][A-Za-z0-9_]*)'
        )
    fields = doc.get("fields")
    if not isinstance(fields, list) or not fields:
        raise InvalidInputException('schema: "fields" must be a non-empty list of fields')
    parsed = [_parse_field(i, f) for i, f in enumerate(fields)]
    seen: dict[str, str] = {}
    for f in parsed:
        key = f.name.upper()
        if key in seen:
            raise _error(
                f.name, f"is defined twice (field names are case-insensitive: {seen[key]})"
            )
        seen[key] = f.name
    return parsed


def _parse_field(index: int, raw: object) -> SchemaField:
    if not isinstance(raw, dict):
        raise InvalidInputException(f"schema: fields[{index}] must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not AVRO_NAME.fullmatch(name):
        raise InvalidInputException(
            f"schema: fields[{index}] name {name!r} must be an Avro name ([A-Za-z_][A-Za-z0-9_]*)"
        )
    unknown = set(raw) - FIELD_KEYS
    if unknown:
        raise _error(name, f"unknown attribute(s) {sorted(unknown)}; allowed: {sorted(FIELD_KEYS)}")
    type_name, nullable = _parse_type(name, raw.get("type"))
    categorical = _flag(name, raw, "categorical")
    textual = _flag(name, raw, "textual")
    if (categorical or textual) and type_name != "string":
        kind = "categorical" if categorical else "textual"
        raise _error(name, f'only string fields can be {kind}, this one is "{type_name}"')
    if categorical and textual:
        raise _error(name, "cannot be both categorical and textual")
    return SchemaField(name, type_name, nullable, categorical, textual)


def _flag(name: str, raw: dict, key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise _error(name, f'"{key}" must be true or false, not {value!r}')
    return value


def _parse_type(name: str, avro_type: object) -> tuple[str, bool]:
    if isinstance(avro_type, str):
        if avro_type not in PRIMITIVES:
            raise _error(
                name, f"type {avro_type!r} is not supported; use one of {list(PRIMITIVES)}"
            )
        return avro_type, False
    if isinstance(avro_type, list):
        others = [t for t in avro_type if t != "null"]
        if "null" in avro_type and len(others) == 1 and len(avro_type) == 2:
            if isinstance(others[0], str) and others[0] in PRIMITIVES:
                return others[0], True
        raise _error(
            name, f'union {avro_type!r} is not supported; use ["null", <one of {list(PRIMITIVES)}>]'
        )
    raise _error(
        name,
        f"type {avro_type!r} is not supported (no records, arrays, maps or enums); "
        f"use one of {list(PRIMITIVES)} or a union with null",
    )


def check_for_dataset_type(fields: list[SchemaField], dataset_type: str) -> None:
    """Raise InvalidInputException unless the schema suits an Interactions/Users/Items dataset."""
    by_name = {f.name: f for f in fields}
    for required in REQUIRED[dataset_type]:
        if required not in by_name:
            raise _error(required, f"is required in a {dataset_type} schema and is missing")
    for f in fields:
        _check_field(f, dataset_type)
    metadata = [f for f in fields if f.name not in REQUIRED[dataset_type]]
    if dataset_type in ("USERS", "ITEMS") and not metadata:
        raise InvalidInputException(
            f"schema: a {dataset_type} schema needs at least one metadata field besides "
            f"{REQUIRED[dataset_type][0]}"
        )
    limit = MAX_METADATA.get(dataset_type)
    if limit and len(metadata) > limit:
        raise InvalidInputException(
            f"schema: a {dataset_type} schema may have at most {limit} metadata fields, "
            f"this one has {len(metadata)}"
        )
    textual = [f.name for f in fields if f.textual]
    if len(textual) > 1:
        raise InvalidInputException(
            f"schema: an ITEMS schema may have at most 1 textual field, this one has {textual}"
        )


def _check_field(f: SchemaField, dataset_type: str) -> None:
    if f.name in REQUIRED[dataset_type] and f.nullable:
        raise _error(f.name, "is required and cannot be nullable")
    if f.textual and dataset_type != "ITEMS":
        raise _error(
            f.name, f"textual fields are allowed only in ITEMS schemas, not {dataset_type}"
        )
    if dataset_type == "INTERACTIONS" and f.name in INTERACTIONS_RESERVED:
        allowed = INTERACTIONS_RESERVED[f.name]
        if f.type not in allowed:
            raise _error(f.name, f"must be of type {' or '.join(allowed)}, not {f.type}")
        if f.categorical and f.name not in ("IMPRESSION",):
            raise _error(f.name, "is a reserved field and cannot be categorical")
        return
    if f.name in ("USER_ID", "ITEM_ID") and f.type != "string":
        raise _error(f.name, f"must be of type string, not {f.type}")
    if f.name == "CREATION_TIMESTAMP" and dataset_type == "ITEMS":
        if f.type != "long":
            raise _error(f.name, f"must be of type long (Unix epoch seconds), not {f.type}")
        return
    if (
        f.type == "string"
        and not (f.categorical or f.textual)
        and f.name not in REQUIRED[dataset_type]
    ):
        kind = "categorical or textual" if dataset_type == "ITEMS" else "categorical"
        raise _error(f.name, f'a string metadata field must be {kind} ("categorical": true)')

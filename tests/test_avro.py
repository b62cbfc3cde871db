"""Avro schemas as Personalize accepts them: `parse_schema` and `check_for_dataset_type`.

Every rule is covered both ways: schemas that must be accepted (each primitive type, unions
with null in either order, categorical and textual strings, Items' CREATION_TIMESTAMP, every
reserved Interactions field) and schemas that must be rejected with InvalidInputException
whose message names the offending field and states the rule.
"""

from __future__ import annotations

import json

import pytest

from engine.datasets.avro import (
    PRIMITIVES,
    SchemaField,
    check_for_dataset_type,
    parse_schema,
)
from engine.errors import InvalidInputException

NAMESPACE = "com.amazonaws.personalize.schema"


def field(name: str, avro_type: object, **attrs: object) -> dict:
    """One field of a schema."""
    return {"name": name, "type": avro_type, **attrs}


def record(*fields: dict, name: str = "Schema") -> str:
    """A Personalize schema's JSON text with these fields."""
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "namespace": NAMESPACE,
            "fields": list(fields),
            "version": "1.0",
        }
    )


USER_ID = field("USER_ID", "string")
ITEM_ID = field("ITEM_ID", "string")
TIMESTAMP = field("TIMESTAMP", "long")
CATEGORY = field("CATEGORY", "string", categorical=True)
AGE_BAND = field("AGE_BAND", "string", categorical=True)

INTERACTIONS_TEXT = (
    '{"type":"record","name":"Interactions","namespace":"com.amazonaws.personalize.schema",'
    '"fields":[{"name":"USER_ID","type":"string"},{"name":"ITEM_ID","type":"string"},'
    '{"name":"TIMESTAMP","type":"long"},{"name":"EVENT_TYPE","type":"string"}],"version":"1.0"}'
)
USERS_TEXT = record(USER_ID, AGE_BAND, name="Users")
ITEMS_TEXT = record(
    ITEM_ID, CATEGORY, field("PRICE", "float"), field("CREATION_TIMESTAMP", "long"), name="Items"
)

# Minimal valid field lists per dataset type, to which a test adds the field under test.
BASE = {
    "INTERACTIONS": [USER_ID, ITEM_ID, TIMESTAMP],
    "USERS": [USER_ID],
    "ITEMS": [ITEM_ID],
}


def accept(text: str, dataset_type: str) -> list[SchemaField]:
    """Parse and check; return the fields (fails the test on any exception)."""
    fields = parse_schema(text)
    check_for_dataset_type(fields, dataset_type)
    return fields


def rejected(text: str, dataset_type: str | None = None) -> str:
    """The message of the InvalidInputException that parsing (and checking) raises."""
    with pytest.raises(InvalidInputException) as info:
        fields = parse_schema(text)
        if dataset_type is not None:
            check_for_dataset_type(fields, dataset_type)
    return str(info.value)


# ---------------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("text", "dataset_type", "names"),
    [
        (INTERACTIONS_TEXT, "INTERACTIONS", ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]),
        (USERS_TEXT, "USERS", ["USER_ID", "AGE_BAND"]),
        (ITEMS_TEXT, "ITEMS", ["ITEM_ID", "CATEGORY", "PRICE", "CREATION_TIMESTAMP"]),
    ],
)
def test_reference_schemas_are_accepted_with_fields_in_order(text, dataset_type, names):
    assert [f.name for f in accept(text, dataset_type)] == names


def test_parsed_fields_carry_type_and_flags():
    fields = parse_schema(ITEMS_TEXT)
    assert fields == [
        SchemaField("ITEM_ID", "string"),
        SchemaField("CATEGORY", "string", categorical=True),
        SchemaField("PRICE", "float"),
        SchemaField("CREATION_TIMESTAMP", "long"),
    ]


@pytest.mark.parametrize(
    ("avro_type", "duckdb_type", "numeric"),
    [
        ("string", "VARCHAR", False),
        ("int", "INTEGER", True),
        ("long", "BIGINT", True),
        ("float", "DOUBLE", True),
        ("double", "DOUBLE", True),
        ("boolean", "BOOLEAN", False),
    ],
)
def test_each_primitive_type_is_accepted(avro_type, duckdb_type, numeric):
    attrs = {"categorical": True} if avro_type == "string" else {}
    fields = accept(record(ITEM_ID, field("VALUE", avro_type, **attrs)), "ITEMS")
    value = fields[1]
    assert (value.type, value.nullable) == (avro_type, False)
    assert value.duckdb_type == duckdb_type
    assert value.is_numeric is numeric


def test_primitive_table_is_the_documented_one():
    assert set(PRIMITIVES) == {"string", "int", "long", "float", "double", "boolean"}


@pytest.mark.parametrize("avro_type", PRIMITIVES)
@pytest.mark.parametrize("null_first", [True, False], ids=["null-first", "null-last"])
def test_union_with_null_in_either_order_is_nullable(avro_type, null_first):
    union = ["null", avro_type] if null_first else [avro_type, "null"]
    attrs = {"categorical": True} if avro_type == "string" else {}
    fields = accept(record(ITEM_ID, field("VALUE", union, **attrs)), "ITEMS")
    assert (fields[1].type, fields[1].nullable) == (avro_type, True)


@pytest.mark.parametrize("dataset_type", ["INTERACTIONS", "USERS", "ITEMS"])
@pytest.mark.parametrize("avro_type", ["string", ["null", "string"], ["string", "null"]])
def test_categorical_string_is_accepted_in_every_dataset_type(dataset_type, avro_type):
    fields = accept(
        record(*BASE[dataset_type], field("GENRE", avro_type, categorical=True)), dataset_type
    )
    assert fields[-1].categorical is True
    assert fields[-1].textual is False


@pytest.mark.parametrize("avro_type", ["string", ["null", "string"]])
def test_textual_string_is_accepted_in_items(avro_type):
    fields = accept(record(ITEM_ID, field("DESCRIPTION", avro_type, textual=True)), "ITEMS")
    assert fields[1].textual is True
    assert fields[1].categorical is False


def test_explicit_false_flags_are_accepted():
    fields = accept(
        record(ITEM_ID, field("PRICE", "float", categorical=False, textual=False)), "ITEMS"
    )
    assert (fields[1].categorical, fields[1].textual) == (False, False)


@pytest.mark.parametrize("avro_type", ["long", ["null", "long"]])
def test_creation_timestamp_long_is_accepted_in_items(avro_type):
    fields = accept(record(ITEM_ID, CATEGORY, field("CREATION_TIMESTAMP", avro_type)), "ITEMS")
    assert fields[2].type == "long"


def test_creation_timestamp_alone_counts_as_items_metadata():
    accept(record(ITEM_ID, field("CREATION_TIMESTAMP", "long")), "ITEMS")


@pytest.mark.parametrize(
    "event_value",
    [
        "float",
        ["null", "float"],
        ["float", "null"],
        "int",
        "long",
        "double",
    ],
)
def test_interactions_with_every_reserved_and_contextual_field(event_value):
    text = record(
        USER_ID,
        ITEM_ID,
        TIMESTAMP,
        field("EVENT_TYPE", "string"),
        field("EVENT_VALUE", event_value),
        field("IMPRESSION", ["null", "string"]),
        field("RECOMMENDATION_ID", ["null", "string"]),
        field("EVENT_ATTRIBUTION_SOURCE", ["null", "string"]),
        field("DEVICE", ["null", "string"], categorical=True),
        field("LOCATION", "string", categorical=True),
        field("SESSION_LENGTH", ["null", "int"]),
        name="Interactions",
    )
    names = [f.name for f in accept(text, "INTERACTIONS")]
    assert names[3:] == [
        "EVENT_TYPE",
        "EVENT_VALUE",
        "IMPRESSION",
        "RECOMMENDATION_ID",
        "EVENT_ATTRIBUTION_SOURCE",
        "DEVICE",
        "LOCATION",
        "SESSION_LENGTH",
    ]


@pytest.mark.parametrize(
    "attrs",
    [
        {"doc": "the band"},
        {"default": "unknown"},
        {"aliases": ["AGE"]},
        {"order": "ascending"},
    ],
)
def test_standard_avro_field_attributes_are_allowed(attrs):
    accept(record(USER_ID, field("AGE_BAND", "string", categorical=True, **attrs)), "USERS")


@pytest.mark.parametrize("dataset_type", ["USERS", "ITEMS"])
def test_user_and_item_limits_are_inclusive(dataset_type):
    limit = {"USERS": 25, "ITEMS": 100}[dataset_type]
    extra = [field(f"F{i}", "string", categorical=True) for i in range(limit)]
    assert len(accept(record(*BASE[dataset_type], *extra), dataset_type)) == limit + 1


def test_record_name_and_namespace_are_free_of_dataset_type():
    accept(record(USER_ID, AGE_BAND, name="_anything_1"), "USERS")


# ------------------------------------------------------------------ rejected by parse_schema


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "record",', ["not valid JSON", "line 1", "column 19"]),
        ('{\n  "type": "record",\n  oops\n}', ["not valid JSON", "line 3", "column 3"]),
        ("", ["not valid JSON", "line 1", "column 1"]),
        ("{'type': 'record'}", ["not valid JSON", "line 1", "column 2"]),
    ],
)
def test_invalid_json_names_line_and_column(text, expected):
    message = rejected(text)
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '"record"',
        "42",
        "null",
        json.dumps({"name": "Users", "fields": [USER_ID]}),
        json.dumps({"type": "enum", "name": "Users", "symbols": ["A"]}),
        json.dumps({"type": "Record", "name": "Users", "fields": [USER_ID]}),
    ],
)
def test_top_level_must_be_a_record(text):
    assert '"type": "record"' in rejected(text)


@pytest.mark.parametrize(
    "name", ["1Users", "my-schema", "com.example.Users", "", "Us ers", 5, None]
)
def test_record_name_must_be_an_avro_name(name):
    doc = {"type": "record", "fields": [USER_ID, AGE_BAND]}
    if name is not None:
        doc["name"] = name
    message = rejected(json.dumps(doc))
    assert repr(name) in message
    assert "must be an Avro name" in message


@pytest.mark.parametrize("fields", [[], None, "USER_ID", {"name": "USER_ID"}])
def test_fields_must_be_a_non_empty_list(fields):
    doc = {"type": "record", "name": "Users"}
    if fields is not None:
        doc["fields"] = fields
    assert '"fields" must be a non-empty list' in rejected(json.dumps(doc))


@pytest.mark.parametrize("bad_name", ["USER-ID", "1ABC", "", "AGE BAND", "ÄGE", None, 7])
def test_field_name_must_be_an_avro_name(bad_name):
    raw = {"type": "string", "categorical": True}
    if bad_name is not None:
        raw["name"] = bad_name
    message = rejected(record(USER_ID, raw))
    assert f"fields[1] name {bad_name!r}" in message
    assert "must be an Avro name" in message


def test_field_must_be_an_object():
    assert "fields[1] must be an object" in rejected(record(USER_ID, "AGE_BAND"))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("AGE_BAND", "AGE_BAND"),
        ("AGE_BAND", "age_band"),
        ("Age_Band", "AGE_BAND"),
    ],
)
def test_duplicate_field_names_are_rejected_case_insensitively(first, second):
    message = rejected(
        record(
            USER_ID,
            field(first, "string", categorical=True),
            field(second, "string", categorical=True),
        )
    )
    assert f"schema field {second}: is defined twice" in message
    assert f"case-insensitive: {first}" in message


@pytest.mark.parametrize(
    "avro_type",
    [
        {"type": "array", "items": "string"},
        {"type": "map", "values": "string"},
        {"type": "record", "name": "Nested", "fields": [{"name": "A", "type": "int"}]},
        {"type": "enum", "name": "Band", "symbols": ["A", "B"]},
        {"type": "string"},
        "bytes",
        "null",
        "fixed",
        "array",
        "record",
        "STRING",
        None,
        42,
    ],
)
def test_unsupported_types_are_rejected(avro_type):
    raw = {"name": "AGE_BAND"}
    if avro_type is not None:
        raw["type"] = avro_type
    message = rejected(record(USER_ID, raw))
    assert "schema field AGE_BAND: type" in message
    assert "is not supported" in message


@pytest.mark.parametrize(
    "union",
    [
        ["string", "int"],
        ["null", "string", "int"],
        ["null", "null"],
        ["null"],
        ["string"],
        [],
        ["null", "bytes"],
        ["null", {"type": "array", "items": "string"}],
        ["null", "string", "null"],
    ],
)
def test_unions_other_than_null_and_one_primitive_are_rejected(union):
    message = rejected(record(USER_ID, field("AGE_BAND", union)))
    assert "schema field AGE_BAND: union" in message
    assert "is not supported" in message


@pytest.mark.parametrize(
    "avro_type", ["int", "long", "float", "double", "boolean", ["null", "int"]]
)
@pytest.mark.parametrize("flag", ["categorical", "textual"])
def test_only_strings_can_be_categorical_or_textual(avro_type, flag):
    message = rejected(record(ITEM_ID, field("PRICE", avro_type, **{flag: True})))
    assert f"schema field PRICE: only string fields can be {flag}" in message


def test_textual_and_categorical_together_are_rejected():
    message = rejected(record(ITEM_ID, field("GENRE", "string", categorical=True, textual=True)))
    assert "schema field GENRE: cannot be both categorical and textual" in message


@pytest.mark.parametrize("flag", ["categorical", "textual"])
@pytest.mark.parametrize("value", ["true", 1, None])
def test_flags_must_be_booleans(flag, value):
    message = rejected(record(ITEM_ID, field("GENRE", "string", **{flag: value})))
    assert f'schema field GENRE: "{flag}" must be true or false' in message


@pytest.mark.parametrize("attribute", ["logicalType", "Categorical", "nullable", "size"])
def test_unknown_field_attribute_is_rejected(attribute):
    message = rejected(
        record(USER_ID, field("AGE_BAND", "string", categorical=True, **{attribute: True}))
    )
    assert "schema field AGE_BAND: unknown attribute(s)" in message
    assert repr(attribute) in message


# --------------------------------------------------------- rejected by check_for_dataset_type


@pytest.mark.parametrize(
    ("fields", "dataset_type", "missing"),
    [
        ([ITEM_ID, TIMESTAMP], "INTERACTIONS", "USER_ID"),
        ([USER_ID, TIMESTAMP], "INTERACTIONS", "ITEM_ID"),
        ([USER_ID, ITEM_ID], "INTERACTIONS", "TIMESTAMP"),
        ([field("user_id", "string"), ITEM_ID, TIMESTAMP], "INTERACTIONS", "USER_ID"),
        ([AGE_BAND], "USERS", "USER_ID"),
        ([ITEM_ID, AGE_BAND], "USERS", "USER_ID"),
        ([CATEGORY], "ITEMS", "ITEM_ID"),
        ([USER_ID, CATEGORY], "ITEMS", "ITEM_ID"),
    ],
)
def test_required_fields_per_dataset_type(fields, dataset_type, missing):
    message = rejected(record(*fields), dataset_type)
    assert f"schema field {missing}: is required in a {dataset_type} schema" in message
    assert "is missing" in message


@pytest.mark.parametrize(
    ("fields", "dataset_type", "nullable"),
    [
        ([field("USER_ID", ["null", "string"]), ITEM_ID, TIMESTAMP], "INTERACTIONS", "USER_ID"),
        ([USER_ID, field("ITEM_ID", ["string", "null"]), TIMESTAMP], "INTERACTIONS", "ITEM_ID"),
        ([USER_ID, ITEM_ID, field("TIMESTAMP", ["null", "long"])], "INTERACTIONS", "TIMESTAMP"),
        ([field("USER_ID", ["null", "string"]), AGE_BAND], "USERS", "USER_ID"),
        ([field("ITEM_ID", ["null", "string"]), CATEGORY], "ITEMS", "ITEM_ID"),
    ],
)
def test_required_fields_cannot_be_nullable(fields, dataset_type, nullable):
    message = rejected(record(*fields), dataset_type)
    assert f"schema field {nullable}: is required and cannot be nullable" in message


@pytest.mark.parametrize("avro_type", ["int", "string", "double", "float", "boolean"])
def test_interactions_timestamp_must_be_long(avro_type):
    message = rejected(record(USER_ID, ITEM_ID, field("TIMESTAMP", avro_type)), "INTERACTIONS")
    assert f"schema field TIMESTAMP: must be of type long, not {avro_type}" in message


@pytest.mark.parametrize(
    ("fields", "dataset_type", "bad"),
    [
        ([field("USER_ID", "int"), ITEM_ID, TIMESTAMP], "INTERACTIONS", "USER_ID"),
        ([USER_ID, field("ITEM_ID", "long"), TIMESTAMP], "INTERACTIONS", "ITEM_ID"),
        ([field("USER_ID", "long"), AGE_BAND], "USERS", "USER_ID"),
        ([field("ITEM_ID", "int"), CATEGORY], "ITEMS", "ITEM_ID"),
    ],
)
def test_ids_must_be_strings(fields, dataset_type, bad):
    message = rejected(record(*fields), dataset_type)
    assert f"schema field {bad}: must be of type string" in message


@pytest.mark.parametrize(
    ("name", "avro_type", "rule"),
    [
        ("EVENT_TYPE", "int", "must be of type string, not int"),
        ("EVENT_VALUE", "string", "must be of type int or long or float or double, not string"),
        ("EVENT_VALUE", "boolean", "must be of type int or long or float or double, not boolean"),
        ("IMPRESSION", "long", "must be of type string, not long"),
        ("RECOMMENDATION_ID", "int", "must be of type string, not int"),
        ("EVENT_ATTRIBUTION_SOURCE", "double", "must be of type string, not double"),
    ],
)
def test_reserved_interactions_fields_have_fixed_types(name, avro_type, rule):
    message = rejected(record(*BASE["INTERACTIONS"], field(name, avro_type)), "INTERACTIONS")
    assert f"schema field {name}: {rule}" in message


@pytest.mark.parametrize("name", ["EVENT_TYPE", "RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE"])
def test_reserved_interactions_fields_cannot_be_categorical(name):
    message = rejected(
        record(*BASE["INTERACTIONS"], field(name, "string", categorical=True)), "INTERACTIONS"
    )
    assert f"schema field {name}: is a reserved field and cannot be categorical" in message


@pytest.mark.parametrize("dataset_type", ["INTERACTIONS", "USERS"])
def test_textual_fields_only_in_items(dataset_type):
    text = record(*BASE[dataset_type], AGE_BAND, field("BIO", "string", textual=True))
    message = rejected(text, dataset_type)
    assert "schema field BIO: textual fields are allowed only in ITEMS schemas" in message
    assert f"not {dataset_type}" in message


def test_items_allow_at_most_one_textual_field():
    text = record(
        ITEM_ID,
        field("TITLE", "string", textual=True),
        field("DESCRIPTION", ["null", "string"], textual=True),
    )
    message = rejected(text, "ITEMS")
    assert "at most 1 textual field" in message
    assert "TITLE" in message and "DESCRIPTION" in message


@pytest.mark.parametrize(("dataset_type", "id_field"), [("USERS", "USER_ID"), ("ITEMS", "ITEM_ID")])
def test_users_and_items_need_a_metadata_field(dataset_type, id_field):
    message = rejected(record(*BASE[dataset_type]), dataset_type)
    assert (
        f"a {dataset_type} schema needs at least one metadata field besides {id_field}" in message
    )


@pytest.mark.parametrize(("dataset_type", "limit"), [("USERS", 25), ("ITEMS", 100)])
def test_too_many_metadata_fields(dataset_type, limit):
    extra = [field(f"F{i}", "string", categorical=True) for i in range(limit + 1)]
    message = rejected(record(*BASE[dataset_type], *extra), dataset_type)
    assert f"a {dataset_type} schema may have at most {limit} metadata fields" in message
    assert f"this one has {limit + 1}" in message


@pytest.mark.parametrize(
    ("dataset_type", "rule"),
    [
        ("INTERACTIONS", 'a string metadata field must be categorical ("categorical": true)'),
        ("USERS", 'a string metadata field must be categorical ("categorical": true)'),
        ("ITEMS", "a string metadata field must be categorical or textual"),
    ],
)
@pytest.mark.parametrize("avro_type", ["string", ["null", "string"]])
def test_string_metadata_must_be_categorical(dataset_type, rule, avro_type):
    message = rejected(record(*BASE[dataset_type], field("DEVICE", avro_type)), dataset_type)
    assert f"schema field DEVICE: {rule}" in message


@pytest.mark.parametrize("avro_type", ["int", "double", "float", "string", ["null", "int"]])
def test_items_creation_timestamp_must_be_long(avro_type):
    text = record(ITEM_ID, CATEGORY, field("CREATION_TIMESTAMP", avro_type))
    message = rejected(text, "ITEMS")
    assert "schema field CREATION_TIMESTAMP: must be of type long (Unix epoch seconds)" in message


def test_error_type_is_a_400_with_the_aws_code():
    with pytest.raises(InvalidInputException) as info:
        parse_schema("[]")
    assert info.value.status == 400
    assert info.value.to_aws()["__type"] == "InvalidInputException"

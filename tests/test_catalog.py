"""The Engine's catalog operations: dataset groups, schemas and datasets on a real data dir.

Covers create/describe/list/delete of each kind, their exact ARNs (default and custom region
and account), statuses and timezone-aware timestamps, the errors Personalize raises
(ResourceAlreadyExists, ResourceNotFound, ResourceInUse, InvalidInput, InvalidNextToken),
input validation from botocore's service model, pagination, tags, and that every response
fits botocore's output shape of its operation (`tests.shapes.assert_output_shape`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import (
    Engine,
    InvalidInputException,
    InvalidNextTokenException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
    Settings,
)
from tests.helpers import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, USERS_SCHEMA
from tests.shapes import assert_output_shape, shape_errors

PREFIX = "arn:aws:personalize:us-east-1:000000000000:"

INTERACTIONS = json.dumps(INTERACTIONS_SCHEMA)
USERS = json.dumps(USERS_SCHEMA)
ITEMS = json.dumps(ITEMS_SCHEMA)
SCHEMAS = {"INTERACTIONS": INTERACTIONS, "USERS": USERS, "ITEMS": ITEMS}


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An Engine on a fresh data directory with default settings, closed afterwards."""
    for var in ("TAILOR_REGION", "TAILOR_ACCOUNT_ID"):
        monkeypatch.delenv(var, raising=False)
    eng = Engine(tmp_path / "data")
    yield eng
    eng.close()


def make_group(engine: Engine, name: str = "shop", **kwargs) -> str:
    return engine.create_dataset_group(name=name, **kwargs)["datasetGroupArn"]


def make_schema(engine: Engine, kind: str = "INTERACTIONS", name: str | None = None) -> str:
    name = name or f"{kind.lower()}-schema"
    return engine.create_schema(name=name, schema=SCHEMAS[kind])["schemaArn"]


def make_dataset(
    engine: Engine, group: str, kind: str = "INTERACTIONS", schema: str | None = None, **kwargs
) -> str:
    schema = schema or make_schema(engine, kind)
    return engine.create_dataset(
        name=f"{kind.lower()}-ds",
        schemaArn=schema,
        datasetGroupArn=group,
        datasetType=kind,
        **kwargs,
    )["datasetArn"]


def assert_recent_utc(value: datetime) -> None:
    assert isinstance(value, datetime)
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - value) < timedelta(minutes=5)


# ----------------------------------------------------------------------------- dataset groups


def test_create_dataset_group_arn(engine):
    response = engine.create_dataset_group(name="shop")
    assert response == {"datasetGroupArn": PREFIX + "dataset-group/shop"}


def test_create_dataset_group_echoes_domain(engine):
    response = engine.create_dataset_group(name="vod", domain="VIDEO_ON_DEMAND")
    assert response == {
        "datasetGroupArn": PREFIX + "dataset-group/vod",
        "domain": "VIDEO_ON_DEMAND",
    }


def test_describe_dataset_group(engine):
    role = "arn:aws:iam::123456789012:role/personalize"
    arn = make_group(engine, roleArn=role, domain="ECOMMERCE")
    group = engine.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert group["name"] == "shop"
    assert group["datasetGroupArn"] == arn
    assert group["status"] == "ACTIVE"
    assert group["roleArn"] == role
    assert group["domain"] == "ECOMMERCE"
    assert "failureReason" not in group
    assert "kmsKeyArn" not in group
    assert_recent_utc(group["creationDateTime"])
    assert_recent_utc(group["lastUpdatedDateTime"])
    assert group["creationDateTime"] <= group["lastUpdatedDateTime"]


def test_list_dataset_groups_newest_first(engine):
    assert engine.list_dataset_groups() == {"datasetGroups": []}
    for name in ("a", "b", "c"):
        make_group(engine, name)
    listed = engine.list_dataset_groups()
    assert [g["name"] for g in listed["datasetGroups"]] == ["c", "b", "a"]
    assert "nextToken" not in listed
    for g in listed["datasetGroups"]:
        assert g["status"] == "ACTIVE"
        assert g["datasetGroupArn"] == PREFIX + "dataset-group/" + g["name"]
        assert_recent_utc(g["creationDateTime"])


def test_list_dataset_groups_leaves_out_role_and_key(engine):
    make_group(
        engine,
        roleArn="arn:aws:iam::123456789012:role/p",
        kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/k",
    )
    (summary,) = engine.list_dataset_groups()["datasetGroups"]
    assert "roleArn" not in summary and "kmsKeyArn" not in summary


def test_delete_dataset_group(engine):
    arn = make_group(engine)
    assert engine.delete_dataset_group(datasetGroupArn=arn) == {}
    with pytest.raises(ResourceNotFoundException):
        engine.describe_dataset_group(datasetGroupArn=arn)
    assert engine.list_dataset_groups()["datasetGroups"] == []


def test_dataset_group_name_can_be_reused_after_delete(engine):
    arn = make_group(engine)
    engine.delete_dataset_group(datasetGroupArn=arn)
    assert make_group(engine) == arn


def test_duplicate_dataset_group(engine):
    arn = make_group(engine)
    with pytest.raises(ResourceAlreadyExistsException) as info:
        make_group(engine)
    assert arn in str(info.value)
    assert len(engine.list_dataset_groups()["datasetGroups"]) == 1


# ------------------------------------------------------------------------------------ schemas


def test_create_schema_arn(engine):
    assert engine.create_schema(name="events", schema=INTERACTIONS) == {
        "schemaArn": PREFIX + "schema/events"
    }


def test_describe_schema_returns_text_unchanged(engine):
    arn = engine.create_schema(name="events", schema=INTERACTIONS, domain="ECOMMERCE")["schemaArn"]
    schema = engine.describe_schema(schemaArn=arn)["schema"]
    assert schema["name"] == "events"
    assert schema["schemaArn"] == arn
    assert schema["schema"] == INTERACTIONS
    assert schema["domain"] == "ECOMMERCE"
    assert "status" not in schema
    assert_recent_utc(schema["creationDateTime"])
    assert_recent_utc(schema["lastUpdatedDateTime"])


def test_list_schemas_without_body(engine):
    for kind in ("INTERACTIONS", "USERS", "ITEMS"):
        make_schema(engine, kind)
    listed = engine.list_schemas()
    assert [s["name"] for s in listed["schemas"]] == [
        "items-schema",
        "users-schema",
        "interactions-schema",
    ]
    assert all("schema" not in s for s in listed["schemas"])
    assert "nextToken" not in listed


def test_delete_schema(engine):
    arn = make_schema(engine)
    assert engine.delete_schema(schemaArn=arn) == {}
    with pytest.raises(ResourceNotFoundException):
        engine.describe_schema(schemaArn=arn)
    assert engine.list_schemas()["schemas"] == []


def test_duplicate_schema(engine):
    make_schema(engine, name="s")
    with pytest.raises(ResourceAlreadyExistsException):
        engine.create_schema(name="s", schema=USERS)
    assert engine.describe_schema(schemaArn=PREFIX + "schema/s")["schema"]["schema"] == INTERACTIONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({"type": "record", "name": "X", "fields": [{"name": "A", "type": "bytes"}]}),
            "schema field A",
        ),
    ],
)
def test_invalid_schema_is_rejected_and_not_stored(engine, text, expected):
    with pytest.raises(InvalidInputException) as info:
        engine.create_schema(name="bad", schema=text)
    assert expected in str(info.value)
    assert engine.list_schemas()["schemas"] == []


# ----------------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("kind", ["INTERACTIONS", "USERS", "ITEMS"])
def test_create_and_describe_dataset(engine, kind):
    group = make_group(engine)
    schema = make_schema(engine, kind)
    arn = make_dataset(engine, group, kind, schema)
    assert arn == f"{PREFIX}dataset/shop/{kind}"
    dataset = engine.describe_dataset(datasetArn=arn)["dataset"]
    assert dataset["name"] == f"{kind.lower()}-ds"
    assert dataset["datasetArn"] == arn
    assert dataset["datasetGroupArn"] == group
    assert dataset["schemaArn"] == schema
    assert dataset["datasetType"] == kind
    assert dataset["status"] == "ACTIVE"
    assert_recent_utc(dataset["creationDateTime"])
    assert_recent_utc(dataset["lastUpdatedDateTime"])


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("Interactions", "INTERACTIONS"),
        ("interactions", "INTERACTIONS"),
        ("items", "ITEMS"),
        ("Users", "USERS"),
        ("iTeMs", "ITEMS"),
    ],
)
def test_dataset_type_is_case_insensitive(engine, given, canonical):
    group = make_group(engine)
    schema = make_schema(engine, canonical)
    arn = engine.create_dataset(
        name="ds", schemaArn=schema, datasetGroupArn=group, datasetType=given
    )["datasetArn"]
    assert arn == f"{PREFIX}dataset/shop/{canonical}"
    assert engine.describe_dataset(datasetArn=arn)["dataset"]["datasetType"] == canonical


def test_list_datasets_all_and_per_group(engine):
    shop, news = make_group(engine, "shop"), make_group(engine, "news")
    schema = make_schema(engine)
    make_dataset(engine, shop, schema=schema)
    make_dataset(engine, shop, "USERS")
    make_dataset(engine, news, schema=schema)
    in_shop = engine.list_datasets(datasetGroupArn=shop)["datasets"]
    assert [d["datasetArn"] for d in in_shop] == [
        PREFIX + "dataset/shop/USERS",
        PREFIX + "dataset/shop/INTERACTIONS",
    ]
    assert [d["datasetType"] for d in in_shop] == ["USERS", "INTERACTIONS"]
    for d in in_shop:
        assert set(d) == {
            "name",
            "datasetArn",
            "datasetType",
            "status",
            "creationDateTime",
            "lastUpdatedDateTime",
        }
    in_news = engine.list_datasets(datasetGroupArn=news)["datasets"]
    assert [d["datasetArn"] for d in in_news] == [PREFIX + "dataset/news/INTERACTIONS"]
    assert len(engine.list_datasets()["datasets"]) == 3


def test_delete_dataset(engine):
    group = make_group(engine)
    arn = make_dataset(engine, group)
    assert engine.delete_dataset(datasetArn=arn) == {}
    with pytest.raises(ResourceNotFoundException):
        engine.describe_dataset(datasetArn=arn)
    assert engine.list_datasets(datasetGroupArn=group)["datasets"] == []
    assert make_dataset(engine, group, schema=PREFIX + "schema/interactions-schema") == arn


def test_second_interactions_dataset_in_a_group(engine):
    group = make_group(engine)
    schema = make_schema(engine)
    make_dataset(engine, group, schema=schema)
    with pytest.raises(ResourceAlreadyExistsException):
        engine.create_dataset(
            name="other", schemaArn=schema, datasetGroupArn=group, datasetType="INTERACTIONS"
        )
    assert len(engine.list_datasets(datasetGroupArn=group)["datasets"]) == 1


def test_same_dataset_type_in_two_groups(engine):
    schema = make_schema(engine)
    a = make_dataset(engine, make_group(engine, "a"), schema=schema)
    b = make_dataset(engine, make_group(engine, "b"), schema=schema)
    assert (a, b) == (PREFIX + "dataset/a/INTERACTIONS", PREFIX + "dataset/b/INTERACTIONS")


@pytest.mark.parametrize(
    ("schema_kind", "dataset_type", "field"),
    [
        ("USERS", "INTERACTIONS", "ITEM_ID"),
        ("ITEMS", "INTERACTIONS", "USER_ID"),
        ("INTERACTIONS", "ITEMS", "USER_ID"),
        ("ITEMS", "USERS", "USER_ID"),
        ("USERS", "ITEMS", "ITEM_ID"),
    ],
)
def test_schema_unfit_for_dataset_type(engine, schema_kind, dataset_type, field):
    group = make_group(engine)
    schema = make_schema(engine, schema_kind)
    with pytest.raises(InvalidInputException) as info:
        engine.create_dataset(
            name="ds", schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type
        )
    assert f"schema field {field}" in str(info.value)
    assert engine.list_datasets(datasetGroupArn=group)["datasets"] == []
    assert engine.delete_dataset_group(datasetGroupArn=group) == {}


@pytest.mark.parametrize("kind", ["Actions", "ACTIONS", "Action_Interactions"])
def test_actions_datasets_are_not_supported(engine, kind):
    group = make_group(engine)
    with pytest.raises(InvalidInputException) as info:
        engine.create_dataset(
            name="ds", schemaArn=make_schema(engine), datasetGroupArn=group, datasetType=kind
        )
    message = str(info.value)
    assert repr(kind) in message
    assert "not supported" in message


def test_unknown_dataset_type(engine):
    group = make_group(engine)
    with pytest.raises(InvalidInputException) as info:
        engine.create_dataset(
            name="ds", schemaArn=make_schema(engine), datasetGroupArn=group, datasetType="Events"
        )
    assert "datasetType 'Events' must be one of" in str(info.value)


# ---------------------------------------------------------------------------------------- ARNs


def test_custom_region_and_account_change_every_arn(tmp_path):
    settings = Settings(region="eu-west-1", account_id="123456789012")
    with Engine(tmp_path / "data", settings=settings) as engine:
        prefix = "arn:aws:personalize:eu-west-1:123456789012:"
        group = make_group(engine)
        schema = make_schema(engine)
        dataset = make_dataset(engine, group, schema=schema)
        assert group == prefix + "dataset-group/shop"
        assert schema == prefix + "schema/interactions-schema"
        assert dataset == prefix + "dataset/shop/INTERACTIONS"
        described = engine.describe_dataset(datasetArn=dataset)["dataset"]
        assert described["datasetGroupArn"] == group
        assert described["schemaArn"] == schema
        with pytest.raises(ResourceNotFoundException):
            engine.describe_dataset_group(datasetGroupArn=PREFIX + "dataset-group/shop")


# ----------------------------------------------------------------------------- not found / use

UNKNOWN = {
    "datasetGroupArn": PREFIX + "dataset-group/nope",
    "schemaArn": PREFIX + "schema/nope",
    "datasetArn": PREFIX + "dataset/nope/INTERACTIONS",
}


@pytest.mark.parametrize(
    ("method", "param"),
    [
        ("describe_dataset_group", "datasetGroupArn"),
        ("delete_dataset_group", "datasetGroupArn"),
        ("describe_schema", "schemaArn"),
        ("delete_schema", "schemaArn"),
        ("describe_dataset", "datasetArn"),
        ("delete_dataset", "datasetArn"),
        ("list_datasets", "datasetGroupArn"),
    ],
)
def test_unknown_arn_is_not_found(engine, method, param):
    arn = UNKNOWN[param]
    with pytest.raises(ResourceNotFoundException) as info:
        getattr(engine, method)(**{param: arn})
    assert arn in str(info.value)


@pytest.mark.parametrize(
    ("method", "param", "other"),
    [
        ("describe_dataset_group", "datasetGroupArn", "schema"),
        ("describe_schema", "schemaArn", "group"),
        ("describe_dataset", "datasetArn", "group"),
        ("delete_schema", "schemaArn", "dataset"),
    ],
)
def test_arn_of_another_kind_is_not_found(engine, method, param, other):
    group = make_group(engine)
    schema = make_schema(engine)
    dataset = make_dataset(engine, group, schema=schema)
    arn = {"group": group, "schema": schema, "dataset": dataset}[other]
    with pytest.raises(ResourceNotFoundException):
        getattr(engine, method)(**{param: arn})


def test_dataset_in_unknown_group(engine):
    with pytest.raises(ResourceNotFoundException) as info:
        engine.create_dataset(
            name="ds",
            schemaArn=make_schema(engine),
            datasetGroupArn=UNKNOWN["datasetGroupArn"],
            datasetType="INTERACTIONS",
        )
    assert UNKNOWN["datasetGroupArn"] in str(info.value)
    assert engine.list_datasets()["datasets"] == []


def test_dataset_with_unknown_schema(engine):
    group = make_group(engine)
    with pytest.raises(ResourceNotFoundException) as info:
        engine.create_dataset(
            name="ds",
            schemaArn=UNKNOWN["schemaArn"],
            datasetGroupArn=group,
            datasetType="INTERACTIONS",
        )
    assert UNKNOWN["schemaArn"] in str(info.value)


def test_delete_group_in_use(engine):
    group = make_group(engine)
    dataset = make_dataset(engine, group)
    with pytest.raises(ResourceInUseException) as info:
        engine.delete_dataset_group(datasetGroupArn=group)
    assert group in str(info.value)
    assert "dataset" in str(info.value)
    assert (
        engine.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["status"] == "ACTIVE"
    )
    engine.delete_dataset(datasetArn=dataset)
    assert engine.delete_dataset_group(datasetGroupArn=group) == {}
    assert engine.list_dataset_groups()["datasetGroups"] == []


def test_delete_schema_in_use(engine):
    group = make_group(engine)
    schema = make_schema(engine)
    dataset = make_dataset(engine, group, schema=schema)
    with pytest.raises(ResourceInUseException) as info:
        engine.delete_schema(schemaArn=schema)
    assert schema in str(info.value)
    assert dataset in str(info.value)
    engine.delete_dataset(datasetArn=dataset)
    assert engine.delete_schema(schemaArn=schema) == {}


# -------------------------------------------------------------------------------- validation

NAMED_CREATES = {
    "create_dataset_group": {},
    "create_schema": {"schema": INTERACTIONS},
}


@pytest.mark.parametrize("method", sorted(NAMED_CREATES))
@pytest.mark.parametrize("name", ["bad name", "-x", "_x", "a.b", "shop/1", "x!"])
def test_name_pattern(engine, method, name):
    with pytest.raises(InvalidInputException) as info:
        getattr(engine, method)(name=name, **NAMED_CREATES[method])
    message = str(info.value)
    assert "name" in message
    assert repr(name) in message
    assert "pattern" in message


@pytest.mark.parametrize("name", ["bad name", "-x", "x" * 64])
def test_dataset_name_is_validated(engine, name):
    group = make_group(engine)
    with pytest.raises(InvalidInputException) as info:
        engine.create_dataset(
            name=name,
            schemaArn=make_schema(engine),
            datasetGroupArn=group,
            datasetType="INTERACTIONS",
        )
    assert "name" in str(info.value)


@pytest.mark.parametrize("method", sorted(NAMED_CREATES))
def test_name_of_63_characters_is_accepted(engine, method):
    getattr(engine, method)(name="x" * 63, **NAMED_CREATES[method])


@pytest.mark.parametrize("method", sorted(NAMED_CREATES))
@pytest.mark.parametrize(("name", "rule"), [("x" * 64, "at most 63"), ("", "at least 1")])
def test_name_length_names_field_and_rule(engine, method, name, rule):
    with pytest.raises(InvalidInputException) as info:
        getattr(engine, method)(name=name, **NAMED_CREATES[method])
    assert str(info.value).startswith("name:")
    assert rule in str(info.value)


@pytest.mark.parametrize("method", sorted(NAMED_CREATES))
@pytest.mark.parametrize("name", ["x" * 64, ""], ids=["too-long", "empty"])
def test_name_length_message_contains_the_value(engine, method, name):
    with pytest.raises(InvalidInputException) as info:
        getattr(engine, method)(name=name, **NAMED_CREATES[method])
    assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    ("method", "kwargs", "expected"),
    [
        ("list_dataset_groups", {"maxResults": "3"}, ["maxResults", "'3'", "must be an integer"]),
        ("list_schemas", {"maxResults": 2.0}, ["maxResults", "2.0", "must be an integer"]),
        ("list_datasets", {"maxResults": True}, ["maxResults", "True", "must be an integer"]),
        ("list_dataset_groups", {"maxResults": 0}, ["maxResults", "0", "below the minimum 1"]),
        ("list_schemas", {"maxResults": 101}, ["maxResults", "101", "above the maximum 100"]),
        ("list_datasets", {"maxResults": -1}, ["maxResults", "-1", "below the minimum 1"]),
        (
            "create_dataset_group",
            {"name": "g", "domain": "RETAIL"},
            ["domain", "'RETAIL'", "must be one of: ECOMMERCE, VIDEO_ON_DEMAND"],
        ),
        (
            "create_schema",
            {"name": "s", "schema": INTERACTIONS, "domain": "ecommerce"},
            ["domain", "'ecommerce'", "must be one of"],
        ),
        ("create_dataset_group", {"name": 5}, ["name", "5", "must be a string"]),
        ("create_schema", {"name": "s", "schema": "x" * 20001}, ["schema", "at most 20000"]),
        (
            "create_dataset_group",
            {"name": "g", "roleArn": "role"},
            ["roleArn", "'role'", "pattern"],
        ),
        (
            "describe_dataset_group",
            {"datasetGroupArn": "shop"},
            ["datasetGroupArn", "'shop'", "pattern"],
        ),
        ("describe_dataset", {"datasetArn": ""}, ["datasetArn", "pattern"]),
    ],
)
def test_invalid_parameters(engine, method, kwargs, expected):
    with pytest.raises(InvalidInputException) as info:
        getattr(engine, method)(**kwargs)
    for part in expected:
        assert part in str(info.value)


def test_none_is_treated_as_not_given(engine):
    arn = engine.create_dataset_group(name="shop", domain=None, roleArn=None, tags=None)
    assert arn == {"datasetGroupArn": PREFIX + "dataset-group/shop"}
    assert len(engine.list_dataset_groups(maxResults=None, nextToken=None)["datasetGroups"]) == 1


# -------------------------------------------------------------------------------- pagination


def test_pagination_walks_every_group_once(engine):
    names = [f"g{i}" for i in range(5)]
    for name in names:
        make_group(engine, name)
    pages, token = [], None
    while True:
        page = engine.list_dataset_groups(maxResults=2, nextToken=token)
        pages.append([g["name"] for g in page["datasetGroups"]])
        token = page.get("nextToken")
        if token is None:
            break
        assert len(pages) < 10, "pagination does not end"
    assert pages == [["g4", "g3"], ["g2", "g1"], ["g0"]]
    seen = [n for page in pages for n in page]
    assert sorted(seen) == names and len(seen) == len(set(seen))


def test_exact_page_has_no_next_token(engine):
    for name in ("a", "b"):
        make_group(engine, name)
    page = engine.list_dataset_groups(maxResults=2)
    assert len(page["datasetGroups"]) == 2
    assert "nextToken" not in page


@pytest.mark.parametrize(
    ("method", "make"),
    [
        ("list_schemas", lambda e, i: make_schema(e, name=f"s{i}")),
        (
            "list_datasets",
            lambda e, i: make_dataset(e, make_group(e, f"g{i}"), schema=e.arns.schema("shared")),
        ),
    ],
)
def test_other_listings_paginate(engine, method, make):
    make_schema(engine, name="shared")
    for i in range(3):
        make(engine, i)
    key = {"list_schemas": "schemas", "list_datasets": "datasets"}[method]
    first = getattr(engine, method)(maxResults=2)
    rest = getattr(engine, method)(maxResults=2, nextToken=first["nextToken"])
    arns = [r[key[:-1] + "Arn"] for r in first[key] + rest[key]]
    assert len(arns) == len(set(arns)) == len(getattr(engine, method)()[key])
    assert "nextToken" not in rest


def _token(listing: str, offset: object) -> str:
    return base64.urlsafe_b64encode(json.dumps({"l": listing, "o": offset}).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "eyJ",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        _token("ListDatasetGroups", -2),
        _token("ListDatasetGroups", "2"),
        _token("ListSchemas", 2),
        _token("ListDatasets", 2),
    ],
)
def test_forged_or_foreign_token_is_rejected(engine, token):
    for name in ("a", "b", "c"):
        make_group(engine, name)
    with pytest.raises(InvalidNextTokenException) as info:
        engine.list_dataset_groups(maxResults=2, nextToken=token)
    assert "ListDatasetGroups" in str(info.value)


def test_token_from_another_listing_is_rejected(engine):
    for i in range(3):
        make_schema(engine, name=f"s{i}")
    token = engine.list_schemas(maxResults=1)["nextToken"]
    with pytest.raises(InvalidNextTokenException):
        engine.list_dataset_groups(nextToken=token)
    with pytest.raises(InvalidNextTokenException):
        engine.list_datasets(nextToken=token)


# -------------------------------------------------------------------------------------- tags


def _tags(engine: Engine, arn: str) -> dict[str, str]:
    with engine.store.cursor() as cur:
        rows = cur.execute(
            "SELECT tag_key, tag_value FROM tags WHERE resource_arn = ?", [arn]
        ).fetchall()
    return dict(rows)


def test_tags_are_accepted_and_kept(engine):
    tags = [{"tagKey": "team", "tagValue": "growth"}, {"tagKey": "env", "tagValue": ""}]
    group = make_group(engine, tags=tags)
    dataset = make_dataset(engine, group, tags=[{"tagKey": "team", "tagValue": "data"}])
    assert _tags(engine, group) == {"team": "growth", "env": ""}
    assert _tags(engine, dataset) == {"team": "data"}
    engine.delete_dataset(datasetArn=dataset)
    engine.delete_dataset_group(datasetGroupArn=group)
    assert _tags(engine, group) == {} and _tags(engine, dataset) == {}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([{"tagKey": "bad!key", "tagValue": "v"}], "tags[0].tagKey"),
        ([{"tagKey": "k"}], "tags[0].tagValue is required"),
        ([{"tagKey": "k", "tagValue": "v"}] * 201, "tags: must have at most 200 items"),
        ({"tagKey": "k", "tagValue": "v"}, "tags: expected a list"),
    ],
)
def test_bad_tags_are_rejected(engine, tags, expected):
    with pytest.raises(InvalidInputException) as info:
        make_group(engine, tags=tags)
    assert expected in str(info.value)
    assert engine.list_dataset_groups()["datasetGroups"] == []


# ------------------------------------------------------------------------------ output shapes


def test_every_response_fits_its_output_shape(engine):
    responses = []

    def call(op: str, method: str, **kwargs):
        response = getattr(engine, method)(**kwargs)
        responses.append((op, response))
        return response

    role = "arn:aws:iam::123456789012:role/personalize"
    kms = "arn:aws:kms:us-east-1:123456789012:key/k"
    group = call(
        "CreateDatasetGroup",
        "create_dataset_group",
        name="shop",
        roleArn=role,
        kmsKeyArn=kms,
        domain="ECOMMERCE",
        tags=[{"tagKey": "team", "tagValue": "growth"}],
    )["datasetGroupArn"]
    call("CreateDatasetGroup", "create_dataset_group", name="plain")
    call("DescribeDatasetGroup", "describe_dataset_group", datasetGroupArn=group)
    call("ListDatasetGroups", "list_dataset_groups")
    call("ListDatasetGroups", "list_dataset_groups", maxResults=1)
    schemas = {}
    for kind, text in SCHEMAS.items():
        schemas[kind] = call(
            "CreateSchema", "create_schema", name=kind.lower(), schema=text, domain="ECOMMERCE"
        )["schemaArn"]
        call("DescribeSchema", "describe_schema", schemaArn=schemas[kind])
    call("ListSchemas", "list_schemas")
    call("ListSchemas", "list_schemas", maxResults=1)
    datasets = []
    for kind in SCHEMAS:
        datasets.append(
            call(
                "CreateDataset",
                "create_dataset",
                name=kind.lower(),
                schemaArn=schemas[kind],
                datasetGroupArn=group,
                datasetType=kind.title(),
            )["datasetArn"]
        )
        call("DescribeDataset", "describe_dataset", datasetArn=datasets[-1])
    call("ListDatasets", "list_datasets")
    call("ListDatasets", "list_datasets", datasetGroupArn=group, maxResults=2)
    for arn in datasets:
        call("DeleteDataset", "delete_dataset", datasetArn=arn)
    for arn in schemas.values():
        call("DeleteSchema", "delete_schema", schemaArn=arn)
    call("DeleteDatasetGroup", "delete_dataset_group", datasetGroupArn=group)
    assert len(responses) == 28
    for op, response in responses:
        assert_output_shape(op, response)


@pytest.mark.parametrize(
    ("op", "response", "expected"),
    [
        (
            "CreateDatasetGroup",
            {"datasetGroupArn": PREFIX + "dataset-group/x", "extra": 1},
            "response.extra: unknown key",
        ),
        ("CreateDatasetGroup", {"datasetGroupArn": 5}, "expected a string"),
        ("CreateDatasetGroup", {"domain": "RETAIL"}, "is not one of"),
        ("CreateDatasetGroup", {"datasetGroupArn": "not-an-arn"}, "does not match the pattern"),
        (
            "DescribeDatasetGroup",
            {"datasetGroup": {"creationDateTime": 1700000000}},
            "expected a datetime",
        ),
        (
            "DescribeDatasetGroup",
            {"datasetGroup": {"creationDateTime": datetime(2024, 1, 1)}},
            "not timezone-aware",
        ),
        ("DescribeDatasetGroup", {"datasetGroup": {"name": "x", "status": None}}, "status: None"),
        ("DescribeDatasetGroup", {"datasetGroup": []}, "expected an object"),
        ("ListDatasetGroups", {"datasetGroups": {}}, "expected a list"),
        (
            "ListDatasetGroups",
            {"datasetGroups": [{"roleArn": "x"}]},
            "response.datasetGroups[0].roleArn: unknown key",
        ),
        ("ListDatasetGroups", {"datasetGroups": [{}] * 101}, "above the maximum 100"),
        ("DeleteDatasetGroup", {"datasetGroupArn": "x"}, "has no output shape"),
    ],
)
def test_shape_checker_catches_misfits(op, response, expected):
    errors = shape_errors(op, response)
    assert any(expected in e for e in errors), errors
    with pytest.raises(AssertionError):
        assert_output_shape(op, response)


def test_shape_checker_accepts_a_fitting_response():
    now = datetime.now(UTC)
    assert_output_shape(
        "ListDatasetGroups",
        {
            "datasetGroups": [
                {
                    "name": "x",
                    "datasetGroupArn": PREFIX + "dataset-group/x",
                    "status": "ACTIVE",
                    "creationDateTime": now,
                    "lastUpdatedDateTime": now,
                    "domain": "ECOMMERCE",
                }
            ],
            "nextToken": "abc",
        },
    )
    assert_output_shape("DeleteDatasetGroup", {})

"""`engine.operations`: request validation against botocore's model, `@operation`, pagination.

Covers `validate_input` on top-level and nested members (structures, lists, maps, strings,
numbers, booleans, timestamps; required members and unknown keys), the `@operation`
decorator (None arguments dropped, validation before the method runs, every Engine
operation matching its botocore input shape), and pagination tokens and pages.
"""

from __future__ import annotations

import base64
import inspect
import json
from datetime import UTC, datetime

import botocore.session
import pytest
import regex
from botocore import xform_name

from engine import Engine
from engine import operations as ops
from engine.errors import InvalidInputException, InvalidNextTokenException
from engine.operations import (
    decode_next_token,
    encode_next_token,
    operation,
    operation_model,
    paginate,
    service_model,
    validate_input,
)

ARN = "arn:aws:personalize:us-east-1:000000000000:dataset-group/shop"


@pytest.fixture
def engine(tmp_path):
    """An Engine on a fresh data directory, closed afterwards."""
    eng = Engine(tmp_path / "data")
    yield eng
    eng.close()


def invalid(op_name: str, params: dict, service: str = "personalize") -> str:
    """The message of the InvalidInputException `validate_input` raises."""
    with pytest.raises(InvalidInputException) as info:
        validate_input(op_name, params, service)
    return str(info.value)


# ------------------------------------------------------------------------------ service model


@pytest.mark.parametrize(
    ("service", "op_name"),
    [
        ("personalize", "CreateDatasetGroup"),
        ("personalize-runtime", "GetRecommendations"),
        ("personalize-events", "PutEvents"),
    ],
)
def test_service_models_come_from_botocore(service, op_name):
    expected = botocore.session.get_session().get_service_model(service)
    assert service_model(service).service_name == expected.service_name
    assert operation_model(op_name, service).name == op_name
    assert service_model(service) is service_model(service)


# ------------------------------------------------------------------------------ validate_input


@pytest.mark.parametrize(
    ("op_name", "params"),
    [
        ("CreateDatasetGroup", {"name": "shop"}),
        (
            "CreateDatasetGroup",
            {
                "name": "shop",
                "domain": "ECOMMERCE",
                "tags": [
                    {"tagKey": "team", "tagValue": "a b:c/d=e+f-g@h.i_j"},
                    {"tagKey": "ñandú", "tagValue": ""},
                ],
            },
        ),
        ("CreateDatasetGroup", {"name": "shop", "tags": []}),
        ("ListDatasetGroups", {}),
        ("ListDatasetGroups", {"maxResults": 1, "nextToken": "abc"}),
        ("ListDatasetGroups", {"maxResults": 100}),
        (
            "CreateDatasetImportJob",
            {"jobName": "j", "datasetArn": ARN, "dataSource": {"dataLocation": "/tmp/data.csv"}},
        ),
        (
            "CreateDatasetImportJob",
            {
                "jobName": "j",
                "datasetArn": ARN,
                "dataSource": {"dataLocation": "file:///tmp/a b.csv"},
            },
        ),
    ],
)
def test_valid_parameters_pass(op_name, params):
    assert validate_input(op_name, params) is None


@pytest.mark.parametrize(
    ("op_name", "params", "expected"),
    [
        ("CreateDatasetGroup", {}, "name is required"),
        ("CreateDatasetGroup", {"name": None}, "name is required"),
        ("CreateSchema", {"name": "s"}, "schema is required"),
        (
            "CreateDataset",
            {"name": "d", "schemaArn": ARN, "datasetGroupArn": ARN},
            "datasetType is required",
        ),
        ("DescribeDatasetGroup", {}, "datasetGroupArn is required"),
    ],
)
def test_required_members(op_name, params, expected):
    assert expected in invalid(op_name, params)


def test_unknown_top_level_parameter_lists_the_known_ones():
    message = invalid("CreateDatasetGroup", {"name": "shop", "nmae": "x"})
    assert "nmae is not a parameter here" in message
    assert "known: name, roleArn, kmsKeyArn, domain, tags" in message


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (
            [{"tagKey": "bad!key", "tagValue": "v"}],
            ["tags[0].tagKey", "'bad!key'", "does not match the pattern"],
        ),
        (
            [{"tagKey": "ok", "tagValue": "v"}, {"tagKey": "semi;colon", "tagValue": "v"}],
            ["tags[1].tagKey", "'semi;colon'", "pattern"],
        ),
        ([{"tagKey": "ok", "tagValue": "bad#value"}], ["tags[0].tagValue", "'bad#value'"]),
        ([{"tagKey": "", "tagValue": "v"}], ["tags[0].tagKey", "at least 1 characters"]),
        ([{"tagKey": "k" * 129, "tagValue": "v"}], ["tags[0].tagKey", "at most 128 characters"]),
        ([{"tagKey": "k", "tagValue": "v" * 257}], ["tags[0].tagValue", "at most 256 characters"]),
        ([{"tagKey": "k"}], ["tags[0].tagValue is required"]),
        ([{"tagValue": "v"}], ["tags[0].tagKey is required"]),
        (
            [{"tagKey": "k", "tagValue": "v", "color": "red"}],
            ["tags[0].color is not a parameter here", "known: tagKey, tagValue"],
        ),
        (["team=growth"], ["tags[0]: expected an object", "'team=growth'"]),
        ([{"tagKey": 1, "tagValue": "v"}], ["tags[0].tagKey", "must be a string"]),
        ({"tagKey": "k", "tagValue": "v"}, ["tags: expected a list"]),
        ([{"tagKey": "k", "tagValue": "v"}] * 201, ["tags: must have at most 200 items, has 201"]),
    ],
)
def test_nested_tags(tags, expected):
    message = invalid("CreateDatasetGroup", {"name": "shop", "tags": tags})
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    ("data_source", "expected"),
    [
        ("s3://bucket/key", "dataSource: expected an object"),
        ({}, "dataSource.dataLocation"),
        ({"dataLocation": 5}, "dataSource.dataLocation: value 5 must be a string"),
        ({"dataLocation": "x", "bucket": "b"}, "dataSource.bucket is not a parameter here"),
    ],
)
def test_nested_structure(data_source, expected):
    params = {"jobName": "j", "datasetArn": ARN, "dataSource": data_source}
    try:
        validate_input("CreateDatasetImportJob", params)
    except InvalidInputException as exc:
        assert expected in str(exc)
    else:
        assert data_source == {}, "only an empty dataSource may pass (dataLocation is optional)"


def test_data_location_pattern_is_overridden_for_local_paths():
    shape = operation_model("CreateDatasetImportJob").input_shape
    location = shape.members["dataSource"].members["dataLocation"]
    assert "pattern" in location.metadata, "botocore no longer has a pattern to override"
    assert not regex.fullmatch(location.metadata["pattern"], "/tmp/data.csv")
    assert ops.PATTERN_OVERRIDES["dataLocation"] is None


HPO_PATH = "solutionConfig.hpoConfig.algorithmHyperParameterRanges.continuousHyperParameterRanges"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"solutionConfig": {"algorithmHyperParameters": {"hidden_dimension": 55}}},
            "algorithmHyperParameters['hidden_dimension']: value 55 must be a string",
        ),
        (
            {"solutionConfig": {"algorithmHyperParameters": ["a"]}},
            "solutionConfig.algorithmHyperParameters: expected a map",
        ),
        ({"performHPO": "yes"}, "performHPO: value 'yes' must be true or false"),
        ({"performHPO": 1}, "performHPO: value 1 must be true or false"),
        (
            {
                "solutionConfig": {
                    "hpoConfig": {
                        "algorithmHyperParameterRanges": {
                            "continuousHyperParameterRanges": [{"name": "lr", "minValue": "0.1"}]
                        }
                    }
                }
            },
            f"{HPO_PATH}[0].minValue: value '0.1' must be a number",
        ),
        (
            {
                "solutionConfig": {
                    "hpoConfig": {
                        "algorithmHyperParameterRanges": {
                            "continuousHyperParameterRanges": [{"name": "lr", "minValue": -2e6}]
                        }
                    }
                }
            },
            f"{HPO_PATH}[0].minValue: value -2000000.0 is below the minimum -1000000",
        ),
    ],
)
def test_maps_booleans_and_doubles(params, expected):
    base = {"name": "sol", "datasetGroupArn": ARN}
    assert expected in invalid("CreateSolution", {**base, **params})


def test_maps_booleans_and_doubles_accept_good_values():
    validate_input(
        "CreateSolution",
        {
            "name": "sol",
            "datasetGroupArn": ARN,
            "performHPO": False,
            "solutionConfig": {
                "algorithmHyperParameters": {"hidden_dimension": "55"},
                "hpoConfig": {
                    "algorithmHyperParameterRanges": {
                        "continuousHyperParameterRanges": [
                            {"name": "lr", "minValue": 0, "maxValue": 0.5}
                        ]
                    }
                },
            },
        },
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (3, True),
        (0, True),
        ("3", False),
        (3.0, False),
        (True, False),
        (None, True),
    ],
)
def test_integers(value, ok):
    params = {"numResults": value, "campaignArn": ARN}
    if ok:
        validate_input("GetRecommendations", params, "personalize-runtime")
    else:
        message = invalid("GetRecommendations", params, "personalize-runtime")
        assert f"numResults: value {value!r} must be an integer" in message


def test_integer_range():
    message = invalid("GetRecommendations", {"numResults": -1}, "personalize-runtime")
    assert "numResults: value -1 is below the minimum 0" in message


def _events(**event: object) -> dict:
    return {"trackingId": "t", "sessionId": "s", "eventList": [event]}


@pytest.mark.parametrize("sent_at", [datetime.now(UTC), 1_700_000_000, 1_700_000_000.5])
def test_timestamps_accept_datetimes_and_epochs(sent_at):
    validate_input("PutEvents", _events(eventType="click", sentAt=sent_at), "personalize-events")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            _events(eventType="click", sentAt="2024-01-01"),
            "eventList[0].sentAt: value '2024-01-01' must be a timestamp",
        ),
        (_events(eventType="click"), "eventList[0].sentAt is required"),
        (
            _events(eventType="click", sentAt=1, eventValue="1.5"),
            "eventList[0].eventValue: value '1.5' must be a number",
        ),
        (
            {"trackingId": "t", "sessionId": "s", "eventList": []},
            "eventList: must have at least 1 items, has 0",
        ),
    ],
)
def test_events_service(params, expected):
    assert expected in invalid("PutEvents", params, "personalize-events")


def test_parameters_must_be_an_object():
    assert "expected an object" in invalid("CreateDatasetGroup", ["name"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- @operation


class Recorder:
    """A stand-in for an Engine family: records what its decorated method received."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    @operation("CreateDatasetGroup")
    def create_dataset_group(
        self, *, name: str, domain: str = "unset", tags: object = "unset"
    ) -> dict:
        """Create a dataset group."""
        self.calls.append({"name": name, "domain": domain, "tags": tags})
        return {"ok": True}


def test_operation_drops_none_arguments():
    recorder = Recorder()
    assert recorder.create_dataset_group(name="shop", domain=None, tags=None) == {"ok": True}
    assert recorder.calls == [{"name": "shop", "domain": "unset", "tags": "unset"}]


def test_operation_validates_without_the_none_arguments(monkeypatch):
    seen = []
    monkeypatch.setattr(ops, "validate_input", lambda *args: seen.append(args))
    Recorder().create_dataset_group(name="shop", domain=None, tags=[])
    assert seen == [("CreateDatasetGroup", {"name": "shop", "tags": []}, "personalize")]


def test_operation_validates_before_calling():
    recorder = Recorder()
    with pytest.raises(InvalidInputException) as info:
        recorder.create_dataset_group(name="shop", domain="RETAIL")
    assert "domain" in str(info.value)
    assert recorder.calls == []


def test_operation_passes_given_values_through():
    recorder = Recorder()
    tags = [{"tagKey": "k", "tagValue": "v"}]
    recorder.create_dataset_group(name="shop", domain="ECOMMERCE", tags=tags)
    assert recorder.calls == [{"name": "shop", "domain": "ECOMMERCE", "tags": tags}]


def test_operation_keeps_name_doc_and_records_operation_name():
    method = Recorder.create_dataset_group
    assert method.__name__ == "create_dataset_group"
    assert method.__doc__ == "Create a dataset group."
    assert method.operation_name == "CreateDatasetGroup"


def _engine_operations() -> list[tuple[str, object]]:
    found = []
    for attr in dir(Engine):
        method = getattr(Engine, attr)
        if callable(method) and hasattr(method, "operation_name"):
            found.append((attr, method))
    return found


def test_engine_has_the_catalog_operations():
    names = {name for name, _ in _engine_operations()}
    expected = {
        f"{verb}_{noun}"
        for verb in ("create", "describe", "delete")
        for noun in ("dataset_group", "schema", "dataset")
    } | {"list_dataset_groups", "list_schemas", "list_datasets"}
    assert expected <= names


@pytest.mark.parametrize(
    ("attr", "method"), _engine_operations(), ids=[name for name, _ in _engine_operations()]
)
def test_engine_operations_match_their_input_shapes(attr, method):
    op_name = method.operation_name
    assert xform_name(op_name) == attr
    shape = operation_model(op_name, method.service).input_shape
    members = set(shape.members) if shape else set()
    params = inspect.signature(method.__wrapped__).parameters
    keywords = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    # The HTTP layer passes request bodies straight through: every member must be accepted.
    assert keywords == members, f"{attr} and botocore's {op_name} disagree on parameters"
    required = {n for n in keywords if params[n].default is inspect.Parameter.empty}
    assert required <= set(shape.required_members if shape else [])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "name is required"),
        ({"name": None}, "name is required"),
        ({"name": "shop", "nmae": "x"}, "nmae is not a parameter here"),
    ],
    ids=["missing-required", "none-required", "unknown-parameter"],
)
def test_engine_call_with_missing_or_unknown_parameter_is_invalid_input(engine, kwargs, expected):
    with pytest.raises(InvalidInputException) as info:
        engine.create_dataset_group(**kwargs)
    assert expected in str(info.value)
    assert engine.list_dataset_groups()["datasetGroups"] == []


def test_operation_rejects_unknown_arguments_before_calling():
    recorder = Recorder()
    with pytest.raises(InvalidInputException) as info:
        recorder.create_dataset_group(name="shop", colour="red")
    assert "colour is not a parameter here" in str(info.value)
    assert recorder.calls == []


# ------------------------------------------------------------------------ pagination tokens


@pytest.mark.parametrize("offset", [0, 1, 2, 100, 10**9])
@pytest.mark.parametrize("listing", ["ListDatasetGroups", "ListSchemas", "ListDatasets"])
def test_token_round_trip(listing, offset):
    token = encode_next_token(listing, offset)
    assert decode_next_token(listing, token) == offset


def test_token_is_a_valid_next_token():
    token = encode_next_token("ListDatasetGroups", 10**9)
    meta = service_model().shape_for("NextToken").metadata
    assert len(token) <= meta["max"]
    assert regex.fullmatch(meta["pattern"], token)
    assert regex.fullmatch(r"[A-Za-z0-9_=-]+", token), "not URL-safe"


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_starts_at_zero(token):
    assert decode_next_token("ListSchemas", token) == 0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a",
        "ü",
        "%%%%",
        _b64(b"not json"),
        _b64(b"\xff\xfe"),
        _b64(b"[1, 2]"),
        _b64(b'"ListSchemas"'),
        _b64(b"7"),
        _b64(b"null"),
        _b64(json.dumps({"l": "ListSchemas"}).encode()),
        _b64(json.dumps({"o": 2}).encode()),
        _b64(json.dumps({"l": "ListSchemas", "o": -1}).encode()),
        _b64(json.dumps({"l": "ListSchemas", "o": "2"}).encode()),
        _b64(json.dumps({"l": "ListSchemas", "o": 1.5}).encode()),
        _b64(json.dumps({"l": "ListSchemas", "o": None}).encode()),
        encode_next_token("ListDatasetGroups", 2),
        encode_next_token("listschemas", 2),
    ],
)
def test_garbage_tokens_are_rejected(token):
    with pytest.raises(InvalidNextTokenException) as info:
        decode_next_token("ListSchemas", token)
    assert repr(token) in str(info.value)
    assert "ListSchemas" in str(info.value)
    assert info.value.status == 400


@pytest.mark.parametrize(
    "token",
    [
        _b64(json.dumps({"l": "ListSchemas", "o": True}).encode()),
        encode_next_token("ListSchemas", 5) + "!!",
    ],
    ids=["bool-offset", "trailing-junk"],
)
def test_tokens_never_issued_are_rejected(token):
    with pytest.raises(InvalidNextTokenException):
        decode_next_token("ListSchemas", token)


# ------------------------------------------------------------------------------------ paginate


def test_paginate_walks_rows_in_pages():
    rows = list(range(7))
    pages, token = [], None
    while True:
        page = paginate("L", rows, "items", token, 3)
        pages.append(page["items"])
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.parametrize(
    ("count", "size", "has_token"),
    [
        (0, 3, False),
        (3, 3, False),
        (4, 3, True),
        (100, None, False),
        (101, None, True),
    ],
)
def test_paginate_next_token_only_when_rows_remain(count, size, has_token):
    page = paginate("L", list(range(count)), "items", None, size)
    assert page["items"] == list(range(count))[: size or 100]
    assert ("nextToken" in page) is has_token


def test_paginate_rejects_a_token_of_another_listing():
    token = paginate("A", list(range(5)), "items", None, 2)["nextToken"]
    with pytest.raises(InvalidNextTokenException):
        paginate("B", list(range(5)), "items", token, 2)


def test_paginate_past_the_end_is_an_empty_last_page():
    page = paginate("L", [1, 2], "items", encode_next_token("L", 10), 2)
    assert page == {"items": []}

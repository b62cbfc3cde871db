"""Tags: TagResource, UntagResource, ListTagsForResource on every kind of resource, tags given
at creation, Personalize's limits (50 per resource, reserved `aws:`), and boto3 over the wire."""

from __future__ import annotations

import json

import boto3
import pytest

from engine import Engine, InvalidInputException, ResourceNotFoundException
from engine.errors import TooManyTagKeysException, TooManyTagsException
from tests.helpers import (
    CLIENT_CREDENTIALS,
    HEADER,
    INTERACTIONS_SCHEMA,
    interaction_rows,
    write_csv,
)
from tests.shapes import assert_output_shape
from tests.test_server import free_port, start, stop, wait_until_up

PREFIX = "arn:aws:personalize:us-east-1:000000000000:"


def tags(**pairs: str) -> list[dict[str, str]]:
    """`tags(team="growth")` -> `[{"tagKey": "team", "tagValue": "growth"}]`."""
    return [{"tagKey": k, "tagValue": v} for k, v in pairs.items()]


def listed(engine: Engine, arn: str) -> dict[str, str]:
    """The resource's tags as a dict, after checking the response's shape."""
    response = engine.list_tags_for_resource(resourceArn=arn)
    assert_output_shape("ListTagsForResource", response)
    return {t["tagKey"]: t["tagValue"] for t in response["tags"]}


def test_tag_list_and_untag_a_dataset_group(engine, group):
    assert listed(engine, group) == {}
    response = engine.tag_resource(resourceArn=group, tags=tags(team="growth", env="prod"))
    assert_output_shape("TagResource", response)
    assert listed(engine, group) == {"team": "growth", "env": "prod"}
    engine.tag_resource(resourceArn=group, tags=tags(env="test", owner="ana"))
    assert listed(engine, group) == {"team": "growth", "env": "test", "owner": "ana"}
    response = engine.untag_resource(resourceArn=group, tagKeys=["env", "not-there"])
    assert_output_shape("UntagResource", response)
    assert listed(engine, group) == {"team": "growth", "owner": "ana"}
    assert [t["tagKey"] for t in engine.list_tags_for_resource(resourceArn=group)["tags"]] == [
        "owner",
        "team",
    ]


def test_tags_given_at_creation_are_listed(engine, tmp_path):
    group = engine.create_dataset_group(name="shop", tags=tags(team="growth"))["datasetGroupArn"]
    schema = engine.create_schema(name="s", schema=json.dumps(INTERACTIONS_SCHEMA))["schemaArn"]
    dataset = engine.create_dataset(
        name="i",
        schemaArn=schema,
        datasetGroupArn=group,
        datasetType="Interactions",
        tags=tags(kind="events"),
    )["datasetArn"]
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(20))
    job = engine.create_dataset_import_job(
        jobName="in",
        datasetArn=dataset,
        dataSource={"dataLocation": str(path)},
        tags=tags(batch="first"),
    )["datasetImportJobArn"]
    engine.wait_for(job)
    assert listed(engine, group) == {"team": "growth"}
    assert listed(engine, dataset) == {"kind": "events"}
    assert listed(engine, job) == {"batch": "first"}
    assert listed(engine, schema) == {}


def test_a_deleted_resource_loses_its_tags(engine, group):
    engine.tag_resource(resourceArn=group, tags=tags(team="growth"))
    engine.delete_dataset_group(datasetGroupArn=group)
    with pytest.raises(ResourceNotFoundException):
        engine.list_tags_for_resource(resourceArn=group)
    again = engine.create_dataset_group(name="shop")["datasetGroupArn"]
    assert again == group and listed(engine, again) == {}


def test_unknown_resource_is_not_found_naming_the_arn(engine):
    missing = f"{PREFIX}campaign/nowhere"
    for call in (
        lambda: engine.tag_resource(resourceArn=missing, tags=tags(a="b")),
        lambda: engine.untag_resource(resourceArn=missing, tagKeys=["a"]),
        lambda: engine.list_tags_for_resource(resourceArn=missing),
    ):
        with pytest.raises(ResourceNotFoundException) as caught:
            call()
        assert missing in str(caught.value)


def test_at_most_50_tags_per_resource(engine, group):
    engine.tag_resource(resourceArn=group, tags=[_tag(i) for i in range(45)])
    engine.tag_resource(resourceArn=group, tags=[_tag(i) for i in range(40, 50)])  # 5 replace
    assert len(listed(engine, group)) == 50
    with pytest.raises(TooManyTagsException) as caught:
        engine.tag_resource(resourceArn=group, tags=[_tag(50), _tag(0)])
    assert "51 tags" in str(caught.value) and "at most 50" in str(caught.value)
    assert len(listed(engine, group)) == 50  # nothing of the refused request landed
    with pytest.raises(TooManyTagsException):
        engine.create_dataset_group(name="crowded", tags=[_tag(i) for i in range(51)])
    assert [g["name"] for g in engine.list_dataset_groups()["datasetGroups"]] == ["shop"]


@pytest.mark.parametrize(
    ("given", "where"),
    [
        (tags(team="growth", **{"aws:owner": "me"}), "tags[1].tagKey 'aws:owner'"),
        (tags(team="AWS:managed"), "tags[0].tagValue 'AWS:managed'"),
    ],
)
def test_reserved_aws_prefix_is_refused(engine, group, given, where):
    with pytest.raises(InvalidInputException) as caught:
        engine.tag_resource(resourceArn=group, tags=given)
    assert where in str(caught.value) and "reserved" in str(caught.value)
    assert listed(engine, group) == {}
    with pytest.raises(InvalidInputException) as caught:
        engine.untag_resource(resourceArn=group, tagKeys=["team", "aws:owner"])
    assert "tagKeys[1] 'aws:owner'" in str(caught.value)


def test_untag_takes_at_most_50_keys(engine, group):
    engine.tag_resource(resourceArn=group, tags=tags(team="growth"))
    with pytest.raises(TooManyTagKeysException) as caught:
        engine.untag_resource(resourceArn=group, tagKeys=[f"k{i}" for i in range(51)])
    assert "51 keys" in str(caught.value)
    assert listed(engine, group) == {"team": "growth"}


def test_request_validation_names_the_field(engine, group):
    with pytest.raises(InvalidInputException) as caught:
        engine.tag_resource(resourceArn=group, tags=[{"tagKey": "bad!key", "tagValue": "v"}])
    assert "tags[0].tagKey" in str(caught.value)
    with pytest.raises(InvalidInputException) as caught:
        engine.untag_resource(resourceArn="not-an-arn", tagKeys=["a"])
    assert "resourceArn" in str(caught.value)


def test_boto3_tags_a_resource_over_the_wire(tmp_path):
    port = free_port()
    proc = start("api", tmp_path / "served", port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        client = boto3.client(
            "personalize",
            endpoint_url=f"http://127.0.0.1:{port}/api",
            region_name="us-east-1",
            **CLIENT_CREDENTIALS,
        )
        group = client.create_dataset_group(name="wire", tags=tags(team="growth"))[
            "datasetGroupArn"
        ]
        client.tag_resource(resourceArn=group, tags=tags(env="prod", owner="ana"))
        got = client.list_tags_for_resource(resourceArn=group)["tags"]
        assert got == tags(env="prod", owner="ana", team="growth")
        client.untag_resource(resourceArn=group, tagKeys=["env"])
        got = client.list_tags_for_resource(resourceArn=group)["tags"]
        assert got == tags(owner="ana", team="growth")
        with pytest.raises(client.exceptions.TooManyTagsException):
            client.tag_resource(resourceArn=group, tags=[_tag(i) for i in range(49)])
        with pytest.raises(client.exceptions.TooManyTagKeysException):
            client.untag_resource(resourceArn=group, tagKeys=[f"k{i}" for i in range(51)])
        with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
            client.list_tags_for_resource(resourceArn=f"{PREFIX}dataset-group/none")
        assert "dataset-group/none" in caught.value.response["Error"]["Message"]
    finally:
        stop(proc)


def _tag(i: int) -> dict[str, str]:
    return {"tagKey": f"k{i:02d}", "tagValue": f"v{i}"}

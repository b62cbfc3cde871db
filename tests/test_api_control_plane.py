"""The control plane over HTTP with real AWS clients: boto3 and the AWS CLI (issue 2's
operations on the JSON 1.1 protocol; the rest of the wire API comes with issue 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.helpers import (
    CLIENT_CREDENTIALS,
    HEADER,
    INTERACTIONS_SCHEMA,
    TEST_KEY_ID,
    TEST_SECRET,
    interaction_rows,
    write_csv,
)
from tests.test_server import free_port, start, stop, wait_until_up

AWS = str(Path(sys.executable).parent / "aws")
CREDENTIALS = CLIENT_CREDENTIALS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("api") / "d"
    port = free_port()
    proc = start("api", data_dir, port)
    wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
    yield f"http://127.0.0.1:{port}/api", data_dir
    stop(proc)


@pytest.fixture(scope="module")
def client(server):
    return boto3.client(
        "personalize", endpoint_url=server[0], region_name="us-east-1", **CREDENTIALS
    )


def test_boto3_creates_and_describes_a_dataset_group(client):
    arn = client.create_dataset_group(name="wire")["datasetGroupArn"]
    assert arn == "arn:aws:personalize:us-east-1:000000000000:dataset-group/wire"
    group = client.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert group["status"] == "ACTIVE"
    assert group["creationDateTime"].year >= 2025  # parsed by botocore as a timestamp
    assert arn in [g["datasetGroupArn"] for g in client.list_dataset_groups()["datasetGroups"]]


def test_boto3_raises_the_modelled_exceptions(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_schema(schemaArn="arn:aws:personalize:us-east-1:000000000000:schema/no")
    client.create_dataset_group(name="twice")
    with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
        client.create_dataset_group(name="twice")
    with pytest.raises(client.exceptions.InvalidInputException) as caught:
        client.create_schema(name="broken", schema='{"type": "record", "name": "X", "fields": 1}')
    assert "fields" in caught.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_schemas(nextToken="forged")


def test_unsupported_operations_answer_a_clear_error(client):
    with pytest.raises(ClientError) as caught:
        client.list_recommenders()
    error = caught.value.response["Error"]
    assert error["Code"] == "UnsupportedOperationException"
    assert "ListRecommenders" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_boto3_import_from_the_embedded_s3_store(client, server):
    _, data_dir = server
    bucket = data_dir / "s3" / "shop-data"
    write_csv(bucket / "interactions.csv", HEADER, interaction_rows(1500, users=40))
    group = client.create_dataset_group(name="imports")["datasetGroupArn"]
    schema = client.create_schema(name="imports-i", schema=json.dumps(INTERACTIONS_SCHEMA))
    dataset = client.create_dataset(
        name="i", schemaArn=schema["schemaArn"], datasetGroupArn=group, datasetType="Interactions"
    )
    job_arn = client.create_dataset_import_job(
        jobName="wire-import",
        datasetArn=dataset["datasetArn"],
        dataSource={"dataLocation": "s3://shop-data/interactions.csv"},
        roleArn="arn:aws:iam::000000000000:role/personalize",
    )["datasetImportJobArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.describe_dataset_import_job(datasetImportJobArn=job_arn)["datasetImportJob"]
        if job["status"] in ("ACTIVE", "CREATE FAILED"):
            break
        time.sleep(0.2)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["roleArn"] == "arn:aws:iam::000000000000:role/personalize"
    listed = client.list_dataset_import_jobs(datasetArn=dataset["datasetArn"])
    assert listed["datasetImportJobs"][0]["jobName"] == "wire-import"


def signed_post(url: str, body: bytes, target: str, secret: str = TEST_SECRET):
    """POST a JSON 1.1 request signed with SigV4 by botocore, as an SDK would."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        "POST",
        url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(TEST_KEY_ID, secret), "personalize", "us-east-1").add_auth(request)
    return httpx.post(url, content=body, headers=dict(request.headers.items()))


def test_malformed_requests_get_aws_errors(server):
    url = server[0]
    bad_json = signed_post(url, b"{nope", "AmazonPersonalize.ListSchemas")
    assert bad_json.status_code == 400
    assert bad_json.json()["__type"] == "SerializationException"
    unknown = signed_post(url, b"{}", "AmazonPersonalize.Explode")
    assert unknown.json()["__type"] == "UnknownOperationException"
    extra = signed_post(url, b'{"colour": "red"}', "AmazonPersonalize.ListSchemas")
    assert extra.json()["__type"] == "InvalidInputException"
    assert "colour" in extra.json()["message"]


def test_unsigned_and_wrongly_signed_requests_are_refused(server, client):
    import httpx

    url = server[0]
    unsigned = httpx.post(
        url,
        content=b"{}",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonPersonalize.ListSchemas",
        },
    )
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    wrong = signed_post(url, b"{}", "AmazonPersonalize.ListSchemas", secret="not-the-secret")
    assert wrong.status_code == 403
    assert wrong.json()["__type"] == "InvalidSignatureException"
    stranger = boto3.client(
        "personalize",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIAUNKNOWN000000000",
        aws_secret_access_key="x",
    )
    with pytest.raises(ClientError) as caught:
        stranger.list_schemas()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert httpx.get(url + "/health").status_code == 200  # health needs no signature


def test_aws_cli_talks_to_tailor(server):
    url, _ = server
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": TEST_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    created = subprocess.run(
        [AWS, "personalize", "create-dataset-group", "--name", "from-cli", "--endpoint-url", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["datasetGroupArn"].endswith("dataset-group/from-cli")
    listed = subprocess.run(
        [AWS, "personalize", "list-dataset-groups", "--endpoint-url", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "from-cli" in listed.stdout
    missing = subprocess.run(
        [
            AWS,
            "personalize",
            "describe-dataset",
            "--endpoint-url",
            url,
            "--dataset-arn",
            "arn:aws:personalize:us-east-1:000000000000:dataset/none/ITEMS",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_boto3_trains_a_solution_and_reads_its_metrics(client, server):
    _, data_dir = server
    bucket = data_dir / "s3" / "training"
    rng = np.random.default_rng(3)  # popular items are popular for everyone: popularity scores
    items = np.minimum(rng.zipf(1.6, 3000), 80)
    rows = [
        [f"u{rng.integers(60)}", f"i{item}", 1_700_000_000 + n * 60, "view", "", ""]
        for n, item in enumerate(items)
    ]
    write_csv(bucket / "interactions.csv", HEADER, rows)
    group = client.create_dataset_group(name="training")["datasetGroupArn"]
    schema = client.create_schema(name="training-i", schema=json.dumps(INTERACTIONS_SCHEMA))
    dataset = client.create_dataset(
        name="t", schemaArn=schema["schemaArn"], datasetGroupArn=group, datasetType="Interactions"
    )
    job = client.create_dataset_import_job(
        jobName="training-import",
        datasetArn=dataset["datasetArn"],
        dataSource={"dataLocation": "s3://training/interactions.csv"},
    )["datasetImportJobArn"]
    wait_status(
        lambda: client.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    )
    recipes = {r["recipeArn"] for r in client.list_recipes()["recipes"]}
    assert "arn:aws:personalize:::recipe/aws-popularity-count" in recipes
    solution = client.create_solution(
        name="wire-popular",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
    )["solutionArn"]
    version = client.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    described = wait_status(
        lambda: client.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    )
    assert described["status"] == "ACTIVE", described.get("failureReason")
    metrics = client.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert 0 < metrics["normalized_discounted_cumulative_gain_at_10"] <= 1
    with pytest.raises(client.exceptions.InvalidInputException, match="recipeArn"):
        client.create_solution(name="no-recipe", datasetGroupArn=group)


def wait_status(describe, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = describe()
        if found["status"] in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED"):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.2)

"""personalize-events over HTTP with boto3's own clients against a real `tailor api` process:
events change the next recommendation, errors come back as boto3's exception classes, an
acknowledged event survives `kill -9`, and keys are limited to their role."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from engine import Engine
from engine.sample_data import load_sample
from tests.helpers import CLIENT_CREDENTIALS, TEST_KEY_ENV
from tests.test_server import free_port, start, stop, wait_until_up
from tests.test_serving import EASE, deploy

pytestmark = pytest.mark.slow
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def client(service: str, port: int, **credentials):
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}/api",
        region_name="us-east-1",
        **(credentials or CLIENT_CREDENTIALS),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("events-http") / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        campaign = deploy(engine, group, "ease", EASE)
        tracking_id = engine.create_event_tracker(name="web", datasetGroupArn=group)["trackingId"]
        items = next(
            d["datasetArn"]
            for d in engine.list_datasets(datasetGroupArn=group)["datasets"]
            if d["datasetType"] == "ITEMS"
        )
    port = free_port()
    proc = start("api", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        yield {
            "port": port,
            "proc": proc,
            "data_dir": data_dir,
            "campaign": campaign,
            "tracking_id": tracking_id,
            "items": items,
            "group": group,
        }
    finally:
        if proc.poll() is None:
            stop(proc)


def test_put_events_over_the_wire_changes_the_next_answer(server):
    events = client("personalize-events", server["port"])
    runtime = client("personalize-runtime", server["port"])
    user = "u00200"
    first = runtime.get_recommendations(campaignArn=server["campaign"], userId=user, numResults=5)
    top = first["itemList"][0]["itemId"]
    answer = events.put_events(
        trackingId=server["tracking_id"],
        userId=user,
        sessionId="web-1",
        eventList=[
            {
                "eventId": "wire-1",
                "eventType": "view",
                "itemId": top,
                "sentAt": NOW,
                "properties": json.dumps({"device": "mobile"}),
                "recommendationId": first["recommendationId"],
            }
        ],
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    second = runtime.get_recommendations(campaignArn=server["campaign"], userId=user, numResults=5)
    assert top not in {i["itemId"] for i in second["itemList"]}


def test_events_errors_are_aws_errors(server):
    events = client("personalize-events", server["port"])
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_events(
            trackingId="not-a-tracker",
            sessionId="s",
            eventList=[{"eventType": "view", "itemId": "i0001", "sentAt": NOW}],
        )
    with pytest.raises(events.exceptions.InvalidInputException, match="colour"):
        events.put_events(
            trackingId=server["tracking_id"],
            sessionId="s",
            eventList=[
                {
                    "eventType": "view",
                    "itemId": "i0001",
                    "sentAt": NOW,
                    "properties": json.dumps({"colour": "red"}),
                }
            ],
        )
    with pytest.raises(events.exceptions.InvalidInputException, match="SUB_CATEGORY"):
        events.put_items(
            datasetArn=server["items"],
            items=[{"itemId": "x", "properties": json.dumps({"category": "books"})}],
        )
    # botocore checks limits itself; a raw request past them still gets AWS's error shape.
    url = f"http://127.0.0.1:{server['port']}/api/events"
    body = {
        "trackingId": server["tracking_id"],
        "sessionId": "s",
        "eventList": [{"eventType": "view", "itemId": "i1", "sentAt": 1} for _ in range(11)],
    }
    raw = signed("personalize", url, json.dumps(body).encode())
    assert raw.status_code == 400
    assert raw.headers["x-amzn-ErrorType"] == "InvalidInputException"
    assert "eventList" in raw.json()["message"]


def signed(service: str, url: str, body: bytes, key_id: str | None = None, secret=None):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    credentials = Credentials(
        key_id or CLIENT_CREDENTIALS["aws_access_key_id"],
        secret or CLIENT_CREDENTIALS["aws_secret_access_key"],
    )
    SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    return httpx.post(url, content=body, headers=dict(request.headers.items()))


def test_an_events_key_may_send_events_but_not_read_recommendations(server):
    made = subprocess.run(
        [
            str(Path(sys.executable).parent / "tailor"),
            "keys",
            "create",
            "--name",
            "web-tracker",
            "--role",
            "events",
            "--data-dir",
            str(server["data_dir"]),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **TEST_KEY_ENV},
    )
    assert made.returncode == 0, made.stderr
    credentials = dict(
        (part.strip() for part in line.split("=", 1))
        for line in made.stdout.splitlines()
        if line.startswith("aws_")
    )
    events = client("personalize-events", server["port"], **credentials)
    events.put_events(
        trackingId=server["tracking_id"],
        userId="u00300",
        sessionId="k",
        eventList=[{"eventType": "view", "itemId": "i0002", "sentAt": NOW}],
    )
    runtime = client("personalize-runtime", server["port"], **credentials)
    with pytest.raises(ClientError) as denied:
        runtime.get_recommendations(campaignArn=server["campaign"], userId="u00300")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_openapi_documents_the_runtime_and_events_routes(server):
    document = httpx.get(f"http://127.0.0.1:{server['port']}/api/openapi.json").json()
    for path, model in [
        ("/recommendations", "GetRecommendationsRequest"),
        ("/personalize-ranking", "GetPersonalizedRankingRequest"),
        ("/events", "PutEventsRequest"),
        ("/items", "PutItemsRequest"),
        ("/users", "PutUsersRequest"),
    ]:
        assert "post" in document["paths"][path], path
        assert model in document["components"]["schemas"], model
    event = document["components"]["schemas"]["Event"]
    assert {"eventType", "sentAt"} <= set(event["required"])

def test_an_acknowledged_event_survives_kill_9(server):
    events = client("personalize-events", server["port"])
    for k in range(20):
        events.put_events(
            trackingId=server["tracking_id"],
            userId="u00400",
            sessionId="crash",
            eventList=[
                {"eventId": f"crash-{k}", "eventType": "view", "itemId": "i0100", "sentAt": NOW}
            ],
        )
    server["proc"].send_signal(signal.SIGKILL)
    server["proc"].wait(10)
    with Engine(server["data_dir"]) as engine:
        dataset = next(
            d for d in engine.catalog.list("dataset") if d.spec["datasetType"] == "INTERACTIONS"
        )
        with engine.store.cursor() as cur:
            count = cur.execute(
                f"SELECT count(*) FROM ds_{dataset.id} WHERE _event_id LIKE 'crash-%'"
            ).fetchall()[0][0]
    assert count == 20


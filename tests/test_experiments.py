"""Experiments (issue 6) on a real Engine with the sample store and two quick campaigns:
deterministic assignment, routing by experiment ARN, attribution of events to variants, the
review of the sample's planted A/B test against an independent computation from the CSVs,
offline replay, the CLI and the HTTP routes (SigV4-signed)."""

from __future__ import annotations

import csv
import json
import math
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from engine import Engine, InvalidInputException
from engine.errors import ResourceInUseException, ResourceNotFoundException
from engine.experiments import assignment
from engine.sample_data import SAMPLE_DIR, load_sample
from tests.helpers import TEST_KEY_ENV, TEST_KEY_ID, TEST_SECRET, write_csv
from tests.shapes import assert_output_shape
from tests.test_serving import EASE, POPULARITY, deploy

EXPOSURES = SAMPLE_DIR / "recommendation_exposures.csv"
NOV_3, DEC_1 = "2025-11-03T00:00:00Z", "2025-12-01"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The sample store with a popularity and an EASE campaign."""
    with Engine(tmp_path_factory.mktemp("experiments") / "d") as engine:
        group = load_sample(engine)
        popular = deploy(engine, group, "popular", POPULARITY)
        ease = deploy(engine, group, "ease", EASE)
        yield engine, group, popular, ease


@pytest.fixture(scope="module")
def planted(lab):
    """The sample's A/B test (November 2025) as an experiment, its exposure log imported."""
    engine, group, popular, ease = lab
    arn = engine.create_experiment(
        name="planted",
        datasetGroupArn=group,
        variants=[
            {"name": "variant_a", "campaignArn": popular, "trafficShare": 0.5},
            {"name": "variant_b", "campaignArn": ease, "trafficShare": 0.5},
        ],
        primaryMetric="CLICK_THROUGH",
        guardrails=[{"metricName": "CONVERSION", "maxRelativeDrop": 0.05}],
        startTime=NOV_3,
        endTime=DEC_1,
    )["experimentArn"]
    found = engine.import_experiment_log(experimentArn=arn, dataLocation=str(EXPOSURES))
    assert found == {"experimentArn": arn, "exposures": 50000, "replaced": 0}
    return arn


def running(engine, group, name, variants, **extra):
    return engine.create_experiment(
        name=name,
        datasetGroupArn=group,
        variants=variants,
        startTime=time.time() - 1,
        **extra,
    )["experimentArn"]


def logged(engine, rid: str) -> tuple | None:
    engine._flush_log()
    with engine.store.cursor() as cur:
        rows = cur.execute(
            "SELECT campaign_arn, variant, user_id FROM recommendation_log "
            "WHERE recommendation_id = ?",
            [rid],
        ).fetchall()
    return rows[0] if rows else None


def test_assignment_is_deterministic_and_follows_the_shares(lab):
    engine, group, popular, ease = lab
    arn = running(
        engine,
        group,
        "split-30-70",
        [
            {"name": "control", "campaignArn": popular, "trafficShare": 0.3},
            {"name": "treatment", "campaignArn": ease, "trafficShare": 0.7},
        ],
    )
    users = [f"user-{i}" for i in range(10_000)]
    first = [engine.get_experiment_assignment(experimentArn=arn, userId=u) for u in users]
    counts = Counter(a["variant"] for a in first)
    assert counts["treatment"] / len(users) == pytest.approx(0.7, abs=0.02)
    assert counts["control"] / len(users) == pytest.approx(0.3, abs=0.02)
    assert {a["campaignArn"] for a in first if a["variant"] == "treatment"} == {ease}
    # the same answer again, after the route cache is dropped, and from the stored salt alone
    engine._experiment_routes.clear()
    again = [
        engine.get_experiment_assignment(experimentArn=arn, userId=u)["variant"] for u in users
    ]
    assert again == [a["variant"] for a in first]
    salt = engine.describe_experiment(experimentArn=arn)["experiment"]["assignmentSalt"]
    bounds = assignment.cumulative([0.3, 0.7])
    names = ["control", "treatment"]
    assert [names[assignment.variant_index(salt, u, bounds)] for u in users[:500]] == again[:500]
    engine.stop_experiment(experimentArn=arn)


def test_assignment_survives_a_restart(tmp_path):
    with Engine(tmp_path / "d") as engine:
        group = load_sample(engine)
        arn = engine.create_experiment(
            name="past",
            datasetGroupArn=group,
            variants=[{"name": "a"}, {"name": "b"}, {"name": "c"}],
            startTime="2025-01-01",
            endTime="2025-02-01",
        )["experimentArn"]
        before = [
            engine.get_experiment_assignment(experimentArn=arn, userId=f"u{i}")["variant"]
            for i in range(300)
        ]
    with Engine(tmp_path / "d") as engine:
        after = [
            engine.get_experiment_assignment(experimentArn=arn, userId=f"u{i}")["variant"]
            for i in range(300)
        ]
        shares = [
            v["trafficShare"]
            for v in engine.describe_experiment(experimentArn=arn)["experiment"]["variants"]
        ]
    assert after == before and set(before) == {"a", "b", "c"}
    assert shares == pytest.approx([1 / 3] * 3)


def test_routing_by_experiment_arn_answers_from_the_users_variant(lab):
    engine, group, popular, ease = lab
    arn = running(
        engine,
        group,
        "routing",
        [
            {"name": "pop", "campaignArn": popular, "trafficShare": 0.5},
            {"name": "ease", "campaignArn": ease, "trafficShare": 0.5},
        ],
    )
    assert engine.describe_experiment(experimentArn=arn)["experiment"]["status"] == "RUNNING"
    seen = set()
    for user in ("u00010", "u00011", "u00012", "u00013", "u00014", "u00015"):
        assigned = engine.get_experiment_assignment(experimentArn=arn, userId=user)
        answer = engine.get_recommendations(campaignArn=arn, userId=user, numResults=10)
        assert_output_shape("GetRecommendations", answer, "personalize-runtime")
        direct = engine.get_recommendations(
            campaignArn=assigned["campaignArn"], userId=user, numResults=10
        )
        assert [i["itemId"] for i in answer["itemList"]] == [
            i["itemId"] for i in direct["itemList"]
        ]
        assert logged(engine, answer["recommendationId"]) == (
            assigned["campaignArn"],
            assigned["variant"],
            user,
        )
        assert logged(engine, direct["recommendationId"])[1] is None  # not via the experiment
        seen.add(assigned["variant"])
    assert seen == {"pop", "ease"}
    with pytest.raises(InvalidInputException, match="userId is required"):
        engine.get_recommendations(campaignArn=arn, itemId="i0001")
    with pytest.raises(ResourceNotFoundException):
        engine.get_recommendations(campaignArn=engine.experiment_arn("nope"), userId="u00010")
    # stopped: everyone gets the control's campaign, outside the experiment
    engine.update_experiment(experimentArn=arn, status="STOPPED")
    assert engine.describe_experiment(experimentArn=arn)["experiment"]["status"] == "STOPPED"
    answer = engine.get_recommendations(campaignArn=arn, userId="u00013")
    assert logged(engine, answer["recommendationId"])[:2] == (popular, None)
    with pytest.raises(ResourceInUseException):
        engine.stop_experiment(experimentArn=arn)


def test_events_with_the_recommendation_id_count_for_the_variant(lab):
    engine, group, popular, ease = lab
    arn = running(
        engine,
        group,
        "attribution",
        [
            {"name": "left", "campaignArn": popular, "trafficShare": 0.5},
            {"name": "right", "campaignArn": ease, "trafficShare": 0.5},
        ],
        guardrails=[{"metricName": "REVENUE_PER_USER", "maxRelativeDrop": 0.1}],
    )
    tracking = engine.create_event_tracker(name="exp-web", datasetGroupArn=group)["trackingId"]
    shown: dict[str, int] = Counter()
    users: dict[str, set] = {"left": set(), "right": set()}
    clicked = None
    for i in range(40):
        user = f"u{i + 100:05d}"
        answer = engine.get_recommendations(campaignArn=arn, userId=user, numResults=5)
        variant = engine.get_experiment_assignment(experimentArn=arn, userId=user)["variant"]
        shown[variant] += 1
        users[variant].add(user)
        if variant == "right" and clicked is None:
            clicked = (user, answer)
    user, answer = clicked
    item = answer["itemList"][0]["itemId"]
    rid = answer["recommendationId"]
    now = time.time()
    engine.put_events(
        trackingId=tracking,
        userId=user,
        sessionId="exp-s1",
        eventList=[
            {"eventType": "view", "itemId": item, "sentAt": now, "recommendationId": rid},
            {
                "eventType": "purchase",
                "itemId": item,
                "sentAt": now + 60,
                "recommendationId": rid,
                "eventValue": 42.5,
            },
        ],
    )
    results = engine.get_experiment_results(experimentArn=arn)
    json.dumps(results, default=str, allow_nan=False)  # JSON-able, no nan
    left, right = results["variants"]
    assert (left["name"], right["name"]) == ("left", "right")
    assert left["impressions"] == shown["left"] and right["impressions"] == shown["right"]
    assert left["users"] == len(users["left"]) and right["users"] == len(users["right"])
    assert (right["clicks"], right["conversions"], right["revenue"]) == (1, 1, 42.5)
    assert (left["clicks"], left["conversions"], left["revenue"]) == (0, 0, 0.0)
    assert right["campaignArn"] == ease
    assert results["status"] == "RUNNING"
    assert results["verdict"]["decision"] in ("CONTINUE", "KEEP_CONTROL", "SHIP")
    assert results["guardrails"][0]["metricName"] == "REVENUE_PER_USER"
    assert {t["date"] for t in results["timeline"]} == {time.strftime("%Y-%m-%d", time.gmtime(now))}
    engine.stop_experiment(experimentArn=arn)


def independent_ab_counts() -> dict[str, tuple[int, int, int]]:
    """Per variant (exposures, clicked exposures, clicked exposures with a purchase), read
    straight from the CSVs with the csv module."""
    events: dict[str, set] = {"view": set(), "purchase": set()}
    with open(SAMPLE_DIR / "interactions.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["RECOMMENDATION_ID"] and row["EVENT_TYPE"] in events:
                events[row["EVENT_TYPE"]].add(row["RECOMMENDATION_ID"])
    out: dict[str, list[int]] = {}
    with open(EXPOSURES, newline="") as handle:
        for row in csv.DictReader(handle):
            counts = out.setdefault(row["VARIANT"], [0, 0, 0])
            rid = row["RECOMMENDATION_ID"]
            counts[0] += 1
            clicked = rid in events["view"]
            counts[1] += clicked
            counts[2] += clicked and rid in events["purchase"]
    return {k: tuple(v) for k, v in out.items()}


def test_review_recovers_the_planted_ab_effect(lab, planted):
    engine = lab[0]
    results = engine.get_experiment_results(experimentArn=planted)
    truth = independent_ab_counts()
    a, b = results["variants"]
    for variant in (a, b):
        n, clicks, purchases = truth[variant["name"]]
        assert (variant["impressions"], variant["clicks"], variant["conversions"]) == (
            n,
            clicks,
            purchases,
        )
    assert a["metrics"]["CLICK_THROUGH"]["value"] == pytest.approx(0.081, abs=0.0005)
    assert b["metrics"]["CLICK_THROUGH"]["value"] == pytest.approx(0.111, abs=0.0005)
    assert a["metrics"]["CONVERSION"]["value"] == pytest.approx(0.208, abs=0.0005)
    assert b["metrics"]["CONVERSION"]["value"] == pytest.approx(0.256, abs=0.0005)
    (n_a, c_a, _), (n_b, c_b, p_b) = truth["variant_a"], truth["variant_b"]
    ctr = next(c for c in results["comparisons"] if c["metric"] == "CLICK_THROUGH")
    true_lift = (c_b / n_b) / (c_a / n_a) - 1
    assert ctr["lift"]["value"] == pytest.approx(true_lift, rel=1e-9)
    assert true_lift == pytest.approx(0.37, abs=0.02)
    assert ctr["lift"]["ciLow"] < true_lift < ctr["lift"]["ciHigh"]
    assert ctr["lift"]["ciLow"] > 0.25 and ctr["lift"]["ciHigh"] < 0.5
    pooled = (c_a + c_b) / (n_a + n_b)
    z = (c_b / n_b - c_a / n_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    assert ctr["pValue"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-6)
    assert ctr["pValue"] < 1e-6 and ctr["significant"]
    assert ctr["sequential"]["pValue"] < 1e-6
    conversion = next(c for c in results["comparisons"] if c["metric"] == "CONVERSION")
    assert conversion["value"] == pytest.approx(p_b / c_b)
    assert conversion["pValue"] == pytest.approx(1.0e-4, rel=0.05)
    revenue = next(c for c in results["comparisons"] if c["metric"] == "REVENUE_PER_USER")
    assert revenue["lift"]["value"] > 0 and revenue["test"] == "Welch t test"
    assert results["guardrails"] == [
        {
            "variant": "variant_b",
            "metricName": "CONVERSION",
            "maxRelativeDrop": 0.05,
            "lift": conversion["lift"]["value"],
            "ciLow": conversion["lift"]["ciLow"],
            "ciHigh": conversion["lift"]["ciHigh"],
            "status": "PASS",
        }
    ]
    assert not results["sampleRatio"]["mismatch"]
    assert results["sampleRatio"]["usersInSeveralVariants"] == 0
    assert results["verdict"]["decision"] == "SHIP"
    assert results["verdict"]["variant"] == "variant_b"
    timeline = [t for t in results["timeline"] if t["metric"] == "CLICK_THROUGH"]
    assert timeline[0]["date"] == "2025-11-03" and timeline[-1]["date"] == "2025-11-30"
    assert len(timeline) == 28
    assert timeline[-1]["lift"] == pytest.approx(true_lift)
    assert timeline[-1]["controlImpressions"] == n_a
    sequential = [t["sequentialPValue"] for t in timeline]
    assert sequential == sorted(sequential, reverse=True)  # always-valid p never goes up
    assert results["status"] == "COMPLETED"


def test_importing_a_log_checks_every_row(lab, planted, tmp_path):
    engine, group, popular, ease = lab
    arn = engine.create_experiment(
        name="checked",
        datasetGroupArn=group,
        variants=[{"name": "x"}, {"name": "y"}],
        startTime="2025-01-01",
        endTime="2025-01-02",
    )["experimentArn"]
    header = ["RECOMMENDATION_ID", "USER_ID", "TIMESTAMP", "VARIANT", "ITEM_IDS"]
    bad = write_csv(
        tmp_path / "bad.csv",
        header,
        [
            ["x1", "u00001", 1735693200, "x", "i0001|i0002"],
            ["x2", "u00002", 1735693200, "z", "i0001"],
            ["x3", "u00003", 1800000000, "y", "i0003"],
            ["x4", "u00004", "noon", "y", "i0003"],
        ],
    )
    with pytest.raises(InvalidInputException) as caught:
        engine.import_experiment_log(experimentArn=arn, dataLocation=str(bad))
    message = str(caught.value)
    assert "['z']" in message and "outside" in message and "epoch seconds" in message
    missing = write_csv(tmp_path / "missing.csv", header[:3], [["x1", "u1", 1735693200]])
    with pytest.raises(InvalidInputException, match="VARIANT, ITEM_IDS"):
        engine.import_experiment_log(experimentArn=arn, dataLocation=str(missing))
    # ids another experiment logged already are refused, not silently moved
    clash = engine.create_experiment(
        name="clash",
        datasetGroupArn=group,
        variants=[{"name": "variant_a"}, {"name": "variant_b"}],
        startTime=NOV_3,
        endTime=DEC_1,
    )["experimentArn"]
    with pytest.raises(ResourceInUseException, match="counted twice"):
        engine.import_experiment_log(experimentArn=clash, dataLocation=str(EXPOSURES))
    again = engine.import_experiment_log(experimentArn=planted, dataLocation=str(EXPOSURES))
    assert again["replaced"] == 50000


def test_create_checks_variants_shares_metrics_and_overlaps(lab, planted):
    engine, group, popular, ease = lab
    good = [
        {"name": "a", "campaignArn": popular, "trafficShare": 0.5},
        {"name": "b", "campaignArn": ease, "trafficShare": 0.5},
    ]
    cases = [
        ({"variants": good[:1]}, "two or more"),
        ({"variants": [good[0], {**good[1], "trafficShare": 0.6}]}, "sum to 1.1"),
        ({"variants": [good[0], {**good[1], "name": "a"}]}, "used twice"),
        ({"variants": [good[0], {"name": "b", "trafficShare": 0.5}]}, "campaignArn is required"),
        ({"variants": good, "primaryMetric": "HAPPINESS"}, "primaryMetric"),
        ({"variants": good, "guardrails": [{"metricName": "CONVERSION"}]}, "maxRelativeDrop"),
        ({"variants": good, "endTime": "2020-01-01"}, "after startTime"),
        ({"variants": good, "colour": "red"}, "colour is not a parameter"),
        ({"variants": [good[0], {**good[1], "weight": 1}]}, "weight is not a variant field"),
    ]
    for extra, message in cases:
        with pytest.raises(InvalidInputException, match=message):
            engine.create_experiment(name="bad", datasetGroupArn=group, **extra)
    with pytest.raises(ResourceNotFoundException):
        engine.create_experiment(
            name="bad",
            datasetGroupArn=group,
            variants=[good[0], {**good[1], "campaignArn": engine.arns.make("campaign", "no")}],
        )
    # the planted test's (variant, campaign) pairs are taken for November 2025
    with pytest.raises(ResourceInUseException, match="planted"):
        engine.create_experiment(
            name="overlap",
            datasetGroupArn=group,
            variants=[
                {"name": "variant_a", "campaignArn": popular},
                {"name": "variant_b", "campaignArn": ease},
            ],
            startTime="2025-11-20",
            endTime="2025-12-20",
        )
    listed = engine.list_experiments(datasetGroupArn=group)["experiments"]
    assert planted in [e["experimentArn"] for e in listed]
    assert "bad" not in [e["name"] for e in listed]
    page = engine.list_experiments(maxResults=1)
    assert len(page["experiments"]) == 1 and "nextToken" in page


@pytest.mark.slow
def test_offline_replay_ranks_the_personalized_model_above_popularity(lab, planted):
    engine, group, popular, ease = lab
    ease_found = engine.estimate_offline(
        experimentArn=planted, campaignArn=ease, numResults=10, bootstrapRepeats=100
    )
    pop_found = engine.estimate_offline(
        experimentArn=planted, campaignArn=popular, numResults=10, bootstrapRepeats=100
    )
    json.dumps(ease_found, default=str, allow_nan=False)
    assert ease_found["exposures"] == 50000 and ease_found["clickedExposures"] == 4793
    assert ease_found["logged"]["byVariant"]["variant_b"]["clickThrough"] == pytest.approx(
        2776 / 24983
    )
    for found in (ease_found, pop_found):
        for name in ("replay", "ips", "snips"):
            value = found[name]["clickThrough"]
            assert value["ciLow"] <= value["value"] <= value["ciHigh"], name
        assert 0 < found["snips"]["support"] < 1
        assert found["replay"]["matchedExposures"] > 0
    ease_ctr = ease_found["replay"]["clickThrough"]
    pop_ctr = pop_found["replay"]["clickThrough"]
    assert ease_ctr["ciLow"] > pop_ctr["ciHigh"]
    assert ease_found["clickRecall"]["value"] > pop_found["clickRecall"]["value"]
    # the solution version behind the campaign, on variant_a's lists, from the experiment and
    # from the exposure CSV (with the same shares): the same estimates
    version = engine.describe_campaign(campaignArn=ease)["campaign"]["solutionVersionArn"]
    by_version = engine.estimate_offline(
        experimentArn=planted,
        solutionVersionArn=version,
        numResults=10,
        variant="variant_a",
        bootstrapRepeats=100,
    )
    from_file = engine.estimate_offline(
        datasetGroupArn=group,
        dataLocation=str(EXPOSURES),
        trafficShares={"variant_a": 0.5, "variant_b": 0.5},
        campaignArn=ease,
        numResults=10,
        variant="variant_a",
        bootstrapRepeats=100,
    )
    assert by_version["exposures"] == from_file["exposures"] == 25017
    assert by_version["clickedExposures"] == from_file["clickedExposures"] == 2017
    for name in ("replay", "ips", "snips", "clickRecall"):
        assert from_file[name] == by_version[name], name
    with pytest.raises(InvalidInputException, match="exactly one"):
        engine.estimate_offline(experimentArn=planted)


def test_cli_creates_imports_and_reviews_an_experiment(tmp_path):
    from engine.cli import app

    with Engine(tmp_path / "d") as engine:
        load_sample(engine)
    runner = CliRunner()
    d = ["--data-dir", str(tmp_path / "d")]
    created = runner.invoke(
        app,
        [
            "experiments",
            "create",
            "nov",
            "--group",
            "sample",
            "--variant",
            "variant_a",
            "--variant",
            "variant_b",
            "--start",
            "2025-11-03",
            "--end",
            "2025-12-01",
            "--guardrail",
            "CONVERSION:0.05",
            "--exposures",
            str(EXPOSURES),
            *d,
        ],
    )
    assert created.exit_code == 0, created.output
    assert "experiment/nov" in created.output and "imported 50,000 exposures" in created.output
    results = runner.invoke(app, ["experiments", "results", "nov", *d], env={"COLUMNS": "200"})
    assert results.exit_code == 0, results.output
    for text in ("variant_b", "11.1%", "8.1%", "+37.8%", "5.2e-31", "PASS", "SHIP"):
        assert text in results.output, text
    listed = runner.invoke(app, ["experiments", "list", *d], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "nov" in listed.output and "COMPLETED" in listed.output
    shown = runner.invoke(app, ["experiments", "show", "nov", *d], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "variant_a (control)" in shown.output
    as_json = runner.invoke(app, ["experiments", "results", "nov", "--json", *d])
    assert json.loads(as_json.output)["verdict"]["decision"] == "SHIP"
    missing = runner.invoke(app, ["experiments", "show", "nope", *d])
    assert missing.exit_code == 2


def signed(base: str, method: str, path: str, body: dict | None = None):
    """A request signed with SigV4 by botocore, as an SDK would sign it."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = json.dumps(body).encode() if body is not None else b""
    request = AWSRequest(
        method, base + path, data=data, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(TEST_KEY_ID, TEST_SECRET), "personalize", "us-east-1").add_auth(request)
    return httpx.request(method, base + path, content=data, headers=dict(request.headers.items()))


@pytest.fixture
def api(lab, monkeypatch):
    """The API (SigV4 middleware included) on the lab's Engine, served by uvicorn in a
    thread on a free loopback port."""
    import socket
    import threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from engine import runtime
    from engine.api import create_api
    from engine.auth.keys import KeyStore
    from engine.auth.middleware import SigV4Middleware

    engine = lab[0]
    for key, value in TEST_KEY_ENV.items():
        monkeypatch.setenv(key, value)
    keys = KeyStore(engine.data_dir)
    keys.ensure_env_key()
    app = Starlette(routes=[Mount("/api", app=SigV4Middleware(create_api(), keys))])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    runtime.register(engine)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        runtime.unregister()


def test_http_round_trip(lab, planted, api):
    import httpx

    engine, group, popular, ease = lab
    created = signed(
        api,
        "POST",
        "/api/experiments",
        {
            "name": "wire",
            "datasetGroupArn": group,
            "variants": [{"name": "a", "campaignArn": popular}, {"name": "b", "campaignArn": ease}],
            "startTime": time.time() - 1,
            "primaryMetric": "CONVERSION",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["experimentArn"] == engine.experiment_arn("wire")
    described = signed(api, "GET", "/api/experiments/wire").json()["experiment"]
    assert described["status"] == "RUNNING" and described["primaryMetric"] == "CONVERSION"
    assert isinstance(described["startTime"], float)
    listed = signed(api, "GET", f"/api/experiments?datasetGroupArn={group}").json()
    assert "wire" in [e["name"] for e in listed["experiments"]]
    results = signed(api, "GET", "/api/experiments/planted/results?alpha=0.01").json()
    assert results["alpha"] == 0.01 and results["verdict"]["variant"] == "variant_b"
    assert signed(api, "POST", "/api/experiments/wire/stop").status_code == 200
    again = signed(api, "GET", "/api/experiments/wire").json()["experiment"]
    assert again["status"] == "STOPPED"
    missing = signed(api, "GET", "/api/experiments/nope")
    assert missing.status_code == 404
    assert missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert missing.json()["__type"] == "ResourceNotFoundException"
    bad = signed(api, "POST", "/api/experiments", {"name": "x", "datasetGroupArn": group})
    assert bad.status_code == 400 and bad.json()["__type"] == "InvalidInputException"
    assert "variants is required" in bad.json()["message"]
    assert signed(api, "DELETE", "/api/experiments/wire").status_code == 200
    assert signed(api, "GET", "/api/experiments/wire").status_code == 404
    assert httpx.get(api + "/api/experiments").status_code == 403  # unsigned

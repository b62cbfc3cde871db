"""Batch inference and batch segment jobs on the sample store (issue 6, batch part): outputs
against the real-time answers and the models, bad lines, s3 and local locations, statuses and
shapes, interrupted jobs, item attribute queries, and the operations over the wire."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import boto3
import numpy as np
import pytest

from engine import Engine, InvalidInputException, ResourceInUseException
from engine.batch import inference as batch_inference
from engine.batch.attributes import matching, parse_query
from engine.batch.inference import round7
from engine.datasets.avro import SchemaField
from engine.sample_data import load_sample
from tests.helpers import CLIENT_CREDENTIALS, TEST_KEY_ENV
from tests.shapes import assert_output_shape
from tests.test_server import free_port, stop, wait_until_up
from tests.test_serving import EASE, RANKING, SIMS, deploy, wait

ROLE = "arn:aws:iam::123456789012:role/personalize-batch"
AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
ATTRIBUTE_AFFINITY = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"
ROOT = Path(__file__).resolve().parent.parent


def train(engine: Engine, group: str, name: str, recipe: str) -> str:
    """An ACTIVE solution version of `recipe` (no campaign)."""
    solution = engine.create_solution(name=name, datasetGroupArn=group, recipeArn=recipe)
    version = engine.create_solution_version(solutionArn=solution["solutionArn"])
    arn = version["solutionVersionArn"]
    done = wait(
        engine,
        arn,
        lambda a: engine.describe_solution_version(solutionVersionArn=a)["solutionVersion"],
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return arn


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    with Engine(tmp_path_factory.mktemp("batch") / "d") as engine:
        group = load_sample(engine)
        campaigns = {
            "ease": deploy(engine, group, "ease", EASE),
            "sims": deploy(engine, group, "sims", SIMS),
            "ranking": deploy(
                engine,
                group,
                "ranking",
                RANKING,
                solutionConfig={"algorithmHyperParameters": {"epochs": "3"}},
            ),
        }
        versions = {
            name: engine.describe_campaign(campaignArn=arn)["campaign"]["solutionVersionArn"]
            for name, arn in campaigns.items()
        }
        versions["affinity"] = train(engine, group, "affinity", AFFINITY)
        versions["attributes"] = train(engine, group, "attributes", ATTRIBUTE_AFFINITY)
        yield engine, group, campaigns, versions


def write_lines(path: Path, lines: list) -> Path:
    """JSON lines (strings are written as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n")
    return path


def s3_file(engine: Engine, location: str) -> Path:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return engine.data_dir / "s3" / bucket / key


def run_inference(engine: Engine, name: str, version: str, source: str, **kwargs) -> dict:
    """Create a batch inference job, wait, return its description (shape-checked)."""
    arn = engine.create_batch_inference_job(
        jobName=name,
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": source}},
        jobOutput={"s3DataDestination": {"path": f"s3://batch-out/{name}/"}},
        roleArn=ROLE,
        **kwargs,
    )["batchInferenceJobArn"]
    engine.wait_for(arn, timeout=300)
    described = engine.describe_batch_inference_job(batchInferenceJobArn=arn)
    job = described["batchInferenceJob"]
    if not source.startswith("s3://"):  # Tailor's local inputs are outside botocore's pattern
        job = {**job, "jobInput": {"s3DataSource": {"path": "s3://local/input"}}}
    assert_output_shape("DescribeBatchInferenceJob", {"batchInferenceJob": job})
    return described["batchInferenceJob"]


def output_of(engine: Engine, job: dict, input_name: str) -> list[dict]:
    path = s3_file(engine, job["jobOutput"]["s3DataDestination"]["path"].rstrip("/"))
    return [json.loads(line) for line in (path / f"{input_name}.out").read_text().splitlines()]


def some_users(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"u{i:05d}" for i in sorted(rng.choice(np.arange(1, 4001), n, replace=False))]


# --- batch inference ---------------------------------------------------------------------------


def test_user_recommendations_equal_get_recommendations(trained):
    engine, _, campaigns, versions = trained
    users = [*some_users(150), "nobody", "u00007"]
    source = write_lines(
        engine.data_dir / "s3" / "batch-in" / "users.json", [{"userId": u} for u in users]
    )
    job = run_inference(
        engine, "ease-users", versions["ease"], "s3://batch-in/users.json", numResults=12
    )
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["numResults"] == 12 and job["batchInferenceJobMode"] == "BATCH_INFERENCE"
    assert source.exists()
    lines = output_of(engine, job, "users.json")
    assert [line["input"] for line in lines] == [{"userId": u} for u in users]
    for line in lines:
        assert line["error"] is None
        expected = engine.get_recommendations(
            campaignArn=campaigns["ease"], userId=line["input"]["userId"], numResults=12
        )["itemList"]
        assert line["output"]["recommendedItems"] == [i["itemId"] for i in expected]
        assert line["output"]["scores"] == [i["score"] for i in expected]
    progress = engine.job_progress(job["batchInferenceJobArn"])
    assert progress["fraction"] == 1.0 and progress["lines"] == len(users)
    assert progress["errors"] == 0


def test_cold_item_exploration_as_the_campaign_explores(trained):
    engine, group, _, versions = trained
    config = {"itemExplorationConfig": {"explorationWeight": "0.4"}}
    campaign = engine.create_campaign(
        name="ease-explore", solutionVersionArn=versions["ease"], campaignConfig=config
    )["campaignArn"]
    assert engine.wait_for(campaign)["status"] == "ACTIVE"
    users = [*some_users(120, seed=11), "nobody"]
    write_lines(
        engine.data_dir / "s3" / "batch-in" / "explore.json", [{"userId": u} for u in users]
    )
    job = run_inference(
        engine,
        "explore",
        versions["ease"],
        "s3://batch-in/explore.json",
        numResults=10,
        batchInferenceJobConfig=config,
    )
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["batchInferenceJobConfig"] == config
    explored = 0
    for line in output_of(engine, job, "explore.json"):
        expected = engine.get_recommendations(
            campaignArn=campaign, userId=line["input"]["userId"], numResults=10
        )["itemList"]
        assert line["output"]["recommendedItems"] == [i["itemId"] for i in expected]
        assert line["output"]["scores"] == [i.get("score") for i in expected]
        explored += sum(1 for i in expected if i.get("reason") == ["Exploration"])
    assert explored >= len(users) * 3  # round(0.4 x 10) places per list explore

    # two cold books only: the other exploration places are refilled by relevance
    books = engine.create_filter(
        name="explore-category",
        datasetGroupArn=group,
        filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORIES)",
    )["filterArn"]
    lines = [{"userId": u, "filterValues": {"CATEGORIES": '"books"'}} for u in users]
    write_lines(engine.data_dir / "s3" / "batch-in" / "explore-books.json", lines)
    job = run_inference(
        engine,
        "explore-books",
        versions["ease"],
        "s3://batch-in/explore-books.json",
        numResults=10,
        filterArn=books,
        batchInferenceJobConfig=config,
    )
    for line in output_of(engine, job, "explore-books.json"):
        expected = engine.get_recommendations(
            campaignArn=campaign, numResults=10, filterArn=books, **line["input"]
        )["itemList"]
        assert line["output"]["recommendedItems"] == [i["itemId"] for i in expected]
        assert line["output"]["scores"] == [i.get("score") for i in expected]


def test_related_items_equal_get_recommendations(trained):
    engine, _, campaigns, versions = trained
    items = [f"i{i:04d}" for i in range(1, 1001, 13)] + ["no-such-item"]
    write_lines(engine.data_dir / "s3" / "batch-in" / "items.json", [{"itemId": i} for i in items])
    job = run_inference(engine, "sims-items", versions["sims"], "s3://batch-in/items.json")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    for line in output_of(engine, job, "items.json"):
        expected = engine.get_recommendations(
            campaignArn=campaigns["sims"], itemId=line["input"]["itemId"]
        )["itemList"]
        assert line["output"]["recommendedItems"] == [i["itemId"] for i in expected]
        assert line["output"]["scores"] == [i["score"] for i in expected]
    lines = output_of(engine, job, "items.json")
    assert len(lines) == len(items) and all(
        len(x["output"]["recommendedItems"]) == 25 for x in lines
    )


def test_personalized_ranking_equals_get_personalized_ranking(trained):
    engine, _, campaigns, versions = trained
    rng = np.random.default_rng(3)
    requests = [
        {"userId": u, "itemList": [f"i{i:04d}" for i in rng.choice(np.arange(1, 1001), 8)]}
        for u in some_users(40, seed=3)
    ]
    requests.append({"userId": "u00002", "itemList": ["i0005", "not-an-item", "i0700"]})
    write_lines(engine.data_dir / "s3" / "batch-in" / "rank.json", requests)
    job = run_inference(engine, "ranking", versions["ranking"], "s3://batch-in/rank.json")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    lines = output_of(engine, job, "rank.json")
    for line, request in zip(lines, requests, strict=True):
        assert line["input"] == request
        expected = engine.get_personalized_ranking(
            campaignArn=campaigns["ranking"],
            userId=request["userId"],
            inputList=request["itemList"],
        )
        ranking = expected["personalizedRanking"]
        assert line["output"]["recommendedItems"] == [i["itemId"] for i in ranking]
        # a block's matrix product may differ from one user's in the last float32 bit
        assert line["output"]["scores"] == pytest.approx(
            [i.get("score") for i in ranking], abs=2e-6
        )
    assert lines[-1]["output"]["recommendedItems"][-1] == "not-an-item"
    assert lines[-1]["output"]["scores"][-1] is None


def test_filters_apply_per_line_as_in_real_time(trained):
    engine, group, campaigns, versions = trained
    by_category = engine.create_filter(
        name="batch-category",
        datasetGroupArn=group,
        filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORIES)",
    )["filterArn"]
    not_bought = engine.create_filter(
        name="batch-not-bought",
        datasetGroupArn=group,
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view") | '
        "INCLUDE ItemID WHERE Items.PRICE < 30",
    )["filterArn"]
    users = some_users(40, seed=5)
    categories = ['"books"', '"grocery","toys_games"', '"electronics"']
    lines = [
        {"userId": u, "filterValues": {"CATEGORIES": categories[i % 3]}}
        for i, u in enumerate(users)
    ]
    lines.append({"userId": "u00001"})  # the INCLUDE parameter is missing: an error line
    write_lines(engine.data_dir / "s3" / "batch-in" / "filtered.json", lines)
    job = run_inference(
        engine,
        "filtered",
        versions["ease"],
        "s3://batch-in/filtered.json",
        filterArn=by_category,
        numResults=10,
    )
    assert job["status"] == "ACTIVE" and job["filterArn"] == by_category
    out = output_of(engine, job, "filtered.json")
    for line in out[:-1]:
        expected = engine.get_recommendations(
            campaignArn=campaigns["ease"], numResults=10, filterArn=by_category, **line["input"]
        )["itemList"]
        assert line["output"]["recommendedItems"] == [i["itemId"] for i in expected]
        assert line["output"]["scores"] == [i["score"] for i in expected]
    assert out[-1]["output"] is None and "CATEGORIES" in out[-1]["error"]

    write_lines(
        engine.data_dir / "s3" / "batch-in" / "history.json", [{"userId": u} for u in users]
    )
    job = run_inference(
        engine,
        "history-filter",
        versions["ease"],
        "s3://batch-in/history.json",
        filterArn=not_bought,
    )
    for line in output_of(engine, job, "history.json"):
        expected = engine.get_recommendations(
            campaignArn=campaigns["ease"], filterArn=not_bought, **line["input"]
        )["itemList"]
        assert line["output"]["recommendedItems"] == [i["itemId"] for i in expected]


def test_bad_lines_get_an_error_and_the_rest_is_written(trained):
    engine, _, campaigns, versions = trained
    lines = [
        {"userId": "u00010"},
        "this is not json",
        "",
        "[1, 2, 3]",
        {"user": "u00011"},
        {"userId": 42},
        {"userId": "u00012", "context": {"DEVICE": 3}},
        {"userId": "u00013"},
    ]
    write_lines(engine.data_dir / "s3" / "batch-in" / "bad.json", lines)
    job = run_inference(engine, "bad-lines", versions["ease"], "s3://batch-in/bad.json")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    out = output_of(engine, job, "bad.json")
    assert len(out) == 7  # the blank line is skipped
    assert [line["error"] is None for line in out] == [
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    assert out[1]["input"] == "this is not json" and "not valid JSON" in out[1]["error"]
    assert "JSON object" in out[2]["error"]
    assert out[3]["error"] == "userId is required"
    assert "userId must be a non-empty string" in out[4]["error"]
    assert "context" in out[5]["error"]
    assert all(line["output"] is None for line in out[1:6])
    expected = engine.get_recommendations(campaignArn=campaigns["ease"], userId="u00013")
    assert out[6]["output"]["recommendedItems"] == [i["itemId"] for i in expected["itemList"]]
    progress = engine.job_progress(job["batchInferenceJobArn"])
    assert progress["errors"] == 5 and progress["lines"] == progress["total_lines"] == 8


def test_related_items_job_needs_item_ids(trained):
    engine, _, _, versions = trained
    write_lines(engine.data_dir / "s3" / "batch-in" / "wrong.json", [{"userId": "u00001"}])
    job = run_inference(engine, "sims-wrong", versions["sims"], "s3://batch-in/wrong.json")
    assert job["status"] == "ACTIVE"
    (line,) = output_of(engine, job, "wrong.json")
    assert "itemId is required" in line["error"] and "aws-sims" in line["error"]


def test_folder_and_local_inputs_give_one_out_file_each(trained, tmp_path):
    engine, _, _, versions = trained
    folder = engine.data_dir / "s3" / "batch-in" / "folder"
    write_lines(folder / "a.json", [{"userId": "u00001"}, {"userId": "u00002"}])
    write_lines(folder / "b.jsonl", [{"userId": "u00003"}])
    job = run_inference(engine, "folder", versions["ease"], "s3://batch-in/folder/")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    written = s3_file(engine, "s3://batch-out/folder")
    assert sorted(p.name for p in written.iterdir()) == ["a.json.out", "b.jsonl.out"]
    assert len(output_of(engine, job, "a.json")) == 2
    local = write_lines(tmp_path / "local users.json", [{"userId": "u00004"}])
    job = run_inference(engine, "local", versions["ease"], str(local))
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["jobInput"]["s3DataSource"]["path"] == str(local)
    assert output_of(engine, job, "local users.json")[0]["input"] == {"userId": "u00004"}
    job = run_inference(engine, "file-url", versions["ease"], local.as_uri())
    assert job["status"] == "ACTIVE", job.get("failureReason")


def test_describe_list_and_statuses(trained):
    engine, _, _, versions = trained
    write_lines(engine.data_dir / "s3" / "batch-in" / "few.json", [{"userId": "u00001"}])
    arn = engine.create_batch_inference_job(
        jobName="listed",
        solutionVersionArn=versions["ease"],
        jobInput={"s3DataSource": {"path": "s3://batch-in/few.json"}},
        jobOutput={"s3DataDestination": {"path": "s3://batch-out/listed/"}},
        roleArn=ROLE,
        tags=[{"tagKey": "team", "tagValue": "growth"}],
    )["batchInferenceJobArn"]
    assert arn == "arn:aws:personalize:us-east-1:000000000000:batch-inference-job/listed"
    first = engine.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]
    assert first["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    engine.wait_for(arn)
    job = engine.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]
    assert job["status"] == "ACTIVE" and job["numResults"] == 25
    assert job["solutionVersionArn"] == versions["ease"] and job["roleArn"] == ROLE
    listed = engine.list_batch_inference_jobs(solutionVersionArn=versions["ease"])
    assert_output_shape("ListBatchInferenceJobs", listed)
    assert arn in [j["batchInferenceJobArn"] for j in listed["batchInferenceJobs"]]
    everything = engine.list_batch_inference_jobs(maxResults=1)
    assert_output_shape("ListBatchInferenceJobs", everything)
    assert len(everything["batchInferenceJobs"]) == 1 and "nextToken" in everything
    assert engine.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"tagKey": "team", "tagValue": "growth"}
    ]


def test_create_rejects_what_cannot_run(trained, tmp_path):
    engine, group, _, versions = trained
    write_lines(engine.data_dir / "s3" / "batch-in" / "one.json", [{"userId": "u00001"}])
    base = {
        "solutionVersionArn": versions["ease"],
        "jobInput": {"s3DataSource": {"path": "s3://batch-in/one.json"}},
        "jobOutput": {"s3DataDestination": {"path": "s3://batch-out/rejected/"}},
        "roleArn": ROLE,
    }
    cases = [
        ({"numResults": 501}, "numResults"),
        ({"batchInferenceJobMode": "THEME_GENERATION"}, "THEME_GENERATION"),
        ({"jobInput": {"s3DataSource": {"path": "s3://batch-in/none.json"}}}, "no such file"),
        ({"jobOutput": {"s3DataDestination": {"path": str(tmp_path)}}}, "s3DataDestination"),
        ({"jobOutput": {"s3DataDestination": {"path": "https://x/y/"}}}, "s3://bucket"),
        ({"jobOutput": {"s3DataDestination": {"path": "s3://b/../x/"}}}, "'..'"),
        ({"solutionVersionArn": versions["affinity"]}, "CreateBatchSegmentJob"),
        ({"batchInferenceJobConfig": {"rankingInfluence": {"POPULARITY": 1.0}}}, "ranking"),
    ]
    for i, (change, message) in enumerate(cases):
        with pytest.raises(InvalidInputException, match=message):
            engine.create_batch_inference_job(jobName=f"rejected-{i}", **{**base, **change})
    user_filter = engine.create_filter(
        name="users-only",
        datasetGroupArn=group,
        filterExpression='INCLUDE UserID WHERE Users.MEMBERSHIP_TIER IN ("gold")',
    )["filterArn"]
    with pytest.raises(InvalidInputException, match="UserID"):
        engine.create_batch_inference_job(jobName="user-filter", filterArn=user_filter, **base)
    solution = engine.create_solution(name="pending", datasetGroupArn=group, recipeArn=EASE)
    version = engine.create_solution_version(solutionArn=solution["solutionArn"])
    engine.stop_solution_version_creation(solutionVersionArn=version["solutionVersionArn"])
    engine.wait_for(version["solutionVersionArn"])
    with pytest.raises(ResourceInUseException, match="ACTIVE"):
        engine.create_batch_inference_job(
            jobName="not-trained", **{**base, "solutionVersionArn": version["solutionVersionArn"]}
        )


class Killed(BaseException):
    """What a killed process looks like to the job: it never gets to record anything."""


def test_a_rerun_after_an_interruption_leaves_one_complete_output(trained, monkeypatch):
    engine, _, _, versions = trained
    users = some_users(1500, seed=9)
    write_lines(engine.data_dir / "s3" / "batch-in" / "long.json", [{"userId": u} for u in users])
    target = s3_file(engine, "s3://batch-out/rerun/long.json.out")
    original = batch_inference.InferenceAnswerer.answer
    calls = []

    def dies_midway(self, lines):
        calls.append(len(lines))
        if len(calls) == 2:
            raise Killed
        return original(self, lines)

    monkeypatch.setattr(batch_inference.InferenceAnswerer, "answer", dies_midway)
    common = {
        "solutionVersionArn": versions["ease"],
        "jobInput": {"s3DataSource": {"path": "s3://batch-in/long.json"}},
        "jobOutput": {"s3DataDestination": {"path": "s3://batch-out/rerun/"}},
        "roleArn": ROLE,
    }
    arn = engine.create_batch_inference_job(jobName="killed", **common)["batchInferenceJobArn"]
    with pytest.raises(Killed):
        engine.jobs.wait(arn, timeout=120)
    assert (
        engine.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]["status"]
        == "CREATE IN_PROGRESS"
    )
    assert not target.exists()  # nothing was published
    # what a SIGKILL leaves: a partial temporary file from an earlier process
    stale = target.parent / ".long.json.out.0123456789abcdef.part"
    stale.write_text('{"input":{"userId":"u00001"},"output":')
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    engine._fail_interrupted_jobs()  # what opening the data directory again does
    job = engine.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]
    assert job["status"] == "CREATE FAILED" and "Interrupted" in job["failureReason"]

    monkeypatch.setattr(batch_inference.InferenceAnswerer, "answer", original)
    for name in ("rerun", "rerun-again"):
        again = engine.create_batch_inference_job(jobName=name, **common)["batchInferenceJobArn"]
        assert engine.wait_for(again)["status"] == "ACTIVE"
        written = [json.loads(line) for line in target.read_text().splitlines()]
        assert [line["input"]["userId"] for line in written] == users
        assert all(line["error"] is None for line in written)
    assert sorted(p.name for p in target.parent.iterdir()) == ["long.json.out"]


KILL_CHILD = """
    import sys, time
    from engine import Engine
    engine = Engine(sys.argv[1])
    arn = engine.create_batch_inference_job(
        jobName="big",
        solutionVersionArn=sys.argv[2],
        jobInput={"s3DataSource": {"path": "s3://in/big.json"}},
        jobOutput={"s3DataDestination": {"path": "s3://out/"}},
        roleArn="arn:aws:iam::123456789012:role/r",
    )["batchInferenceJobArn"]
    while engine.job_progress(arn)["lines"] == 0:
        time.sleep(0.01)
    print("writing", flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
def test_killed_process_leaves_no_output_and_the_rerun_is_whole(tmp_path):
    data_dir = tmp_path / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        version = train(engine, group, "ease", EASE)
    lines = [{"userId": f"u{i % 4000 + 1:05d}"} for i in range(120_000)]
    write_lines(data_dir / "s3" / "in" / "big.json", lines)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILL_CHILD), str(data_dir), version],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = data_dir / "s3" / "out"
    assert not (out / "big.json.out").exists()
    assert [p for p in out.iterdir() if p.name.endswith(".part")]  # the kill left a partial file
    with Engine(data_dir) as engine:
        listed = engine.list_batch_inference_jobs()["batchInferenceJobs"]
        assert listed[0]["status"] == "CREATE FAILED"
        assert "Interrupted" in listed[0]["failureReason"]
        arn = engine.create_batch_inference_job(
            jobName="big-again",
            solutionVersionArn=version,
            jobInput={"s3DataSource": {"path": "s3://in/big.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://out/"}},
            roleArn=ROLE,
        )["batchInferenceJobArn"]
        assert engine.wait_for(arn, timeout=600)["status"] == "ACTIVE"
    written = (out / "big.json.out").read_text().splitlines()
    assert len(written) == len(lines)
    assert [json.loads(w)["input"] for w in written[:5]] == lines[:5]
    assert [p.name for p in out.iterdir()] == ["big.json.out"]


def test_round7_is_pythons_round():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.random(20000) * 0.01, np.array([0.12345675, 2.5e-8, 1.5e-7])])
    assert round7(values).tolist() == [round(float(v), 7) for v in values]


# --- batch segments ----------------------------------------------------------------------------


def run_segments(engine: Engine, name: str, version: str, lines: list, **kwargs) -> dict:
    write_lines(engine.data_dir / "s3" / "segments-in" / f"{name}.json", lines)
    arn = engine.create_batch_segment_job(
        jobName=name,
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": f"s3://segments-in/{name}.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://segments-out/{name}/"}},
        roleArn=ROLE,
        **kwargs,
    )["batchSegmentJobArn"]
    engine.wait_for(arn, timeout=300)
    described = engine.describe_batch_segment_job(batchSegmentJobArn=arn)
    assert_output_shape("DescribeBatchSegmentJob", described)
    return described["batchSegmentJob"]


def segment_output(engine: Engine, name: str) -> list[dict]:
    path = engine.data_dir / "s3" / "segments-out" / name / f"{name}.json.out"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_item_affinity_segments_are_the_models_top_users(trained):
    engine, _, _, versions = trained
    items = ["i0001", "i0100", "i0555"]
    lines = [{"itemId": i} for i in items] + [{"itemId": "nope"}, {"userId": "u00001"}]
    job = run_segments(engine, "affinity", versions["affinity"], lines, numResults=40)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["numResults"] == 40
    out = segment_output(engine, "affinity")
    model = engine.version_model(engine.catalog.require(versions["affinity"], "solution-version"))
    for line, item in zip(out[:3], items, strict=True):
        users, _ = model.recipe.user_segments([np.array([model.items.dense(item)])], n=40)
        assert line["output"]["usersList"] == model.users.external(users[0])
        assert line["error"] is None and len(line["output"]["usersList"]) == 40
    assert out[3]["output"] is None and "unknown to the model" in out[3]["error"]
    assert "itemId" in out[4]["error"]
    listed = engine.list_batch_segment_jobs(solutionVersionArn=versions["affinity"])
    assert_output_shape("ListBatchSegmentJobs", listed)
    assert [j["jobName"] for j in listed["batchSegmentJobs"]] == ["affinity"]


def test_item_attribute_affinity_segments_and_user_filters(trained):
    engine, group, _, versions = trained
    gold = engine.create_filter(
        name="gold-members",
        datasetGroupArn=group,
        filterExpression='INCLUDE UserID WHERE Users.MEMBERSHIP_TIER IN ("gold")',
    )["filterArn"]
    queries = [
        'ITEMS.CATEGORY = "books"',
        'ITEMS.CATEGORY IN ("books", "toys_games") AND ITEMS.PRICE = 8.99',
        '(ITEMS.CATEGORY = "books" OR ITEMS.CATEGORY = "grocery")',
        'ITEMS.CATEGORY = "books" OR 1=1',
        "__import__('os').system('true')",
        'ITEMS.COLOUR = "red"',
        'ITEMS.DESCRIPTION = "novel"',
        'ITEMS.CATEGORY = "no-such-category"',
    ]
    job = run_segments(
        engine,
        "attributes",
        versions["attributes"],
        [{"itemAttributes": q} for q in queries],
        numResults=30,
        filterArn=gold,
    )
    assert job["status"] == "ACTIVE", job.get("failureReason")
    out = segment_output(engine, "attributes")
    model = engine.version_model(engine.catalog.require(versions["attributes"], "solution-version"))
    items = {
        row.split(",")[0]: row.split(",")
        for row in (ROOT / "data" / "sample" / "items.csv").read_text().splitlines()[1:]
    }
    tiers = dict(
        row.split(",")[0:3:2]
        for row in (ROOT / "data" / "sample" / "users.csv").read_text().splitlines()[1:]
    )
    gold_dense = np.array(
        [tiers.get(u) == "gold" for u in model.users.external(range(model.recipe.n_users))]
    )

    def expected(wanted) -> list[str]:
        dense = model.items.dense_many([i for i, row in items.items() if wanted(row)])
        scores = model.recipe.segment_scores([dense[(dense >= 0) & (dense < model.recipe.n_items)]])
        scores[0, ~gold_dense] = -np.inf
        order = np.argsort(-scores[0], kind="stable")[:30]
        return model.users.external(order)

    books = expected(lambda row: row[1] == "books")
    assert set(out[0]["output"]["usersList"]) == set(books)
    assert all(tiers[u] == "gold" for u in out[0]["output"]["usersList"])
    cheap = expected(lambda row: row[1] in ("books", "toys_games") and row[4] == "8.99")
    assert set(out[1]["output"]["usersList"]) == set(cheap)
    assert out[2]["error"] is None
    assert "expected ITEMS.<field>" in out[3]["error"]
    assert out[4]["output"] is None and "unexpected" in out[4]["error"]
    assert "COLOUR" in out[5]["error"]
    assert "textual" in out[6]["error"]
    assert "no item" in out[7]["error"]


def test_segment_jobs_need_an_affinity_recipe(trained):
    engine, _, _, versions = trained
    with pytest.raises(InvalidInputException, match="tailor-ease"):
        engine.create_batch_segment_job(
            jobName="wrong-recipe",
            solutionVersionArn=versions["ease"],
            jobInput={"s3DataSource": {"path": "s3://segments-in/affinity.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://segments-out/x/"}},
            roleArn=ROLE,
        )


def test_attribute_query_language():
    fields = {
        "CATEGORY": SchemaField("CATEGORY", "string", categorical=True),
        "PRICE": SchemaField("PRICE", "float"),
    }
    columns = {
        "CATEGORY": np.array(
            [frozenset({"a"}), frozenset({"b", "c"}), None, frozenset({"A"})], dtype=object
        ),
        "PRICE": np.array([1.0, 2.0, np.nan, 1.0]),
    }

    def run(text: str) -> list[bool]:
        return matching(parse_query(text, fields), columns, 4).tolist()

    assert run('ITEMS.CATEGORY = "a"') == [True, False, False, False]
    assert run('items.CATEGORY in ("c", "a")') == [True, True, False, False]
    assert run('ITEMS.CATEGORY = "a" OR ITEMS.PRICE = 2') == [True, True, False, False]
    assert run('ITEMS.PRICE = 1 AND (ITEMS.CATEGORY = "A" OR ITEMS.CATEGORY = "b")') == [
        False,
        False,
        False,
        True,
    ]
    assert run('ITEMS.CATEGORY = "say \\"hi\\""') == [False] * 4
    for bad, message in [
        ('ITEMS.CATEGORY = "a" AND', "found the end"),
        ('ITEMS.CATEGORY IN ("a"', "query ended"),
        ("ITEMS.CATEGORY = a", "quoted"),
        ('ITEMS.CATEGORY = "a")', "unexpected"),
        ('ITEMS.category = "a"', "did you mean CATEGORY"),
        ("ITEMS.CATEGORY = 3", "quote"),
        ("(" * 30 + 'ITEMS.CATEGORY = "a"' + ")" * 30, "deeper"),
        ('ITEMS.CATEGORY = "a"; DROP TABLE x', "unexpected"),
        ("", "non-empty"),
    ]:
        with pytest.raises(InvalidInputException, match=message):
            parse_query(bad, fields)


# --- over the wire -----------------------------------------------------------------------------


@pytest.mark.slow
def test_boto3_batch_jobs_against_tailor(tmp_path):
    data_dir = tmp_path / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        version = train(engine, group, "ease", EASE)
        affinity = train(engine, group, "affinity", AFFINITY)
    write_lines(data_dir / "s3" / "wire-in" / "users.json", [{"userId": "u00001"}, "oops"])
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tailor"),
            "api",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **TEST_KEY_ENV},
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        client = boto3.client(
            "personalize",
            endpoint_url=f"http://127.0.0.1:{port}/api",
            region_name="us-east-1",
            **CLIENT_CREDENTIALS,
        )
        arn = client.create_batch_inference_job(
            jobName="wire",
            solutionVersionArn=version,
            numResults=5,
            jobInput={"s3DataSource": {"path": "s3://wire-in/users.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://wire-out/"}},
            roleArn=ROLE,
        )["batchInferenceJobArn"]
        deadline = time.monotonic() + 120
        while True:
            job = client.describe_batch_inference_job(batchInferenceJobArn=arn)
            if job["batchInferenceJob"]["status"] in ("ACTIVE", "CREATE FAILED"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job["batchInferenceJob"]["status"] == "ACTIVE"
        assert job["batchInferenceJob"]["creationDateTime"].year >= 2025
        listed = client.list_batch_inference_jobs(solutionVersionArn=version)
        assert [j["jobName"] for j in listed["batchInferenceJobs"]] == ["wire"]
        written = (data_dir / "s3" / "wire-out" / "users.json.out").read_text().splitlines()
        assert len(json.loads(written[0])["output"]["recommendedItems"]) == 5
        assert json.loads(written[1])["error"]
        with pytest.raises(client.exceptions.InvalidInputException):
            client.create_batch_segment_job(
                jobName="wire-segments",
                solutionVersionArn=version,
                jobInput={"s3DataSource": {"path": "s3://wire-in/users.json"}},
                jobOutput={"s3DataDestination": {"path": "s3://wire-out/"}},
                roleArn=ROLE,
            )
        segments = client.create_batch_segment_job(
            jobName="wire-segments",
            solutionVersionArn=affinity,
            jobInput={"s3DataSource": {"path": "s3://wire-in/users.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://wire-out/segments/"}},
            roleArn=ROLE,
        )["batchSegmentJobArn"]
        assert client.list_batch_segment_jobs()["batchSegmentJobs"][0]["batchSegmentJobArn"] == (
            segments
        )
    finally:
        stop(proc)

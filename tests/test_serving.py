"""Campaigns and real-time recommendations on the sample store (issue 4, first part)."""

from __future__ import annotations

import os
import time

import boto3
import pytest

from engine import Engine, InvalidInputException, ResourceInUseException
from engine.sample_data import load_sample
from tests.helpers import CLIENT_CREDENTIALS, TEST_KEY_ENV
from tests.shapes import assert_output_shape
from tests.test_server import free_port, stop, wait_until_up

POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
EASE = "arn:aws:personalize:::recipe/tailor-ease"
SIMS = "arn:aws:personalize:::recipe/aws-sims"
RANKING = "arn:aws:personalize:::recipe/aws-personalized-ranking"


def wait(engine: Engine, arn: str, describe) -> dict:
    deadline = time.monotonic() + 300
    while True:
        found = describe(arn)
        if found["status"] in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED"):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def deploy(engine: Engine, group: str, name: str, recipe: str, **solution) -> str:
    """Train a solution with `recipe` and serve it from campaign `name`."""
    sol = engine.create_solution(name=name, datasetGroupArn=group, recipeArn=recipe, **solution)[
        "solutionArn"
    ]
    version = engine.create_solution_version(solutionArn=sol)["solutionVersionArn"]
    done = wait(
        engine,
        version,
        lambda a: engine.describe_solution_version(solutionVersionArn=a)["solutionVersion"],
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    campaign = engine.create_campaign(name=name, solutionVersionArn=version)["campaignArn"]
    active = wait(engine, campaign, lambda a: engine.describe_campaign(campaignArn=a)["campaign"])
    assert active["status"] == "ACTIVE", active.get("failureReason")
    return campaign


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with Engine(tmp_path_factory.mktemp("serving") / "d") as engine:
        group = load_sample(engine)
        campaigns = {
            "popular": deploy(engine, group, "popular", POPULARITY),
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
        yield engine, group, campaigns


def seen_items(engine: Engine, user: str) -> set[str]:
    with engine.store.cursor() as cur:
        dataset = next(
            d for d in engine.catalog.list("dataset") if d.spec["datasetType"] == "INTERACTIONS"
        )
        rows = cur.execute(
            f'SELECT DISTINCT "ITEM_ID" FROM ds_{dataset.id} WHERE "USER_ID" = ?', [user]
        ).fetchall()
    return {r[0] for r in rows}


def test_campaign_describe_and_list(served):
    engine, _, campaigns = served
    described = engine.describe_campaign(campaignArn=campaigns["ease"])
    assert_output_shape("DescribeCampaign", described)
    campaign = described["campaign"]
    assert campaign["minProvisionedTPS"] == 1
    assert campaign["campaignConfig"]["itemExplorationConfig"] == {
        "explorationWeight": "0.3",
        "explorationItemAgeCutOff": "30",
    }
    listed = engine.list_campaigns()
    assert_output_shape("ListCampaigns", listed)
    assert set(campaigns.values()) <= {c["campaignArn"] for c in listed["campaigns"]}


def test_recommendations_for_a_user_exclude_what_they_did(served):
    engine, _, campaigns = served
    answer = engine.get_recommendations(
        campaignArn=campaigns["ease"], userId="u00001", numResults=10
    )
    assert_output_shape("GetRecommendations", answer, service="personalize-runtime")
    items = [i["itemId"] for i in answer["itemList"]]
    assert len(items) == 10 and len(set(items)) == 10
    assert not set(items) & seen_items(engine, "u00001")
    scores = [i["score"] for i in answer["itemList"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1
    assert answer["recommendationId"].startswith("RID-")


def test_unknown_user_gets_popular_items(served):
    engine, _, campaigns = served
    popular = engine.get_recommendations(
        campaignArn=campaigns["popular"], userId="nobody", numResults=5
    )
    ease = engine.get_recommendations(campaignArn=campaigns["ease"], userId="nobody", numResults=5)
    assert [i["itemId"] for i in popular["itemList"]] == [i["itemId"] for i in ease["itemList"]]


def test_related_items_and_metadata(served):
    engine, _, campaigns = served
    answer = engine.get_recommendations(
        campaignArn=campaigns["sims"],
        itemId="i0001",
        numResults=5,
        metadataColumns={"ITEMS": ["CATEGORY"]},
    )
    assert len(answer["itemList"]) == 5
    assert all("CATEGORY" in i["metadata"] for i in answer["itemList"])
    assert "i0001" not in [i["itemId"] for i in answer["itemList"]]
    with pytest.raises(InvalidInputException, match="itemId is required"):
        engine.get_recommendations(campaignArn=campaigns["sims"], userId="u00001")


def test_personalized_ranking_puts_unknown_items_last(served):
    engine, _, campaigns = served
    answer = engine.get_personalized_ranking(
        campaignArn=campaigns["ranking"],
        userId="u00002",
        inputList=["i0003", "not-an-item", "i0010", "i0200"],
    )
    assert_output_shape("GetPersonalizedRanking", answer, service="personalize-runtime")
    ranking = answer["personalizedRanking"]
    assert ranking[-1] == {"itemId": "not-an-item"}
    assert {r["itemId"] for r in ranking[:3]} == {"i0003", "i0010", "i0200"}
    assert all("score" in r for r in ranking[:3])


def test_bad_requests(served):
    engine, _, campaigns = served
    with pytest.raises(InvalidInputException, match="numResults 501"):
        engine.get_recommendations(campaignArn=campaigns["ease"], userId="u1", numResults=501)
    with pytest.raises(InvalidInputException, match="userId is required"):
        engine.get_recommendations(campaignArn=campaigns["ease"])
    with pytest.raises(InvalidInputException, match="at most 500"):
        engine.get_personalized_ranking(
            campaignArn=campaigns["ranking"], userId="u1", inputList=[f"i{n}" for n in range(501)]
        )


def test_update_campaign_swaps_the_version(served):
    engine, group, campaigns = served
    solution = engine.create_solution(name="popular-2", datasetGroupArn=group, recipeArn=EASE)[
        "solutionArn"
    ]
    version = engine.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    wait(
        engine,
        version,
        lambda a: engine.describe_solution_version(solutionVersionArn=a)["solutionVersion"],
    )
    before = engine.get_recommendations(campaignArn=campaigns["popular"], userId="u00003")
    engine.update_campaign(campaignArn=campaigns["popular"], solutionVersionArn=version)
    during = engine.get_recommendations(campaignArn=campaigns["popular"], userId="u00003")
    assert during["itemList"]  # never fails while the new version loads
    wait(
        engine, campaigns["popular"], lambda a: engine.describe_campaign(campaignArn=a)["campaign"]
    )
    after = engine.get_recommendations(campaignArn=campaigns["popular"], userId="u00003")
    assert (
        engine.describe_campaign(campaignArn=campaigns["popular"])["campaign"]["solutionVersionArn"]
        == version
    )
    assert before["itemList"] != after["itemList"]


def test_campaign_needs_an_active_version(served):
    engine, group, _ = served
    solution = engine.create_solution(
        name="untrained", datasetGroupArn=group, recipeArn=POPULARITY
    )["solutionArn"]
    version = engine.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    engine.stop_solution_version_creation(solutionVersionArn=version)
    engine.wait_for(version)
    with pytest.raises(ResourceInUseException, match="ACTIVE solution version"):
        engine.create_campaign(name="too-early", solutionVersionArn=version)


@pytest.mark.slow
def test_boto3_runtime_client_against_tailor(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    data_dir = tmp_path / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        campaign = deploy(engine, group, "wire", EASE)
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
        runtime = boto3.client(
            "personalize-runtime",
            endpoint_url=f"http://127.0.0.1:{port}/api",
            region_name="us-east-1",
            **CLIENT_CREDENTIALS,
        )
        answer = runtime.get_recommendations(campaignArn=campaign, userId="u00010", numResults=7)
        assert len(answer["itemList"]) == 7
        ranked = runtime.get_personalized_ranking(
            campaignArn=campaign, userId="u00010", inputList=["i0001", "i0002", "zzz"]
        )
        assert ranked["personalizedRanking"][-1]["itemId"] == "zzz"
        with pytest.raises(runtime.exceptions.InvalidInputException):
            runtime.get_recommendations(campaignArn=campaign, userId="u1", numResults=900)
        with pytest.raises(runtime.exceptions.ResourceNotFoundException):
            runtime.get_recommendations(
                campaignArn="arn:aws:personalize:us-east-1:000000000000:campaign/none", userId="u1"
            )
    finally:
        stop(proc)


def test_filters_shape_recommendations(served):
    engine, group, campaigns = served
    with pytest.raises(InvalidInputException, match="position"):
        engine.create_filter(
            name="broken",
            datasetGroupArn=group,
            filterExpression='INCLUDE ItemID Items.CATEGORY IN ("books")',
        )
    with pytest.raises(InvalidInputException, match="COLOUR"):
        engine.create_filter(
            name="unknown-field",
            datasetGroupArn=group,
            filterExpression='INCLUDE ItemID WHERE Items.COLOUR IN ("red")',
        )
    arn = engine.create_filter(
        name="by-category",
        datasetGroupArn=group,
        filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORIES)",
    )["filterArn"]
    assert_output_shape("DescribeFilter", engine.describe_filter(filterArn=arn))
    assert_output_shape("ListFilters", engine.list_filters(datasetGroupArn=group))
    answer = engine.get_recommendations(
        campaignArn=campaigns["ease"],
        userId="u00004",
        numResults=10,
        filterArn=arn,
        filterValues={"CATEGORIES": '"books","grocery"'},
        metadataColumns={"ITEMS": ["CATEGORY"]},
    )
    categories = {i["metadata"]["CATEGORY"] for i in answer["itemList"]}
    assert len(answer["itemList"]) == 10 and categories <= {"books", "grocery"}
    with pytest.raises(InvalidInputException, match="CATEGORIES"):
        engine.get_recommendations(campaignArn=campaigns["ease"], userId="u00004", filterArn=arn)
    hostile = engine.get_recommendations(
        campaignArn=campaigns["ease"],
        userId="u00004",
        filterArn=arn,
        filterValues={"CATEGORIES": '"books\\") OR 1=1 --"'},
    )
    assert hostile["itemList"] == []  # no category has that name: nothing leaks through
    related = engine.get_recommendations(
        campaignArn=campaigns["sims"],
        itemId="i0001",
        numResults=5,
        filterArn=arn,
        filterValues={"CATEGORIES": '"books"'},
        metadataColumns={"ITEMS": ["CATEGORY"]},
    )
    assert {i["metadata"]["CATEGORY"] for i in related["itemList"]} == {"books"}

"""Promotions and cold-item exploration in GetRecommendations, on the sample store."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine import Engine, InvalidInputException
from engine.idmap import IdMap
from engine.sample_data import load_sample
from engine.serving.exploration import (
    DAY,
    ItemFacts,
    exploration_scores,
    percentile,
    promoted_count,
)
from tests.test_serving import EASE, deploy, seen_items, wait

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"


def items_table() -> dict[str, dict[str, str]]:
    with open(SAMPLE / "items.csv", newline="") as f:
        return {r["ITEM_ID"]: r for r in csv.DictReader(f)}


def latest_interaction() -> int:
    with open(SAMPLE / "interactions.csv", newline="") as f:
        return max(int(r["TIMESTAMP"]) for r in csv.DictReader(f))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with Engine(tmp_path_factory.mktemp("promo") / "d") as engine:
        group = load_sample(engine)
        campaign = deploy(engine, group, "ease", EASE)
        yield engine, group, campaign


def new_campaign(engine: Engine, campaign: str, name: str, **config) -> str:
    version = engine.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"]
    arn = engine.create_campaign(name=name, solutionVersionArn=version, campaignConfig=config)[
        "campaignArn"
    ]
    wait(engine, arn, lambda a: engine.describe_campaign(campaignArn=a)["campaign"])
    return arn


def test_promotion_places_filtered_items_among_the_others(store):
    engine, group, campaign = store
    books = engine.create_filter(
        name="promo-books",
        datasetGroupArn=group,
        filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATS)",
    )["filterArn"]
    user = "u00300"
    plain = engine.get_recommendations(campaignArn=campaign, userId=user, numResults=40)
    promo = {
        "name": "books-week",
        "percentPromotedItems": 20,
        "filterArn": books,
        "filterValues": {"CATS": '"books"'},
    }
    answer = engine.get_recommendations(
        campaignArn=campaign, userId=user, numResults=10, promotions=[promo]
    )
    items = items_table()
    promoted = [i for i in answer["itemList"] if i.get("promotionName") == "books-week"]
    assert len(promoted) == promoted_count(10, 20) == 2
    assert all(items[i["itemId"]]["CATEGORY"] == "books" for i in promoted)
    assert all(i["reason"] == ["Promoted item"] for i in promoted)
    assert not {i["itemId"] for i in answer["itemList"]} & seen_items(engine, user)
    # The promoted items are the user's best books; the rest is the plain list, in order.
    ranked = [i["itemId"] for i in plain["itemList"]]
    best_books = [i for i in ranked if items[i]["CATEGORY"] == "books"][:2]
    assert [i["itemId"] for i in promoted] == best_books
    others = [i["itemId"] for i in answer["itemList"] if "promotionName" not in i]
    assert others == [i for i in ranked if i not in best_books][:8]
    assert len(answer["itemList"]) == 10


def test_promotion_errors(store):
    engine, _, campaign = store
    with pytest.raises(InvalidInputException, match="filterArn"):
        engine.get_recommendations(
            campaignArn=campaign,
            userId="u00001",
            promotions=[{"name": "p", "percentPromotedItems": 10}],
        )
    with pytest.raises(InvalidInputException, match="percentPromotedItems"):
        engine.get_recommendations(
            campaignArn=campaign,
            userId="u00001",
            promotions=[{"name": "p", "percentPromotedItems": 101, "filterArn": campaign}],
        )


def test_exploration_weight_one_fills_the_list_with_cold_items(store):
    engine, group, campaign = store
    exploring = new_campaign(
        engine,
        campaign,
        "explore-all",
        itemExplorationConfig={"explorationWeight": "1", "explorationItemAgeCutOff": "30"},
    )
    answer = engine.get_recommendations(campaignArn=exploring, userId="u00010", numResults=10)
    assert all(entry["reason"] == ["Exploration"] for entry in answer["itemList"])
    facts = engine.item_facts(engine.campaign_model(exploring))
    fresh = facts.freshness(30.0)
    dense = facts.items.dense_many([i["itemId"] for i in answer["itemList"]])
    assert np.all(fresh[dense] > 0)
    # The freshest come first at weight 1.
    assert list(fresh[dense]) == sorted(fresh[dense], reverse=True)


def test_exploration_blends_in_a_new_item(store):
    engine, group, campaign = store
    exploring = new_campaign(
        engine,
        campaign,
        "explore-some",
        itemExplorationConfig={"explorationWeight": "0.6", "explorationItemAgeCutOff": "10"},
    )
    items = next(
        d["datasetArn"]
        for d in engine.list_datasets(datasetGroupArn=group)["datasets"]
        if d["datasetType"] == "ITEMS"
    )
    engine.put_items(
        datasetArn=items,
        items=[
            {
                "itemId": "brand-new",
                "properties": json.dumps(
                    {
                        "category": "books",
                        "subCategory": "fiction",
                        "brand": "New House",
                        "price": 10.0,
                        "creationTimestamp": latest_interaction(),
                    }
                ),
            }
        ],
    )
    answer = engine.get_recommendations(campaignArn=exploring, userId="u00011", numResults=25)
    by_id = {i["itemId"]: i for i in answer["itemList"]}
    assert "brand-new" in by_id  # unknown to the model, but fresh: explored
    assert by_id["brand-new"]["reason"] == ["Exploration"]
    assert "score" not in by_id["brand-new"]
    reasons = [i.get("reason") for i in answer["itemList"]]
    assert None in reasons  # relevant warm items stay
    # The plain campaign never shows the unknown item and gives no reasons.
    plain = engine.get_recommendations(campaignArn=campaign, userId="u00011", numResults=25)
    assert all("reason" not in i for i in plain["itemList"])
    assert "brand-new" not in {i["itemId"] for i in plain["itemList"]}


def test_user_personalization_explores_by_default(store):
    engine, group, _ = store
    campaign = deploy(
        engine,
        group,
        "up",
        USER_PERSONALIZATION,
        solutionConfig={"algorithmHyperParameters": {"epochs": "3", "no_components": "16"}},
    )
    config = engine.describe_campaign(campaignArn=campaign)["campaign"]["campaignConfig"]
    assert config["itemExplorationConfig"] == {
        "explorationWeight": "0.3",
        "explorationItemAgeCutOff": "30",
    }
    explored = 0
    for user in ("u00020", "u00021", "u00022", "u00023", "u00024"):
        answer = engine.get_recommendations(campaignArn=campaign, userId=user, numResults=25)
        explored += sum(i.get("reason") == ["Exploration"] for i in answer["itemList"])
    assert 0 < explored < 5 * 25
    engine.update_campaign(
        campaignArn=campaign,
        campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}},
    )
    answer = engine.get_recommendations(campaignArn=campaign, userId="u00020", numResults=25)
    assert all("reason" not in i for i in answer["itemList"])


def test_exploration_math():
    assert list(percentile(np.array([3.0, -np.inf, 1.0, 2.0]))[[0, 2, 3]]) == [1.0, 0.0, 0.5]
    rel = np.array([5.0, 4.0, 3.0])
    candidates = np.array([True, True, True, True])
    fresh = np.array([0.0, 0.0, 1.0, 1.0])
    none = exploration_scores(rel, candidates, fresh, 0.0)
    assert np.argmax(none) == 0
    full = exploration_scores(rel, candidates, fresh, 1.0)
    assert set(np.flatnonzero(full == full.max())) == {2, 3}
    assert exploration_scores(rel, np.array([True, False, True, False]), fresh, 0.5)[1] == -np.inf
    facts = ItemFacts(
        IdMap(["a", "b", "c"]),
        np.array([0, 100 * DAY, 99 * DAY]),
        np.array([50, 50, 0]),
        100 * DAY,
    )
    assert list(facts.freshness(10.0)) == [0.0, 1.0, 1.0]


def test_a_new_user_gets_popular_items_shaped_by_their_metadata(store):
    engine, group, _ = store
    campaign = engine.list_campaigns()["campaigns"]
    up = next((c["campaignArn"] for c in campaign if c["name"] == "up"), None)
    if up is None:
        up = deploy(
            engine,
            group,
            "up",
            USER_PERSONALIZATION,
            solutionConfig={"algorithmHyperParameters": {"epochs": "3", "no_components": "16"}},
        )
    users = next(
        d["datasetArn"]
        for d in engine.list_datasets(datasetGroupArn=group)["datasets"]
        if d["datasetType"] == "USERS"
    )
    profiles = {
        "new-young": {"ageBand": "18-24", "membershipTier": "bronze", "region": "west"},
        "new-senior": {"ageBand": "55+", "membershipTier": "bronze", "region": "west"},
    }
    engine.put_users(
        datasetArn=users,
        users=[{"userId": u, "properties": json.dumps(p)} for u, p in profiles.items()],
    )
    engine.update_campaign(
        campaignArn=up, campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}}
    )
    items = items_table()

    def shares(user: str) -> Counter:
        answer = engine.get_recommendations(campaignArn=up, userId=user, numResults=50)
        return Counter(items[i["itemId"]]["CATEGORY"] for i in answer["itemList"])

    young, senior, nobody = shares("new-young"), shares("new-senior"), shares("stranger")
    # The sample plants: 18-24 favour electronics and toys; 55+ books and home & garden.
    assert young["electronics"] + young["toys_games"] > senior["electronics"] + senior["toys_games"]
    assert senior["books"] + senior["home_garden"] > young["books"] + young["home_garden"]
    assert young != nobody and senior != nobody

"""Fixtures of the dashboard tests: one sample store for the whole session, registered as the
process's Engine so AppTest pages find it, with a few trained solution versions."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from engine import Engine, runtime
from engine.sample_data import load_sample

POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
EASE = "arn:aws:personalize:::recipe/tailor-ease"
SIMS = "arn:aws:personalize:::recipe/aws-sims"


def train(engine: Engine, group: str, name: str, recipe: str, **solution) -> str:
    """Train a solution version and return its ARN (ACTIVE)."""
    arn = engine.create_solution(name=name, datasetGroupArn=group, recipeArn=recipe, **solution)[
        "solutionArn"
    ]
    version = engine.create_solution_version(solutionArn=arn)["solutionVersionArn"]
    status = engine.wait_for(version)
    assert status["status"] == "ACTIVE", status
    return version


def serve(engine: Engine, name: str, version: str) -> str:
    """A campaign of a version, once ACTIVE."""
    arn = engine.create_campaign(name=name, solutionVersionArn=version)["campaignArn"]
    deadline = time.monotonic() + 120
    while engine.describe_campaign(campaignArn=arn)["campaign"]["status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return arn


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> Iterator[dict]:
    """The sample store (group `sample`) with popularity, EASE and SIMS versions and a
    campaign for each. Use `app` in page tests: it registers this Engine for AppTest."""
    with Engine(tmp_path_factory.mktemp("dashboard") / "d") as engine:
        group = load_sample(engine)
        versions = {
            "popular": train(engine, group, "popular", POPULARITY),
            "ease": train(engine, group, "ease", EASE),
            "sims": train(engine, group, "sims", SIMS),
        }
        campaigns = {name: serve(engine, name, arn) for name, arn in versions.items()}
        yield {"engine": engine, "group": group, "versions": versions, "campaigns": campaigns}


@pytest.fixture
def app(sample) -> Iterator[dict]:
    """`sample`, registered as the process's Engine while one test runs (AppTest pages run
    in this process and find it through `engine.runtime`)."""
    runtime.register(sample["engine"])
    try:
        yield sample
    finally:
        runtime.unregister()

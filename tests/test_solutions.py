"""Recipes, solutions and solution versions through the Engine, on the sample store (issue 3)."""

from __future__ import annotations

import json
import time

import pytest

from engine import (
    Engine,
    InvalidInputException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from engine.artifacts import ArtifactError, load_model
from engine.recipes import RECIPES
from engine.sample_data import load_sample
from tests.helpers import HEADER, INTERACTIONS_SCHEMA, interaction_rows, make_dataset, write_csv
from tests.shapes import assert_output_shape

POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
EASE = "arn:aws:personalize:::recipe/tailor-ease"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """An Engine holding the sample store (dataset group `sample`)."""
    with Engine(tmp_path_factory.mktemp("solutions") / "d") as engine:
        group = load_sample(engine)
        yield engine, group


def train(engine: Engine, solution_arn: str, **kwargs) -> str:
    arn = engine.create_solution_version(solutionArn=solution_arn, **kwargs)["solutionVersionArn"]
    deadline = time.monotonic() + 300
    while engine.job_progress(arn)["status"] not in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED"):
        assert time.monotonic() < deadline, engine.job_progress(arn)
        time.sleep(0.1)
    return arn


def test_list_and_describe_recipes(shop):
    engine, _ = shop
    listed = engine.list_recipes()
    assert_output_shape("ListRecipes", listed)
    arns = {r["recipeArn"] for r in listed["recipes"]}
    assert arns == set(RECIPES)
    recipe = engine.describe_recipe(recipeArn=EASE)
    assert_output_shape("DescribeRecipe", recipe)
    assert recipe["recipe"]["recipeType"] == "USER_PERSONALIZATION"
    algorithm = engine.describe_algorithm(algorithmArn=recipe["recipe"]["algorithmArn"])
    assert_output_shape("DescribeAlgorithm", algorithm)
    ranges = algorithm["algorithm"]["defaultHyperParameterRanges"]
    assert any(
        r["name"] == "l2_lambda"
        for r in ranges["continuousHyperParameterRanges"] + ranges["integerHyperParameterRanges"]
    )
    with pytest.raises(ResourceNotFoundException, match="aws-hrnn"):
        engine.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-hrnn")


def test_solution_lifecycle_metrics_and_model(shop):
    engine, group = shop
    arn = engine.create_solution(name="popular", datasetGroupArn=group, recipeArn=POPULARITY)[
        "solutionArn"
    ]
    described = engine.describe_solution(solutionArn=arn)
    assert_output_shape("DescribeSolution", described)
    assert described["solution"]["status"] == "ACTIVE"
    version = train(engine, arn)
    info = engine.describe_solution_version(solutionVersionArn=version)
    assert_output_shape("DescribeSolutionVersion", info)
    assert info["solutionVersion"]["status"] == "ACTIVE"
    assert info["solutionVersion"]["trainingHours"] > 0
    metrics = engine.get_solution_metrics(solutionVersionArn=version)
    assert_output_shape("GetSolutionMetrics", metrics)
    for name in (
        "coverage",
        "mean_reciprocal_rank_at_25",
        "normalized_discounted_cumulative_gain_at_5",
        "normalized_discounted_cumulative_gain_at_10",
        "normalized_discounted_cumulative_gain_at_25",
        "precision_at_5",
        "precision_at_10",
        "precision_at_25",
        "recall_at_25",
        "novelty_at_25",
        "popularity_bias_at_25",
        "training_seconds",
    ):
        assert name in metrics["metrics"], name
    assert 0 < metrics["metrics"]["normalized_discounted_cumulative_gain_at_10"] < 1
    latest = engine.describe_solution(solutionArn=arn)["solution"]["latestSolutionVersion"]
    assert latest["solutionVersionArn"] == version and latest["status"] == "ACTIVE"
    listed = engine.list_solution_versions(solutionArn=arn)
    assert_output_shape("ListSolutionVersions", listed)
    assert [v["solutionVersionArn"] for v in listed["solutionVersions"]] == [version]
    assert version.startswith(arn + "/")
    model = load_model(engine.data_dir / "artifacts", version.rsplit("/", 1)[1])
    assert model.recipe_arn == POPULARITY


def test_automl_trains_every_candidate_and_keeps_the_best(shop):
    engine, group = shop
    arn = engine.create_solution(
        name="auto",
        datasetGroupArn=group,
        performAutoML=True,
        solutionConfig={
            "autoMLConfig": {"metricName": "precision_at_10", "recipeList": [POPULARITY, EASE]}
        },
    )["solutionArn"]
    version = train(engine, arn)
    assert (
        engine.describe_solution_version(solutionVersionArn=version)["solutionVersion"]["status"]
        == "ACTIVE"
    )
    candidates = engine.get_solution_version_candidates(solutionVersionArn=version)
    assert {c["recipeArn"] for c in candidates} == {POPULARITY, EASE}
    best = max(candidates, key=lambda c: c["metrics"]["precision_at_10"])
    solution = engine.describe_solution(solutionArn=arn)["solution"]
    assert solution["autoMLResult"]["bestRecipeArn"] == best["recipeArn"]
    metrics = engine.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert metrics["precision_at_10"] == pytest.approx(best["metrics"]["precision_at_10"])


def test_hpo_runs_the_asked_trials_and_records_the_tuned_values(shop):
    engine, group = shop
    arn = engine.create_solution(
        name="tuned",
        datasetGroupArn=group,
        recipeArn=EASE,
        performHPO=True,
        solutionConfig={
            "hpoConfig": {
                "hpoResourceConfig": {
                    "maxNumberOfTrainingJobs": "3",
                    "maxParallelTrainingJobs": "2",
                },
                "algorithmHyperParameterRanges": {
                    "continuousHyperParameterRanges": [
                        {"name": "l2_lambda", "minValue": 10, "maxValue": 2000}
                    ]
                },
            }
        },
    )["solutionArn"]
    version = train(engine, arn)
    info = engine.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert info["status"] == "ACTIVE", info.get("failureReason")
    tuned = float(info["tunedHPOParams"]["algorithmHyperParameters"]["l2_lambda"])
    assert 10 <= tuned <= 2000
    assert engine.job_progress(version)["trials"] == 3


def test_bad_solution_configurations_are_rejected(shop):
    engine, group = shop
    cases = [
        (
            {"recipeArn": "arn:aws:personalize:::recipe/aws-nothing"},
            ResourceNotFoundException,
            "aws-nothing",
        ),
        ({}, InvalidInputException, "recipeArn is required"),
        ({"recipeArn": EASE, "performAutoML": True}, InvalidInputException, "must be omitted"),
        (
            {"recipeArn": EASE, "solutionConfig": {"algorithmHyperParameters": {"depth": "3"}}},
            InvalidInputException,
            "'depth' is not a hyperparameter",
        ),
        (
            {
                "recipeArn": EASE,
                "solutionConfig": {"algorithmHyperParameters": {"l2_lambda": "-5"}},
            },
            InvalidInputException,
            "l2_lambda",
        ),
        (
            {
                "recipeArn": EASE,
                "performHPO": True,
                "solutionConfig": {
                    "hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "99"}}
                },
            },
            InvalidInputException,
            "from 1 to 40",
        ),
        (
            {
                "recipeArn": EASE,
                "performHPO": True,
                "solutionConfig": {
                    "hpoConfig": {
                        "algorithmHyperParameterRanges": {
                            "integerHyperParameterRanges": [
                                {"name": "colour", "minValue": 1, "maxValue": 2}
                            ]
                        }
                    }
                },
            },
            InvalidInputException,
            "'colour' is not a hyperparameter",
        ),
        (
            {"performAutoML": True, "solutionConfig": {"autoMLConfig": {"metricName": "auc"}}},
            InvalidInputException,
            "metricName",
        ),
    ]
    for i, (kwargs, error, message) in enumerate(cases):
        with pytest.raises(error, match=message):
            engine.create_solution(name=f"bad-{i}", datasetGroupArn=group, **kwargs)


def test_training_below_the_minimums_fails_with_the_numbers(tmp_path):
    with Engine(tmp_path / "d") as engine:
        group = engine.create_dataset_group(name="tiny")["datasetGroupArn"]
        dataset = make_dataset(engine, group, "Interactions", INTERACTIONS_SCHEMA)
        path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(600, users=20))
        job = engine.create_dataset_import_job(
            jobName="j", datasetArn=dataset, dataSource={"dataLocation": str(path)}
        )
        engine.wait_for(job["datasetImportJobArn"])
        arn = engine.create_solution(name="s", datasetGroupArn=group, recipeArn=POPULARITY)[
            "solutionArn"
        ]
        version = train(engine, arn)
        info = engine.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert info["status"] == "CREATE FAILED"
    assert "600 interactions (at least 1,000 are needed)" in info["failureReason"]
    assert "20 users with at least 2 interactions (at least 25" in info["failureReason"]


def test_event_type_filter_applies_to_training(shop):
    engine, group = shop
    arn = engine.create_solution(
        name="buyers", datasetGroupArn=group, recipeArn=POPULARITY, eventType="purchase"
    )["solutionArn"]
    version = train(engine, arn)
    info = engine.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert info["status"] == "ACTIVE", info.get("failureReason")
    assert info["eventType"] == "purchase"


def test_stop_a_training_version(shop):
    engine, group = shop
    arn = engine.create_solution(
        name="stoppable",
        datasetGroupArn=group,
        recipeArn=EASE,
        performHPO=True,
        solutionConfig={
            "hpoConfig": {
                "hpoResourceConfig": {
                    "maxNumberOfTrainingJobs": "40",
                    "maxParallelTrainingJobs": "1",
                }
            }
        },
    )["solutionArn"]
    version = engine.create_solution_version(solutionArn=arn)["solutionVersionArn"]
    with pytest.raises(ResourceInUseException, match="already has a version training"):
        engine.create_solution_version(solutionArn=arn)
    engine.stop_solution_version_creation(solutionVersionArn=version)
    status = engine.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert status["status"] in ("CREATE STOPPING", "CREATE STOPPED")
    engine.wait_for(version, timeout=120)
    final = engine.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert final["status"] == "CREATE STOPPED"
    with pytest.raises(ResourceInUseException, match="CREATE STOPPED"):
        engine.get_solution_metrics(solutionVersionArn=version)


def test_a_tampered_model_is_refused(shop):
    engine, group = shop
    arn = engine.create_solution(name="tamper", datasetGroupArn=group, recipeArn=POPULARITY)[
        "solutionArn"
    ]
    version = train(engine, arn)
    folder = engine.data_dir / "artifacts" / version.rsplit("/", 1)[1]
    with open(folder / "model.npz", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match="checksum"):
        load_model(engine.data_dir / "artifacts", folder.name)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.npz", "recipe.json"}


def test_delete_solution_removes_versions_and_models(shop):
    engine, group = shop
    arn = engine.create_solution(name="gone", datasetGroupArn=group, recipeArn=POPULARITY)[
        "solutionArn"
    ]
    version = train(engine, arn)
    folder = engine.data_dir / "artifacts" / version.rsplit("/", 1)[1]
    assert folder.exists()
    engine.delete_solution(solutionArn=arn)
    assert not folder.exists()
    with pytest.raises(ResourceNotFoundException):
        engine.describe_solution_version(solutionVersionArn=version)
    listed = engine.list_solutions(datasetGroupArn=group)
    assert_output_shape("ListSolutions", listed)
    assert arn not in [s["solutionArn"] for s in listed["solutions"]]


def test_update_mode_only_for_user_personalization(shop):
    engine, group = shop
    arn = engine.create_solution(name="no-update", datasetGroupArn=group, recipeArn=POPULARITY)[
        "solutionArn"
    ]
    with pytest.raises(InvalidInputException, match="UPDATE is only for"):
        engine.create_solution_version(solutionArn=arn, trainingMode="UPDATE")


def test_interrupted_training_is_failed_on_reopen(tmp_path):
    with Engine(tmp_path / "d") as engine:
        engine.catalog.insert(
            "solution-version",
            "arn:x/solution/s/1",
            "1",
            parent_arn="arn:x/solution/s",
            status="CREATE IN_PROGRESS",
            spec={},
        )
    with Engine(tmp_path / "d") as engine:
        again = engine.catalog.get("arn:x/solution/s/1")
    assert again.status == "CREATE FAILED" and "Interrupted" in again.failure_reason


def test_algorithm_hyperparameters_reach_the_model(shop):
    engine, group = shop
    arn = engine.create_solution(
        name="fixed-lambda",
        datasetGroupArn=group,
        recipeArn=EASE,
        solutionConfig={"algorithmHyperParameters": {"l2_lambda": "50"}},
    )["solutionArn"]
    version = train(engine, arn)
    info = engine.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert info["tunedHPOParams"]["algorithmHyperParameters"]["l2_lambda"] == "50.0"
    model = load_model(engine.data_dir / "artifacts", version.rsplit("/", 1)[1])
    assert model.config.l2_lambda == 50.0

"""The Train page: its data shaping and charts without Streamlit, and under AppTest on the
sample store (launching a training from the page, the metrics table against
get_solution_metrics, stopping a run, the history)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts import train as charts

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "train.py")
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
EASE = "arn:aws:personalize:::recipe/tailor-ease"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=120)


def frames(at: AppTest, *columns: str) -> list:
    return [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]


# --- shaping and charts -----------------------------------------------------------------------


def rows() -> list[dict]:
    return [
        {
            "solution": "pop",
            "version": "arn:aws:personalize:us-east-1:0:solution/pop/aaaa",
            "recipe": POPULARITY,
            "status": "ACTIVE",
            "created": T0,
            "metrics": {"coverage": 0.1, "normalized_discounted_cumulative_gain_at_10": 0.05},
        },
        {
            "solution": "ease",
            "version": "arn:aws:personalize:us-east-1:0:solution/ease/bbbb",
            "recipe": EASE,
            "status": "ACTIVE",
            "created": T0 + timedelta(hours=1),
            "metrics": {"coverage": 0.3, "normalized_discounted_cumulative_gain_at_10": 0.07},
        },
        {
            "solution": "ease",
            "version": "arn:aws:personalize:us-east-1:0:solution/ease/cccc",
            "recipe": EASE,
            "status": "CREATE FAILED",
            "created": T0 + timedelta(hours=2),
            "failure": "Not enough data",
        },
    ]


def test_versions_frame_has_one_row_per_version_and_a_column_per_metric():
    frame = charts.versions_frame(rows())
    assert frame["version_id"].to_list() == ["cccc", "bbbb", "aaaa"]  # newest first
    assert frame.columns[-2:] == ["normalized_discounted_cumulative_gain_at_10", "coverage"]
    assert frame.filter(pl.col("version_id") == "cccc")["coverage"][0] is None
    assert charts.versions_frame([]).is_empty()


def test_metric_bars_one_panel_per_metric_one_colour_per_recipe():
    long = charts.metrics_long(
        charts.versions_frame(rows()),
        ["normalized_discounted_cumulative_gain_at_10", "coverage"],
    )
    assert set(long["metric"]) == {"NDCG@10", "Coverage"}
    assert long.height == 4  # the failed version has no metrics
    figure = charts.metric_bars(long)
    assert [a.text for a in figure.layout.annotations] == ["NDCG@10", "Coverage"]
    ndcg = [t for t in figure.data if t.xaxis == "x"]
    assert {t.name: list(t.y) for t in ndcg} == {
        "aws-popularity-count": [0.05],
        "tailor-ease": [0.07],
    }
    assert figure.layout.yaxis.range[1] == pytest.approx(0.07 * 1.2)
    assert not charts.metric_bars(charts.metrics_long(charts.versions_frame([]), [])).data


def test_metric_history_draws_a_line_per_solution():
    long = charts.metrics_long(charts.versions_frame(rows()), ["coverage"])
    figure = charts.metric_history(long, "Coverage")
    assert sorted(t.name for t in figure.data) == ["ease", "pop"]


def test_candidates_frame_marks_the_recipe_automl_keeps():
    candidates = [
        {"recipeArn": POPULARITY, "metrics": {"precision_at_10": 0.02}, "params": {}, "trials": 0},
        {"recipeArn": EASE, "metrics": {"precision_at_10": 0.03}, "params": {"l2_lambda": "300"}},
    ]
    frame = charts.candidates_frame(candidates, "precision_at_10")
    assert frame["chosen"].to_list() == [False, True]
    assert frame["hyperparameters"].to_list() == ["defaults", "l2_lambda=300"]
    figure = charts.candidate_bars(frame, "Precision@10")
    assert list(figure.data[0].marker.color) == ["#B0B7C3", "#54A24B"]


def test_hyperparameter_tables_follow_describe_algorithm(sample):
    engine = sample["engine"]
    algorithm = engine.describe_algorithm(
        algorithmArn="arn:aws:personalize:::algorithm/aws-user-personalization"
    )["algorithm"]
    hp = charts.hyperparameters(algorithm)
    kinds = dict(zip(hp["name"], hp["kind"], strict=True))
    assert kinds["epochs"] == "int" and kinds["learning_rate"] == "float"
    assert kinds["loss"] == "categorical" and kinds["random_state"] == "text"
    numeric, categorical = charts.hpo_tables(hp)
    epochs = numeric.filter(pl.col("hyperparameter") == "epochs").row(0, named=True)
    assert (epochs["from"], epochs["to"]) == (2.0, 200.0)  # a tenth to ten times the default 20
    assert categorical["values"].to_list() == ["warp, bpr"]
    ranges = charts.hpo_ranges(
        hp,
        numeric.with_columns(tune=pl.col("hyperparameter").is_in(["epochs", "learning_rate"])),
        categorical,
    )
    assert ranges == {
        "integerHyperParameterRanges": [{"name": "epochs", "minValue": 2, "maxValue": 200}],
        "continuousHyperParameterRanges": [
            {"name": "learning_rate", "minValue": 0.005, "maxValue": 0.5}
        ],
        "categoricalHyperParameterRanges": [{"name": "loss", "values": ["warp", "bpr"]}],
    }
    edited = hp.select(pl.col("name").alias("hyperparameter"), pl.col("default").alias("value"))
    edited = edited.with_columns(
        value=pl.when(pl.col("hyperparameter") == "epochs").then(pl.lit("5")).otherwise("value")
    )
    assert charts.changed_values(hp, edited) == {"epochs": "5"}


def test_events_config_only_when_the_table_was_changed():
    table = charts.events_table({"view": 100, "purchase": 5})
    assert charts.events_config(table) is None
    weighted = table.with_columns(
        weight=pl.when(pl.col("event type") == "view").then(0.2).otherwise(1.0),
        **{"minimum value": pl.when(pl.col("event type") == "purchase").then(10.0)},
    )
    assert charts.events_config(weighted) == {
        "eventParametersList": [
            {"eventType": "view", "weight": 0.2},
            {"eventType": "purchase", "weight": 1.0, "eventValueThreshold": 10.0},
        ]
    }
    only_purchases = table.with_columns(use=pl.col("event type") == "purchase")
    assert charts.events_config(only_purchases) == {
        "eventParametersList": [{"eventType": "purchase", "weight": 1.0}]
    }


# --- the page ---------------------------------------------------------------------------------


def test_train_page_renders_the_launch_form(app):
    at = page().run()
    assert not at.exception
    assert at.title[0].value == "Train"
    assert at.selectbox(key="train-group").value == app["group"]
    assert at.selectbox(key="train-recipe").value == EASE
    (events,) = frames(at, "event type", "weight")
    assert sorted(events["event type"]) == ["add_to_cart", "purchase", "view"]
    assert at.button(key="train-launch").label == "Start training"


def test_launching_popularity_from_the_page_trains_a_version_with_its_metrics(app):
    engine, group = app["engine"], app["group"]
    at = page().run()
    at.selectbox(key="train-recipe").set_value(POPULARITY)
    at.text_input(key="train-name").input("page-popular")
    at.button(key="train-launch").click().run()
    assert not at.exception and not at.error
    solution = next(
        s
        for s in engine.list_solutions(datasetGroupArn=group)["solutions"]
        if s["name"] == "page-popular"
    )
    assert solution["recipeArn"] == POPULARITY
    (version,) = engine.list_solution_versions(solutionArn=solution["solutionArn"])[
        "solutionVersions"
    ]
    arn = version["solutionVersionArn"]
    assert engine.wait_for(arn)["status"] == "ACTIVE"

    at.session_state["train-view"] = "Results"
    at.run()
    assert not at.exception
    assert any("page-popular" in s.value and "finished" in s.value for s in at.success)
    (table,) = frames(at, "version", "normalized_discounted_cumulative_gain_at_10")
    row = table[table["version"] == arn].iloc[0]
    metrics = engine.get_solution_metrics(solutionVersionArn=arn)["metrics"]
    for name, value in metrics.items():
        assert row[name] == pytest.approx(value), name
    assert row["recipe"] == "aws-popularity-count"

    at.session_state["train-view"] = "History"
    at.run()
    assert not at.exception
    (runs,) = frames(at, "status", "failure")
    assert runs[runs["solution"] == "page-popular"]["status"].tolist() == ["ACTIVE"]


def test_a_bad_name_says_why_instead_of_failing(app):
    at = page().run()
    at.selectbox(key="train-recipe").set_value(POPULARITY)
    at.text_input(key="train-name").input("popular")  # the conftest's solution has it
    at.button(key="train-launch").click().run()
    assert not at.exception
    assert "already exists" in at.error[0].value


def test_a_running_version_shows_progress_and_can_be_stopped(app):
    engine, group = app["engine"], app["group"]
    solution = engine.create_solution(
        name="page-stop",
        datasetGroupArn=group,
        recipeArn=EASE,
        performHPO=True,
        solutionConfig={"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "40"}}},
    )["solutionArn"]
    arn = engine.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    deadline = time.monotonic() + 60
    while engine.job_progress(arn)["status"] == "CREATE PENDING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    at = page().run()
    assert not at.exception
    assert any("page-stop" in s.label for s in at.status)
    at.button(key=f"stop-{arn}").click().run()
    assert not at.exception and not at.error
    assert engine.wait_for(arn)["status"] == "CREATE STOPPED"
    at.run()
    assert any("page-stop" in w.value and "stopped" in w.value for w in at.warning)


@pytest.fixture
def empty(engine):
    """A data directory without dataset groups, registered for AppTest."""
    from engine import runtime

    runtime.register(engine)
    yield engine
    runtime.unregister()


def test_train_page_without_groups_says_how_to_start(empty):
    at = page().run()
    assert not at.exception
    assert "tailor init --sample" in at.info[0].value


def test_train_page_of_a_group_without_versions_points_to_new_training(empty, tmp_path):
    empty.create_dataset_group(name="fresh")
    at = page().run()
    at.session_state["train-view"] = "Results"
    at.run()
    assert not at.exception
    assert "start one under **New training**" in at.info[0].value


def test_the_progress_bar_counts_candidates_and_trials():
    recipes = ["r1", "r2"]
    assert charts.shown_fraction({"fraction": 0.4, "step": "epoch 4"}, []) == 0.4
    assert charts.shown_fraction({"candidate": "r1", "trial": 0, "trials": 4}, recipes) == 0.0
    assert charts.shown_fraction(
        {"candidate": "r2", "trial": 2, "trials": 4}, recipes
    ) == pytest.approx(0.95 * 1.5 / 2)
    assert charts.shown_fraction({"candidate": "r2", "step": "evaluating r2"}, recipes) == (
        pytest.approx(0.95 / 2)
    )
    assert charts.shown_fraction({"step": "training the final model"}, recipes) == 0.95
    assert charts.shown_fraction({"step": "done", "fraction": 1.0}, recipes) == 1.0

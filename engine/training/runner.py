"""Runs one solution version: data, minimums, HPO/AutoML, offline metrics, final model.

Status goes CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE, or CREATE FAILED with a reason,
or CREATE STOPPING -> CREATE STOPPED when stopped. Metrics follow Personalize's protocol:
10% of users are held out; the newest 10% of each one's events are the truth. The model that
is kept is then fitted on all the data with the chosen recipe and hyperparameters.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from engine.artifacts import save_model
from engine.errors import InvalidInputException
from engine.recipes import AUTOML_DEFAULT, recipe_class
from engine.recipes.base import TrainingData, TrainingStopped
from engine.training import hpo
from engine.training.automl import (
    Candidate,
    Tuning,
    best_candidate,
    evaluate_candidate,
    params_for,
)
from engine.training.data import build_training_data
from engine.training.split import holdout_split

MIN_INTERACTIONS = 1000
MIN_REPEAT_USERS = 25


class TrainingFailed(Exception):
    """The data or the configuration does not allow training; the message is the reason."""


@dataclass
class TrainingProgress:
    """What a running solution version is doing (read by the CLI and the dashboard)."""

    step: str = "queued"
    fraction: float = 0.0
    trial: int = 0
    trials: int = 0
    candidate: str = ""
    best: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> dict[str, Any]:
        """`fraction`, `step`, the current candidate recipe and HPO trial, the best so far."""
        return {
            "fraction": self.fraction,
            "step": self.step,
            "candidate": self.candidate,
            "trial": self.trial,
            "trials": self.trials,
            "best": self.best,
        }

    def check(self) -> None:
        """Raise TrainingStopped if a stop was requested."""
        if self.stop.is_set():
            raise TrainingStopped("stopped on request")


@dataclass
class TrainingPlan:
    """What to train, read from the catalog when the version is created."""

    version_arn: str
    artifact_id: str
    group_id: int
    datasets: dict[str, tuple[int, list[Any]]]
    solution: dict[str, Any]
    training_mode: str
    previous_params: dict[str, Any] | None = None


def check_minimums(data: TrainingData) -> None:
    """Personalize's minimums: 1,000 interactions and 25 users with at least 2."""
    interactions = data.interactions
    counts = interactions.matrix(binary=False).getnnz(axis=1) if len(interactions) else []
    repeat = int((counts >= 2).sum()) if len(interactions) else 0
    problems = []
    if len(interactions) < MIN_INTERACTIONS:
        problems.append(
            f"{len(interactions):,} interactions (at least {MIN_INTERACTIONS:,} are needed)"
        )
    if repeat < MIN_REPEAT_USERS:
        problems.append(
            f"{repeat:,} users with at least 2 interactions (at least "
            f"{MIN_REPEAT_USERS} are needed)"
        )
    if problems:
        raise TrainingFailed(
            "Not enough data to train after the solution's event filters: " + "; ".join(problems)
        )


def candidates(solution: dict[str, Any]) -> list[str]:
    """The recipe ARNs to train: AutoML's list, or the solution's recipe."""
    if solution.get("performAutoML"):
        listed = (solution.get("solutionConfig") or {}).get("autoMLConfig", {}).get("recipeList")
        return list(listed or AUTOML_DEFAULT)
    return [solution["recipeArn"]]


class TrainingRun:
    """One execution of a TrainingPlan."""

    def __init__(
        self, store: Any, catalog: Any, plan: TrainingPlan, progress: TrainingProgress
    ) -> None:
        self.store, self.catalog, self.plan, self.progress = store, catalog, plan, progress
        self.config = plan.solution.get("solutionConfig") or {}

    def run(self) -> None:
        """Train and record the outcome on the solution version (never raises)."""
        started = time.monotonic()
        try:
            self.catalog.update(self.plan.version_arn, status="CREATE IN_PROGRESS")
            outcome = self._train()
            outcome["trainingHours"] = (time.monotonic() - started) / 3600.0
            outcome["metrics"]["training_seconds"] = time.monotonic() - started
            self.progress.check()
            self.catalog.update(self.plan.version_arn, status="ACTIVE", spec_updates=outcome)
            self.progress.step, self.progress.fraction = "done", 1.0
        except TrainingStopped:
            self.progress.step = "stopped"
            self.catalog.update(self.plan.version_arn, status="CREATE STOPPED")
        except (TrainingFailed, InvalidInputException) as exc:
            self.progress.step = "failed"
            self.catalog.update(
                self.plan.version_arn, status="CREATE FAILED", failure_reason=str(exc)
            )
        except Exception as exc:  # noqa: BLE001 - any failure must end the job visibly
            self.progress.step = "failed"
            self.catalog.update(
                self.plan.version_arn,
                status="CREATE FAILED",
                failure_reason=f"internal error: {type(exc).__name__}: {exc}",
            )

    def _report(self, fraction: float, message: str) -> None:
        self.progress.check()
        self.progress.step = message
        self.progress.fraction = max(self.progress.fraction, min(0.99, fraction))

    def _train(self) -> dict[str, Any]:
        progress = self.progress
        progress.step = "reading data"
        with self.store.cursor() as cur:
            data = build_training_data(
                cur, self.plan.group_id, self.plan.datasets, self.plan.solution
            )
        check_minimums(data)
        progress.check()
        split = holdout_split(data.interactions, seed=0)
        results = [self._candidate(arn, data, split) for arn in candidates(self.plan.solution)]
        metric = self.config.get("autoMLConfig", {}).get("metricName") or hpo.DEFAULT_METRIC
        best = best_candidate(results, metric)
        progress.step, progress.candidate = "training the final model", best.recipe_arn
        model = recipe_class(best.recipe_arn)(**best.params)
        model.fit(data, self._report)
        save_model(model, self.store.data_dir / "artifacts", self.plan.artifact_id)
        return {
            "trainedRecipeArn": best.recipe_arn,
            "tunedHPOParams": {
                "algorithmHyperParameters": {k: str(v) for k, v in best.params.items()}
            },
            "metrics": best.metrics,
            "candidates": [
                {
                    "recipeArn": r.recipe_arn,
                    "metrics": r.metrics,
                    "params": {k: str(v) for k, v in r.params.items()},
                    "trials": len(r.trials),
                }
                for r in results
            ],
        }

    def _candidate(self, recipe_arn: str, data: TrainingData, split: Any) -> Candidate:
        """Tune (if asked) and evaluate one recipe on the holdout split."""
        progress = self.progress
        progress.candidate = recipe_arn
        strict = not self.plan.solution.get("performAutoML")
        fixed = params_for(recipe_arn, self.config.get("algorithmHyperParameters") or {}, strict)
        update = self.plan.training_mode == "UPDATE"
        if update and self.plan.previous_params:
            fixed = {**params_for(recipe_arn, self.plan.previous_params, False), **fixed}
        tuning = None
        if self.plan.solution.get("performHPO") and not update:
            config = self.config.get("hpoConfig") or {}
            resources = config.get("hpoResourceConfig") or {}
            tuning = Tuning(
                int(resources.get("maxNumberOfTrainingJobs") or 8),
                int(resources.get("maxParallelTrainingJobs") or 2),
                config.get("algorithmHyperParameterRanges"),
            )
            progress.trials = tuning.trials

        def on_trial(done: int, total: int, best: float | None) -> None:
            progress.trial, progress.best = done, best
            progress.step = f"HPO trial {done}/{total}"
            progress.check()

        progress.step = f"evaluating {recipe_arn.rsplit('/', 1)[-1]}"
        return evaluate_candidate(recipe_arn, data, split, fixed, tuning, self._report, on_trial)

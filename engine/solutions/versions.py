"""Solution versions: CreateSolutionVersion, DescribeSolutionVersion, ListSolutionVersions,
StopSolutionVersionCreation, GetSolutionMetrics (training runs on the background pool)."""

from __future__ import annotations

import secrets
from typing import Any

from engine.base import summary
from engine.datasets.datasets import DATASET, DatasetOps
from engine.errors import InvalidInputException, ResourceInUseException
from engine.operations import operation, paginate
from engine.solutions.solutions import RUNNING, SOLUTION, SPEC_KEYS, VERSION, SolutionOps
from engine.store import Resource
from engine.training.runner import TrainingPlan, TrainingProgress, TrainingRun

UPDATE_RECIPES = ("arn:aws:personalize:::recipe/aws-user-personalization",)


def _describe(version: Resource) -> dict[str, Any]:
    spec = version.spec
    solution = spec["solution"]
    out = summary(
        version,
        "solutionVersionArn",
        solutionArn=version.parent_arn,
        datasetGroupArn=spec["datasetGroupArn"],
        trainingMode=spec["trainingMode"],
        trainingType="MANUAL",
        trainingHours=spec.get("trainingHours"),
        tunedHPOParams=spec.get("tunedHPOParams"),
        **{k: solution.get(k) for k in SPEC_KEYS if k != "performAutoTraining"},
    )
    if spec.get("name"):
        out["name"] = spec["name"]
    else:
        out.pop("name", None)
    return out


class SolutionVersionOps(SolutionOps, DatasetOps):
    """The solution version operations of the Engine."""

    @operation("CreateSolutionVersion")
    def create_solution_version(
        self,
        *,
        solutionArn: str,
        name: str | None = None,
        trainingMode: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Train a new version of a solution in the background (see `job_progress`)."""
        solution = self.catalog.require(solutionArn, SOLUTION)
        mode = trainingMode or "FULL"
        versions = self.catalog.list(VERSION, solutionArn)
        if any(v.status in RUNNING for v in versions):
            raise ResourceInUseException(f"Solution {solutionArn} already has a version training")
        previous = next((v for v in versions if v.status == "ACTIVE"), None)
        if mode == "UPDATE":
            if solution.spec.get("recipeArn") not in UPDATE_RECIPES:
                raise InvalidInputException(
                    "trainingMode UPDATE is only for aws-user-personalization solutions"
                )
            if previous is None:
                raise InvalidInputException(
                    "trainingMode UPDATE needs an ACTIVE version of the solution to update"
                )
        elif mode == "AUTOTRAIN":
            raise InvalidInputException("trainingMode AUTOTRAIN is set by Personalize itself")
        artifact_id = secrets.token_hex(4)
        arn = f"{solutionArn}/{artifact_id}"
        spec = {
            "name": name,
            "trainingMode": mode,
            "artifactId": artifact_id,
            "datasetGroupArn": solution.parent_arn,
            "solution": solution.spec,
        }
        with self.store.transaction() as cur:
            self.catalog.insert(
                VERSION,
                arn,
                name or artifact_id,
                parent_arn=solutionArn,
                status="CREATE PENDING",
                spec=spec,
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)
        plan = TrainingPlan(
            arn,
            artifact_id,
            self._group_id(solution.parent_arn),
            self._datasets(solution.parent_arn),
            solution.spec,
            mode,
            (previous.spec.get("tunedHPOParams") or {}).get("algorithmHyperParameters")
            if previous
            else None,
        )
        progress = TrainingProgress()
        self.jobs.submit(arn, TrainingRun(self.store, self.catalog, plan, progress).run, progress)
        return {"solutionVersionArn": arn}

    def _group_id(self, group_arn: str) -> int:
        return self.catalog.require(group_arn, "dataset-group").id

    def _datasets(self, group_arn: str) -> dict[str, tuple[int, list[Any]]]:
        return {
            d.spec["datasetType"]: (d.id, self.dataset_fields(d))
            for d in self.catalog.list(DATASET, group_arn)
        }

    @operation("DescribeSolutionVersion")
    def describe_solution_version(self, *, solutionVersionArn: str) -> dict[str, Any]:
        """Describe a version: status, training hours, tuned hyperparameters."""
        return {"solutionVersion": _describe(self.catalog.require(solutionVersionArn, VERSION))}

    @operation("ListSolutionVersions")
    def list_solution_versions(
        self,
        *,
        solutionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List versions (of one solution if given), newest first."""
        if solutionArn:
            self.catalog.require(solutionArn, SOLUTION)
        rows = []
        for v in self.catalog.list(VERSION, solutionArn):
            row = summary(
                v, "solutionVersionArn", trainingMode=v.spec["trainingMode"], trainingType="MANUAL"
            )
            row.pop("name")
            rows.append(row)
        return paginate(
            f"ListSolutionVersions:{solutionArn or ''}",
            rows,
            "solutionVersions",
            nextToken,
            maxResults,
        )

    @operation("StopSolutionVersionCreation")
    def stop_solution_version_creation(self, *, solutionVersionArn: str) -> dict[str, Any]:
        """Stop a training version: CREATE STOPPING, then CREATE STOPPED."""
        version = self.catalog.require(solutionVersionArn, VERSION)
        if version.status not in ("CREATE PENDING", "CREATE IN_PROGRESS"):
            raise ResourceInUseException(
                f"Solution version {solutionVersionArn} is {version.status}; only a version "
                "in CREATE PENDING or CREATE IN_PROGRESS can be stopped"
            )
        self.catalog.update(solutionVersionArn, status="CREATE STOPPING")
        progress = self.jobs.progress(solutionVersionArn)
        if progress is not None:
            progress.stop.set()
        return {}

    @operation("GetSolutionMetrics")
    def get_solution_metrics(self, *, solutionVersionArn: str) -> dict[str, Any]:
        """Offline metrics of an ACTIVE version (Personalize's names, plus Tailor's)."""
        version = self.catalog.require(solutionVersionArn, VERSION)
        if version.status != "ACTIVE":
            raise ResourceInUseException(
                f"Solution version {solutionVersionArn} is {version.status}: metrics exist "
                "once it is ACTIVE"
            )
        return {
            "solutionVersionArn": solutionVersionArn,
            "metrics": {k: float(v) for k, v in version.spec["metrics"].items()},
        }

    def get_solution_version_candidates(self, *, solutionVersionArn: str) -> list[dict]:
        """Tailor's own: every recipe AutoML (or a single recipe) evaluated, with metrics."""
        version = self.catalog.require(solutionVersionArn, VERSION)
        return version.spec.get("candidates", [])

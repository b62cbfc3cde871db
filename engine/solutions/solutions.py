"""Solutions: CreateSolution, DescribeSolution, ListSolutions, DeleteSolution, UpdateSolution."""

from __future__ import annotations

from typing import Any

from engine.artifacts import delete_model
from engine.base import EngineBase, summary
from engine.datasets.datasets import DATASET
from engine.datasets.groups import DATASET_GROUP
from engine.errors import InvalidInputException, ResourceInUseException
from engine.operations import operation, paginate
from engine.solutions.recipes import _require
from engine.store import Resource
from engine.training import hpo

SOLUTION = "solution"
VERSION = "solution-version"
RUNNING = ("CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING")
SPEC_KEYS = (
    "performHPO",
    "performAutoML",
    "performAutoTraining",
    "performIncrementalUpdate",
    "recipeArn",
    "eventType",
    "solutionConfig",
)


def _check_config(
    recipe_arn: str | None, perform_automl: bool, perform_hpo: bool, config: dict[str, Any]
) -> None:
    """Reject what Personalize rejects, naming the field and the rule."""
    if perform_automl and recipe_arn:
        raise InvalidInputException("recipeArn must be omitted when performAutoML is true")
    if not perform_automl and not recipe_arn:
        raise InvalidInputException("recipeArn is required unless performAutoML is true")
    automl = config.get("autoMLConfig") or {}
    for arn in automl.get("recipeList") or []:
        _require(arn, "solutionConfig.autoMLConfig.recipeList")
    if automl.get("metricName"):
        allowed = (
            "normalized_discounted_cumulative_gain_at_5",
            "normalized_discounted_cumulative_gain_at_10",
            "normalized_discounted_cumulative_gain_at_25",
            "precision_at_5",
            "precision_at_10",
            "precision_at_25",
            "mean_reciprocal_rank_at_25",
            "recall_at_25",
            "coverage",
        )
        if automl["metricName"] not in allowed:
            raise InvalidInputException(
                f"solutionConfig.autoMLConfig.metricName {automl['metricName']!r} must be one "
                f"of {', '.join(allowed)}"
            )
    resources = (config.get("hpoConfig") or {}).get("hpoResourceConfig") or {}
    for key, limit in (("maxNumberOfTrainingJobs", 40), ("maxParallelTrainingJobs", 10)):
        if key in resources:
            value = resources[key]
            if not str(value).isdigit() or not 1 <= int(value) <= limit:
                raise InvalidInputException(
                    f"solutionConfig.hpoConfig.hpoResourceConfig.{key} {value!r} must be a "
                    f"whole number from 1 to {limit}"
                )
    if recipe_arn:
        recipe = _require(recipe_arn)
        hpo.coerce(recipe, config.get("algorithmHyperParameters") or {})
        ranges = (config.get("hpoConfig") or {}).get("algorithmHyperParameterRanges")
        if ranges:
            hpo.space_from_ranges(recipe, ranges)
        if perform_hpo and not ranges and not hpo.default_space(recipe):
            raise InvalidInputException(f"{recipe_arn} has no tunable hyperparameters")


def describe(solution: Resource, latest: Resource | None, best: Resource | None) -> dict[str, Any]:
    """The DescribeSolution shape of a catalog row (`best`: the newest ACTIVE version)."""
    extra = {k: solution.spec.get(k) for k in SPEC_KEYS}
    out = summary(solution, "solutionArn", datasetGroupArn=solution.parent_arn, **extra)
    if solution.spec.get("performAutoML") and best is not None:
        out["autoMLResult"] = {"bestRecipeArn": best.spec["trainedRecipeArn"]}
    if latest is not None:
        out["latestSolutionVersion"] = {
            k: v
            for k, v in {
                "solutionVersionArn": latest.arn,
                "status": latest.status,
                "trainingMode": latest.spec.get("trainingMode"),
                "trainingType": "MANUAL",
                "creationDateTime": latest.created,
                "lastUpdatedDateTime": latest.updated,
                "failureReason": latest.failure_reason,
            }.items()
            if v is not None
        }
    return out


class SolutionOps(EngineBase):
    """The solution operations of the Engine."""

    @operation("CreateSolution")
    def create_solution(
        self,
        *,
        name: str,
        datasetGroupArn: str,
        performHPO: bool | None = None,
        performAutoML: bool | None = None,
        performAutoTraining: bool | None = None,
        performIncrementalUpdate: bool | None = None,
        recipeArn: str | None = None,
        eventType: str | None = None,
        solutionConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Create a solution: a recipe (or AutoML over several) and its training choices."""
        self.catalog.require(datasetGroupArn, DATASET_GROUP)
        config = solutionConfig or {}
        _check_config(recipeArn, bool(performAutoML), bool(performHPO), config)
        kinds = {d.spec["datasetType"] for d in self.catalog.list(DATASET, datasetGroupArn)}
        if "INTERACTIONS" not in kinds:
            raise InvalidInputException(
                f"datasetGroupArn {datasetGroupArn}: the dataset group has no Interactions "
                "dataset; create one and import data first"
            )
        arn = self.arns.make("solution", name)
        spec = {
            "performHPO": bool(performHPO),
            "performAutoML": bool(performAutoML),
            "performAutoTraining": bool(performAutoTraining),
            "performIncrementalUpdate": bool(performIncrementalUpdate),
            "recipeArn": recipeArn,
            "eventType": eventType,
            "solutionConfig": config,
        }
        with self.store.transaction() as cur:
            self.catalog.insert(
                SOLUTION,
                arn,
                name,
                parent_arn=datasetGroupArn,
                status="ACTIVE",
                spec=spec,
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)
        return {"solutionArn": arn}

    @operation("DescribeSolution")
    def describe_solution(self, *, solutionArn: str) -> dict[str, Any]:
        """Describe a solution, with its latest version and AutoML's pick."""
        solution = self.catalog.require(solutionArn, SOLUTION)
        versions = self.catalog.list(VERSION, solutionArn)
        active = next((v for v in versions if v.status == "ACTIVE"), None)
        return {"solution": describe(solution, versions[0] if versions else None, active)}

    @operation("ListSolutions")
    def list_solutions(
        self,
        *,
        datasetGroupArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List solutions (of one dataset group if given), newest first."""
        rows = [
            summary(s, "solutionArn", recipeArn=s.spec.get("recipeArn"))
            for s in self.catalog.list(SOLUTION, datasetGroupArn)
        ]
        return paginate(
            f"ListSolutions:{datasetGroupArn or ''}", rows, "solutions", nextToken, maxResults
        )

    @operation("DeleteSolution")
    def delete_solution(self, *, solutionArn: str) -> dict[str, Any]:
        """Delete a solution and its versions' models; not while a version trains."""
        self.catalog.require(solutionArn, SOLUTION)
        versions = self.catalog.list(VERSION, solutionArn)
        busy = [v.arn for v in versions if v.status in RUNNING]
        if busy:
            raise ResourceInUseException(
                f"Solution {solutionArn} has a version in training: {busy[0]}; stop it first"
            )
        with self.store.transaction() as cur:
            for version in versions:
                self.catalog.delete(version.arn, cur)
            self.catalog.delete(solutionArn, cur)
        for version in versions:
            delete_model(self.store.data_dir / "artifacts", version.spec["artifactId"])
        return {}

    @operation("UpdateSolution")
    def update_solution(
        self,
        *,
        solutionArn: str,
        performAutoTraining: bool | None = None,
        performIncrementalUpdate: bool | None = None,
        solutionUpdateConfig: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change automatic training and the event weights of future versions."""
        solution = self.catalog.require(solutionArn, SOLUTION)
        spec: dict[str, Any] = {}
        if performAutoTraining is not None:
            spec["performAutoTraining"] = performAutoTraining
        if performIncrementalUpdate is not None:
            spec["performIncrementalUpdate"] = performIncrementalUpdate
        update = solutionUpdateConfig or {}
        if update:
            config = dict(solution.spec.get("solutionConfig") or {})
            for key in ("autoTrainingConfig", "eventsConfig"):
                if key in update:
                    config[key] = update[key]
            spec["solutionConfig"] = config
        self.catalog.update(solutionArn, spec_updates=spec)
        return {"solutionArn": solutionArn}

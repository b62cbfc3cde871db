"""Recipes and algorithms: ListRecipes, DescribeRecipe, DescribeAlgorithm."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.base import EngineBase
from engine.errors import InvalidInputException, ResourceNotFoundException
from engine.operations import operation, paginate
from engine.recipes import RECIPES, recipe_class, recipe_name
from engine.recipes.base import Recipe
from engine.training.hpo import default_space

RELEASED = datetime(2026, 11, 1, tzinfo=UTC)


def algorithm_arn(recipe_arn: str) -> str:
    """The algorithm ARN of a recipe (`.../recipe/aws-sims` -> `.../algorithm/aws-sims`)."""
    return recipe_arn.replace(":recipe/", ":algorithm/")


def _summary(recipe: type[Recipe]) -> dict[str, Any]:
    return {
        "name": recipe_name(recipe.recipe_arn),
        "recipeArn": recipe.recipe_arn,
        "status": "ACTIVE",
        "creationDateTime": RELEASED,
        "lastUpdatedDateTime": RELEASED,
    }


def _ranges(recipe: type[Recipe]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        "integerHyperParameterRanges": [],
        "continuousHyperParameterRanges": [],
        "categoricalHyperParameterRanges": [],
    }
    for p in default_space(recipe):
        if p.kind == "int":
            out["integerHyperParameterRanges"].append(
                {"name": p.name, "minValue": int(p.low), "maxValue": int(p.high), "isTunable": True}
            )
        elif p.kind == "float":
            out["continuousHyperParameterRanges"].append(
                {"name": p.name, "minValue": p.low, "maxValue": p.high, "isTunable": True}
            )
        else:
            out["categoricalHyperParameterRanges"].append(
                {"name": p.name, "values": [str(c) for c in p.choices], "isTunable": True}
            )
    return out


def _require(recipe_arn: str, field: str = "recipeArn") -> type[Recipe]:
    if recipe_arn not in RECIPES:
        raise ResourceNotFoundException(
            f"{field} {recipe_arn!r} is not a recipe Tailor has "
            f"(list_recipes shows {len(RECIPES)}: {', '.join(map(recipe_name, RECIPES))})"
        )
    return recipe_class(recipe_arn)


class RecipeOps(EngineBase):
    """The recipe and algorithm operations of the Engine."""

    @operation("ListRecipes")
    def list_recipes(
        self,
        *,
        recipeProvider: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
        domain: str | None = None,
    ) -> dict[str, Any]:
        """Every recipe: Personalize's (`aws-...`) and Tailor's own (`tailor-...`)."""
        if domain:
            raise InvalidInputException(
                f"domain {domain!r}: domain recipes (recommenders) are not supported yet"
            )
        rows = [_summary(recipe_class(arn)) for arn in RECIPES]
        return paginate("ListRecipes", rows, "recipes", nextToken, maxResults)

    @operation("DescribeRecipe")
    def describe_recipe(self, *, recipeArn: str) -> dict[str, Any]:
        """A recipe's type, description and algorithm (whose ranges DescribeAlgorithm gives)."""
        recipe = _require(recipeArn)
        out = _summary(recipe)
        out.update(
            {
                "algorithmArn": algorithm_arn(recipeArn),
                "description": recipe.description,
                "recipeType": recipe.recipe_type,
            }
        )
        return {"recipe": out}

    @operation("DescribeAlgorithm")
    def describe_algorithm(self, *, algorithmArn: str) -> dict[str, Any]:
        """A recipe's algorithm: default hyperparameters and their tunable ranges."""
        recipe = _require(algorithmArn.replace(":algorithm/", ":recipe/"), "algorithmArn")
        defaults = {hp["name"]: str(hp["default"]) for hp in recipe.describe_hyperparameters()}
        return {
            "algorithm": {
                "name": recipe_name(recipe.recipe_arn),
                "algorithmArn": algorithmArn,
                "defaultHyperParameters": defaults,
                "defaultHyperParameterRanges": _ranges(recipe),
                "trainingInputMode": "File",
                "creationDateTime": RELEASED,
                "lastUpdatedDateTime": RELEASED,
            }
        }

"""The recipes: one module each behind the contract in `engine.recipes.base`.

`RECIPES` maps each recipe ARN to where its class lives; classes are imported on first use.
"""

from __future__ import annotations

import functools
import importlib

from engine.recipes.base import Recipe

RECIPES: dict[str, tuple[str, str]] = {
    "arn:aws:personalize:::recipe/aws-popularity-count": ("popularity", "PopularityCount"),
    "arn:aws:personalize:::recipe/aws-trending-now": ("trending", "TrendingNow"),
    "arn:aws:personalize:::recipe/aws-user-personalization": (
        "user_personalization",
        "UserPersonalization",
    ),
    "arn:aws:personalize:::recipe/aws-personalized-ranking": (
        "personalized_ranking",
        "PersonalizedRanking",
    ),
    "arn:aws:personalize:::recipe/aws-sims": ("sims", "Sims"),
    "arn:aws:personalize:::recipe/aws-similar-items": ("similar_items", "SimilarItems"),
    "arn:aws:personalize:::recipe/aws-item-affinity": ("affinity", "ItemAffinity"),
    "arn:aws:personalize:::recipe/aws-item-attribute-affinity": (
        "affinity",
        "ItemAttributeAffinity",
    ),
    "arn:aws:personalize:::recipe/tailor-als": ("als", "ImplicitAls"),
    "arn:aws:personalize:::recipe/tailor-ease": ("ease", "Ease"),
    "arn:aws:personalize:::recipe/tailor-item-knn": ("item_knn", "ItemKnn"),
    "arn:aws:personalize:::recipe/tailor-sequence": ("sequence", "SequenceAware"),
}

# AutoML's default candidates: the recipes that answer get_recommendations for a user.
AUTOML_DEFAULT = (
    "arn:aws:personalize:::recipe/tailor-sequence",
    "arn:aws:personalize:::recipe/tailor-ease",
    "arn:aws:personalize:::recipe/aws-user-personalization",
    "arn:aws:personalize:::recipe/tailor-als",
)


@functools.cache
def recipe_class(recipe_arn: str) -> type[Recipe]:
    """The Recipe class of an ARN (KeyError if Tailor has no such recipe)."""
    module, name = RECIPES[recipe_arn]
    return getattr(importlib.import_module(f"engine.recipes.{module}"), name)


def recipe_name(recipe_arn: str) -> str:
    """`arn:aws:personalize:::recipe/aws-sims` -> `aws-sims`."""
    return recipe_arn.rsplit("/", 1)[-1]

"""Candidates and AutoML: tune (optionally) and evaluate recipes on one holdout split, keep
the best by a metric. Used by training runs and by the quality benchmark alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.recipes import recipe_class
from engine.recipes.base import ProgressFn, TrainingData
from engine.training import hpo
from engine.training.metrics import evaluate_recipe
from engine.training.split import Split, holdout_split


@dataclass(frozen=True)
class Tuning:
    """HPO settings: trials, parallel trials, optional explicit ranges."""

    trials: int = 8
    parallel: int = 2
    ranges: dict[str, Any] | None = None


@dataclass
class Candidate:
    """One recipe's outcome on the holdout split."""

    recipe_arn: str
    params: dict[str, Any]
    metrics: dict[str, float]
    trials: list[dict[str, Any]] = field(default_factory=list)


def evaluate_candidate(
    recipe_arn: str,
    data: TrainingData,
    split: Split,
    fixed: dict[str, Any],
    tuning: Tuning | None = None,
    report: ProgressFn | None = None,
    on_trial: Callable[[int, int, float | None], None] | None = None,
) -> Candidate:
    """Tune (if `tuning`) on a split carved from the training users only, then fit on the
    split's training events and evaluate on its held-out truth."""
    recipe = recipe_class(recipe_arn)
    params, trials = dict(fixed), []
    if tuning is not None:
        space = (
            hpo.space_from_ranges(recipe, tuning.ranges)
            if tuning.ranges
            else hpo.default_space(recipe)
        )
        space = [p for p in space if p.name not in fixed]
        inner = holdout_split(split.train, seed=1)
        result = hpo.search(
            recipe, fixed, space, data, inner, tuning.trials, tuning.parallel, on_trial=on_trial
        )
        params, trials = result.best_params, result.trials
    train = TrainingData(split.train, data.user_features, data.item_features, data.item_creation)
    model = recipe(**params).fit(train, report)
    features = data.item_features.matrix if data.item_features is not None else None
    metrics = evaluate_recipe(model, split, item_features=features)
    return Candidate(recipe_arn, params, metrics, trials)


def best_candidate(candidates: list[Candidate], metric: str = hpo.DEFAULT_METRIC) -> Candidate:
    """The candidate with the highest `metric` (the first on ties)."""
    return max(candidates, key=lambda c: c.metrics.get(metric, 0.0))


def params_for(recipe_arn: str, params: dict[str, Any], strict: bool) -> dict[str, Any]:
    """Typed hyperparameters for one recipe from Personalize's string map; with `strict`
    False (AutoML), names the recipe does not have are dropped instead of rejected."""
    recipe = recipe_class(recipe_arn)
    if not strict:
        known = recipe.Config.model_fields
        params = {k: v for k, v in params.items() if k in known}
    return hpo.coerce(recipe, params)

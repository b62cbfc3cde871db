"""Hyperparameter search with optuna: Personalize's `hpoConfig` on a validation split.

The search space is the solution's `algorithmHyperParameterRanges` (integer, continuous and
categorical ranges), or, when none are given, every tunable hyperparameter of the recipe with
the bounds its Config declares. Trials run in parallel threads up to
`maxParallelTrainingJobs`; each fits on the validation split's training events and is scored
by the chosen metric on its held-out events.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from engine.errors import InvalidInputException
from engine.recipes.base import Recipe, TrainingData
from engine.training.metrics import evaluate_recipe
from engine.training.split import Split

optuna.logging.set_verbosity(optuna.logging.WARNING)

DEFAULT_METRIC = "normalized_discounted_cumulative_gain_at_10"


@dataclass(frozen=True)
class Param:
    """One dimension of the search: integer, continuous (maybe log-scaled) or categorical."""

    name: str
    kind: str  # "int" | "float" | "categorical"
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def log(self) -> bool:
        return self.kind != "categorical" and self.low > 0 and self.high / self.low >= 100

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))


def default_space(recipe: type[Recipe]) -> list[Param]:
    """Every hyperparameter with both bounds (or a fixed set of choices) in the recipe's Config."""
    space = []
    for hp in recipe.describe_hyperparameters():
        low = hp.get("ge", hp.get("gt"))
        high = hp.get("le", hp.get("lt"))
        if hp.get("choices") and hp["type"] not in ("int", "float", "bool"):
            space.append(Param(hp["name"], "categorical", choices=tuple(hp["choices"])))
        elif low is not None and high is not None and hp["type"] in ("int", "float"):
            space.append(Param(hp["name"], hp["type"], float(low), float(high)))
    return space


def space_from_ranges(recipe: type[Recipe], ranges: dict[str, Any]) -> list[Param]:
    """Personalize's `algorithmHyperParameterRanges`, checked against the recipe's names."""
    known = {hp["name"] for hp in recipe.describe_hyperparameters()}
    space = []
    for key, kind in (
        ("integerHyperParameterRanges", "int"),
        ("continuousHyperParameterRanges", "float"),
    ):
        for r in ranges.get(key) or []:
            space.append(Param(r["name"], kind, float(r["minValue"]), float(r["maxValue"])))
    for r in ranges.get("categoricalHyperParameterRanges") or []:
        space.append(Param(r["name"], "categorical", choices=tuple(r["values"])))
    for p in space:
        if p.name not in known:
            raise InvalidInputException(
                f"solutionConfig.hpoConfig.algorithmHyperParameterRanges: {p.name!r} is not a "
                f"hyperparameter of {recipe.recipe_arn} (known: {', '.join(sorted(known))})"
            )
        if p.kind != "categorical" and not p.low <= p.high:
            raise InvalidInputException(
                f"hyperparameter range {p.name!r}: minValue {p.low} is above maxValue {p.high}"
            )
    return space


def aliases(recipe: type[Recipe]) -> dict[str, str]:
    """Every accepted hyperparameter name -> the Config field it sets (Personalize's names,
    such as `hidden_dimension`, are validation aliases of Tailor's fields)."""
    out: dict[str, str] = {}
    for name, info in recipe.Config.model_fields.items():
        out[name] = name
        alias = info.validation_alias
        for choice in getattr(alias, "choices", [alias] if isinstance(alias, str) else []):
            if isinstance(choice, str):
                out[choice] = name
    return out


def coerce(recipe: type[Recipe], params: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters from Personalize's string map, typed and checked by the recipe's Config.

    Raises InvalidInputException naming the hyperparameter, the value and the rule.
    """
    fields = recipe.Config.model_fields
    names = aliases(recipe)
    out: dict[str, Any] = {}
    for given, value in params.items():
        name = names.get(given)
        if name is None:
            raise InvalidInputException(
                f"algorithmHyperParameters: {given!r} is not a hyperparameter of "
                f"{recipe.recipe_arn} (known: {', '.join(sorted(names)) or 'none'})"
            )
        out[name] = _typed(fields[name].annotation, value)
    try:
        recipe.Config(**out)
    except ValueError as exc:
        raise InvalidInputException(f"algorithmHyperParameters: {exc}") from None
    return out


def _typed(annotation: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if annotation is bool:
        return value.strip().lower() in ("true", "1", "yes")
    if annotation is int:
        try:
            return int(float(value)) if float(value).is_integer() else value
        except ValueError:
            return value
    if annotation is float:
        try:
            return float(value)
        except ValueError:
            return value
    if typing.get_origin(annotation) is typing.Literal:
        for choice in typing.get_args(annotation):
            if str(choice) == value:
                return choice
    return value


@dataclass
class SearchResult:
    """The best hyperparameters found and every trial's outcome."""

    best_params: dict[str, Any]
    best_value: float
    trials: list[dict[str, Any]] = field(default_factory=list)


def search(
    recipe: type[Recipe],
    fixed: dict[str, Any],
    space: list[Param],
    data: TrainingData,
    split: Split,
    trials: int,
    parallel: int,
    metric: str = DEFAULT_METRIC,
    on_trial: Callable[[int, int, float | None], None] | None = None,
) -> SearchResult:
    """Run `trials` optuna trials (`parallel` at a time) and return the best configuration.

    `data` supplies features; `split` the training events and the held-out truth. `on_trial`
    is told (trials done, total, best so far) and may raise to stop the search.
    """
    train = TrainingData(split.train, data.user_features, data.item_features, data.item_creation)

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **{p.name: p.suggest(trial) for p in space}}
        model = recipe(**params).fit(train)
        value = evaluate_recipe(model, split).get(metric, 0.0)
        return value if math.isfinite(value) else 0.0

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.enqueue_trial({p.name: _default_of(recipe, p) for p in space}, skip_if_exists=True)

    def report(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if on_trial:
            done = len(study.trials)
            on_trial(done, trials, study.best_value if study.best_trials else None)

    study.optimize(
        objective, n_trials=trials, n_jobs=max(1, parallel), callbacks=[report], catch=()
    )
    history = [
        {"number": t.number, "params": t.params, "value": t.value}
        for t in study.trials
        if t.value is not None
    ]
    return SearchResult({**fixed, **study.best_params}, float(study.best_value), history)


def _default_of(recipe: type[Recipe], param: Param) -> Any:
    default = recipe.Config.model_fields[param.name].default
    if param.kind == "categorical":
        return default if default in param.choices else param.choices[0]
    return min(max(default, param.low), param.high)

"""Fixtures of the recipe contract: the tiny dataset and one fitted model per test class."""

from __future__ import annotations

import pytest

from engine.recipes.base import Recipe, TrainingData
from tests.recipes.contract import tiny_data


@pytest.fixture(scope="session")
def data() -> TrainingData:
    return tiny_data()


@pytest.fixture(scope="class")
def model(request: pytest.FixtureRequest, data: TrainingData) -> Recipe:
    """The class's `recipe`, fitted with its `hyperparameters`; progress stays within 0..1."""
    cls = request.cls
    calls: list[float] = []
    fitted = cls.recipe(**cls.hyperparameters).fit(data, lambda f, m: calls.append(f))
    assert all(0.0 <= f <= 1.0 for f in calls)
    return fitted

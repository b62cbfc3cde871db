"""Shared fixtures: an Engine on a fresh data directory, a group, an Interactions dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine
from tests.helpers import INTERACTIONS_SCHEMA, make_dataset


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An Engine on a new data directory, closed after the test."""
    with Engine(tmp_path / "data") as e:
        yield e


@pytest.fixture
def group(engine: Engine) -> str:
    """A dataset group named `shop`."""
    return engine.create_dataset_group(name="shop")["datasetGroupArn"]


@pytest.fixture
def interactions(engine: Engine, group: str) -> str:
    """An Interactions dataset (USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, EVENT_VALUE, DEVICE)."""
    return make_dataset(engine, group, "Interactions", INTERACTIONS_SCHEMA)

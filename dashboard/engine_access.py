"""How pages reach the Engine: the server's own, or one opened for a standalone run."""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine import Engine, runtime
from engine.config import Settings, default_data_dir


@st.cache_resource(show_spinner=False)
def _standalone_engine() -> Engine:
    return Engine(default_data_dir(), Settings.from_env())


def get_engine() -> Engine:
    """The Engine of `tailor up`; under `streamlit run` alone, one on TAILOR_DATA_DIR."""
    engine = runtime.current()
    return engine if engine is not None else _standalone_engine()


def group_version(engine: Engine, group_arn: str) -> int:
    """A number that changes whenever the dataset group's data does (imports, events, users,
    items): pass it to `st.cache_data` functions so new data shows up and nothing else
    recomputes."""
    group = engine.catalog.get(group_arn)
    return engine.data_version(group.id) if group is not None else -1


def list_all(operation: Any, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a List* operation (`list_all(engine.list_campaigns, "campaigns")`)."""
    out: list[dict[str, Any]] = []
    token = None
    while True:
        page = operation(**params, **({"nextToken": token} if token else {}))
        out += page[key]
        token = page.get("nextToken")
        if not token:
            return out


NO_GROUPS = (
    "No dataset groups yet. Create one and import interactions (or run "
    "`tailor init --sample` to load the sample store), then come back."
)


def pick_group(engine: Engine, key: str) -> tuple[str, dict[str, str]]:
    """The dataset-group picker an analysis page starts with: (chosen ARN, names by ARN).
    With no group at all, the page says how to make one and stops."""
    groups = engine.list_dataset_groups()["datasetGroups"]
    if not groups:
        st.info(NO_GROUPS)
        st.stop()
    names = {g["datasetGroupArn"]: g["name"] for g in groups}
    arn = st.selectbox("Dataset group", list(names), format_func=names.get, key=key)
    return arn, names

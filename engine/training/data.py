"""Build a recipe's TrainingData from a dataset group: events, weights, context, features.

The solution's training-data choices apply here: `eventType`, `eventValueThreshold`,
`eventsConfig.eventParametersList` (per-event-type thresholds and weights; when given, only
the listed event types are used) and `trainingDataConfig` (included/excluded columns).
Categorical metadata becomes one feature per `|`-separated value, numeric metadata a
quantile bucket, textual metadata its frequent words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.datasets.avro import INTERACTIONS_RESERVED, SchemaField
from engine.recipes.base import Features, Interactions, TrainingData
from engine.store import training_data

NUMERIC_BUCKETS = 5
TEXT_VOCABULARY = 2000
TEXT_MIN_COUNT = 2
WORD = re.compile(r"[a-z][a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be by for from has in is it its of on or that the this to was with".split()
)


@dataclass(frozen=True)
class EventSelection:
    """Which events train the model, and with what weight."""

    event_types: list[str] | None
    value_threshold: float | None
    weights: dict[str, tuple[float | None, float]]  # lower(eventType) -> (threshold, weight)

    @classmethod
    def from_solution(cls, solution: dict[str, Any]) -> EventSelection:
        """From a solution's `eventType`, `solutionConfig.eventValueThreshold` and
        `solutionConfig.eventsConfig.eventParametersList`."""
        config = solution.get("solutionConfig") or {}
        threshold = config.get("eventValueThreshold")
        params = (config.get("eventsConfig") or {}).get("eventParametersList") or []
        weights = {
            p["eventType"].lower(): (p.get("eventValueThreshold"), float(p.get("weight", 1.0)))
            for p in params
        }
        event_types = [solution["eventType"]] if solution.get("eventType") else None
        if weights:
            event_types = [
                t for t in weights if event_types is None or t in {e.lower() for e in event_types}
            ]
        return cls(event_types, float(threshold) if threshold else None, weights)


def _columns(
    fields: list[SchemaField], dataset_type: str, solution: dict[str, Any]
) -> list[SchemaField]:
    config = (solution.get("solutionConfig") or {}).get("trainingDataConfig") or {}
    excluded = set((config.get("excludedDatasetColumns") or {}).get(dataset_type, []))
    included = (config.get("includedDatasetColumns") or {}).get(dataset_type)
    return [
        f for f in fields if f.name not in excluded and (included is None or f.name in included)
    ]


def _weights(arrays: dict[str, np.ndarray], selection: EventSelection) -> np.ndarray:
    n = len(arrays["user"])
    weight = np.ones(n, np.float32)
    if not selection.weights or "EVENT_TYPE" not in arrays:
        return weight
    types = np.char.lower(arrays["EVENT_TYPE"].astype(str))
    values = arrays.get("EVENT_VALUE")
    keep = np.ones(n, bool)
    for event_type, (threshold, w) in selection.weights.items():
        rows = types == event_type
        weight[rows] = w
        if threshold is not None and values is not None:
            keep &= ~rows | (np.nan_to_num(values.astype(float), nan=-np.inf) >= threshold)
    weight[~keep] = 0.0
    return weight


def _codes(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Integer codes for string values (-1 for missing) and the sorted value names."""
    strings = np.array(["" if v is None else str(v) for v in values], dtype=object)
    names = sorted({s for s in strings if s})
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup.get(s, -1) for s in strings], np.int32), names


def build_interactions(
    cur: Any,
    group_id: int,
    dataset_id: int,
    fields: list[SchemaField],
    solution: dict[str, Any],
    n_users: int,
    n_items: int,
) -> Interactions:
    """Selected, weighted events of the group's Interactions dataset, in dense ids."""
    selection = EventSelection.from_solution(solution)
    names = {f.name for f in fields}
    usable = _columns(fields, "INTERACTIONS", solution)
    context_fields = [
        f.name for f in usable if f.name not in INTERACTIONS_RESERVED and f.categorical
    ]
    columns = [c for c in ("EVENT_TYPE", "EVENT_VALUE") if c in names] + context_fields
    arrays = training_data.interaction_arrays(
        cur,
        group_id,
        dataset_id,
        columns,
        selection.event_types if "EVENT_TYPE" in names else None,
        selection.value_threshold if "EVENT_VALUE" in names else None,
    )
    weight = _weights(arrays, selection)
    keep = weight > 0
    event_type, event_types = (None, [])
    if "EVENT_TYPE" in arrays:
        event_type, event_types = _codes(arrays["EVENT_TYPE"][keep])
    context, context_values = {}, {}
    for name in context_fields:
        context[name], context_values[name] = _codes(arrays[name][keep])
    return Interactions(
        arrays["user"][keep],
        arrays["item"][keep],
        arrays["timestamp"][keep],
        n_users,
        n_items,
        weight[keep],
        event_type,
        event_types,
        context,
        context_values,
    )


def _field_features(field: SchemaField, values: np.ndarray) -> list[tuple[int, str]]:
    """(row, feature name) pairs of one metadata column."""
    pairs: list[tuple[int, str]] = []
    if field.textual:
        tokens = [
            [w for w in WORD.findall(str(v).lower()) if w not in STOPWORDS] if v is not None else []
            for v in values
        ]
        counts = Counter(w for t in tokens for w in set(t))
        vocab = {w for w, c in counts.most_common(TEXT_VOCABULARY) if c >= TEXT_MIN_COUNT}
        for row, words in enumerate(tokens):
            pairs += [(row, f"{field.name}:{w}") for w in sorted(set(words) & vocab)]
    elif field.is_numeric:
        numbers = np.array([np.nan if v is None else float(v) for v in values])
        finite = numbers[np.isfinite(numbers)]
        if len(finite):
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, NUMERIC_BUCKETS + 1)[1:-1]))
            buckets = np.searchsorted(edges, numbers, side="right")
            pairs += [
                (r, f"{field.name}=q{b}") for r, b in enumerate(buckets) if np.isfinite(numbers[r])
            ]
    else:
        for row, value in enumerate(values):
            if value is None or value == "":
                continue
            parts = str(value).split("|") if field.categorical else [str(value)]
            pairs += [(row, f"{field.name}={p.strip().lower()}") for p in parts if p.strip()]
    return pairs


def build_features(
    cur: Any,
    group_id: int,
    entity: str,
    dataset_id: int,
    id_field: str,
    fields: list[SchemaField],
    n_entities: int,
) -> tuple[Features, np.ndarray]:
    """A Features matrix (n_entities x features) and the dense ids that have metadata."""
    meta = [f for f in fields if f.name not in (id_field, "CREATION_TIMESTAMP")]
    rows = training_data.entity_rows(
        cur, group_id, entity, dataset_id, id_field, [f.name for f in meta]
    )
    dense = rows["dense_id"].astype(np.int64)
    pairs = [(int(dense[r]), name) for f in meta for r, name in _field_features(f, rows[f.name])]
    names = sorted({name for _, name in pairs})
    column = {name: j for j, name in enumerate(names)}
    matrix = sp.csr_matrix(
        (np.ones(len(pairs), np.float32), ([r for r, _ in pairs], [column[n] for _, n in pairs])),
        shape=(n_entities, len(names)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return Features(matrix, names), dense


def item_creation_times(cur: Any, group_id: int, dataset_id: int, n_items: int) -> np.ndarray:
    """CREATION_TIMESTAMP per dense item id (NaN where unknown)."""
    rows = training_data.entity_rows(
        cur, group_id, "ITEM", dataset_id, "ITEM_ID", ["CREATION_TIMESTAMP"]
    )
    out = np.full(n_items, np.nan)
    created = rows["CREATION_TIMESTAMP"]
    mask = ~np.ma.getmaskarray(created) if np.ma.isMaskedArray(created) else slice(None)
    out[rows["dense_id"][mask]] = np.asarray(created[mask], dtype=float)
    return out


def build_training_data(
    cur: Any,
    group_id: int,
    datasets: dict[str, tuple[int, list[SchemaField]]],
    solution: dict[str, Any],
) -> TrainingData:
    """Everything a recipe learns from, for one dataset group and one solution's choices.

    `datasets` maps INTERACTIONS/USERS/ITEMS to (dataset id, schema fields).
    """
    n_users = training_data.entity_count(cur, group_id, "USER")
    n_items = training_data.entity_count(cur, group_id, "ITEM")
    dataset_id, fields = datasets["INTERACTIONS"]
    interactions = build_interactions(cur, group_id, dataset_id, fields, solution, n_users, n_items)
    data = TrainingData(interactions)
    if "USERS" in datasets:
        users_id, user_fields = datasets["USERS"]
        data.user_features, _ = build_features(
            cur,
            group_id,
            "USER",
            users_id,
            "USER_ID",
            _columns(user_fields, "USERS", solution),
            n_users,
        )
    if "ITEMS" in datasets:
        items_id, item_fields = datasets["ITEMS"]
        data.item_features, _ = build_features(
            cur,
            group_id,
            "ITEM",
            items_id,
            "ITEM_ID",
            _columns(item_fields, "ITEMS", solution),
            n_items,
        )
        if any(f.name == "CREATION_TIMESTAMP" for f in item_fields):
            data.item_creation = item_creation_times(cur, group_id, items_id, n_items)
    return data

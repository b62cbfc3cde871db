"""Filters over a whole batch job: the same answers as `FilterOps.filter_mask` per request,
without redoing the per-job work for every line.

An item filter's conditions on item metadata (`Items.FIELD ...` with literal values or a
`$PARAM` from the line's filterValues) do not depend on the user: each is evaluated once per
job (per distinct parameter value) and reused. Only what depends on the line is evaluated
per line: the user's events (from the in-memory history index), the current user's and the
current item's metadata (read in bulk once, not one query per line). A filter with no such
part gives one mask per distinct filterValues for the whole job.

User filters (batch segment jobs) are evaluated once per distinct filterValues over every
user the model knows.

The semantics are `engine.serving.filters`' (this module mirrors its `_evaluate`, adding
the cache), so a batch answer is what the real-time request would have returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.datasets.avro import SchemaField
from engine.errors import InvalidInputException
from engine.idmap import IdMap
from engine.serving.filter_grammar import INTERACTION_DATASETS, CurrentItemField, Param
from engine.serving.filter_ops import as_value
from engine.serving.filters import (
    UserFilterContext,
    _Evaluator,
    _user_matches,
    evaluate_user_filter,
    parse_filter_values,
)
from engine.serving.loaded import LoadedModel
from engine.store import Resource, id_map, serving

#: Distinct cached condition masks (or whole masks) kept before the cache starts over.
CACHE_LIMIT = 4096


def _values_key(values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


class EntityRows:
    """Rows of a Users or Items dataset by external id: the first few looked up one query
    each (as a real-time request does), then all of them in one query."""

    #: Lookups answered one query each before the whole dataset is read.
    SINGLE_LOOKUPS = 32

    def __init__(
        self, engine: Any, group_id: int, entity: str, dataset: Resource, fields: list[str]
    ) -> None:
        self._engine = engine
        self._group_id = group_id
        self._entity = entity
        self._dataset = dataset
        self._fields = fields
        self._lookups = 0
        self._rows: dict[str, tuple] | None = None

    def get(self, external_id: str) -> dict[str, Any] | None:
        """The entity's raw values of the fields, or None if the dataset has no such row."""
        id_field = f"{self._entity}_ID"
        if self._rows is None and self._lookups < self.SINGLE_LOOKUPS:
            self._lookups += 1
            with self._engine.store.cursor() as cur:
                return serving.entity_row(
                    cur, self._dataset.id, id_field, external_id, self._fields
                )
        if self._rows is None:
            self._rows = self._load(id_field)
        found = self._rows.get(external_id)
        return None if found is None else dict(zip(self._fields, found, strict=True))

    def _load(self, id_field: str) -> dict[str, tuple]:
        with self._engine.store.cursor() as cur:
            columns = serving.entity_columns(
                cur, self._group_id, self._entity, self._dataset.id, id_field, self._fields
            )
            ids = IdMap(id_map.load(cur, self._group_id, self._entity)).external_ids
        external = [ids[int(d)] for d in columns["dense_id"]]
        values: Any = [()] * len(external)
        if self._fields:
            values = zip(*(columns[f] for f in self._fields), strict=True)
        rows: dict[str, tuple] = {}
        for key, row in zip(external, values, strict=True):
            rows.setdefault(key, row)
        return rows


class _CachingEvaluator(_Evaluator):
    """The filters' evaluator, remembering the masks of conditions on item metadata."""

    def __init__(self, cache: dict, *args: Any) -> None:
        super().__init__(*args)
        self.cache = cache

    def condition(self, c: Any, column: np.ndarray | None = None) -> np.ndarray:
        if column is not None or c.dataset != "Items" or isinstance(c.operand, CurrentItemField):
            return super().condition(c, column)
        value = self.values.get(c.operand.name) if isinstance(c.operand, Param) else None
        key = (c, value)
        found = self.cache.get(key)
        if found is None:
            if len(self.cache) >= CACHE_LIMIT:
                self.cache.clear()
            found = self.cache[key] = super().condition(c)
        return found


class ItemFilter:
    """An item filter (`INCLUDE|EXCLUDE ItemID ...`) for every line of a batch inference job,
    over the first `n_items` dense item ids."""

    def __init__(self, engine: Any, filter_arn: str, model: LoadedModel, n_items: int) -> None:
        self.engine = engine
        self.model = model
        self.n = n_items
        self.expression = engine._filter_expression(filter_arn, model.group_arn)
        datasets, self.columns = engine._item_columns(model.group_id, model.group_arn, n_items)
        conditions = [c for e in self.expression.expressions for c in e.conditions]
        interactions = datasets.get("INTERACTIONS")
        self.events_dataset = interactions.id if interactions is not None else None
        self.uses_events = any(c.dataset in INTERACTION_DATASETS for c in conditions)
        self.users = (
            self._rows(datasets.get("USERS"), "USER")
            if any(c.dataset == "CurrentUser" for c in conditions)
            else None
        )
        self.items = (
            self._rows(datasets.get("ITEMS"), "ITEM")
            if any(
                c.dataset == "CurrentItem" or isinstance(c.operand, CurrentItemField)
                for c in conditions
            )
            else None
        )
        self.static = not self.uses_events and self.users is None and self.items is None
        self._conditions: dict = {}
        self._masks: dict = {}

    def _rows(self, dataset: Resource | None, entity: str) -> tuple | None:
        if dataset is None:
            return None
        fields = [f for f in self.engine.dataset_fields(dataset) if not f.textual]
        rows = EntityRows(
            self.engine, self.model.group_id, entity, dataset, [f.name for f in fields]
        )
        return rows, fields

    @staticmethod
    def _entity(found: tuple | None, external_id: str | None) -> dict[str, Any] | None:
        if found is None or not external_id:
            return None
        rows, fields = found
        row: dict[str, Any] | None = rows.get(external_id)
        if row is None:
            return None
        return {f.name: as_value(f, row[f.name]) for f in fields}

    def mask(
        self, user_id: str | None, item_id: str | None, filter_values: Mapping[str, str] | None
    ) -> np.ndarray:
        """The items the filter lets through for one line (do not modify the array)."""
        values = parse_filter_values(self.expression, filter_values)
        if self.static:
            key = _values_key(values)
            found = self._masks.get(key)
            if found is None:
                if len(self._masks) >= CACHE_LIMIT:
                    self._masks.clear()
                found = self._masks[key] = self._evaluate(values, {}, None, None)
            return found
        events: dict[str, Any] = {}
        if self.uses_events and user_id and self.events_dataset is not None:
            events = self.engine.history.by_event_type(
                self.model.group_id, self.events_dataset, user_id
            )
        user = self._entity(self.users, user_id)
        item = self._entity(self.items, item_id)
        return self._evaluate(values, events, user, item)

    def _evaluate(
        self,
        values: dict[str, str],
        events: Mapping[str, np.ndarray],
        current_user: Mapping[str, object] | None,
        current_item: Mapping[str, object] | None,
    ) -> np.ndarray:
        lowered: dict[str, np.ndarray] = {}
        for key, ids in events.items():
            key = str(key).lower()
            ids = np.asarray(ids).ravel()
            lowered[key] = np.concatenate([lowered[key], ids]) if key in lowered else ids
        include: np.ndarray | None = None
        exclude = np.zeros(self.n, dtype=bool)
        for e in self.expression.expressions:
            missing = [p for p in e.parameters if p not in values]
            if missing:
                if e.action == "INCLUDE":
                    raise InvalidInputException(
                        f"filterValues: the INCLUDE expression at position {e.position} needs "
                        f"a value for parameter {missing[0]}"
                    )
                continue
            if e.condition_if and not _user_matches(e.condition_if, current_user, values):
                continue
            evaluator = _CachingEvaluator(
                self._conditions, self.n, self.columns, lowered, current_item, values
            )
            mask = evaluator.expression(e)
            if e.action == "INCLUDE":
                include = mask if include is None else include | mask
            else:
                exclude |= mask
        result = np.ones(self.n, dtype=bool) if include is None else include
        return result & ~exclude


class UserFilter:
    """A user filter (`INCLUDE|EXCLUDE UserID ...`) over the users a segment model knows."""

    def __init__(self, engine: Any, filter_arn: str, model: LoadedModel) -> None:
        self.expression = engine._filter_expression(filter_arn, model.group_arn)
        n = model.recipe.n_users
        self.context = UserFilterContext(n)
        datasets = {
            d.spec["datasetType"]: d for d in engine.catalog.list("dataset", model.group_arn)
        }
        conditions = [c for e in self.expression.expressions for c in e.conditions]
        users = datasets.get("USERS")
        if users is not None and any(c.dataset == "Users" for c in conditions):
            fields = [f for f in engine.dataset_fields(users) if not f.textual]
            self.context.user_columns = _columns(engine, model, users, fields, n)
        interactions = datasets.get("INTERACTIONS")
        if interactions is not None and any(c.dataset in INTERACTION_DATASETS for c in conditions):
            scan = engine._scan_history(model.group_id, interactions.id)
            dense = model.users.dense_many(str(u) for u in scan["user"])
            types = np.asarray(scan["event_type"]).astype(str)
            known = (dense >= 0) & (dense < n)
            for name in np.unique(types[known]):
                chosen = known & (types == name)
                self.context.event_users[str(name).lower()] = np.unique(dense[chosen])
        self._masks: dict = {}

    def mask(self, filter_values: Mapping[str, str] | None) -> np.ndarray:
        """The users the filter lets into a segment (do not modify the array)."""
        values = parse_filter_values(self.expression, filter_values)
        key = _values_key(values)
        found = self._masks.get(key)
        if found is None:
            if len(self._masks) >= CACHE_LIMIT:
                self._masks.clear()
            found = self._masks[key] = evaluate_user_filter(self.expression, self.context, values)
        return found


def _columns(
    engine: Any, model: LoadedModel, dataset: Resource, fields: list[SchemaField], n: int
) -> dict[str, np.ndarray]:
    """The fields of a Users dataset as arrays over the model's dense user ids."""
    with engine.store.cursor() as cur:
        found = serving.entity_columns(
            cur, model.group_id, "USER", dataset.id, "USER_ID", [f.name for f in fields]
        )
    dense = np.array(found["dense_id"], np.int64)
    keep = dense < n
    out = {}
    for f in fields:
        values = np.full(n, np.nan) if f.is_numeric else np.empty(n, dtype=object)
        raw = np.array(found[f.name], dtype=object)[keep]
        for d, v in zip(dense[keep], raw, strict=True):
            converted = as_value(f, v)
            values[d] = np.nan if converted is None and f.is_numeric else converted
        out[f.name] = values
    return out

"""Filters: CreateFilter, DescribeFilter, ListFilters, DeleteFilter, and applying a filter to a
request (item metadata, the user's events, the current user and item, filterValues)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.base import EngineBase, summary
from engine.datasets.avro import SchemaField
from engine.datasets.datasets import DATASET, DatasetOps
from engine.datasets.groups import DATASET_GROUP
from engine.errors import InvalidInputException, LimitExceededException
from engine.operations import operation, paginate
from engine.serving.filter_grammar import CurrentItemField
from engine.serving.filters import (
    FilterContext,
    check_filter,
    evaluate_filter,
    parse_filter,
)
from engine.serving.history import HistoryIndex
from engine.store import Resource, serving

FILTER = "filter"
MAX_FILTERS_PER_GROUP = 10
DATASET_NAMES = {"INTERACTIONS": "Interactions", "USERS": "Users", "ITEMS": "Items"}


def _describe(resource: Resource, full: bool = True) -> dict[str, Any]:
    extra: dict[str, Any] = {"datasetGroupArn": resource.parent_arn}
    if full:
        extra["filterExpression"] = resource.spec["filterExpression"]
    return summary(resource, "filterArn", **extra)


def as_value(field: SchemaField, value: Any) -> Any:
    """A metadata value as filters compare it: categorical -> frozenset of `|` parts."""
    if value is None:
        return None
    if field.categorical:
        return frozenset(p.strip() for p in str(value).split("|") if p.strip())
    if field.is_numeric:
        return float(value)
    return str(value)


class FilterOps(DatasetOps, EngineBase):
    """The filter operations of the Engine."""

    history: HistoryIndex

    def _schemas(self, group_arn: str) -> dict[str, list[SchemaField]]:
        return {
            DATASET_NAMES[d.spec["datasetType"]]: self.dataset_fields(d)
            for d in self.catalog.list(DATASET, group_arn)
        }

    @operation("CreateFilter")
    def create_filter(
        self,
        *,
        name: str,
        datasetGroupArn: str,
        filterExpression: str,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Create a filter; a bad expression is rejected with the position and the token."""
        self.catalog.require(datasetGroupArn, DATASET_GROUP)
        expression = parse_filter(filterExpression)
        check_filter(expression, self._schemas(datasetGroupArn))
        if len(self.catalog.list(FILTER, datasetGroupArn)) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceededException(
                f"datasetGroupArn {datasetGroupArn} has {MAX_FILTERS_PER_GROUP} filters "
                "already (the limit)"
            )
        arn = self.arns.make("filter", name)
        with self.store.transaction() as cur:
            self.catalog.insert(
                FILTER,
                arn,
                name,
                parent_arn=datasetGroupArn,
                status="ACTIVE",
                spec={"filterExpression": filterExpression},
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)
        return {"filterArn": arn}

    @operation("DescribeFilter")
    def describe_filter(self, *, filterArn: str) -> dict[str, Any]:
        """Describe a filter with its expression."""
        return {"filter": _describe(self.catalog.require(filterArn, FILTER))}

    @operation("ListFilters")
    def list_filters(
        self,
        *,
        datasetGroupArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List filters (of one dataset group if given)."""
        rows = [_describe(f, full=False) for f in self.catalog.list(FILTER, datasetGroupArn)]
        return paginate(
            f"ListFilters:{datasetGroupArn or ''}", rows, "Filters", nextToken, maxResults
        )

    @operation("DeleteFilter")
    def delete_filter(self, *, filterArn: str) -> dict[str, Any]:
        """Delete a filter."""
        self.catalog.require(filterArn, FILTER)
        self.catalog.delete(filterArn)
        self.__dict__.get("_parsed_filters", {}).pop(filterArn, None)
        return {}

    def filter_mask(
        self,
        filter_arn: str,
        group_id: int,
        group_arn: str,
        n_items: int,
        user_id: str | None,
        item_id: str | None,
        filter_values: dict[str, str] | None,
    ) -> np.ndarray:
        """Items (dense ids < n_items) a filter lets through for this request.

        The parsed expression is cached per filter, and the items' metadata columns per
        dataset group until its imports or items change, so a request only adds the user's
        events and the current user's and item's metadata."""
        expression = self._filter_expression(filter_arn, group_arn)
        datasets, columns = self._item_columns(group_id, group_arn, n_items)
        context = FilterContext(n_items, item_columns=columns)
        if "INTERACTIONS" in datasets and user_id:
            context.user_events = self.history.by_event_type(
                group_id, datasets["INTERACTIONS"].id, user_id
            )
        conditions = [c for e in expression.expressions for c in e.conditions]
        item_wanted = (
            "ITEMS" in datasets
            and item_id
            and any(
                c.dataset == "CurrentItem" or isinstance(c.operand, CurrentItemField)
                for c in conditions
            )
        )
        user_wanted = (
            "USERS" in datasets and user_id and any(c.dataset == "CurrentUser" for c in conditions)
        )
        if item_wanted or user_wanted:
            with self.store.cursor() as cur:
                if item_wanted:
                    context.current_item = self._entity(cur, datasets["ITEMS"], "ITEM_ID", item_id)
                if user_wanted:
                    context.current_user = self._entity(cur, datasets["USERS"], "USER_ID", user_id)
        return evaluate_filter(expression, context, filter_values)

    def _filter_expression(self, filter_arn: str, group_arn: str) -> Any:
        """The filter's parsed expression (cached: filters never change)."""
        cache = self.__dict__.setdefault("_parsed_filters", {})
        found = cache.get(filter_arn)
        if found is None:
            resource = self.catalog.require(filter_arn, FILTER)
            found = (resource.parent_arn, parse_filter(resource.spec["filterExpression"]))
            cache[filter_arn] = found
        if found[0] != group_arn:
            raise InvalidInputException(
                f"filterArn {filter_arn} belongs to another dataset group than the campaign"
            )
        return found[1]

    def _item_columns(
        self, group_id: int, group_arn: str, n_items: int
    ) -> tuple[dict[str, Resource], dict[str, np.ndarray]]:
        """The group's datasets and its items' metadata columns over `n_items` dense ids."""
        cache = self.__dict__.setdefault("_filter_columns", {})
        key = (group_id, self.metadata_version(group_id), n_items)  # type: ignore[attr-defined]
        found = cache.get(group_id)
        if found is not None and found[0] == key:
            return found[1], found[2]
        datasets = {d.spec["datasetType"]: d for d in self.catalog.list(DATASET, group_arn)}
        context = FilterContext(n_items)
        if "ITEMS" in datasets:
            with self.store.cursor() as cur:
                self._item_context(cur, context, group_id, datasets["ITEMS"], None)
        cache[group_id] = (key, datasets, context.item_columns)
        return datasets, context.item_columns

    def _item_context(
        self, cur: Any, context: FilterContext, group_id: int, items: Resource, item_id: str | None
    ) -> None:
        fields = [f for f in self.dataset_fields(items) if not f.textual]
        columns = serving.entity_columns(
            cur, group_id, "ITEM", items.id, "ITEM_ID", [f.name for f in fields]
        )
        dense = np.array(columns["dense_id"], np.int64)
        keep = dense < context.n_items
        for f in fields:
            values = np.empty(context.n_items, dtype=object)
            if f.is_numeric:
                values = np.full(context.n_items, np.nan)
            for d, v in zip(
                dense[keep], np.array(columns[f.name], dtype=object)[keep], strict=True
            ):
                converted = as_value(f, v)
                values[d] = np.nan if converted is None and f.is_numeric else converted
            context.item_columns[f.name] = values
        if item_id:
            context.current_item = self._entity(cur, items, "ITEM_ID", item_id)

    def _entity(
        self, cur: Any, dataset: Resource, id_field: str, entity_id: str
    ) -> dict[str, Any] | None:
        fields = [f for f in self.dataset_fields(dataset) if not f.textual]
        row = serving.entity_row(cur, dataset.id, id_field, entity_id, [f.name for f in fields])
        if row is None:
            return None
        return {f.name: as_value(f, row[f.name]) for f in fields}

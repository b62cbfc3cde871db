"""SQL of metric attribution: per (metric, attribution source, 15-minute window) aggregates of
the Interactions dataset, as a Polars frame or as Personalize's report CSV.

The attribution source of an interaction is, in order: its EVENT_ATTRIBUTION_SOURCE (when the
schema has the field and the value is not empty); the campaign that gave its recommendation
id (`_recommendation_id` of a PutEvents row, else its RECOMMENDATION_ID field) according to
`recommendation_log`; else `SOURCE_NAME_UNDEFINED`. Event types match case-insensitively.
SUM(Items.F) joins the interaction's item to the newest Items row of that item; rows whose
summed value is null (an unknown item, an empty field) add nothing.

Field names are spliced as quoted identifiers: they are checked Avro names from the group's
schemas. Metric names, event types and time bounds are bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from engine.datasets.rules import quote
from engine.store.data_tables import table_name

WINDOW_SECONDS = 15 * 60
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
#: The columns of a report frame, in order.
REPORT_SCHEMA = {
    "metric_name": pl.String,
    "event_type": pl.String,
    "expression": pl.String,
    "math_function": pl.String,
    "event_attribution_source": pl.String,
    "window_start": pl.Int64,
    "value": pl.Float64,
}
#: The header of Personalize's report CSV and the report column each comes from.
CSV_COLUMNS = (
    ("METRIC_NAME", "metric_name"),
    ("EVENT_TYPE", "event_type"),
    ("VALUE", "value"),
    ("MATH_FUNCTION", "math_function"),
    ("EVENT_ATTRIBUTION_SOURCE", "event_attribution_source"),
    ("TIMESTAMP", "window_start"),
)

#: A relation with the report's columns and no rows.
EMPTY = (
    "SELECT NULL::VARCHAR AS metric_name, NULL::VARCHAR AS event_type, "
    "NULL::VARCHAR AS expression, NULL::VARCHAR AS math_function, "
    "NULL::VARCHAR AS event_attribution_source, NULL::BIGINT AS window_start, "
    "NULL::DOUBLE AS value"
)


@dataclass(frozen=True)
class MetricQuery:
    """One metric to aggregate: SAMPLECOUNT (dataset None) or SUM of `dataset`.`field`
    (`dataset` is "ITEMS" or "INTERACTIONS")."""

    name: str
    event_type: str
    expression: str
    function: str
    dataset: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Sources:
    """Where the rows are: the datasets' tables and which reserved fields the schema has."""

    group_id: int
    interactions_dataset: int
    items_dataset: int | None
    has_attribution_source: bool
    has_recommendation_id: bool


def _report_sql(
    sources: Sources | None,
    metrics: list[MetricQuery],
    start: int | None,
    end: int | None,
    select: str,
) -> tuple[str, dict[str, Any]]:
    """The report query with `select` as its column list, and its parameters."""
    if sources is None or not metrics:
        return f"SELECT {select} FROM ({EMPTY}) WHERE false", {}
    params: dict[str, Any] = {"grp": sources.group_id, "window": WINDOW_SECONDS}
    interaction_fields = sorted(
        {m.field for m in metrics if m.dataset == "INTERACTIONS" and m.field}
    )
    item_fields = sorted({m.field for m in metrics if m.dataset == "ITEMS" and m.field})
    recommendation = "nullif(t._recommendation_id, '')"
    if sources.has_recommendation_id:
        recommendation = f"coalesce({recommendation}, nullif(t.\"RECOMMENDATION_ID\", ''))"
    source = "log.campaign_arn"
    if sources.has_attribution_source:
        source = f"nullif(t.\"EVENT_ATTRIBUTION_SOURCE\", ''), {source}"
    params["undefined"] = UNDEFINED_SOURCE
    bounds = []
    if start is not None:
        bounds.append('t."TIMESTAMP" >= $start')
        params["start"] = int(start)
    if end is not None:
        bounds.append('t."TIMESTAMP" < $end')
        params["end"] = int(end)
    where = f"WHERE {' AND '.join(bounds)}" if bounds else ""
    extra = "".join(f", t.{quote(f)} AS {quote('i_' + f)}" for f in interaction_fields)
    ctes = [
        """log AS (
            SELECT recommendation_id, arg_min(campaign_arn, created_at) AS campaign_arn
            FROM recommendation_log WHERE dataset_group_id = $grp
            GROUP BY recommendation_id
        )""",
        f"""events AS (
            SELECT t."ITEM_ID" AS item_id,
                   (floor(t."TIMESTAMP" / $window) * $window)::BIGINT AS window_start,
                   lower(t."EVENT_TYPE") AS event_type,
                   coalesce({source}, $undefined) AS source{extra}
            FROM {table_name(sources.interactions_dataset)} t
            LEFT JOIN log ON log.recommendation_id = {recommendation}
            {where}
        )""",
    ]
    if item_fields:
        if sources.items_dataset is None:
            raise ValueError("a SUM(Items.<field>) metric needs the group's Items dataset")
        latest = ", ".join(
            f"arg_max({quote(f)}, _loaded_at) AS {quote('v_' + f)}" for f in item_fields
        )
        ctes.append(
            f"""items AS (
                SELECT "ITEM_ID" AS item_id, {latest}
                FROM {table_name(sources.items_dataset)} GROUP BY "ITEM_ID"
            )"""
        )
    parts = []
    for i, metric in enumerate(metrics):
        params.update(
            {
                f"name{i}": metric.name,
                f"type{i}": metric.event_type,
                f"lower{i}": metric.event_type.lower(),
                f"expr{i}": metric.expression,
                f"fn{i}": metric.function.lower(),
            }
        )
        head = (
            f"SELECT {i} AS metric_index, $name{i} AS metric_name, $type{i} AS event_type, "
            f"$expr{i} AS expression, $fn{i} AS math_function, "
            "e.source AS event_attribution_source, e.window_start"
        )
        if metric.dataset is None:
            value, join, present = "count(*)", "", "true"
        elif metric.dataset == "INTERACTIONS":
            column = f"e.{quote('i_' + str(metric.field))}"
            value, join, present = f"sum({column})", "", f"{column} IS NOT NULL"
        else:
            column = f"it.{quote('v_' + str(metric.field))}"
            join = "JOIN items it ON it.item_id = e.item_id"
            value, present = f"sum({column})", f"{column} IS NOT NULL"
        parts.append(
            f"{head}, ({value})::DOUBLE AS value FROM events e {join} "
            f"WHERE e.event_type = $lower{i} AND {present} "
            "GROUP BY e.source, e.window_start"
        )
    sql = (
        f"WITH {', '.join(ctes)} SELECT {select} FROM ({' UNION ALL '.join(parts)}) "
        "ORDER BY metric_index, window_start, event_attribution_source"
    )
    return sql, params


def empty_report() -> pl.DataFrame:
    """A report without rows (the columns of `metric_windows`)."""
    return pl.DataFrame(schema=REPORT_SCHEMA)


def metric_windows(
    cur: Any,
    sources: Sources | None,
    metrics: list[MetricQuery],
    start: int | None = None,
    end: int | None = None,
) -> pl.DataFrame:
    """One row per (metric, attribution source, 15-minute window) with at least one event:
    `metric_name, event_type, expression, math_function, event_attribution_source,
    window_start` (epoch seconds, a multiple of 900) and `value`; interactions with
    `start <= TIMESTAMP < end` (epoch seconds; None: open). Ordered by metric (as given),
    window, source. `sources` None (no Interactions dataset yet): no rows."""
    if sources is None or not metrics:
        return empty_report()
    sql, params = _report_sql(sources, metrics, start, end, ", ".join(REPORT_SCHEMA))
    frame = cur.sql(sql, params=params).pl()
    return frame.cast(REPORT_SCHEMA) if frame.height else empty_report()


def write_report_csv(
    cur: Any,
    sources: Sources | None,
    metrics: list[MetricQuery],
    path: Path,
    start: int | None = None,
    end: int | None = None,
) -> int:
    """Write the report as Personalize's CSV (METRIC_NAME, EVENT_TYPE, VALUE, MATH_FUNCTION,
    EVENT_ATTRIBUTION_SOURCE, TIMESTAMP; one line per row of `metric_windows`, in its order)
    to `path`; returns the number of rows."""
    select = ", ".join(f"{column} AS {header}" for header, column in CSV_COLUMNS)
    sql, params = _report_sql(sources, metrics, start, end, select)
    params["path"] = str(path)
    row = cur.execute(f"COPY ({sql}) TO $path (HEADER, DELIMITER ',')", params).fetchall()[0]
    return int(row[0])

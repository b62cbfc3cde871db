"""Metric attributions: CreateMetricAttribution, DescribeMetricAttribution,
ListMetricAttributions, ListMetricAttributionMetrics, UpdateMetricAttribution,
DeleteMetricAttribution; and Tailor's own `metric_attribution_report` and
`publish_metric_attribution`.

A metric attribution measures the impact of recommendations: for each metric (an event type
and `SUM(Items.<FIELD>)`, `SUM(Interactions.<FIELD>)` or `SAMPLECOUNT()`) it aggregates the
group's interactions per attribution source and 15-minute window (UTC quarter hours: the
window of an event starts at `TIMESTAMP - TIMESTAMP % 900`). The source of an interaction is
its EVENT_ATTRIBUTION_SOURCE if it has one (Personalize: "If you provide both attributes,
Amazon Personalize uses only the eventAttributionSource"), else the ARN of the campaign whose
`recommendationId` it carries (from the recommendation log), else `SOURCE_NAME_UNDEFINED`.
The aggregates are computed from the stored interactions when asked for (nothing is
materialised), so they always cover every row the Interactions dataset holds: imported and
real-time, including rows recorded before the attribution was created.

Rules, as in Personalize: at most one metric attribution per dataset group
(LimitExceededException), 1 to 10 metrics with distinct names, the Interactions dataset (if
it exists yet) must have an EVENT_TYPE field, and a SUM() must name a numeric field of an
existing Items or Interactions dataset. Each error names the metric, the value and the rule.

Output in S3. When `metricsOutputConfig.s3DataDestination.path` is set, Tailor writes a
report file there when the attribution is created, when it is updated, and whenever
`publish_metric_attribution` is called (Personalize publishes one for each bulk import):

    <path>/AggregatedAttributionMetrics-ALL-<YYYYMMDDTHHMMSS.mmm>Z.csv

`ALL` says the file covers all the interactions (imported and PutEvents rows); the time is
when it was written (UTC). Each file is a complete report, never appended to, and appears
whole or not at all. It has Personalize's columns, one line per metric, source and window
(windows without events are left out):

    METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP
    REVENUE,purchase,1234.5,sum,variant_a,1762128000

VALUE is a float (a count for SAMPLECOUNT), MATH_FUNCTION `sum` or `samplecount`, TIMESTAMP
the window's start in epoch seconds. `s3://` resolves to the embedded store under
`<data_dir>/s3/` unless an S3 endpoint is configured. `kmsKeyArn` and `roleArn` are kept and
described; Tailor neither encrypts nor assumes roles. There is no CloudWatch:
`metric_attribution_report` is the live view (a Polars frame, for the dashboard).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from engine.attribution.expressions import (
    INTERACTIONS,
    ITEMS,
    check_expression,
    parse_expression,
)
from engine.base import EngineBase, summary
from engine.datasets import sources as s3
from engine.datasets.avro import SchemaField
from engine.datasets.datasets import DATASET, DatasetOps
from engine.datasets.groups import DATASET_GROUP
from engine.errors import (
    InvalidInputException,
    LimitExceededException,
    ResourceAlreadyExistsException,
)
from engine.operations import operation, paginate
from engine.store import Resource
from engine.store import attribution as sql

METRIC_ATTRIBUTION = "metric-attribution"
MAX_METRICS = 10
OUTPUT_FIELD = "metricsOutputConfig.s3DataDestination.path"
REPORT_PREFIX = "AggregatedAttributionMetrics"
REPORT_METHOD = "ALL"
DATASET_TYPES = {"INTERACTIONS": INTERACTIONS, "ITEMS": ITEMS}


def _describe(resource: Resource) -> dict[str, Any]:
    return summary(
        resource,
        "metricAttributionArn",
        datasetGroupArn=resource.parent_arn,
        metricsOutputConfig=resource.spec["metricsOutputConfig"],
    )


def _listed(resource: Resource) -> dict[str, Any]:
    return summary(resource, "metricAttributionArn")


def _epoch(value: Any, field: str) -> int | None:
    """A report bound as epoch seconds: a datetime (naive means UTC), a date (its midnight,
    UTC) or a number of seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise InvalidInputException(f"{field} {value!r} must be a datetime, a date or epoch seconds")


def report_filename(now: datetime | None = None) -> str:
    """`AggregatedAttributionMetrics-ALL-20251130T120000.123Z.csv` for the time `now`."""
    now = now or datetime.now(UTC)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + f".{now.microsecond // 1000:03d}Z"
    return f"{REPORT_PREFIX}-{REPORT_METHOD}-{stamp}.csv"


class MetricAttributionOps(DatasetOps, EngineBase):
    """The metric attribution operations of the Engine."""

    # ---- checks ------------------------------------------------------------------------

    def _attribution_schemas(self, group_arn: str) -> dict[str, list[SchemaField]]:
        """The group's Interactions and Items schemas, by dataset type."""
        out = {}
        for dataset in self.catalog.list(DATASET, group_arn):
            kind = DATASET_TYPES.get(dataset.spec["datasetType"])
            if kind is not None:
                out[kind] = self.dataset_fields(dataset)
        return out

    def _check_event_type_field(self, schemas: dict[str, list[SchemaField]]) -> None:
        fields = schemas.get(INTERACTIONS)
        if fields is not None and "EVENT_TYPE" not in {f.name for f in fields}:
            raise InvalidInputException(
                "the dataset group's Interactions dataset has no EVENT_TYPE field; a metric "
                "attribution reports per event type, so the Interactions schema needs one"
            )

    def _check_metrics(
        self,
        metrics: list[dict[str, Any]],
        key: str,
        schemas: dict[str, list[SchemaField]],
        taken: set[str],
    ) -> list[dict[str, str]]:
        """Each metric's name, event type and expression checked; returns them as stored."""
        checked = []
        names = set(taken)
        for i, metric in enumerate(metrics):
            name = metric["metricName"]
            where = f"{key}[{i}] (metricName {name!r})"
            if not name.strip():
                raise InvalidInputException(f"{key}[{i}].metricName must not be empty")
            if name in names:
                if name in taken:
                    raise ResourceAlreadyExistsException(
                        f"{where}: the metric attribution already has a metric named {name!r}"
                    )
                raise InvalidInputException(
                    f"{where}: metric names must be distinct; {name!r} appears twice"
                )
            names.add(name)
            if not metric["eventType"].strip():
                raise InvalidInputException(f"{where}: eventType must not be empty")
            text = metric["expression"]
            parsed = parse_expression(text, where)
            check_expression(parsed, text, where, schemas)
            checked.append(
                {"eventType": metric["eventType"], "metricName": name, "expression": text}
            )
        return checked

    def _check_output(self, config: dict[str, Any]) -> dict[str, Any]:
        destination = config.get("s3DataDestination")
        if destination is not None:
            s3.output_prefix(destination["path"], OUTPUT_FIELD)
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}

    # ---- reports -----------------------------------------------------------------------

    def _report_plan(
        self, group_arn: str, metrics: list[dict[str, str]]
    ) -> tuple[sql.Sources | None, list[sql.MetricQuery]]:
        """What the report SQL needs, with every metric checked against today's schemas."""
        schemas = self._attribution_schemas(group_arn)
        self._check_event_type_field(schemas)
        queries = []
        for i, metric in enumerate(metrics):
            where = f"metrics[{i}] (metricName {metric['metricName']!r})"
            parsed = parse_expression(metric["expression"], where)
            check_expression(parsed, metric["expression"], where, schemas)
            queries.append(
                sql.MetricQuery(
                    metric["metricName"],
                    metric["eventType"],
                    metric["expression"],
                    parsed.function,
                    parsed.dataset,
                    parsed.field,
                )
            )
        datasets = {
            DATASET_TYPES[d.spec["datasetType"]]: d
            for d in self.catalog.list(DATASET, group_arn)
            if d.spec["datasetType"] in DATASET_TYPES
        }
        interactions = datasets.get(INTERACTIONS)
        if interactions is None:
            return None, queries
        names = {f.name for f in schemas[INTERACTIONS]}
        items = datasets.get(ITEMS)
        sources = sql.Sources(
            group_id=self.catalog.require(group_arn, DATASET_GROUP).id,
            interactions_dataset=interactions.id,
            items_dataset=items.id if items is not None else None,
            has_attribution_source="EVENT_ATTRIBUTION_SOURCE" in names,
            has_recommendation_id="RECOMMENDATION_ID" in names,
        )
        return sources, queries

    def _publish(self, group_arn: str, spec: dict[str, Any]) -> dict[str, Any] | None:
        """Write a report file to the configured S3 path (None: no path configured)."""
        destination = spec["metricsOutputConfig"].get("s3DataDestination")
        if destination is None:
            return None
        sources, queries = self._report_plan(group_arn, spec["metrics"])
        location = destination["path"]
        filename = report_filename()
        with (
            s3.published(
                location, filename, self.store.data_dir, self.settings, OUTPUT_FIELD
            ) as temporary,
            self.store.cursor() as cur,
        ):
            rows = sql.write_report_csv(cur, sources, queries, temporary)
        return {"path": f"{location.rstrip('/')}/{filename}", "rows": rows}

    def metric_attribution_report(
        self, metricAttributionArn: str, start: Any = None, end: Any = None
    ) -> pl.DataFrame:
        """Tailor's own: the attribution's aggregates, one row per metric, attribution source
        and 15-minute window that has events, from the interactions with
        `start <= TIMESTAMP < end` (datetimes, dates or epoch seconds; None: open).

        Columns: `metric_name`, `event_type`, `expression`, `math_function` (`sum` or
        `samplecount`), `event_attribution_source` (a campaign ARN, the event's own
        EVENT_ATTRIBUTION_SOURCE, or SOURCE_NAME_UNDEFINED), `window_start` and `window_end`
        (UTC datetimes) and `value` (float). Ordered by metric (as listed), window, source.
        """
        resource = self.catalog.require(metricAttributionArn, METRIC_ATTRIBUTION)
        lo, hi = _epoch(start, "start"), _epoch(end, "end")
        sources, queries = self._report_plan(resource.parent_arn or "", resource.spec["metrics"])
        with self.store.cursor() as cur:
            frame = sql.metric_windows(cur, sources, queries, lo, hi)
        start_time = pl.from_epoch(pl.col("window_start"), time_unit="s").dt.replace_time_zone(
            "UTC"
        )
        return frame.with_columns(
            start_time.alias("window_start"),
            (start_time + pl.duration(seconds=sql.WINDOW_SECONDS)).alias("window_end"),
        ).select(
            "metric_name",
            "event_type",
            "expression",
            "math_function",
            "event_attribution_source",
            "window_start",
            "window_end",
            "value",
        )

    def publish_metric_attribution(self, metricAttributionArn: str) -> dict[str, Any]:
        """Tailor's own: write the attribution's report now, as Personalize does after a bulk
        import. Returns `{"path": "s3://.../AggregatedAttributionMetrics-ALL-...csv",
        "rows": n}`; InvalidInputException if no `s3DataDestination` is configured."""
        resource = self.catalog.require(metricAttributionArn, METRIC_ATTRIBUTION)
        published = self._publish(resource.parent_arn or "", resource.spec)
        if published is None:
            raise InvalidInputException(
                f"metric attribution {metricAttributionArn} has no "
                "metricsOutputConfig.s3DataDestination to publish to; set one with "
                "UpdateMetricAttribution"
            )
        return published

    # ---- operations --------------------------------------------------------------------

    @operation("CreateMetricAttribution")
    def create_metric_attribution(
        self,
        *,
        name: str,
        datasetGroupArn: str,
        metrics: list[dict[str, Any]],
        metricsOutputConfig: dict[str, Any],
    ) -> dict[str, Any]:
        """Create the dataset group's metric attribution (ACTIVE at once) and, with an S3
        path, publish its first report there."""
        self.catalog.require(datasetGroupArn, DATASET_GROUP)
        existing = self.catalog.list(METRIC_ATTRIBUTION, datasetGroupArn)
        if existing:
            raise LimitExceededException(
                f"datasetGroupArn {datasetGroupArn} already has a metric attribution "
                f"({existing[0].arn}); a dataset group has at most one. Update or delete it."
            )
        if not metrics:
            raise InvalidInputException(
                f"metrics: give at least one metric (at most {MAX_METRICS})"
            )
        schemas = self._attribution_schemas(datasetGroupArn)
        self._check_event_type_field(schemas)
        checked = self._check_metrics(metrics, "metrics", schemas, set())
        output = self._check_output(metricsOutputConfig)
        arn = self.arns.make(METRIC_ATTRIBUTION, name)
        if self.catalog.get(arn) is not None:
            raise ResourceAlreadyExistsException(f"metric attribution {arn} already exists")
        spec = {"metrics": checked, "metricsOutputConfig": output}
        self._publish(datasetGroupArn, spec)
        self.catalog.insert(
            METRIC_ATTRIBUTION, arn, name, parent_arn=datasetGroupArn, status="ACTIVE", spec=spec
        )
        return {"metricAttributionArn": arn}

    @operation("DescribeMetricAttribution")
    def describe_metric_attribution(self, *, metricAttributionArn: str) -> dict[str, Any]:
        """Describe a metric attribution (its metrics: ListMetricAttributionMetrics)."""
        resource = self.catalog.require(metricAttributionArn, METRIC_ATTRIBUTION)
        return {"metricAttribution": _describe(resource)}

    @operation("ListMetricAttributions")
    def list_metric_attributions(
        self,
        *,
        datasetGroupArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List metric attributions (of one dataset group if given), newest first."""
        if datasetGroupArn:
            self.catalog.require(datasetGroupArn, DATASET_GROUP)
        rows = [_listed(r) for r in self.catalog.list(METRIC_ATTRIBUTION, datasetGroupArn)]
        return paginate(
            f"ListMetricAttributions:{datasetGroupArn or ''}",
            rows,
            "metricAttributions",
            nextToken,
            maxResults,
        )

    @operation("ListMetricAttributionMetrics")
    def list_metric_attribution_metrics(
        self,
        *,
        metricAttributionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """The attribution's metrics (event type, name, expression) in the order they were
        added. Their values: `metric_attribution_report` or the published S3 files."""
        if not metricAttributionArn:
            raise InvalidInputException("metricAttributionArn is required")
        resource = self.catalog.require(metricAttributionArn, METRIC_ATTRIBUTION)
        return paginate(
            f"ListMetricAttributionMetrics:{metricAttributionArn}",
            [dict(m) for m in resource.spec["metrics"]],
            "metrics",
            nextToken,
            maxResults,
        )

    @operation("UpdateMetricAttribution")
    def update_metric_attribution(
        self,
        *,
        addMetrics: list[dict[str, Any]] | None = None,
        removeMetrics: list[str] | None = None,
        metricsOutputConfig: dict[str, Any] | None = None,
        metricAttributionArn: str | None = None,
    ) -> dict[str, Any]:
        """Remove metrics (by name), then add metrics, and/or replace the output config; with
        an S3 path, a report of the updated attribution is published. Nothing changes if any
        part is invalid (or the report cannot be written)."""
        if not metricAttributionArn:
            raise InvalidInputException("metricAttributionArn is required")
        resource = self.catalog.require(metricAttributionArn, METRIC_ATTRIBUTION)
        if not addMetrics and not removeMetrics and metricsOutputConfig is None:
            raise InvalidInputException(
                "nothing to update: give addMetrics, removeMetrics or metricsOutputConfig"
            )
        group_arn = resource.parent_arn or ""
        current = [dict(m) for m in resource.spec["metrics"]]
        known = [m["metricName"] for m in current]
        for i, name in enumerate(removeMetrics or []):
            if name not in known:
                raise InvalidInputException(
                    f"removeMetrics[{i}] {name!r} is not a metric of {metricAttributionArn} "
                    f"(its metrics: {', '.join(known)})"
                )
        removed = set(removeMetrics or [])
        kept = [m for m in current if m["metricName"] not in removed]
        schemas = self._attribution_schemas(group_arn)
        if addMetrics:
            self._check_event_type_field(schemas)
        added = self._check_metrics(
            addMetrics or [], "addMetrics", schemas, {m["metricName"] for m in kept}
        )
        metrics = kept + added
        if not metrics:
            raise InvalidInputException(
                "removeMetrics would leave the metric attribution without metrics; a metric "
                "attribution needs at least one"
            )
        if len(metrics) > MAX_METRICS:
            raise InvalidInputException(
                f"addMetrics: the metric attribution would have {len(metrics)} metrics; it "
                f"may have at most {MAX_METRICS}"
            )
        output = (
            self._check_output(metricsOutputConfig)
            if metricsOutputConfig is not None
            else resource.spec["metricsOutputConfig"]
        )
        spec = {"metrics": metrics, "metricsOutputConfig": output}
        self._publish(group_arn, spec)
        self.catalog.update(metricAttributionArn, spec_updates=spec)
        return {"metricAttributionArn": metricAttributionArn}

    @operation("DeleteMetricAttribution")
    def delete_metric_attribution(self, *, metricAttributionArn: str) -> dict[str, Any]:
        """Delete a metric attribution (reports already published stay in S3)."""
        self.catalog.require(metricAttributionArn, METRIC_ATTRIBUTION)
        self.catalog.delete(metricAttributionArn)
        return {}

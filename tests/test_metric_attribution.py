"""Metric attribution (issue 6): the six operations with botocore's shapes, the expression
grammar and its errors, attribution to campaigns and sources in 15-minute windows (checked
against an independent Polars computation on the sample files), the S3 report files, and a
round trip over HTTP with boto3."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import polars as pl
import pytest

from engine import Engine, InvalidInputException
from engine.errors import (
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from engine.sample_data import load_sample
from tests.helpers import CLIENT_CREDENTIALS, INTERACTIONS_SCHEMA, ITEMS_SCHEMA, make_dataset
from tests.shapes import assert_output_shape
from tests.test_server import free_port, start, stop, wait_until_up
from tests.test_serving import POPULARITY, deploy

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
ROLE = "arn:aws:iam::000000000000:role/personalize"
UNDEFINED = "SOURCE_NAME_UNDEFINED"
SAMPLE_END = datetime(2025, 12, 1, tzinfo=UTC)
# Real-time events of these tests happen long after the sample's last day.
LIVE = 1_767_607_200  # 2026-01-05 10:00:00 UTC, a window boundary
WINDOW = 900
FILE_NAME = re.compile(r"AggregatedAttributionMetrics-ALL-\d{8}T\d{6}\.\d{3}Z\.csv")
CSV_HEADER = [
    "METRIC_NAME",
    "EVENT_TYPE",
    "VALUE",
    "MATH_FUNCTION",
    "EVENT_ATTRIBUTION_SOURCE",
    "TIMESTAMP",
]
SAMPLE_METRICS = [
    {"eventType": "purchase", "metricName": "PURCHASES", "expression": "SAMPLECOUNT()"},
    {"eventType": "Purchase", "metricName": "REVENUE", "expression": "SUM(Items.PRICE)"},
    {"eventType": "view", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"},
]


def output(path: str | None = "s3://reports/shop/") -> dict:
    config: dict = {"roleArn": ROLE}
    if path is not None:
        config["s3DataDestination"] = {"path": path}
    return config


def reports(data_dir: Path, bucket: str = "reports", prefix: str = "shop") -> list[Path]:
    folder = data_dir / "s3" / bucket / prefix
    return sorted(p for p in folder.glob("*.csv")) if folder.exists() else []


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample store with a popularity campaign, an event tracker and a metric
    attribution publishing to s3://reports/shop/."""
    data_dir = tmp_path_factory.mktemp("attribution") / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        campaign = deploy(engine, group, "popular", POPULARITY)
        tracking_id = engine.create_event_tracker(name="web", datasetGroupArn=group)["trackingId"]
        created = engine.create_metric_attribution(
            name="shop-impact",
            datasetGroupArn=group,
            metrics=SAMPLE_METRICS,
            metricsOutputConfig=output(),
        )
        assert_output_shape("CreateMetricAttribution", created)
        yield engine, group, campaign, tracking_id, created["metricAttributionArn"], data_dir


@pytest.fixture
def small(engine: Engine, group: str) -> tuple[Engine, str, str, str]:
    """A group with Interactions and Items datasets (the test helpers' schemas), a tracker,
    and two priced items."""
    make_dataset(engine, group, "Interactions", INTERACTIONS_SCHEMA)
    items = make_dataset(engine, group, "Items", ITEMS_SCHEMA)
    engine.put_items(
        datasetArn=items,
        items=[
            {
                "itemId": "a",
                "properties": json.dumps({"category": "x", "price": 2.5, "creationTimestamp": 1}),
            },
            {
                "itemId": "b",
                "properties": json.dumps({"category": "x", "price": 10.0, "creationTimestamp": 1}),
            },
        ],
    )
    tracking_id = engine.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
    return engine, group, items, tracking_id


def expected_from_files() -> pl.DataFrame:
    """Purchases per attribution source and 15-minute window, computed from the sample CSVs
    with Polars alone: count and the sum of the items' PRICE."""
    interactions = pl.read_csv(
        SAMPLE / "interactions.csv",
        schema_overrides={"EVENT_ATTRIBUTION_SOURCE": pl.String, "RECOMMENDATION_ID": pl.String},
    )
    items = pl.read_csv(SAMPLE / "items.csv").select("ITEM_ID", "PRICE")
    return (
        interactions.filter(pl.col("EVENT_TYPE") == "purchase")
        .join(items, on="ITEM_ID", how="left")
        .with_columns(
            pl.col("EVENT_ATTRIBUTION_SOURCE").fill_null(UNDEFINED).alias("source"),
            (pl.col("TIMESTAMP") // WINDOW * WINDOW).alias("window"),
        )
        .group_by("source", "window")
        .agg(pl.len().cast(pl.Float64).alias("count"), pl.col("PRICE").sum().alias("revenue"))
        .sort("window", "source")
    )


def as_windows(report: pl.DataFrame, metric: str) -> pl.DataFrame:
    return (
        report.filter(pl.col("metric_name") == metric)
        .select(
            pl.col("event_attribution_source").alias("source"),
            pl.col("window_start").dt.epoch("s").alias("window"),
            "value",
        )
        .sort("window", "source")
    )


# ---- the sample store ------------------------------------------------------------------


def test_sample_purchases_and_revenue_per_variant_match_polars(sample):
    engine, _, _, _, arn, _ = sample
    report = engine.metric_attribution_report(arn, end=SAMPLE_END)
    expected = expected_from_files()

    purchases = as_windows(report, "PURCHASES")
    assert purchases["source"].to_list() == expected["source"].to_list()
    assert purchases["window"].to_list() == expected["window"].to_list()
    assert purchases["value"].to_list() == expected["count"].to_list()
    revenue = as_windows(report, "REVENUE")
    assert revenue["window"].to_list() == expected["window"].to_list()
    assert revenue["value"].to_list() == pytest.approx(expected["revenue"].to_list(), rel=1e-9)

    # The planted A/B test: purchases and revenue per variant.
    totals = expected.group_by("source").agg(pl.col("count").sum(), pl.col("revenue").sum())
    by_source = {r["source"]: r for r in totals.to_dicts()}
    got = report.group_by("metric_name", "event_attribution_source").agg(pl.col("value").sum())
    got_map = {
        (r["metric_name"], r["event_attribution_source"]): r["value"] for r in got.to_dicts()
    }
    for variant in ("variant_a", "variant_b"):
        assert got_map[("PURCHASES", variant)] == by_source[variant]["count"]
        assert got_map[("REVENUE", variant)] == pytest.approx(by_source[variant]["revenue"])
    assert got_map[("PURCHASES", "variant_a")] == 420  # README: purchases after a click
    assert got_map[("PURCHASES", "variant_b")] == 712


def test_report_columns_windows_and_event_type_case(sample):
    engine, _, _, _, arn, _ = sample
    report = engine.metric_attribution_report(arn, end=SAMPLE_END)
    assert report.columns == [
        "metric_name",
        "event_type",
        "expression",
        "math_function",
        "event_attribution_source",
        "window_start",
        "window_end",
        "value",
    ]
    assert report["window_start"].dtype == pl.Datetime("us", "UTC")
    starts = report["window_start"].dt.epoch("s")
    assert (starts % WINDOW == 0).all()
    assert ((report["window_end"] - report["window_start"]).dt.total_seconds() == WINDOW).all()
    # REVENUE was defined for "Purchase": event types match case-insensitively.
    revenue = report.filter(pl.col("metric_name") == "REVENUE")
    assert revenue.height > 0 and set(revenue["math_function"]) == {"sum"}
    assert set(revenue["event_type"]) == {"Purchase"}
    views = report.filter(pl.col("metric_name") == "VIEWS")["value"].sum()
    assert views == 125_270  # README: view rows


def test_events_carrying_a_recommendation_id_attribute_to_its_campaign(sample):
    engine, _, campaign, tracking_id, arn, _ = sample
    answer = engine.get_recommendations(campaignArn=campaign, userId="u00010", numResults=5)
    rid = answer["recommendationId"]
    first, second = (i["itemId"] for i in answer["itemList"][:2])

    def purchase(item: str, seconds: int, **extra) -> dict:
        return {"eventType": "purchase", "itemId": item, "sentAt": LIVE + seconds, **extra}

    engine.put_events(
        trackingId=tracking_id,
        userId="u00010",
        sessionId="s-attr",
        eventList=[
            purchase(first, 10, recommendationId=rid),
            purchase(second, 899, recommendationId=rid),  # the same window's last second
            purchase(second, 900, recommendationId=rid),  # the next window
            purchase("i0001", 20, metricAttribution={"eventAttributionSource": "newsletter"}),
            # Both given: Personalize uses only the eventAttributionSource.
            purchase(
                "i0002",
                30,
                recommendationId=rid,
                metricAttribution={"eventAttributionSource": "partner"},
            ),
            purchase("i0003", 40),
            purchase("i0004", 50, recommendationId="RID-never-given"),
        ],
    )
    prices = dict(pl.read_csv(SAMPLE / "items.csv").select("ITEM_ID", "PRICE").iter_rows())
    report = engine.metric_attribution_report(arn, start=LIVE)
    got = {
        (r["metric_name"], r["event_attribution_source"], int(r["window_start"].timestamp())): r[
            "value"
        ]
        for r in report.to_dicts()
    }
    assert got[("PURCHASES", campaign, LIVE)] == 2
    assert got[("PURCHASES", campaign, LIVE + WINDOW)] == 1
    assert got[("REVENUE", campaign, LIVE)] == pytest.approx(prices[first] + prices[second])
    assert got[("REVENUE", campaign, LIVE + WINDOW)] == pytest.approx(prices[second])
    assert got[("PURCHASES", "newsletter", LIVE)] == 1
    assert got[("PURCHASES", "partner", LIVE)] == 1
    assert got[("REVENUE", "partner", LIVE)] == pytest.approx(prices["i0002"])
    assert got[("PURCHASES", UNDEFINED, LIVE)] == 2
    assert {k[0] for k in got} == {"PURCHASES", "REVENUE"}
    assert len(got) == 2 * 5
    # `end` bounds the report: before LIVE, nothing of this test is seen.
    before = engine.metric_attribution_report(arn, end=LIVE)
    assert campaign not in set(before["event_attribution_source"])


def test_publish_writes_personalizes_csv(sample):
    engine, _, _, _, arn, data_dir = sample
    first = reports(data_dir)
    assert len(first) >= 1 and all(FILE_NAME.fullmatch(p.name) for p in first)
    published = engine.publish_metric_attribution(arn)
    name = published["path"].rsplit("/", 1)[1]
    assert published["path"] == f"s3://reports/shop/{name}"
    assert FILE_NAME.fullmatch(name)
    path = data_dir / "s3" / "reports" / "shop" / name
    text = path.read_text()
    assert text.splitlines()[0] == ",".join(CSV_HEADER)
    written = pl.read_csv(path, schema_overrides={"VALUE": pl.Float64})
    assert written.height == published["rows"]
    report = engine.metric_attribution_report(arn)
    assert written.height == report.height
    assert written["METRIC_NAME"].to_list() == report["metric_name"].to_list()
    assert written["EVENT_TYPE"].to_list() == report["event_type"].to_list()
    assert written["MATH_FUNCTION"].to_list() == report["math_function"].to_list()
    assert (
        written["EVENT_ATTRIBUTION_SOURCE"].to_list()
        == report["event_attribution_source"].to_list()
    )
    assert written["TIMESTAMP"].to_list() == report["window_start"].dt.epoch("s").to_list()
    assert written["VALUE"].to_list() == pytest.approx(report["value"].to_list())
    assert set(written["MATH_FUNCTION"]) == {"samplecount", "sum"}


def test_describe_list_and_one_per_group(sample):
    engine, group, _, _, arn, _ = sample
    described = engine.describe_metric_attribution(metricAttributionArn=arn)
    assert_output_shape("DescribeMetricAttribution", described)
    attribution = described["metricAttribution"]
    assert attribution["name"] == "shop-impact"
    assert attribution["status"] == "ACTIVE"
    assert attribution["datasetGroupArn"] == group
    assert attribution["metricsOutputConfig"] == output()
    listed = engine.list_metric_attributions(datasetGroupArn=group)
    assert_output_shape("ListMetricAttributions", listed)
    assert [m["metricAttributionArn"] for m in listed["metricAttributions"]] == [arn]
    metrics = engine.list_metric_attribution_metrics(metricAttributionArn=arn)
    assert_output_shape("ListMetricAttributionMetrics", metrics)
    assert metrics["metrics"] == SAMPLE_METRICS
    page = engine.list_metric_attribution_metrics(metricAttributionArn=arn, maxResults=2)
    rest = engine.list_metric_attribution_metrics(
        metricAttributionArn=arn, nextToken=page["nextToken"]
    )
    assert page["metrics"] + rest["metrics"] == SAMPLE_METRICS
    with pytest.raises(LimitExceededException, match="at most one"):
        engine.create_metric_attribution(
            name="second",
            datasetGroupArn=group,
            metrics=SAMPLE_METRICS[:1],
            metricsOutputConfig=output(),
        )


# ---- expressions and rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "rule"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("SUM(Items.PRICE", "expected ')' at position 16, found the end of the expression"),
        ("AVG(Items.PRICE)", "unknown function 'AVG' at position 1"),
        ("SUM(Users.AGE)", "not 'Users'"),
        ("SUM(Items PRICE)", "expected '.' after the dataset type at position 11"),
        ("SUM()", "expected a dataset type (Items or Interactions) at position 5"),
        ("SUM(Items.)", "expected a field name at position 11"),
        ("SAMPLECOUNT(Items.PRICE)", "SAMPLECOUNT() takes no argument"),
        ("SAMPLECOUNT", "expected '(' at position 12"),
        ("SUM(Items.PRICE) + 1", "unexpected character '+' at position 18"),
        ("SUM(Items.PRICE) x", "unexpected 'x' after the expression at position 18"),
        ("SUM(Items.PRICE))", "unexpected ')' after the expression at position 17"),
        ("SUM(Items.NOPE)", "the Items schema has no field 'NOPE'"),
        ("SUM(Items.price)", "did you mean PRICE?"),
        ("SUM(Items.CATEGORY)", "CATEGORY is a string field; SUM() needs a numeric field"),
        ("SUM(Interactions.DEVICE)", "DEVICE is a string field"),
    ],
)
def test_bad_expressions_are_rejected_with_the_metric_and_the_rule(small, expression, rule):
    engine, group, _, _ = small
    with pytest.raises(InvalidInputException) as caught:
        engine.create_metric_attribution(
            name="bad",
            datasetGroupArn=group,
            metrics=[
                {"eventType": "view", "metricName": "OK", "expression": "SAMPLECOUNT()"},
                {"eventType": "purchase", "metricName": "REVENUE", "expression": expression},
            ],
            metricsOutputConfig=output(),
        )
    message = str(caught.value)
    assert message.startswith("metrics[1] (metricName 'REVENUE'): expression ")
    assert repr(expression) in message
    assert rule in message
    assert engine.list_metric_attributions(datasetGroupArn=group)["metricAttributions"] == []


@pytest.mark.parametrize(
    "expression",
    [
        "SUM(Items.PRICE)",
        "sum( items . PRICE )",
        "SUM(Interactions.EVENT_VALUE)",
        "SAMPLECOUNT()",
        " samplecount ( ) ",
    ],
)
def test_good_expressions_are_accepted_as_written(small, expression):
    engine, group, _, _ = small
    arn = engine.create_metric_attribution(
        name="good",
        datasetGroupArn=group,
        metrics=[{"eventType": "purchase", "metricName": "M", "expression": expression}],
        metricsOutputConfig=output(None),
    )["metricAttributionArn"]
    listed = engine.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]
    assert listed == [{"eventType": "purchase", "metricName": "M", "expression": expression}]


def test_rules_of_a_metric_attribution(engine, group):
    interactions_only = {
        **INTERACTIONS_SCHEMA,
        "fields": [f for f in INTERACTIONS_SCHEMA["fields"] if f["name"] != "EVENT_TYPE"],
    }
    make_dataset(engine, group, "Interactions", interactions_only)
    count = [{"eventType": "view", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"}]
    with pytest.raises(InvalidInputException, match="no EVENT_TYPE field"):
        engine.create_metric_attribution(
            name="m", datasetGroupArn=group, metrics=count, metricsOutputConfig=output()
        )
    other = engine.create_dataset_group(name="other")["datasetGroupArn"]
    with pytest.raises(InvalidInputException, match="has no Items dataset .*import item"):
        engine.create_metric_attribution(
            name="m",
            datasetGroupArn=other,
            metrics=[{"eventType": "buy", "metricName": "R", "expression": "SUM(Items.PRICE)"}],
            metricsOutputConfig=output(),
        )
    with pytest.raises(InvalidInputException, match="at most 10 items"):
        engine.create_metric_attribution(
            name="m",
            datasetGroupArn=other,
            metrics=[
                {"eventType": "view", "metricName": f"M{i}", "expression": "SAMPLECOUNT()"}
                for i in range(11)
            ],
            metricsOutputConfig=output(),
        )
    with pytest.raises(InvalidInputException, match="at least one metric"):
        engine.create_metric_attribution(
            name="m", datasetGroupArn=other, metrics=[], metricsOutputConfig=output()
        )
    with pytest.raises(InvalidInputException, match="'VIEWS' appears twice"):
        engine.create_metric_attribution(
            name="m", datasetGroupArn=other, metrics=count * 2, metricsOutputConfig=output()
        )
    with pytest.raises(InvalidInputException, match="eventType must not be empty"):
        engine.create_metric_attribution(
            name="m",
            datasetGroupArn=other,
            metrics=[{"eventType": " ", "metricName": "X", "expression": "SAMPLECOUNT()"}],
            metricsOutputConfig=output(),
        )
    with pytest.raises(InvalidInputException, match="must be an s3://bucket/prefix/"):
        engine.create_metric_attribution(
            name="m",
            datasetGroupArn=other,
            metrics=count,
            metricsOutputConfig=output("https://example.com/reports"),
        )
    with pytest.raises(ResourceNotFoundException):
        engine.create_metric_attribution(
            name="m",
            datasetGroupArn=group.replace("shop", "nope"),
            metrics=count,
            metricsOutputConfig=output(),
        )
    # A group with no datasets yet may have an attribution of counts (reports are empty).
    arn = engine.create_metric_attribution(
        name="m", datasetGroupArn=other, metrics=count, metricsOutputConfig=output()
    )["metricAttributionArn"]
    assert engine.metric_attribution_report(arn).height == 0
    third = engine.create_dataset_group(name="third")["datasetGroupArn"]
    with pytest.raises(ResourceAlreadyExistsException):
        engine.create_metric_attribution(
            name="m", datasetGroupArn=third, metrics=count, metricsOutputConfig=output()
        )


def test_window_boundaries_and_bounds(small):
    engine, group, _, tracking_id = small
    arn = engine.create_metric_attribution(
        name="w",
        datasetGroupArn=group,
        metrics=[
            {"eventType": "VIEW", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"},
            {
                "eventType": "buy",
                "metricName": "PAID",
                "expression": "SUM(Interactions.EVENT_VALUE)",
            },
            {"eventType": "buy", "metricName": "LIST_PRICE", "expression": "SUM(Items.PRICE)"},
        ],
        metricsOutputConfig=output(None),
    )["metricAttributionArn"]
    seconds = [-1, 0, 899, 900, 1799, 1800]
    engine.put_events(
        trackingId=tracking_id,
        userId="u1",
        sessionId="s1",
        eventList=[
            {"eventType": "view", "itemId": "a", "sentAt": LIVE + s, "eventId": f"v{s}"}
            for s in seconds
        ],
    )
    engine.put_events(
        trackingId=tracking_id,
        userId="u1",
        sessionId="s1",
        eventList=[
            {"eventType": "buy", "itemId": "a", "sentAt": LIVE + 5, "eventValue": 2.0},
            {"eventType": "buy", "itemId": "b", "sentAt": LIVE + 6, "eventValue": 9.5},
            {"eventType": "buy", "itemId": "b", "sentAt": LIVE + 7},  # no value: adds nothing
            {"eventType": "buy", "itemId": "zz", "sentAt": LIVE + 8, "eventValue": 1.0},
        ],
    )
    report = engine.metric_attribution_report(arn)
    rows = [
        (r["metric_name"], int(r["window_start"].timestamp()) - LIVE, r["value"])
        for r in report.to_dicts()
    ]
    assert rows == [
        ("VIEWS", -900, 1.0),
        ("VIEWS", 0, 2.0),
        ("VIEWS", 900, 2.0),
        ("VIEWS", 1800, 1.0),
        ("PAID", 0, 12.5),
        ("LIST_PRICE", 0, 22.5),  # a (2.5) + b (10.0) twice; the unknown item adds nothing
    ]
    assert set(report["event_attribution_source"]) == {UNDEFINED}
    # start <= TIMESTAMP < end, as epoch seconds or datetimes.
    bounded = engine.metric_attribution_report(
        arn, start=LIVE, end=datetime.fromtimestamp(LIVE + 1800, UTC)
    )
    views = bounded.filter(pl.col("metric_name") == "VIEWS")
    assert views["value"].to_list() == [2.0, 2.0]
    partial = engine.metric_attribution_report(arn, start=LIVE + 899, end=LIVE + 900)
    assert partial.filter(pl.col("metric_name") == "VIEWS")["value"].to_list() == [1.0]
    with pytest.raises(InvalidInputException, match="start 'yesterday'"):
        engine.metric_attribution_report(arn, start="yesterday")


def test_update_and_delete(small, tmp_path):
    engine, group, _, _ = small
    data_dir = engine.data_dir
    arn = engine.create_metric_attribution(
        name="u",
        datasetGroupArn=group,
        metrics=[{"eventType": "view", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"}],
        metricsOutputConfig=output(None),
    )["metricAttributionArn"]
    assert reports(data_dir) == []
    with pytest.raises(InvalidInputException, match="no metricsOutputConfig.s3DataDestination"):
        engine.publish_metric_attribution(arn)

    updated = engine.update_metric_attribution(
        metricAttributionArn=arn,
        addMetrics=[
            {"eventType": "buy", "metricName": "REVENUE", "expression": "SUM(Items.PRICE)"}
        ],
        metricsOutputConfig=output(),
    )
    assert_output_shape("UpdateMetricAttribution", updated)
    assert updated == {"metricAttributionArn": arn}
    names = [
        m["metricName"]
        for m in engine.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]
    ]
    assert names == ["VIEWS", "REVENUE"]
    assert len(reports(data_dir)) == 1  # published on update, to the new path
    described = engine.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
    assert described["metricsOutputConfig"] == output()
    assert described["lastUpdatedDateTime"] >= described["creationDateTime"]

    with pytest.raises(ResourceAlreadyExistsException, match="already has a metric named"):
        engine.update_metric_attribution(
            metricAttributionArn=arn,
            addMetrics=[{"eventType": "x", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"}],
        )
    with pytest.raises(InvalidInputException, match=r"removeMetrics\[0\] 'NOPE' is not a metric"):
        engine.update_metric_attribution(metricAttributionArn=arn, removeMetrics=["NOPE"])
    with pytest.raises(InvalidInputException, match="would have 11 metrics; it may have at most"):
        engine.update_metric_attribution(
            metricAttributionArn=arn,
            addMetrics=[
                {"eventType": "v", "metricName": f"M{i}", "expression": "SAMPLECOUNT()"}
                for i in range(9)
            ],
        )
    with pytest.raises(InvalidInputException, match=r"addMetrics\[0\] .*'SUM\(Items.NOPE\)'"):
        engine.update_metric_attribution(
            metricAttributionArn=arn,
            addMetrics=[{"eventType": "v", "metricName": "N", "expression": "SUM(Items.NOPE)"}],
        )
    with pytest.raises(InvalidInputException, match="without metrics"):
        engine.update_metric_attribution(
            metricAttributionArn=arn, removeMetrics=["VIEWS", "REVENUE"]
        )
    with pytest.raises(InvalidInputException, match="nothing to update"):
        engine.update_metric_attribution(metricAttributionArn=arn)
    with pytest.raises(InvalidInputException, match="metricAttributionArn is required"):
        engine.update_metric_attribution(removeMetrics=["VIEWS"])
    # Failed updates changed nothing.
    metrics = engine.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]
    assert [m["metricName"] for m in metrics] == ["VIEWS", "REVENUE"]

    # Remove and re-add a name in one call: the definition is replaced.
    engine.update_metric_attribution(
        metricAttributionArn=arn,
        removeMetrics=["VIEWS"],
        addMetrics=[{"eventType": "click", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"}],
    )
    metrics = engine.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]
    assert metrics == [
        {"eventType": "buy", "metricName": "REVENUE", "expression": "SUM(Items.PRICE)"},
        {"eventType": "click", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"},
    ]

    # The dataset group cannot go while its metric attribution exists.
    from engine import ResourceInUseException

    with pytest.raises(ResourceInUseException, match="metric-attribution"):
        engine.delete_dataset_group(datasetGroupArn=group)
    assert engine.delete_metric_attribution(metricAttributionArn=arn) == {}
    assert_output_shape("DeleteMetricAttribution", {})
    with pytest.raises(ResourceNotFoundException):
        engine.describe_metric_attribution(metricAttributionArn=arn)
    with pytest.raises(ResourceNotFoundException):
        engine.list_metric_attribution_metrics(metricAttributionArn=arn)
    assert engine.list_metric_attributions()["metricAttributions"] == []
    assert reports(data_dir)  # published files stay
    again = engine.create_metric_attribution(
        name="u",
        datasetGroupArn=group,
        metrics=[{"eventType": "view", "metricName": "VIEWS", "expression": "SAMPLECOUNT()"}],
        metricsOutputConfig=output(None),
    )
    assert again["metricAttributionArn"] == arn


# ---- over HTTP -----------------------------------------------------------------------------


def test_boto3_round_trip(tmp_path):
    data_dir = tmp_path / "d"
    port = free_port()
    proc = start("api", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        client = boto3.client(
            "personalize",
            endpoint_url=f"http://127.0.0.1:{port}/api",
            region_name="us-east-1",
            **CLIENT_CREDENTIALS,
        )
        group = client.create_dataset_group(name="wire")["datasetGroupArn"]
        for kind, schema in (("Interactions", INTERACTIONS_SCHEMA), ("Items", ITEMS_SCHEMA)):
            schema_arn = client.create_schema(name=f"wire-{kind}", schema=json.dumps(schema))[
                "schemaArn"
            ]
            client.create_dataset(
                name=f"wire-{kind}", schemaArn=schema_arn, datasetGroupArn=group, datasetType=kind
            )
        with pytest.raises(client.exceptions.InvalidInputException) as caught:
            client.create_metric_attribution(
                name="wire",
                datasetGroupArn=group,
                metrics=[{"eventType": "buy", "metricName": "R", "expression": "SUM(Items.PRIC)"}],
                metricsOutputConfig=output("s3://wire-bucket/metrics/"),
            )
        assert "metricName 'R'" in caught.value.response["Error"]["Message"]
        assert "no field 'PRIC'" in caught.value.response["Error"]["Message"]
        arn = client.create_metric_attribution(
            name="wire",
            datasetGroupArn=group,
            metrics=[{"eventType": "buy", "metricName": "R", "expression": "SUM(Items.PRICE)"}],
            metricsOutputConfig=output("s3://wire-bucket/metrics/"),
        )["metricAttributionArn"]
        assert arn == "arn:aws:personalize:us-east-1:000000000000:metric-attribution/wire"
        described = client.describe_metric_attribution(metricAttributionArn=arn)
        attribution = described["metricAttribution"]
        assert attribution["status"] == "ACTIVE"
        assert attribution["creationDateTime"].year >= 2025
        assert attribution["metricsOutputConfig"]["s3DataDestination"]["path"] == (
            "s3://wire-bucket/metrics/"
        )
        listed = client.list_metric_attributions(datasetGroupArn=group)["metricAttributions"]
        assert [m["metricAttributionArn"] for m in listed] == [arn]
        client.update_metric_attribution(
            metricAttributionArn=arn,
            addMetrics=[{"eventType": "view", "metricName": "V", "expression": "SAMPLECOUNT()"}],
        )
        metrics = client.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]
        assert [m["metricName"] for m in metrics] == ["R", "V"]
        with pytest.raises(client.exceptions.LimitExceededException):
            client.create_metric_attribution(
                name="wire2",
                datasetGroupArn=group,
                metrics=[{"eventType": "v", "metricName": "V", "expression": "SAMPLECOUNT()"}],
                metricsOutputConfig=output(),
            )
        files = sorted((data_dir / "s3" / "wire-bucket" / "metrics").glob("*.csv"))
        assert len(files) == 2  # created, updated
        assert files[0].read_text().splitlines() == [",".join(CSV_HEADER)]
        client.delete_metric_attribution(metricAttributionArn=arn)
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.describe_metric_attribution(metricAttributionArn=arn)
    finally:
        stop(proc)

"""The Context effects page: its queries against an independent Polars read of the sample,
the lift intervals (formula and coverage), the chart builders, and the page under AppTest
(switching contexts; training a context-aware campaign from the page and comparing one
user's lists across contexts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts.context import lift_heatmap, lift_whiskers, recommendation_mix
from engine.analytics import context as ctx
from engine.errors import InvalidInputException
from tests.helpers import (
    HEADER,
    ITEMS_SCHEMA,
    interaction_rows,
    make_dataset,
    run_import,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "dashboard" / "app_pages" / "context.py")
SAMPLE = ROOT / "data" / "sample"


# --- an independent reading of the sample -------------------------------------------------------


@pytest.fixture(scope="module")
def sample_frame() -> pl.DataFrame:
    """interactions.csv joined with items.csv, read by Polars alone (no DuckDB, no engine)."""
    interactions = pl.read_csv(SAMPLE / "interactions.csv", infer_schema_length=0)
    items = pl.read_csv(SAMPLE / "items.csv", infer_schema_length=0).select("ITEM_ID", "CATEGORY")
    moment = pl.from_epoch(pl.col("TIMESTAMP").cast(pl.Int64), time_unit="s")
    return interactions.join(items, on="ITEM_ID", how="left").with_columns(
        moment.dt.weekday().alias("weekday"),  # 1 = Monday
        moment.dt.month().alias("month"),
    )


def polars_lift(frame: pl.DataFrame, context: str, category: str) -> pl.DataFrame:
    """Lift of every category in every context value, from first principles."""
    frame = frame.filter(pl.col(context).is_not_null() & (pl.col(context) != ""))
    total = frame.height
    overall = frame.group_by(category).agg((pl.len() / total).alias("overall"))
    per = frame.group_by(context, category).agg(pl.len().alias("events"))
    sizes = frame.group_by(context).agg(pl.len().alias("size"))
    return (
        per.join(sizes, on=context)
        .join(overall, on=category)
        .with_columns(((pl.col("events") / pl.col("size")) / pl.col("overall")).alias("lift"))
        .rename({context: "context", category: "category"})
        .select("context", "category", "events", "lift")
    )


def lift_of(frame: pl.DataFrame, context: str, category: str) -> dict:
    rows = frame.filter((pl.col("context") == context) & (pl.col("category") == category))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_device_lifts_match_polars_and_recover_the_planted_effects(sample, sample_frame):
    engine, group = sample["engine"], sample["group"]
    lifts = ctx.lifts(ctx.context_counts(engine, group, "DEVICE", "CATEGORY"))
    expected = polars_lift(sample_frame, "DEVICE", "CATEGORY")
    joined = lifts.join(expected, on=["context", "category"], suffix="_polars")
    assert joined.height == expected.height == 3 * 8
    assert (joined["events"] == joined["events_polars"]).all()
    assert np.allclose(joined["lift"], joined["lift_polars"], rtol=1e-12)
    # data/sample/README.md, effect 4: fashion on mobile is 1.29x the overall share; the 95%
    # interval covers it, and the other planted device effects show up as clear lifts.
    fashion = lift_of(lifts, "mobile", "fashion")
    assert fashion["lift"] == pytest.approx(1.29, abs=0.005)
    assert fashion["lift_low"] <= 1.29 <= fashion["lift_high"]
    assert fashion["significant"]
    for context, category, documented in (
        ("mobile", "beauty", 1.30),
        ("desktop", "electronics", 1.43),
        ("tablet", "books", 1.75),
    ):
        row = lift_of(lifts, context, category)
        assert row["lift_low"] <= documented <= row["lift_high"], (context, category, row)
    # The shares add up: each context's shares sum to 1 (single-valued categories).
    sums = lifts.group_by("context").agg(pl.col("share_in_context").sum())
    assert np.allclose(sums["share_in_context"], 1.0)


def test_time_of_day_and_derived_contexts_match_polars(sample, sample_frame):
    engine, group = sample["engine"], sample["group"]
    night = ctx.lifts(ctx.context_counts(engine, group, "TIME_OF_DAY", "CATEGORY"))
    assert lift_of(night, "night", "toys_games")["lift"] == pytest.approx(1.87, abs=0.005)
    assert lift_of(night, "morning", "grocery")["lift"] == pytest.approx(1.64, abs=0.005)
    assert night.select("context", "context_order").unique().sort("context_order")[
        "context"
    ].to_list() == ["night", "morning", "afternoon", "evening"]

    days = dict(enumerate(ctx.DAYS, start=1))
    seasons = {6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}
    frame = sample_frame.with_columns(
        pl.col("weekday").replace_strict(days, return_dtype=pl.Utf8).alias("day"),
        pl.col("month").replace_strict(seasons, return_dtype=pl.Utf8).alias("season"),
    )
    for key, column in (("TIMESTAMP:day_of_week", "day"), ("TIMESTAMP:season", "season")):
        lifts = ctx.lifts(ctx.context_counts(engine, group, key, "CATEGORY"))
        expected = polars_lift(frame, column, "CATEGORY")
        joined = lifts.join(expected, on=["context", "category"], suffix="_polars")
        assert joined.height == expected.height
        assert (joined["events"] == joined["events_polars"]).all()
        assert np.allclose(joined["lift"], joined["lift_polars"], rtol=1e-12)
    weekdays = ctx.context_counts(engine, group, "TIMESTAMP:day_of_week", "CATEGORY")
    order = weekdays.select("context", "context_order").unique().sort("context_order")
    assert order["context"].to_list() == list(ctx.DAYS)
    # Effect 3: sports_outdoor is a summer category.
    season = ctx.lifts(ctx.context_counts(engine, group, "TIMESTAMP:season", "CATEGORY"))
    summer = lift_of(season, "summer", "sports_outdoor")
    assert summer["lift_low"] > 1.2 and lift_of(season, "autumn", "sports_outdoor")["lift"] < 0.7


def test_item_dimension_with_an_event_type_counts_top_items(sample, sample_frame):
    engine, group = sample["engine"], sample["group"]
    counts = ctx.context_counts(engine, group, "DEVICE", "ITEM_ID", "purchase", top_items=5)
    purchases = sample_frame.filter(pl.col("EVENT_TYPE") == "purchase")
    top = (
        purchases.group_by("ITEM_ID")
        .len()
        .sort(["len", "ITEM_ID"], descending=[True, False])
        .head(5)["ITEM_ID"]
    )
    assert sorted(counts["category"].unique()) == sorted(top)
    totals = purchases.group_by("DEVICE").len()
    got = counts.select("context", "context_total").unique()
    assert dict(got.iter_rows()) == dict(totals.iter_rows())  # all purchases, not only top 5
    expected = polars_lift(
        purchases.filter(pl.col("ITEM_ID").is_in(top.to_list())), "DEVICE", "ITEM_ID"
    )
    events = counts.join(expected, on=["context", "category"], how="left")
    assert (events["events"] == events["events_right"].fill_null(0)).all()


def test_fields_dimensions_and_bad_names(sample):
    engine, group = sample["engine"], sample["group"]
    keys = [f.key for f in ctx.context_fields(engine, group)]
    assert keys[:2] == ["DEVICE", "TIME_OF_DAY"]  # IMPRESSION etc. are reserved
    assert {"TIMESTAMP:day_of_week", "TIMESTAMP:season"} <= set(keys)
    assert ctx.item_dimensions(engine, group) == ["CATEGORY", "SUB_CATEGORY", "BRAND", "ITEM_ID"]
    assert ctx.event_types(engine, group) == ["view", "add_to_cart", "purchase"]
    with pytest.raises(InvalidInputException, match="not a context field"):
        ctx.context_counts(engine, group, "USER_ID", "CATEGORY")
    with pytest.raises(InvalidInputException, match="categorical field"):
        ctx.context_counts(engine, group, "DEVICE", "PRICE")
    with pytest.raises(InvalidInputException, match="not a context field"):
        ctx.context_values(engine, group, 'DEVICE" OR 1=1 --')
    # A user value is a bound parameter, never SQL: an odd event type just matches nothing.
    assert ctx.context_counts(engine, group, "DEVICE", "CATEGORY", "x' OR '1'='1").is_empty()


def test_multi_valued_categories_count_for_each_part(engine, group, interactions, tmp_path):
    items = make_dataset(engine, group, "Items", ITEMS_SCHEMA)
    rows = [
        ["i1", "a|b", 1.0, 1_600_000_000, ""],
        ["i2", "b", 1.0, 1_600_000_000, ""],
    ]
    header = ["ITEM_ID", "CATEGORY", "PRICE", "CREATION_TIMESTAMP", "DESCRIPTION"]
    path = write_csv(tmp_path / "items.csv", header, rows)
    assert run_import(engine, items, str(path), "items")["status"] == "ACTIVE"
    events = [
        ["u1", "i1", 1_700_000_000, "view", "", "mobile"],
        ["u1", "i2", 1_700_000_060, "view", "", "mobile"],
        ["u2", "i2", 1_700_000_120, "view", "", "desktop"],
        ["u2", "i9", 1_700_000_180, "view", "", "desktop"],  # not in Items
        ["u3", "i1", 1_700_000_240, "view", "", ""],  # no context: left out
    ]
    path = write_csv(tmp_path / "i.csv", HEADER, events)
    assert run_import(engine, interactions, str(path), "events")["status"] == "ACTIVE"
    counts = ctx.context_counts(engine, group, "DEVICE", "CATEGORY")
    got = {(r["context"], r["category"]): r["events"] for r in counts.iter_rows(named=True)}
    assert got == {
        ("mobile", "a"): 1,
        ("mobile", "b"): 2,
        ("mobile", ctx.NO_VALUE): 0,
        ("desktop", "a"): 0,
        ("desktop", "b"): 1,
        ("desktop", ctx.NO_VALUE): 1,
    }
    assert set(counts["context_total"]) == {2}


# --- the statistics ------------------------------------------------------------------------------


def test_lift_interval_by_hand():
    # 30 of 100 rows in the context are the category; 50 of 400 overall.
    lift, low, high = lift_interval_one(30, 100, 50, 400)
    assert lift == pytest.approx((30 / 100) / (50 / 400))
    p1, p2, w = 0.3, 20 / 300, 0.25
    p = w * p1 + (1 - w) * p2
    var = (1 / p1 - w / p) ** 2 * p1 * (1 - p1) / 100 + ((1 - w) / p) ** 2 * p2 * (1 - p2) / 300
    assert low == pytest.approx(lift * np.exp(-ctx.Z95 * np.sqrt(var)))
    assert high == pytest.approx(lift * np.exp(ctx.Z95 * np.sqrt(var)))
    # A context that is everything has lift 1 exactly and (almost) no uncertainty.
    lift, low, high = lift_interval_one(50, 400, 50, 400)
    assert lift == 1 and low == pytest.approx(1) and high == pytest.approx(1)
    # A zero count: lift 0, the interval starts at 0 and stays finite.
    lift, low, high = lift_interval_one(0, 100, 50, 400)
    assert lift == 0 and low == 0 and 0 < high < 1


def lift_interval_one(x: int, n: int, big_x: int, big_n: int) -> tuple[float, float, float]:
    lift, low, high = ctx.lift_interval(
        np.array([x]), np.array([n]), np.array([big_x]), np.array([big_n])
    )
    return float(lift[0]), float(low[0]), float(high[0])


@pytest.mark.parametrize(
    ("n", "rest", "p_here", "p_rest"),
    [(5_000, 10_000, 0.10, 0.06), (70_000, 78_000, 0.16, 0.11), (300, 3_000, 0.02, 0.03)],
)
def test_lift_interval_covers_the_true_lift_95_percent_of_the_time(n, rest, p_here, p_rest):
    rng = np.random.default_rng(7)
    runs = 4000
    x = rng.binomial(n, p_here, runs)
    y = rng.binomial(rest, p_rest, runs)
    true = p_here / ((n * p_here + rest * p_rest) / (n + rest))
    _, low, high = ctx.lift_interval(x, np.full(runs, n), x + y, np.full(runs, n + rest))
    coverage = float(((low <= true) & (true <= high)).mean())
    assert 0.935 <= coverage <= 0.97, coverage


def test_strongest_keeps_one_effect_per_category_and_only_clear_ones():
    counts = pl.DataFrame(
        {
            "context": ["a", "a", "b", "b"],
            "context_order": [0, 0, 1, 1],
            "category": ["x", "y", "x", "y"],
            "events": [600, 400, 200, 800],
            "context_total": [1000, 1000, 1000, 1000],
        }
    )
    lifts = ctx.lifts(counts)
    best = ctx.strongest(lifts, k=5)
    assert sorted(best["category"]) == ["x", "y"]
    assert best.row(0)[:3] == ("b", 1, "x")  # x in b: 0.2 / 0.4 = 0.5x beats 1.5x in a
    assert best["lift"][0] == pytest.approx(0.5)
    flat = counts.with_columns(pl.lit(500).alias("events"))
    assert ctx.strongest(ctx.lifts(flat)).is_empty()


def test_list_changes_counts_items_missing_from_the_list_without_context():
    recs = pl.DataFrame(
        {
            "context": [ctx.NO_CONTEXT] * 3 + ["m"] * 3 + ["d"] * 3,
            "context_order": [0] * 3 + [1] * 3 + [2] * 3,
            "rank": [1, 2, 3] * 3,
            "item_id": ["a", "b", "c", "a", "x", "y", "a", "b", "y"],
            "score": [0.1] * 9,
            "reason": [""] * 9,
            "category": ["k"] * 9,
        }
    )
    changes = ctx.list_changes(recs)
    # m: x and y are new; x is in no other list. d: y is new; b is in no other context list.
    assert changes.select("context", "differs", "only_here").rows() == [("m", 2, 1), ("d", 1, 1)]
    marked = ctx.mark_changes(recs)
    assert marked.filter("changed")["item_id"].to_list() == ["x", "y", "y"]


# --- charts --------------------------------------------------------------------------------------


def small_lifts() -> pl.DataFrame:
    return ctx.lifts(
        pl.DataFrame(
            {
                "context": ["night", "night", "day", "day"],
                "context_order": [1, 1, 0, 0],
                "category": ["toys", "books", "toys", "books"],
                "events": [60, 40, 100, 300],
                "context_total": [100, 100, 400, 400],
            }
        )
    )


def test_lift_heatmap_orders_cells_and_colours_only_clear_effects():
    lifts = small_lifts()
    figure = lift_heatmap(lifts, "TIME", "CATEGORY")
    heat = figure.data[0]
    assert list(heat.x) == ["day", "night"]  # context order, not alphabetical
    assert list(heat.y) == ["books", "toys"]  # largest overall share first
    toys_night = lift_of(lifts, "night", "toys")
    assert heat.text[1][1] == f"{toys_night['lift']:.2f}×"
    assert heat.z[1][1] == pytest.approx(np.log2(toys_night["lift"]))
    flat = lifts.select(*lifts.columns[:5]).with_columns(events=pl.lit(50), context_total=100)
    unclear = ctx.lifts(flat)
    assert all(z == 0 for row in lift_heatmap(unclear, "T", "C").data[0].z for z in row)
    empty = lift_heatmap(ctx.lifts(lifts.head(0).select(*lifts.columns[:5])), "T", "C")
    assert not empty.data and "No interactions" in empty.layout.annotations[0].text


def test_lift_whiskers_draws_each_context_with_its_interval():
    chart = lift_whiskers(small_lifts(), "toys", "TIME").to_dict()
    layers = chart["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["rule", "rule", "circle", "text"]
    values = next(v for v in chart["datasets"].values() if "context" in v[0])
    assert [v["context"] for v in values] == ["day", "night"]
    night = next(v for v in values if v["context"] == "night")
    assert night["effect"] == "more than usual"
    assert night["lift_low"] < night["lift"] < night["lift_high"]


def test_recommendation_mix_stacks_categories_per_context():
    recs = pl.DataFrame(
        {
            "context": [ctx.NO_CONTEXT, ctx.NO_CONTEXT, "night", "night"],
            "context_order": [0, 0, 1, 1],
            "category": ["books", "toys", "toys", "toys"],
        }
    )
    figure = recommendation_mix(recs, "CATEGORY")
    toys = next(t for t in figure.data if t.name == "toys")
    assert list(toys.x) == [ctx.NO_CONTEXT, "night"] and list(toys.y) == [1, 2]


# --- the page ------------------------------------------------------------------------------------


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=240).run()
    assert not at.exception, at.exception
    return at


def test_page_shows_lifts_and_switches_context(app):
    at = run_page()
    assert at.title[0].value == "Context effects"
    cards = {m.label: m.value for m in at.metric}
    assert cards["books · tablet"] == "1.75×"  # the strongest device effect
    assert len(at.get("plotly_chart")) == 1 and len(at.get("vega_lite_chart")) == 1
    at.selectbox(key="context_field").set_value("TIME_OF_DAY").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["toys_games · night"] == "1.87×"
    words = " ".join(m.value for m in at.markdown)
    assert "toys_games" in words and "night" in words
    at.selectbox(key="context_field").set_value("TIMESTAMP:season").run()
    assert not at.exception
    assert "sports_outdoor · autumn" in {m.label for m in at.metric}
    at.selectbox(key="context_dimension").set_value("ITEM_ID").run()
    at.selectbox(key="context_event_type").set_value("purchase").run()
    assert not at.exception
    detail = next(s for s in at.selectbox if s.label.startswith("One item"))
    detail.set_value(detail.options[1]).run()
    assert not at.exception
    assert f"**{detail.options[1]} by Season, in words**" in [m.value for m in at.markdown]


@pytest.fixture(scope="module")
def cleanup_context_campaigns(sample):
    """Campaigns and solutions the page trains are removed after this module's tests."""
    yield
    engine = sample["engine"]
    for campaign in engine.list_campaigns()["campaigns"]:
        if campaign["name"].startswith("context-aware"):
            engine.delete_campaign(campaignArn=campaign["campaignArn"])
    for solution in engine.list_solutions()["solutions"]:
        if solution["name"].startswith("context-aware"):
            engine.delete_solution(solutionArn=solution["solutionArn"])


@pytest.mark.slow
def test_page_trains_a_context_campaign_and_compares_lists(app, cleanup_context_campaigns):
    engine = app["engine"]
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["context_tab"] = "One user's recommendations"
    at.run()
    assert not at.exception, at.exception
    assert "No active campaign" in at.info[0].value  # the sample's campaigns ignore context
    at.button(key="context_train").click().run()
    assert not at.exception, at.exception
    campaign = next(
        c for c in ctx.campaign_overview(engine, app["group"]) if c["name"] == "context-aware"
    )
    assert campaign["status"] == "ACTIVE" and campaign["usesContext"]
    cards = {m.label: m.value for m in at.metric}
    assert set(cards) == {"No context", "DEVICE = mobile", "DEVICE = desktop", "DEVICE = tablet"}
    # A new visitor is known only by the context: the lists really change with it.
    recs = ctx.recommendations_by_context(
        engine,
        campaign["campaignArn"],
        "new-visitor",
        "DEVICE",
        ["mobile", "desktop", "tablet"],
        10,
        "CATEGORY",
    )
    changes = ctx.list_changes(recs)
    shown = {k.removeprefix("DEVICE = "): v for k, v in cards.items() if k.startswith("DEVICE")}
    expected = {r["context"]: f"{r['differs']} of 10 new" for r in changes.iter_rows(named=True)}
    assert expected == shown
    assert changes["differs"].sum() > 0
    lists = [m.value for m in at.markdown if m.value.startswith("1. `")]
    assert len(lists) == 4 and all(len(block.splitlines()) == 10 for block in lists)
    at.selectbox(key="context_rf").set_value("TIME_OF_DAY").run()
    assert not at.exception
    assert "TIME_OF_DAY = night" in {m.label for m in at.metric}
    at.selectbox(key="context_user").select_index(1).run()  # the most active user
    assert not at.exception
    assert len([m for m in at.markdown if m.value.startswith("1. `")]) == 5


def test_page_explains_what_to_do_without_data(engine, group, interactions, tmp_path):
    from engine import runtime

    runtime.register(engine)
    try:
        at = run_page()  # an Interactions dataset, still empty
        assert "No interactions have a value for DEVICE" in at.info[0].value
        at.session_state["context_tab"] = "One user's recommendations"
        at.run()
        assert not at.exception
        assert "No active campaign" in at.info[0].value
        path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(300, users=20))
        assert run_import(engine, interactions, str(path), "j")["status"] == "ACTIVE"
        at = run_page()  # interactions but no Items dataset: items are grouped by ITEM_ID
        assert at.selectbox(key="context_dimension").options == [f"item (top {20})"]
        assert at.get("plotly_chart")
        engine.create_dataset_group(name="bare")
        at = run_page()
        at.selectbox(key="context_group").set_value("bare").run()
        assert not at.exception
        assert "has no Interactions dataset yet" in at.info[0].value
    finally:
        runtime.unregister()

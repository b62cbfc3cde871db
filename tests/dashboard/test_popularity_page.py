"""Popularity & trends: the queries (engine/analytics/popularity.py) against an independent
Polars read of data/sample, the chart builders, and the page under AppTest on the session
sample store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts.popularity import (
    lift_chart,
    long_tail_chart,
    new_items_chart,
    top_items_chart,
    trending_chart,
    weekly_chart,
)
from engine import Engine, runtime
from engine.analytics import popularity, segments
from engine.analytics.popularity import INTERACTIONS, ITEMS, USERS, Breakdown, Filters
from engine.errors import InvalidInputException
from engine.sample_data import SAMPLE_DIR
from tests.helpers import (
    HEADER,
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    interaction_rows,
    make_dataset,
    run_import,
    write_csv,
)

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "popularity.py")


def epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def csv() -> dict[str, pl.DataFrame]:
    """The sample's CSV files, read by Polars alone."""
    return {
        name: pl.read_csv(SAMPLE_DIR / f"{name}.csv", infer_schema_length=None)
        for name in ("interactions", "items", "users")
    }


def counts(frame: pl.DataFrame, by: list[str] | None = None) -> pl.DataFrame:
    """Interactions per item (per group), most first, ties by item id."""
    keys = [*(by or []), "ITEM_ID"]
    return (
        frame.group_by(keys)
        .len("n")
        .sort([*(by or []), "n", "ITEM_ID"], descending=[*([False] * len(by or [])), True, False])
    )


# --- queries ---------------------------------------------------------------------------------


def test_top_items_overall_match_the_csv(sample, csv):
    top = popularity.top_items(sample["engine"], sample["group"], Filters(), n=5)
    expected = counts(csv["interactions"]).head(5)
    assert top["item"].to_list() == expected["ITEM_ID"].to_list()
    assert top["interactions"].to_list() == expected["n"].to_list()
    assert top["group_interactions"][0] == csv["interactions"].height == 147_942
    assert top["share"][0] == pytest.approx(expected["n"][0] / 147_942)


def test_top_items_within_each_category_match_the_csv(sample, csv):
    top = popularity.top_items(
        sample["engine"], sample["group"], Filters(), Breakdown(ITEMS, "CATEGORY"), n=3
    )
    joined = csv["interactions"].join(csv["items"].select("ITEM_ID", "CATEGORY"), on="ITEM_ID")
    expected = counts(joined, ["CATEGORY"])
    for category in csv["items"]["CATEGORY"].unique():
        mine = top.filter(pl.col("grp") == category)
        theirs = expected.filter(pl.col("CATEGORY") == category).head(3)
        assert mine["item"].to_list() == theirs["ITEM_ID"].to_list(), category
        assert mine["interactions"].to_list() == theirs["n"].to_list(), category
        assert mine["group_interactions"][0] == joined.filter(CATEGORY=category).height
    electronics = top.filter(grp="electronics").row(0, named=True)
    assert (electronics["item"], electronics["interactions"]) == ("i0366", 3543)
    # groups come largest first
    volumes = top.select("grp", "group_interactions").unique(maintain_order=True)
    assert volumes["group_interactions"].to_list() == sorted(
        volumes["group_interactions"], reverse=True
    )


def test_top_items_by_user_segment_for_one_event_type_and_window(sample, csv):
    filters = Filters(("purchase",), date(2025, 9, 1), date(2025, 10, 31))
    top = popularity.top_items(
        sample["engine"], sample["group"], filters, Breakdown(USERS, "AGE_BAND"), n=3
    )
    rows = csv["interactions"].filter(
        (pl.col("EVENT_TYPE") == "purchase")
        & (pl.col("TIMESTAMP") >= epoch(date(2025, 9, 1)))
        & (pl.col("TIMESTAMP") < epoch(date(2025, 11, 1)))
    )
    joined = rows.join(csv["users"].select("USER_ID", "AGE_BAND"), on="USER_ID")
    expected = counts(joined, ["AGE_BAND"])
    for band in csv["users"]["AGE_BAND"].unique():
        mine = top.filter(pl.col("grp") == band)
        theirs = expected.filter(pl.col("AGE_BAND") == band).head(3)
        assert mine["interactions"].to_list() == theirs["n"].to_list(), band
        assert mine["item"].to_list() == theirs["ITEM_ID"].to_list(), band
        assert mine["group_interactions"][0] == joined.filter(AGE_BAND=band).height


def test_context_breakdown_counts_each_device(sample, csv):
    top = popularity.top_items(
        sample["engine"], sample["group"], Filters(), Breakdown(INTERACTIONS, "DEVICE"), n=1
    )
    expected = dict(csv["interactions"].group_by("DEVICE").len().iter_rows())
    assert dict(top.select("grp", "group_interactions").iter_rows()) == expected


def test_trending_compares_the_latest_window_with_the_one_before(sample, csv):
    rising = popularity.trending(
        sample["engine"], sample["group"], Filters(), 14, 1, 20, Breakdown(ITEMS, "CATEGORY")
    )
    assert rising.current == (date(2025, 11, 17), date(2025, 11, 30))
    assert rising.previous == (date(2025, 11, 3), date(2025, 11, 16))
    joined = csv["interactions"].join(csv["items"].select("ITEM_ID", "CATEGORY"), on="ITEM_ID")
    mid, end = epoch(date(2025, 11, 17)), epoch(date(2025, 12, 1))
    now = joined.filter((pl.col("TIMESTAMP") >= mid) & (pl.col("TIMESTAMP") < end))
    before = joined.filter((pl.col("TIMESTAMP") >= mid - 14 * 86_400) & (pl.col("TIMESTAMP") < mid))
    toys = rising.frame.row(0, named=True)
    # planted effect 3: toys_games rise in the second half of November
    assert toys["key"] == "toys_games"
    assert toys["current"] == now.filter(CATEGORY="toys_games").height
    assert toys["previous"] == before.filter(CATEGORY="toys_games").height
    assert toys["growth"] == pytest.approx(toys["current"] / toys["previous"] - 1)
    assert toys["growth"] > 0.5


def test_trending_items_split_rising_and_new(sample, csv):
    rising = popularity.trending(sample["engine"], sample["group"], Filters(), 14, 20, 10)
    old, new = rising.frame.filter(~pl.col("new")), rising.frame.filter(pl.col("new"))
    assert old["growth"].to_list() == sorted(old["growth"], reverse=True)
    assert (new["previous"] == 0).all() and (rising.frame["current"] >= 20).all()
    # planted effect 6: items new in the catalogue lead the new ones
    created = dict(csv["items"].select("ITEM_ID", "CREATION_TIMESTAMP").iter_rows())
    assert all(created[i] >= epoch(date(2025, 11, 3)) for i in new["key"])


def test_long_tail_gini_matches_an_independent_computation(sample, csv):
    tail = popularity.long_tail(sample["engine"], sample["group"], Filters())
    per_item = (
        csv["items"]
        .select("ITEM_ID")
        .join(csv["interactions"].group_by("ITEM_ID").len("n"), on="ITEM_ID", how="left")
        .with_columns(pl.col("n").fill_null(0))["n"]
        .to_numpy()
        .astype(float)
    )
    # Gini as the mean absolute difference over twice the mean: a different formula
    expected = np.abs(per_item[:, None] - per_item[None, :]).sum() / (
        2 * len(per_item) ** 2 * per_item.mean()
    )
    assert tail.gini == pytest.approx(expected, abs=1e-9)
    assert tail.items == 1000 and tail.items_without_interactions == 2
    # planted effect 1 (README: 49.8% on the top 10% of items, 15.4% on the bottom half)
    assert tail.top_10_share == pytest.approx(0.498, abs=0.001)
    assert tail.bottom_50_share == pytest.approx(0.154, abs=0.001)
    curve = tail.curve
    assert curve.row(0) == (0.0, 0.0) and curve.row(-1) == pytest.approx((1.0, 1.0))
    assert (curve["interaction_share"].diff().drop_nulls() >= 0).all()


def test_weekly_counts_of_an_item_match_the_csv(sample, csv):
    weekly = popularity.weekly_counts(sample["engine"], sample["group"], ["i0366"], Filters())
    rows = csv["interactions"].filter(ITEM_ID="i0366")
    expected = (
        rows.with_columns(
            pl.from_epoch("TIMESTAMP", time_unit="s").dt.truncate("1w").dt.date().alias("week")
        )
        .group_by("week")
        .len("n")
    )
    # 2025-06-01 is a Sunday: its week is partial, so whole weeks start on 2025-06-02
    assert weekly["week"][0] == date(2025, 6, 2)
    assert weekly["week"][-1] == date(2025, 11, 24)
    mine = dict(weekly.select("week", "interactions").iter_rows())
    theirs = dict(expected.iter_rows())
    assert all(mine[week] == theirs.get(week, 0) for week in mine)
    assert len(mine) == 26


def test_multi_valued_categories_count_in_each_value_and_missing_ones_in_none(engine, tmp_path):
    group = engine.create_dataset_group(name="multi")["datasetGroupArn"]
    interactions = make_dataset(engine, group, "Interactions", INTERACTIONS_SCHEMA)
    items = make_dataset(engine, group, "Items", ITEMS_SCHEMA)
    rows = [[f"u{i % 7}", f"i{i % 3}", 1_700_000_000 + i, "view", "", "mobile"] for i in range(30)]
    rows += [["u1", "i9", 1_700_000_100, "view", "", "mobile|tablet"]]
    write_csv(tmp_path / "i.csv", HEADER, rows)
    write_csv(
        tmp_path / "items.csv",
        ["ITEM_ID", "CATEGORY", "PRICE", "CREATION_TIMESTAMP", "DESCRIPTION"],
        [
            ["i0", "shoes|sale", 1.0, 1, "x"],
            ["i1", "shoes", 1.0, 1, "y"],
            ["i2", "hats", 1.0, 1, ""],
        ],
    )
    assert run_import(engine, interactions, str(tmp_path / "i.csv"), "i")["status"] == "ACTIVE"
    assert run_import(engine, items, str(tmp_path / "items.csv"), "t")["status"] == "ACTIVE"
    top = popularity.top_items(engine, group, Filters(), Breakdown(ITEMS, "CATEGORY"), n=5)
    totals = dict(top.select("grp", "group_interactions").unique().iter_rows())
    assert totals == {"shoes": 20, "sale": 10, "hats": 10, "(none)": 1}
    devices = popularity.top_items(engine, group, Filters(), Breakdown(INTERACTIONS, "DEVICE"))
    assert dict(devices.select("grp", "group_interactions").unique().iter_rows()) == {
        "mobile": 31,
        "tablet": 1,
    }
    with pytest.raises(InvalidInputException, match="no Users dataset"):
        popularity.top_items(engine, group, Filters(), Breakdown(USERS, "AGE_BAND"))
    with pytest.raises(InvalidInputException, match="PRICE is not a categorical field"):
        popularity.top_items(engine, group, Filters(), Breakdown(ITEMS, "PRICE"))
    assert popularity.group_data(engine, group).breakdowns() == [
        Breakdown(ITEMS, "CATEGORY"),
        Breakdown(INTERACTIONS, "DEVICE"),
    ]


def test_device_lift_shows_the_planted_effect(sample, csv):
    lift = segments.category_lift(
        sample["engine"], sample["group"], Breakdown(INTERACTIONS, "DEVICE"), "CATEGORY", Filters()
    )
    cell = lift.filter(grp="mobile", category="fashion").row(0, named=True)
    joined = csv["interactions"].join(csv["items"].select("ITEM_ID", "CATEGORY"), on="ITEM_ID")
    mobile = joined.filter(DEVICE="mobile")
    share = mobile.filter(CATEGORY="fashion").height / mobile.height
    overall = joined.filter(CATEGORY="fashion").height / joined.height
    assert cell["lift"] == pytest.approx(share / overall)
    # planted effect 4 (README: lifts vs the overall share 1.29, 1.43, 1.75)
    assert cell["lift"] > 1.2
    assert lift.filter(grp="desktop", category="electronics")["lift"][0] > 1.3
    assert lift.filter(grp="tablet", category="books")["lift"][0] > 1.5


# --- chart builders --------------------------------------------------------------------------


def _top(groups: dict[str, list[tuple[str, int]]]) -> pl.DataFrame:
    rows = []
    for grp, items in groups.items():
        total = sum(n for _, n in items)
        for rank, (item, n) in enumerate(items, 1):
            rows.append(
                {
                    "grp": grp,
                    "item": item,
                    "interactions": n,
                    "share": n / total,
                    "rank": rank,
                    "group_interactions": total,
                }
            )
    return pl.DataFrame(rows)


def test_top_items_chart_draws_one_panel_per_group_with_labels():
    top = _top({"a": [("i1", 5), ("i2", 3)], "b": [("i3", 4)], "c": [("i1", 1)]})
    figure = top_items_chart(top, {"i1": "i1 (shoes)"})
    assert len(figure.data) == 3
    assert list(figure.data[0].y) == ["i1 (shoes)", "i2"]
    assert list(figure.data[0].x) == [5, 3]
    titles = [a.text for a in figure.layout.annotations]
    assert titles == ["a · 8", "b · 4", "c · 1"]


def test_top_items_chart_with_one_group_has_no_panel_titles_and_an_empty_state():
    figure = top_items_chart(_top({"All": [("i1", 5), ("i2", 3)]}))
    assert len(figure.data) == 1 and not figure.layout.annotations
    empty = top_items_chart(_top({"All": [("i1", 5)]}).head(0))
    assert empty.layout.annotations[0].text == "No interactions in this window"


def test_trending_and_new_items_charts():
    frame = pl.DataFrame(
        {
            "key": ["i1", "i2", "i3"],
            "current": [30, 5, 12],
            "previous": [10, 10, 0],
            "growth": [2.0, -0.5, 12.0],
            "new": [False, False, True],
        }
    )
    bars = trending_chart(frame).data[0]
    assert list(bars.x) == [200.0, -50.0, 1200.0]
    assert list(bars.marker.color) == ["#2E6DB4", "#D1495B", "#F58518"]
    assert bars.text[0] == "10 → 30" and bars.text[2] == "0 → 12 (new)"
    new = new_items_chart(frame.filter(pl.col("new")), {"i3": "i3 (toys)"}).data[0]
    assert list(new.y) == ["i3 (toys)"] and list(new.x) == [12]
    assert trending_chart(frame.head(0)).layout.annotations[0].text.startswith("No items")


def test_weekly_chart_draws_one_line_per_item():
    weekly = pl.DataFrame(
        {
            "week": [date(2025, 6, 2), date(2025, 6, 9)] * 2,
            "item": ["i1", "i1", "i2", "i2"],
            "interactions": [3, 4, 0, 7],
        }
    )
    figure = weekly_chart(weekly, {"i2": "i2 (hats)"})
    assert [t.name for t in figure.data] == ["i1", "i2 (hats)"]
    assert list(figure.data[1].y) == [0, 7]
    assert weekly_chart(weekly.head(0)).layout.annotations[0].text.startswith("Choose items")


def test_long_tail_and_lift_charts_are_altair_layers():
    curve = pl.DataFrame({"item_share": [0.0, 0.1, 1.0], "interaction_share": [0.0, 0.5, 1.0]})
    spec = long_tail_chart(curve, 0.58, 0.5, 0.15).to_dict()
    assert len(spec["layer"]) == 4
    assert spec["title"].startswith("Gini 0.58")
    lift = pl.DataFrame(
        {
            "grp": ["mobile", "desktop"],
            "category": ["fashion", "fashion"],
            "lift": [1.3, 0.7],
            "share": [0.23, 0.12],
            "overall_share": [0.18, 0.18],
            "interactions": [10, 5],
        }
    )
    spec = lift_chart(lift, "DEVICE", "CATEGORY").to_dict()
    domain = spec["layer"][1]["encoding"]["x"]["scale"]["domain"]
    assert domain[0] == pytest.approx(1 / domain[1])  # symmetric around 1x on the log scale
    assert domain[1] > 1.3


# --- the page --------------------------------------------------------------------------------


def figure(at: AppTest, key: str) -> dict:
    """The Plotly figure of the chart with `key`."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(key):
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no chart {key}")


def test_page_shows_the_most_popular_items(app, csv):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Most popular items"]
    bars = figure(at, "pop_top")["data"][0]
    expected = counts(csv["interactions"]).head(10)
    assert bars["x"] == expected["n"].to_list()
    assert bars["y"][0] == "i0069 (fashion · dresses)"


def test_breakdown_and_window_change_the_lists(app, csv):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="pop_breakdown").select(Breakdown(ITEMS, "CATEGORY")).run()
    assert not at.exception
    panels = [a["text"] for a in figure(at, "pop_top")["layout"]["annotations"]]
    assert "electronics · 24,833" in panels and len(panels) == 8
    # November only, purchases only
    at.date_input(key="pop_window").set_value((date(2025, 11, 1), date(2025, 11, 30)))
    at.multiselect(key="pop_types").set_value(["purchase"]).run()
    assert not at.exception
    rows = csv["interactions"].filter(
        (pl.col("EVENT_TYPE") == "purchase") & (pl.col("TIMESTAMP") >= epoch(date(2025, 11, 1)))
    )
    joined = rows.join(csv["items"].select("ITEM_ID", "CATEGORY"), on="ITEM_ID")
    electronics = joined.filter(CATEGORY="electronics").height
    panels = [a["text"] for a in figure(at, "pop_top")["layout"]["annotations"]]
    assert f"electronics · {electronics:,}" in panels
    # a user segment adds the category lifts
    at.selectbox(key="pop_breakdown").select(Breakdown(USERS, "AGE_BAND")).run()
    assert not at.exception
    assert "Which categories each AGE_BAND favours" in [s.value for s in at.subheader]


def test_the_other_tabs_render(app, csv):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.session_state["pop_tab"] = "Trending now"
    at.run()
    assert not at.exception
    assert {"Rising items", "New this window", "Rising CATEGORY values"} <= {
        s.value for s in at.subheader
    }
    categories = figure(at, "pop_rising_groups")["data"][0]
    assert categories["y"][0] == "toys_games"
    at.session_state["pop_tab"] = "Long tail"
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (
        metrics["Gini"]
        == f"{popularity.long_tail(app['engine'], app['group'], Filters()).gini:.2f}"
    )
    assert metrics["Top 10% of items"] == "50%" and metrics["Items without interactions"] == "2"
    at.session_state["pop_tab"] = "Over time"
    at.run()
    assert not at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert [t["name"] for t in charts[0]["data"]] == [
        "i0069 (fashion · dresses)",
        "i0366 (electronics · cameras)",
        "i0724 (home_garden · garden_tools)",
    ]


def test_page_without_interactions_says_what_to_do(tmp_path):
    with Engine(tmp_path / "d") as engine:
        engine.create_dataset_group(name="empty")
        runtime.register(engine)
        try:
            at = AppTest.from_file(PAGE, default_timeout=60).run()
        finally:
            runtime.unregister()
    assert not at.exception
    assert "has no interactions yet" in at.info[0].value


def test_page_works_on_a_group_with_interactions_only(engine, interactions, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(1500, users=40))
    assert run_import(engine, interactions, str(path), "j")["status"] == "ACTIVE"
    runtime.register(engine)
    try:
        at = AppTest.from_file(PAGE, default_timeout=60).run()
        assert not at.exception
        options = at.selectbox(key="pop_breakdown").options
        assert options == ["Nothing (all interactions)", "Context · DEVICE"]
        at.selectbox(key="pop_breakdown").select_index(1).run()
        assert not at.exception
        for tab in ("Trending now", "Long tail", "Over time"):
            at.session_state["pop_tab"] = tab
            at.run()
            assert not at.exception, tab
        assert not at.error
    finally:
        runtime.unregister()


def test_a_window_without_interactions_gives_empty_answers(sample):
    nothing = Filters(("no-such-event",))
    engine, group = sample["engine"], sample["group"]
    assert popularity.top_items(engine, group, nothing, Breakdown(USERS, "AGE_BAND")).is_empty()
    assert popularity.trending(engine, group, nothing).frame.is_empty()
    tail = popularity.long_tail(engine, group, nothing)
    assert (tail.gini, tail.interactions, tail.items_without_interactions) == (0.0, 0, 1000)
    assert popularity.weekly_counts(engine, group, ["i0001"], nothing).is_empty()

"""Segments: cohorts, category lift and recency/frequency bands (engine/analytics/segments.py)
against an independent Polars read of data/sample; model segments from a trained
aws-item-affinity version; the chart builders; the page under AppTest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts.segments import (
    affinity_heatmap,
    cohort_sizes_chart,
    overlap_bars,
    overlap_matrix,
    profile_chart,
    rfm_chart,
)
from engine import Engine, runtime
from engine.analytics import segments
from engine.analytics.popularity import Filters
from engine.analytics.segments import (
    BEHAVIOUR,
    FREQUENCY,
    ITEM_AFFINITY,
    MONETARY,
    RECENCY,
    Cohort,
)
from engine.errors import InvalidInputException
from engine.sample_data import SAMPLE_DIR, load_sample
from tests.dashboard.conftest import train
from tests.helpers import HEADER, interaction_rows, run_import, write_csv

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "segments.py")
FAST = {"algorithmHyperParameters": {"factors": "8", "iterations": "5"}}
LAST_DAY_END = int(datetime(2025, 12, 1, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def csv() -> dict[str, pl.DataFrame]:
    """The sample's CSV files, read by Polars alone."""
    return {
        name: pl.read_csv(SAMPLE_DIR / f"{name}.csv", infer_schema_length=None)
        for name in ("interactions", "items", "users")
    }


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> Iterator[dict]:
    """A sample store of this module's own, for training segment models (the session store
    stays as other pages' tests expect it) and an empty group."""
    with Engine(tmp_path_factory.mktemp("segments") / "d") as engine:
        group = load_sample(engine)
        empty = engine.create_dataset_group(name="empty")["datasetGroupArn"]
        yield {"engine": engine, "group": group, "empty": empty}


@pytest.fixture
def own_app(own) -> Iterator[dict]:
    runtime.register(own["engine"])
    try:
        yield own
    finally:
        runtime.unregister()


@pytest.fixture(scope="module")
def fast_model(own) -> str:
    """A small aws-item-affinity version in the module's store."""
    return train(own["engine"], own["group"], "affinity-fast", ITEM_AFFINITY, solutionConfig=FAST)


# --- cohorts and lift ------------------------------------------------------------------------


def test_user_field_cohorts_count_the_users_csv(sample, csv):
    sizes = segments.cohort_sizes(
        sample["engine"], sample["group"], Cohort("USERS", "AGE_BAND"), Filters()
    )
    expected = csv["users"].group_by("AGE_BAND").len().sort("AGE_BAND")
    assert sizes.rows() == expected.rows()
    members = segments.cohort_members(
        sample["engine"], sample["group"], Cohort("USERS", "AGE_BAND"), "18-24", Filters()
    )
    assert set(members["USER_ID"]) == set(csv["users"].filter(AGE_BAND="18-24")["USER_ID"])
    counted = csv["interactions"].group_by("USER_ID").len("n")
    one = members.row(0, named=True)
    assert one["interactions"] == counted.filter(USER_ID=one["USER_ID"])["n"][0]


def test_category_heatmap_cell_matches_the_csv(sample, csv):
    lift = segments.category_lift(
        sample["engine"], sample["group"], Cohort("USERS", "AGE_BAND"), "CATEGORY", Filters()
    )
    joined = csv["interactions"].join(csv["items"].select("ITEM_ID", "CATEGORY"), on="ITEM_ID")
    young = joined.join(csv["users"].filter(AGE_BAND="18-24"), on="USER_ID")
    share = young.filter(CATEGORY="electronics").height / young.height
    overall = joined.filter(CATEGORY="electronics").height / joined.height
    cell = lift.filter(grp="18-24", category="electronics").row(0, named=True)
    assert cell["interactions"] == young.filter(CATEGORY="electronics").height
    assert cell["users"] == 643
    assert cell["lift"] == pytest.approx(share / overall)
    # planted effect 2 (README: 2.04x vs the overall share; books for 55+ 2.19x)
    assert cell["lift"] == pytest.approx(2.04, abs=0.01)
    assert lift.filter(grp="55+", category="books")["lift"][0] == pytest.approx(2.19, abs=0.01)
    assert lift.filter(grp="18-24", category="toys_games")["lift"][0] > 1.8
    assert lift["grp"].unique(maintain_order=True).to_list() == [
        "18-24",
        "25-34",
        "35-44",
        "45-54",
        "55+",
    ]


def _bounds(label: str) -> tuple[float, float]:
    text = label.replace(" days", "")
    if text.endswith("+"):
        return float(text[:-1]), float("inf")
    low, _, high = text.partition("–")
    return float(low), float(high or low)


def test_frequency_bands_partition_the_active_users(sample, csv):
    cohort = Cohort(BEHAVIOUR, FREQUENCY)
    sizes = segments.cohort_sizes(sample["engine"], sample["group"], cohort, Filters())
    per_user = csv["interactions"].group_by("USER_ID").len("n")
    assert sizes["users"].sum() == per_user.height == 4000
    assert len(sizes) == 4 and min(sizes["users"]) > 800  # quartiles
    previous_high = 0.0
    for label, users in sizes.iter_rows():
        low, high = _bounds(label)
        assert low == previous_high + 1 or previous_high == 0
        members = segments.cohort_members(
            sample["engine"], sample["group"], cohort, label, Filters()
        )
        assert members.height == users
        checked = members.join(per_user, on="USER_ID")
        assert checked["n"].min() >= low and checked["n"].max() <= high, label
        assert (checked["interactions"] == checked["n"]).all()
        previous_high = high


def test_recency_and_value_bands(sample, csv):
    recency = segments.cohort_sizes(
        sample["engine"], sample["group"], Cohort(BEHAVIOUR, RECENCY), Filters()
    )
    last = csv["interactions"].group_by("USER_ID").agg(pl.col("TIMESTAMP").max())
    days = last.with_columns(((LAST_DAY_END - pl.col("TIMESTAMP")) // 86_400).alias("d"))
    for label, users in recency.iter_rows():
        low, high = _bounds(label)
        assert days.filter((pl.col("d") >= low) & (pl.col("d") <= high)).height == users
    value = segments.cohort_sizes(
        sample["engine"], sample["group"], Cohort(BEHAVIOUR, MONETARY), Filters()
    )
    spenders = csv["interactions"].filter(pl.col("EVENT_VALUE").is_not_null())["USER_ID"]
    assert value.row(0) == ("no value", 4000 - spenders.n_unique())
    assert value["users"].sum() == 4000


def test_rfm_grid_counts_every_active_user(sample, csv):
    grid = segments.rfm_grid(sample["engine"], sample["group"], Filters(("purchase",)))
    buyers = csv["interactions"].filter(EVENT_TYPE="purchase")
    assert grid["users"].sum() == buyers["USER_ID"].n_unique()
    assert grid["recency_band"].is_sorted()
    mean = buyers.group_by("USER_ID").agg(pl.col("EVENT_VALUE").sum())["EVENT_VALUE"].mean()
    weighted = (grid["mean_value"] * grid["users"]).sum() / grid["users"].sum()
    assert weighted == pytest.approx(mean)


def test_bad_cohorts_are_refused(sample):
    with pytest.raises(InvalidInputException, match="NOPE is not a categorical field"):
        segments.cohort_sizes(sample["engine"], sample["group"], Cohort("USERS", "NOPE"), Filters())
    with pytest.raises(InvalidInputException, match="PRICE is not a categorical field"):
        segments.category_lift(
            sample["engine"], sample["group"], Cohort("USERS", "AGE_BAND"), "PRICE", Filters()
        )


# --- model segments --------------------------------------------------------------------------


def test_model_tab_without_a_model_offers_training_and_then_shows_segments(own_app):
    engine, group = own_app["engine"], own_app["group"]
    before = {m["solutionVersionArn"] for m in segments.segment_models(engine, group)}
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["seg_group"] = own_app["group"]
    at.session_state["seg_tab"] = "Model segments"
    at.run()
    assert not at.exception
    assert not before  # this module's store: no segment model yet
    assert "aws-item-affinity" in at.info[0].value
    at.button(key="seg_first_train").click().run()
    assert not at.exception
    models = segments.segment_models(engine, group)
    new = [m for m in models if m["solutionVersionArn"] not in before]
    assert len(new) == 1 and new[0]["recipeArn"] == ITEM_AFFINITY
    assert at.selectbox(key="seg_model").value == new[0]["solutionVersionArn"]
    assert [m.value for m in at.metric] == ["400 users", "400 users"]
    assert len(at.get("download_button")) == 2
    assert "How much the two audiences overlap" in [s.value for s in at.subheader]


def test_an_item_affinity_segment_leans_to_the_items_audience(own, fast_model, csv):
    engine, group = own["engine"], own["group"]
    assert fast_model in [m["solutionVersionArn"] for m in segments.segment_models(engine, group)]
    model = segments.load_segment_model(engine, fast_model)
    camera = segments.segment(model, ["i0366"], 400)  # electronics: 18-24 favour it
    assert camera.height == 400 and camera["rank"].to_list() == list(range(1, 401))
    assert camera["score"].is_sorted(descending=True)
    profile = segments.profile(engine, group, camera["USER_ID"].to_list(), "AGE_BAND")
    young = profile.filter(value="18-24").row(0, named=True)
    expected = (
        csv["users"]
        .filter(pl.col("USER_ID").is_in(camera["USER_ID"].to_list()))
        .filter(AGE_BAND="18-24")
        .height
    )
    assert young["segment_users"] == expected
    assert young["lift"] > 1.3  # planted effect 2, found by the model
    books = segments.segment(
        model, segments.items_matching(engine, group, "CATEGORY", "books"), 400
    )
    old = segments.profile(engine, group, books["USER_ID"].to_list(), "AGE_BAND")
    assert old.filter(value="55+")["lift"][0] > 1.5
    with pytest.raises(InvalidInputException, match="does not know item nope"):
        segments.segment(model, ["nope"], 10)


def test_overlap_of_segments():
    frame = segments.overlap({"a": ["u1", "u2", "u3"], "b": ["u2", "u3", "u4", "u5"]})
    ab = frame.filter(a="a", b="b").row(0, named=True)
    assert (ab["shared"], ab["a_users"], ab["b_users"]) == (2, 3, 4)
    assert ab["share_of_a"] == pytest.approx(2 / 3) and ab["jaccard"] == pytest.approx(2 / 5)
    assert frame.filter(a="b", b="a")["share_of_a"][0] == pytest.approx(0.5)


# --- chart builders --------------------------------------------------------------------------


def test_affinity_heatmap_colours_lift_on_a_log_scale():
    lift = pl.DataFrame(
        {
            "grp": ["young", "young", "old", "old"],
            "category": ["toys", "books", "toys", "books"],
            "interactions": [30, 10, 10, 30],
            "group_interactions": [40, 40, 40, 40],
            "share": [0.75, 0.25, 0.25, 0.75],
            "overall_share": [0.5, 0.5, 0.5, 0.5],
            "lift": [1.5, 0.5, 0.5, 1.5],
            "users": [3, 3, 5, 5],
        }
    )
    heat = affinity_heatmap(lift, "User · AGE", "CATEGORY").data[0]
    assert list(heat.y) == ["young (3 users)", "old (5 users)"]
    assert list(heat.x) == ["books", "toys"]  # equal overall shares: by name
    assert list(heat.text[0]) == ["0.50×", "1.50×"]
    assert heat.z[0][0] == -1.0 and heat.z[0][1] == pytest.approx(0.585, abs=0.001)
    assert heat.zmid == 0
    sizes = cohort_sizes_chart(pl.DataFrame({"grp": ["a", "b"], "users": [3, 1]}), "x").data[0]
    assert list(sizes.text) == ["3 (75%)", "1 (25%)"]
    assert affinity_heatmap(lift.head(0), "x", "y").layout.annotations[0].text.startswith("No")


def test_rfm_and_overlap_charts():
    grid = pl.DataFrame(
        {
            "recency": ["0–3 days", "0–3 days", "4+ days"],
            "frequency": ["1–2", "3+", "1–2"],
            "users": [5, 7, 2],
            "mean_value": [10.0, 0.0, None],
            "recency_band": [0, 0, 1],
            "frequency_band": [0, 1, 0],
        }
    )
    heat = rfm_chart(grid).data[0]
    assert list(heat.y) == ["0–3 days", "4+ days"] and list(heat.x) == ["1–2", "3+"]
    assert [list(r) for r in heat.z] == [[5, 7], [2, 0]]
    overlap = segments.overlap({"a": ["u1", "u2"], "b": ["u2", "u3", "u4"]})
    bars = overlap_bars(overlap, "a", "b")
    assert [t.x[0] for t in bars.data] == [1, 1, 2]
    matrix = overlap_matrix(overlap).data[0]
    assert matrix.z[0][0] is None and matrix.z[0][1] == pytest.approx(0.5)
    profile = pl.DataFrame(
        {
            "value": ["a", "b"],
            "segment_users": [3, 1],
            "segment_share": [0.75, 0.25],
            "all_users": [5, 5],
            "overall_share": [0.5, 0.5],
            "lift": [1.5, 0.5],
        }
    )
    assert len(profile_chart(profile, "AGE").to_dict()["layer"]) == 3


# --- the page --------------------------------------------------------------------------------


def figure(at: AppTest, key: str) -> dict:
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(key):
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no chart {key}")


def test_page_shows_the_category_heatmap_and_a_download(app):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    heat = figure(at, "seg_heat")["data"][0]
    row = heat["y"].index("18-24 (643 users)")
    assert heat["text"][row][heat["x"].index("electronics")] == "2.04×"
    download = at.get("download_button")[0]
    assert download.label == "Download 643 users as CSV"
    at.selectbox(key="seg_cohort").select(Cohort(BEHAVIOUR, FREQUENCY)).run()
    assert not at.exception
    sizes = figure(at, "seg_sizes")["data"][0]
    assert sum(sizes["y"]) == 4000
    at.session_state["seg_tab"] = "Recency & frequency"
    at.run()
    assert not at.exception
    grid = figure(at, "seg_rfm")["data"][0]
    assert sum(sum(row) for row in grid["z"]) == 4000


def test_choosing_items_and_attribute_values_for_model_segments(own_app, fast_model):
    engine = own_app["engine"]
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["seg_group"] = own_app["group"]
    at.session_state["seg_tab"] = "Model segments"
    at.session_state["seg_model"] = fast_model
    at.run()
    assert not at.exception
    at.slider(key="seg_size").set_value(300)
    at.multiselect(key="seg_items").set_value(["i0366", "i0724", "i0193"]).run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["300 users"] * 3
    model = segments.load_segment_model(engine, fast_model)
    found = {i: segments.segment(model, [i], 300)["USER_ID"].to_list() for i in ["i0366", "i0724"]}
    shared = len(set(found["i0366"]) & set(found["i0724"]))
    matrix = figure(at, "seg_overlap")["data"][0]
    assert matrix["text"][0][1].endswith(f"<br>{shared:,}")
    # who is in the camera's segment
    at.selectbox(key="seg_profile_target").select_index(0).run()
    assert not at.exception
    # attribute values
    at.radio(key="seg_mode").set_value("attribute").run()
    assert not at.exception
    at.multiselect(key="seg_attr_values_CATEGORY").set_value(["books"]).run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["CATEGORY=books"]


def test_page_without_interactions_says_what_to_do(own_app):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["seg_group"] = own_app["empty"]
    at.run()
    assert not at.exception
    assert "has no interactions yet" in at.info[0].value


def test_page_works_on_a_group_with_interactions_only(engine, interactions, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(1500, users=40))
    assert run_import(engine, interactions, str(path), "j")["status"] == "ACTIVE"
    runtime.register(engine)
    try:
        at = AppTest.from_file(PAGE, default_timeout=60).run()
        assert not at.exception
        assert at.selectbox(key="seg_cohort").options == [
            "Behaviour · Recency (days since last interaction)",
            "Behaviour · Frequency (interactions)",
            "Behaviour · Monetary (value (sum of EVENT_VALUE))",
        ]
        assert "Items dataset with a categorical field" in at.info[0].value
        at.session_state["seg_tab"] = "Recency & frequency"
        at.run()
        assert not at.exception and not at.error
        at.session_state["seg_tab"] = "Model segments"
        at.run()
        assert not at.exception
        assert "aws-item-affinity" in at.info[0].value
    finally:
        runtime.unregister()


def test_a_window_without_interactions_gives_empty_answers(sample):
    nothing = Filters(("no-such-event",))
    engine, group = sample["engine"], sample["group"]
    for metric in (RECENCY, FREQUENCY, MONETARY):
        sizes = segments.cohort_sizes(engine, group, Cohort(BEHAVIOUR, metric), nothing)
        assert sizes["users"].sum() == 0, metric
    assert segments.rfm_grid(engine, group, nothing).is_empty()
    lift = segments.category_lift(engine, group, Cohort(BEHAVIOUR, RECENCY), "CATEGORY", nothing)
    assert lift.is_empty()


def test_value_bands_of_a_window_without_values_put_everyone_in_no_value(sample, csv):
    views = Filters(("view",))
    value = segments.cohort_sizes(
        sample["engine"], sample["group"], Cohort(BEHAVIOUR, MONETARY), views
    )
    viewers = csv["interactions"].filter(EVENT_TYPE="view")["USER_ID"].n_unique()
    assert value.rows() == [("no value", viewers)]

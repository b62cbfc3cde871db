"""The Compare page under AppTest on the sample store: two campaigns' lists side by side equal
what `get_recommendations` answers, their overlap@k is right, the aggregate over users and
the related-items view render; the comparison logic itself (versions scored without a
campaign, co-occurrence, filters) against the engine and the raw sample files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from engine.analytics import compare

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "compare.py")
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def sources(sample) -> dict[str, compare.Source]:
    return {s.name: s for s in compare.list_sources(sample["engine"], sample["group"])}


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=120)


def frames(at: AppTest, *columns: str, without: str = "pulled up by") -> list:
    """The page's tables (pandas) that have these columns, in page order."""
    return [
        d.value
        for d in at.dataframe
        if set(columns) <= set(d.value.columns) and without not in d.value.columns
    ]


def test_compare_page_renders_two_lists_by_default(app):
    at = page().run()
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Compare"
    assert len(frames(at, "#", "item")) == 2


def test_two_campaigns_side_by_side_equal_get_recommendations(app):
    engine = app["engine"]
    found = sources(app)
    popular, ease = found["popular"], found["ease"]
    user = compare.sample_entities(engine, app["group"], 3)[2]
    at = page().run()
    at.multiselect(key="compare-sources-A user").set_value([popular.label, ease.label])
    at.slider(key="compare-k").set_value(10)
    at.text_input(key="compare-user").input(user)
    at.run()
    assert not at.exception and not at.error
    shown = [frame["item"].tolist() for frame in frames(at, "#", "item")]
    expected = [
        [
            e["itemId"]
            for e in engine.get_recommendations(
                campaignArn=app["campaigns"][name], userId=user, numResults=10
            )["itemList"]
        ]
        for name in ("popular", "ease")
    ]
    assert shown == expected
    (pairs,) = frames(at, "in common")
    assert len(pairs) == 1
    independent = len(set(expected[0]) & set(expected[1])) / 10
    assert pairs["overlap"].iloc[0] == pytest.approx(independent)
    assert pairs["in common"].iloc[0] == f"{round(independent * 10)} of 10"
    assert pairs["rbo"].iloc[0] == pytest.approx(compare.rbo(*expected))
    markdown = " ".join(m.value for m in at.markdown)
    assert f"What {user} did lately" in markdown


def test_across_many_users_shows_agreement_with_intervals(app):
    found = sources(app)
    at = page().run()
    at.multiselect(key="compare-sources-A user").set_value(
        [found["popular"].label, found["ease"].label]
    )
    at.session_state["compare-view-A user"] = "Across many users"
    at.run()
    at.slider(key="compare-sample").set_value(40).run()
    assert not at.exception and not at.error
    (pairs,) = frames(at, "users", "low", "high")
    row = pairs.iloc[0]
    assert row["users"] == 40
    assert row["low"] <= row["overlap"] <= row["high"]
    assert len(at.get("vega_lite_chart")) == 4  # agreement, distribution, coverage, bias


def test_related_items_view_compares_item_based_recipes(app):
    at = page().run()
    at.button_group(key="compare-mode").set_value("An item").run()
    assert not at.exception and not at.error
    # one sims campaign and the same version scored directly: identical lists
    lists = [frame["item"].tolist() for frame in frames(at, "#", "item")]
    assert len(lists) == 2 and lists[0] == lists[1] and len(lists[0]) == 10
    (pairs,) = frames(at, "in common")
    assert pairs["overlap"].iloc[0] == 1.0


def test_a_version_without_its_campaign_answers_like_the_campaign(sample):
    engine, group = sample["engine"], sample["group"]
    found = sources(sample)
    for name in ("popular", "ease"):
        campaign = found[name]
        version = next(
            s for s in found.values() if s.kind == "version" and s.arn == campaign.version_arn
        )
        for user in compare.sample_entities(engine, group, 5):
            by_model = compare.recommend(engine, version, user_id=user, k=15)
            by_campaign = compare.recommend(engine, campaign, user_id=user, k=15)
            assert by_model["items"] == by_campaign["items"]
            assert by_model["scores"] == pytest.approx(by_campaign["scores"], abs=1e-6)


def test_cooccurrence_counts_users_who_interacted_with_both(sample):
    engine, group = sample["engine"], sample["group"]
    events = pl.read_csv(SAMPLE / "interactions.csv", columns=["USER_ID", "ITEM_ID"]).unique()
    users_of = events.group_by("ITEM_ID").agg(pl.col("USER_ID"))
    users_of = {r["ITEM_ID"]: set(r["USER_ID"]) for r in users_of.iter_rows(named=True)}
    targets, anchors = ["i0366", "i0724", "i0942"], ["i0069", "i0193", "i0928"]
    co = compare.cooccurrence(engine, group, targets, anchors)
    got = {(r["target"], r["anchor"]): r["users"] for r in co.iter_rows(named=True)}
    for target in targets:
        for anchor in anchors:
            assert got[(target, anchor)] == len(users_of[target] & users_of[anchor])


def test_explain_ranks_history_items_by_association(sample):
    engine, group = sample["engine"], sample["group"]
    user = compare.sample_entities(engine, group, 1)[0]
    history = compare.history_items(engine, group, user)
    items = compare.recommend(engine, sources(sample)["ease"], user_id=user, k=5)["items"]
    explained = compare.explain(engine, group, items, history)
    assert explained["item"].to_list() == items
    for row in explained.iter_rows(named=True):
        assert set(row["pulled_by"]) <= set(history)
        assert len(row["pulled_by"]) == len(row["shared_users"]) <= 3
        assert row["popularity_rank"] >= 1


def test_a_filter_removes_items_and_says_which(sample):
    engine, group = sample["engine"], sample["group"]
    popular = sources(sample)["popular"]
    user = compare.sample_entities(engine, group, 1)[0]
    plain = compare.recommend(engine, popular, user_id=user, k=10)["items"]
    details = compare.item_details(engine, group, plain)
    category = details.filter(pl.col("item") == plain[0])["CATEGORY"][0]
    arn = engine.create_filter(
        name="compare-test-filter",
        datasetGroupArn=group,
        filterExpression=f'EXCLUDE ItemID WHERE Items.CATEGORY IN ("{category}")',
    )["filterArn"]
    try:
        for source in (
            popular,
            sources(sample)["popular · " + popular.version_arn.rsplit("/", 1)[1]],
        ):
            answer = compare.recommend(engine, source, user_id=user, k=10, filter_arn=arn)
            removed = set(details.filter(pl.col("CATEGORY") == category)["item"])
            assert set(answer["removed"]) == removed
            assert not set(answer["items"]) & removed
    finally:
        engine.delete_filter(filterArn=arn)


@pytest.fixture
def empty(engine):
    """A data directory without dataset groups, registered for AppTest."""
    from engine import runtime

    runtime.register(engine)
    yield engine
    runtime.unregister()


def test_compare_page_without_versions_says_what_to_do(empty, interactions):
    at = page().run()
    assert not at.exception
    assert "Train" in at.info[0].value and "two trained solution versions" in at.info[0].value


def test_compare_page_without_groups_says_how_to_start(empty):
    at = page().run()
    assert not at.exception
    assert "tailor init --sample" in at.info[0].value


def test_a_promotion_takes_its_share_of_a_campaigns_list_and_says_so(sample):
    engine, group = sample["engine"], sample["group"]
    found = sources(sample)
    user = compare.sample_entities(engine, group, 1)[0]
    arn = engine.create_filter(
        name="compare-test-promotion",
        datasetGroupArn=group,
        filterExpression='INCLUDE ItemID WHERE Items.CATEGORY IN ("books")',
    )["filterArn"]
    promotion = {"name": "books", "percentPromotedItems": 20, "filterArn": arn}
    try:
        answer = compare.recommend(
            engine, found["popular"], user_id=user, k=10, promotion=promotion
        )
        promoted = [i for i, r in zip(answer["items"], answer["reasons"], strict=True) if r]
        assert answer["reasons"].count("Promoted item: books") == 2  # 20% of 10
        details = compare.item_details(engine, group, promoted)
        assert set(details["CATEGORY"]) == {"books"}
        version = next(
            s for s in found.values() if s.kind == "version" and s.name.startswith("popular")
        )
        alone = compare.recommend(engine, version, user_id=user, k=10, promotion=promotion)
        assert not any(alone["reasons"])  # a version without a campaign has no promotions
    finally:
        engine.delete_filter(filterArn=arn)


def test_the_page_shows_a_promotion_and_a_filter_at_work(app):
    engine, group = app["engine"], app["group"]
    found = sources(app)
    books = engine.create_filter(
        name="page-books",
        datasetGroupArn=group,
        filterExpression='INCLUDE ItemID WHERE Items.CATEGORY IN ("books")',
    )["filterArn"]
    no_grocery = engine.create_filter(
        name="page-no-grocery",
        datasetGroupArn=group,
        filterExpression='EXCLUDE ItemID WHERE Items.CATEGORY IN ("grocery")',
    )["filterArn"]
    try:
        at = page().run()
        at.multiselect(key="compare-sources-A user").set_value(
            [found["popular"].label, found["ease"].label]
        )
        at.selectbox(key="compare-promotion").set_value(books)
        at.selectbox(key="compare-filter").set_value(no_grocery)
        at.run()
        assert not at.exception and not at.error
        why = [d.value for d in at.dataframe if "pulled up by" in d.value.columns]
        assert len(why) == 2
        assert (why[0]["reason"] == "Promoted item: page-books").sum() == 2  # 20% of 10
        for frame in frames(at, "#", "item", "CATEGORY"):
            assert "grocery" not in set(frame["CATEGORY"])
        captions = " ".join(c.value for c in at.caption)
        assert "INCLUDE ItemID" not in captions  # the promotion's filter is not the filter
        assert 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("grocery")' in captions
    finally:
        engine.delete_filter(filterArn=books)
        engine.delete_filter(filterArn=no_grocery)

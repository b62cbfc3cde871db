"""The dashboard's overview page: chart builders, the page under AppTest, and the real app in
Debian's Chromium (issue 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts import events_over_time, readiness_gauges
from engine import runtime
from tests.helpers import HEADER, interaction_rows, run_import, write_csv
from tests.test_server import free_port, start, stop, wait_until_up

HOME = str(Path(__file__).resolve().parent.parent / "dashboard" / "app_pages" / "home.py")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_events_over_time_draws_one_trace_per_event_type():
    timeline = pl.DataFrame(
        {
            "day": ["2025-06-01", "2025-06-01", "2025-06-02"],
            "event_type": ["view", "purchase", "view"],
            "events": [10, 2, 7],
        }
    )
    figure = events_over_time(timeline)
    assert sorted(trace.name for trace in figure.data) == ["purchase", "view"]
    views = next(trace for trace in figure.data if trace.name == "view")
    assert list(views.y) == [10, 7]


def test_events_over_time_says_when_there_is_nothing():
    empty = pl.DataFrame(schema={"day": pl.Date, "event_type": pl.Utf8, "events": pl.Int64})
    figure = events_over_time(empty)
    assert not figure.data
    assert figure.layout.annotations[0].text == "No interactions yet"


def test_readiness_gauges_colour_passed_and_failed_checks():
    report = {
        "checks": [
            {"name": "interactions", "value": 500, "minimum": 1000, "passed": False},
            {"name": "usersWithAtLeast2Interactions", "value": 90, "minimum": 25, "passed": True},
        ]
    }
    bar = readiness_gauges(report).data[0]
    assert list(bar.x) == [0.5, 3.0]  # capped at 3x
    assert list(bar.marker.color) == ["#E45756", "#54A24B"]


@pytest.fixture
def registered(engine):
    runtime.register(engine)
    yield engine
    runtime.unregister()


def test_home_page_shows_each_group_with_its_readiness(registered, interactions, group, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(1200, users=30))
    assert run_import(registered, interactions, str(path), "j")["status"] == "ACTIVE"
    registered.create_dataset_group(name="empty-group")
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception
    assert [s.value.split()[0] for s in at.subheader] == ["empty-group", "shop"]
    users = [m.value for m in at.metric if m.label == "Users with interactions"]
    assert users == ["0", "30"]
    markdown = " ".join(m.value for m in at.markdown)
    assert "1,200 interactions in the Interactions dataset" in markdown
    assert "only 0 interactions" in markdown  # the empty group says what it lacks


def test_home_page_without_groups_explains_how_to_start(registered):
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception
    assert "tailor init --sample" in at.info[0].value


@pytest.mark.slow
@pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
)
def test_overview_in_a_real_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    from engine import Engine

    data_dir = tmp_path / "d"
    with Engine(data_dir) as engine:
        from tests.helpers import INTERACTIONS_SCHEMA, make_dataset

        group = engine.create_dataset_group(name="browser-shop")["datasetGroupArn"]
        dataset = make_dataset(engine, group, "Interactions", INTERACTIONS_SCHEMA)
        path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(1500, users=40))
        assert run_import(engine, dataset, str(path), "j")["status"] == "ACTIVE"
    port = free_port()
    proc = start("up", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                ],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_text("browser-shop").wait_for(timeout=30_000)
            page.get_by_text("ready to train").wait_for(timeout=30_000)
            page.get_by_text("1,500 interactions in the Interactions dataset").wait_for(
                timeout=30_000
            )
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
            browser.close()
        assert (tmp_path / "overview.png").stat().st_size > 10_000
    finally:
        stop(proc)

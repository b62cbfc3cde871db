"""Every dashboard page in a real browser (Debian's chromium driven by Playwright) against
`tailor up` on the sample store: each page renders with no exception element, the main
interactions work, and a screenshot of each page is saved (under pytest's tmp dir, and in
$TAILOR_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine import Engine
from engine.sample_data import load_sample
from tests.dashboard.conftest import EASE, POPULARITY, serve, train
from tests.test_server import free_port, start, stop, wait_until_up

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
    ),
]

#: (url path, the page's title heading)
PAGES = [
    ("", "Tailor"),
    ("data", "Data"),
    ("popularity", "Popularity & trends"),
    ("segments", "Segments"),
    ("context", "Context effects"),
    ("train", "Train"),
    ("compare", "Compare"),
    ("playground", "Campaigns playground"),
    ("experiments", "A/B review"),
]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("browser") / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        for name, recipe in (("popular", POPULARITY), ("ease", EASE)):
            serve(engine, name, train(engine, group, name, recipe))
    port = free_port()
    proc = start("up", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", proc)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            # One context for every page: the dashboard's ~100 static scripts are fetched
            # once and cached, as a user's browser would, not once per page.
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            yield context, f"http://127.0.0.1:{port}", tmp_path_factory.mktemp("shots")
            context.close()
            browser.close()
    finally:
        stop(proc)


def settle(page) -> None:
    """Wait until Streamlit has finished running the script (no 'running' indicator). The
    websocket stays open and live panels refresh, so the network is never idle."""
    page.wait_for_load_state("load")
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    page.wait_for_timeout(500)


def shoot(page, folder: Path, name: str) -> Path:
    path = folder / f"{name or 'overview'}.png"
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("TAILOR_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


def existing_pages() -> list[tuple[str, str]]:
    """The pages whose module exists (the A/B page arrives with the experiments work)."""
    folder = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages"
    return [(p, t) for p, t in PAGES if not p or (folder / f"{p}.py").exists()]


@pytest.mark.parametrize(("path", "title"), existing_pages())
def test_every_page_renders_without_an_exception(dashboard, path, title):
    browser, url, shots = dashboard
    page = browser.new_page()
    page.set_default_timeout(90_000)  # a first render may train nothing, but the CI box is slow
    try:
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name=title, exact=True).first.wait_for()
        settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert shoot(page, shots, path).stat().st_size > 10_000
    finally:
        page.close()


def test_train_launches_a_version_and_shows_it_finish(dashboard):
    browser, url, shots = dashboard
    page = browser.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{url}/train")
        page.get_by_role("heading", name="Train", exact=True).first.wait_for()
        settle(page)
        name = page.get_by_role("textbox", name="Solution name")
        name.fill("browser-ease")
        name.press("Enter")
        settle(page)
        page.get_by_role("button", name="Start training").click()
        # The live panel follows the run until it has finished (EASE on the sample: seconds).
        page.get_by_text("browser-ease finished training").first.wait_for(timeout=180_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        shoot(page, shots, "train-finished")
    finally:
        page.close()


def test_compare_shows_two_lists_and_their_agreement(dashboard):
    browser, url, shots = dashboard
    page = browser.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{url}/compare")
        page.get_by_role("heading", name="Compare", exact=True).first.wait_for()
        settle(page)
        page.get_by_text("How much do they agree?").wait_for()
        for recipe in ("campaign · tailor-ease", "campaign · aws-popularity-count"):
            page.get_by_text(recipe).first.wait_for()
        # the agreement table, the history and the two lists (canvas data grids)
        page.locator('[data-testid="stDataFrame"]').nth(3).wait_for()
        page.get_by_role("tab", name="Across many users").click()
        settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        shoot(page, shots, "compare-many")
    finally:
        page.close()

"""The A/B review page: the verdict in words (every branch), the chart builders, and the
page under AppTest on the sample store: the empty state and its button that imports the
sample's planted A/B log, the numbers shown against the review and an independent Polars
count of the CSVs, the tabs, the offline replay of the `ease` campaign, a running experiment
and stopping it. Experiments made here (and their logged lists) are removed at the end so
the shared store is left as it was found."""

from __future__ import annotations

import copy
import json
import math
import re
import time
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts import experiments as charts
from engine.sample_data import SAMPLE_DIR

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "dashboard" / "app_pages" / "experiments.py")
EXPOSURES = SAMPLE_DIR / "recommendation_exposures.csv"
SAMPLE_EXPERIMENT = "sample-ab-test"
RUNNING = "page-running"
Z95 = 1.959963984540054


# --- the verdict in words, on hand-made reviews ---------------------------------------------------


def comparison(
    metric: str,
    lift: float | None,
    low: float | None,
    high: float | None,
    p: float | None,
    seq_p: float | None = None,
    alpha: float = 0.05,
) -> dict:
    seq_p = p if seq_p is None else seq_p
    return {
        "variant": "variant_b",
        "control": "variant_a",
        "metric": metric,
        "controlValue": 0.1,
        "value": None if lift is None else 0.1 * (1 + lift),
        "difference": {"value": None if lift is None else 0.1 * lift, "ciLow": 0, "ciHigh": 0},
        "lift": {"value": lift, "ciLow": low, "ciHigh": high},
        "pValue": p,
        "test": "two-proportion z test",
        "significant": p is not None and p < alpha,
        "sequential": {
            "pValue": seq_p,
            "ciLow": None,
            "ciHigh": None,
            "significant": seq_p is not None and seq_p <= alpha,
        },
    }


def review(
    status: str = "COMPLETED",
    primary: str = "CONVERSION",
    lift: tuple = (0.041, 0.012, 0.070, 0.0021),
    seq_p: float | None = None,
    guardrails: list[dict] | None = None,
    decision: str = "SHIP",
    variant: str | None = "variant_b",
) -> dict:
    """A minimal get_experiment_results answer: control variant_a, challenger variant_b."""
    metrics = {m: {"value": 0.1, "ciLow": 0.09, "ciHigh": 0.11} for m in charts.METRICS}
    others = [m for m in charts.METRICS if m != primary]
    return {
        "status": status,
        "alpha": 0.05,
        "primaryMetric": primary,
        "control": "variant_a",
        "variants": [
            {"name": "variant_a", "trafficShare": 0.5, "metrics": metrics},
            {"name": "variant_b", "trafficShare": 0.5, "metrics": metrics},
        ],
        "comparisons": [
            comparison(primary, *lift, seq_p=seq_p),
            *[comparison(m, 0.0, -0.1, 0.1, 0.9) for m in others],
        ],
        "guardrails": guardrails or [],
        "sampleRatio": {"mismatch": False},
        "timeline": [],
        "verdict": {"decision": decision, "variant": variant, "reason": ""},
    }


def guardrail(status: str, lift: float = -0.12, low: float = -0.18, high: float = -0.06) -> dict:
    return {
        "variant": "variant_b",
        "metricName": "CLICK_THROUGH",
        "maxRelativeDrop": 0.05,
        "lift": lift,
        "ciLow": low,
        "ciHigh": high,
        "status": status,
    }


def test_a_significant_win_reads_as_the_issue_says():
    found = review(guardrails=[guardrail("PASS", 0.01, -0.02, 0.04)])
    assert charts.verdict_sentence(found) == (
        "variant_b beats variant_a on conversion by 4.1% (1.2% to 7.0%), significant "
        "(p = 0.0021); no guardrail breached."
    )
    assert charts.verdict_headline(found) == (
        "success",
        "Ship variant_b: it wins on conversion and no guardrail fails.",
    )
    assert "fixed-horizon" in charts.test_note(found)


def test_no_difference_and_a_loss():
    flat = review(lift=(0.02, -0.03, 0.07, 0.34), decision="NO_DIFFERENCE", variant=None)
    assert charts.verdict_sentence(flat) == (
        "No clear difference between variant_b and variant_a on conversion: +2.0% (-3.0% to "
        "+7.0%), not significant (p = 0.34); no guardrails set."
    )
    assert charts.verdict_headline(flat)[0] == "info"
    loss = review(lift=(-0.08, -0.12, -0.04, 0.0001), decision="KEEP_CONTROL", variant=None)
    assert charts.verdict_sentence(loss).startswith(
        "variant_b loses to variant_a on conversion by 8.0% (4.0% to 12.0%), significant"
    )
    kind, headline = charts.verdict_headline(loss)
    assert kind == "warning" and headline.startswith("Keep variant_a")


def test_guardrails_breached_and_not_yet_conclusive():
    failed = review(guardrails=[guardrail("FAIL")], decision="KEEP_CONTROL")
    sentence = charts.verdict_sentence(failed)
    assert sentence.endswith(
        "; guardrail breached: click-through fell by more than 5% (-12.0%, -18.0% to -6.0%)."
    )
    assert "breaks a guardrail" in charts.verdict_headline(failed)[1]
    open_ = review(guardrails=[guardrail("INCONCLUSIVE", -0.02, -0.09, 0.05)])
    assert charts.verdict_sentence(open_).endswith(
        "; no guardrail breached, but click-through (may drop at most 5%) is not conclusive yet."
    )
    assert charts.guardrail_words(review(), "variant_b") == "no guardrails set"


def test_sequential_wording_while_running_or_stopped_early():
    # The fixed-horizon p (0.01) would call it; the always-valid one (0.2) does not, and a
    # running experiment is judged by the latter.
    running = review(
        status="RUNNING", lift=(0.05, 0.01, 0.09, 0.01), seq_p=0.2, decision="CONTINUE"
    )
    assert charts.verdict_sentence(running, "variant_b") == (
        "No clear difference between variant_b and variant_a on conversion: +5.0% (+1.0% to "
        "+9.0%), not significant yet by the always-valid sequential test (p = 0.2); no "
        "guardrails set."
    )
    assert charts.verdict_headline(running) == (
        "info",
        "Keep it running: no significant difference yet.",
    )
    assert "always-valid sequential test" in charts.test_note(running)
    assert "still running" in charts.test_note(running)
    stopped = review(status="STOPPED", lift=(0.05, 0.01, 0.09, 0.01), seq_p=0.001)
    assert "significant by the always-valid sequential test (p = 0.001)" in (
        charts.verdict_sentence(stopped)
    )
    assert "stopped before its end" in charts.test_note(stopped)
    fixed = review(status="COMPLETED", lift=(0.05, 0.01, 0.09, 0.01), seq_p=0.2)
    assert "beats variant_a" in charts.verdict_sentence(fixed)  # read once, at the end


def test_no_data_and_sample_ratio_mismatch():
    empty = review(
        status="RUNNING", lift=(None, None, None, None), decision="CONTINUE", variant=None
    )
    assert charts.verdict_sentence(empty).startswith(
        "variant_b vs variant_a: not enough data to compare conversion yet"
    )
    broken = review(decision="INVESTIGATE", variant=None)
    kind, headline = charts.verdict_headline(broken)
    assert kind == "error" and "sample-ratio mismatch" in headline
    assert charts.fmt_value("CLICK_THROUGH", None) == "—" and charts.fmt_p(None) == "—"


# --- the sample store ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_store(sample):
    """The module starts without experiments and leaves none (nor their logged lists)."""
    engine = sample["engine"]
    assert not engine.list_experiments()["experiments"], "the shared store has experiments"
    yield
    engine._flush_log()
    for e in engine.list_experiments()["experiments"]:
        if e["name"] not in (SAMPLE_EXPERIMENT, RUNNING):
            continue
        arn = e["experimentArn"]
        spec = engine.describe_experiment(experimentArn=arn)["experiment"]
        members = [(v["name"], v.get("campaignArn") or arn) for v in spec["variants"]]
        engine.delete_experiment(experimentArn=arn)
        with engine.store.write_lock, engine.store.transaction() as cur:
            for variant, campaign in members:
                cur.execute(
                    "DELETE FROM recommendation_log WHERE variant = ? AND campaign_arn = ?",
                    [variant, campaign],
                )


@pytest.fixture(scope="module")
def planted(sample, clean_store) -> str:
    """The sample's A/B test as an experiment: the one the page's button imported (the
    first page test), or made here as that button does when a test runs alone."""
    engine = sample["engine"]
    arn = engine.experiment_arn(SAMPLE_EXPERIMENT)
    names = [e["name"] for e in engine.list_experiments()["experiments"]]
    if SAMPLE_EXPERIMENT not in names:
        engine.create_experiment(
            name=SAMPLE_EXPERIMENT,
            datasetGroupArn=sample["group"],
            variants=[{"name": "variant_a"}, {"name": "variant_b"}],
            guardrails=[{"metricName": "CONVERSION", "maxRelativeDrop": 0.05}],
            startTime="2025-11-03",
            endTime="2025-12-01",
        )
        engine.import_experiment_log(experimentArn=arn, dataLocation=str(EXPOSURES))
    return arn


@pytest.fixture(scope="module")
def csv_counts() -> dict[str, dict[str, int]]:
    """Per variant: lists shown, clicked lists (a view carrying the list's id) and clicked
    lists with a purchase, counted by Polars from the two CSVs alone."""
    exposures = pl.read_csv(EXPOSURES, infer_schema_length=0)
    events = pl.read_csv(SAMPLE_DIR / "interactions.csv", infer_schema_length=0).filter(
        pl.col("RECOMMENDATION_ID").is_not_null() & (pl.col("RECOMMENDATION_ID") != "")
    )
    ids = {
        kind: events.filter(pl.col("EVENT_TYPE") == kind)["RECOMMENDATION_ID"].unique()
        for kind in ("view", "purchase")
    }
    counted = (
        exposures.with_columns(
            pl.col("RECOMMENDATION_ID").is_in(ids["view"].implode()).alias("clicked"),
            pl.col("RECOMMENDATION_ID").is_in(ids["purchase"].implode()).alias("bought"),
        )
        .group_by("VARIANT")
        .agg(
            pl.len().alias("shown"),
            pl.col("clicked").sum().alias("clicked"),
            (pl.col("clicked") & pl.col("bought")).sum().alias("converted"),
        )
    )
    return {r["VARIANT"]: r for r in counted.iter_rows(named=True)}


# --- the page ------------------------------------------------------------------------------------


def run_page(**state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=240)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for kind in ("info", "success", "warning", "error"):
        parts += [e.value for e in getattr(at, kind)]
    return "\n".join(parts)


def test_empty_state_imports_the_sample_ab_test(app, clean_store, csv_counts):
    engine = app["engine"]
    at = run_page()
    assert at.title[0].value == "A/B review"
    assert at.info[0].value.startswith("No experiments yet")
    assert "tailor experiments create" in "\n".join(c.value for c in at.code)
    at.button(key="exp_import_sample").click().run()
    assert not at.exception, at.exception
    listed = engine.list_experiments()["experiments"]
    assert [e["name"] for e in listed] == [SAMPLE_EXPERIMENT]
    described = engine.describe_experiment(experimentArn=listed[0]["experimentArn"])
    spec = described["experiment"]
    assert [v["name"] for v in spec["variants"]] == ["variant_a", "variant_b"]
    assert f"{spec['startTime']:%Y-%m-%d}" == "2025-11-03"
    assert f"{spec['endTime']:%Y-%m-%d}" == "2025-12-01"
    assert spec["status"] == "COMPLETED"
    # the review shows right away, with all 50,000 lists
    shown = sum(c["shown"] for c in csv_counts.values())
    results = engine.get_experiment_results(experimentArn=listed[0]["experimentArn"])
    assert sum(v["impressions"] for v in results["variants"]) == shown == 50_000
    assert at.success and at.success[0].value.startswith("**Ship variant_b")


def test_numbers_match_the_review_and_the_csvs(app, planted, csv_counts):
    engine = app["engine"]
    at = run_page(exp_experiment=planted)
    results = engine.get_experiment_results(experimentArn=planted)
    a, b = results["variants"]
    # KPI cards: three per variant, primary metric first, control first.
    cards = [(m.label, m.value, m.delta) for m in at.metric]
    assert [c[0] for c in cards] == ["Click-through", "Conversion", "Revenue per user"] * 2
    ctr = {name: csv_counts[name]["clicked"] / csv_counts[name]["shown"] for name in csv_counts}
    assert cards[0][1] == f"{a['metrics']['CLICK_THROUGH']['value']:.2%}" == "8.06%"
    assert cards[3][1] == f"{b['metrics']['CLICK_THROUGH']['value']:.2%}" == "11.11%"
    assert cards[0][1] == f"{ctr['variant_a']:.2%}" and cards[3][1] == f"{ctr['variant_b']:.2%}"
    conversion = {n: c["converted"] / c["clicked"] for n, c in csv_counts.items()}
    assert cards[1][1] == f"{conversion['variant_a']:.2%}"
    assert cards[4][1] == f"{conversion['variant_b']:.2%}"
    # Lift and its interval: the review's, and recomputed from the counts (delta method on
    # the log of the ratio of the two click-through rates).
    (x_a, n_a), (x_b, n_b) = (
        (csv_counts[v]["clicked"], csv_counts[v]["shown"]) for v in ("variant_a", "variant_b")
    )
    ratio = (x_b / n_b) / (x_a / n_a)
    se = math.sqrt((1 - x_a / n_a) / x_a + (1 - x_b / n_b) / x_b)
    low, high = ratio * math.exp(-Z95 * se) - 1, ratio * math.exp(Z95 * se) - 1
    lift = next(c for c in results["comparisons"] if c["metric"] == "CLICK_THROUGH")["lift"]
    assert lift["value"] == pytest.approx(ratio - 1, rel=1e-9)
    assert (lift["ciLow"], lift["ciHigh"]) == pytest.approx((low, high), rel=1e-6)
    assert cards[3][2] == f"{ratio - 1:+.1%} vs variant_a" == "+37.8% vs variant_a"
    verdict = at.success[0].value
    assert "variant_b beats variant_a on click-through" in verdict
    assert f"by {ratio - 1:.1%} ({low:.1%} to {high:.1%}), significant" in verdict
    assert "by 37.8% (30.5% to 45.6%)" in verdict and "no guardrail breached" in verdict
    # users per variant, the sample-ratio check and the caption under each card
    words = texts(at)
    assert "**Sample-ratio check** :green-badge[:material/check_circle: OK]" in words
    assert f"{a['users']:,} users · {csv_counts['variant_a']['shown']:,} lists shown" in words
    assert "fixed-horizon test" in words
    assert "- :green-badge[pass] **variant_b**: conversion may drop at most 5%" in words
    # the charts of the first tab: three metric charts and the lift chart
    assert len(at.get("vega_lite_chart")) == 4
    # a different confidence level gives wider intervals
    at.selectbox(key="exp_level").set_value("99%").run()
    assert not at.exception
    wide = next(
        c["lift"]
        for c in engine.get_experiment_results(experimentArn=planted, alpha=0.01)["comparisons"]
        if c["metric"] == "CLICK_THROUGH"
    )
    assert wide["ciLow"] < lift["ciLow"] and wide["ciHigh"] > lift["ciHigh"]
    assert f"({wide['ciLow']:.1%} to {wide['ciHigh']:.1%})" in at.success[0].value


def test_over_time_tab_draws_the_cumulative_lift(app, planted):
    engine = app["engine"]
    at = run_page(exp_experiment=planted, exp_tab="Over time")
    charts_ = at.get("plotly_chart")
    assert len(charts_) == 2
    spec = json.loads(charts_[0].proto.spec)
    lift = next(t for t in spec["data"] if t.get("mode") == "lines+markers")
    timeline = [
        t
        for t in engine.get_experiment_results(experimentArn=planted)["timeline"]
        if t["metric"] == "CLICK_THROUGH"
    ]
    assert lift["x"][0] == "2025-11-03" and len(lift["x"]) == len(timeline) == 28
    assert lift["y"][-1] == pytest.approx(timeline[-1]["lift"])
    at.selectbox(key="exp_time_metric").set_value("CONVERSION").run()
    assert not at.exception
    assert "**Cumulative conversion lift, day by day**" in [m.value for m in at.markdown]


def test_replay_button_estimates_the_ease_campaign(app, planted):
    engine = app["engine"]
    ease = app["campaigns"]["ease"]
    at = run_page(exp_experiment=planted, exp_tab="Offline replay")
    options = at.selectbox(key="exp_candidate").options
    assert "campaign ease (tailor-ease)" in options
    assert not any("sims" in o for o in options)  # related items cannot be replayed
    assert "Run the replay" in at.info[0].value  # nothing is run before the button
    at.selectbox(key="exp_candidate").set_value(ease)
    at.button(key="exp_replay_run").click().run()
    assert not at.exception, at.exception
    expected = engine.estimate_offline(experimentArn=planted, campaignArn=ease, numResults=10)
    cards = {m.label: (m.value, m.delta) for m in at.metric}
    replay = expected["replay"]["clickThrough"]
    assert cards["ease: replay estimate"] == (
        f"{replay['value']:.2%}",
        f"{replay['ciLow']:.2%} to {replay['ciHigh']:.2%}",
    )
    assert cards["best logged: variant_b"][0] == "11.11%"
    assert cards["support"][0] == f"{expected['snips']['support']:.1%}"
    assert "trained on" in at.warning[0].value  # it has seen November's clicks
    assert len(at.get("vega_lite_chart")) == 1
    # the result stays on screen across reruns, and a new choice asks for a new run
    at.run()
    assert "ease: replay estimate" in {m.label for m in at.metric}
    at.selectbox(key="exp_replay_variant").set_value("variant_a").run()
    assert not at.exception
    assert "ease: replay estimate" not in {m.label for m in at.metric}


def test_a_running_experiment_and_stopping_it(app, planted):
    engine = app["engine"]
    campaigns = app["campaigns"]
    arn = engine.create_experiment(
        name=RUNNING,
        datasetGroupArn=app["group"],
        variants=[
            {"name": "control", "campaignArn": campaigns["popular"]},
            {"name": "treatment", "campaignArn": campaigns["ease"]},
        ],
        startTime=time.time() - 1,
    )["experimentArn"]
    at = run_page(exp_experiment=arn)
    assert "No recommendation lists logged for this experiment yet" in at.info[0].value
    for i in range(40):
        engine.get_recommendations(campaignArn=arn, userId=f"u{i + 1:05d}", numResults=5)
    at.button(key="exp_refresh").click().run()
    assert not at.exception, at.exception
    assert at.info[0].value.startswith("**Keep it running")
    assert "always-valid sequential test" in texts(at)
    shown = [re.search(r"([\d,]+) lists shown", c.value) for c in at.caption]
    assert sum(int(m.group(1).replace(",", "")) for m in shown if m) == 40
    at.button(key="exp_stop").click().run()
    assert not at.exception, at.exception
    assert engine.describe_experiment(experimentArn=arn)["experiment"]["status"] == "STOPPED"
    assert "stopped before its end" in texts(at)
    engine.delete_experiment(experimentArn=arn)
    at.run()
    assert not at.exception  # the chosen experiment is gone: the page falls back to another
    assert at.selectbox(key="exp_experiment").value == planted


def test_empty_states_and_an_import_that_fails(engine):
    from engine import runtime

    runtime.register(engine)
    try:
        at = run_page()
        assert "No dataset groups yet" in at.info[0].value
        engine.create_dataset_group(name="shop")
        at = run_page()
        assert at.info[0].value.startswith("No experiments yet")
        assert "sample" not in at.info[0].value  # no `sample` group: no button
        assert not [b for b in at.button if b.key == "exp_import_sample"]
        assert "--group shop" in "\n".join(c.value for c in at.code)
        # A `sample` group whose A/B log went into an experiment deleted since: the log's
        # ids are taken, so the import is refused with the engine's message, and the
        # experiment it had just made is removed again.
        group = engine.create_dataset_group(name="sample")["datasetGroupArn"]
        earlier = engine.create_experiment(
            name="earlier",
            datasetGroupArn=group,
            variants=[{"name": "variant_a"}, {"name": "variant_b"}],
            startTime="2025-11-01",
            endTime="2025-12-02",
        )["experimentArn"]
        engine.import_experiment_log(experimentArn=earlier, dataLocation=str(EXPOSURES))
        engine.delete_experiment(experimentArn=earlier)
        at = run_page()
        at.button(key="exp_import_sample").click().run()
        assert not at.exception, at.exception
        assert "counted twice" in at.error[0].value
        assert not engine.list_experiments()["experiments"]
        assert at.button(key="exp_import_sample")  # still offered
    finally:
        runtime.unregister()


# --- charts, on the real review ------------------------------------------------------------------


def test_chart_builders_on_the_planted_review(sample, planted):
    results = sample["engine"].get_experiment_results(experimentArn=planted)
    chart = charts.metric_whiskers(results, "CLICK_THROUGH").to_dict()
    assert [layer["mark"]["type"] for layer in chart["layer"]] == ["rule", "circle", "text"]
    rows = next(v for v in chart["datasets"].values() if v and "variant" in v[0])
    assert [r["variant"] for r in rows] == ["variant_a", "variant_b"]
    assert [r["value_text"] for r in rows] == ["8.06%", "11.11%"]
    assert all(r["low"] < r["value"] < r["high"] for r in rows)

    lifts = charts.lift_frame(results)
    assert lifts["label"].to_list() == [
        "click-through (primary)",
        "conversion",
        "revenue per user",
    ]
    assert lifts["effect"].to_list() == ["better than control"] * 3
    assert lifts.filter(pl.col("metric") == "CONVERSION")["guardrail"].to_list() == [-0.05]
    layers = charts.lift_whiskers(results).to_dict()["layer"]
    assert [layer["mark"]["type"] for layer in layers] == [
        "rule",
        "rule",
        "tick",
        "text",
        "circle",
        "text",
    ]

    figure = charts.cumulative_lift(results, "CLICK_THROUGH")
    band, line = figure.data
    assert band.fill == "toself" and len(line.x) == 28
    last = [t for t in results["timeline"] if t["metric"] == "CLICK_THROUGH"][-1]
    assert line.y[-1] == pytest.approx(last["lift"])
    p_figure = charts.p_values_over_time(results, "CLICK_THROUGH")
    assert [t.name for t in p_figure.data] == ["fixed-horizon p", "sequential p"]
    assert list(p_figure.data[1].y) == sorted(p_figure.data[1].y, reverse=True)

    empty = copy.deepcopy(results)
    empty["timeline"] = []
    for c in empty["comparisons"]:
        c["lift"] = {"value": None, "ciLow": None, "ciHigh": None}
    assert (
        "No click-through lift"
        in charts.cumulative_lift(empty, "CLICK_THROUGH").layout["annotations"][0]["text"]
    )
    assert charts.lift_whiskers(empty).to_dict()["mark"]["type"] == "text"

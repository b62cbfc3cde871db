"""A/B review: the experiments, and for one of them the variants' metrics with their
intervals, the lift against the control, the decision in plain words, the sample-ratio check,
the cumulative lift day by day, and an offline replay estimate of a candidate model on the
experiment's logged lists."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import polars as pl
import streamlit as st

from dashboard.charts import experiments as charts
from dashboard.engine_access import get_engine, group_version, list_all
from engine.errors import PersonalizeError
from engine.sample_data import SAMPLE_DIR

SAMPLE_GROUP = "sample"
SAMPLE_LOG = SAMPLE_DIR / "recommendation_exposures.csv"
SAMPLE_EXPERIMENT = "sample-ab-test"
LEVELS = {"90%": 0.10, "95%": 0.05, "99%": 0.01}
STATUS_COLORS = {
    "RUNNING": "blue",
    "SCHEDULED": "violet",
    "COMPLETED": "green",
    "STOPPED": "orange",
}
UNREPLAYABLE = ("RELATED_ITEMS", "USER_SEGMENTATION")  # replay needs lists for a user
REPLAY_REPEATS = 1000
BOX = {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info}
ICONS = {
    "success": ":material/rocket_launch:",
    "warning": ":material/front_hand:",
    "error": ":material/report:",
    "info": ":material/hourglass_top:",
}
DAY = 86400
OVERVIEW_COLUMNS = (
    "experiment",
    "dataset group",
    "status",
    "variants",
    "primary metric",
    "start (UTC)",
    "end (UTC)",
)

st.set_page_config(layout="wide")
engine = get_engine()
home = str(engine.data_dir)


# --- cached reads --------------------------------------------------------------------------------


@st.cache_data(show_spinner="Reviewing the experiment…", max_entries=32, ttl=600)
def _results(
    home: str,
    group_arn: str,
    version: int,
    experiment_arn: str,
    stamp: str,
    alpha: float,
    tick: int,
) -> dict[str, Any]:
    """The review. Keyed by the group's data version (events), the experiment's state and,
    while it runs, the minute (served lists are logged without changing the data version);
    the ttl catches a log imported into an experiment after it was first shown."""
    return engine.get_experiment_results(experimentArn=experiment_arn, alpha=alpha)


@st.cache_data(show_spinner=False, max_entries=16)
def _replay(
    home: str,
    version: int,
    experiment_arn: str,
    stamp: str,
    kind: str,
    candidate_arn: str,
    candidate_stamp: str,
    k: int,
    variant: str | None,
    repeats: int,
) -> dict[str, Any]:
    target = {"campaignArn" if kind == "campaign" else "solutionVersionArn": candidate_arn}
    return engine.estimate_offline(
        experimentArn=experiment_arn,
        numResults=k,
        variant=variant,
        bootstrapRepeats=repeats,
        **target,
    )


@st.cache_data(show_spinner=False, max_entries=4)
def _sample_log_window(path: str, modified: float) -> tuple[int, int, list[str]]:
    """The sample log's window (whole UTC days around its timestamps) and its variants."""
    found = (
        pl.scan_csv(path, schema_overrides={"TIMESTAMP": pl.Int64})
        .select(
            pl.col("TIMESTAMP").min().alias("first"),
            pl.col("TIMESTAMP").max().alias("last"),
            pl.col("VARIANT").unique().sort().implode().alias("variants"),
        )
        .collect()
        .row(0, named=True)
    )
    start = found["first"] // DAY * DAY
    end = found["last"] // DAY * DAY + DAY
    return start, end, list(found["variants"])


# --- helpers -------------------------------------------------------------------------------------


def _experiments() -> list[dict[str, Any]]:
    """Every experiment, newest first, as DescribeExperiment gives it (catalog reads)."""
    listed = list_all(engine.list_experiments, "experiments")
    return [
        engine.describe_experiment(experimentArn=e["experimentArn"])["experiment"] for e in listed
    ]


def _stamp(experiment: dict[str, Any]) -> str:
    """What changes when the experiment itself does (created again, stopped, moved)."""
    keys = ("status", "creationDateTime", "lastUpdatedDateTime", "endTime", "stoppedTime")
    return "|".join(str(experiment.get(k)) for k in keys)


def _day(value: datetime | None) -> str:
    return f"{value:%-d %b %Y}" if value else "—"


def _window(experiment: dict[str, Any]) -> str:
    start, end = experiment["startTime"], experiment.get("endTime")
    stopped = experiment.get("stoppedTime")
    text = f"{_day(start)} – {_day(end)}" if end else f"from {_day(start)}, until stopped"
    if stopped:
        text += f", stopped {_day(stopped)}"
    return text + " (UTC)"


def _variants_text(experiment: dict[str, Any]) -> str:
    parts = []
    for i, v in enumerate(experiment["variants"]):
        role = "control" if i == 0 else None
        campaign = v.get("campaignArn")
        served = f"campaign `{campaign.rsplit('/', 1)[-1]}`" if campaign else "imported log"
        details = ", ".join(p for p in (role, f"{v['trafficShare']:.0%} of users", served) if p)
        parts.append(f"**{v['name']}** ({details})")
    return " vs ".join(parts)


def _overview(experiments: list[dict[str, Any]], group_names: dict[str, str]) -> pl.DataFrame:
    rows = []
    for e in experiments:
        end = e.get("stoppedTime") or e.get("endTime")
        variants = " · ".join(
            f"{v['name']} {v['trafficShare']:.0%}" + (" (control)" if i == 0 else "")
            for i, v in enumerate(e["variants"])
        )
        rows.append(
            {
                "experiment": e["name"],
                "dataset group": group_names.get(e["datasetGroupArn"], e["datasetGroupArn"]),
                "status": e["status"],
                "variants": variants,
                "primary metric": charts.METRIC_WORDS[e["primaryMetric"]],
                "start (UTC)": f"{e['startTime']:%Y-%m-%d %H:%M}",
                "end (UTC)": f"{end:%Y-%m-%d %H:%M}" if end else "until stopped",
            }
        )
    return pl.DataFrame(rows, schema={k: pl.Utf8 for k in OVERVIEW_COLUMNS})


def _sample_group(groups: list[dict[str, Any]]) -> str | None:
    """The `sample` dataset group's ARN when it exists and the sample's A/B log is readable."""
    found = next((g for g in groups if g["name"] == SAMPLE_GROUP), None)
    if found is None or not SAMPLE_LOG.is_file() or not os.access(SAMPLE_LOG, os.R_OK):
        return None
    return found["datasetGroupArn"]


def _import_sample(group_arn: str) -> None:
    """Create `sample-ab-test` over the sample log's window and import the log into it."""
    with st.status("Importing the sample's A/B test…", expanded=True) as status:
        try:
            start, end, variants = _sample_log_window(str(SAMPLE_LOG), SAMPLE_LOG.stat().st_mtime)
        except (OSError, pl.exceptions.PolarsError) as error:
            status.update(label="Could not read the sample's log", state="error")
            st.error(f"{SAMPLE_LOG}: {error}")
            return
        first, last = (datetime.fromtimestamp(t, UTC) for t in (start, end - DAY))
        st.write(
            f"Creating experiment **{SAMPLE_EXPERIMENT}**: {' vs '.join(variants)}, "
            f"{_day(first)} – {_day(last)}, primary metric click-through, guardrail: "
            "conversion may drop at most 5%."
        )
        try:
            arn = engine.create_experiment(
                name=SAMPLE_EXPERIMENT,
                datasetGroupArn=group_arn,
                variants=[{"name": v} for v in variants],
                primaryMetric="CLICK_THROUGH",
                guardrails=[{"metricName": "CONVERSION", "maxRelativeDrop": 0.05}],
                startTime=start,
                endTime=end,
            )["experimentArn"]
        except PersonalizeError as error:
            status.update(label="Could not create the experiment", state="error")
            st.error(error.message)
            return
        st.write(f"Loading the logged lists from `{SAMPLE_LOG.name}`…")
        try:
            found = engine.import_experiment_log(experimentArn=arn, dataLocation=str(SAMPLE_LOG))
        except PersonalizeError as error:
            engine.delete_experiment(experimentArn=arn)
            status.update(label="Could not import the log", state="error")
            st.error(error.message)
            return
        status.update(
            label=f"Imported {found['exposures']:,} logged lists into {SAMPLE_EXPERIMENT}",
            state="complete",
            expanded=False,
        )
    st.session_state["exp_experiment"] = arn
    st.rerun()


def _how_to(group_name: str) -> None:
    """How to create an experiment with the Engine, the CLI or HTTP."""
    python, cli, http = st.tabs(["Python (Engine)", "CLI", "HTTP"])
    python.code(
        f"""from engine import Engine

engine = Engine("/path/to/data")   # or the server's, under `tailor up`
group = engine.arns.dataset_group("{group_name}")
experiment = engine.create_experiment(
    name="home-feed-test",
    datasetGroupArn=group,
    variants=[  # the first is the control
        {{"name": "control", "campaignArn": engine.arns.make("campaign", "popular"),
         "trafficShare": 0.5}},
        {{"name": "new-model", "campaignArn": engine.arns.make("campaign", "ease"),
         "trafficShare": 0.5}},
    ],
    primaryMetric="CLICK_THROUGH",  # or CONVERSION, REVENUE_PER_USER
    guardrails=[{{"metricName": "CONVERSION", "maxRelativeDrop": 0.05}}],
)["experimentArn"]
# Serve through the experiment: each user gets their variant's list, logged for the review.
engine.get_recommendations(campaignArn=experiment, userId="u00042")""",
        language="python",
    )
    cli.code(
        f"""# a live test (run with the server stopped; while it runs, use HTTP)
tailor experiments create home-feed-test --group {group_name} \\
    --variant control=popular@0.5 --variant new-model=ease@0.5 \\
    --guardrail CONVERSION:0.05

# a past A/B test, reviewed from its exposure log
tailor experiments create last-november --group {group_name} \\
    --variant variant_a --variant variant_b \\
    --start 2025-11-03 --end 2025-12-01 --guardrail CONVERSION:0.05 \\
    --exposures data/sample/recommendation_exposures.csv""",
        language="bash",
    )
    http.code(
        """POST /api/experiments          (SigV4-signed, admin key)
{
  "name": "home-feed-test",
  "datasetGroupArn": "arn:aws:personalize:...:dataset-group/sample",
  "variants": [
    {"name": "control", "campaignArn": "arn:...:campaign/popular", "trafficShare": 0.5},
    {"name": "new-model", "campaignArn": "arn:...:campaign/ease", "trafficShare": 0.5}
  ],
  "primaryMetric": "CLICK_THROUGH",
  "guardrails": [{"metricName": "CONVERSION", "maxRelativeDrop": 0.05}]
}

POST /api/experiments/home-feed-test/exposures   {"dataLocation": "s3://bucket/log.csv"}""",
        language="text",
    )
    st.caption(
        "Then send each user's recommendation requests to the experiment's ARN instead of a "
        "campaign's, and events with the `recommendationId` they answered: clicks and "
        "conversions count for the variant that showed the list."
    )


def _empty_state(groups: list[dict[str, Any]]) -> None:
    sample_arn = _sample_group(groups)
    st.info(
        "No experiments yet. An experiment splits a dataset group's users between two or more "
        "campaigns and measures which one gets more clicks, conversions or revenue. Create "
        "one as shown below"
        + (", or review the A/B test hidden in the sample data first." if sample_arn else ".")
    )
    if sample_arn:
        with st.container(border=True):
            st.markdown(
                "**Try it on the sample:** the sample store holds the serving log of a "
                "four-week A/B test of two recommenders (November 2025: 50,000 lists shown, "
                "with their clicks and purchases in the interactions). Import it as an "
                f"experiment called `{SAMPLE_EXPERIMENT}` and review it here."
            )
            if st.button(
                "Import the sample's A/B test",
                type="primary",
                key="exp_import_sample",
                icon=":material/science:",
            ):
                _import_sample(sample_arn)
    group = SAMPLE_GROUP if sample_arn else groups[0]["name"]
    st.markdown("#### Create an experiment")
    _how_to(group)


def _kpi_cards(results: dict[str, Any]) -> None:
    """One card per variant: each metric, and its lift against the control."""
    primary = results["primaryMetric"]
    order = [primary, *[m for m in charts.METRICS if m != primary]]
    sequential = charts.is_sequential(results)
    control = results["control"]
    level = charts.confidence(results)
    columns = st.columns(len(results["variants"]))
    for i, (column, v) in enumerate(zip(columns, results["variants"], strict=True)):
        with column.container(border=True):
            role = "control" if i == 0 else f"against {control}"
            st.markdown(f"**{v['name']}** · {role} · {v['trafficShare']:.0%} of users")
            cards = st.columns(len(order))
            for card, metric in zip(cards, order, strict=True):
                m = v["metrics"][metric]
                help_text = (
                    f"{charts.METRIC_HELP[metric]}"
                    + (" (the primary metric)" if metric == primary else "")
                    + f". {level} interval {charts.fmt_value(metric, m['ciLow'])} to "
                    f"{charts.fmt_value(metric, m['ciHigh'])}."
                )
                if i == 0:
                    delta, color = "control", "off"
                else:
                    c = next(
                        c
                        for c in results["comparisons"]
                        if c["variant"] == v["name"] and c["metric"] == metric
                    )
                    lift = c["lift"]
                    delta = f"{charts.fmt_pct(lift['value'], True)} vs {control}"
                    color = "normal" if charts.significant(c, sequential) else "off"
                    help_text += (
                        f" Lift {charts.fmt_pct(lift['value'], True)} "
                        f"({charts.fmt_pct(lift['ciLow'], True)} to "
                        f"{charts.fmt_pct(lift['ciHigh'], True)}), p = "
                        f"{charts.fmt_p(c['pValue'])}, sequential p = "
                        f"{charts.fmt_p(c['sequential']['pValue'])}; coloured when "
                        "significant."
                    )
                card.metric(
                    charts.METRIC_TITLES[metric],
                    charts.fmt_value(metric, m["value"]),
                    delta=delta,
                    delta_color=color,
                    delta_arrow="off" if i == 0 else "auto",
                    help=help_text,
                )
            st.caption(
                f"{v['users']:,} users · {v['impressions']:,} lists shown · "
                f"{v['clicks']:,} clicked · {v['conversions']:,} conversions"
            )


def _sample_ratio(results: dict[str, Any]) -> None:
    srm = results["sampleRatio"]
    left, right = st.columns([2, 3])
    with left:
        badge = (
            ":red-badge[:material/error: mismatch]"
            if srm["mismatch"]
            else ":green-badge[:material/check_circle: OK]"
        )
        st.markdown(f"**Sample-ratio check** {badge}")
        p = charts.fmt_p(srm["pValue"])
        if srm["mismatch"]:
            st.markdown(
                f"Users are **not** split as configured (p = {p}, below {srm['threshold']:g}). "
                "The assignment or the logging is broken, so differences between the variants "
                "may not be caused by them: check that every request goes through the "
                "experiment's ARN and that no variant loses its logs."
            )
        else:
            st.markdown(
                f"Users are split as configured (p = {p}; a mismatch is flagged below "
                f"{srm['threshold']:g}), so the comparison is fair."
            )
        if srm["usersInSeveralVariants"]:
            st.warning(
                f"{srm['usersInSeveralVariants']:,} users saw more than one variant: they "
                "dilute the difference. Send every request of a user to the experiment's ARN."
            )
    with right:
        rows = [
            {
                "variant": v["name"],
                "configured share": v["trafficShare"],
                "expected users": srm["expected"][v["name"]],
                "observed users": srm["observed"][v["name"]],
                "difference": (
                    100 * (srm["observed"][v["name"]] / srm["expected"][v["name"]] - 1)
                    if srm["expected"][v["name"]]
                    else None
                ),
            }
            for v in results["variants"]
        ]
        st.dataframe(
            pl.DataFrame(rows, infer_schema_length=None),
            hide_index=True,
            key="exp_srm_table",
            column_config={
                "configured share": st.column_config.NumberColumn(format="percent"),
                "expected users": st.column_config.NumberColumn(format="localized"),
                "observed users": st.column_config.NumberColumn(format="localized"),
                "difference": st.column_config.NumberColumn(format="%+.2f%%"),
            },
        )


def _guardrails(results: dict[str, Any]) -> None:
    if not results["guardrails"]:
        st.caption(
            "No guardrails set: a guardrail (e.g. conversion may drop at most 5%) keeps a "
            "winner on the primary metric from shipping when it hurts another metric."
        )
        return
    st.markdown("**Guardrails**")
    lines = []
    badges = {
        "PASS": ":green-badge[pass]",
        "FAIL": ":red-badge[breached]",
        "INCONCLUSIVE": ":gray-badge[not conclusive yet]",
    }
    for g in results["guardrails"]:
        lines.append(
            f"- {badges.get(g['status'], g['status'])} **{g['variant']}**: "
            f"{charts.METRIC_WORDS[g['metricName']]} may drop at most "
            f"{g['maxRelativeDrop']:.0%}; lift {charts.fmt_pct(g['lift'], True)} "
            f"({charts.fmt_pct(g['ciLow'], True)} to {charts.fmt_pct(g['ciHigh'], True)})"
        )
    st.markdown("\n".join(lines))
    st.caption(
        "A guardrail passes when the whole interval of the lift lies above the largest allowed "
        "drop, fails when it lies below it, and is not conclusive while it straddles it."
    )


def _metrics_tab(results: dict[str, Any]) -> None:
    primary = results["primaryMetric"]
    order = [primary, *[m for m in charts.METRICS if m != primary]]
    level = charts.confidence(results)
    st.markdown("**Each metric per variant**")
    st.caption(
        f"The dot is the measured value, the whisker its {level} interval (Wilson's for the "
        "rates, Student's t for revenue per user): the range the true value most likely lies "
        "in. Whiskers that do not overlap mean a clear difference."
    )
    for column, metric in zip(st.columns(len(order)), order, strict=True):
        column.altair_chart(
            charts.metric_whiskers(results, metric), width="stretch", key=f"exp_metric_{metric}"
        )
    st.markdown(f"**Lift against {results['control']}**")
    st.altair_chart(charts.lift_whiskers(results), width="stretch", key="exp_lift")
    extra = (
        " While an experiment runs, the whiskers are fixed-horizon intervals (too narrow if "
        "read every day); the colour follows the always-valid sequential test the decision "
        "uses."
        if charts.is_sequential(results)
        else ""
    )
    st.caption(
        "Lift = variant ÷ control − 1. Green: significantly better, red: significantly worse, "
        "grey: could be chance (the interval crosses the dashed zero line). A red tick marks "
        "a guardrail's largest allowed drop." + extra
    )
    _guardrails(results)
    with st.expander("All numbers"):
        st.dataframe(
            charts.comparison_frame(results),
            hide_index=True,
            key="exp_all_numbers",
            column_config={
                "lift": st.column_config.NumberColumn(format="percent"),
                "lift low": st.column_config.NumberColumn(format="percent"),
                "lift high": st.column_config.NumberColumn(format="percent"),
                "p (fixed horizon)": st.column_config.NumberColumn(format="%.2e"),
                "p (sequential)": st.column_config.NumberColumn(format="%.2e"),
            },
        )
        per_variant = charts.variant_frame(results).with_columns(
            pl.col("metric").replace_strict(charts.METRIC_WORDS)
        )
        st.dataframe(
            per_variant.drop("order"),
            hide_index=True,
            key="exp_variant_numbers",
            column_config={
                "numerator": st.column_config.NumberColumn(format="localized"),
                "value": st.column_config.NumberColumn(format="%.4f"),
                "low": st.column_config.NumberColumn(format="%.4f"),
                "high": st.column_config.NumberColumn(format="%.4f"),
            },
        )


def _time_tab(results: dict[str, Any]) -> None:
    if not results["timeline"]:
        st.info("Nothing logged yet: the timeline starts with the first day of lists shown.")
        return
    primary = results["primaryMetric"]
    metric = st.selectbox(
        "Metric",
        list(charts.METRICS),
        index=list(charts.METRICS).index(primary),
        format_func=lambda m: charts.METRIC_TITLES[m] + (" (primary)" if m == primary else ""),
        key="exp_time_metric",
    )
    st.markdown(f"**Cumulative {charts.METRIC_WORDS[metric]} lift, day by day**")
    st.plotly_chart(charts.cumulative_lift(results, metric), width="stretch", key="exp_cum_lift")
    st.caption(
        f"Each point counts everything up to that day; the band is its "
        f"{charts.confidence(results)} interval. Early days swing widely and the band narrows "
        "as lists accumulate: a lift that settles away from zero is real, one that drifts "
        "back towards it was a fluke of the first days."
    )
    st.markdown("**p-values day by day**")
    st.plotly_chart(charts.p_values_over_time(results, metric), width="stretch", key="exp_p")
    st.caption(
        "The dotted fixed-horizon p-value is only valid when read once, at the planned end: "
        "peeking every day and stopping at the first dip below the line finds false winners. "
        "The solid always-valid sequential p-value only goes down and may be checked any time."
    )


def _candidates(group_arn: str) -> list[dict[str, Any]]:
    """Campaigns and solution versions of the group that can recommend for a user (ACTIVE),
    campaigns first."""
    campaigns, versions = [], []
    for solution in list_all(engine.list_solutions, "solutions", datasetGroupArn=group_arn):
        recipe = solution.get("recipeArn") or ""
        try:
            recipe_type = engine.describe_recipe(recipeArn=recipe)["recipe"]["recipeType"]
        except PersonalizeError:
            recipe_type = "UNKNOWN"
        if recipe_type in UNREPLAYABLE:
            continue
        short = recipe.rsplit("/", 1)[-1] or "custom"
        arn = solution["solutionArn"]
        for c in list_all(engine.list_campaigns, "campaigns", solutionArn=arn):
            if c["status"] not in ("ACTIVE", "UPDATE IN_PROGRESS"):
                continue
            campaign = engine.describe_campaign(campaignArn=c["campaignArn"])["campaign"]
            version = engine.describe_solution_version(
                solutionVersionArn=campaign["solutionVersionArn"]
            )["solutionVersion"]
            campaigns.append(
                {
                    "kind": "campaign",
                    "arn": c["campaignArn"],
                    "name": c["name"],
                    "label": f"campaign {c['name']} ({short})",
                    "trained": version["creationDateTime"],
                    "stamp": f"{campaign['solutionVersionArn']}|{campaign['lastUpdatedDateTime']}",
                }
            )
        for v in list_all(engine.list_solution_versions, "solutionVersions", solutionArn=arn):
            if v["status"] != "ACTIVE":
                continue
            name = f"{solution['name']}/{v['solutionVersionArn'].rsplit('/', 1)[-1]}"
            versions.append(
                {
                    "kind": "version",
                    "arn": v["solutionVersionArn"],
                    "name": name,
                    "label": f"solution version {name} ({short}, trained "
                    f"{v['creationDateTime']:%-d %b %Y %H:%M})",
                    "trained": v["creationDateTime"],
                    "stamp": str(v.get("lastUpdatedDateTime")),
                }
            )
    return campaigns + versions


def _replay_tab(
    experiment: dict[str, Any], results: dict[str, Any], version: int, stamp: str
) -> None:
    st.caption(
        "How would another model have done on this experiment's traffic? Offline replay asks "
        "the candidate for its top-k list at the moment each logged list was shown (with the "
        "user's history up to then) and scores it against what was actually clicked. It is "
        "an estimate, fast and free, to pick what deserves the next A/B test: not a "
        "replacement for one."
    )
    candidates = _candidates(experiment["datasetGroupArn"])
    if not candidates:
        st.info(
            "No trained model that recommends for users in this dataset group yet. Train one "
            "on the **Train** page (e.g. with aws-user-personalization or tailor-ease) and "
            "come back to replay it on this experiment's logged lists."
        )
        return
    by_arn = {c["arn"]: c for c in candidates}
    top = st.columns([3, 1, 2])
    chosen = top[0].selectbox(
        "Candidate",
        list(by_arn),
        format_func=lambda a: by_arn[a]["label"],
        key="exp_candidate",
        help="A campaign or a solution version of the experiment's dataset group.",
    )
    k = int(
        top[1].number_input(
            "List length (k)",
            min_value=1,
            max_value=100,
            value=10,
            key="exp_replay_k",
            help="How many items the candidate would show; use the logged lists' length.",
        )
    )
    names = [v["name"] for v in results["variants"]]
    scope = top[2].selectbox(
        "Logged lists",
        ["(all)", *names],
        format_func=lambda s: "all variants' lists" if s == "(all)" else f"{s}'s lists only",
        key="exp_replay_variant",
    )
    variant = None if scope == "(all)" else scope
    candidate = by_arn[chosen]
    params = (
        home,
        version,
        experiment["experimentArn"],
        stamp,
        candidate["kind"],
        candidate["arn"],
        candidate["stamp"],
        k,
        variant,
        REPLAY_REPEATS,
    )
    lists = sum(v["impressions"] for v in results["variants"] if variant in (None, v["name"]))
    if st.button("Run the replay", type="primary", key="exp_replay_run", icon=":material/replay:"):
        with st.status(
            f"Replaying {candidate['name']} on {lists:,} logged lists…", expanded=True
        ) as status:
            st.write(
                f"Asking {candidate['name']} for its top {k} at the moment of each logged list, "
                "with the user's history before it…"
            )
            st.write(f"Estimating click-through with {REPLAY_REPEATS:,} bootstrap resamples…")
            began = time.monotonic()
            try:
                _replay(*params)
            except PersonalizeError as error:
                status.update(label="The replay failed", state="error")
                st.error(error.message)
                return
            status.update(
                label=f"Replayed {candidate['name']} on {lists:,} logged lists in "
                f"{time.monotonic() - began:.1f} s",
                state="complete",
                expanded=False,
            )
        st.session_state["exp_replay_done"] = params
    if st.session_state.get("exp_replay_done") != params:
        st.info("Choose a candidate and press **Run the replay**.")
        return
    try:
        found = _replay(*params)
    except PersonalizeError as error:
        st.error(error.message)
        return
    _replay_results(experiment, results, candidate, found)


def _replay_results(
    experiment: dict[str, Any],
    results: dict[str, Any],
    candidate: dict[str, Any],
    found: dict[str, Any],
) -> None:
    leaky = candidate["trained"] > experiment["startTime"]
    if leaky:
        st.warning(
            f"{candidate['name']} was trained on {_day(candidate['trained'])}, after the "
            f"experiment started ({_day(experiment['startTime'])}): it has probably seen the "
            "clicks it is judged on, so the estimate is optimistic. For a fair replay, train on "
            "data from before the experiment."
        )
    replay = found["replay"]["clickThrough"]
    logged = {
        v["name"]: v["metrics"]["CLICK_THROUGH"]
        for v in results["variants"]
        if v["name"] in found["logged"]["byVariant"]
    }
    best = max(logged, key=lambda n: logged[n]["value"] or 0.0)
    cards = st.columns(4)
    cards[0].metric(
        f"{candidate['name']}: replay estimate",
        charts.fmt_value("CLICK_THROUGH", replay["value"]),
        delta=f"{charts.fmt_value('CLICK_THROUGH', replay['ciLow'])} to "
        f"{charts.fmt_value('CLICK_THROUGH', replay['ciHigh'])}",
        delta_color="off",
        delta_arrow="off",
        help="Estimated click-through of the candidate's lists (replay, per slot), with its "
        "95% bootstrap interval over users.",
        border=True,
    )
    cards[1].metric(
        f"best logged: {best}",
        charts.fmt_value("CLICK_THROUGH", logged[best]["value"]),
        delta=f"{charts.fmt_value('CLICK_THROUGH', logged[best]['ciLow'])} to "
        f"{charts.fmt_value('CLICK_THROUGH', logged[best]['ciHigh'])}",
        delta_color="off",
        delta_arrow="off",
        help="Measured click-through of the logged variant that did best.",
        border=True,
    )
    cards[2].metric(
        "support",
        charts.fmt_pct(found["snips"]["support"]),
        help="Share of the candidate's slots that some variant actually showed: the rest "
        "cannot be judged and is extrapolated. Low support means a shaky estimate.",
        border=True,
    )
    cards[3].metric(
        "click recall",
        charts.fmt_pct(found["clickRecall"]["value"]),
        help="Share of the logged clicks whose item the candidate would also have shown.",
        border=True,
    )
    st.altair_chart(
        charts.replay_chart(results, found, candidate["name"]), width="stretch", key="exp_replay"
    )
    above = replay["ciLow"] is not None and replay["ciLow"] > (logged[best]["ciHigh"] or 1.0)
    below = replay["ciHigh"] is not None and replay["ciHigh"] < (logged[best]["ciLow"] or 0.0)
    if above:
        words = f"likely to beat {best}: worth an A/B test."
        if leaky:
            words = f"seemingly better than {best}, but see the warning above (optimistic)."
    elif below:
        words = f"likely to do worse than {best}."
    else:
        words = f"not clearly different from {best}."
    st.markdown(
        f"**In words:** {candidate['name']} would get about "
        f"{charts.fmt_value('CLICK_THROUGH', replay['value'])} of its lists clicked "
        f"({charts.fmt_value('CLICK_THROUGH', replay['ciLow'])} to "
        f"{charts.fmt_value('CLICK_THROUGH', replay['ciHigh'])}), {words}"
    )
    st.caption(
        "Replay counts the slots where the logged and the candidate's lists agree; IPS "
        "weights them by how likely each variant was to show them and counts the rest as "
        "unclicked (pessimistic); SNIPS normalises those weights (with equal shares it equals "
        "replay). Intervals: percentile bootstrap over users."
    )
    with st.expander("Details and assumptions"):
        st.dataframe(
            charts.replay_frame(results, found, candidate["name"]),
            hide_index=True,
            key="exp_replay_table",
            column_config={
                "label": st.column_config.TextColumn("estimate"),
                "based_on": st.column_config.TextColumn("based on"),
                "value": st.column_config.NumberColumn("click-through", format="percent"),
                "low": st.column_config.NumberColumn("95% low", format="percent"),
                "high": st.column_config.NumberColumn("95% high", format="percent"),
            },
        )
        st.markdown("\n".join(f"- {a}" for a in found["assumptions"]))


def _stop(experiment: dict[str, Any]) -> None:
    with st.popover("Stop the experiment", icon=":material/stop_circle:"):
        st.markdown(
            f"Stop **{experiment['name']}** now? Every user goes back to the control's campaign "
            "and the review keeps what was logged until now. This cannot be undone."
        )
        if st.button("Stop now", type="primary", key="exp_stop"):
            try:
                engine.stop_experiment(experimentArn=experiment["experimentArn"])
            except PersonalizeError as error:
                st.error(error.message)
                return
            st.rerun()


# --- page ----------------------------------------------------------------------------------------

st.title("A/B review")
st.caption(
    "Did the new recommender win? Each experiment splits users between campaigns; here are "
    "its variants' click-through, conversion and revenue with their uncertainty, the lift "
    "against the control, the decision in plain words, a check that the split was fair, how "
    "the lift evolved day by day, and an offline estimate for a model not tested yet."
)

groups = list_all(engine.list_dataset_groups, "datasetGroups")
if not groups:
    st.info(
        "No dataset groups yet. Run `tailor init --sample` to load the sample store (it holds "
        "a past A/B test to review), or create a dataset group, import interactions and "
        "deploy two campaigns to test against each other."
    )
    st.stop()
group_names = {g["datasetGroupArn"]: g["name"] for g in groups}
experiments = _experiments()
if not experiments:
    _empty_state(groups)
    st.stop()

st.dataframe(
    _overview(experiments, group_names),
    hide_index=True,
    key="exp_overview",
)
with st.expander("Create an experiment"):
    sample_arn = _sample_group(groups)
    if sample_arn and SAMPLE_EXPERIMENT not in {e["name"] for e in experiments}:
        if st.button(
            "Import the sample's A/B test",
            key="exp_import_sample",
            icon=":material/science:",
            help=f"Review the sample's November 2025 A/B test as `{SAMPLE_EXPERIMENT}`.",
        ):
            _import_sample(sample_arn)
    _how_to(SAMPLE_GROUP if sample_arn else groups[0]["name"])
by_arn = {e["experimentArn"]: e for e in experiments}
if st.session_state.get("exp_experiment") not in by_arn:
    st.session_state.pop("exp_experiment", None)
pick, level_col = st.columns([4, 1])
experiment_arn = pick.selectbox(
    "Experiment",
    list(by_arn),
    format_func=lambda a: (
        f"{by_arn[a]['name']} · {by_arn[a]['status'].lower()} · "
        f"{group_names.get(by_arn[a]['datasetGroupArn'], '?')}"
    ),
    key="exp_experiment",
)
level = level_col.selectbox(
    "Confidence level",
    list(LEVELS),
    index=1,
    key="exp_level",
    help="Intervals cover the true value this often; significance means p below 1 − level.",
)
experiment = by_arn[experiment_arn]
group_arn = experiment["datasetGroupArn"]
version = group_version(engine, group_arn)
stamp = _stamp(experiment)
running = experiment["status"] in charts.RUNNING_STATES

head, actions = st.columns([5, 1])
with head:
    color = STATUS_COLORS.get(experiment["status"], "gray")
    st.subheader(experiment["name"])
    guard = "; ".join(
        f"{charts.METRIC_WORDS[g['metricName']]} may drop at most {g['maxRelativeDrop']:.0%}"
        for g in experiment["guardrails"]
    )
    st.markdown(
        f":{color}-badge[{experiment['status'].lower()}] {_window(experiment)} · primary "
        f"metric **{charts.METRIC_WORDS[experiment['primaryMetric']]}** · guardrails: "
        f"{guard or 'none'}  \n{_variants_text(experiment)}"
    )
    st.caption(
        f"Clicks: events of type {', '.join(experiment['clickEventTypes'])} carrying a logged "
        f"recommendationId; conversions: {', '.join(experiment['conversionEventTypes'])} after "
        "such a click."
    )
with actions:
    if running:
        _stop(experiment)
        if st.button("Refresh", key="exp_refresh", icon=":material/refresh:"):
            _results.clear()

tick = int(time.time() // 60) if running else 0
try:
    results = _results(home, group_arn, version, experiment_arn, stamp, LEVELS[level], tick)
except PersonalizeError as error:
    st.error(error.message)
    st.stop()

if not any(v["impressions"] for v in results["variants"]):
    st.info(
        "No recommendation lists logged for this experiment yet. "
        + (
            "Send recommendation requests to the experiment's ARN "
            f"(`{experiment_arn}`) instead of a campaign's; each answer is logged for the "
            "variant that gave it, and the review fills up as users click."
            if running or experiment["status"] == "SCHEDULED"
            else "Import the exposure log of the test (`tailor experiments import-log "
            f"{experiment['name']} <file.csv>` or POST /api/experiments/"
            f"{experiment['name']}/exposures) to review it."
        )
    )
    st.stop()

kind, headline = charts.verdict_headline(results)
sentences = [charts.verdict_sentence(results, v) for v in charts.challengers(results)]
BOX[kind](f"**{headline}**\n\n" + "\n\n".join(sentences), icon=ICONS[kind])
st.caption(
    charts.test_note(results) + (" Refreshed every minute while it runs." if running else "")
)

_kpi_cards(results)
_sample_ratio(results)

metrics_tab, time_tab, replay_tab = st.tabs(
    ["Metrics and lift", "Over time", "Offline replay"], key="exp_tab", on_change="rerun"
)
if metrics_tab.open:
    with metrics_tab:
        _metrics_tab(results)
if time_tab.open:
    with time_tab:
        _time_tab(results)
if replay_tab.open:
    with replay_tab:
        _replay_tab(experiment, results, version, stamp)

"""Train page: choose a dataset group, a recipe (with its hyperparameters, HPO ranges) or AutoML
over several, and the events to learn from; train in the background with live progress and a
Stop button; compare the versions' offline metrics and follow them over time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import streamlit as st

from dashboard.charts import train as charts
from dashboard.engine_access import get_engine, group_version, list_all
from engine.errors import PersonalizeError
from engine.recipes import AUTOML_DEFAULT

RUNNING = ("CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING")
RECIPE_KINDS = {
    "USER_PERSONALIZATION": "recommends items for a user",
    "POPULAR_ITEMS": "recommends popular or trending items",
    "PERSONALIZED_RANKING": "re-ranks a given list for a user",
    "RELATED_ITEMS": "recommends items related to an item",
    "USER_SEGMENTATION": "finds users for items (segments)",
}
NEW, EXISTING = "A new solution", "A new version of an existing solution"
DEFAULTS, VALUES, HPO = "Defaults", "Set values", "Tune automatically (HPO)"
ONE, AUTOML = "One recipe", "AutoML: try several, keep the best"

engine = get_engine()


def _polars(frame: Any) -> pl.DataFrame:
    return frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)


@st.cache_data(show_spinner=False)
def _recipes(data_dir: str) -> list[dict[str, Any]]:
    del data_dir  # the cache key: recipes are the same for every Engine of a release
    out = []
    for r in list_all(engine.list_recipes, "recipes"):
        recipe = engine.describe_recipe(recipeArn=r["recipeArn"])["recipe"]
        algorithm = engine.describe_algorithm(algorithmArn=recipe["algorithmArn"])["algorithm"]
        out.append({**recipe, "algorithm": algorithm})
    return out


@st.cache_data(show_spinner=False, max_entries=2000)
def _finished_version(data_dir: str, arn: str, updated: datetime) -> dict[str, Any]:
    """Describe, metrics and candidates of a version that is no longer training (its
    lastUpdatedDateTime is part of the key)."""
    del data_dir, updated
    version = engine.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    out: dict[str, Any] = {"describe": version, "metrics": None, "candidates": []}
    if version["status"] == "ACTIVE":
        out["metrics"] = engine.get_solution_metrics(solutionVersionArn=arn)["metrics"]
        out["candidates"] = engine.get_solution_version_candidates(solutionVersionArn=arn)
    return out


def _solutions(group_arn: str) -> list[dict[str, Any]]:
    return [
        engine.describe_solution(solutionArn=s["solutionArn"])["solution"]
        for s in list_all(engine.list_solutions, "solutions", datasetGroupArn=group_arn)
    ]


def _versions(group_arn: str) -> list[dict[str, Any]]:
    """Every version of the group's solutions, with metrics once ACTIVE."""
    rows = []
    for solution in _solutions(group_arn):
        config = solution.get("solutionConfig") or {}
        metric = (config.get("autoMLConfig") or {}).get("metricName") or charts.DEFAULT_METRIC
        listed = list_all(
            engine.list_solution_versions,
            "solutionVersions",
            solutionArn=solution["solutionArn"],
        )
        for v in listed:
            row = {
                "solution": solution["name"],
                "solutionArn": solution["solutionArn"],
                "version": v["solutionVersionArn"],
                "status": v["status"],
                "created": v["creationDateTime"],
                "failure": v.get("failureReason"),
                "recipe": solution.get("recipeArn"),
                "automl": bool(solution.get("performAutoML")),
                "hpo": bool(solution.get("performHPO")),
                "automl_metric": metric,
                "metrics": None,
                "candidates": [],
            }
            if v["status"] not in RUNNING:
                found = _finished_version(
                    str(engine.data_dir), v["solutionVersionArn"], v["lastUpdatedDateTime"]
                )
                row["metrics"] = found["metrics"]
                row["candidates"] = found["candidates"]
                tuned = (found["describe"].get("tunedHPOParams") or {}).get(
                    "algorithmHyperParameters"
                )
                row["tuned"] = tuned or {}
                if row["automl"] and row["candidates"]:
                    best = charts.candidates_frame(row["candidates"], metric).filter("chosen")
                    row["recipe"] = "arn:aws:personalize:::recipe/" + best["recipe"][0]
            rows.append(row)
    return rows


def _running(group_arn: str) -> list[dict[str, Any]]:
    out = []
    for solution in list_all(engine.list_solutions, "solutions", datasetGroupArn=group_arn):
        for v in list_all(
            engine.list_solution_versions, "solutionVersions", solutionArn=solution["solutionArn"]
        ):
            if v["status"] in RUNNING:
                described = engine.describe_solution(solutionArn=solution["solutionArn"])
                config = described["solution"].get("solutionConfig") or {}
                recipes = (config.get("autoMLConfig") or {}).get("recipeList") or []
                out.append(
                    {
                        "solution": solution["name"],
                        "recipe": solution.get("recipeArn"),
                        "recipes": recipes,
                        **v,
                    }
                )
    return out


# --- live training ----------------------------------------------------------------------------


def _live(group_arn: str) -> None:
    """Running versions with their progress (refreshed every second); Stop buttons."""
    running = _running(group_arn)
    if {r["solutionVersionArn"] for r in running} != st.session_state.get("train-running"):
        st.rerun(scope="app")  # something finished (or started elsewhere): refresh the page
    for r in running:
        arn = r["solutionVersionArn"]
        progress = engine.job_progress(arn)
        recipe = charts.recipe_short(r["recipe"])
        stopping = progress["status"] == "CREATE STOPPING"
        label = f"Training **{r['solution']}** ({recipe}): {progress.get('step') or 'queued'}"
        # not a `with` block: on leaving one, st.status marks itself complete
        box = st.status(label, state="running", expanded=True)
        box.progress(charts.shown_fraction(progress, r["recipes"]))
        details = [f"Status: {progress['status']}"]
        if progress.get("candidate"):
            candidate = progress["candidate"]
            where = ""
            if candidate in r["recipes"]:
                where = f" ({r['recipes'].index(candidate) + 1} of {len(r['recipes'])})"
            details.append(f"Recipe: {charts.recipe_short(candidate)}{where}")
        if progress.get("trials"):
            trial = f"Tuning trial {progress.get('trial', 0)} of {progress['trials']}"
            if progress.get("best") is not None:
                trial += f" · best NDCG@10 so far {progress['best']:.4f}"
            details.append(trial)
        box.caption(" · ".join(details))
        if box.button(
            "Stopping…" if stopping else "Stop",
            key=f"stop-{arn}",
            icon=":material/stop_circle:",
            disabled=stopping,
        ):
            try:
                engine.stop_solution_version_creation(solutionVersionArn=arn)
            except PersonalizeError as exc:
                box.error(exc.message)
            else:
                st.toast(f"Stopping {r['solution']}: it stops at its next checkpoint.")


def _announce(running: list[dict[str, Any]]) -> None:
    """Say how the versions this session watched have ended."""
    now = {r["solutionVersionArn"] for r in running}
    for arn in sorted(st.session_state.get("train-watching", set()) - now):
        try:
            version = engine.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
        except PersonalizeError:
            continue
        name = version["solutionArn"].rsplit("/", 1)[-1]
        if version["status"] == "ACTIVE":
            st.success(f"**{name}** finished training: see its metrics under **Results**.")
        elif version["status"] == "CREATE FAILED":
            st.error(f"**{name}** failed: {version.get('failureReason') or 'no reason given'}")
        elif version["status"] == "CREATE STOPPED":
            st.warning(f"**{name}** was stopped before it finished; nothing was kept.")
    st.session_state["train-watching"] = now
    st.session_state["train-running"] = now


# --- the launch form --------------------------------------------------------------------------


def _recipe_form(recipes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The recipe, hyperparameter and HPO part of CreateSolution (None: not launchable)."""
    by_arn = {r["recipeArn"]: r for r in recipes}
    approach = st.segmented_control(
        "How to choose the recipe", [ONE, AUTOML], default=ONE, required=True, key="train-approach"
    )
    if approach == AUTOML:
        listed = [r["recipeArn"] for r in recipes if r["recipeType"] == "USER_PERSONALIZATION"]
        chosen = st.multiselect(
            "Recipes to try",
            listed,
            default=[a for a in AUTOML_DEFAULT if a in listed],
            format_func=lambda a: charts.recipe_short(a),
            key="train-automl-recipes",
            help="Each is trained and scored the same way; the best by the metric is kept.",
        )
        metric = st.selectbox(
            "Keep the one with the best",
            charts.AUTOML_METRICS,
            index=charts.AUTOML_METRICS.index(charts.DEFAULT_METRIC),
            format_func=charts.metric_label,
            key="train-automl-metric",
        )
        st.caption(charts.METRICS[metric][1])
        tune = st.checkbox(
            "Also tune each recipe's hyperparameters (much slower)", key="train-automl-hpo"
        )
        if len(chosen) < 2:
            st.info("Pick at least two recipes for AutoML to choose from.")
            return None
        config: dict[str, Any] = {"autoMLConfig": {"metricName": metric, "recipeList": chosen}}
        request: dict[str, Any] = {"performAutoML": True, "solutionConfig": config}
        if tune:
            trials = st.number_input("Trials per recipe", 1, 40, 4, key="train-automl-trials")
            config["hpoConfig"] = {
                "hpoResourceConfig": {
                    "maxNumberOfTrainingJobs": str(trials),
                    "maxParallelTrainingJobs": "2",
                }
            }
            request["performHPO"] = True
        return request

    arns = list(by_arn)
    default = "arn:aws:personalize:::recipe/tailor-ease"
    recipe_arn = st.selectbox(
        "Recipe",
        arns,
        index=arns.index(default) if default in arns else 0,
        format_func=lambda a: (
            f"{charts.recipe_short(a)}: {RECIPE_KINDS.get(by_arn[a]['recipeType'], '')}"
        ),
        key="train-recipe",
    )
    recipe = by_arn[recipe_arn]
    st.caption(recipe["description"])
    hp = charts.hyperparameters(recipe["algorithm"])
    request = {"recipeArn": recipe_arn}
    if hp.is_empty():
        st.caption("This recipe has no hyperparameters to set.")
        return request
    mode = st.segmented_control(
        "Hyperparameters",
        [DEFAULTS, VALUES, HPO],
        default=DEFAULTS,
        required=True,
        key="train-hp-mode",
    )
    if mode == VALUES:
        edited = st.data_editor(
            hp.select(
                pl.col("name").alias("hyperparameter"),
                pl.col("default").alias("value"),
                "default",
                "allowed",
            ),
            disabled=["hyperparameter", "default", "allowed"],
            hide_index=True,
            key=f"train-values-{recipe_arn}",
            column_config={"value": st.column_config.TextColumn("value", help="Edit to change")},
        )
        values = charts.changed_values(hp, _polars(edited))
        if values:
            request["solutionConfig"] = {"algorithmHyperParameters": values}
    elif mode == HPO:
        numeric, categorical = charts.hpo_tables(hp)
        if numeric.is_empty() and categorical.is_empty():
            st.info("This recipe has nothing to tune; its defaults will be used.")
            return request
        st.caption(
            "Ranges start around each default (a tenth to ten times it); widen them within "
            "the allowed range. Every ticked hyperparameter is searched; more need more trials."
        )
        if not numeric.is_empty():
            numeric = _polars(
                st.data_editor(
                    numeric,
                    disabled=["hyperparameter", "allowed"],
                    hide_index=True,
                    key=f"train-hpo-{recipe_arn}",
                )
            )
        if not categorical.is_empty():
            categorical = _polars(
                st.data_editor(
                    categorical,
                    disabled=["hyperparameter", "allowed"],
                    hide_index=True,
                    key=f"train-hpo-cat-{recipe_arn}",
                    column_config={
                        "values": st.column_config.TextColumn(help="Comma-separated choices")
                    },
                )
            )
        left, right = st.columns(2)
        trials = left.number_input(
            "Trials", 1, 40, 8, key="train-trials", help="Models trained during the search"
        )
        parallel = right.number_input("Trials at a time", 1, 10, 2, key="train-parallel")
        ranges = charts.hpo_ranges(hp, numeric, categorical)
        if not ranges:
            st.info("Tick at least one hyperparameter to tune.")
            return None
        request["performHPO"] = True
        request["solutionConfig"] = {
            "hpoConfig": {
                "hpoResourceConfig": {
                    "maxNumberOfTrainingJobs": str(trials),
                    "maxParallelTrainingJobs": str(parallel),
                },
                "algorithmHyperParameterRanges": ranges,
            }
        }
    return request


@st.cache_data(show_spinner=False, max_entries=64)
def _event_types(data_dir: str, group_arn: str, version: int) -> dict[str, int]:
    del data_dir, version  # cache keys: the store and its data version
    return engine.get_data_readiness(datasetGroupArn=group_arn)["eventTypes"]


def _events_form(group_arn: str) -> tuple[bool, dict[str, Any] | None]:
    """(launchable, eventsConfig or None) from the group's event types."""
    event_types = _event_types(str(engine.data_dir), group_arn, group_version(engine, group_arn))
    st.markdown("**Events to learn from**")
    if not event_types:
        st.caption("The interactions have no event types: every interaction is used.")
        return True, None
    edited = _polars(
        st.data_editor(
            charts.events_table(event_types),
            disabled=["event type", "events"],
            hide_index=True,
            key=f"train-events-{group_arn}",
            column_config={
                "use": st.column_config.CheckboxColumn(help="Train on this event type"),
                "events": st.column_config.NumberColumn(format="localized"),
                "weight": st.column_config.NumberColumn(
                    min_value=0.0,
                    max_value=1.0,
                    step=0.1,
                    help="How much one event of this type counts (1 = fully)",
                ),
                "minimum value": st.column_config.NumberColumn(
                    help="Only events whose EVENT_VALUE is at least this (empty: all)"
                ),
            },
        )
    )
    st.caption(
        "Untick event types to leave them out; lower a weight to make them count less "
        "(e.g. views 0.2, purchases 1)."
    )
    if not edited["use"].any():
        st.info("Tick at least one event type.")
        return False, None
    return True, charts.events_config(edited)


def _launch(group_arn: str, name: str, request: dict[str, Any]) -> None:
    try:
        solution = engine.create_solution(name=name, datasetGroupArn=group_arn, **request)
        version = engine.create_solution_version(solutionArn=solution["solutionArn"])
    except PersonalizeError as exc:
        st.error(exc.message)
        return
    watching = st.session_state.get("train-watching", set())
    st.session_state["train-watching"] = watching | {version["solutionVersionArn"]}
    st.rerun()


def _new_training(group_arn: str) -> None:
    start = st.segmented_control(
        "Train", [NEW, EXISTING], default=NEW, required=True, key="train-start"
    )
    if start == EXISTING:
        _retrain(group_arn)
        return
    recipes = _recipes(str(engine.data_dir))
    left, right = st.columns([1, 1], gap="large")
    with left:
        request = _recipe_form(recipes)
    with right:
        ok, events = _events_form(group_arn)
    if request is not None and events is not None:
        request.setdefault("solutionConfig", {})["eventsConfig"] = events
    prefix = (
        "automl"
        if request and request.get("performAutoML")
        else charts.recipe_short(request["recipeArn"])
        if request
        else "solution"
    )
    name = st.text_input(
        "Solution name",
        key="train-name",
        placeholder=f"{prefix}-YYYYMMDD-HHMMSS (left empty)",
        help="Letters, digits, - and _; unique in this Tailor.",
    )
    with st.expander("The request Tailor will send (CreateSolution)"):
        st.json(request or {}, expanded=True)
    if st.button(
        "Start training",
        type="primary",
        icon=":material/model_training:",
        disabled=request is None or not ok,
        key="train-launch",
    ):
        _launch(group_arn, name.strip() or charts.now_name(prefix, datetime.now(UTC)), request)


def _retrain(group_arn: str) -> None:
    solutions = _solutions(group_arn)
    if not solutions:
        st.info("No solutions in this dataset group yet: start with a new solution.")
        return
    by_arn = {s["solutionArn"]: s for s in solutions}
    arn = st.columns([2, 1])[0].selectbox(
        "Solution",
        list(by_arn),
        format_func=lambda a: (
            f"{by_arn[a]['name']} ({charts.recipe_short(by_arn[a].get('recipeArn'))})"
        ),
        key="train-existing",
    )
    solution = by_arn[arn]
    latest = solution.get("latestSolutionVersion") or {}
    st.caption(
        "Trains the same recipe and settings again on the data as it is now"
        + (f"; latest version: {latest['status']}." if latest else ".")
    )
    with st.expander("Its settings"):
        keys = ("recipeArn", "performAutoML", "performHPO", "eventType", "solutionConfig")
        st.json({k: solution[k] for k in keys if solution.get(k) is not None})
    mode = "FULL"
    if solution.get("recipeArn") == "arn:aws:personalize:::recipe/aws-user-personalization":
        mode = st.radio(
            "Training mode",
            ["FULL", "UPDATE"],
            horizontal=True,
            key="train-mode",
            help="UPDATE refreshes the last version with new items and users, quickly.",
        )
    if st.button(
        "Train a new version", type="primary", icon=":material/model_training:", key="train-again"
    ):
        try:
            version = engine.create_solution_version(solutionArn=arn, trainingMode=mode)
        except PersonalizeError as exc:
            st.error(exc.message)
            return
        watching = st.session_state.get("train-watching", set())
        st.session_state["train-watching"] = watching | {version["solutionVersionArn"]}
        st.rerun()


# --- results and history ----------------------------------------------------------------------


def _metric_config(keys: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "solution": st.column_config.TextColumn("solution"),
        "version_id": st.column_config.TextColumn("version"),
        "created": st.column_config.DatetimeColumn("trained at", format="YYYY-MM-DD HH:mm"),
        "version": None,
        "failure": None,
        "status": None,
    }
    for key in keys:
        label, help_text = charts.METRICS.get(key, (key, ""))
        fmt = "%.1f" if key == "training_seconds" else "%.4f"
        config[key] = st.column_config.NumberColumn(label, help=help_text, format=fmt)
    return config


def _results(frame: pl.DataFrame, rows: list[dict[str, Any]]) -> None:
    active = frame.filter(pl.col("status") == "ACTIVE")
    if active.is_empty():
        st.info("No trained versions yet: start one under **New training**.")
        return
    keys = [c for c in charts.metric_order(active.columns) if c in charts.METRICS]
    chosen = st.pills(
        "Metrics to compare",
        keys,
        selection_mode="multi",
        default=[k for k in (charts.DEFAULT_METRIC, "precision_at_10", "coverage") if k in keys],
        format_func=charts.metric_label,
        key="train-metrics",
    )
    st.plotly_chart(
        charts.metric_bars(charts.metrics_long(active, chosen or [charts.DEFAULT_METRIC])),
        width="stretch",
        key="train-bars",
    )
    st.dataframe(
        active.select("solution", "version_id", "recipe", "created", *keys, "version"),
        hide_index=True,
        column_config=_metric_config(keys),
        key="train-table",
    )
    st.caption(
        "Offline metrics, measured as Personalize does: 10% of users are held out and the "
        "newest 10% of each one's events are what the model must find."
    )
    with st.expander("What do these metrics mean?"):
        st.markdown("\n".join(f"- **{label}**: {text}" for label, text in charts.METRICS.values()))
    explorable = [
        r for r in rows if r["status"] == "ACTIVE" and r["candidates"] and (r["automl"] or r["hpo"])
    ]
    details = st.expander(
        "AutoML candidates and tuned hyperparameters",
        on_change="rerun",
        key="train-candidates-open",
    )
    with details:
        if details.open and not explorable:
            st.caption(
                "Nothing here yet: versions trained with AutoML or with hyperparameter tuning "
                "show each recipe tried and the values kept."
            )
        if details.open and explorable:
            by_arn = {r["version"]: r for r in explorable}
            arn = st.selectbox(
                "Version",
                list(by_arn),
                format_func=lambda a: f"{by_arn[a]['solution']} · {a.rsplit('/', 1)[-1]}",
                key="train-candidate-version",
            )
            row = by_arn[arn]
            metric = row["automl_metric"]
            candidates = charts.candidates_frame(row["candidates"], metric)
            if row["automl"]:
                st.caption(
                    f"AutoML trained each recipe and kept the best by "
                    f"{charts.metric_label(metric)}."
                )
            st.plotly_chart(
                charts.candidate_bars(candidates, charts.metric_label(metric)),
                width="stretch",
                key="train-candidate-bars",
            )
            st.dataframe(
                candidates,
                hide_index=True,
                column_config={
                    "value": st.column_config.NumberColumn(
                        charts.metric_label(metric), format="%.4f"
                    ),
                    "trials": st.column_config.NumberColumn("tuning trials"),
                },
            )
            if row.get("tuned"):
                st.markdown("**Hyperparameters of the kept model**")
                st.json(row["tuned"])


def _history(frame: pl.DataFrame) -> None:
    if frame.is_empty():
        st.info("No training runs yet: start one under **New training**.")
        return
    active = frame.filter(pl.col("status") == "ACTIVE")
    keys = [c for c in charts.metric_order(active.columns) if c in charts.METRICS]
    if keys:
        metric = st.columns([1, 2])[0].selectbox(
            "Metric",
            keys,
            index=keys.index(charts.DEFAULT_METRIC) if charts.DEFAULT_METRIC in keys else 0,
            format_func=charts.metric_label,
            key="train-history-metric",
        )
        st.plotly_chart(
            charts.metric_history(
                charts.metrics_long(active, [metric]), charts.metric_label(metric)
            ),
            width="stretch",
            key="train-history-chart",
        )
    st.markdown("**Every training run**")
    st.dataframe(
        frame.select(
            "created", "solution", "version_id", "recipe", "status", "failure"
        ).with_columns(pl.col("failure").fill_null("")),
        hide_index=True,
        column_config={
            "created": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
            "version_id": "version",
            "failure": st.column_config.TextColumn("why it failed", width="large"),
        },
        key="train-runs",
    )


# --- the page ---------------------------------------------------------------------------------

st.title("Train")
st.caption(
    "Teach a recommender from a dataset group's interactions, follow the training as it runs, "
    "and compare each trained version's offline metrics with the earlier ones."
)

groups = list_all(engine.list_dataset_groups, "datasetGroups")
if not groups:
    st.info(
        "No dataset groups yet. Create one with boto3 (`create_dataset_group`) and import "
        "interactions, or run `tailor init --sample` to load the sample store."
    )
    st.stop()

group_names = {g["datasetGroupArn"]: g["name"] for g in groups}
group_arn = st.columns([1, 2])[0].selectbox(
    "Dataset group", list(group_names), format_func=group_names.get, key="train-group"
)

running = _running(group_arn)
_announce(running)
if running:
    st.fragment(run_every=1.0)(_live)(group_arn)

new_tab, results_tab, history_tab = st.tabs(
    ["New training", "Results", "History"], on_change="rerun", key="train-view"
)
with new_tab:
    if new_tab.open:
        _new_training(group_arn)
if results_tab.open or history_tab.open:
    version_rows = _versions(group_arn)
    frame = charts.versions_frame(version_rows)
    with results_tab:
        if results_tab.open:
            _results(frame, version_rows)
    with history_tab:
        if history_tab.open:
            _history(frame)

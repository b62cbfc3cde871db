"""Data page: each dataset group's datasets and schemas, a profile of each dataset's columns,
and an import wizard (upload or location, suggested schema, progress, failure report)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

import polars as pl
import streamlit as st

from dashboard.charts.data import (
    completeness_bars,
    numeric_histogram_chart,
    profile_table,
    time_histogram_chart,
    top_values_bar,
)
from dashboard.engine_access import get_engine, group_version
from engine.analytics import profile as queries
from engine.datasets import sources
from engine.datasets.avro import PRIMITIVES, check_for_dataset_type, parse_schema
from engine.errors import PersonalizeError

engine = get_engine()
DATA_DIR = str(engine.data_dir.resolve())
KINDS = {"Interactions": "INTERACTIONS", "Users": "USERS", "Items": "ITEMS"}
LABELS = {v: k for k, v in KINDS.items()}
TERMINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")
NEW_GROUP = "+ New dataset group"
UPLOAD, LOCATION = "Upload a file", "Path or s3:// location"


def _all(operation: Any, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a List operation."""
    out, token = [], None
    while True:
        page = operation(**params, **({"nextToken": token} if token else {}))
        out += page[key]
        token = page.get("nextToken")
        if not token:
            return out


@st.cache_data(show_spinner="Counting rows…", max_entries=64)
def cached_datasets(
    data_dir: str, group_arn: str, version: int, arns: tuple[str, ...]
) -> list[queries.DatasetInfo]:
    return queries.group_datasets(get_engine(), group_arn)


@st.cache_data(show_spinner="Profiling the columns…", max_entries=32)
def cached_profile(data_dir: str, dataset_arn: str, version: int) -> pl.DataFrame:
    return queries.profile(get_engine(), dataset_arn)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_column_view(
    data_dir: str, dataset_arn: str, version: int, field: str, view: str
) -> tuple[pl.DataFrame, str]:
    if view == "time":
        return queries.time_histogram(get_engine(), dataset_arn, field)
    if view == "numeric":
        return queries.numeric_histogram(get_engine(), dataset_arn, field), ""
    return queries.top_values(get_engine(), dataset_arn, field, limit=20), ""


@st.cache_data(show_spinner="Reading the file…", max_entries=16)
def cached_sample(data_dir: str, location: str, stamp: tuple) -> queries.FileSample:
    return queries.sample_file(get_engine(), location)


def file_stamp(location: str) -> tuple:
    """Changes when a local file changes, so a re-written file is read again."""
    try:
        path = sources.local_path(location, engine.data_dir)
        stat = path.stat()
        return (stat.st_mtime_ns, stat.st_size)
    except (OSError, PersonalizeError):
        return (time.time(),)


def datasets_of(group_arn: str) -> list[queries.DatasetInfo]:
    arns = tuple(
        d["datasetArn"] for d in _all(engine.list_datasets, "datasets", datasetGroupArn=group_arn)
    )
    return cached_datasets(DATA_DIR, group_arn, group_version(engine, group_arn), arns)


# --------------------------------------------------------------------------- the header

st.title("Data")
st.caption(
    "What each dataset group holds: its datasets and schemas, how complete and varied each "
    "column is, and new data to import."
)

groups = {
    g["name"]: g["datasetGroupArn"] for g in _all(engine.list_dataset_groups, "datasetGroups")
}
if "data_pending_group" in st.session_state:
    pending = st.session_state.pop("data_pending_group")
    if pending in groups:
        st.session_state["data_group"] = pending
        st.session_state["data_import_group"] = pending
group_name = st.selectbox("Dataset group", sorted(groups), key="data_group") if groups else None
group_arn = groups.get(group_name) if group_name else None
if not groups:
    st.info(
        "No dataset groups yet. Open **Import** to load a CSV or Parquet file into a new "
        "group, or run `tailor init --sample` for the sample store."
    )

tab_datasets, tab_profile, tab_import = st.tabs(
    ["Datasets", "Profile", "Import"], key="data_tab", on_change="rerun"
)


# --------------------------------------------------------------------------- datasets


def show_datasets(group_arn: str) -> None:
    datasets = {d.dataset_type: d for d in datasets_of(group_arn)}
    cols = st.columns(3)
    for col, (label, kind) in zip(cols, KINDS.items(), strict=True):
        d = datasets.get(kind)
        col.metric(f"{label} rows", f"{d.rows:,}" if d else "—", help=None if d else "no dataset")
    missing = [LABELS[k] for k in KINDS.values() if k not in datasets]
    if missing:
        st.caption(
            f"No {' or '.join(missing)} dataset in this group: add one in **Import**. "
            "Interactions are required to train; Users and Items add metadata."
        )
    for kind, d in datasets.items():
        with st.container(border=True):
            st.subheader(f"{LABELS[kind]} · {d.rows:,} rows")
            events = f" ({d.event_rows:,} arrived as real-time events)" if d.event_rows else ""
            st.caption(
                f"Dataset `{d.name}` · schema `{d.schema_name}` · {len(d.fields)} fields{events}"
            )
            st.dataframe(
                queries.fields_frame(d.fields),
                hide_index=True,
                width="stretch",
                key=f"fields-{d.arn}",
            )
            jobs = _all(engine.list_dataset_import_jobs, "datasetImportJobs", datasetArn=d.arn)
            if not jobs:
                st.caption("No import jobs yet.")
                continue
            st.markdown("**Import jobs** (newest first)")
            shown = jobs[:5]
            st.dataframe(
                pl.DataFrame(
                    {
                        "import job": [j["jobName"] for j in shown],
                        "status": [j["status"] for j in shown],
                        "mode": [j["importMode"] for j in shown],
                        "created": [f"{j['creationDateTime']:%Y-%m-%d %H:%M}" for j in shown],
                        "failure": [j.get("failureReason") or "" for j in shown],
                    }
                ),
                hide_index=True,
                width="stretch",
                key=f"jobs-{d.arn}",
                column_config={"failure": st.column_config.TextColumn("failure", width="large")},
            )


with tab_datasets:
    if tab_datasets.open and group_arn:
        show_datasets(group_arn)


# --------------------------------------------------------------------------- profile


def show_profile(group_arn: str) -> None:
    datasets = {LABELS[d.dataset_type]: d for d in datasets_of(group_arn)}
    if not datasets:
        st.info("This group has no datasets yet: import one in **Import**.")
        return
    label = st.segmented_control(
        "Dataset", list(datasets), default=next(iter(datasets)), key=f"profile-ds-{group_arn}"
    )
    d = datasets[label or next(iter(datasets))]
    version = group_version(engine, group_arn)
    frame = cached_profile(DATA_DIR, d.arn, version)
    rows = int(frame["rows"][0]) if frame.height else 0
    cols = st.columns(4)
    cols[0].metric("Rows", f"{rows:,}")
    cols[1].metric("Fields", f"{frame.height}")
    cols[2].metric("Fields with empty values", f"{int((frame['nulls'] > 0).sum())}")
    cols[3].metric("From real-time events", f"{d.event_rows:,}")
    if not rows:
        st.info(f"The {label} dataset has no rows yet: import a file in **Import**.")
        return
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**How complete each column is**")
        st.plotly_chart(completeness_bars(frame), width="stretch", key=f"complete-{d.arn}")
        st.caption(
            "Green: every row has a value. Blue: an optional field some rows leave empty. "
            "Red: a required field with empty rows."
        )
    with right:
        st.markdown("**A column up close**")
        field = st.selectbox(
            "Column",
            frame["field"].to_list(),
            key=f"profile-field-{d.arn}",
            label_visibility="collapsed",
        )
        info = next(r for r in frame.iter_rows(named=True) if r["field"] == field)
        if field in queries.TIMESTAMP_FIELDS and info["type"] == "long":
            data, unit = cached_column_view(DATA_DIR, d.arn, version, field, "time")
            st.plotly_chart(
                time_histogram_chart(data, unit, field), width="stretch", key=f"time-{d.arn}"
            )
            st.caption(f"Rows per {unit} (UTC) of {field}.")
        elif info["type"] in ("int", "long", "float", "double"):
            data, _ = cached_column_view(DATA_DIR, d.arn, version, field, "numeric")
            st.plotly_chart(
                numeric_histogram_chart(data, field), width="stretch", key=f"num-{d.arn}"
            )
            st.caption(f"How {field}'s values spread over its range (20 equal bins).")
        else:
            data, _ = cached_column_view(DATA_DIR, d.arn, version, field, "top")
            st.plotly_chart(top_values_bar(data, field, rows), width="stretch", key=f"top-{d.arn}")
            split = (
                " (each `|`-separated category counted on its own)" if info["categorical"] else ""
            )
            st.caption(f"The 20 most frequent values of {field}{split}.")
    st.markdown("**Every column**")
    st.dataframe(
        profile_table(frame),
        hide_index=True,
        width="stretch",
        key=f"profile-{d.arn}",
        column_config={
            "filled": st.column_config.ProgressColumn(
                "filled",
                help="share of rows with a value",
                format="percent",
                min_value=0,
                max_value=1,
            ),
            "nulls": st.column_config.NumberColumn(
                "empty", help="rows without a value", format="localized"
            ),
            "distinct": st.column_config.NumberColumn(
                "distinct",
                help="distinct values (categorical: distinct categories)",
                format="localized",
            ),
            "top values": st.column_config.TextColumn("top values", width="medium"),
            "min": st.column_config.TextColumn("min", width=95),
            "median": st.column_config.TextColumn("median", width=95),
            "max": st.column_config.TextColumn("max", width=95),
        },
    )


with tab_profile:
    if tab_profile.open and group_arn:
        show_profile(group_arn)


# --------------------------------------------------------------------------- import


def follow_job(arn: str) -> None:
    """Progress of a running import until it ends, then its outcome (and its problems)."""
    try:
        job = engine.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
    except PersonalizeError as exc:
        st.error(str(exc))
        return
    rows = st.session_state.setdefault("data_job_rows", {})
    if job["status"] not in TERMINAL:
        with st.status(f"Importing {job['jobName']}…", expanded=True) as status:
            bar = st.progress(0.0, text="queued")
            while True:
                progress = engine.job_progress(arn)
                if "rows" in progress:
                    rows[arn] = progress["rows"]
                fraction = min(max(float(progress.get("fraction") or 0.0), 0.0), 1.0)
                bar.progress(fraction, text=f"{progress['step']} · {rows.get(arn, 0):,} rows read")
                if progress["status"] in TERMINAL or progress["status"] is None:
                    break
                time.sleep(0.2)
            job = engine.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
            status.update(
                label=f"{job['jobName']}: {job['status']}",
                state="complete" if job["status"] == "ACTIVE" else "error",
                expanded=False,
            )
        if "data_pending_group" in st.session_state:
            st.rerun()  # show the new group in the selectors; the outcome shows again below
    where = job["datasetArn"].split(":")[-1].removeprefix("dataset/")
    if job["status"] == "ACTIVE":
        count = f"{rows[arn]:,} rows" if arn in rows else "the file"
        st.success(f"**ACTIVE**: imported {count} into `{where}` (job `{job['jobName']}`).")
        return
    st.error(f"**{job['status']}** (job `{job['jobName']}`): {job.get('failureReason') or ''}")
    problems = queries.failure_problems(job.get("failureReason"))
    if not problems.is_empty():
        st.markdown("**Problems found** (line numbers count the header as line 1)")
        if problems["row"].is_null().all():
            problems = problems.drop("row")
        st.dataframe(problems, hide_index=True, width="stretch", key=f"problems-{arn}")
        st.caption("Nothing was imported: fix these rows and import the file again.")


def source_location() -> str | None:
    """The location to import from: a saved upload or what the user typed."""
    source = st.radio("Source", [UPLOAD, LOCATION], horizontal=True, key="data_source")
    if source == UPLOAD:
        upload = st.file_uploader("CSV or Parquet file", type=["csv", "parquet"], key="data_file")
        if upload is None:
            st.caption(
                "Files are saved in the data directory's `s3/uploads/` and imported from there."
            )
            return None
        saved = st.session_state.setdefault("data_uploads", {})
        if upload.file_id not in saved:
            try:
                saved[upload.file_id] = queries.save_upload(engine, upload.name, upload.getvalue())
            except PersonalizeError as exc:
                st.error(str(exc))
                return None
        st.caption(f"Saved as `{saved[upload.file_id]}`.")
        return saved[upload.file_id]
    typed = st.text_input(
        "File or folder",
        key="data_location",
        placeholder="/path/to/interactions.csv, file:///..., or s3://bucket/key",
        help="A folder imports every .csv and .parquet file in it. s3:// reads the data "
        "directory's embedded store unless an S3 endpoint is configured.",
    )
    return typed.strip() or None


def suggested_schema(sample: queries.FileSample, kind: str, location: str) -> str | None:
    """The editable suggested schema; returns its JSON text, or None after showing why it is
    not valid."""
    suggestion = queries.suggest_schema(sample, kind)
    detected = sample.columns.select(
        pl.col("sniffed_type").alias("detected"),
        pl.col("nulls").alias("empty in sample"),
        pl.col("distinct").alias("distinct in sample"),
        pl.col("examples").list.join(", ").alias("examples"),
    )
    table = pl.concat([suggestion, detected], how="horizontal")
    if kind != "ITEMS":
        table = table.drop("textual")
    digest = hashlib.sha1(f"{location}|{kind}".encode()).hexdigest()[:12]
    edited = st.data_editor(
        table.to_pandas(),
        hide_index=True,
        width="stretch",
        key=f"data_schema_{digest}",
        disabled=["field", "note", "detected", "empty in sample", "distinct in sample", "examples"],
        column_order=[
            c
            for c in (
                "field",
                "type",
                "nullable",
                "categorical",
                "textual",
                "note",
                "detected",
                "empty in sample",
                "distinct in sample",
                "examples",
            )
            if c in table.columns
        ],
        column_config={
            "type": st.column_config.SelectboxColumn(
                "type", options=list(PRIMITIVES), required=True
            ),
            "nullable": st.column_config.CheckboxColumn("nullable", help="may be empty"),
            "categorical": st.column_config.CheckboxColumn(
                "categorical", help="a category (several separated by |)"
            ),
            "note": st.column_config.TextColumn("note", width="medium"),
        },
    )
    text = queries.schema_json(edited.to_dict("records"), kind)
    with st.expander("Schema JSON"):
        st.code(text, language="json")
    try:
        check_for_dataset_type(parse_schema(text), kind)
    except PersonalizeError as exc:
        st.error(f"The schema is not valid yet: {exc}")
        return None
    st.caption(
        f"Suggested from the first {sample.rows:,} rows"
        + (f" of {sample.path.name} (1 of {sample.files} files)" if sample.files > 1 else "")
        + ". Change a type or a flag in the table; the JSON follows."
    )
    return text


def unique_schema_name(base: str) -> str:
    taken = {s["name"] for s in _all(engine.list_schemas, "schemas")}
    name, n = base[:63], 2
    while name in taken:
        suffix = f"-{n}"
        name, n = base[: 63 - len(suffix)] + suffix, n + 1
    return name


def start_import(
    group: str, new: bool, kind: str, location: str, schema_text: str | None, mode: str
) -> str:
    """Create what is missing (group, schema, dataset) and the import job; its ARN."""
    if new:
        group_arn = engine.create_dataset_group(name=group)["datasetGroupArn"]
    else:
        group_arn = groups[group]
    existing = {d.dataset_type: d for d in datasets_of(group_arn)}
    if kind in existing:
        dataset_arn = existing[kind].arn
    else:
        base = f"{group}-{kind.lower()}"
        schema_arn = engine.create_schema(name=unique_schema_name(base), schema=schema_text)[
            "schemaArn"
        ]
        dataset_arn = engine.create_dataset(
            name=base[:63], schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType=kind
        )["datasetArn"]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    job_name = (
        f"{group[:30]}-{kind.lower()}-{stamp}-{hashlib.sha1(location.encode()).hexdigest()[:4]}"
    )
    return engine.create_dataset_import_job(
        jobName=job_name,
        datasetArn=dataset_arn,
        dataSource={"dataLocation": location},
        importMode=mode,
    )["datasetImportJobArn"]


def show_import() -> None:
    st.markdown("**1 · Where the data goes**")
    names = sorted(groups)
    options = [*names, NEW_GROUP]
    left, right = st.columns(2)
    target = left.selectbox(
        "Import into dataset group",
        options,
        index=options.index(group_name) if group_name in options else len(options) - 1,
        key="data_import_group",
    )
    new = target == NEW_GROUP
    if new:
        target = left.text_input(
            "New group name",
            key="data_new_group",
            placeholder="e.g. shop",
            help="Letters, digits, - and _ (up to 63 characters).",
        ).strip()
    label = right.selectbox("Dataset type", list(KINDS), key="data_kind")
    kind = KINDS[label]
    existing = None
    if not new and target in groups:
        existing = {d.dataset_type: d for d in datasets_of(groups[target])}.get(kind)

    st.markdown("**2 · The file**")
    location = source_location()
    if not location:
        return
    try:
        sample = cached_sample(DATA_DIR, location, file_stamp(location))
    except PersonalizeError as exc:
        st.error(str(exc))
        return

    st.markdown("**3 · Schema**")
    schema_text, mode = None, "FULL"
    if existing is not None:
        st.caption(
            f"`{target}` already has {'an' if label[0] in 'AEIOU' else 'a'} {label} dataset "
            f"(schema `{existing.schema_name}`): "
            "the file's columns are checked against it."
        )
        problem = queries.check_file_header(sample, existing.fields)
        if problem:
            st.error(problem)
            return
        st.success(f"The file's columns ({', '.join(sample.header)}) match the schema.")
        mode = st.radio(
            "Import mode",
            ["FULL", "INCREMENTAL"],
            horizontal=True,
            key="data_mode",
            format_func=lambda m: {
                "FULL": "Replace the imported rows (FULL)",
                "INCREMENTAL": "Add to them (INCREMENTAL)",
            }[m],
        )
        imported = existing.rows - existing.event_rows
        if mode == "FULL" and imported:
            st.warning(
                f"FULL replaces the {imported:,} rows imported before with this file's rows "
                "(rows from real-time events stay). Choose INCREMENTAL to add to them."
            )
    else:
        schema_text = suggested_schema(sample, kind, location)
        if schema_text is None:
            return

    st.markdown("**4 · Import**")
    if not target:
        st.caption("Name the new dataset group to import.")
        return
    if st.button("Import", type="primary", key="data_import"):
        try:
            arn = start_import(target, new, kind, location, schema_text, mode)
        except PersonalizeError as exc:
            st.error(str(exc))
            return
        st.session_state["data_import_job"] = arn
        if new:
            st.session_state["data_pending_group"] = target


with tab_import:
    if tab_import.open:
        show_import()
        if "data_import_job" in st.session_state:
            follow_job(st.session_state["data_import_job"])

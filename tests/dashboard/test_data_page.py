"""The Data page under AppTest: datasets and schemas, the profile against an independent
Polars read of the sample files, and the import wizard (new group, existing dataset, upload,
schema edits, a failed import's problems table)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from engine import Engine, runtime
from engine.sample_data import SAMPLE_DIR
from tests.helpers import HEADER, INTERACTIONS_SCHEMA, interaction_rows, make_dataset, write_csv

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "data.py")
NEW_GROUP = "+ New dataset group"
PATH_OPTION = "Path or s3:// location"
SAMPLE_SCHEMAS = {
    "Interactions": "interactions",
    "Users": "users",
    "Items": "items",
}


def page(tab: str = "Datasets") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["data_tab"] = tab
    return at.run()


def tables_with(at: AppTest, column: str) -> list:
    """The page's tables (as pandas frames) that have `column`, in page order."""
    return [d.value for d in at.dataframe if column in d.value.columns]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Engine]:
    """An empty Engine registered for AppTest (imports here leave the shared sample alone)."""
    with Engine(tmp_path / "d") as engine:
        runtime.register(engine)
        try:
            yield engine
        finally:
            runtime.unregister()


def expected_profile(stem: str, schema: dict) -> dict[str, dict]:
    """Rows, nulls, distinct values and the top value's count per column, read with Polars."""
    frame = pl.read_csv(SAMPLE_DIR / f"{stem}.csv", infer_schema=False)
    out = {}
    for field in schema["fields"]:
        column = frame[field["name"]]
        values = column.drop_nulls()
        if field.get("categorical"):
            values = values.str.split("|").explode()
        counts = values.value_counts(sort=True)
        out[field["name"]] = {
            "rows": frame.height,
            "nulls": column.null_count(),
            "distinct": values.n_unique(),
            "top": int(counts["count"][0]) if counts.height else None,
        }
    return out


# --------------------------------------------------------------------------- sample store


def test_page_shows_each_dataset_with_fields_rows_and_jobs(app):
    at = page()
    assert not at.exception
    at.selectbox(key="data_group").set_value("sample").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    interactions = pl.read_csv(SAMPLE_DIR / "interactions.csv", infer_schema=False).height
    assert metrics["Interactions rows"] == f"{interactions:,}"
    assert metrics["Users rows"] == "4,000"
    assert metrics["Items rows"] == "1,000"
    assert [s.value for s in at.subheader] == [
        f"Interactions · {interactions:,} rows",
        "Users · 4,000 rows",
        "Items · 1,000 rows",
    ]
    fields = tables_with(at, "textual")[2]  # Interactions, Users, Items
    assert fields["field"].tolist()[:2] == ["ITEM_ID", "CATEGORY"]
    assert fields.set_index("field").loc["DESCRIPTION", "textual"]
    assert fields.set_index("field").loc["CATEGORY", "categorical"]
    jobs = tables_with(at, "import job")
    assert [j["status"].tolist() for j in jobs] == [["ACTIVE"]] * 3


@pytest.mark.parametrize("label", ["Interactions", "Users", "Items"])
def test_profile_numbers_equal_an_independent_polars_read(app, label):
    import json

    stem = SAMPLE_SCHEMAS[label]
    schema = json.loads((SAMPLE_DIR / f"{stem}.schema.json").read_text())
    expected = expected_profile(stem, schema)
    at = page("Profile")
    at.selectbox(key="data_group").set_value("sample").run()
    at.segmented_control(key=f"profile-ds-{app['group']}").set_value(label).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["From real-time events"] == "0", "the shared sample store gained events"
    rows = next(iter(expected.values()))["rows"]
    assert metrics["Rows"] == f"{rows:,}"
    assert metrics["Fields"] == str(len(schema["fields"]))
    (table,) = tables_with(at, "top values")
    table = table.set_index("field")
    for name, want in expected.items():
        assert table.loc[name, "nulls"] == want["nulls"], name
        assert table.loc[name, "distinct"] == want["distinct"], name
        assert table.loc[name, "filled"] == pytest.approx(1 - want["nulls"] / rows), name
        if want["top"] is not None and name not in ("TIMESTAMP", "CREATION_TIMESTAMP"):
            first = table.loc[name, "top values"].split(", ")[0]
            assert first.endswith(f"({want['top']:,})"), (name, first)


def test_profile_chart_follows_the_chosen_column(app):
    at = page("Profile")
    at.selectbox(key="data_group").set_value("sample").run()
    datasets = app["engine"].list_datasets(datasetGroupArn=app["group"])["datasets"]
    arn = next(d["datasetArn"] for d in datasets if d["datasetType"] == "INTERACTIONS")
    field = at.selectbox(key=f"profile-field-{arn}")
    field.set_value("EVENT_TYPE").run()
    assert "The 20 most frequent values of EVENT_TYPE." in [c.value for c in at.caption]
    at.selectbox(key=f"profile-field-{arn}").set_value("TIMESTAMP").run()
    assert "Rows per week (UTC) of TIMESTAMP." in [c.value for c in at.caption]
    at.selectbox(key=f"profile-field-{arn}").set_value("EVENT_VALUE").run()
    assert not at.exception
    assert any("spread over its range" in c.value for c in at.caption)


# --------------------------------------------------------------------------- import wizard


def outcome(at: AppTest, kind: str = "success") -> str:
    """The import's outcome message (ACTIVE or CREATE FAILED)."""
    messages = [m.value for m in getattr(at, kind) if "ACTIVE" in m.value or "FAILED" in m.value]
    assert len(messages) == 1, messages
    return messages[0]


def choose_new_group(at: AppTest, name: str, kind: str, location: str) -> AppTest:
    at.selectbox(key="data_import_group").set_value(NEW_GROUP).run()
    at.text_input(key="data_new_group").set_value(name).run()
    at.selectbox(key="data_kind").set_value(kind).run()
    at.radio(key="data_source").set_value(PATH_OPTION).run()
    return at.text_input(key="data_location").set_value(location).run()


def test_page_without_groups_says_how_to_start(fresh):
    at = page()
    assert not at.exception
    assert "Open **Import**" in at.info[0].value


def test_wizard_imports_a_csv_into_a_new_group(fresh, tmp_path):
    path = write_csv(tmp_path / "events.csv", HEADER, interaction_rows(30))
    at = choose_new_group(page("Import"), "wizard-shop", "Interactions", str(path))
    assert not at.exception
    assert not at.error
    suggestion = at.data_editor[0].value.set_index("field")
    assert suggestion.loc["TIMESTAMP", "type"] == "long"
    assert suggestion.loc["DEVICE", "categorical"]
    assert suggestion.loc["EVENT_VALUE", "nullable"]
    at.button(key="data_import").click().run()
    assert not at.exception
    assert "ACTIVE" in outcome(at) and "30 rows" in outcome(at)
    group = fresh.list_dataset_groups()["datasetGroups"][0]
    assert group["name"] == "wizard-shop"
    # the next run shows the new group, its dataset and the ACTIVE job
    at.session_state["data_tab"] = "Datasets"
    at.run()
    assert at.selectbox(key="data_group").value == "wizard-shop"
    assert {m.label: m.value for m in at.metric}["Interactions rows"] == "30"
    (jobs,) = tables_with(at, "import job")
    assert jobs["status"].tolist() == ["ACTIVE"]


def test_failed_import_shows_its_problems_with_line_numbers(fresh, tmp_path):
    rows = interaction_rows(12)
    rows[3][2] = "not-a-time"  # line 5 (the header is line 1)
    rows[6] = [*rows[6], "extra"]  # line 8: one column too many
    rows[9][2] = 1_700_000_000_000  # line 11: milliseconds
    path = write_csv(tmp_path / "broken.csv", HEADER, rows)
    at = choose_new_group(page("Import"), "broken-shop", "Interactions", str(path))
    assert not at.error
    at.button(key="data_import").click().run()
    assert not at.exception
    assert "CREATE FAILED" in outcome(at, "error")
    assert "3 of 12 rows are invalid" in outcome(at, "error")
    (problems,) = tables_with(at, "reason")
    assert problems["line"].tolist() == [5, 8, 11]
    assert set(problems["file"]) == {"broken.csv"}
    assert problems["column"].tolist()[0] == "TIMESTAMP"
    assert "milliseconds are not accepted" in problems["reason"].tolist()[2]


def test_existing_dataset_checks_the_files_header(fresh, tmp_path):
    group = fresh.create_dataset_group(name="shop")["datasetGroupArn"]
    make_dataset(fresh, group, "Interactions", INTERACTIONS_SCHEMA)
    bad = write_csv(tmp_path / "bad.csv", ["USER_ID", "ITEM_ID", "TIMESTAMP", "COLOUR"], [])
    at = page("Import")
    at.radio(key="data_source").set_value(PATH_OPTION).run()
    at.text_input(key="data_location").set_value(str(bad)).run()
    assert "'COLOUR' is not a field of the dataset's schema" in at.error[0].value
    assert not [b for b in at.button if b.key == "data_import"]
    good = write_csv(tmp_path / "good.csv", HEADER, interaction_rows(5))
    at.text_input(key="data_location").set_value(str(good)).run()
    assert "match the schema" in at.success[0].value
    assert not at.data_editor  # the dataset's own schema, nothing to suggest
    at.radio(key="data_mode").set_value("INCREMENTAL").run()
    at.button(key="data_import").click().run()
    assert "ACTIVE" in outcome(at)


def test_schema_edits_are_validated(fresh, tmp_path):
    path = write_csv(tmp_path / "events.csv", HEADER, interaction_rows(10))
    at = choose_new_group(page("Import"), "edits", "Interactions", str(path))
    editor = at.data_editor[0]
    at.session_state[editor.key] = {
        "edited_rows": {2: {"type": "string"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert "TIMESTAMP: must be of type long, not string" in at.error[0].value
    assert not [b for b in at.button if b.key == "data_import"]


def test_missing_file_and_bad_group_name_show_errors(fresh, tmp_path):
    at = choose_new_group(page("Import"), "ok", "Users", str(tmp_path / "nowhere.csv"))
    assert "no such file or folder" in at.error[0].value
    users = write_csv(tmp_path / "users.csv", ["USER_ID", "TIER"], [["u1", "gold"]])
    at.text_input(key="data_location").set_value(str(users)).run()
    at.text_input(key="data_new_group").set_value("bad name!").run()
    at.button(key="data_import").click().run()
    assert not at.exception
    assert at.error and "name" in at.error[0].value


def test_uploaded_file_is_saved_and_imported(fresh):
    at = page("Import")
    at.text_input(key="data_new_group").set_value("uploaded").run()
    at.selectbox(key="data_kind").set_value("Users").run()
    content = b"USER_ID,TIER\nu1,gold\nu2,silver\nu3,\n"
    at.file_uploader(key="data_file").set_value(("my users.csv", content, "text/csv")).run()
    assert not at.exception
    saved = [c.value for c in at.caption if c.value.startswith("Saved as")]
    assert saved and "s3://uploads/" in saved[0] and saved[0].endswith("my_users.csv`.")
    suggestion = at.data_editor[0].value.set_index("field")
    assert suggestion.loc["TIER", "nullable"] and suggestion.loc["TIER", "categorical"]
    at.button(key="data_import").click().run()
    assert "ACTIVE" in outcome(at)
    uploads = list((fresh.data_dir / "s3" / "uploads").rglob("*.csv"))
    assert [p.read_bytes() for p in uploads] == [content]

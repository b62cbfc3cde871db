"""The Data page's query module (engine/analytics/profile.py) and chart builders
(dashboard/charts/data.py), without Streamlit."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest

from dashboard.charts.data import (
    GOOD,
    OPTIONAL,
    POOR,
    completeness_bars,
    numeric_histogram_chart,
    profile_table,
    time_histogram_chart,
    top_values_bar,
)
from engine import Engine, InvalidInputException
from engine.analytics import profile as queries
from engine.datasets import sources
from engine.datasets.avro import check_for_dataset_type, parse_schema
from engine.sample_data import SAMPLE_DIR
from tests.helpers import (
    HEADER,
    INTERACTIONS_SCHEMA,
    interaction_rows,
    make_dataset,
    run_import,
    write_csv,
)

DAY = 86400


def suggest(engine: Engine, path: Path, kind: str) -> pl.DataFrame:
    return queries.suggest_schema(queries.sample_file(engine, str(path)), kind)


def by_field(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["field"]: r for r in frame.iter_rows(named=True)}


# --------------------------------------------------------------------------- suggested schema


def test_suggestion_gives_reserved_fields_personalizes_types(engine, tmp_path):
    path = write_csv(
        tmp_path / "i.csv",
        ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "DEVICE", "QTY", "GIFT"],
        [
            [101, 7, 1_700_000_000, "view", "", "mobile", 1, "true"],
            [102, 8, 1_700_000_060, "purchase", "9.99", "", 3, "false"],
        ],
    )
    fields = by_field(suggest(engine, path, "INTERACTIONS"))
    # numeric-looking ids are still ids (strings); TIMESTAMP is long; EVENT_VALUE a number
    assert fields["USER_ID"]["type"] == "string" and fields["ITEM_ID"]["type"] == "string"
    assert fields["TIMESTAMP"]["type"] == "long"
    assert fields["EVENT_TYPE"]["type"] == "string" and not fields["EVENT_TYPE"]["categorical"]
    assert fields["EVENT_VALUE"]["type"] == "float"
    assert fields["QTY"]["type"] == "long"
    assert fields["GIFT"]["type"] == "boolean"
    # metadata strings must be categorical; nullable follows the sample's empty values
    assert fields["DEVICE"]["categorical"] and fields["DEVICE"]["nullable"]
    assert fields["EVENT_VALUE"]["nullable"]
    assert not fields["QTY"]["nullable"] and not fields["USER_ID"]["nullable"]
    assert "reserved field" in fields["USER_ID"]["note"]


def test_required_fields_are_never_nullable(engine, tmp_path):
    path = write_csv(tmp_path / "u.csv", ["USER_ID", "TIER"], [["u1", "gold"], ["", "silver"]])
    fields = by_field(suggest(engine, path, "USERS"))
    assert not fields["USER_ID"]["nullable"]
    assert "1 empty value(s) in the sample will be rejected" in fields["USER_ID"]["note"]
    assert fields["TIER"]["categorical"] and not fields["TIER"]["nullable"]


def test_items_suggest_one_textual_field_and_creation_timestamp(engine, tmp_path):
    rows = [
        [
            f"i{i}",
            ["books", "toys"][i % 2],
            f"A long description number {i} of a lovely product, written for shoppers.",
            f"Short note {i}, still over thirty characters",
            1_600_000_000 + i,
            "a|b" if i % 3 == 0 else "a",
        ]
        for i in range(20)
    ]
    path = write_csv(
        tmp_path / "items.csv",
        ["ITEM_ID", "GENRE", "DESCRIPTION", "NOTE", "CREATION_TIMESTAMP", "TAGS"],
        rows,
    )
    suggestion = suggest(engine, path, "ITEMS")
    fields = by_field(suggestion)
    assert fields["DESCRIPTION"]["textual"] and not fields["DESCRIPTION"]["categorical"]
    assert fields["NOTE"]["categorical"] and not fields["NOTE"]["textual"]  # one textual only
    assert fields["CREATION_TIMESTAMP"]["type"] == "long"
    assert fields["GENRE"]["categorical"]
    assert "several categories" in fields["TAGS"]["note"]
    text = queries.schema_json(suggestion.to_dicts(), "ITEMS")
    check_for_dataset_type(parse_schema(text), "ITEMS")


def test_suggestion_warns_about_dates_milliseconds_and_lower_case_names(engine, tmp_path):
    path = write_csv(
        tmp_path / "i.csv",
        ["user_id", "ITEM_ID", "TIMESTAMP"],
        [["u1", "i1", 1_700_000_000_000], ["u2", "i2", 1_700_000_060_000]],
    )
    fields = by_field(suggest(engine, path, "INTERACTIONS"))
    assert "rename the column to USER_ID" in fields["user_id"]["note"]
    assert "milliseconds" in fields["TIMESTAMP"]["note"]
    dated = write_csv(
        tmp_path / "d.csv", ["USER_ID", "ITEM_ID", "TIMESTAMP"], [["u1", "i1", "2025-06-01"]]
    )
    fields = by_field(suggest(engine, dated, "INTERACTIONS"))
    assert fields["TIMESTAMP"]["type"] == "long"
    assert "epoch seconds" in fields["TIMESTAMP"]["note"]


@pytest.mark.parametrize("stem", ["interactions", "users", "items"])
def test_suggestions_for_the_sample_files_are_valid_and_match_their_schemas(engine, stem):
    kind = stem.upper()
    suggestion = suggest(engine, SAMPLE_DIR / f"{stem}.csv", kind)
    fields = parse_schema(queries.schema_json(suggestion.to_dicts(), kind))
    check_for_dataset_type(fields, kind)
    sample = json.loads((SAMPLE_DIR / f"{stem}.schema.json").read_text())
    wanted = {f.name: f for f in parse_schema(json.dumps(sample))}
    assert [f.name for f in fields] == list(wanted)
    for f in fields:
        assert f.type == wanted[f.name].type, f.name
        assert f.categorical == wanted[f.name].categorical, f.name
        assert f.textual == wanted[f.name].textual, f.name


def test_schema_json_writes_unions_and_flags():
    text = queries.schema_json(
        [
            {"field": "USER_ID", "type": "string", "nullable": False, "categorical": False},
            {"field": "TIER", "type": "string", "nullable": True, "categorical": True},
        ],
        "USERS",
    )
    doc = json.loads(text)
    assert doc["name"] == "Users" and doc["type"] == "record"
    assert doc["fields"] == [
        {"name": "USER_ID", "type": "string"},
        {"name": "TIER", "type": ["null", "string"], "categorical": True},
    ]


# --------------------------------------------------------------------------- file samples


def test_sample_file_reads_csv_parquet_and_s3_locations(engine, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(40))
    sample = queries.sample_file(engine, str(path), rows=25)
    assert sample.rows == 25 and sample.header == HEADER and not sample.is_parquet
    columns = {r["column"]: r for r in sample.columns.iter_rows(named=True)}
    assert columns["TIMESTAMP"]["sniffed_type"] == "BIGINT"
    assert columns["DEVICE"]["distinct"] == 3
    assert columns["EVENT_VALUE"]["nulls"] == 20  # only purchases (1 in 5) have a value
    parquet = tmp_path / "i.parquet"
    pl.read_csv(path, infer_schema=False).write_parquet(parquet)
    sample = queries.sample_file(engine, f"file://{parquet}")
    assert sample.is_parquet and sample.rows == 40 and sample.header == HEADER
    store = engine.data_dir / "s3" / "bucket" / "data" / "i.csv"
    store.parent.mkdir(parents=True)
    store.write_bytes(path.read_bytes())
    assert queries.sample_file(engine, "s3://bucket/data/").files == 1


def test_sample_file_errors_name_the_problem(engine, tmp_path):
    with pytest.raises(InvalidInputException, match="no such file or folder"):
        queries.sample_file(engine, str(tmp_path / "missing.csv"))
    with pytest.raises(InvalidInputException, match="give a file path"):
        queries.sample_file(engine, "  ")
    twice = tmp_path / "twice.csv"
    twice.write_text("USER_ID,USER_ID\nu1,u2\n")
    with pytest.raises(InvalidInputException, match="name every column once"):
        queries.sample_file(engine, str(twice))
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInputException, match="cannot read the file"):
        queries.sample_file(engine, str(junk))


def test_check_file_header_against_a_schema(engine, tmp_path):
    fields = parse_schema(json.dumps(INTERACTIONS_SCHEMA))
    good = queries.sample_file(engine, str(write_csv(tmp_path / "g.csv", HEADER, [])))
    assert queries.check_file_header(good, fields) is None
    missing = write_csv(tmp_path / "m.csv", ["USER_ID", "ITEM_ID"], [["u", "i"]])
    reason = queries.check_file_header(queries.sample_file(engine, str(missing)), fields)
    assert "required column(s) TIMESTAMP" in reason


# --------------------------------------------------------------------------- uploads, reports


def test_save_upload_writes_into_the_embedded_store(engine):
    location = queries.save_upload(engine, "../../etc/my file#1.csv", b"USER_ID,TIER\nu1,a\n")
    assert location.startswith("s3://uploads/") and location.endswith("/my_file_1.csv")
    path = sources.local_path(location, engine.data_dir)
    assert path.read_bytes() == b"USER_ID,TIER\nu1,a\n"
    assert path.resolve().is_relative_to((engine.data_dir / "s3" / "uploads").resolve())
    second = queries.save_upload(engine, "data.parquet", io.BytesIO(b"PAR1"))
    assert second != location and sources.local_path(second, engine.data_dir).exists()
    with pytest.raises(InvalidInputException, match=r"\.csv, \.csv\.gz or \.parquet"):
        queries.save_upload(engine, "notes.txt", b"x")


def test_save_upload_gives_a_local_path_when_s3_is_real(tmp_path):
    from engine.config import Settings

    settings = Settings.from_env()
    object.__setattr__(settings, "s3_endpoint_url", "http://127.0.0.1:1")
    with Engine(tmp_path / "d", settings) as engine:
        location = queries.save_upload(engine, "a.csv", b"x\n")
        assert Path(location).is_absolute() and Path(location).read_bytes() == b"x\n"


def test_failure_problems_from_a_real_failed_import(engine, interactions, tmp_path):
    rows = interaction_rows(12)
    rows[3][2] = "abc"
    rows[6] = [*rows[6], "extra"]
    rows[9][2] = 1_700_000_000_000
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)
    job = run_import(engine, interactions, str(path), "bad")
    assert job["status"] == "CREATE FAILED"
    problems = queries.failure_problems(job["failureReason"])
    assert problems["line"].to_list() == [5, 8, 11]
    assert problems["file"].to_list() == ["bad.csv"] * 3
    assert problems["column"].to_list() == ["TIMESTAMP", None, "TIMESTAMP"]
    assert problems["reason"][2].endswith("milliseconds are not accepted")


def test_failure_problems_of_parquet_rows_duplicates_and_header_errors():
    reason = (
        "2 of 9 rows are invalid, so nothing was imported. First problems: "
        "x.parquet row 3, column PRICE: value does not convert to float; "
        "items.csv, column ITEM_ID: value 'i1' appears more than once in this import"
    )
    problems = queries.failure_problems(reason)
    assert problems.to_dicts() == [
        {
            "file": "x.parquet",
            "line": None,
            "row": 3,
            "column": "PRICE",
            "reason": "value does not convert to float",
        },
        {
            "file": "items.csv",
            "line": None,
            "row": None,
            "column": "ITEM_ID",
            "reason": "value 'i1' appears more than once in this import",
        },
    ]
    assert queries.failure_problems("i.csv: column 'X' is not a field").is_empty()
    assert queries.failure_problems(None).is_empty()


# --------------------------------------------------------------------------- dataset profile


@pytest.fixture
def loaded(engine, group, tmp_path) -> str:
    """An Items dataset with known values: nulls, categories split on |, prices, times."""
    schema = {
        "type": "record",
        "name": "Items",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRE", "type": ["null", "string"], "categorical": True},
            {"name": "PRICE", "type": ["null", "float"]},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
        ],
    }
    dataset = make_dataset(engine, group, "Items", schema)
    rows = [
        ["i1", "a|b", 1.0, 1_700_000_000],
        ["i2", "a", 2.0, 1_700_000_000 + DAY],
        ["i3", "", 3.0, 1_700_000_000 + DAY],
        ["i4", "c|a", "", 1_700_000_000 + 3 * DAY],
        ["i5", "b", 10.0, 1_700_000_000 + 3 * DAY],
    ]
    path = write_csv(tmp_path / "items.csv", [f["name"] for f in schema["fields"]], rows)
    assert run_import(engine, dataset, str(path), "items")["status"] == "ACTIVE"
    return dataset


def test_profile_counts_nulls_distinct_top_values_and_ranges(engine, loaded):
    frame = by_field(queries.profile(engine, loaded, top=2))
    genre = frame["GENRE"]
    assert genre["rows"] == 5 and genre["nulls"] == 1 and genre["null_share"] == 0.2
    assert genre["distinct"] == 3  # a, b, c: categories, not raw values
    assert genre["top_values"] == [{"value": "a", "count": 3}, {"value": "b", "count": 2}]
    price = frame["PRICE"]
    assert (price["nulls"], price["min"], price["median"], price["max"]) == (1, 1.0, 2.5, 10.0)
    assert frame["ITEM_ID"]["distinct"] == 5 and frame["ITEM_ID"]["min"] is None
    assert frame["CREATION_TIMESTAMP"]["distinct"] == 3


def test_group_datasets_lists_fields_and_rows(engine, group, loaded, interactions):
    infos = queries.group_datasets(engine, group)
    assert [(d.dataset_type, d.rows, d.event_rows) for d in infos] == [
        ("INTERACTIONS", 0, 0),
        ("ITEMS", 5, 0),
    ]
    assert queries.fields_frame(infos[1].fields)["field"].to_list() == [
        "ITEM_ID",
        "GENRE",
        "PRICE",
        "CREATION_TIMESTAMP",
    ]


def test_top_values_and_histograms(engine, loaded):
    top = queries.top_values(engine, loaded, "GENRE")
    assert top.to_dicts() == [
        {"value": "a", "count": 3},
        {"value": "b", "count": 2},
        {"value": "c", "count": 1},
    ]
    times, unit = queries.time_histogram(engine, loaded, "CREATION_TIMESTAMP")
    assert unit == "day" and times["rows"].to_list() == [1, 2, 2]
    bins = queries.numeric_histogram(engine, loaded, "PRICE", bins=3)
    assert bins["rows"].to_list() == [3, 0, 1] and bins["low"][0] == 1.0
    with pytest.raises(InvalidInputException, match="no field 'NOPE'"):
        queries.top_values(engine, loaded, "NOPE")
    with pytest.raises(InvalidInputException, match="not numeric"):
        queries.numeric_histogram(engine, loaded, "GENRE")


def test_profile_of_an_empty_dataset(engine, interactions):
    frame = queries.profile(engine, interactions)
    assert frame["rows"].to_list() == [0] * frame.height
    assert frame["distinct"].to_list() == [0] * frame.height
    assert frame["null_share"].to_list() == [0.0] * frame.height
    times, _ = queries.time_histogram(engine, interactions, "TIMESTAMP")
    assert times.is_empty()
    assert queries.numeric_histogram(engine, interactions, "EVENT_VALUE").is_empty()


def test_time_unit_grows_with_the_span():
    assert queries.time_unit(0, 100 * DAY) == "day"
    assert queries.time_unit(0, 400 * DAY) == "week"
    assert queries.time_unit(0, 1000 * DAY) == "month"


# --------------------------------------------------------------------------- charts


def test_completeness_bars_colour_full_optional_and_required_gaps(engine, loaded):
    frame = queries.profile(engine, loaded)
    bar = completeness_bars(frame).data[0]
    assert list(bar.y) == ["ITEM_ID", "GENRE", "PRICE", "CREATION_TIMESTAMP"]
    assert list(bar.x) == pytest.approx([1.0, 0.8, 0.8, 1.0])
    assert list(bar.marker.color) == [GOOD, OPTIONAL, OPTIONAL, GOOD]
    assert bar.text[1] == "80.0% filled · 3 distinct"
    required_gap = frame.with_columns(nullable=pl.lit(False))
    assert completeness_bars(required_gap).data[0].marker.color[1] == POOR


def test_completeness_bars_of_no_rows_say_so(engine, interactions):
    figure = completeness_bars(queries.profile(engine, interactions))
    assert not figure.data and figure.layout.annotations[0].text == "No rows yet"


def test_top_values_bar_lists_the_most_frequent_first():
    top = pl.DataFrame({"value": ["view", "purchase"], "count": [90, 10]})
    bar = top_values_bar(top, "EVENT_TYPE", rows=100).data[0]
    assert list(bar.y) == ["view", "purchase"] and list(bar.x) == [90, 10]
    assert bar.text[0] == "90 (90.0%)"
    empty = top_values_bar(top.clear(), "EVENT_TYPE", rows=0)
    assert empty.layout.annotations[0].text == "EVENT_TYPE has no values yet"


def test_histogram_charts(engine, loaded):
    times, unit = queries.time_histogram(engine, loaded, "CREATION_TIMESTAMP")
    bar = time_histogram_chart(times, unit, "CREATION_TIMESTAMP").data[0]
    assert list(bar.y) == [1, 2, 2]
    bins = queries.numeric_histogram(engine, loaded, "PRICE", bins=3)
    bar = numeric_histogram_chart(bins, "PRICE").data[0]
    assert list(bar.y) == [3, 0, 1] and bar.width[0] == pytest.approx(3.0)
    assert not numeric_histogram_chart(bins.clear(), "PRICE").data
    assert not time_histogram_chart(times.clear(), "day", "TIMESTAMP").data


def test_profile_table_reads_like_a_report(engine, loaded):
    table = by_field(profile_table(queries.profile(engine, loaded)))
    assert table["GENRE"]["type"] == "string · nullable · categorical"
    assert table["GENRE"]["top values"] == "a (3), b (2), c (1)"
    assert table["GENRE"]["filled"] == pytest.approx(0.8)
    assert table["CREATION_TIMESTAMP"]["min"] == "2023-11-14"
    assert table["CREATION_TIMESTAMP"]["top values"] == ""  # times: see the histogram
    assert (table["PRICE"]["min"], table["PRICE"]["median"]) == ("1", "2.50")

"""Import jobs: sources, FULL vs INCREMENTAL, every kind of bad row, the id map (issue 2)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from engine import Engine, InvalidInputException, ResourceNotFoundException
from tests.helpers import (
    HEADER,
    ITEMS_SCHEMA,
    USERS_SCHEMA,
    dataset_rows,
    interaction_rows,
    make_dataset,
    run_import,
    write_csv,
)


def test_good_csv_imports_every_row_and_goes_active(engine, interactions, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(1200))
    job = run_import(engine, interactions, str(path), "j1")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert "failureReason" not in job
    assert dataset_rows(engine, interactions) == 1200


def test_status_starts_pending_and_job_is_listed(engine, interactions, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(10))
    arn = engine.create_dataset_import_job(
        jobName="j", datasetArn=interactions, dataSource={"dataLocation": str(path)}
    )["datasetImportJobArn"]
    first = engine.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
    assert first["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    assert first["importMode"] == "FULL"
    engine.wait_for(arn)
    listed = engine.list_dataset_import_jobs(datasetArn=interactions)["datasetImportJobs"]
    assert [j["datasetImportJobArn"] for j in listed] == [arn]
    assert listed[0]["status"] == "ACTIVE"
    assert arn == "arn:aws:personalize:us-east-1:000000000000:dataset-import-job/j"


def test_columns_may_come_in_any_order_and_nullable_ones_may_be_missing(
    engine, interactions, tmp_path
):
    rows = [[r[2], r[1], r[0], r[3]] for r in interaction_rows(20)]
    path = write_csv(tmp_path / "i.csv", ["TIMESTAMP", "ITEM_ID", "USER_ID", "EVENT_TYPE"], rows)
    assert run_import(engine, interactions, str(path), "j")["status"] == "ACTIVE"
    with engine.store.cursor() as cur:
        ds = engine.catalog.require(interactions, "dataset")
        got = cur.execute(f'SELECT "USER_ID", "DEVICE" FROM ds_{ds.id} LIMIT 1').fetchone()
    assert got == ("u0", None)


@pytest.mark.parametrize("form", ["s3", "file", "folder", "s3-folder"])
def test_sources_s3_file_url_and_folders(engine, interactions, form):
    data_dir = engine.data_dir
    bucket = data_dir / "s3" / "my-bucket" / "exports"
    write_csv(bucket / "part-1.csv", HEADER, interaction_rows(30))
    write_csv(bucket / "part-2.csv", HEADER, interaction_rows(20, start=1_800_000_000))
    (bucket / "notes.txt").write_text("not data")
    location, expected = {
        "s3": ("s3://my-bucket/exports/part-1.csv", 30),
        "file": (f"file://{bucket / 'part-2.csv'}", 20),
        "folder": (str(bucket), 50),
        "s3-folder": ("s3://my-bucket/exports/", 50),
    }[form]
    job = run_import(engine, interactions, location, "j")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert job["dataSource"]["dataLocation"] == location
    assert dataset_rows(engine, interactions) == expected


def test_parquet_imports(engine, interactions, tmp_path):
    csv_path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(100))
    parquet = tmp_path / "i.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{parquet}' (FORMAT parquet)")
    assert run_import(engine, interactions, str(parquet), "j")["status"] == "ACTIVE"
    assert dataset_rows(engine, interactions) == 100


def test_parquet_with_bad_values_imports_nothing_and_names_the_row(engine, interactions, tmp_path):
    parquet = tmp_path / "bad.parquet"
    duckdb.sql(
        "COPY (SELECT 'u' || i AS USER_ID, 'i1' AS ITEM_ID, "
        "CASE WHEN i = 7 THEN 'soon' ELSE CAST(1700000000 + i AS VARCHAR) END AS TIMESTAMP, "
        f"'view' AS EVENT_TYPE FROM range(20) t(i)) TO '{parquet}' (FORMAT parquet)"
    )
    job = run_import(engine, interactions, str(parquet), "j")
    assert job["status"] == "CREATE FAILED"
    assert "1 of 20 rows" in job["failureReason"]
    assert "row 8" in job["failureReason"] and "TIMESTAMP" in job["failureReason"]
    assert dataset_rows(engine, interactions) == 0


BAD_ROWS = {
    "too few columns": (["u1", "i1", "1700000000"], "wrong number of columns", None),
    "too many columns": (
        ["u1", "i1", "1700000000", "view", "", "mobile", "x"],
        "wrong number of columns",
        None,
    ),
    "not a long": (["u1", "i1", "yesterday", "view", "", "mobile"], "TIMESTAMP", "yesterday"),
    "not a float": (["u1", "i1", "1700000000", "view", "cheap", "mobile"], "EVENT_VALUE", "cheap"),
    "empty USER_ID": (
        ["", "i1", "1700000000", "view", "", "mobile"],
        "USER_ID",
        "must not be empty",
    ),
    "empty TIMESTAMP": (["u1", "i1", "", "view", "", "mobile"], "TIMESTAMP", "must not be empty"),
    "id over 256": (
        ["u" * 257, "i1", "1700000000", "view", "", "mobile"],
        "USER_ID",
        "at most 256 characters",
    ),
    "milliseconds": (
        ["u1", "i1", "1700000000000", "view", "", "mobile"],
        "TIMESTAMP",
        "epoch seconds",
    ),
    "negative timestamp": (["u1", "i1", "-5", "view", "", "mobile"], "TIMESTAMP", "epoch seconds"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_each_kind_of_bad_row_fails_the_job_and_imports_nothing(
    engine, interactions, tmp_path, case
):
    bad_row, column, detail = BAD_ROWS[case]
    rows = interaction_rows(40)
    rows.insert(25, bad_row)  # data line 26 -> file line 27 (the header is line 1)
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)
    job = run_import(engine, interactions, str(path), "j")
    assert job["status"] == "CREATE FAILED"
    reason = job["failureReason"]
    assert "1 of 41 rows are invalid" in reason
    assert "nothing was imported" in reason
    assert "line 27" in reason, reason
    assert column in reason, reason
    if detail:
        assert detail in reason, reason
    assert dataset_rows(engine, interactions) == 0


def test_failure_report_counts_all_bad_rows_and_lists_the_first(engine, interactions, tmp_path):
    rows = interaction_rows(100)
    for i in range(0, 100, 4):
        rows[i][2] = "x"
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)
    job = run_import(engine, interactions, str(path), "j")
    assert "25 of 100 rows are invalid" in job["failureReason"]
    assert "line 2," in job["failureReason"] and "line 6," in job["failureReason"]


def test_failed_full_import_keeps_the_previous_data(engine, interactions, tmp_path):
    good = write_csv(tmp_path / "good.csv", HEADER, interaction_rows(50))
    assert run_import(engine, interactions, str(good), "first")["status"] == "ACTIVE"
    rows = interaction_rows(80)
    rows[70][0] = ""
    bad = write_csv(tmp_path / "bad.csv", HEADER, rows)
    assert run_import(engine, interactions, str(bad), "second")["status"] == "CREATE FAILED"
    assert dataset_rows(engine, interactions) == 50


@pytest.mark.parametrize(
    "header, message",
    [
        (["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "COLOR"], "'COLOR' is not a field"),
        (["USER_ID", "ITEM_ID", "EVENT_TYPE"], "required column(s) TIMESTAMP missing"),
        (["user_id", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], "did you mean 'USER_ID'"),
        (["USER_ID", "USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], "appears twice"),
    ],
)
def test_header_must_match_the_schema(engine, interactions, tmp_path, header, message):
    path = write_csv(tmp_path / "h.csv", header, [["a"] * len(header)])
    job = run_import(engine, interactions, str(path), "j")
    assert job["status"] == "CREATE FAILED"
    assert message in job["failureReason"]


def test_full_replaces_and_incremental_appends(engine, interactions, tmp_path):
    a = write_csv(tmp_path / "a.csv", HEADER, interaction_rows(30))
    b = write_csv(tmp_path / "b.csv", HEADER, interaction_rows(20, start=1_800_000_000))
    run_import(engine, interactions, str(a), "a")
    assert dataset_rows(engine, interactions) == 30
    run_import(engine, interactions, str(b), "b", mode="INCREMENTAL")
    assert dataset_rows(engine, interactions) == 50
    run_import(engine, interactions, str(b), "c", mode="FULL")
    assert dataset_rows(engine, interactions) == 20


def test_full_import_keeps_rows_that_arrived_as_events(engine, interactions, tmp_path):
    ds = engine.catalog.require(interactions, "dataset")
    with engine.store.cursor() as cur:
        cur.execute(
            f'INSERT INTO ds_{ds.id} ("USER_ID", "ITEM_ID", "TIMESTAMP", '
            '"EVENT_TYPE", _source, _job, _loaded_at) '
            "VALUES ('u9', 'i9', 1700000000, 'view', 'event', NULL, 0)"
        )
    path = write_csv(tmp_path / "a.csv", HEADER, interaction_rows(10))
    run_import(engine, interactions, str(path), "a")
    run_import(engine, interactions, str(path), "b", mode="FULL")
    assert dataset_rows(engine, interactions) == 11


def test_users_and_items_incremental_replaces_rows_by_id(engine, group, tmp_path):
    items = make_dataset(engine, group, "Items", ITEMS_SCHEMA)
    header = ["ITEM_ID", "CATEGORY", "PRICE", "CREATION_TIMESTAMP", "DESCRIPTION"]
    first = write_csv(
        tmp_path / "a.csv",
        header,
        [["i1", "shoes", "10.5", 1700000000, "red shoe"], ["i2", "hats|caps", "5", 1700000000, ""]],
    )
    second = write_csv(tmp_path / "b.csv", header, [["i2", "hats", "7.25", 1700000100, "cap"]])
    run_import(engine, items, str(first), "a")
    run_import(engine, items, str(second), "b", mode="INCREMENTAL")
    ds = engine.catalog.require(items, "dataset")
    with engine.store.cursor() as cur:
        rows = cur.execute(f'SELECT "ITEM_ID", "PRICE" FROM ds_{ds.id} ORDER BY 1').fetchall()
    assert rows == [("i1", 10.5), ("i2", 7.25)]


def test_duplicate_ids_in_one_users_import_are_rejected(engine, group, tmp_path):
    users = make_dataset(engine, group, "Users", USERS_SCHEMA)
    path = write_csv(
        tmp_path / "u.csv",
        ["USER_ID", "AGE_BAND"],
        [["u1", "18-24"], ["u2", "55+"], ["u1", "25-34"]],
    )
    job = run_import(engine, users, str(path), "u")
    assert job["status"] == "CREATE FAILED"
    assert "'u1' appears more than once" in job["failureReason"]


def test_id_map_gives_stable_dense_ids_across_imports(engine, interactions, group, tmp_path):
    from engine.idmap import IdMap
    from engine.store import id_map

    a = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [["b", "x", 1700000000, "view", "", ""], ["a", "y", 1700000001, "view", "", ""]],
    )
    b = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [["c", "x", 1700000002, "view", "", ""], ["a", "z", 1700000003, "view", "", ""]],
    )
    run_import(engine, interactions, str(a), "a")
    run_import(engine, interactions, str(b), "b", mode="INCREMENTAL")
    gid = engine.catalog.require(group, "dataset-group").id
    with engine.store.cursor() as cur:
        users = IdMap(id_map.load(cur, gid, "USER"))
        items = IdMap(id_map.load(cur, gid, "ITEM"))
    assert users.external_ids == ["a", "b", "c"]
    assert items.external_ids == ["x", "y", "z"]
    assert users.dense("c") == 2 and users.dense("nobody") is None
    assert list(items.dense_many(["z", "q", "x"])) == [2, -1, 0]
    assert users.external([1, 0]) == ["b", "a"]


def test_bad_locations_are_rejected_at_once(engine, interactions):
    with pytest.raises(InvalidInputException, match="no such file"):
        engine.create_dataset_import_job(
            jobName="j", datasetArn=interactions, dataSource={"dataLocation": "s3://nobucket/x.csv"}
        )
    with pytest.raises(InvalidInputException, match="http"):
        engine.create_dataset_import_job(
            jobName="j",
            datasetArn=interactions,
            dataSource={"dataLocation": "https://example.com/x"},
        )
    with pytest.raises(InvalidInputException, match="importMode"):
        engine.create_dataset_import_job(
            jobName="j",
            datasetArn=interactions,
            dataSource={"dataLocation": "/tmp"},
            importMode="SOMETIMES",
        )
    with pytest.raises(ResourceNotFoundException):
        engine.create_dataset_import_job(
            jobName="j",
            dataSource={"dataLocation": "/tmp"},
            datasetArn="arn:aws:personalize:us-east-1:000000000000:dataset/none/INTERACTIONS",
        )


def test_readiness_report(engine, interactions, group, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(1000, users=30))
    run_import(engine, interactions, str(path), "j")
    report = engine.get_data_readiness(datasetGroupArn=group)
    assert report["interactions"] == 1000
    assert report["users"] == 30 and report["items"] == 40
    assert report["usersWithAtLeast2Interactions"] == 30
    assert report["eventTypes"] == {"view": 600, "add_to_cart": 200, "purchase": 200}
    assert report["firstTimestamp"] == 1_700_000_000
    assert report["lastTimestamp"] == 1_700_000_000 + 999 * 60
    assert report["readyToTrain"] is True
    assert all(c["passed"] for c in report["checks"])


def test_readiness_report_says_what_is_missing(engine, interactions, group, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(999, users=20))
    run_import(engine, interactions, str(path), "j")
    report = engine.get_data_readiness(datasetGroupArn=group)
    assert report["readyToTrain"] is False
    messages = " ".join(c["message"] for c in report["checks"])
    assert "only 999 interactions" in messages and "1 more" in messages
    assert "only 20 users with at least 2 interactions" in messages and "5 more" in messages


def test_event_timeline(engine, interactions, group, tmp_path):
    path = write_csv(tmp_path / "i.csv", HEADER, interaction_rows(2880))  # two days of minutes
    run_import(engine, interactions, str(path), "j")
    timeline = engine.get_event_timeline(datasetGroupArn=group)
    assert timeline["events"].sum() == 2880
    assert set(timeline["event_type"]) == {"view", "add_to_cart", "purchase"}


def test_interrupted_jobs_are_failed_when_the_directory_is_reopened(tmp_path):
    with Engine(tmp_path / "d") as engine:
        group = engine.create_dataset_group(name="g")["datasetGroupArn"]
        schema = json.dumps(
            {
                "type": "record",
                "name": "I",
                "fields": [
                    {"name": "USER_ID", "type": "string"},
                    {"name": "ITEM_ID", "type": "string"},
                    {"name": "TIMESTAMP", "type": "long"},
                ],
            }
        )
        s = engine.create_schema(name="s", schema=schema)["schemaArn"]
        d = engine.create_dataset(
            name="d", schemaArn=s, datasetGroupArn=group, datasetType="Interactions"
        )["datasetArn"]
        job = engine.catalog.insert(
            "dataset-import-job",
            "arn:job/x",
            "x",
            parent_arn=d,
            status="CREATE IN_PROGRESS",
            spec={"dataLocation": "/x", "importMode": "FULL"},
        )
    with Engine(tmp_path / "d") as engine:
        again = engine.catalog.get(job.arn)
        assert again.status == "CREATE FAILED"
        assert "Interrupted" in again.failure_reason


def test_sample_schemas_and_files_import_cleanly(tmp_path):
    from engine.sample_data import SAMPLE_DIR, load_sample

    if not (SAMPLE_DIR / "interactions.csv").exists():
        pytest.skip("data/sample not generated")
    seen: list[str] = []
    with Engine(tmp_path / "d") as engine:
        group = load_sample(engine, SAMPLE_DIR, on_progress=lambda job, f: seen.append(job))
        report = engine.get_data_readiness(datasetGroupArn=group)
        gid = engine.catalog.require(group, "dataset-group").id
        with engine.store.cursor() as cur:
            id_counts = cur.execute(
                "SELECT entity, count(*), count(DISTINCT external_id), max(dense_id) + 1 "
                "FROM id_map WHERE dataset_group_id = ? GROUP BY 1 ORDER BY 1",
                [gid],
            ).fetchall()
    # the three imports ran concurrently: each id got exactly one dense id, 0..n-1
    assert id_counts == [("ITEM", 1000, 1000, 1000), ("USER", 4000, 4000, 4000)]
    assert report["readyToTrain"]
    assert report["datasets"]["USERS"] >= 3000 and report["datasets"]["ITEMS"] >= 500
    assert report["interactions"] >= 100_000
    assert set(report["eventTypes"]) == {"view", "add_to_cart", "purchase"}
    assert {"sample-interactions-initial", "sample-users-initial"} <= set(seen)


def test_dataset_files_are_closed_path_objects(tmp_path):
    # guard for the helper used everywhere above
    assert isinstance(write_csv(tmp_path / "x.csv", ["A"], [[1]]), Path)


def test_id_map_takes_ids_from_events_too(engine, interactions, group, tmp_path):
    from engine.store import id_map

    path = write_csv(tmp_path / "a.csv", HEADER, [["u1", "i1", 1700000000, "view", "", ""]])
    run_import(engine, interactions, str(path), "a")
    gid = engine.catalog.require(group, "dataset-group").id
    with engine.store.cursor() as cur:
        assert id_map.extend_with_values(cur, gid, "USER", ["u3", "u1", "u2", "u3"]) == 2
        assert id_map.load(cur, gid, "USER") == ["u1", "u2", "u3"]
        assert id_map.extend_with_values(cur, gid, "ITEM", []) == 0

"""The store: versioned migrations, transactions, the directory lock in one process (issue 2)."""

from __future__ import annotations

import duckdb
import pytest

from engine import DataDirectoryLocked, Engine
from engine.config import Settings
from engine.store.connection import DB_FILE, Store, migration_files


def test_migrations_are_numbered_and_applied_once(tmp_path):
    versions = [v for v, _, _ in migration_files()]
    assert versions == sorted(set(versions)) and versions[0] == 1
    store = Store(tmp_path, Settings())
    try:
        assert store.migrate() == []  # already applied by the constructor
        with store.cursor() as cur:
            applied = [
                r[0]
                for r in cur.execute(
                    "SELECT version FROM schema_migrations ORDER BY version"
                ).fetchall()
            ]
        assert applied == versions
    finally:
        store.close()
    store = Store(tmp_path, Settings())
    try:
        assert store.migrate() == []
    finally:
        store.close()


def test_transaction_rolls_back_everything_on_error(tmp_path):
    store = Store(tmp_path, Settings())
    try:
        with pytest.raises(RuntimeError), store.transaction() as cur:
            cur.execute("CREATE TABLE t (x INTEGER)")
            cur.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("boom")
        with store.cursor() as cur:
            assert (
                cur.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'"
                ).fetchone()[0]
                == 0
            )
    finally:
        store.close()


def test_a_second_engine_in_the_same_process_is_refused_too(tmp_path):
    with Engine(tmp_path) as first:
        first.create_dataset_group(name="g")
        with pytest.raises(DataDirectoryLocked, match="in use by process"):
            Engine(tmp_path)
    with Engine(tmp_path) as again:  # released on close, data kept
        assert [g["name"] for g in again.list_dataset_groups()["datasetGroups"]] == ["g"]


def test_the_database_is_a_plain_duckdb_file(tmp_path):
    with Engine(tmp_path) as engine:
        engine.create_dataset_group(name="readable")
    con = duckdb.connect(str(tmp_path / DB_FILE), read_only=True)
    try:
        names = con.execute("SELECT name FROM resources").fetchall()
    finally:
        con.close()
    assert names == [("readable",)]


def test_settings_are_validated():
    with pytest.raises(ValueError, match="region"):
        Settings(region="mars")
    with pytest.raises(ValueError, match="12 digits"):
        Settings(account_id="42")
    with pytest.raises(ValueError, match="memory_limit"):
        Settings(memory_limit="lots")


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("TAILOR_REGION", "eu-west-1")
    monkeypatch.setenv("TAILOR_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("TAILOR_MEMORY_LIMIT", "1GB")
    settings = Settings.from_env()
    assert (settings.region, settings.account_id, settings.memory_limit) == (
        "eu-west-1",
        "123456789012",
        "1GB",
    )

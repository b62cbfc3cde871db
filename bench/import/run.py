"""Benchmark: a 1,000,000-row interactions CSV through a Tailor import job vs DuckDB alone.

Both sides read the same file into a table of a DuckDB database file on disk, and both stop
the clock when the data is committed (durable):
- Tailor: create_dataset_import_job (header check, typed read with reject capture, value
  rules, id map, catalog update, all in one transaction) until the job is ACTIVE;
- DuckDB: `CREATE TABLE t AS SELECT * FROM read_csv(file, columns = {...})` in a fresh file.

Run: `make bench-import` or `.venv/bin/python bench/import/run.py [--rows N] [--repeat K]`.
Prints both times (best of K) and the ratio; the goal is a ratio within 1.5x.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import Engine  # noqa: E402
from engine.datasets.avro import parse_schema  # noqa: E402

SCHEMA_TEXT = (ROOT / "data" / "sample" / "interactions.schema.json").read_text()
SCHEMA = json.loads(SCHEMA_TEXT)
# DuckDB's side reads the same columns with the types Tailor stores them as.
COLUMNS = {f.name: f.duckdb_type for f in parse_schema(SCHEMA_TEXT)}


def generate(path: Path, rows: int) -> None:
    """A realistic interactions file with the sample schema's columns (seeded, via DuckDB)."""
    duckdb.sql("SELECT setseed(0.42)")
    duckdb.sql(f"""
        COPY (
          SELECT 'u' || lpad(CAST(CAST(floor(pow(random(), 2) * 60000) AS INT) AS VARCHAR), 6, '0')
                   AS USER_ID,
                 'i' || lpad(CAST(CAST(floor(pow(random(), 3) * 20000) AS INT) AS VARCHAR), 5, '0')
                   AS ITEM_ID,
                 1748736000 + i * 15 AS TIMESTAMP,
                 CASE WHEN i % 20 = 0 THEN 'purchase' WHEN i % 8 = 0 THEN 'add_to_cart'
                      ELSE 'view' END AS EVENT_TYPE,
                 CASE WHEN i % 20 = 0 THEN round(random() * 200, 2) END AS EVENT_VALUE,
                 CASE i % 3 WHEN 0 THEN 'mobile' WHEN 1 THEN 'desktop' ELSE 'tablet' END
                   AS DEVICE,
                 CASE (i // 240) % 4 WHEN 0 THEN 'night' WHEN 1 THEN 'morning'
                      WHEN 2 THEN 'afternoon' ELSE 'evening' END AS TIME_OF_DAY,
                 NULL AS IMPRESSION, NULL AS RECOMMENDATION_ID, NULL AS EVENT_ATTRIBUTION_SOURCE
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')""")


def time_tailor(csv_path: Path, work: Path) -> tuple[float, int]:
    data_dir = work / "tailor"
    shutil.rmtree(data_dir, ignore_errors=True)
    with Engine(data_dir) as engine:
        group = engine.create_dataset_group(name="bench")["datasetGroupArn"]
        schema = engine.create_schema(name="bench", schema=json.dumps(SCHEMA))["schemaArn"]
        dataset = engine.create_dataset(
            name="bench", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
        )["datasetArn"]
        start = time.perf_counter()
        job = engine.create_dataset_import_job(
            jobName="bench",
            datasetArn=dataset,
            dataSource={"dataLocation": str(csv_path)},
        )["datasetImportJobArn"]
        result = engine.wait_for(job, timeout=3600)
        elapsed = time.perf_counter() - start
        assert result["status"] == "ACTIVE", result
        rows = engine.get_data_readiness(datasetGroupArn=group)["interactions"]
    return elapsed, rows


def time_duckdb(csv_path: Path, work: Path) -> tuple[float, int]:
    db = work / "plain.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    spec = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
    start = time.perf_counter()
    con.execute(
        f"CREATE TABLE t AS SELECT * FROM read_csv('{csv_path}', header = true, "
        f"columns = {{{spec}}})"
    )
    elapsed = time.perf_counter() - start
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tailor-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "interactions.csv"
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows, {size_mb:.1f} MB; best of {args.repeat} runs")
        tailor, duck = [], []
        for _ in range(args.repeat):
            t, n = time_tailor(csv_path, work)
            assert n == args.rows, n
            tailor.append(t)
            d, m = time_duckdb(csv_path, work)
            assert m == args.rows, m
            duck.append(d)
        best_t, best_d = min(tailor), min(duck)
        print(f"tailor import job : {best_t:6.2f} s  ({args.rows / best_t:,.0f} rows/s)")
        print(f"duckdb read_csv   : {best_d:6.2f} s  ({args.rows / best_d:,.0f} rows/s)")
        print(f"ratio tailor/duckdb: {best_t / best_d:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()

"""Dataset tables: one DuckDB table per dataset, its schema's fields plus bookkeeping columns.

`_source` says how a row arrived ('import' for import jobs, 'event' for real-time events),
`_job` which import job wrote it; event rows also keep `_event_id` (for de-duplication),
`_session_id` (to join anonymous events to the user later) and `_recommendation_id`.
Everything here runs on the caller's cursor, so an import job does its whole work inside one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.datasets.avro import SchemaField
from engine.datasets.rules import ValueRule, quote

SOURCE_IMPORT = "import"
SOURCE_EVENT = "event"
EXAMPLES = 10


def table_name(dataset_id: int) -> str:
    """The table of the dataset with catalog id `dataset_id`."""
    return f"ds_{int(dataset_id)}"


@dataclass(frozen=True)
class BadRow:
    """One row an import rejects: where it is and what is wrong."""

    file: str
    line: int | None
    column: str | None
    reason: str
    row: int | None = None

    def describe(self) -> str:
        """`file line N, column C: reason` (Parquet files have rows, not lines)."""
        if self.line is not None:
            where = f" line {self.line}"
        elif self.row is not None:
            where = f" row {self.row}"
        else:
            where = ""
        column = f", column {self.column}" if self.column else ""
        return f"{Path(self.file).name}{where}{column}: {self.reason}"


def create_table(cur: Any, dataset_id: int, fields: list[SchemaField]) -> None:
    """Create the dataset's table."""
    columns = ", ".join(f"{quote(f.name)} {f.duckdb_type}" for f in fields)
    cur.execute(
        f"CREATE TABLE {table_name(dataset_id)} ({columns}, "
        "_source VARCHAR NOT NULL, _job BIGINT, _loaded_at DOUBLE NOT NULL, "
        "_event_id VARCHAR, _session_id VARCHAR, _recommendation_id VARCHAR)"
    )


def add_event_columns(cur: Any, dataset_id: int) -> None:
    """Tables created before real-time events existed get the event bookkeeping columns."""
    for name in ("_event_id", "_session_id", "_recommendation_id"):
        cur.execute(f"ALTER TABLE {table_name(dataset_id)} ADD COLUMN IF NOT EXISTS {name} VARCHAR")


def drop_table(cur: Any, dataset_id: int) -> None:
    """Drop the dataset's table if it exists."""
    cur.execute(f"DROP TABLE IF EXISTS {table_name(dataset_id)}")


def csv_options(columns: dict[str, str], rejects: str) -> str:
    """read_csv arguments: strict RFC 4180 CSV with a header and explicit column types."""
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return (
        "header = true, delim = ',', quote = '\"', escape = '\"', auto_detect = false, "
        f"columns = {{{spec}}}, store_rejects = true, "
        f"rejects_table = '{rejects}', rejects_scan = '{rejects}_scan'"
    )


def load_csv(
    cur: Any,
    dataset_id: int,
    path: Path,
    header: list[str],
    fields: list[SchemaField],
    job_id: int,
    rejects: str,
    loaded_at: float,
) -> int:
    """Append a CSV file's rows (columns in `header` order); bad rows go to `rejects`."""
    types = {f.name: f.duckdb_type for f in fields}
    columns = {name: types[name] for name in header}
    target = ", ".join(quote(n) for n in header)
    select = ", ".join(quote(n) for n in header)
    row = cur.execute(
        f"INSERT INTO {table_name(dataset_id)} ({target}, _source, _job, _loaded_at) "
        f"SELECT {select}, '{SOURCE_IMPORT}', ?, ? "
        f"FROM read_csv(?, {csv_options(columns, rejects)})",
        [job_id, loaded_at, str(path)],
    ).fetchall()[0]
    return int(row[0])


def csv_rejects(cur: Any, rejects: str, path: Path) -> tuple[int, list[BadRow]]:
    """How many lines DuckDB's reader rejected, and the first few, from a `load_csv` run."""
    count = cur.execute(f"SELECT count(DISTINCT line) FROM {rejects}").fetchall()[0][0]
    rows = cur.execute(
        f"SELECT line, column_name, error_type, error_message, csv_line FROM {rejects} "
        f"ORDER BY line LIMIT {EXAMPLES}"
    ).fetchall()
    examples = [
        BadRow(
            str(path),
            int(line),
            column if kind == "CAST" else None,
            _reject_reason(str(kind), message, csv_line),
        )
        for line, column, kind, message, csv_line in rows
    ]
    return int(count), examples


def _reject_reason(kind: str, message: str, csv_line: str | None) -> str:
    if kind == "CAST":
        return message.replace("Error when converting column", "cannot convert column")
    if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        return (
            f"wrong number of columns ({message.replace('Expected Number of Columns', 'expected')})"
        )
    return f"{kind.lower()}: {message}"


def parquet_columns(cur: Any, path: Path) -> list[str]:
    """The column names of a Parquet file."""
    rows = cur.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    return [r[0] for r in rows]


def parquet_problems(
    cur: Any,
    path: Path,
    header: list[str],
    fields: list[SchemaField],
    rules: list[ValueRule],
) -> tuple[int, int, list[BadRow]]:
    """(bad rows, all rows, first bad rows) of a Parquet file: values that do not convert to
    the schema's types or break a rule."""
    by_name = {f.name: f for f in fields}
    checks: list[tuple[str, str, str]] = []
    for name in header:
        src, typed = quote(name), f"TRY_CAST({quote(name)} AS {by_name[name].duckdb_type})"
        checks.append(
            (
                name,
                f"{src} IS NOT NULL AND {typed} IS NULL",
                f"value does not convert to {by_name[name].type}",
            )
        )
    for rule in rules:
        if rule.field in header:
            typed = f"TRY_CAST({quote(rule.field)} AS {by_name[rule.field].duckdb_type})"
            checks.append((rule.field, rule.sql(typed), rule.rule))
    for name in {f.name for f in fields if not f.nullable} - set(header):
        checks.append((name, "true", "is required and the file has no such column"))
    any_bad = " OR ".join(f"coalesce({sql}, false)" for _, sql, _ in checks) or "false"
    source = "read_parquet(?, file_row_number = true)"
    count, total = cur.execute(
        f"SELECT count(*) FILTER (WHERE {any_bad}), count(*) FROM {source}", [str(path)]
    ).fetchall()[0]
    if not count:
        return 0, int(total), []
    cases = " ".join(
        f"WHEN coalesce({sql}, false) THEN '{i}'" for i, (_, sql, _) in enumerate(checks)
    )
    rows = cur.execute(
        f"SELECT file_row_number, CASE {cases} END FROM {source} WHERE {any_bad} "
        f"ORDER BY file_row_number LIMIT {EXAMPLES}",
        [str(path)],
    ).fetchall()
    examples = [
        BadRow(str(path), None, checks[int(i)][0], checks[int(i)][2], row=int(n) + 1)
        for n, i in rows
    ]
    return int(count), int(total), examples


def load_parquet(
    cur: Any,
    dataset_id: int,
    path: Path,
    header: list[str],
    fields: list[SchemaField],
    job_id: int,
    loaded_at: float,
) -> int:
    """Append a (checked) Parquet file's rows, cast to the schema's types."""
    by_name = {f.name: f for f in fields}
    target = ", ".join(quote(n) for n in header)
    select = ", ".join(f"CAST({quote(n)} AS {by_name[n].duckdb_type})" for n in header)
    row = cur.execute(
        f"INSERT INTO {table_name(dataset_id)} ({target}, _source, _job, _loaded_at) "
        f"SELECT {select}, '{SOURCE_IMPORT}', ?, ? FROM read_parquet(?)",
        [job_id, loaded_at, str(path)],
    ).fetchall()[0]
    return int(row[0])


def rule_violations(cur: Any, dataset_id: int, rules: list[ValueRule], job_id: int) -> int:
    """How many rows written by import job `job_id` break at least one rule."""
    if not rules:
        return 0
    any_bad = " OR ".join(f"coalesce({r.sql(quote(r.field))}, false)" for r in rules)
    return int(
        cur.execute(
            f"SELECT count(*) FROM {table_name(dataset_id)} WHERE _job = ? AND ({any_bad})",
            [job_id],
        ).fetchall()[0][0]
    )


def delete_previous_imports(cur: Any, dataset_id: int, job_id: int) -> int:
    """FULL import: remove rows of earlier import jobs (real-time event rows stay)."""
    row = cur.execute(
        f"DELETE FROM {table_name(dataset_id)} WHERE _source = '{SOURCE_IMPORT}' AND _job <> ?",
        [job_id],
    ).fetchall()[0]
    return int(row[0]) if row else 0


def replace_existing_ids(cur: Any, dataset_id: int, id_field: str, job_id: int) -> int:
    """Users/Items: drop older rows whose id the import `job_id` brings again (newest wins)."""
    table, col = table_name(dataset_id), quote(id_field)
    row = cur.execute(
        f"DELETE FROM {table} WHERE (_job IS NULL OR _job <> ?) AND {col} IN "
        f"(SELECT {col} FROM {table} WHERE _job = ?)",
        [job_id, job_id],
    ).fetchall()[0]
    return int(row[0]) if row else 0


def duplicate_ids(cur: Any, dataset_id: int, id_field: str, job_id: int) -> list[str]:
    """Ids that import job `job_id` brings more than once (up to EXAMPLES of them)."""
    col = quote(id_field)
    rows = cur.execute(
        f"SELECT {col} FROM {table_name(dataset_id)} WHERE _job = ? GROUP BY {col} "
        f"HAVING count(*) > 1 ORDER BY {col} LIMIT {EXAMPLES}",
        [job_id],
    ).fetchall()
    return [r[0] for r in rows]


def row_count(cur: Any, dataset_id: int) -> int:
    """All rows of a dataset."""
    return int(cur.execute(f"SELECT count(*) FROM {table_name(dataset_id)}").fetchall()[0][0])


def export_csv(
    cur: Any, dataset_id: int, fields: list[SchemaField], sources: tuple[str, ...], path: Path
) -> int:
    """Write the dataset's rows that arrived by one of `sources` ('import', 'event') to a CSV
    file: a header of the schema's field names, then one line per row (null as empty).
    Returns the number of rows written."""
    columns = ", ".join(quote(f.name) for f in fields)
    wanted = ", ".join("?" for _ in sources)
    row = cur.execute(
        f"COPY (SELECT {columns} FROM {table_name(dataset_id)} WHERE _source IN ({wanted})) "
        "TO ? (HEADER, DELIMITER ',')",
        [*sources, str(path)],
    ).fetchall()[0]
    return int(row[0])

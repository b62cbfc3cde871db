"""Data page queries: what a dataset holds (per-column profile, top values, distributions),
what a file to import holds (a sample read by DuckDB's sniffer), the schema suggested from it,
and the pieces of the import wizard around them (saving an upload, reading a failure report).

Column identifiers spliced into SQL are schema field names (checked Avro names) quoted with
`rules.quote`; a file's own column names never reach SQL (the file sample unpivots with
`COLUMNS(*)`). Every user value is a bound parameter.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import polars as pl

from engine.datasets import sources
from engine.datasets.avro import (
    CATEGORICAL_MAX_LENGTH,
    INTERACTIONS_RESERVED,
    REQUIRED,
    SchemaField,
    parse_schema,
)
from engine.datasets.import_runner import ImportRejected, check_header
from engine.datasets.rules import MAX_TIMESTAMP, quote
from engine.errors import InvalidInputException
from engine.store import data_tables

SAMPLE_ROWS = 1000
TOP_VALUES = 5
TIMESTAMP_FIELDS = ("TIMESTAMP", "CREATION_TIMESTAMP")
BOOKKEEPING = ("_source", "_job", "_loaded_at", "_event_id", "_session_id", "_recommendation_id")


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset of a group: its schema's fields and how many rows it holds."""

    arn: str
    name: str
    dataset_type: str
    schema_arn: str
    schema_name: str
    fields: list[SchemaField]
    rows: int
    event_rows: int


def _dataset(engine: Any, dataset_arn: str) -> tuple[Any, list[SchemaField]]:
    dataset = engine.catalog.require(dataset_arn, "dataset")
    return dataset, engine.dataset_fields(dataset)


def _field(fields: list[SchemaField], name: str) -> SchemaField:
    for f in fields:
        if f.name == name:
            return f
    raise InvalidInputException(f"the dataset has no field {name!r}")


def group_datasets(engine: Any, group_arn: str) -> list[DatasetInfo]:
    """The group's datasets (Interactions, Users, Items order) with fields and row counts."""
    order = {"INTERACTIONS": 0, "USERS": 1, "ITEMS": 2}
    datasets = sorted(
        engine.catalog.list("dataset", group_arn),
        key=lambda d: order.get(d.spec["datasetType"], 9),
    )
    out = []
    with engine.store.cursor() as cur:
        for d in datasets:
            schema = engine.catalog.require(d.spec["schemaArn"], "schema")
            rows, events = cur.sql(
                f"SELECT count(*), count(*) FILTER (WHERE _source = 'event') "
                f"FROM {data_tables.table_name(d.id)}"
            ).fetchall()[0]
            out.append(
                DatasetInfo(
                    d.arn,
                    d.name,
                    d.spec["datasetType"],
                    schema.arn,
                    schema.name,
                    parse_schema(schema.spec["schema"]),
                    int(rows),
                    int(events),
                )
            )
    return out


def fields_frame(fields: list[SchemaField]) -> pl.DataFrame:
    """A schema's fields as a table: field, type, nullable, categorical, textual."""
    return pl.DataFrame(
        {
            "field": [f.name for f in fields],
            "type": [f.type for f in fields],
            "nullable": [f.nullable for f in fields],
            "categorical": [f.categorical for f in fields],
            "textual": [f.textual for f in fields],
        },
        schema={
            "field": pl.Utf8,
            "type": pl.Utf8,
            "nullable": pl.Boolean,
            "categorical": pl.Boolean,
            "textual": pl.Boolean,
        },
    )


# --------------------------------------------------------------------------- profile


def _top_sql(table: str, f: SchemaField) -> str:
    """value, count, distinct_values (number of distinct values) for one field; categorical
    fields count each `|`-separated category on its own."""
    col = quote(f.name)
    value = f"unnest(string_split({col}, '|'))" if f.categorical else col
    return (
        f"SELECT CAST(value AS VARCHAR) AS value, count(*) AS count, "
        f"count(*) OVER () AS distinct_values "
        f"FROM (SELECT {value} AS value FROM {table} WHERE {col} IS NOT NULL) "
        f"GROUP BY value ORDER BY count DESC, value LIMIT $limit"
    )


def profile(engine: Any, dataset_arn: str, top: int = TOP_VALUES) -> pl.DataFrame:
    """One row per schema field: field, type, nullable, categorical, textual, rows, nulls,
    null_share, distinct (for categorical fields: distinct categories), min/median/max
    (numeric fields), top_values (list of {value, count}, most frequent first)."""
    dataset, fields = _dataset(engine, dataset_arn)
    table = data_tables.table_name(dataset.id)
    aggregates = ["count(*)"]
    for i, f in enumerate(fields):
        col = quote(f.name)
        aggregates.append(f"count({col}) AS n{i}")
        if f.is_numeric:
            aggregates += [
                f"CAST(min({col}) AS DOUBLE) AS lo{i}",
                f"CAST(median({col}) AS DOUBLE) AS mid{i}",
                f"CAST(max({col}) AS DOUBLE) AS hi{i}",
            ]
    with engine.store.cursor() as cur:
        row = cur.sql(f"SELECT {', '.join(aggregates)} FROM {table}").fetchall()[0]
        tops = [cur.sql(_top_sql(table, f), params={"limit": top}).pl() for f in fields]
    total, values, position = int(row[0]), row[1:], 0
    records = []
    for f, top_frame in zip(fields, tops, strict=True):
        non_null = int(values[position])
        position += 1
        lo = mid = hi = None
        if f.is_numeric:
            lo, mid, hi = values[position : position + 3]
            position += 3
        records.append(
            {
                "field": f.name,
                "type": f.type,
                "nullable": f.nullable,
                "categorical": f.categorical,
                "textual": f.textual,
                "rows": total,
                "nulls": total - non_null,
                "distinct": int(top_frame["distinct_values"][0]) if top_frame.height else 0,
                "min": lo,
                "median": mid,
                "max": hi,
                "top_values": top_frame.select("value", "count").to_dicts(),
            }
        )
    frame = pl.DataFrame(
        records,
        schema={
            "field": pl.Utf8,
            "type": pl.Utf8,
            "nullable": pl.Boolean,
            "categorical": pl.Boolean,
            "textual": pl.Boolean,
            "rows": pl.Int64,
            "nulls": pl.Int64,
            "distinct": pl.Int64,
            "min": pl.Float64,
            "median": pl.Float64,
            "max": pl.Float64,
            "top_values": pl.List(pl.Struct({"value": pl.Utf8, "count": pl.Int64})),
        },
    )
    return frame.with_columns(
        null_share=pl.when(pl.col("rows") > 0).then(pl.col("nulls") / pl.col("rows")).otherwise(0.0)
    )


def top_values(engine: Any, dataset_arn: str, field: str, limit: int = 20) -> pl.DataFrame:
    """The field's most frequent values (categories, for a categorical field): value, count."""
    dataset, fields = _dataset(engine, dataset_arn)
    f = _field(fields, field)
    with engine.store.cursor() as cur:
        frame = cur.sql(
            _top_sql(data_tables.table_name(dataset.id), f), params={"limit": int(limit)}
        ).pl()
    return frame.select("value", "count")


def time_unit(first: int, last: int) -> str:
    """The bucket of a histogram over [first, last] epoch seconds: day, week or month."""
    days = (last - first) / 86400
    if days <= 120:
        return "day"
    if days <= 730:
        return "week"
    return "month"


def time_histogram(engine: Any, dataset_arn: str, field: str) -> tuple[pl.DataFrame, str]:
    """Rows per day/week/month (UTC) of an epoch-seconds field: (frame(period, rows), unit)."""
    dataset, fields = _dataset(engine, dataset_arn)
    col, table = quote(_field(fields, field).name), data_tables.table_name(dataset.id)
    with engine.store.cursor() as cur:
        first, last = cur.sql(f"SELECT min({col}), max({col}) FROM {table}").fetchall()[0]
        if first is None:
            return pl.DataFrame(schema={"period": pl.Datetime("us"), "rows": pl.Int64}), "day"
        unit = time_unit(int(first), int(last))
        frame = cur.sql(
            f"SELECT date_trunc($unit, to_timestamp({col}) AT TIME ZONE 'UTC') AS period, "
            f"count(*) AS rows FROM {table} WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY 1",
            params={"unit": unit},
        ).pl()
    return frame, unit


def numeric_histogram(engine: Any, dataset_arn: str, field: str, bins: int = 20) -> pl.DataFrame:
    """Equal-width bins of a numeric field: low, high, rows (empty bins included)."""
    dataset, fields = _dataset(engine, dataset_arn)
    f = _field(fields, field)
    if not f.is_numeric:
        raise InvalidInputException(f"field {field!r} is not numeric")
    col, table = quote(f.name), data_tables.table_name(dataset.id)
    with engine.store.cursor() as cur:
        lo, hi = cur.sql(
            f"SELECT CAST(min({col}) AS DOUBLE), CAST(max({col}) AS DOUBLE) FROM {table}"
        ).fetchall()[0]
        empty = pl.DataFrame(schema={"low": pl.Float64, "high": pl.Float64, "rows": pl.Int64})
        if lo is None:
            return empty
        width = (hi - lo) / bins if hi > lo else 1.0
        counts = cur.sql(
            f"SELECT least(CAST(floor(({col} - $lo) / $width) AS BIGINT), $last) AS bin, "
            f"count(*) AS rows FROM {table} WHERE {col} IS NOT NULL GROUP BY 1",
            params={"lo": lo, "width": width, "last": bins - 1},
        ).pl()
    n = bins if hi > lo else 1
    grid = pl.DataFrame({"bin": list(range(n))}, schema={"bin": pl.Int64})
    return (
        grid.join(counts, on="bin", how="left")
        .with_columns(
            low=lo + pl.col("bin") * width,
            high=lo + (pl.col("bin") + 1) * width,
            rows=pl.col("rows").fill_null(0),
        )
        .select("low", "high", "rows")
    )


# --------------------------------------------------------------------------- files to import


@dataclass(frozen=True)
class FileSample:
    """The first rows of a file to import, as DuckDB's sniffer reads them."""

    location: str
    path: Path
    files: int
    is_parquet: bool
    header: list[str]
    rows: int
    columns: pl.DataFrame  # column, sniffed_type, non_null, nulls, distinct, avg_length,
    # max_length, has_pipe, min, max, examples (list of up to 3 values)


def _reader(path: Path) -> str:
    if sources.is_parquet(path):
        return "read_parquet($path)"
    return (
        "read_csv($path, header = true, delim = ',', quote = '\"', escape = '\"', "
        "sample_size = $rows, ignore_errors = true)"
    )


def sample_file(engine: Any, location: str, rows: int = SAMPLE_ROWS) -> FileSample:
    """Read the first `rows` rows of the (first) file at a path, `file://` or `s3://`
    location: its header, the type DuckDB detects for each column, and counts over the
    sample. InvalidInputException (with the reason) if there is no such file or it does not
    read as CSV or Parquet."""
    location = location.strip()
    if not location:
        raise InvalidInputException("give a file path or an s3:// location")
    download = Path(engine.data_dir) / "tmp" / f"sample-{uuid.uuid4().hex}"
    try:
        files = sources.files_at(location, engine.data_dir, engine.settings, download)
        path = files[0]
        parquet = sources.is_parquet(path)
        reader = _reader(path)
        params = {"path": str(path), "rows": int(rows)}
        with engine.store.cursor() as cur:
            if parquet:
                header = data_tables.parquet_columns(cur, path)
            else:
                header = sources.csv_header(path)
            described = cur.sql(
                f"DESCRIBE SELECT * FROM {reader}", params=_used(reader, params)
            ).fetchall()
            counted = cur.sql(
                f"SELECT count(*) FROM (SELECT * FROM {reader} LIMIT $rows)", params=params
            ).fetchall()[0][0]
            stats = cur.sql(
                f"WITH s AS (SELECT * FROM {reader} LIMIT $rows), "
                "t AS (SELECT COLUMNS(*)::VARCHAR FROM s), "
                "u AS (UNPIVOT t ON COLUMNS(*) INTO NAME col VALUE val) "
                "SELECT col AS column, count(val) AS non_null, "
                "count(DISTINCT val) AS distinct, avg(length(val)) AS avg_length, "
                "max(length(val)) AS max_length, bool_or(contains(val, '|')) AS has_pipe, "
                "min(TRY_CAST(val AS DOUBLE)) AS min, max(TRY_CAST(val AS DOUBLE)) AS max, "
                "(list(DISTINCT val ORDER BY val))[1:3] AS examples FROM u GROUP BY col",
                params=params,
            ).pl()
    except duckdb.Error as exc:
        raise InvalidInputException(f"{location}: cannot read the file: {exc}") from None
    finally:
        shutil.rmtree(download, ignore_errors=True)
    names = [r[0] for r in described]
    if names != header:
        raise InvalidInputException(
            f"{path.name}: the header must name every column once "
            f"(found {', '.join(repr(h) for h in header) or 'no header'})"
        )
    types = pl.DataFrame(
        {"column": names, "sniffed_type": [str(r[1]) for r in described]},
        schema={"column": pl.Utf8, "sniffed_type": pl.Utf8},
    )
    columns = (
        types.join(stats, on="column", how="left", maintain_order="left")
        .with_columns(
            pl.col("non_null").fill_null(0),
            pl.col("distinct").fill_null(0),
            pl.col("has_pipe").fill_null(False),
            pl.col("examples").fill_null([]),
        )
        .with_columns(nulls=int(counted) - pl.col("non_null"))
    )
    return FileSample(location, path, len(files), parquet, header, int(counted), columns)


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the parameters a statement names (DuckDB refuses unused ones)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def check_file_header(sample: FileSample, fields: list[SchemaField]) -> str | None:
    """Why the file's header does not suit an existing dataset's schema, or None if it does."""
    try:
        check_header(sample.path, sample.header, fields)
    except ImportRejected as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- suggested schema

INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
DATE_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIME", "TIMESTAMP_NS"}
RESERVED = {
    "INTERACTIONS": {**{k: v[0] for k, v in INTERACTIONS_RESERVED.items()}, "EVENT_VALUE": "float"},
    "USERS": {"USER_ID": "string"},
    "ITEMS": {"ITEM_ID": "string", "CREATION_TIMESTAMP": "long"},
}
TEXTUAL_MIN_LENGTH = 30  # average characters of a column suggested as textual (Items)
CATEGORICAL_MAX_DISTINCT = 100  # more distinct values than this in the sample: say so


def _avro_type(sniffed: str) -> str:
    if sniffed in INTEGER_TYPES:
        return "long"
    if sniffed in FLOAT_TYPES or sniffed.startswith("DECIMAL"):
        return "float"
    if sniffed == "BOOLEAN":
        return "boolean"
    return "string"


def suggest_schema(sample: FileSample, dataset_type: str) -> pl.DataFrame:
    """A schema for the file's columns, one row per column: field, type, nullable,
    categorical, textual, note (why, or what to check). Reserved names get Personalize's
    types; required fields are never nullable; other fields are nullable when the sample has
    nulls; other strings are categorical (Items: the longest free-text column is textual)."""
    kind = dataset_type.upper()
    reserved, required = RESERVED[kind], REQUIRED[kind]
    textual_column = None
    if kind == "ITEMS":
        candidates = [
            (r["avg_length"] or 0, r["column"])
            for r in sample.columns.iter_rows(named=True)
            if r["column"] not in reserved
            and _avro_type(r["sniffed_type"]) == "string"
            and (r["avg_length"] or 0) >= TEXTUAL_MIN_LENGTH
            and r["distinct"] >= 0.5 * max(r["non_null"], 1)
        ]
        textual_column = max(candidates)[1] if candidates else None
    rows = []
    for r in sample.columns.iter_rows(named=True):
        name, sniffed = r["column"], r["sniffed_type"]
        notes = []
        avro = reserved.get(name, _avro_type(sniffed))
        if name in reserved:
            notes.append(f"reserved field ({avro})")
        elif name.upper() in reserved:
            notes.append(f"rename the column to {name.upper()}: reserved names are upper case")
        if name in TIMESTAMP_FIELDS and name in reserved:
            if sniffed in DATE_TYPES or (sniffed == "VARCHAR" and r["non_null"]):
                notes.append("looks like dates or text: the file needs Unix epoch seconds")
            elif r["max"] is not None and r["max"] > MAX_TIMESTAMP:
                notes.append("looks like milliseconds: the file needs epoch seconds")
        elif sniffed in DATE_TYPES:
            notes.append("dates are kept as text; epoch seconds (long) work as numbers")
        nullable = r["nulls"] > 0 and name not in required
        if name in required and r["nulls"]:
            notes.append(f"{r['nulls']} empty value(s) in the sample will be rejected")
        categorical = textual = False
        if avro == "string" and name not in reserved:
            if name == textual_column:
                textual = True
                notes.append("long free text: textual")
            else:
                categorical = True
                if r["distinct"] > CATEGORICAL_MAX_DISTINCT:
                    notes.append(f"{r['distinct']} distinct values in the sample")
                if (r["max_length"] or 0) > CATEGORICAL_MAX_LENGTH:
                    notes.append(f"values over {CATEGORICAL_MAX_LENGTH} characters are rejected")
        if r["has_pipe"] and categorical:
            notes.append("values with | hold several categories")
        rows.append(
            {
                "field": name,
                "type": avro,
                "nullable": nullable,
                "categorical": categorical,
                "textual": textual,
                "note": "; ".join(notes),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "field": pl.Utf8,
            "type": pl.Utf8,
            "nullable": pl.Boolean,
            "categorical": pl.Boolean,
            "textual": pl.Boolean,
            "note": pl.Utf8,
        },
    )


def schema_json(fields: list[dict[str, Any]], dataset_type: str) -> str:
    """Avro schema text from rows with field, type, nullable, categorical (and textual)."""
    out = []
    for f in fields:
        entry: dict[str, Any] = {
            "name": f["field"],
            "type": ["null", f["type"]] if f.get("nullable") else f["type"],
        }
        if f.get("categorical"):
            entry["categorical"] = True
        if f.get("textual"):
            entry["textual"] = True
        out.append(entry)
    doc = {
        "type": "record",
        "name": dataset_type.title(),
        "namespace": "com.amazonaws.personalize.schema",
        "fields": out,
        "version": "1.0",
    }
    return json.dumps(doc, indent=2)


# --------------------------------------------------------------------------- uploads, reports

UPLOAD_BUCKET = "uploads"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_upload(engine: Any, filename: str, data: bytes | IO[bytes]) -> str:
    """Save an uploaded file as `<data_dir>/s3/uploads/<uuid>/<name>` and return the
    location to import it from (`s3://uploads/<uuid>/<name>`; the local path when a real S3
    endpoint is configured, which the embedded store does not stand for)."""
    name = _UNSAFE.sub("_", Path(filename).name).lstrip(".")
    lowered = name.lower()
    if not lowered.endswith(sources.DATA_SUFFIXES):
        raise InvalidInputException(f"{filename!r}: upload a .csv, .csv.gz or .parquet file")
    key = f"{uuid.uuid4().hex}/{name}"
    target = Path(engine.data_dir) / "s3" / UPLOAD_BUCKET / key
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{name}.part")
    with open(partial, "wb") as out:
        if isinstance(data, bytes | bytearray):
            out.write(data)
        else:
            shutil.copyfileobj(data, out, 1 << 20)
    partial.replace(target)
    if engine.settings.s3_endpoint_url:
        return str(target.resolve())
    return f"s3://{UPLOAD_BUCKET}/{key}"


_PROBLEM_HEAD = r"[^;:\s][^;:]*?(?: line \d+| row \d+)?(?:, column [A-Za-z_]\w*)?: "
_PROBLEM = re.compile(
    r"(?P<file>[^;:\s][^;:]*?)(?: line (?P<line>\d+)| row (?P<row>\d+))?"
    r"(?:, column (?P<column>[A-Za-z_]\w*))?: (?P<reason>.*)",
    re.DOTALL,
)


def failure_problems(reason: str | None) -> pl.DataFrame:
    """The problems listed in a failed import's failureReason ("First problems: `file line
    N, column C: reason`; ...") as a table: file, line, row (Parquet), column, reason. Empty
    when the reason lists none (e.g. a header error)."""
    schema = {
        "file": pl.Utf8,
        "line": pl.Int64,
        "row": pl.Int64,
        "column": pl.Utf8,
        "reason": pl.Utf8,
    }
    marker = "First problems: "
    if not reason or marker not in reason:
        return pl.DataFrame(schema=schema)
    listed = reason.split(marker, 1)[1]
    parts = re.split(rf"; (?={_PROBLEM_HEAD})", listed)
    rows = []
    for part in parts:
        match = _PROBLEM.fullmatch(part.strip())
        if match is None:
            rows.append({"file": None, "line": None, "row": None, "column": None, "reason": part})
            continue
        rows.append(
            {
                "file": match["file"],
                "line": int(match["line"]) if match["line"] else None,
                "row": int(match["row"]) if match["row"] else None,
                "column": match["column"],
                "reason": match["reason"],
            }
        )
    return pl.DataFrame(rows, schema=schema)

"""The value rules an imported row must satisfy, each stated once in SQL and once in Python.

SQL finds and counts the rows that break a rule inside DuckDB (the fast path, over the
whole file); the same rule in Python locates the first offending lines of a CSV file for the
failure report, which only runs when a rule is broken. Type errors and wrong column counts
are found by DuckDB's CSV reader itself (rejects table, with line numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.datasets.avro import (
    CATEGORICAL_MAX_LENGTH,
    ID_MAX_LENGTH,
    TEXTUAL_MAX_LENGTH,
    SchemaField,
)

MAX_TIMESTAMP = 4102444800  # 2100-01-01T00:00:00Z
ID_FIELDS = ("USER_ID", "ITEM_ID")
TIMESTAMP_FIELDS = ("TIMESTAMP", "CREATION_TIMESTAMP")


@dataclass(frozen=True)
class ValueRule:
    """One rule on one field: `sql(expr)` is true for a bad value, `is_bad(text)` likewise."""

    field: str
    rule: str
    sql: Callable[[str], str]
    is_bad: Callable[[str], bool]


def quote(name: str) -> str:
    """A DuckDB identifier, double-quoted (names are checked Avro names, so this is safe)."""
    return '"' + name.replace('"', '""') + '"'


def _parses_as_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _timestamp_is_bad(text: str) -> bool:
    value = _parses_as_int(text)
    return value is not None and not 0 <= value <= MAX_TIMESTAMP


def rules_for(fields: list[SchemaField], dataset_type: str) -> list[ValueRule]:
    """Every value rule for a dataset's fields."""
    rules: list[ValueRule] = []
    for f in fields:
        required = not f.nullable
        if required and f.type == "string":
            rules.append(
                ValueRule(
                    f.name,
                    "is required and must not be empty",
                    lambda c: f"({c} IS NULL OR {c} = '')",
                    lambda t: t == "",
                )
            )
        elif required:
            rules.append(
                ValueRule(
                    f.name,
                    "is required and must not be empty",
                    lambda c: f"{c} IS NULL",
                    lambda t: t == "",
                )
            )
        if f.name in ID_FIELDS:
            rules.append(_max_length(f.name, ID_MAX_LENGTH))
        elif f.categorical:
            rules.append(_max_length(f.name, CATEGORICAL_MAX_LENGTH))
        elif f.textual:
            rules.append(_max_length(f.name, TEXTUAL_MAX_LENGTH))
        if f.name in TIMESTAMP_FIELDS and f.type == "long":
            rules.append(
                ValueRule(
                    f.name,
                    f"must be Unix epoch seconds between 0 and {MAX_TIMESTAMP} (year 2100); "
                    "milliseconds are not accepted",
                    lambda c: f"({c} < 0 OR {c} > {MAX_TIMESTAMP})",
                    _timestamp_is_bad,
                )
            )
    return rules


def _max_length(name: str, limit: int) -> ValueRule:
    return ValueRule(
        name,
        f"must be at most {limit} characters",
        lambda c: f"length({c}) > {limit}",
        lambda t: len(t) > limit,
    )

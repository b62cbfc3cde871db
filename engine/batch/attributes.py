"""Item attribute queries of aws-item-attribute-affinity batch segment jobs.

An input line such as `{"itemAttributes": "ITEMS.CATEGORY = \\"shoes\\" AND ITEMS.PRICE = 10"}`
names a set of items; the segment is the users with the most affinity for that set. The
language, parsed here by hand (no eval, no SQL):

    query      := or
    or         := and ("OR" and)*
    and        := primary ("AND" primary)*
    primary    := "(" or ")" | reference "=" value | reference "IN" "(" value ("," value)* ")"
    reference  := "ITEMS" "." FIELD
    value      := "double-quoted string" (\\" and \\\\ escape) | number

Keywords and `ITEMS` are case-insensitive; field names must match the Items schema exactly.
A categorical field matches when any of its `|`-separated values is one of the values (exact,
case-sensitive, as filters compare); a numeric field when it equals one of the numbers.
Textual fields cannot be queried. Queries are at most 1,000 characters and 20 levels deep.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from engine.datasets.avro import SchemaField
from engine.errors import InvalidInputException

MAX_LENGTH = 1000
MAX_DEPTH = 20

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<punct>[.=(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Match:
    """`ITEMS.field` is one of `values` (strings as written; numbers as floats)."""

    field: str
    values: tuple[str | float, ...]


@dataclass(frozen=True)
class Either:
    """Any of the parts holds (OR)."""

    parts: tuple[Query, ...]


@dataclass(frozen=True)
class Both:
    """Every part holds (AND)."""

    parts: tuple[Query, ...]


Query = Match | Either | Both


def _error(text: str, position: int, rule: str) -> InvalidInputException:
    return InvalidInputException(f"itemAttributes {text!r}: {rule} at character {position + 1}")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            raise _error(text, position, f"unexpected {text[position]!r}")
        if found.lastgroup != "ws":
            out.append((found.lastgroup or "", found.group(), position))
        position = found.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].upper() == word

    def expect(self, kind: str, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        wanted = value or kind
        if token is None:
            raise _error(self.text, len(self.text), f"expected {wanted} but the query ended")
        if token[0] != kind or (value is not None and token[1].upper() != value):
            raise _error(self.text, token[2], f"expected {wanted}, found {token[1]!r}")
        self.i += 1
        return token

    def parse(self) -> Query:
        query = self.disjunction(0)
        token = self.peek()
        if token is not None:
            raise _error(self.text, token[2], f"unexpected {token[1]!r}")
        return query

    def disjunction(self, depth: int) -> Query:
        parts = [self.conjunction(depth)]
        while self.at_word("OR"):
            self.i += 1
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else Either(tuple(parts))

    def conjunction(self, depth: int) -> Query:
        parts = [self.primary(depth)]
        while self.at_word("AND"):
            self.i += 1
            parts.append(self.primary(depth))
        return parts[0] if len(parts) == 1 else Both(tuple(parts))

    def primary(self, depth: int) -> Query:
        token = self.peek()
        if token is not None and token[1] == "(":
            if depth >= MAX_DEPTH:
                raise _error(self.text, token[2], f"nested deeper than {MAX_DEPTH} levels")
            self.i += 1
            inner = self.disjunction(depth + 1)
            self.expect("punct", ")")
            return inner
        if not self.at_word("ITEMS"):
            found = repr(token[1]) if token else "the end"
            where = token[2] if token else len(self.text)
            raise _error(self.text, where, f"expected ITEMS.<field> or '(', found {found}")
        self.i += 1
        self.expect("punct", ".")
        name = self.expect("word")[1]
        if self.peek() is not None and self.peek()[1] == "=":
            self.i += 1
            return Match(name, (self.value(),))
        if self.at_word("IN"):
            self.i += 1
            self.expect("punct", "(")
            values = [self.value()]
            while self.peek() is not None and self.peek()[1] == ",":
                self.i += 1
                values.append(self.value())
            self.expect("punct", ")")
            return Match(name, tuple(values))
        token = self.peek()
        found = repr(token[1]) if token else "the end"
        raise _error(
            self.text, token[2] if token else len(self.text), f"expected = or IN, found {found}"
        )

    def value(self) -> str | float:
        token = self.peek()
        if token is not None and token[0] == "string":
            self.i += 1
            return re.sub(r"\\(.)", r"\1", token[1][1:-1])
        if token is not None and token[0] == "number":
            self.i += 1
            return float(token[1])
        found = repr(token[1]) if token else "the end"
        where = token[2] if token else len(self.text)
        raise _error(self.text, where, f"expected a quoted value or a number, found {found}")


def parse_query(text: str, fields: Mapping[str, SchemaField]) -> Query:
    """The query as a tree; InvalidInputException naming the position, or an unknown,
    textual or mistyped field."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputException("itemAttributes must be a non-empty string")
    if len(text) > MAX_LENGTH:
        raise InvalidInputException(
            f"itemAttributes is {len(text)} characters; at most {MAX_LENGTH} are allowed"
        )
    query = _Parser(text).parse()
    _check(query, fields)
    return query


def _check(query: Query, fields: Mapping[str, SchemaField]) -> None:
    if isinstance(query, Match):
        f = fields.get(query.field)
        if f is None:
            near = [n for n in fields if n.upper() == query.field.upper()]
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise InvalidInputException(
                f"itemAttributes: ITEMS.{query.field} is not in the Items schema{hint}"
            )
        if f.textual:
            raise InvalidInputException(
                f"itemAttributes: ITEMS.{query.field} is a textual field and cannot be queried"
            )
        if not f.is_numeric and any(isinstance(v, float) for v in query.values):
            raise InvalidInputException(
                f"itemAttributes: ITEMS.{query.field} is a string field; quote its values"
            )
        return
    for part in query.parts:
        _check(part, fields)


def matching(query: Query, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Mask over `n` dense items: where the query holds (columns as `FilterOps` builds them:
    categorical values as frozensets, numbers as floats with NaN for missing)."""
    if isinstance(query, Either):
        out = np.zeros(n, bool)
        for part in query.parts:
            out |= matching(part, columns, n)
        return out
    if isinstance(query, Both):
        out = np.ones(n, bool)
        for part in query.parts:
            out &= matching(part, columns, n)
        return out
    column = columns.get(query.field)
    if column is None:
        return np.zeros(n, bool)
    if column.dtype.kind in "fiu":
        numbers = [float(v) for v in query.values if not isinstance(v, str) or _number(v)]
        return np.isin(column, numbers) if numbers else np.zeros(n, bool)
    wanted = frozenset(_text(v) for v in query.values)
    memo: dict[object, bool] = {}

    def hit(value: object) -> bool:
        if value is None:
            return False
        found = memo.get(value)
        if found is None:
            if isinstance(value, frozenset):
                found = not wanted.isdisjoint(value)
            else:
                found = str(value) in wanted
            memo[value] = found
        return found

    return np.fromiter(map(hit, column), dtype=bool, count=len(column))


def _number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _text(value: str | float) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if value.is_integer() else repr(value)

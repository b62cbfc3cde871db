"""Filters: check a parsed filter expression against schemas, evaluate it to a mask in numpy.

Parsing lives in `filter_grammar`; this module never builds SQL: every condition evaluates on
the arrays of a `FilterContext` the caller prepares.

Semantics (Personalize's where documented, otherwise stated here):
- `|`-joined expressions: result = (union of INCLUDE parts, or everything if there is none)
  minus (union of EXCLUDE parts); order does not matter.
- Within an expression AND binds tighter than OR.
- Matching metadata values is case-sensitive and exact ("Amazon Personalize ignores case only
  when matching event types"); event types are matched case-insensitively. So categorical
  values in the context keep their case; only the `user_events` keys are lower-cased.
- A categorical (multi-valued) field is IN a list when any of its values is in the list;
  NOT IN is the negation of IN, and != of =, so a missing value is NOT IN every list and
  != every value, and fails IN, =, <, <=, >, >=.
- `Interactions.EVENT_TYPE IN (...)` selects the entities with at least one interaction of one
  of those types, NOT IN those with at least one of another type; `"*"` means every type.
- `IF CurrentUser...`: when the condition does not hold (or there is no current user, or the
  field is missing) the expression has no effect at all, as if it were not in the filter.
- filterValues: at most 25 keys, each a parameter of the filter. String parameters hold
  comma-separated double-quoted values (`"\\"shoes\\",\\"hats\\""`, `\\"` and `\\\\` escape);
  numeric parameters one number, quoted or not. An expression whose parameter is omitted is
  dropped when it is an EXCLUDE, an error when it is an INCLUDE.
- An expression using CurrentItem needs a current item (related-items requests only).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from engine.datasets.avro import SchemaField
from engine.errors import InvalidInputException
from engine.serving.filter_grammar import (
    ALL_EVENTS,
    INTERACTION_DATASETS,
    MAX_EXPRESSION_LENGTH,
    SCHEMA_DATASET,
    Condition,
    CurrentItemField,
    Expression,
    FilterExpression,
    FilterSyntaxError,
    Number,
    Operand,
    Param,
    StringList,
    parse_filter,
)

__all__ = [
    "MAX_EXPRESSION_LENGTH",
    "MAX_FILTER_FIELDS",
    "MAX_FILTER_VALUES",
    "FilterContext",
    "FilterExpression",
    "FilterSyntaxError",
    "UserFilterContext",
    "check_filter",
    "evaluate_filter",
    "evaluate_user_filter",
    "parse_filter",
    "parse_filter_values",
]

MAX_FILTER_FIELDS = 5
MAX_FILTER_VALUES = 25
FILTER_VALUE_KEY = re.compile(r"[A-Za-z0-9_]{1,50}")
FILTER_VALUE_MAX_LENGTH = 1000
NUMBER = re.compile(r"\s*-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\s*")
NUMERIC_OPS = ("<", "<=", ">", ">=")


# --- schema checks -----------------------------------------------------------------------------


def _field_error(dataset: str, name: str, rule: str) -> InvalidInputException:
    return InvalidInputException(f"filterExpression: field {dataset}.{name}: {rule}")


def check_filter(expr: FilterExpression, schemas: Mapping[str, list[SchemaField]]) -> None:
    """Raise InvalidInputException unless every field the filter uses exists and may be used.

    `schemas` maps dataset types (Items, Users, Interactions, Actions, Action_Interactions; any
    case) to their fields. CurrentUser fields are checked against Users, CurrentItem against Items.
    """
    by_type = {key.upper(): {f.name: f for f in fields} for key, fields in schemas.items()}
    for e in expr.expressions:
        for c in e.conditions:
            f = _schema_field(by_type, c.dataset, c.field)
            _check_condition(c, f)
            if isinstance(c.operand, CurrentItemField):
                other = _schema_field(by_type, "CurrentItem", c.operand.field)
                if other.is_numeric != f.is_numeric:
                    raise _field_error(
                        "CurrentItem",
                        other.name,
                        f"is {other.type} and cannot be compared with {c.dataset}.{f.name} "
                        f"({f.type})",
                    )
    if len(expr.fields) > MAX_FILTER_FIELDS:
        names = ", ".join(sorted(f"{d}.{n}" for d, n in expr.fields))
        raise InvalidInputException(
            f"filterExpression: uses {len(expr.fields)} distinct fields ({names}); a filter may "
            f"use at most {MAX_FILTER_FIELDS}"
        )


def _schema_field(by_type: dict, dataset: str, name: str) -> SchemaField:
    """The schema field `dataset.name` refers to (CurrentUser: Users, CurrentItem: Items)."""
    schema = SCHEMA_DATASET.get(dataset, dataset)
    fields = by_type.get(schema.upper())
    if fields is None:
        raise _field_error(dataset, name, f"the dataset group has no {schema} dataset")
    f = fields.get(name)
    if f is None:
        near = [n for n in fields if n.upper() == name.upper()]
        hint = f" (field names are case-sensitive: did you mean {near[0]}?)" if near else ""
        raise _field_error(dataset, name, f"is not in the {schema} schema{hint}")
    if f.textual:
        raise _field_error(dataset, name, "is a textual field; filters cannot use textual fields")
    if f.type == "boolean":
        raise _field_error(
            dataset,
            name,
            'is boolean; filters cannot use boolean fields (use a string field with "True"/'
            '"False" or an int field with 0/1)',
        )
    return f


def _check_condition(c: Condition, f: SchemaField) -> None:
    operand = c.operand
    if c.op in NUMERIC_OPS and not f.is_numeric:
        raise _field_error(c.dataset, f.name, f"is {f.type}; {c.op} only compares numeric fields")
    if f.is_numeric:
        if isinstance(operand, StringList):
            bad = [v for v in operand.values if not NUMBER.fullmatch(v)]
            if bad:
                raise _field_error(
                    c.dataset, f.name, f"is {f.type} and is compared with non-numeric {bad[0]!r}"
                )
    elif isinstance(operand, Number):
        raise _field_error(
            c.dataset, f.name, "is a string field and cannot be compared with a number; quote it"
        )


# --- context -----------------------------------------------------------------------------------


@dataclass
class FilterContext:
    """What an item filter evaluates on, for one request.

    - `item_columns`: field name -> array over dense item ids. Categorical fields: object arrays
      of frozensets (or tuples) of the `|`-split values, case kept; other strings: object arrays
      of str; numeric fields: float arrays, NaN when missing. None is a missing value.
    - `user_events`: lower-cased event type -> dense item ids the current user interacted with
      (the latest 100 per event type; the caller prepares it).
    - `current_user` / `current_item`: the request's user / item metadata (categorical values as
      frozensets), or None when there is none.
    """

    n_items: int
    item_columns: dict[str, np.ndarray] = field(default_factory=dict)
    user_events: dict[str, np.ndarray] = field(default_factory=dict)
    current_user: dict[str, object] | None = None
    current_item: dict[str, object] | None = None


@dataclass
class UserFilterContext:
    """What a user (segment) filter evaluates on: user columns laid out like item columns, and
    `event_users`: lower-cased event type -> dense user ids with at least one such interaction."""

    n_users: int
    user_columns: dict[str, np.ndarray] = field(default_factory=dict)
    event_users: dict[str, np.ndarray] = field(default_factory=dict)


def evaluate_filter(
    expr: FilterExpression, ctx: FilterContext, filter_values: Mapping[str, str] | None = None
) -> np.ndarray:
    """A bool mask over the context's items: True where the item may be recommended."""
    if expr.target != "ItemID":
        raise InvalidInputException(
            f"filter: {expr.target} filters cannot filter item recommendations"
        )
    return _evaluate(
        expr,
        ctx.n_items,
        ctx.item_columns,
        ctx.user_events,
        ctx.current_user,
        ctx.current_item,
        filter_values,
    )


def evaluate_user_filter(
    expr: FilterExpression, ctx: UserFilterContext, filter_values: Mapping[str, str] | None = None
) -> np.ndarray:
    """A bool mask over the context's users: True where the user may be in a segment."""
    if expr.target != "UserID":
        raise InvalidInputException(f"filter: {expr.target} filters cannot filter user segments")
    return _evaluate(
        expr, ctx.n_users, ctx.user_columns, ctx.event_users, None, None, filter_values
    )


# --- filterValues ------------------------------------------------------------------------------


def parse_filter_values(
    expr: FilterExpression, filter_values: Mapping[str, str] | None
) -> dict[str, str]:
    """Check a request's filterValues against the filter; return them as a plain dict."""
    if filter_values is None:
        return {}
    if not isinstance(filter_values, Mapping):
        raise InvalidInputException("filterValues: must be a map of parameter names to strings")
    if len(filter_values) > MAX_FILTER_VALUES:
        raise InvalidInputException(
            f"filterValues: has {len(filter_values)} entries, at most {MAX_FILTER_VALUES} allowed"
        )
    known = set(expr.parameters)
    out: dict[str, str] = {}
    for key, value in filter_values.items():
        if not isinstance(key, str) or not FILTER_VALUE_KEY.fullmatch(key):
            raise InvalidInputException(
                f"filterValues: key {str(key)[:60]!r} must match [A-Za-z0-9_]{{1,50}}"
            )
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            raise InvalidInputException(
                f"filterValues: {key} is not a parameter of this filter (its parameters: {names})"
            )
        if not isinstance(value, str):
            raise InvalidInputException(f"filterValues[{key}]: must be a string")
        if len(value) > FILTER_VALUE_MAX_LENGTH:
            raise InvalidInputException(
                f"filterValues[{key}]: is {len(value)} characters, at most "
                f"{FILTER_VALUE_MAX_LENGTH} allowed"
            )
        out[key] = value
    return out


def _string_values(key: str, raw: str) -> tuple[str, ...]:
    """`"a","b"` -> ("a", "b"): double-quoted values, comma-separated; `\\"`, `\\\\` escape."""
    values: list[str] = []
    i, n = 0, len(raw)
    while True:
        while i < n and raw[i] in " \t\r\n":
            i += 1
        if i >= n or raw[i] != '"':
            raise InvalidInputException(
                f"filterValues[{key}]: expected a double-quoted value at character {i + 1}; "
                f'write values as "\\"a\\",\\"b\\""'
            )
        i += 1
        chars: list[str] = []
        while i < n and raw[i] != '"':
            if raw[i] == "\\" and i + 1 < n:
                i += 1
            chars.append(raw[i])
            i += 1
        if i >= n:
            raise InvalidInputException(f"filterValues[{key}]: a value is never closed with '\"'")
        values.append("".join(chars))
        i += 1
        while i < n and raw[i] in " \t\r\n":
            i += 1
        if i >= n:
            return tuple(values)
        if raw[i] != ",":
            raise InvalidInputException(
                f"filterValues[{key}]: expected ',' between values at character {i + 1}"
            )
        i += 1


def _number_value(key: str, raw: str) -> float:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not NUMBER.fullmatch(text):
        raise InvalidInputException(f"filterValues[{key}]: must be a number, not {raw[:60]!r}")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInputException(f"filterValues[{key}]: must be a finite number")
    return value


# --- evaluation --------------------------------------------------------------------------------


def _evaluate(
    expr: FilterExpression,
    n: int,
    columns: Mapping[str, np.ndarray],
    events: Mapping[str, np.ndarray],
    current_user: Mapping[str, object] | None,
    current_item: Mapping[str, object] | None,
    filter_values: Mapping[str, str] | None,
) -> np.ndarray:
    values = parse_filter_values(expr, filter_values)
    lowered: dict[str, np.ndarray] = {}
    for key, ids in events.items():
        key = str(key).lower()
        ids = np.asarray(ids).ravel()
        lowered[key] = np.concatenate([lowered[key], ids]) if key in lowered else ids
    events = lowered
    include: np.ndarray | None = None
    exclude = np.zeros(n, dtype=bool)
    for e in expr.expressions:
        missing = [p for p in e.parameters if p not in values]
        if missing:
            if e.action == "INCLUDE":
                raise InvalidInputException(
                    f"filterValues: the INCLUDE expression at position {e.position} needs a "
                    f"value for parameter {missing[0]}"
                )
            continue  # an EXCLUDE whose parameter is omitted is dropped
        if e.condition_if and not _user_matches(e.condition_if, current_user, values):
            continue  # IF does not hold: the expression has no effect
        ev = _Evaluator(n, columns, events, current_item, values)
        mask = ev.expression(e)
        if e.action == "INCLUDE":
            include = mask if include is None else include | mask
        else:
            exclude |= mask
    result = np.ones(n, dtype=bool) if include is None else include
    return result & ~exclude


def _user_matches(
    conditions: tuple[Condition, ...], user: Mapping[str, object] | None, values: dict[str, str]
) -> bool:
    if user is None:
        return False
    for c in conditions:
        column = _scalar_column(user.get(c.field))
        if not _Evaluator(1, {}, {}, None, values).condition(c, column)[0]:
            return False
    return True


def _scalar_column(value: object) -> np.ndarray:
    """One value as a length-1 column: float for numbers, object otherwise."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return np.array([float(value)])
    column = np.empty(1, dtype=object)
    column[0] = value
    return column


class _Evaluator:
    def __init__(self, n, columns, events, current_item, values) -> None:
        self.n = n
        self.columns = columns
        self.events = events
        self.current_item = current_item
        self.values = values

    def expression(self, e: Expression) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        for group in e.where:
            part = np.ones(self.n, dtype=bool)
            for c in group:
                part &= self.condition(c)
            mask |= part
        return mask

    def condition(self, c: Condition, column: np.ndarray | None = None) -> np.ndarray:
        if c.dataset in INTERACTION_DATASETS:
            return self.event_mask(self.string_set(c.operand), c.op == "NOT IN")
        if column is None:
            column = self.column(c.field)
        numeric = column.dtype.kind in "fiu"
        if c.op in NUMERIC_OPS or (
            c.op in ("=", "!=") and (numeric or isinstance(c.operand, Number))
        ):
            number = self.number(c.operand)
            col = column if numeric else _to_float(column)
            with np.errstate(invalid="ignore"):
                if c.op == "<":
                    return col < number
                if c.op == "<=":
                    return col <= number
                if c.op == ">":
                    return col > number
                if c.op == ">=":
                    return col >= number
                equal = col == number
            return ~equal if c.op == "!=" else equal
        mask = _in_mask(column, self.string_set(c.operand))
        return ~mask if c.op in ("NOT IN", "!=") else mask

    def column(self, name: str) -> np.ndarray:
        column = self.columns.get(name)
        if column is None:  # no data for that field: every value is missing
            return np.full(self.n, None, dtype=object)
        column = np.asarray(column)
        if column.shape != (self.n,):
            raise ValueError(f"filter column {name}: shape {column.shape}, expected ({self.n},)")
        return column

    def number(self, operand: Operand) -> float:
        if isinstance(operand, Number):
            return operand.value
        if isinstance(operand, Param):
            return _number_value(operand.name, self.values[operand.name])
        if isinstance(operand, CurrentItemField):
            value = self.current_value(operand)
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                return math.nan
            return float(value)
        return math.nan  # a quoted string compared with <: check_filter rejects it

    def string_set(self, operand: Operand) -> frozenset[str]:
        if isinstance(operand, StringList):
            return frozenset(operand.values)
        if isinstance(operand, Param):
            return frozenset(_string_values(operand.name, self.values[operand.name]))
        if isinstance(operand, CurrentItemField):
            return _value_set(self.current_value(operand))
        return frozenset((_format_number(operand.value),))

    def current_value(self, operand: CurrentItemField) -> object:
        if self.current_item is None:
            raise InvalidInputException(
                "filter: uses CurrentItem, which needs an itemId (related-items recommendations)"
            )
        return self.current_item.get(operand.field)

    def event_mask(self, wanted: frozenset[str], negate: bool) -> np.ndarray:
        """Entities with an interaction whose type is in `wanted` (not in it, when `negate`)."""
        lowered = {v.lower() for v in wanted}
        if ALL_EVENTS in lowered:
            types = [] if negate else list(self.events)
        else:
            types = [t for t in self.events if (t in lowered) != negate]
        mask = np.zeros(self.n, dtype=bool)
        for t in types:
            ids = self.events.get(t)
            if ids is None:
                continue
            ids = np.asarray(ids).astype(np.int64, copy=False).ravel()
            mask[ids[(ids >= 0) & (ids < self.n)]] = True
        return mask


def _in_mask(column: np.ndarray, values: frozenset[str]) -> np.ndarray:
    """True where the column's value (or any of its categorical values) is in `values`."""
    if column.dtype.kind in "fiu":
        numbers = [float(v) for v in values if NUMBER.fullmatch(v)]
        return np.isin(column, numbers) if numbers else np.zeros(len(column), dtype=bool)
    if not values:
        return np.zeros(len(column), dtype=bool)

    isdisjoint = values.isdisjoint
    memo: dict[object, bool] = {}  # categorical columns repeat a few distinct values

    def hit(value: object) -> bool:
        kind = type(value)
        if kind is frozenset or kind is str:
            found = memo.get(value)
            if found is None:
                found = memo[value] = value in values if kind is str else not isdisjoint(value)
            return found
        if isinstance(value, str):
            return value in values
        if isinstance(value, (frozenset, set)):
            return not isdisjoint(value)
        if isinstance(value, (tuple, list, np.ndarray)):
            return any(isinstance(v, str) and v in values for v in value)
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return not math.isnan(value) and _format_number(value) in values
        return False

    return np.fromiter(map(hit, column), dtype=bool, count=len(column))


def _value_set(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, (frozenset, set, tuple, list, np.ndarray)):
        return frozenset(v for v in value if isinstance(v, str))
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return frozenset() if math.isnan(value) else frozenset((_format_number(value),))
    return frozenset()


def _format_number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _to_float(column: np.ndarray) -> np.ndarray:
    """An object column as floats: numbers and numeric strings convert, the rest is NaN."""

    def convert(value: object) -> float:
        if isinstance(value, bool):
            return math.nan
        if isinstance(value, (int, float, np.integer, np.floating)):
            return float(value)
        if isinstance(value, str) and NUMBER.fullmatch(value):
            return float(value)
        return math.nan

    return np.fromiter(map(convert, column), dtype=float, count=len(column))

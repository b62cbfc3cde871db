"""The expression of a metric: `SUM(<Dataset>.<FIELD>)` or `SAMPLECOUNT()`.

A small tokenizer and recursive-descent parser for Personalize's metric expressions:

    expression := SAMPLECOUNT "(" ")"
                | SUM "(" dataset "." field ")"
    dataset    := Items | Interactions
    field      := an Avro name ([A-Za-z_][A-Za-z0-9_]*)

Function and dataset names are matched case-insensitively (`sum(items.PRICE)` is accepted);
field names are Avro names and must match the schema exactly. Whitespace between tokens is
ignored. `check_expression` then checks the field against the dataset group's schemas: the
dataset must exist and the field must be numeric (int, long, float or double), since SUM()
only applies to numeric columns of the Items and Interactions datasets.

Every error is an InvalidInputException naming the metric, the expression and the rule (with
the 1-based position for a syntax error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.datasets.avro import SchemaField
from engine.errors import InvalidInputException

SUM = "SUM"
SAMPLECOUNT = "SAMPLECOUNT"
ITEMS = "ITEMS"
INTERACTIONS = "INTERACTIONS"
#: How the dataset types are spelled in expressions (and in messages).
DATASET_NAMES = {ITEMS: "Items", INTERACTIONS: "Interactions"}
GRAMMAR = "SUM(Items.<numeric field>), SUM(Interactions.<numeric field>) or SAMPLECOUNT()"

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[().])|(?P<bad>\S))")


@dataclass(frozen=True)
class MetricExpression:
    """A parsed expression: the function, and for SUM the dataset type and the field."""

    function: str
    dataset: str | None = None
    field: str | None = None

    @property
    def math_function(self) -> str:
        """The function as Personalize's S3 reports name it (`sum`, `samplecount`)."""
        return self.function.lower()

    def __str__(self) -> str:
        if self.function == SAMPLECOUNT:
            return "SAMPLECOUNT()"
        return f"SUM({DATASET_NAMES[self.dataset or ITEMS]}.{self.field})"


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "punct" or "end"
    text: str
    position: int  # 1-based column in the expression


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.tokens = self._tokenize()
        self.index = 0

    def error(self, rule: str) -> InvalidInputException:
        return InvalidInputException(
            f"{self.where}: expression {self.text!r} is not valid: {rule} (the expression "
            f"must be {GRAMMAR})"
        )

    def _tokenize(self) -> list[_Token]:
        tokens = []
        position = 0
        while True:
            match = _TOKEN.match(self.text, position)
            if match is None:  # only whitespace is left
                break
            kind = match.lastgroup or "bad"
            start = match.start(kind) + 1
            if kind == "bad":
                raise self.error(f"unexpected character {match.group(kind)!r} at position {start}")
            tokens.append(_Token(kind, match.group(kind), start))
            position = match.end()
        tokens.append(_Token("end", "", len(self.text) + 1))
        return tokens

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self, kind: str, text: str | None, expected: str) -> _Token:
        token = self.peek()
        if token.kind != kind or (text is not None and token.text != text):
            found = "the end of the expression" if token.kind == "end" else repr(token.text)
            raise self.error(f"expected {expected} at position {token.position}, found {found}")
        self.index += 1
        return token

    def parse(self) -> MetricExpression:
        if self.peek().kind == "end":
            raise self.error("it is empty")
        name = self.take("name", None, "SUM or SAMPLECOUNT")
        function = name.text.upper()
        if function not in (SUM, SAMPLECOUNT):
            raise self.error(
                f"unknown function {name.text!r} at position {name.position}; the functions "
                "are SUM and SAMPLECOUNT"
            )
        self.take("punct", "(", "'('")
        if function == SAMPLECOUNT:
            if self.peek().kind != "punct" or self.peek().text != ")":
                token = self.peek()
                raise self.error(
                    f"SAMPLECOUNT() takes no argument, found {token.text!r} at position "
                    f"{token.position}"
                )
            self.take("punct", ")", "')'")
            expression = MetricExpression(SAMPLECOUNT)
        else:
            dataset = self.take("name", None, "a dataset type (Items or Interactions)")
            kind = dataset.text.upper()
            if kind not in DATASET_NAMES:
                raise self.error(
                    f"SUM() sums a column of the Items or Interactions dataset, not "
                    f"{dataset.text!r} (position {dataset.position})"
                )
            self.take("punct", ".", "'.' after the dataset type")
            field = self.take("name", None, "a field name")
            self.take("punct", ")", "')'")
            expression = MetricExpression(SUM, kind, field.text)
        token = self.peek()
        if token.kind != "end":
            raise self.error(
                f"unexpected {token.text!r} after the expression at position {token.position}"
            )
        return expression


def parse_expression(text: str, where: str) -> MetricExpression:
    """Parse a metric's expression; `where` names the metric in error messages."""
    return _Parser(text, where).parse()


def check_expression(
    expression: MetricExpression,
    text: str,
    where: str,
    schemas: dict[str, list[SchemaField]],
) -> None:
    """Check a SUM's dataset and field against the group's schemas (by dataset type)."""
    if expression.function != SUM:
        return
    dataset = expression.dataset or ITEMS
    label = DATASET_NAMES[dataset]
    fields = schemas.get(dataset)
    prefix = f"{where}: expression {text!r}"
    if fields is None:
        hint = " (import item metadata before summing an Items field)" if dataset == ITEMS else ""
        raise InvalidInputException(
            f"{prefix} sums a field of the {label} dataset, but the dataset group has no "
            f"{label} dataset{hint}"
        )
    numeric = [f.name for f in fields if f.is_numeric]
    by_name = {f.name: f for f in fields}
    found = by_name.get(expression.field or "")
    if found is None:
        close = [n for n in by_name if n.upper() == (expression.field or "").upper()]
        guess = f"; did you mean {close[0]}?" if close else ""
        raise InvalidInputException(
            f"{prefix}: the {label} schema has no field {expression.field!r}{guess} "
            f"(its numeric fields: {', '.join(numeric) or 'none'})"
        )
    if not found.is_numeric:
        raise InvalidInputException(
            f"{prefix}: {found.name} is a {found.type} field; SUM() needs a numeric field "
            f"(int, long, float or double; the {label} schema's numeric fields: "
            f"{', '.join(numeric) or 'none'})"
        )

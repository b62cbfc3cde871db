"""Amazon Personalize's filter expression language: tokenizer, syntax tree, parser.

A hand-written tokenizer and recursive-descent parser; no grammar generator and no SQL. Keywords,
`ItemID`/`UserID`/`ActionID` and dataset names are case-insensitive (AWS's own examples write
`EXCLUDE itemId WHERE INTERACTIONS.EVENT_TYPE in (...)`); field and parameter names are
case-sensitive.

    filter     := expression ("|" expression)*
    expression := ("INCLUDE" | "EXCLUDE") target "WHERE" where [ "IF" user_cond ("AND" user_cond)* ]
    target     := "ItemID" | "UserID" | "ActionID"
    where      := condition (("AND" | "OR") condition)*          AND binds tighter than OR
    condition  := DATASET "." FIELD predicate
    user_cond  := "CurrentUser" "." FIELD predicate
    predicate  := ["NOT"] "IN" set  |  ("=" | "!=" | "<" | "<=" | ">" | ">=") operand
    set        := "(" STRING ("," STRING)* ")"  |  "(" PARAM ")"  |  ["("] current_item [")"]
    operand    := NUMBER | STRING | PARAM | "(" (NUMBER | PARAM) ")" | current_item
    current_item := "CurrentItem" "." FIELD
    STRING     := '"' characters, with \\" and \\\\ escapes '"'      PARAM := "$" [A-Za-z0-9_]+

Structural rules that need no schema are enforced here, with the position of the offending
token: the datasets a target may use (ItemID: Items, Interactions; UserID: Users, Interactions;
ActionID: Actions, Action_Interactions), conditions chained with AND/OR stay on the first
condition's dataset, interaction conditions test only EVENT_TYPE with IN/NOT IN, `"*"` only
there, no `$PARAM` with NOT IN (a Personalize rule), CurrentUser only after IF (and IF chains only
with AND, not for UserID), CurrentItem only on the right-hand side of ItemID conditions, one
target for all `|`-joined expressions. There are no parenthesised groups, so nesting depth is
bounded and hostile input cannot exhaust the stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidInputException

MAX_EXPRESSION_LENGTH = 2500

TARGETS = {"ITEMID": "ItemID", "USERID": "UserID", "ACTIONID": "ActionID"}
DATASETS = {
    "ITEMS": "Items",
    "USERS": "Users",
    "INTERACTIONS": "Interactions",
    "ACTIONS": "Actions",
    "ACTION_INTERACTIONS": "Action_Interactions",
    "CURRENTUSER": "CurrentUser",
    "CURRENTITEM": "CurrentItem",
}
TARGET_DATASETS = {
    "ItemID": ("Items", "Interactions"),
    "UserID": ("Users", "Interactions"),
    "ActionID": ("Actions", "Action_Interactions"),
}
INTERACTION_DATASETS = ("Interactions", "Action_Interactions")
# The dataset whose schema a reference is checked against.
SCHEMA_DATASET = {"CurrentUser": "Users", "CurrentItem": "Items"}
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
ALL_EVENTS = "*"

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<param>\$[A-Za-z0-9_]+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<op><=|>=|!=|<|>|=)
  | (?P<punct>[().,|])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class FilterSyntaxError(InvalidInputException):
    """A filter expression that does not parse; says where, near which token, what was expected."""

    def __init__(self, position: int, token: str, expected: str) -> None:
        self.position = position
        self.token = token
        self.expected = expected
        super().__init__(f"filterExpression: at position {position} near '{token}': {expected}")


# --- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StringList:
    """Quoted values: `("a", "b")`, or the right-hand side of `= "a"`."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Number:
    """A numeric literal."""

    value: float


@dataclass(frozen=True)
class Param:
    """A placeholder `$NAME` whose value comes from the request's filterValues."""

    name: str


@dataclass(frozen=True)
class CurrentItemField:
    """`CurrentItem.FIELD`: the field of the item a related-items request is about."""

    field: str


Operand = StringList | Number | Param | CurrentItemField


@dataclass(frozen=True)
class Condition:
    """`Dataset.FIELD op operand`; `dataset` is canonical (Items, CurrentUser, ...)."""

    dataset: str
    field: str
    op: str  # IN, NOT IN, =, !=, <, <=, >, >=
    operand: Operand
    position: int  # 1-based position of the dataset name

    @property
    def schema_dataset(self) -> str:
        return SCHEMA_DATASET.get(self.dataset, self.dataset)


@dataclass(frozen=True)
class Expression:
    """One `INCLUDE|EXCLUDE target WHERE ... [IF ...]` part of a filter.

    `where` is a disjunction of conjunctions (AND binds tighter than OR); `condition_if` holds
    the CurrentUser conditions of the IF clause, all of which must hold.
    """

    action: str  # INCLUDE or EXCLUDE
    target: str  # ItemID, UserID or ActionID
    where: tuple[tuple[Condition, ...], ...]
    condition_if: tuple[Condition, ...]
    position: int

    @property
    def dataset(self) -> str:
        """The dataset of the WHERE conditions."""
        return self.where[0][0].dataset

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(c for group in self.where for c in group) + self.condition_if

    @property
    def parameters(self) -> tuple[str, ...]:
        """The `$PARAM` names (without `$`) in order of first use."""
        names = (c.operand.name for c in self.conditions if isinstance(c.operand, Param))
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class FilterExpression:
    """A parsed filter: its `|`-joined expressions and the text it came from."""

    text: str
    expressions: tuple[Expression, ...]

    @property
    def target(self) -> str:
        return self.expressions[0].target

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every `$PARAM` name (without `$`) in order of first use."""
        return tuple(dict.fromkeys(p for e in self.expressions for p in e.parameters))

    @property
    def include_parameters(self) -> frozenset[str]:
        """Parameters of INCLUDE parts: a request must give them a value."""
        return frozenset(p for e in self.expressions if e.action == "INCLUDE" for p in e.parameters)

    @property
    def exclude_parameters(self) -> frozenset[str]:
        """Parameters of EXCLUDE parts: when omitted, that part is dropped."""
        return frozenset(p for e in self.expressions if e.action == "EXCLUDE" for p in e.parameters)

    @property
    def fields(self) -> frozenset[tuple[str, str]]:
        """Distinct (schema dataset, field) pairs referenced, CurrentUser/CurrentItem included."""
        out: set[tuple[str, str]] = set()
        for e in self.expressions:
            for c in e.conditions:
                out.add((c.schema_dataset, c.field))
                if isinstance(c.operand, CurrentItemField):
                    out.add(("Items", c.operand.field))
        return frozenset(out)

    def __str__(self) -> str:
        return self.text


# --- tokenizer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # word, param, string, number, op, punct, end
    text: str
    position: int  # 1-based

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _shown(text: str) -> str:
    """A token as quoted in an error message: at most 40 characters, non-printables escaped."""
    text = text if len(text) <= 40 else text[:37] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _Lexer:
    """Produces tokens on demand, so the first error in reading order is the one reported."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def next(self) -> Token:
        text = self.text
        while True:
            if self.pos >= len(text):
                return Token("end", "<end>", len(text) + 1)
            m = _TOKEN.match(text, self.pos)
            if m is None:
                self._bad_character()
            self.pos = m.end()
            if m.lastgroup != "ws":
                return Token(m.lastgroup, m.group(), m.start() + 1)

    def _bad_character(self) -> None:
        ch = self.text[self.pos]
        if ch == '"':
            expected = 'this string is never closed: add the closing double quote (")'
        elif ch == "'":
            expected = 'values must be in double quotes ("value"), not single quotes'
        elif ch == "$":
            expected = "a parameter name after '$' ([A-Za-z0-9_]+)"
        else:
            expected = f"unexpected character {ch!r}"
        raise FilterSyntaxError(self.pos + 1, _shown(self.text[self.pos : self.pos + 41]), expected)


# --- parser ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.lexer = _Lexer(text)
        self.tok = self.lexer.next()

    def advance(self) -> Token:
        tok = self.tok
        self.tok = self.lexer.next()
        return tok

    def fail(self, expected: str, tok: Token | None = None) -> FilterSyntaxError:
        tok = tok or self.tok
        return FilterSyntaxError(tok.position, _shown(tok.text), expected)

    def keyword(self, *words: str) -> bool:
        return self.tok.upper in words

    def expect_keyword(self, word: str, expected: str) -> Token:
        if not self.keyword(word):
            raise self.fail(expected)
        return self.advance()

    def expect_punct(self, ch: str, expected: str) -> Token:
        if self.tok.kind != "punct" or self.tok.text != ch:
            raise self.fail(expected)
        return self.advance()

    def at_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == ch

    # filter := expression ("|" expression)*
    def parse(self) -> tuple[Expression, ...]:
        expressions = [self.expression(None)]
        while self.at_punct("|"):
            self.advance()
            expressions.append(self.expression(expressions[0].target))
        if self.tok.kind != "end":
            raise self.fail("expected AND, OR, IF, '|' or the end of the expression")
        return tuple(expressions)

    def expression(self, target: str | None) -> Expression:
        start = self.tok
        if not self.keyword("INCLUDE", "EXCLUDE"):
            raise self.fail("expected INCLUDE or EXCLUDE")
        action = self.advance().upper
        tok = self.tok
        if tok.upper not in TARGETS:
            raise self.fail(f"expected ItemID, UserID or ActionID after {action}")
        this_target = TARGETS[self.advance().upper]
        if target is not None and this_target != target:
            raise self.fail(
                f"all expressions of a filter must use the same target ({target}), "
                f"this one uses {this_target}",
                tok,
            )
        self.expect_keyword("WHERE", f"expected WHERE after {this_target}")
        first = self.condition(this_target, None)
        groups = [[first]]
        while self.keyword("AND", "OR"):
            joiner = self.advance().upper
            cond = self.condition(this_target, first.dataset)
            if joiner == "AND":
                groups[-1].append(cond)
            else:
                groups.append([cond])
        condition_if: list[Condition] = []
        if self.keyword("IF"):
            if_tok = self.advance()
            if this_target == "UserID":
                raise self.fail("UserID filters cannot have an IF CurrentUser clause", if_tok)
            condition_if.append(self.user_condition(this_target))
            while self.keyword("AND", "OR"):
                if self.keyword("OR"):
                    raise self.fail("conditions after IF can only be chained with AND")
                self.advance()
                condition_if.append(self.user_condition(this_target))
            if self.keyword("IF"):
                raise self.fail("an expression can have only one IF clause")
        where = tuple(tuple(g) for g in groups)
        return Expression(action, this_target, where, tuple(condition_if), start.position)

    def dataset(self, allowed: tuple[str, ...]) -> tuple[str, Token]:
        tok = self.tok
        names = " or ".join(allowed)
        if tok.kind != "word":
            raise self.fail(f"expected a dataset name ({names})")
        if tok.upper not in DATASETS:
            raise self.fail(f"unknown dataset {tok.text!r}: expected {names}")
        self.advance()
        return DATASETS[tok.upper], tok

    def field_name(self, dataset: str) -> Token:
        self.expect_punct(".", f"expected '.' and a field name after {dataset}")
        if self.tok.kind != "word":
            raise self.fail(f"expected a field name after '{dataset}.'")
        return self.advance()

    def condition(self, target: str, chain_dataset: str | None) -> Condition:
        allowed = TARGET_DATASETS[target]
        dataset, tok = self.dataset(allowed)
        if dataset == "CurrentUser":
            raise self.fail("CurrentUser can only be tested in the IF clause at the end", tok)
        if dataset == "CurrentItem":
            raise self.fail(
                "CurrentItem can only be on the right-hand side, e.g. Items.GENRE IN "
                "CurrentItem.GENRE",
                tok,
            )
        if dataset not in allowed:
            raise self.fail(f"{target} filters can only use {' or '.join(allowed)}", tok)
        if chain_dataset is not None and dataset != chain_dataset:
            raise self.fail(
                f"conditions chained with AND/OR must use the dataset of the first condition "
                f"({chain_dataset}); join expressions for different datasets with '|'",
                tok,
            )
        field = self.field_name(dataset)
        if dataset in INTERACTION_DATASETS and field.text != "EVENT_TYPE":
            raise self.fail(f"{dataset} conditions can only test EVENT_TYPE", field)
        return self.predicate(dataset, field.text, tok.position, target, in_if=False)

    def user_condition(self, target: str) -> Condition:
        dataset, tok = self.dataset(("CurrentUser",))
        if dataset != "CurrentUser":
            raise self.fail("conditions after IF must test CurrentUser, e.g. CurrentUser.AGE", tok)
        field = self.field_name(dataset)
        return self.predicate(dataset, field.text, tok.position, target, in_if=True)

    def predicate(
        self, dataset: str, field: str, position: int, target: str, in_if: bool
    ) -> Condition:
        events = dataset in INTERACTION_DATASETS
        if self.keyword("NOT"):
            self.advance()
            self.expect_keyword("IN", "expected IN after NOT")
            op = "NOT IN"
        elif self.keyword("IN"):
            self.advance()
            op = "IN"
        elif self.tok.kind == "op":
            if events:
                raise self.fail(f"{dataset}.EVENT_TYPE can only be tested with IN or NOT IN")
            op = self.advance().text
        else:
            raise self.fail("expected IN, NOT IN or a comparison (=, !=, <, <=, >, >=)")
        if op in ("IN", "NOT IN"):
            operand = self.value_set(op, events, target, in_if)
        else:
            operand = self.operand(op, target, in_if)
        return Condition(dataset, field, op, operand, position)

    def value_set(self, op: str, events: bool, target: str, in_if: bool) -> Operand:
        if self.keyword("CURRENTITEM"):
            return self.current_item(target, in_if)
        self.expect_punct("(", f"expected '(' and a list of values after {op}")
        tok = self.tok
        if tok.kind == "param":
            if op == "NOT IN":
                raise self.fail(
                    "a $PARAMETER cannot be used with NOT IN; use IN with the opposite "
                    "INCLUDE/EXCLUDE",
                    tok,
                )
            self.advance()
            self.expect_punct(")", f"expected ')' after {tok.text}: a parameter stands alone")
            return Param(tok.text[1:])
        if self.keyword("CURRENTITEM"):
            operand = self.current_item(target, in_if)
            self.expect_punct(")", "expected ')' after the CurrentItem field")
            return operand
        if tok.kind != "string":
            raise self.fail("expected a double-quoted value, a $PARAMETER or CurrentItem.FIELD")
        values = [self.string(events)]
        while self.at_punct(","):
            self.advance()
            if self.tok.kind != "string":
                raise self.fail("expected a double-quoted value after ','")
            values.append(self.string(events))
        self.expect_punct(")", "expected ',' or ')' after a value")
        return StringList(tuple(values))

    def string(self, events: bool) -> str:
        tok = self.advance()
        value = _ESCAPE.sub(r"\1", tok.text[1:-1])
        if value == ALL_EVENTS and not events:
            raise self.fail('"*" (every event type) is only allowed for EVENT_TYPE', tok)
        return value

    def operand(self, op: str, target: str, in_if: bool) -> Operand:
        tok = self.tok
        if tok.kind == "number":
            return Number(float(self.advance().text))
        if tok.kind == "param":
            return Param(self.advance().text[1:])
        if tok.kind == "string":
            if op not in ("=", "!="):
                raise self.fail(f"{op} compares numbers: expected a number or a $PARAMETER")
            return StringList((self.string(False),))
        if self.keyword("CURRENTITEM"):
            return self.current_item(target, in_if)
        if self.at_punct("("):
            self.advance()
            inner = self.tok
            if inner.kind == "number":
                operand: Operand = Number(float(inner.text))
            elif inner.kind == "param":
                operand = Param(inner.text[1:])
            else:
                raise self.fail("expected a number or a $PARAMETER inside '( )'")
            self.advance()
            self.expect_punct(")", "expected ')'")
            return operand
        raise self.fail(f"expected a number, a $PARAMETER or CurrentItem.FIELD after {op}")

    def current_item(self, target: str, in_if: bool) -> CurrentItemField:
        tok = self.advance()
        if in_if:
            raise self.fail("IF conditions compare CurrentUser with values, not CurrentItem", tok)
        if target != "ItemID":
            raise self.fail("CurrentItem can only be used in ItemID filters (related items)", tok)
        return CurrentItemField(self.field_name("CurrentItem").text)


def parse_filter(expression: str) -> FilterExpression:
    """Parse a filter expression; raise FilterSyntaxError saying where and what was expected."""
    if not isinstance(expression, str):
        raise InvalidInputException("filterExpression: must be a string")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise FilterSyntaxError(
            MAX_EXPRESSION_LENGTH + 1,
            _shown(expression[MAX_EXPRESSION_LENGTH : MAX_EXPRESSION_LENGTH + 41]),
            f"the expression is {len(expression)} characters long, the maximum is "
            f"{MAX_EXPRESSION_LENGTH}",
        )
    return FilterExpression(expression, _Parser(expression).parse())

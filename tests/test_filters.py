"""Filter expressions: parse, check against schemas, evaluate to item/user masks.

The documented examples come from the AWS Personalize developer guide (filter expressions,
item/user/action filter examples, combining multiple expressions, filtering real-time
recommendations). Rejections are checked for position (1-based), token and what was expected.
Evaluation runs on a small hand-built context where every expected mask is written out.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from engine.datasets.avro import SchemaField
from engine.errors import InvalidInputException
from engine.serving.filter_grammar import CurrentItemField, Number, Param, StringList
from engine.serving.filters import (
    MAX_EXPRESSION_LENGTH,
    FilterContext,
    FilterSyntaxError,
    UserFilterContext,
    check_filter,
    evaluate_filter,
    evaluate_user_filter,
    parse_filter,
)

# --- parsing: every documented example ---------------------------------------------------------

DOCUMENTED = [
    # Item recommendation filter examples: item interaction data
    "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
    'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
    'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
    # item data
    "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
    "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE",
    'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")',
    "INCLUDE ItemID WHERE Items.PRICE <= $PRICE",
    "INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP < $DATE",
    "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)",
    "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.CREATION_TIMESTAMP > $DATE",
    'EXCLUDE ItemID WHERE Items.CATEGORY IN ("shoe") AND Items.DESCRIPTION NOT IN ("boot")',
    "INCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20",
    # user data
    "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE",
    "EXCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20 IF CurrentUser.AGE > 18 AND "
    "CurrentUser.AGE < 30",
    'INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") AND Items.DESCRIPTION IN ("luxury") IF '
    "CurrentUser.AGE > 18",
    # combining multiple expressions
    'INCLUDE ItemID WHERE Items.GENRE IN ("drama") | EXCLUDE ItemID WHERE '
    'Interactions.EVENT_TYPE IN ("click", "stream")',
    "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) | INCLUDE ItemID WHERE "
    'Interactions.EVENT_TYPE IN ("favorite")',
    # filtering real-time recommendations (SDK example: any case for keywords and datasets)
    'EXCLUDE itemId WHERE INTERACTIONS.EVENT_TYPE in ("Purchase")',
    # user segment filter expressions
    "INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)",
    "EXCLUDE UserID WHERE Users.AGE < $AGE",
    'INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click", "rating")',
    "EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    # action recommendation filter examples (the guide's `Action.MEMBERSHIP_LEVEL` is a typo)
    "INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")',
    "EXCLUDE ActionID WHERE Actions.CATEGORY IN ($CATEGORY)",
    "INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)",
    'INCLUDE ActionID WHERE Actions.MEMBERSHIP_LEVEL IN ("Premium") IF CurrentUser.MEMBERSHIP = '
    "$PREMIUM",
    "EXCLUDE ActionID WHERE Actions.VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM",
    # from the task: user segments and related items
    'INCLUDE UserID WHERE Users.AGE_BAND IN ("18-24")',
    "INCLUDE ItemID WHERE Items.GENRE IN (CurrentItem.GENRE)",
    "EXCLUDE ItemID WHERE Items.ITEM_ID IN (CurrentItem.ITEM_ID)",
]


@pytest.mark.parametrize("text", DOCUMENTED)
def test_documented_examples_parse(text: str) -> None:
    expr = parse_filter(text)
    assert expr.text == str(expr) == text
    assert expr.target in ("ItemID", "UserID", "ActionID")
    assert all(e.where for e in expr.expressions)


def test_syntax_tree_shape() -> None:
    expr = parse_filter(
        'include itemid where items.GENRE in ("a", "b") or Items.PRICE >= -2.5 and '
        'Items.BRAND != "x" IF currentuser.AGE > 18 AND CurrentUser.TIER = $TIER'
        ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("view")'
    )
    first, second = expr.expressions
    assert (first.action, first.target, first.dataset) == ("INCLUDE", "ItemID", "Items")
    # AND binds tighter than OR: GENRE OR (PRICE AND BRAND)
    assert [[c.field for c in g] for g in first.where] == [["GENRE"], ["PRICE", "BRAND"]]
    genre, price, brand = first.where[0][0], first.where[1][0], first.where[1][1]
    assert (genre.op, genre.operand, genre.position) == ("IN", StringList(("a", "b")), 22)
    assert (price.op, price.operand) == (">=", Number(-2.5))
    assert (brand.op, brand.operand) == ("!=", StringList(("x",)))
    assert [(c.dataset, c.field, c.op) for c in first.condition_if] == [
        ("CurrentUser", "AGE", ">"),
        ("CurrentUser", "TIER", "="),
    ]
    assert first.condition_if[1].operand == Param("TIER")
    assert (second.action, second.where[0][0].op) == ("EXCLUDE", "NOT IN")
    assert second.position == expr.text.index("EXCLUDE") + 1


def test_current_item_with_or_without_parentheses() -> None:
    a = parse_filter("INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE")
    b = parse_filter("INCLUDE ItemID WHERE Items.GENRE IN (CurrentItem.GENRE)")
    c = parse_filter("INCLUDE ItemID WHERE Items.PRICE <= CurrentItem.PRICE")
    assert a.expressions[0].where == b.expressions[0].where
    assert a.expressions[0].where[0][0].operand == CurrentItemField("GENRE")
    assert c.fields == {("Items", "PRICE")}


def test_escaped_quotes_and_commas_in_literals() -> None:
    expr = parse_filter(r'INCLUDE ItemID WHERE Items.TAG IN ("say \"hi\"", "a,b", "back\\slash")')
    assert expr.expressions[0].where[0][0].operand == StringList(('say "hi"', "a,b", "back\\slash"))


def test_parameters_and_their_parts() -> None:
    expr = parse_filter(
        "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) AND Items.PRICE < $MAX IF CurrentUser.AGE "
        "> $AGE | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENTS) | EXCLUDE ItemID "
        "WHERE Items.BRAND IN ($GENRE)"
    )
    assert expr.parameters == ("GENRE", "MAX", "AGE", "EVENTS")
    assert expr.include_parameters == {"GENRE", "MAX", "AGE"}
    assert expr.exclude_parameters == {"EVENTS", "GENRE"}
    assert parse_filter('INCLUDE ItemID WHERE Items.A IN ("x")').parameters == ()


def test_fields_map_current_user_and_item_to_their_datasets() -> None:
    expr = parse_filter(
        "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.COST IF CurrentUser.AGE > 3 | "
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")'
    )
    assert expr.fields == {
        ("Items", "PRICE"),
        ("Items", "COST"),
        ("Users", "AGE"),
        ("Interactions", "EVENT_TYPE"),
    }


# --- parsing: rejections -----------------------------------------------------------------------

W = "INCLUDE ItemID WHERE "
REJECTED = [
    # (expression, text the error points at (its first occurrence), token, expected)
    ("", None, "<end>", "expected INCLUDE or EXCLUDE"),
    ("   ", None, "<end>", "expected INCLUDE or EXCLUDE"),
    ('INCLUDE ItemID Items.GENRE IN ("a")', "Items", "Items", "expected WHERE after ItemID"),
    ('INCLUDE WHERE Items.GENRE IN ("a")', "WHERE", "WHERE", "expected ItemID, UserID or"),
    ('KEEP ItemID WHERE Items.GENRE IN ("a")', "KEEP", "KEEP", "expected INCLUDE or EXCLUDE"),
    (W + 'Books.GENRE IN ("a")', "Books", "Books", "unknown dataset 'Books'"),
    (W + '"Items".GENRE IN ("a")', '"Items"', '"Items"', "expected a dataset name"),
    (W + 'Items GENRE IN ("a")', "GENRE", "GENRE", "expected '.' and a field name"),
    (W + 'Items.IN ("a")', "(", "(", "expected IN, NOT IN or a comparison"),
    (W + 'Items.GENRE IN ("a", "b"', None, "<end>", "expected ',' or ')' after a value"),
    (W + 'Items.GENRE IN "a"', '"a"', '"a"', "expected '(' and a list of values after IN"),
    (W + "Items.PRICE == 3", "= 3", "=", "expected a number, a $PARAMETER"),
    (W + "Items.PRICE ~ 3", "~", "~ 3", "unexpected character '~'"),
    (W + 'Items.GENRE LIKE ("a")', "LIKE", "LIKE", "expected IN, NOT IN or a comparison"),
    (W + 'Items.GENRE NOT ("a")', "(", "(", "expected IN after NOT"),
    (W + "Items.GENRE IN ()", ")", ")", "expected a double-quoted value, a $PARAMETER"),
    (W + "Items.GENRE IN (1, 2)", "1", "1", "expected a double-quoted value"),
    (W + 'Items.GENRE IN ("a",)', ")", ")", "expected a double-quoted value after ','"),
    (W + 'Items.GENRE IN ("a", $G)', "$G", "$G", "expected a double-quoted value after ','"),
    (W + "Items.GENRE IN ($G, $H)", ",", ",", "a parameter stands alone"),
    (W + "Items.GENRE IN ('a')", "'", "'a')", "double quotes"),
    (W + 'Items.GENRE IN ("a)', '"a)', '"a)', "never closed"),
    (W + "Items.GENRE IN ($)", "$", "$)", "a parameter name after '$'"),
    (W + 'Items.GENRE IN ("a") extra', "extra", "extra", "expected AND, OR, IF, '|' or the end"),
    (W + 'Items.GENRE IN ("a") ("b")', '("b")', "(", "expected AND, OR, IF"),
    (W + 'Items.GENRE IN ("a") AND', None, "<end>", "expected a dataset name"),
    (W + 'Items.GENRE IN ("a") |', None, "<end>", "expected INCLUDE or EXCLUDE"),
    (W + 'Items.GENRE IN ("a") || ' + W + 'Items.A IN ("b")', "| ", "|", "expected INCLUDE"),
    (W + 'Items.PRICE < "3"', '"3"', '"3"', "< compares numbers"),
    (W + "Items.PRICE > ", None, "<end>", "expected a number, a $PARAMETER or CurrentItem"),
    (W + "Items.PRICE > (Items.X)", "Items.X", "Items", "inside '( )'"),
    # Personalize rules that need no schema
    (W + "Items.GENRE NOT IN ($G)", "$G", "$G", "cannot be used with NOT IN"),
    (W + 'Items.GENRE IN ("*")', '"*"', '"*"', "only allowed for EVENT_TYPE"),
    (W + "Interactions.EVENT_VALUE > 3", "EVENT_VALUE", "EVENT_VALUE", "only test EVENT_TYPE"),
    (W + 'Interactions.EVENT_TYPE = "click"', "=", "=", "only be tested with IN or NOT IN"),
    (
        W + 'Items.GENRE IN ("a") AND Interactions.EVENT_TYPE IN ("click")',
        "Interactions",
        "Interactions",
        "must use the dataset of the first condition (Items)",
    ),
    (W + "Users.AGE > 3", "Users", "Users", "ItemID filters can only use Items or Interactions"),
    (W + "CurrentUser.AGE > 3", "CurrentUser", "CurrentUser", "only be tested in the IF clause"),
    (W + 'CurrentItem.GENRE IN ("a")', "CurrentItem", "CurrentItem", "right-hand side"),
    (W + 'Items.A IN ("a") IF Items.B IN ("b")', "Items.B", "Items", "must test CurrentUser"),
    (W + 'Items.A IN ("a") IF CurrentUser.B > 1 OR', "OR", "OR", "only be chained with AND"),
    (
        W + 'Items.A IN ("a") IF CurrentUser.B > 1 IF CurrentUser.C > 1',
        "IF CurrentUser.C",
        "IF",
        "only one IF clause",
    ),
    (W + 'Items.A IN ("a") IF CurrentUser.B IN CurrentItem.B', "CurrentItem", "CurrentItem", "not"),
    ('INCLUDE UserID WHERE Users.A IN ("a") IF CurrentUser.B > 1', "IF", "IF", "UserID filters"),
    ("INCLUDE UserID WHERE Users.A IN CurrentItem.A", "CurrentItem", "CurrentItem", "ItemID"),
    ('INCLUDE UserID WHERE Items.A IN ("a")', "Items", "Items", "Users or Interactions"),
    (
        W + 'Items.A IN ("a") | EXCLUDE UserID WHERE Users.B IN ("b")',
        "UserID",
        "UserID",
        "same target (ItemID)",
    ),
    # hostile input
    ('"); DROP TABLE x; --', '"', '"); DROP TABLE x; --', "never closed"),
    (W + 'Items.GENRE IN ("a"); DROP TABLE items; --', ";", "; DROP TABLE items; --", "';'"),
    (W + 'Items.GENRE IN ("a") -- comment', "-- comment", "-- comment", "unexpected character"),
    (W + 'Items.GENRE IN ("a")\x00', "\x00", "\\x00", "unexpected character '\\x00'"),
    (W + "(" * 5000, "(", "(", "expected a dataset name"),
    (W + "Items.GENRE IN " + "(" * 1000 + '"a"' + ")" * 1000, ("IN ((", 4), "(", "double-quoted"),
]


@pytest.mark.parametrize(("text", "at", "token", "expected"), REJECTED)
def test_rejected_with_position_and_token(
    text: str, at: str | tuple[str, int] | None, token: str, expected: str
) -> None:
    if len(text) > MAX_EXPRESSION_LENGTH:
        text = text[:MAX_EXPRESSION_LENGTH]  # keep the deep nesting within the length limit
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    err = info.value
    if at is None:
        position = len(text) + 1
    elif isinstance(at, tuple):
        position = text.index(at[0]) + at[1] + 1
    else:
        position = text.index(at) + 1
    assert (err.position, err.token) == (position, token), err.message
    assert expected in err.expected, err.message
    assert re.fullmatch(r"filterExpression: at position \d+ near '.*': .+", err.message, re.S)
    assert err.message.startswith(f"filterExpression: at position {position} near '")
    assert isinstance(err, InvalidInputException) and err.code == "InvalidInputException"


def test_over_long_expression() -> None:
    ok = W + 'Items.GENRE IN ("' + "a" * (MAX_EXPRESSION_LENGTH - len(W) - 19) + '")'
    assert len(ok) == MAX_EXPRESSION_LENGTH
    parse_filter(ok)
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(ok + " ")
    assert info.value.position == MAX_EXPRESSION_LENGTH + 1
    assert "maximum is 2500" in info.value.message
    with pytest.raises(FilterSyntaxError):
        parse_filter("x" * 1_000_000)


def test_long_tokens_are_shortened_in_messages() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(W + "Items.GENRE IN (" + "A" * 500 + ")")
    assert info.value.token == "A" * 37 + "..."
    assert len(info.value.message) < 200


def test_not_a_string() -> None:
    with pytest.raises(InvalidInputException, match="must be a string"):
        parse_filter(None)  # type: ignore[arg-type]


def test_random_garbage_only_raises_filter_syntax_errors() -> None:
    rng = random.Random(7)
    pieces = [
        "INCLUDE", "EXCLUDE", "ItemID", "UserID", "WHERE", "Items", "Users", "Interactions",
        "CurrentUser", "CurrentItem", ".", "GENRE", "EVENT_TYPE", "IN", "NOT", "AND", "OR", "IF",
        "(", ")", ",", "|", '"a"', '"*"', "$P", "3", "-1.5", "<", "<=", "=", "!=", ">", ";", "'",
        '"', "\\", "$", "\x00", "é",
    ]  # fmt: skip
    parsed = 0
    for _ in range(400):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        try:
            parse_filter(text)
            parsed += 1
        except FilterSyntaxError as err:
            assert 1 <= err.position <= len(text) + 1
    assert parsed < 400


# --- schema checks -----------------------------------------------------------------------------


def schemas() -> dict[str, list[SchemaField]]:
    return {
        "ITEMS": [
            SchemaField("ITEM_ID", "string"),
            SchemaField("GENRE", "string", nullable=True, categorical=True),
            SchemaField("PRICE", "float", nullable=True),
            SchemaField("BRAND", "string", nullable=True),
            SchemaField("DESCRIPTION", "string", nullable=True, textual=True),
            SchemaField("IS_NEW", "boolean"),
            SchemaField("CREATION_TIMESTAMP", "long"),
            SchemaField("A1", "string"),
            SchemaField("A2", "string"),
            SchemaField("A3", "string"),
        ],
        "USERS": [
            SchemaField("USER_ID", "string"),
            SchemaField("AGE", "int", nullable=True),
            SchemaField("MEMBERSHIP", "string", categorical=True),
            SchemaField("VIP", "boolean"),
        ],
        "Interactions": [
            SchemaField("USER_ID", "string"),
            SchemaField("ITEM_ID", "string"),
            SchemaField("TIMESTAMP", "long"),
            SchemaField("EVENT_TYPE", "string"),
        ],
    }


ACCEPTED_BY_SCHEMA = [
    'INCLUDE ItemID WHERE Items.GENRE IN ("Drama") AND Items.PRICE < 10',
    "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE",
    "EXCLUDE ItemID WHERE Items.ITEM_ID IN (CurrentItem.ITEM_ID)",
    'INCLUDE ItemID WHERE Items.PRICE IN ("10", "20.5") OR Items.PRICE = $P',
    'INCLUDE ItemID WHERE Items.BRAND = "acme" IF CurrentUser.AGE >= 18 AND '
    'CurrentUser.MEMBERSHIP IN ("gold")',
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*") | INCLUDE ItemID WHERE '
    "Items.CREATION_TIMESTAMP > $DATE",
    "INCLUDE UserID WHERE Users.AGE < $AGE AND Users.MEMBERSHIP IN ($M)",
    'EXCLUDE UserID WHERE Interactions.EVENT_TYPE NOT IN ("click")',
]


@pytest.mark.parametrize("text", ACCEPTED_BY_SCHEMA)
def test_schema_accepts(text: str) -> None:
    check_filter(parse_filter(text), schemas())


SCHEMA_ERRORS = [
    ('INCLUDE ItemID WHERE Items.COLOR IN ("red")', "Items.COLOR: is not in the Items schema"),
    ('INCLUDE ItemID WHERE Items.genre IN ("x")', "case-sensitive: did you mean GENRE?"),
    ('INCLUDE ItemID WHERE Items.DESCRIPTION IN ("x")', "Items.DESCRIPTION: is a textual field"),
    ('INCLUDE ItemID WHERE Items.IS_NEW IN ("true")', "Items.IS_NEW: is boolean"),
    ('INCLUDE ItemID WHERE Items.A1 IN ("a") IF CurrentUser.VIP = "1"', "CurrentUser.VIP: is boo"),
    ("INCLUDE ItemID WHERE Items.BRAND > 3", "Items.BRAND: is string; > only compares numeric"),
    ("INCLUDE ItemID WHERE Items.GENRE <= $P", "Items.GENRE: is string; <= only compares"),
    ("INCLUDE ItemID WHERE Items.BRAND = 3", "Items.BRAND: is a string field and cannot be"),
    ('INCLUDE ItemID WHERE Items.PRICE = "cheap"', "Items.PRICE: is float and is compared with"),
    ('INCLUDE ItemID WHERE Items.PRICE IN ("1", "x")', "non-numeric 'x'"),
    ("INCLUDE ItemID WHERE Items.PRICE < CurrentItem.BRAND", "CurrentItem.BRAND: is string and"),
    ("INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.NOPE", "CurrentItem.NOPE: is not in the"),
    ('INCLUDE ItemID WHERE Items.A1 IN ("a") IF CurrentUser.HEIGHT > 2', "not in the Users"),
    (
        "INCLUDE ItemID WHERE Items.A1 IN ($X) IF CurrentUser.MEMBERSHIP > 2",
        "CurrentUser.MEMBERSHIP: is",
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRE IN ("a") AND Items.PRICE < 3 AND Items.BRAND IN ("b") '
        'AND Items.A1 IN ("c") | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x") IF '
        "CurrentUser.AGE > 3",
        "uses 6 distinct fields",
    ),
]


@pytest.mark.parametrize(("text", "message"), SCHEMA_ERRORS)
def test_schema_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidInputException) as info:
        check_filter(parse_filter(text), schemas())
    assert message in info.value.message
    assert not isinstance(info.value, FilterSyntaxError)


def test_five_fields_is_the_limit_counting_current_item_and_user() -> None:
    five = (
        "INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE AND Items.PRICE < 3 | EXCLUDE "
        'ItemID WHERE Items.BRAND IN ("b") OR Items.GENRE IN ("x") IF CurrentUser.AGE > 3 | '
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")'
    )
    check_filter(parse_filter(five), schemas())
    six = five.replace("CurrentItem.GENRE", "CurrentItem.A1")
    with pytest.raises(InvalidInputException, match="at most 5"):
        check_filter(parse_filter(six), schemas())


def test_missing_dataset_and_missing_event_type() -> None:
    no_users = {k: v for k, v in schemas().items() if k != "USERS"}
    with pytest.raises(InvalidInputException, match="has no Users dataset"):
        check_filter(parse_filter("INCLUDE UserID WHERE Users.AGE > 3"), no_users)
    no_event_type = dict(schemas(), Interactions=schemas()["Interactions"][:3])
    expr = parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")')
    with pytest.raises(InvalidInputException, match="Interactions.EVENT_TYPE: is not in"):
        check_filter(expr, no_event_type)


# --- evaluation --------------------------------------------------------------------------------
#   item  GENRE               PRICE  BRAND  ITEM_ID   events of the current user
#   0     {Drama}             10     acme   i0        click
#   1     {Comedy, Drama}     20     zen    i1        purchase
#   2     {Horror}            30     acme   i2        click, STREAM
#   3     {"a,b", "say "hi""} 40     zen    i3
#   4     missing             NaN    None   i4
#   5     {Sci-Fi}            5      acme   i5


def objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def context(**overrides: object) -> FilterContext:
    genres = [
        frozenset({"Drama"}),
        frozenset({"Comedy", "Drama"}),
        frozenset({"Horror"}),
        frozenset({"a,b", 'say "hi"'}),
        None,
        frozenset({"Sci-Fi"}),
    ]
    ctx = FilterContext(
        n_items=6,
        item_columns={
            "GENRE": objects(genres),
            "PRICE": np.array([10, 20, 30, 40, np.nan, 5], dtype=float),
            "BRAND": objects(["acme", "zen", "acme", "zen", None, "acme"]),
            "ITEM_ID": objects([f"i{i}" for i in range(6)]),
        },
        user_events={
            "click": np.array([0, 2]),
            "purchase": np.array([1]),
            "STREAM": np.array([2, 99, -1]),  # odd case and out-of-range ids are tolerated
            "Click": [0],  # merged with "click"
        },
        current_user={"AGE": 25, "MEMBERSHIP": frozenset({"gold"}), "COUNTRY": "DE"},
        current_item={"GENRE": frozenset({"Drama"}), "PRICE": 20.0, "ITEM_ID": "i1"},
    )
    for key, value in overrides.items():
        setattr(ctx, key, value)
    return ctx


def items(text: str, values: dict[str, str] | None = None, **overrides: object) -> list[int]:
    """The items a filter lets through on the hand-built context."""
    mask = evaluate_filter(parse_filter(text), context(**overrides), values)
    assert mask.dtype == bool and mask.shape == (6,)
    return [int(i) for i in np.flatnonzero(mask)]


INC = "INCLUDE ItemID WHERE "
EXC = "EXCLUDE ItemID WHERE "
EVALUATED = [
    (INC + 'Items.GENRE IN ("Drama")', [0, 1]),
    (INC + 'Items.GENRE IN ("drama")', []),  # metadata matching is case-sensitive
    (INC + 'Items.GENRE IN ("Horror", "Sci-Fi", "Western")', [2, 5]),
    (INC + 'Items.GENRE NOT IN ("Drama")', [2, 3, 4, 5]),  # missing is NOT IN every list
    (EXC + 'Items.GENRE IN ("Drama")', [2, 3, 4, 5]),
    (EXC + 'Items.GENRE NOT IN ("Drama", "Comedy")', [0, 1]),
    (INC + 'Items.GENRE IN ("a,b")', [3]),
    (INC + 'Items.GENRE IN ("a", "b")', []),
    (INC + r'Items.GENRE IN ("say \"hi\"")', [3]),
    (INC + 'Items.BRAND IN ("acme")', [0, 2, 5]),
    (INC + 'Items.BRAND = "zen"', [1, 3]),
    (INC + 'Items.BRAND != "zen"', [0, 2, 4, 5]),
    (INC + "Items.PRICE < 20", [0, 5]),
    (INC + "Items.PRICE <= 20", [0, 1, 5]),
    (INC + "Items.PRICE > 20", [2, 3]),
    (INC + "Items.PRICE >= 20", [1, 2, 3]),
    (INC + "Items.PRICE = 30", [2]),
    (INC + "Items.PRICE != 30", [0, 1, 3, 4, 5]),
    (INC + "Items.PRICE > -1e9", [0, 1, 2, 3, 5]),  # NaN fails every ordering
    (INC + 'Items.PRICE IN ("10", "40.0")', [0, 3]),
    (INC + "Items.MISSING_FIELD > 3", []),
    (INC + 'Items.MISSING_FIELD NOT IN ("x")', [0, 1, 2, 3, 4, 5]),
    # AND binds tighter than OR
    (INC + 'Items.BRAND IN ("zen") OR Items.PRICE < 20 AND Items.GENRE IN ("Sci-Fi")', [1, 3, 5]),
    (INC + 'Items.BRAND IN ("acme") AND Items.PRICE > 5 OR Items.PRICE > 35', [0, 2, 3]),
    # interactions: event types match case-insensitively
    (INC + 'Interactions.EVENT_TYPE IN ("click")', [0, 2]),
    (INC + 'Interactions.EVENT_TYPE IN ("CLICK", "Purchase")', [0, 1, 2]),
    (EXC + 'Interactions.EVENT_TYPE IN ("stream")', [0, 1, 3, 4, 5]),
    (INC + 'Interactions.EVENT_TYPE IN ("*")', [0, 1, 2]),
    (EXC + 'Interactions.EVENT_TYPE IN ("*")', [3, 4, 5]),
    (INC + 'Interactions.EVENT_TYPE NOT IN ("click")', [1, 2]),
    (INC + 'Interactions.EVENT_TYPE NOT IN ("*")', []),
    (INC + 'Interactions.EVENT_TYPE IN ("rating")', []),
    (INC + 'Interactions.EVENT_TYPE IN ("click") AND Interactions.EVENT_TYPE IN ("stream")', [2]),
    # IF CurrentUser: when it does not hold the expression has no effect
    (EXC + 'Items.BRAND IN ("acme") IF CurrentUser.AGE > 18', [1, 3, 4]),
    (EXC + 'Items.BRAND IN ("acme") IF CurrentUser.AGE > 30', [0, 1, 2, 3, 4, 5]),
    (INC + 'Items.BRAND IN ("acme") IF CurrentUser.AGE > 30', [0, 1, 2, 3, 4, 5]),
    (INC + 'Items.BRAND IN ("acme") IF CurrentUser.AGE >= 25 AND CurrentUser.AGE <= 25', [0, 2, 5]),
    (
        INC + 'Items.BRAND IN ("acme") IF CurrentUser.AGE > 18 AND CurrentUser.AGE < 20',
        list(range(6)),
    ),
    (INC + 'Items.BRAND IN ("zen") IF CurrentUser.MEMBERSHIP IN ("gold", "silver")', [1, 3]),
    (INC + 'Items.BRAND IN ("zen") IF CurrentUser.MEMBERSHIP NOT IN ("gold")', list(range(6))),
    (INC + 'Items.BRAND IN ("zen") IF CurrentUser.COUNTRY = "DE"', [1, 3]),
    (INC + 'Items.BRAND IN ("zen") IF CurrentUser.COUNTRY = "de"', list(range(6))),
    (INC + 'Items.BRAND IN ("zen") IF CurrentUser.HEIGHT > 1', list(range(6))),
    # CurrentItem (related items); the current item is i1: Drama, 20
    (INC + "Items.GENRE IN CurrentItem.GENRE", [0, 1]),
    (INC + "Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE", [0]),
    (INC + "Items.PRICE >= CurrentItem.PRICE", [1, 2, 3]),
    (EXC + "Items.ITEM_ID IN (CurrentItem.ITEM_ID)", [0, 2, 3, 4, 5]),
    (INC + "Items.GENRE NOT IN CurrentItem.GENRE", [2, 3, 4, 5]),
    (INC + "Items.GENRE IN CurrentItem.NO_SUCH_FIELD", []),
    # combining with |: (union of INCLUDEs, or all) minus (union of EXCLUDEs)
    (INC + 'Items.GENRE IN ("Horror") | ' + INC + 'Items.BRAND IN ("zen")', [1, 2, 3]),
    (EXC + 'Items.GENRE IN ("Horror") | ' + EXC + 'Items.BRAND IN ("zen")', [0, 4, 5]),
    (INC + 'Items.BRAND IN ("acme") | ' + EXC + 'Interactions.EVENT_TYPE IN ("click")', [5]),
    (EXC + 'Interactions.EVENT_TYPE IN ("click") | ' + INC + 'Items.BRAND IN ("acme")', [5]),
    (
        " | ".join(
            [
                INC + 'Items.GENRE IN ("Drama")',
                INC + 'Interactions.EVENT_TYPE IN ("stream")',
                EXC + "Items.PRICE > 25",
                EXC + 'Items.BRAND IN ("zen")',
            ]
        ),
        [0],
    ),
    (
        INC
        + 'Items.BRAND IN ("zen") IF CurrentUser.AGE > 99 | '
        + INC
        + 'Items.GENRE IN ("Horror")',
        [2],
    ),
]


@pytest.mark.parametrize(("text", "expected"), EVALUATED)
def test_evaluate(text: str, expected: list[int]) -> None:
    assert items(text) == expected


def test_no_current_user_means_if_does_not_hold() -> None:
    assert items(EXC + 'Items.BRAND IN ("acme") IF CurrentUser.AGE > 0', current_user=None) == [
        0, 1, 2, 3, 4, 5
    ]  # fmt: skip


def test_current_item_is_required_when_used() -> None:
    with pytest.raises(InvalidInputException, match="CurrentItem, which needs an itemId"):
        items(INC + "Items.GENRE IN CurrentItem.GENRE", current_item=None)


def test_parameters() -> None:
    genre = INC + "Items.GENRE IN ($GENRE)"
    assert items(genre, {"GENRE": '"Horror","Sci-Fi"'}) == [2, 5]
    assert items(genre, {"GENRE": ' "Horror" , "Comedy" '}) == [1, 2]
    assert items(genre, {"GENRE": '"a,b"'}) == [3]  # a comma inside quotes is part of the value
    assert items(genre, {"GENRE": '"a","b"'}) == []
    assert items(genre, {"GENRE": r'"say \"hi\""'}) == [3]
    assert items(genre, {"GENRE": '""'}) == []
    price = INC + "Items.PRICE <= $PRICE"
    assert items(price, {"PRICE": "20"}) == [0, 1, 5]
    assert items(price, {"PRICE": '"20"'}) == [0, 1, 5]
    assert items(price, {"PRICE": " 5.0 "}) == [5]
    assert items(INC + "Items.PRICE > ($P)", {"P": "-1"}) == [0, 1, 2, 3, 5]
    assert items(INC + "Items.PRICE = $P", {"P": "40"}) == [3]
    assert items(INC + "Items.PRICE IN ($P)", {"P": '"10","30"'}) == [0, 2]
    events = EXC + "Interactions.EVENT_TYPE IN ($E)"
    assert items(events, {"E": '"CLICK"'}) == [1, 3, 4, 5]
    assert items(events, {"E": '"*"'}) == [3, 4, 5]
    user = INC + 'Items.BRAND IN ("zen") IF CurrentUser.COUNTRY = $C'
    assert items(user, {"C": '"DE"'}) == [1, 3]
    assert items(user, {"C": '"FR"'}) == list(range(6))
    age = INC + 'Items.BRAND IN ("zen") IF CurrentUser.AGE = $AGE'
    assert items(age, {"AGE": "25"}) == [1, 3]
    assert items(age, {"AGE": '"26"'}) == list(range(6))


def test_omitted_exclude_parameter_drops_that_expression() -> None:
    text = EXC + "Items.GENRE IN ($GENRE) | " + EXC + 'Items.BRAND IN ("zen")'
    assert items(text, {"GENRE": '"Horror"'}) == [0, 4, 5]
    assert items(text, {}) == [0, 2, 4, 5]
    assert items(text, None) == [0, 2, 4, 5]
    # the whole expression is dropped, not just the condition that uses the parameter
    assert items(EXC + 'Items.BRAND IN ("zen") AND Items.PRICE < $P') == list(range(6))
    assert items(EXC + 'Items.BRAND IN ("zen") IF CurrentUser.AGE > $A') == list(range(6))


def test_omitted_include_parameter_is_an_error_naming_it() -> None:
    text = INC + 'Items.BRAND IN ("zen") IF CurrentUser.AGE > $MIN_AGE | ' + EXC + "Items.A IN ($X)"
    with pytest.raises(InvalidInputException, match="needs a value for parameter MIN_AGE"):
        items(text, {"X": '"a"'})
    with pytest.raises(InvalidInputException, match="parameter GENRE"):
        items(INC + "Items.GENRE IN ($GENRE)", {})


BAD_VALUES = [
    ({"GENRE": "Horror"}, "filterValues[GENRE]: expected a double-quoted value at character 1"),
    ({"GENRE": '"Horror'}, "filterValues[GENRE]: a value is never closed"),
    ({"GENRE": '"a" "b"'}, "filterValues[GENRE]: expected ',' between values at character 5"),
    ({"GENRE": '"a",'}, "expected a double-quoted value at character 5"),
    ({"GENRE": ""}, "expected a double-quoted value at character 1"),
    ({"GENRE": 3}, "filterValues[GENRE]: must be a string"),
    ({"GENRE": '"' + "x" * 1000 + '"'}, "is 1002 characters, at most 1000"),
    ({"GENRE": '"a"', "OTHER": '"b"'}, "OTHER is not a parameter of this filter"),
    ({"genre": '"a"'}, "genre is not a parameter of this filter (its parameters: GENRE, P)"),
    ({"BAD KEY": '"a"'}, "key 'BAD KEY' must match"),
    ({"": '"a"'}, "must match"),
    ({"K" * 51: '"a"'}, "must match"),
    ({f"K{i}": '"a"' for i in range(25)}, "has 26 entries, at most 25"),
    ({"GENRE": '"a"', "P": "cheap"}, "filterValues[P]: must be a number, not 'cheap'"),
    ({"GENRE": '"a"', "P": "nan"}, "filterValues[P]: must be a number"),
    ({"GENRE": '"a"', "P": "1e999"}, "filterValues[P]: must be a finite number"),
    ({"GENRE": '"a"', "P": '"1","2"'}, "filterValues[P]: must be a number"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES)
def test_bad_filter_values(values: dict, message: str) -> None:
    text = INC + "Items.GENRE IN ($GENRE) AND Items.PRICE < $P"
    with pytest.raises(InvalidInputException) as info:
        items(text, {"P": "1", **values})
    assert message in info.value.message


def test_filter_values_must_be_a_map() -> None:
    with pytest.raises(InvalidInputException, match="must be a map"):
        items(INC + "Items.GENRE IN ($G)", ['"a"'])  # type: ignore[arg-type]


HOSTILE_VALUES = [
    '"Drama\\"); DROP TABLE items; --"',
    "\"Drama' OR '1'='1\"",
    '"Drama" OR 1=1',
    '"\\\\","\\"","\\\\\\""',
    '"%","_","*",".*","Dra%"',
    '"' + "\\" * 500 + '"',
    ",".join(['"x"'] * 249),  # 999 characters, 249 values
    '"\x00","\u202e","Drama\u200b"',
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_filter_values_match_nothing_unintended(value: str) -> None:
    for text in (INC + "Items.GENRE IN ($G)", INC + "Items.BRAND = $G"):
        try:
            assert items(text, {"G": value}) == []
        except InvalidInputException as err:
            assert err.message.startswith("filterValues[G]: ")
        try:  # as an EXCLUDE it removes nothing
            assert items(text.replace("INCLUDE", "EXCLUDE"), {"G": value}) == list(range(6))
        except InvalidInputException as err:
            assert err.message.startswith("filterValues[G]: ")


def test_random_filter_values_never_crash_or_overmatch() -> None:
    rng = random.Random(11)
    alphabet = ['"', "\\", ",", " ", "x", "y", "(", ")", "*", "$", "'", ";", "%", "\n"]
    expr = parse_filter(INC + "Items.GENRE IN ($G) OR Items.BRAND IN ($G)")
    ctx = context()
    for _ in range(500):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        try:
            mask = evaluate_filter(expr, ctx, {"G": value})
        except InvalidInputException as err:
            assert err.message.startswith("filterValues[G]: ")
        else:
            assert not mask.any()  # no value made only of these characters names a genre


def test_context_columns_are_checked() -> None:
    with pytest.raises(ValueError, match="shape"):
        items(INC + "Items.PRICE < 3", item_columns={"PRICE": np.zeros(5)})


def test_object_columns_and_tuples() -> None:
    cols = {
        "GENRE": objects([("Drama", "Comedy"), ["Horror"], "Drama", float("nan"), 7, None]),
        "PRICE": objects([1, "2", None, 4.5, True, "x"]),
    }
    assert items(INC + 'Items.GENRE IN ("Drama")', item_columns=cols) == [0, 2]
    assert items(INC + 'Items.GENRE IN ("7")', item_columns=cols) == [4]
    assert items(INC + "Items.PRICE < 3", item_columns=cols) == [0, 1]


def test_wrong_target() -> None:
    with pytest.raises(InvalidInputException, match="UserID filters cannot filter item"):
        evaluate_filter(parse_filter("INCLUDE UserID WHERE Users.AGE > 3"), context())
    with pytest.raises(InvalidInputException, match="ItemID filters cannot filter user segments"):
        evaluate_user_filter(parse_filter(INC + "Items.PRICE > 3"), UserFilterContext(n_users=1))


# --- user segment filters ----------------------------------------------------------------------


def users(text: str, values: dict[str, str] | None = None) -> list[int]:
    ctx = UserFilterContext(
        n_users=5,
        user_columns={
            "AGE": np.array([17, 25, 40, np.nan, 33], dtype=float),
            "AGE_BAND": objects(["<18", "18-24", "35-44", None, "25-34"]),
            "MEMBERSHIP": objects(
                [
                    frozenset({"gold"}),
                    frozenset(),
                    None,
                    frozenset({"silver"}),
                    frozenset({"gold", "silver"}),
                ]
            ),
        },
        event_users={"Click": np.array([0, 1]), "rating": np.array([1, 4])},
    )
    mask = evaluate_user_filter(parse_filter(text), ctx, values)
    assert mask.dtype == bool and mask.shape == (5,)
    return [int(i) for i in np.flatnonzero(mask)]


def test_user_filters() -> None:
    assert users('INCLUDE UserID WHERE Users.AGE_BAND IN ("18-24")') == [1]
    assert users("INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($M)", {"M": '"x"'}) == []
    assert users("INCLUDE UserID WHERE Users.MEMBERSHIP IN ($M)", {"M": '"gold"'}) == [0, 4]
    assert users("EXCLUDE UserID WHERE Users.AGE < $AGE", {"AGE": "30"}) == [2, 3, 4]
    assert users('INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click", "rating")') == [0, 1, 4]
    assert users("EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($E)", {"E": '"rating"'}) == [
        0, 2, 3
    ]  # fmt: skip
    assert users("EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($E)") == [0, 1, 2, 3, 4]
    assert users(
        'INCLUDE UserID WHERE Users.MEMBERSHIP IN ("silver") OR Users.AGE < 18 | '
        'EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click")'
    ) == [3, 4]
    with pytest.raises(InvalidInputException, match="parameter AGE"):
        users("INCLUDE UserID WHERE Users.AGE < $AGE")

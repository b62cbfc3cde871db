"""The seeded sample store in data/sample: reproducible, well-formed, and every planted effect
measurable (with the queries of engine.sample.measure, which also fill the README table)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from engine.sample import generate
from engine.sample.catalog import ab_variant
from engine.sample.measure import DEC_1, JUN_1, NOV_3, Measurement, connect, measure_all

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
FILES = (
    "users.csv",
    "items.csv",
    "interactions.csv",
    "recommendation_exposures.csv",
    "interactions.schema.json",
    "users.schema.json",
    "items.schema.json",
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return connect(SAMPLE)


@pytest.fixture(scope="module")
def effects() -> dict[str, Measurement]:
    return {m.key: m for m in measure_all(SAMPLE)}


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


# --- (1) and (5): reproducibility ----------------------------------------------------------


@pytest.mark.slow
def test_default_seed_regenerates_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    paths = generate(tmp_path, seed=42)
    assert sorted(p.name for p in paths.values()) == sorted(FILES)
    for name in FILES:
        assert _sha(tmp_path / name) == _sha(SAMPLE / name), f"{name} differs from data/sample"


@pytest.mark.slow
def test_another_seed_gives_different_data_of_the_same_shape(tmp_path: Path) -> None:
    generate(tmp_path, seed=7)
    for name in ("users.csv", "items.csv", "interactions.csv", "recommendation_exposures.csv"):
        assert _sha(tmp_path / name) != _sha(SAMPLE / name), name
    for name in ("interactions.schema.json", "users.schema.json", "items.schema.json"):
        assert _sha(tmp_path / name) == _sha(SAMPLE / name), name
    other = connect(tmp_path)
    assert 100_000 <= _count(other, "SELECT count(*) FROM interactions") <= 250_000


# --- (2): sizes and formats -----------------------------------------------------------------


def test_sizes_are_in_range(con: duckdb.DuckDBPyConnection) -> None:
    assert 3_000 <= _count(con, "SELECT count(*) FROM users") <= 6_000
    assert 500 <= _count(con, "SELECT count(*) FROM items") <= 1_500
    assert 100_000 <= _count(con, "SELECT count(*) FROM interactions") <= 250_000
    assert (SAMPLE / "interactions.csv").stat().st_size < 15_000_000
    per_variant = con.execute(
        "SELECT VARIANT, count(*) FROM exposures GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert [v for v, _ in per_variant] == ["variant_a", "variant_b"]
    assert all(8_000 <= n <= 30_000 for _, n in per_variant)


def test_csv_headers() -> None:
    def header(name: str) -> str:
        with (SAMPLE / name).open(encoding="utf-8") as f:
            return f.readline().rstrip("\n")

    assert header("users.csv") == "USER_ID,AGE_BAND,MEMBERSHIP_TIER,REGION"
    assert header("items.csv") == (
        "ITEM_ID,CATEGORY,SUB_CATEGORY,BRAND,PRICE,CREATION_TIMESTAMP,DESCRIPTION"
    )
    assert header("interactions.csv") == (
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,DEVICE,TIME_OF_DAY,IMPRESSION,"
        "RECOMMENDATION_ID,EVENT_ATTRIBUTION_SOURCE"
    )
    assert header("recommendation_exposures.csv") == (
        "RECOMMENDATION_ID,USER_ID,TIMESTAMP,VARIANT,ITEM_IDS"
    )
    assert b"\r" not in (SAMPLE / "interactions.csv").read_bytes()


def test_schemas_are_personalize_avro() -> None:
    expected = {
        "interactions": (
            "Interactions",
            [
                ("USER_ID", "string", {}),
                ("ITEM_ID", "string", {}),
                ("TIMESTAMP", "long", {}),
                ("EVENT_TYPE", "string", {}),
                ("EVENT_VALUE", ["null", "float"], {}),
                ("DEVICE", ["null", "string"], {"categorical": True}),
                ("TIME_OF_DAY", ["null", "string"], {"categorical": True}),
                ("IMPRESSION", ["null", "string"], {}),
                ("RECOMMENDATION_ID", ["null", "string"], {}),
                ("EVENT_ATTRIBUTION_SOURCE", ["null", "string"], {}),
            ],
        ),
        "users": (
            "Users",
            [("USER_ID", "string", {})]
            + [
                (n, "string", {"categorical": True})
                for n in ("AGE_BAND", "MEMBERSHIP_TIER", "REGION")
            ],
        ),
        "items": (
            "Items",
            [("ITEM_ID", "string", {})]
            + [(n, "string", {"categorical": True}) for n in ("CATEGORY", "SUB_CATEGORY", "BRAND")]
            + [
                ("PRICE", "float", {}),
                ("CREATION_TIMESTAMP", "long", {}),
                ("DESCRIPTION", ["null", "string"], {"textual": True}),
            ],
        ),
    }
    for stem, (name, fields) in expected.items():
        text = (SAMPLE / f"{stem}.schema.json").read_text(encoding="utf-8")
        doc = json.loads(text)
        assert doc == {
            "type": "record",
            "name": name,
            "namespace": "com.amazonaws.personalize.schema",
            "fields": [{"name": n, "type": t, **flags} for n, t, flags in fields],
            "version": "1.0",
        }
        assert text == json.dumps(doc, indent=2) + "\n"


def test_users_and_items_columns(con: duckdb.DuckDBPyConnection) -> None:
    tiers = dict(con.execute("SELECT MEMBERSHIP_TIER, count(*) FROM users GROUP BY 1").fetchall())
    assert set(tiers) == {"bronze", "silver", "gold"} and tiers["bronze"] > sum(tiers.values()) / 2
    assert {r[0] for r in con.execute("SELECT DISTINCT AGE_BAND FROM users").fetchall()} == {
        "18-24",
        "25-34",
        "35-44",
        "45-54",
        "55+",
    }
    assert {r[0] for r in con.execute("SELECT DISTINCT REGION FROM users").fetchall()} == {
        "north",
        "south",
        "east",
        "west",
    }
    subs = dict(
        con.execute(
            "SELECT CATEGORY, count(DISTINCT SUB_CATEGORY) FROM items GROUP BY 1"
        ).fetchall()
    )
    assert len(subs) == 8 and all(2 <= n <= 4 for n in subs.values())
    medians = dict(con.execute("SELECT CATEGORY, median(PRICE) FROM items GROUP BY 1").fetchall())
    assert max(medians, key=medians.get) == "electronics"
    assert min(medians, key=medians.get) == "grocery"
    bad_prices = con.execute(
        "SELECT count(*) FILTER (NOT regexp_full_match(PRICE, '[0-9]+\\.[0-9]{2}')) FROM "
        "read_csv(?, all_varchar = true)",
        [str(SAMPLE / "items.csv")],
    ).fetchone()[0]
    assert bad_prices == 0
    new_share, months_with_new, blank = con.execute(f"""
        SELECT avg((CREATION_TIMESTAMP >= {JUN_1})::INT),
               count(DISTINCT month(make_timestamp(CREATION_TIMESTAMP * 1000000))) FILTER (
                   CREATION_TIMESTAMP >= {JUN_1}),
               count(*) FILTER (coalesce(DESCRIPTION, '') = '') FROM items""").fetchone()
    assert 0.15 <= new_share <= 0.35 and months_with_new >= 6 and blank == 0
    # quoted descriptions with commas survive the CSV round trip
    assert _count(con, "SELECT count(*) FROM items WHERE DESCRIPTION LIKE '%, %.'") > 100


# --- (4): integrity ---------------------------------------------------------------------------


def test_interactions_reference_existing_users_and_items(con: duckdb.DuckDBPyConnection) -> None:
    assert (
        _count(
            con,
            "SELECT count(*) FROM interactions WHERE USER_ID NOT IN (SELECT USER_ID FROM users)",
        )
        == 0
    )
    assert (
        _count(
            con,
            "SELECT count(*) FROM interactions WHERE ITEM_ID NOT IN (SELECT ITEM_ID FROM items)",
        )
        == 0
    )
    assert _count(con, "SELECT count(*) FROM ev") == _count(
        con, "SELECT count(*) FROM interactions"
    )


def test_no_interaction_before_its_item_exists(con: duckdb.DuckDBPyConnection) -> None:
    assert _count(con, "SELECT count(*) FROM ev WHERE TIMESTAMP < CREATION_TIMESTAMP") == 0
    # ... and new items do get interactions (so the check above is not vacuous)
    assert _count(con, f"SELECT count(*) FROM ev WHERE CREATION_TIMESTAMP >= {JUN_1}") > 5_000


def test_time_of_day_matches_the_utc_hour(con: duckdb.DuckDBPyConnection) -> None:
    assert (
        _count(
            con,
            """
        SELECT count(*) FROM interactions WHERE TIME_OF_DAY IS DISTINCT FROM
            ['night', 'morning', 'afternoon', 'evening'][(TIMESTAMP % 86400) // 21600 + 1]""",
        )
        == 0
    )
    assert (
        _count(
            con,
            f"SELECT count(*) FROM interactions WHERE TIMESTAMP < {JUN_1} OR TIMESTAMP >= {DEC_1}",
        )
        == 0
    )


def test_rows_are_sorted() -> None:
    funnel = {"view": 0, "add_to_cart": 1, "purchase": 2}
    with (SAMPLE / "interactions.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    keys = [(int(r[2]), r[0], r[1], funnel[r[3]]) for r in rows]
    assert keys == sorted(keys)
    with (SAMPLE / "recommendation_exposures.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert [(int(r[2]), r[1]) for r in rows] == sorted((int(r[2]), r[1]) for r in rows)
    assert [r[0] for r in rows] == [f"r{i:06d}" for i in range(1, len(rows) + 1)]


def test_event_values_devices_and_funnel(con: duckdb.DuckDBPyConnection) -> None:
    assert {
        r[0] for r in con.execute("SELECT DISTINCT EVENT_TYPE FROM interactions").fetchall()
    } == {"view", "add_to_cart", "purchase"}
    assert {r[0] for r in con.execute("SELECT DISTINCT DEVICE FROM interactions").fetchall()} == {
        "mobile",
        "desktop",
        "tablet",
    }
    assert (
        _count(
            con,
            """SELECT count(*) FROM ev WHERE (EVENT_TYPE = 'purchase')
                          != (EVENT_VALUE IS NOT NULL) OR EVENT_VALUE != PRICE""",
        )
        == 0
    )
    for later, earlier in (("add_to_cart", "view"), ("purchase", "add_to_cart")):
        orphans = _count(
            con,
            f"""
            SELECT count(*) FROM interactions a WHERE EVENT_TYPE = '{later}' AND NOT EXISTS (
                SELECT 1 FROM interactions b WHERE b.EVENT_TYPE = '{earlier}'
                AND b.USER_ID = a.USER_ID AND b.ITEM_ID = a.ITEM_ID
                AND b.TIMESTAMP <= a.TIMESTAMP AND b.TIMESTAMP >= a.TIMESTAMP - 3600)""",
        )
        assert orphans == 0, f"{orphans} {later} rows without a {earlier} in the hour before"
    # a preferred device per user, with some switching
    loyal = con.execute("""
        WITH d AS (SELECT USER_ID, DEVICE, count(*) AS n FROM interactions GROUP BY 1, 2)
        SELECT sum(m) / sum(t) FROM (SELECT max(n) AS m, sum(n) AS t FROM d GROUP BY USER_ID)
        """).fetchone()[0]
    assert 0.7 <= loyal <= 0.95


def test_attribution_columns_only_on_ab_clicks(con: duckdb.DuckDBPyConnection) -> None:
    assert (
        _count(
            con,
            f"""SELECT count(*) FROM interactions WHERE TIMESTAMP < {NOV_3} AND
        (IMPRESSION IS NOT NULL OR RECOMMENDATION_ID IS NOT NULL
         OR EVENT_ATTRIBUTION_SOURCE IS NOT NULL)""",
        )
        == 0
    )
    assert (
        _count(
            con,
            """SELECT count(*) FROM interactions WHERE
        (RECOMMENDATION_ID IS NULL) != (EVENT_ATTRIBUTION_SOURCE IS NULL)
        OR (IMPRESSION IS NOT NULL) != (RECOMMENDATION_ID IS NOT NULL AND EVENT_TYPE = 'view')
        """,
        )
        == 0
    )
    bad = _count(
        con,
        """
        SELECT count(*) FROM interactions x JOIN exposures e USING (RECOMMENDATION_ID)
        WHERE x.USER_ID != e.USER_ID OR x.EVENT_ATTRIBUTION_SOURCE != e.VARIANT
           OR x.TIMESTAMP < e.TIMESTAMP OR x.TIMESTAMP > e.TIMESTAMP + 3 * 3600
           OR NOT list_contains(string_split(e.ITEM_IDS, '|'), x.ITEM_ID)
           OR (x.EVENT_TYPE = 'view' AND (x.IMPRESSION != e.ITEM_IDS
               OR x.TIMESTAMP > e.TIMESTAMP + 1800))""",
    )
    assert bad == 0
    assert (
        _count(
            con,
            "SELECT count(*) FROM interactions WHERE RECOMMENDATION_ID IS NOT NULL "
            "AND RECOMMENDATION_ID NOT IN (SELECT RECOMMENDATION_ID FROM exposures)",
        )
        == 0
    )
    assert (
        _count(
            con,
            """SELECT count(*) FROM (SELECT RECOMMENDATION_ID FROM interactions
        WHERE EVENT_TYPE = 'view' AND RECOMMENDATION_ID IS NOT NULL GROUP BY 1
        HAVING count(*) > 1)""",
        )
        == 0
    )


def test_exposures_are_well_formed(con: duckdb.DuckDBPyConnection) -> None:
    lists = con.execute("""
        SELECT e.USER_ID, e.VARIANT, e.TIMESTAMP, string_split(e.ITEM_IDS, '|') AS ids
        FROM exposures e""").fetchall()
    assert all(len(ids) == 10 == len(set(ids)) for *_, ids in lists)
    assert all(NOV_3 <= ts < DEC_1 for _, _, ts, _ in lists)
    assert all(v == ("variant_b" if ab_variant(u) else "variant_a") for u, v, _, _ in lists)
    assert (
        _count(
            con,
            """SELECT count(*) FROM (SELECT unnest(string_split(ITEM_IDS, '|')) AS
        ITEM_ID, TIMESTAMP FROM exposures) x JOIN items i USING (ITEM_ID)
        WHERE x.TIMESTAMP < i.CREATION_TIMESTAMP""",
        )
        == 0
    )
    # variant_b draws from the user's two favourite categories; variant_a from popular items
    cats = dict(
        con.execute("""
        SELECT VARIANT, avg(n) FROM (SELECT VARIANT, RECOMMENDATION_ID,
            count(DISTINCT CATEGORY) AS n FROM (SELECT VARIANT, RECOMMENDATION_ID,
            unnest(string_split(ITEM_IDS, '|')) AS ITEM_ID FROM exposures) JOIN items
            USING (ITEM_ID) GROUP BY 1, 2) GROUP BY 1""").fetchall()
    )
    assert cats["variant_b"] <= 2 < cats["variant_a"]


# --- (3): planted effects ----------------------------------------------------------------------


def test_popularity_is_skewed_with_a_long_tail(effects: dict[str, Measurement]) -> None:
    assert effects["popularity_top10"].value >= 0.35
    assert 0.02 <= effects["popularity_bottom50"].value <= 0.25


@pytest.mark.parametrize(
    ("key", "minimum"),
    [
        ("age_18-24_electronics", 1.8),
        ("age_18-24_toys_games", 1.8),
        ("age_55+_home_garden", 1.8),
        ("age_55+_books", 1.8),
        ("device_mobile_fashion", 1.4),
        ("device_mobile_beauty", 1.4),
        ("device_desktop_electronics", 1.4),
        ("device_tablet_books", 1.5),
        ("tod_night_toys_games", 1.5),
        ("tod_morning_grocery", 1.5),
        ("tod_evening_home_garden", 1.15),
        ("gold_conversion", 1.2),
        ("season_sports", 2.0),
        ("season_coats", 3.0),
        ("season_toys", 1.4),
        ("freshness", 2.0),
        ("weekend", 1.15),
    ],
)
def test_planted_lift(effects: dict[str, Measurement], key: str, minimum: float) -> None:
    m = effects[key]
    assert m.value >= minimum, f"{m.effect}: {m.value:.2f} < {minimum}"
    assert m.p_value is not None and m.p_value < 0.001, f"{m.effect}: p = {m.p_value}"


def test_no_effect_where_none_was_planted(con: duckdb.DuckDBPyConnection) -> None:
    """REGION carries no planted taste: its category lifts stay near 1 (a control for the
    lift queries above)."""
    lifts = con.execute("""
        WITH s AS (SELECT REGION, CATEGORY, count(*) AS n FROM ev GROUP BY 1, 2)
        SELECT n / sum(n) OVER (PARTITION BY REGION)
             / (sum(n) OVER (PARTITION BY CATEGORY) / sum(n) OVER ()) FROM s""").fetchall()
    assert all(0.8 <= lift <= 1.25 for (lift,) in lifts)


def test_gold_members_view_pricier_items(effects: dict[str, Measurement]) -> None:
    assert effects["gold_price"].value >= 1.15


def test_activity_follows_a_daily_curve(effects: dict[str, Measurement]) -> None:
    assert effects["night_share"].value <= 0.10
    assert effects["evening_vs_night"].value >= 4


def test_funnel_rates(effects: dict[str, Measurement]) -> None:
    assert 0.10 <= effects["view_to_cart"].value <= 0.15
    assert 0.30 <= effects["cart_to_purchase"].value <= 0.45


def test_ab_variant_b_beats_variant_a(effects: dict[str, Measurement]) -> None:
    ctr_a, ctr_b = effects["ab_ctr_a"].value, effects["ab_ctr_b"].value
    assert 0.06 <= ctr_a <= 0.10 and 0.09 <= ctr_b <= 0.13
    assert ctr_b - ctr_a >= 0.02 and effects["ab_ctr_b"].p_value < 0.001
    buy_a, buy_b = effects["ab_buy_a"].value, effects["ab_buy_b"].value
    assert 0.15 <= buy_a <= 0.25 and 0.21 <= buy_b <= 0.31
    assert buy_b - buy_a >= 0.02 and effects["ab_buy_b"].p_value < 0.001

"""Measure the planted effects in a generated sample store with DuckDB queries.

The tests (tests/test_sample_generator.py) and the table in data/sample/README.md both use
these queries. ``python -m engine.sample.measure data/sample`` prints the table as Markdown.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from engine.sample.generator import SampleConfig

INTERACTION_TYPES = {
    "USER_ID": "VARCHAR",
    "ITEM_ID": "VARCHAR",
    "TIMESTAMP": "BIGINT",
    "EVENT_TYPE": "VARCHAR",
    "EVENT_VALUE": "DOUBLE",
    "DEVICE": "VARCHAR",
    "TIME_OF_DAY": "VARCHAR",
    "IMPRESSION": "VARCHAR",
    "RECOMMENDATION_ID": "VARCHAR",
    "EVENT_ATTRIBUTION_SOURCE": "VARCHAR",
}
ITEM_TYPES = {
    "ITEM_ID": "VARCHAR",
    "CATEGORY": "VARCHAR",
    "SUB_CATEGORY": "VARCHAR",
    "BRAND": "VARCHAR",
    "PRICE": "DOUBLE",
    "CREATION_TIMESTAMP": "BIGINT",
    "DESCRIPTION": "VARCHAR",
}
EXPOSURE_TYPES = {
    "RECOMMENDATION_ID": "VARCHAR",
    "USER_ID": "VARCHAR",
    "TIMESTAMP": "BIGINT",
    "VARIANT": "VARCHAR",
    "ITEM_IDS": "VARCHAR",
}
# Unix seconds of the windows the effects are measured on (UTC).
JUN_1, AUG_1, OCT_1, NOV_3, NOV_16, DEC_1 = (
    1748736000,
    1754006400,
    1759276800,
    1762128000,
    1763251200,
    1764547200,
)
DAY = 86_400


@dataclass(frozen=True)
class Measurement:
    """One measured effect: its value and, where it has one, its test's p-value (a
    two-proportion z-test unless the effect text names another test)."""

    key: str
    effect: str
    designed: str
    value: float
    unit: str = "x"  # "x" for a ratio, "%" for a rate or share
    p_value: float | None = None
    note: str = ""

    def formatted(self) -> str:
        """The value as it appears in the README table."""
        return f"{self.value:.1%}" if self.unit == "%" else f"{self.value:.2f}x"


def two_proportion_p(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value of the pooled two-proportion z-test of x1/n1 against x2/n2."""
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.erfc(abs(x1 / n1 - x2 / n2) / se / math.sqrt(2))


def connect(data_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with views users, items, interactions, exposures and ``ev``
    (interactions joined with user and item attributes)."""
    d = Path(data_dir)
    con = duckdb.connect()

    def view(name: str, file: str, types: dict[str, str] | None) -> None:
        cols = f", columns = {types!r}" if types else ", all_varchar = true"
        path = str(d / file).replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{path}', header = true{cols})")

    view("users", "users.csv", None)
    view("items", "items.csv", ITEM_TYPES)
    view("interactions", "interactions.csv", INTERACTION_TYPES)
    view("exposures", "recommendation_exposures.csv", EXPOSURE_TYPES)
    con.execute("""
        CREATE VIEW ev AS SELECT x.*, u.AGE_BAND, u.MEMBERSHIP_TIER, u.REGION, i.CATEGORY,
               i.SUB_CATEGORY, i.PRICE, i.CREATION_TIMESTAMP
        FROM interactions x JOIN users u USING (USER_ID) JOIN items i USING (ITEM_ID)""")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    return con.execute(sql, params or []).fetchone()


def share_comparison(
    con: duckdb.DuckDBPyConnection, group: str, category_cond: str
) -> tuple[float, float, float]:
    """For rows in ``group`` against all other rows: (share of rows meeting ``category_cond``
    in the group / that share in the rest, the same over the share among all rows, z-test p)."""
    x1, n1, x2, n2 = _one(
        con,
        f"""
        SELECT count(*) FILTER (({group}) AND ({category_cond})),
               count(*) FILTER ({group}),
               count(*) FILTER (NOT ({group}) AND ({category_cond})),
               count(*) FILTER (NOT ({group}))
        FROM ev""",
    )
    vs_overall = (x1 / n1) / ((x1 + x2) / (n1 + n2))
    return (x1 / n1) / (x2 / n2), vs_overall, two_proportion_p(x1, n1, x2, n2)


def window_ratio(
    con: duckdb.DuckDBPyConnection, cond: str, win1: tuple[int, int], win2: tuple[int, int]
) -> tuple[float, float]:
    """Share of rows meeting ``cond`` in time window 1 over its share in window 2, and p."""
    x1, n1, x2, n2 = _one(
        con,
        """
        SELECT count(*) FILTER (TIMESTAMP >= $1 AND TIMESTAMP < $2 AND ({c})),
               count(*) FILTER (TIMESTAMP >= $1 AND TIMESTAMP < $2),
               count(*) FILTER (TIMESTAMP >= $3 AND TIMESTAMP < $4 AND ({c})),
               count(*) FILTER (TIMESTAMP >= $3 AND TIMESTAMP < $4)
        FROM ev""".replace("{c}", cond),
        [*win1, *win2],
    )
    return (x1 / n1) / (x2 / n2), two_proportion_p(x1, n1, x2, n2)


def popularity(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """(share of interactions on the top 10% of items, share on the bottom 50% of items)."""
    return _one(
        con,
        """
        WITH c AS (SELECT i.ITEM_ID, count(x.ITEM_ID) AS n
                   FROM items i LEFT JOIN interactions x USING (ITEM_ID) GROUP BY 1),
             r AS (SELECT n, row_number() OVER (ORDER BY n DESC, ITEM_ID) AS rk,
                          count(*) OVER () AS items FROM c)
        SELECT sum(n) FILTER (rk <= items * 0.1) / sum(n),
               sum(n) FILTER (rk > items * 0.5) / sum(n) FROM r""",
    )


def tier_conversion(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """Gold's purchases per view over bronze's, and p (organic rows: the A/B clicks have their
    own planted conversion)."""
    g_buy, g_view, b_buy, b_view = _one(
        con,
        """
        SELECT count(*) FILTER (MEMBERSHIP_TIER = 'gold' AND EVENT_TYPE = 'purchase'),
               count(*) FILTER (MEMBERSHIP_TIER = 'gold' AND EVENT_TYPE = 'view'),
               count(*) FILTER (MEMBERSHIP_TIER = 'bronze' AND EVENT_TYPE = 'purchase'),
               count(*) FILTER (MEMBERSHIP_TIER = 'bronze' AND EVENT_TYPE = 'view')
        FROM ev WHERE RECOMMENDATION_ID IS NULL""",
    )
    return (g_buy / g_view) / (b_buy / b_view), two_proportion_p(g_buy, g_view, b_buy, b_view)


def tier_price(con: duckdb.DuckDBPyConnection) -> float:
    """Mean price of gold's viewed items over bronze's, each price relative to its category's
    median price (so the category mix does not matter)."""
    return _one(
        con,
        """
        WITH m AS (SELECT CATEGORY, median(PRICE) AS med FROM items GROUP BY 1)
        SELECT avg(PRICE / med) FILTER (MEMBERSHIP_TIER = 'gold')
             / avg(PRICE / med) FILTER (MEMBERSHIP_TIER = 'bronze')
        FROM ev JOIN m USING (CATEGORY) WHERE EVENT_TYPE = 'view'""",
    )[0]


def night_share(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """(share of interactions at night, evening events per hour over night events per hour)."""
    night, evening, total = _one(
        con,
        """
        SELECT count(*) FILTER (TIME_OF_DAY = 'night'), count(*) FILTER (TIME_OF_DAY = 'evening'),
               count(*) FROM interactions""",
    )
    return night / total, evening / night


def freshness(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """For items created in the period at least 42 days before its end: interactions per day
    in their first 14 days over interactions per day in days 14-42, and the p of a z-test of
    the early count's share against the 14/42 it would have without a boost."""
    early, late = _one(
        con,
        """
        SELECT count(*) FILTER (TIMESTAMP < CREATION_TIMESTAMP + 14 * 86400),
               count(*) FILTER (TIMESTAMP >= CREATION_TIMESTAMP + 14 * 86400)
        FROM ev WHERE CREATION_TIMESTAMP >= $1 AND CREATION_TIMESTAMP < $2 - 42 * 86400
          AND TIMESTAMP < CREATION_TIMESTAMP + 42 * 86400""",
        [JUN_1, DEC_1],
    )
    n, p0 = early + late, 14 / 42
    z = (early / n - p0) / math.sqrt(p0 * (1 - p0) / n)
    return (early / 14) / (late / 28), math.erfc(abs(z) / math.sqrt(2))


def ab_rates(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int]]:
    """Per variant: (exposures, clicked exposures, clicked exposures with a purchase)."""
    rows = con.execute("""
        SELECT e.VARIANT, count(*),
               count(*) FILTER (e.RECOMMENDATION_ID IN (SELECT RECOMMENDATION_ID FROM
                   interactions WHERE EVENT_TYPE = 'view')),
               count(*) FILTER (e.RECOMMENDATION_ID IN (SELECT RECOMMENDATION_ID FROM
                   interactions WHERE EVENT_TYPE = 'purchase'))
        FROM exposures e GROUP BY 1 ORDER BY 1""").fetchall()
    return {v: (n, c, b) for v, n, c, b in rows}


def weekend_ratio(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """Mean interactions per Saturday/Sunday over mean interactions per weekday, and the
    two-sided p of Welch's t on the daily counts (normal approximation)."""
    m1, v1, n1, m2, v2, n2 = _one(
        con,
        """
        WITH d AS (SELECT TIMESTAMP // 86400 AS day, count(*) AS n FROM interactions GROUP BY 1),
             w AS (SELECT n, isodow(make_timestamp(day * 86400 * 1000000)) >= 6 AS weekend
                   FROM d)
        SELECT avg(n) FILTER (weekend), var_samp(n) FILTER (weekend),
               count(*) FILTER (weekend), avg(n) FILTER (NOT weekend),
               var_samp(n) FILTER (NOT weekend), count(*) FILTER (NOT weekend) FROM w""",
    )
    t = (m1 - m2) / math.sqrt(v1 / n1 + v2 / n2)
    return m1 / m2, math.erfc(abs(t) / math.sqrt(2))


def funnel(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """(add_to_cart rows per view row, purchase rows per add_to_cart row)."""
    return _one(
        con,
        """
        SELECT count(*) FILTER (EVENT_TYPE = 'add_to_cart') / count(*) FILTER (EVENT_TYPE = 'view'),
               count(*) FILTER (EVENT_TYPE = 'purchase')
                 / count(*) FILTER (EVENT_TYPE = 'add_to_cart')
        FROM interactions""",
    )


def _lifts(con: duckdb.DuckDBPyConnection, cfg: SampleConfig) -> list[Measurement]:
    """Category lifts by age band, device and time of day (group against everyone else)."""
    specs = [
        ("age", "AGE_BAND", "18-24", "electronics", cfg.age_affinity),
        ("age", "AGE_BAND", "18-24", "toys_games", cfg.age_affinity),
        ("age", "AGE_BAND", "55+", "home_garden", cfg.age_affinity),
        ("age", "AGE_BAND", "55+", "books", cfg.age_affinity),
        ("device", "DEVICE", "mobile", "fashion", cfg.device_affinity),
        ("device", "DEVICE", "mobile", "beauty", cfg.device_affinity),
        ("device", "DEVICE", "desktop", "electronics", cfg.device_affinity),
        ("device", "DEVICE", "tablet", "books", cfg.device_affinity),
        ("tod", "TIME_OF_DAY", "night", "toys_games", cfg.time_of_day_affinity),
        ("tod", "TIME_OF_DAY", "morning", "grocery", cfg.time_of_day_affinity),
        ("tod", "TIME_OF_DAY", "evening", "home_garden", cfg.time_of_day_affinity),
    ]
    out = []
    for kind, col, group, cat, table in specs:
        rest, overall, p = share_comparison(con, f"{col} = '{group}'", f"CATEGORY = '{cat}'")
        out.append(
            Measurement(
                f"{kind}_{group}_{cat}",
                f"{cat} share: {col} {group} / everyone else",
                f"weight x{table.get(group, {}).get(cat, 1.0)}",
                rest,
                "x",
                p,
                f"{overall:.2f}x vs overall share",
            )
        )
    return out


def _curve(anchors: tuple[tuple[str, float], ...]) -> str:
    """Season anchors as text, e.g. '1.7 (06-01) > 0.5 (11-30)'; '1' when there are none."""
    return " > ".join(f"{m:g} ({d[5:]})" for d, m in anchors) or "1"


def _season(con: duckdb.DuckDBPyConnection, cfg: SampleConfig) -> list[Measurement]:
    sports = window_ratio(con, "CATEGORY = 'sports_outdoor'", (JUN_1, AUG_1), (OCT_1, DEC_1))
    coats = window_ratio(con, "SUB_CATEGORY = 'coats'", (OCT_1, DEC_1), (JUN_1, AUG_1))
    toys = window_ratio(con, "CATEGORY = 'toys_games'", (NOV_16, DEC_1), (JUN_1, NOV_16))
    season = {k: _curve(v) for k, v in cfg.category_season.items()}
    coat_curve = _curve(cfg.sub_category_season.get("coats", ()))
    return [
        Measurement(
            "season_sports",
            "sports_outdoor share: Jun-Jul / Oct-Nov",
            f"weight {season.get('sports_outdoor', '1')}",
            sports[0],
            "x",
            sports[1],
        ),
        Measurement(
            "season_coats",
            "fashion/coats share: Oct-Nov / Jun-Jul",
            f"weight within fashion {coat_curve}; fashion {season.get('fashion', '1')}",
            coats[0],
            "x",
            coats[1],
        ),
        Measurement(
            "season_toys",
            "toys_games share: Nov 16-30 / Jun 1-Nov 15",
            f"weight {season.get('toys_games', '1')}",
            toys[0],
            "x",
            toys[1],
        ),
    ]


def _ab(con: duckdb.DuckDBPyConnection, cfg: SampleConfig) -> list[Measurement]:
    rates = ab_rates(con)
    (na, ca, ba), (nb, cb, bb) = rates["variant_a"], rates["variant_b"]
    ctr_p, buy_p = two_proportion_p(ca, na, cb, nb), two_proportion_p(ba, ca, bb, cb)
    (ctr_a, ctr_b), (buy_a, buy_b) = cfg.ab_click_through, cfg.ab_purchase_after_click
    return [
        Measurement(
            "ab_ctr_a",
            "click-through, variant_a",
            f"{ctr_a:.0%}",
            ca / na,
            "%",
            note=f"{ca} clicks / {na} exposures",
        ),
        Measurement(
            "ab_ctr_b",
            "click-through, variant_b (p: against A)",
            f"{ctr_b:.0%}",
            cb / nb,
            "%",
            ctr_p,
            f"{cb} clicks / {nb} exposures",
        ),
        Measurement(
            "ab_buy_a",
            "purchase after click, variant_a",
            f"{buy_a:.0%}",
            ba / ca,
            "%",
            note=f"{ba} / {ca} clicks",
        ),
        Measurement(
            "ab_buy_b",
            "purchase after click, variant_b (p: against A)",
            f"{buy_b:.0%}",
            bb / cb,
            "%",
            buy_p,
            f"{bb} / {cb} clicks",
        ),
    ]


def measure_all(data_dir: str | Path, cfg: SampleConfig | None = None) -> list[Measurement]:
    """Every planted effect, measured in the files in ``data_dir``."""
    cfg = cfg or SampleConfig()
    con = connect(data_dir)
    top10, bottom50 = popularity(con)
    conv, conv_p = tier_conversion(con)
    night, evening_night = night_share(con)
    cart, buy = funnel(con)
    weekend, weekend_p = weekend_ratio(con)
    fresh, fresh_p = freshness(con)
    tiers = cfg.tier_cart_multiplier[2] * cfg.tier_purchase_multiplier[2]
    hours = np.asarray(cfg.hourly_activity)
    return [
        Measurement(
            "popularity_top10",
            "share of interactions on the top 10% of items",
            f"Zipf exponent {cfg.zipf_exponent} within category",
            top10,
            "%",
        ),
        Measurement(
            "popularity_bottom50",
            "share of interactions on the bottom 50% of items",
            "long tail",
            bottom50,
            "%",
        ),
        *_lifts(con, cfg),
        Measurement(
            "gold_conversion",
            "purchases per view (organic): gold / bronze",
            f"x{tiers:.2f}",
            conv,
            "x",
            conv_p,
        ),
        Measurement(
            "gold_price",
            "relative price of viewed items: gold / bronze",
            f"weight x (price / category median)^{cfg.gold_price_exponent}",
            tier_price(con),
        ),
        *_season(con, cfg),
        Measurement(
            "night_share",
            "share of interactions at night (00-06 UTC)",
            f"hourly curve: {hours[:6].sum() / hours.sum():.1%} of the weight",
            night,
            "%",
        ),
        Measurement(
            "evening_vs_night",
            "interactions: evening / night",
            f"hourly curve: x{hours[18:].sum() / hours[:6].sum():.2f}",
            evening_night,
        ),
        Measurement(
            "freshness",
            "new items' interactions per day: days 0-14 / days 14-42",
            f"weight x{cfg.freshness_boost} for {cfg.freshness_days} days",
            fresh,
            "x",
            fresh_p,
        ),
        *_ab(con, cfg),
        Measurement(
            "weekend",
            "interactions per day: Sat-Sun / Mon-Fri (p: Welch t)",
            f"x{cfg.weekend_multiplier}",
            weekend,
            "x",
            weekend_p,
        ),
        Measurement(
            "view_to_cart",
            "add_to_cart rows / view rows",
            f"{cfg.cart_rate:.1%} bronze, tiers x1.1-1.2",
            cart,
            "%",
        ),
        Measurement(
            "cart_to_purchase",
            "purchase rows / add_to_cart rows",
            f"{cfg.purchase_rate:.0%} bronze, tiers x1.1-1.25",
            buy,
            "%",
        ),
    ]


# Planted-effect number (as in data/sample/README.md) by Measurement.key prefix.
EFFECT_NUMBER = {
    "popularity": "1",
    "age": "2",
    "gold": "2",
    "season": "3",
    "device": "4",
    "tod": "5",
    "night": "5",
    "evening": "5",
    "freshness": "6",
    "ab": "7",
    "weekend": "8",
    "view": "-",
    "cart": "-",
}


def markdown_table(measurements: list[Measurement]) -> str:
    """The README table."""
    lines = [
        "| # | Effect (measured as) | Designed | Measured | p | Note |",
        "|---|---|---|---|---|---|",
    ]

    def number(m: Measurement) -> str:
        return EFFECT_NUMBER[m.key.split("_")[0]]

    for m in sorted(measurements, key=lambda m: number(m).replace("-", "9")):
        p = "" if m.p_value is None else "< 1e-300" if m.p_value < 1e-300 else f"{m.p_value:.1e}"
        lines.append(
            f"| {number(m)} | {m.effect} | {m.designed} | {m.formatted()} | {p} | {m.note} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table(measure_all(sys.argv[1] if len(sys.argv) > 1 else "data/sample")))

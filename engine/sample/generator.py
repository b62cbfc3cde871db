"""Seeded generator of Tailor's synthetic sample store (see data/sample/README.md).

``generate(out_dir, seed)`` writes users, items, interactions, the A/B serving log and the
three Amazon Personalize schemas. The same seed gives byte-identical files (same numpy).
Run as ``python -m engine.sample.generator OUT_DIR [SEED]``.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from engine.sample import abtest, effects
from engine.sample.catalog import (
    AGE_BANDS,
    CATEGORIES,
    DEVICES,
    REGIONS,
    TIERS,
    VARIANTS,
    Events,
    Items,
    Users,
    make_items,
    make_users,
)

EVENT_TYPES = ("view", "add_to_cart", "purchase")  # also the funnel sort order
SUMMER_SPORT = (
    ("2025-06-01", 1.7),
    ("2025-07-31", 1.7),
    ("2025-09-01", 1.0),
    ("2025-10-01", 0.6),
    ("2025-11-30", 0.5),
)


@dataclass(frozen=True)
class SampleConfig:
    """Sizes and planted-effect strengths (weights are relative multipliers)."""

    n_users: int = 4_000
    n_items: int = 1_000
    n_sessions: int = 30_000
    mean_views_per_session: float = 4.0
    start_date: str = "2025-06-01"
    n_days: int = 183  # through 2025-11-30
    ab_start_date: str = "2025-11-03"  # the last 28 days
    # segments and catalogue
    age_band_shares: tuple[float, ...] = (0.16, 0.27, 0.23, 0.18, 0.16)
    tier_shares: tuple[float, ...] = (0.65, 0.25, 0.10)
    region_shares: tuple[float, ...] = (0.24, 0.28, 0.25, 0.23)
    device_shares: tuple[float, ...] = (0.55, 0.35, 0.10)
    device_loyalty: float = 0.8  # P(a session uses the user's preferred device)
    activity_sigma: float = 0.8  # log-normal spread of users' session counts
    taste_shape: float = 3.0  # gamma shape of personal category taste (mean 1)
    category_item_shares: tuple[float, ...] = (0.14, 0.16, 0.13, 0.15, 0.11, 0.10, 0.10, 0.11)
    price_median: dict[str, float] = field(
        default_factory=lambda: {
            "electronics": 250,
            "fashion": 60,
            "home_garden": 80,
            "books": 15,
            "sports_outdoor": 70,
            "toys_games": 35,
            "beauty": 25,
            "grocery": 6,
        }
    )
    price_sigma: dict[str, float] = field(
        default_factory=lambda: {
            "electronics": 0.8,
            "fashion": 0.6,
            "home_garden": 0.8,
            "books": 0.4,
            "sports_outdoor": 0.7,
            "toys_games": 0.6,
            "beauty": 0.5,
            "grocery": 0.5,
        }
    )
    pre_period_item_share: float = 0.75
    pre_period_item_days: int = 730
    # effect 1: popularity
    zipf_exponent: float = 0.85
    category_base_weight: dict[str, float] = field(
        default_factory=lambda: {
            "electronics": 1.2,
            "fashion": 1.3,
            "home_garden": 1.0,
            "books": 0.9,
            "sports_outdoor": 0.9,
            "toys_games": 0.8,
            "beauty": 0.9,
            "grocery": 1.0,
        }
    )
    # effect 2: segment tastes
    age_affinity: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "18-24": {"electronics": 4.0, "toys_games": 4.0},
            "25-34": {"fashion": 1.4, "beauty": 1.3},
            "35-44": {"toys_games": 1.3, "grocery": 1.3},
            "45-54": {"home_garden": 1.3, "sports_outdoor": 1.2},
            "55+": {"home_garden": 4.0, "books": 4.0},
        }
    )
    tier_cart_multiplier: tuple[float, ...] = (1.0, 1.1, 1.2)
    tier_purchase_multiplier: tuple[float, ...] = (1.0, 1.1, 1.25)
    gold_price_exponent: float = 0.8
    # effect 3: seasonality (piecewise-linear anchors)
    category_season: dict[str, tuple[tuple[str, float], ...]] = field(
        default_factory=lambda: {
            "sports_outdoor": SUMMER_SPORT,
            "fashion": (("2025-06-01", 0.9), ("2025-09-01", 1.0), ("2025-11-30", 1.3)),
            "toys_games": (
                ("2025-06-01", 1.0),
                ("2025-11-14", 1.0),
                ("2025-11-24", 3.0),
                ("2025-11-30", 3.0),
            ),
        }
    )
    sub_category_season: dict[str, tuple[tuple[str, float], ...]] = field(
        default_factory=lambda: {
            "coats": (
                ("2025-06-01", 0.25),
                ("2025-08-15", 0.3),
                ("2025-10-01", 1.5),
                ("2025-11-01", 3.0),
                ("2025-11-30", 3.5),
            )
        }
    )
    # effects 4 and 5: device and time of day
    device_affinity: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "mobile": {"fashion": 2.1, "beauty": 2.1},
            "desktop": {"electronics": 1.9},
            "tablet": {"books": 2.0},
        }
    )
    time_of_day_affinity: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "night": {"toys_games": 2.4},
            "morning": {"grocery": 2.4},
            "evening": {"home_garden": 1.5},
        }
    )
    hourly_activity: tuple[float, ...] = (
        0.6,
        0.4,
        0.3,
        0.25,
        0.3,
        0.5,
        1.0,
        1.6,
        2.0,
        2.2,
        2.3,
        2.4,
        2.6,
        2.5,
        2.4,
        2.4,
        2.5,
        2.8,
        3.2,
        3.6,
        3.8,
        3.5,
        2.6,
        1.4,
    )
    # effect 6: new items
    freshness_days: int = 14
    freshness_boost: float = 3.0
    # effect 8: weekly pattern
    weekend_multiplier: float = 1.3
    # funnel (bronze rates; tiers multiply)
    cart_rate: float = 0.115
    purchase_rate: float = 0.34
    view_gap_min: int = 10
    view_gap_mean: float = 70.0
    cart_delay: tuple[int, int] = (20, 600)
    purchase_delay: tuple[int, int] = (60, 1800)
    # effect 7: A/B period
    ab_exposures: int = 50_000
    ab_list_size: int = 10
    ab_click_through: tuple[float, float] = (0.08, 0.11)
    ab_purchase_after_click: tuple[float, float] = (0.20, 0.26)
    ab_cart_without_purchase: float = 0.15
    ab_popular_sharpness: float = 2.0
    ab_favourite_categories: int = 2
    ab_position_decay: float = 0.5
    ab_click_delay_mean: float = 40.0


def _sessions(
    cfg: SampleConfig, rng: np.random.Generator, users: Users, start: date
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user, start second after period start, device, number of views) of each session."""
    extra = rng.choice(
        cfg.n_users, size=cfg.n_sessions - cfg.n_users, p=users.activity / users.activity.sum()
    )
    user = np.concatenate([np.arange(cfg.n_users), extra])  # every user visits at least once
    t = effects.draw_times(cfg, rng, len(user), start, 0, cfg.n_days)
    pref = users.device[user]
    other = (pref + 1 + rng.integers(0, len(DEVICES) - 1, size=len(user))) % len(DEVICES)
    device = np.where(rng.random(len(user)) < cfg.device_loyalty, pref, other)
    n_views = rng.geometric(1.0 / cfg.mean_views_per_session, size=len(user))
    return user, t, device, n_views


def _organic_views(
    cfg: SampleConfig,
    rng: np.random.Generator,
    users: Users,
    items: Items,
    start: date,
    start_ts: int,
    end_ts: int,
) -> Events:
    """Views from sessions: category from the segment/device/time/season weights, then an
    item from that category's popularity/freshness/availability weights."""
    s_user, s_t, s_device, n_views = _sessions(cfg, rng, users, start)
    sid = np.repeat(np.arange(len(s_user)), n_views)
    gaps = cfg.view_gap_min + rng.exponential(cfg.view_gap_mean, size=len(sid)).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(n_views)[:-1]])
    gaps[first] = 0
    cum = np.cumsum(gaps)
    ts = start_ts + s_t[sid] + cum - np.repeat(cum[first], n_views)
    keep = ts < end_ts
    sid, ts = sid[keep], ts[keep]
    user, device = s_user[sid], s_device[sid]
    cat_w = effects.category_weights(cfg, users, user, device, ts, start, start_ts)
    cat = effects.sample_rows(cat_w, rng)
    item = np.empty(len(ts), dtype=np.int64)
    for c in range(len(CATEGORIES)):
        members, ev = np.flatnonzero(items.category == c), np.flatnonzero(cat == c)
        w = effects.item_weights(cfg, items, members, ts[ev], users.tier[user[ev]], start, start_ts)
        item[ev] = members[effects.sample_rows(w, rng)]
    n = len(ts)
    return Events(user, item, ts, np.zeros(n, np.int64), device, np.full(n, -1))


def _funnel(
    cfg: SampleConfig, rng: np.random.Generator, users: Users, views: Events, end_ts: int
) -> Events:
    """Add-to-cart rows after some views and purchase rows after some carts (tier rates)."""
    tier = users.tier[views.user]
    n = len(views.ts)
    p_cart = cfg.cart_rate * np.asarray(cfg.tier_cart_multiplier)[tier]
    p_buy = cfg.purchase_rate * np.asarray(cfg.tier_purchase_multiplier)[tier]
    cart_ts = views.ts + rng.integers(*cfg.cart_delay, size=n)
    buy_ts = cart_ts + rng.integers(*cfg.purchase_delay, size=n)
    carts = (rng.random(n) < p_cart) & (cart_ts < end_ts)
    buys = carts & (rng.random(n) < p_buy) & (buy_ts < end_ts)
    sel = (carts, buys)
    return Events(
        user=np.concatenate([views.user[s] for s in sel]),
        item=np.concatenate([views.item[s] for s in sel]),
        ts=np.concatenate([cart_ts[carts], buy_ts[buys]]),
        event=np.concatenate([np.full(carts.sum(), 1), np.full(buys.sum(), 2)]),
        device=np.concatenate([views.device[s] for s in sel]),
        rec=np.full(carts.sum() + buys.sum(), -1),
    )


def _concat_sorted(parts: list[Events]) -> Events:
    """All events in file order: TIMESTAMP, USER_ID, ITEM_ID, funnel order."""
    cols = {
        k: np.concatenate([getattr(p, k) for p in parts]).astype(np.int64)
        for k in ("user", "item", "ts", "event", "device", "rec")
    }
    order = np.lexsort((cols["event"], cols["item"], cols["user"], cols["ts"]))
    return Events(**{k: v[order] for k, v in cols.items()})


def _price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _rec_id(r: int) -> str:
    return f"r{r + 1:06d}"


def _write_tables(
    out: Path, users: Users, items: Items, events: Events, exp: abtest.Exposures
) -> dict[str, Path]:
    """Write the four CSV files."""
    paths = {}
    paths["users"] = _write_csv(
        out / "users.csv",
        ["USER_ID", "AGE_BAND", "MEMBERSHIP_TIER", "REGION"],
        [
            [u, AGE_BANDS[a], TIERS[t], REGIONS[r]]
            for u, a, t, r in zip(users.ids, users.age, users.tier, users.region, strict=True)
        ],
    )
    paths["items"] = _write_csv(
        out / "items.csv",
        [
            "ITEM_ID",
            "CATEGORY",
            "SUB_CATEGORY",
            "BRAND",
            "PRICE",
            "CREATION_TIMESTAMP",
            "DESCRIPTION",
        ],
        [
            [
                items.ids[j],
                CATEGORIES[items.category[j]],
                items.sub_category[j],
                items.brand[j],
                _price(int(items.price_cents[j])),
                str(items.created[j]),
                items.description[j],
            ]
            for j in range(len(items.ids))
        ],
    )
    shown = ["|".join(items.ids[j] for j in row) for row in exp.lists.tolist()]
    paths["recommendation_exposures"] = _write_csv(
        out / "recommendation_exposures.csv",
        ["RECOMMENDATION_ID", "USER_ID", "TIMESTAMP", "VARIANT", "ITEM_IDS"],
        [
            [_rec_id(r), users.ids[u], str(t), VARIANTS[v], shown[r]]
            for r, (u, t, v) in enumerate(
                zip(exp.user.tolist(), exp.ts.tolist(), exp.variant.tolist(), strict=True)
            )
        ],
    )
    paths["interactions"] = _write_csv(
        out / "interactions.csv",
        [
            "USER_ID",
            "ITEM_ID",
            "TIMESTAMP",
            "EVENT_TYPE",
            "EVENT_VALUE",
            "DEVICE",
            "TIME_OF_DAY",
            "IMPRESSION",
            "RECOMMENDATION_ID",
            "EVENT_ATTRIBUTION_SOURCE",
        ],
        _interaction_rows(users, items, events, exp, shown),
    )
    return paths


def _interaction_rows(
    users: Users, items: Items, events: Events, exp: abtest.Exposures, shown: list[str]
) -> list[list[str]]:
    """interactions.csv rows; IMPRESSION only on the click's view row."""
    prices = [_price(int(c)) for c in items.price_cents]
    tod = effects.time_of_day(events.ts).tolist()
    rows = []
    for u, i, t, e, d, r, h in zip(
        events.user.tolist(),
        events.item.tolist(),
        events.ts.tolist(),
        events.event.tolist(),
        events.device.tolist(),
        events.rec.tolist(),
        tod,
        strict=True,
    ):
        attributed = r >= 0
        rows.append(
            [
                users.ids[u],
                items.ids[i],
                str(t),
                EVENT_TYPES[e],
                prices[i] if e == 2 else "",
                DEVICES[d],
                effects.TIMES_OF_DAY[h],
                shown[r] if attributed and e == 0 else "",
                _rec_id(r) if attributed else "",
                VARIANTS[exp.variant[r]] if attributed else "",
            ]
        )
    return rows


def _field(name: str, avro_type: str | list[str], **flags: bool) -> dict:
    return {"name": name, "type": avro_type, **flags}


def _schemas() -> dict[str, dict]:
    """The three Amazon Personalize Avro schemas."""
    opt = ["null", "string"]
    fields = {
        "Interactions": [
            _field("USER_ID", "string"),
            _field("ITEM_ID", "string"),
            _field("TIMESTAMP", "long"),
            _field("EVENT_TYPE", "string"),
            _field("EVENT_VALUE", ["null", "float"]),
            _field("DEVICE", opt, categorical=True),
            _field("TIME_OF_DAY", opt, categorical=True),
            _field("IMPRESSION", opt),
            _field("RECOMMENDATION_ID", opt),
            _field("EVENT_ATTRIBUTION_SOURCE", opt),
        ],
        "Users": [_field("USER_ID", "string")]
        + [
            _field(n, "string", categorical=True) for n in ("AGE_BAND", "MEMBERSHIP_TIER", "REGION")
        ],
        "Items": [_field("ITEM_ID", "string")]
        + [_field(n, "string", categorical=True) for n in ("CATEGORY", "SUB_CATEGORY", "BRAND")]
        + [
            _field("PRICE", "float"),
            _field("CREATION_TIMESTAMP", "long"),
            _field("DESCRIPTION", opt, textual=True),
        ],
    }
    return {
        name: {
            "type": "record",
            "name": name,
            "namespace": "com.amazonaws.personalize.schema",
            "fields": f,
            "version": "1.0",
        }
        for name, f in fields.items()
    }


def _write_schemas(out: Path) -> dict[str, Path]:
    paths = {}
    for name, schema in _schemas().items():
        path = out / f"{name.lower()}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        paths[f"{name.lower()}_schema"] = path
    return paths


def generate(
    out_dir: str | Path, seed: int = 42, progress: bool = False, config: SampleConfig | None = None
) -> dict[str, Path]:
    """Generate the sample store into ``out_dir``; return {file name stem: path}."""
    cfg = config or SampleConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def step(msg: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - t0:5.1f}s] {msg}", file=sys.stderr)

    start = date.fromisoformat(cfg.start_date)
    start_ts = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    end_ts = start_ts + cfg.n_days * effects.DAY
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    users = make_users(cfg, rngs[0])
    items = make_items(cfg, rngs[1], start_ts, end_ts)
    step("users and items")
    views = _organic_views(cfg, rngs[2], users, items, start, start_ts, end_ts)
    funnel = _funnel(cfg, rngs[3], users, views, end_ts)
    step(f"{len(views.ts)} organic views")
    exp = abtest.make_exposures(cfg, rngs[4], users, items, start, start_ts)
    clicks = abtest.click_events(cfg, rngs[5], users, exp, end_ts)
    step(f"{len(exp.ts)} exposures")
    events = _concat_sorted([views, funnel, clicks])
    paths = _write_tables(out, users, items, events, exp)
    paths.update(_write_schemas(out))
    step(f"wrote {len(events.ts)} interactions to {out}")
    return paths


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m engine.sample.generator OUT_DIR [SEED]")
    written = generate(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 42, True)
    for stem, p in written.items():
        print(f"{stem}: {p}")

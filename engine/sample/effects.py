"""The planted effects, as sampling weights.

Each function turns the strengths in ``SampleConfig`` into multiplicative weights; the
generator multiplies them together and samples from the product. Weights are relative, so a
multiplier of 3.0 on one category shows up as a somewhat smaller lift in the category's share
(the other categories' weights are renormalised).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from engine.sample.catalog import AGE_BANDS, CATEGORIES, DEVICES, TIERS

if TYPE_CHECKING:
    from engine.sample.catalog import Items, Users
    from engine.sample.generator import SampleConfig

DAY = 86_400
TIMES_OF_DAY = ("night", "morning", "afternoon", "evening")  # index = UTC hour // 6


def time_of_day(ts: np.ndarray) -> np.ndarray:
    """Index into TIMES_OF_DAY of each unix timestamp (by UTC hour)."""
    return (ts % DAY) // 3600 // 6


def affinity_matrix(spec: dict[str, dict[str, float]], rows: tuple[str, ...]) -> np.ndarray:
    """A (len(rows), n_categories) matrix of multipliers, 1.0 where ``spec`` says nothing."""
    out = np.ones((len(rows), len(CATEGORIES)))
    for r, row in enumerate(rows):
        for cat, mult in spec.get(row, {}).items():
            out[r, CATEGORIES.index(cat)] = mult
    return out


def season_curve(
    anchors: tuple[tuple[str, float], ...], start: date, day: np.ndarray
) -> np.ndarray:
    """Piecewise-linear multiplier through (ISO date, multiplier) anchors, at day offsets."""
    xs = [(date.fromisoformat(d) - start).days for d, _ in anchors]
    ys = [m for _, m in anchors]
    return np.interp(day, xs, ys)


def day_weights(cfg: SampleConfig, start: date, n_days: int) -> np.ndarray:
    """Relative activity of each day of the period: weekends get ``weekend_multiplier``."""
    weekday = (start.weekday() + np.arange(n_days)) % 7  # Monday = 0
    return np.where(weekday >= 5, cfg.weekend_multiplier, 1.0)


def draw_times(
    cfg: SampleConfig, rng: np.random.Generator, n: int, start: date, first_day: int, n_days: int
) -> np.ndarray:
    """Draw ``n`` moments (seconds after ``start``) on days [first_day, n_days): weekly pattern
    times the hourly activity curve, uniform within the hour."""
    dw = day_weights(cfg, start, n_days)[first_day:]
    day = first_day + rng.choice(len(dw), size=n, p=dw / dw.sum())
    hw = np.asarray(cfg.hourly_activity, dtype=float)
    hour = rng.choice(24, size=n, p=hw / hw.sum())
    return day * DAY + hour * 3600 + rng.integers(0, 3600, size=n)


def category_weights(
    cfg: SampleConfig,
    users: Users,
    user: np.ndarray,
    device: np.ndarray,
    ts: np.ndarray,
    start: date,
    start_ts: int,
) -> np.ndarray:
    """(n_events, n_categories) weights: base x age band x device x time of day x season x
    the user's personal taste."""
    base = np.array([cfg.category_base_weight[c] for c in CATEGORIES])
    age = affinity_matrix(cfg.age_affinity, AGE_BANDS)[users.age[user]]
    dev = affinity_matrix(cfg.device_affinity, DEVICES)[device]
    tod = affinity_matrix(cfg.time_of_day_affinity, TIMES_OF_DAY)[time_of_day(ts)]
    day = (ts - start_ts) / DAY
    season = np.ones((len(ts), len(CATEGORIES)))
    for cat, anchors in cfg.category_season.items():
        season[:, CATEGORIES.index(cat)] = season_curve(anchors, start, day)
    return base * age * dev * tod * season * users.taste[user]


def item_weights(
    cfg: SampleConfig,
    items: Items,
    members: np.ndarray,
    ts: np.ndarray,
    tier: np.ndarray,
    start: date,
    start_ts: int,
) -> np.ndarray:
    """(n_events, n_members) weights over the items ``members`` of one category: Zipf
    popularity x availability (0 before creation) x freshness boost x sub-category season x
    (for gold members) a taste for pricier items."""
    created = items.created[members]
    age = ts[:, None] - created[None, :]
    w = np.where(age >= 0, items.popularity[members][None, :], 0.0)
    w = w * np.where(age < cfg.freshness_days * DAY, cfg.freshness_boost, 1.0)
    day = (ts - start_ts) / DAY
    subs = [items.sub_category[j] for j in members]
    for sub, anchors in cfg.sub_category_season.items():
        cols = np.array([s == sub for s in subs])
        if cols.any():
            w[:, cols] *= season_curve(anchors, start, day)[:, None]
    price = items.price_cents[members].astype(float)
    rel = price / np.median(price)
    gold = tier == TIERS.index("gold")
    w[gold] *= rel[None, :] ** cfg.gold_price_exponent
    return w


def sample_rows(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each row of non-negative ``weights``, the index of one column drawn in proportion."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    idx = (cum <= u[:, None]).sum(axis=1)
    return np.minimum(idx, weights.shape[1] - 1)


def top_k_rows(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """For each row, ``k`` distinct columns drawn without replacement in proportion to the
    weights (Gumbel top-k), in draw order."""
    with np.errstate(divide="ignore"):
        keys = np.log(weights) + rng.gumbel(size=weights.shape)
    part = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(keys, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)

"""The A/B period: recommendation lists shown on the home page, and the clicks they earn.

Each exposure is one list of ``ab_list_size`` items shown to one user at one moment; the user's
variant comes from a hash of USER_ID (``catalog.ab_variant``). ``variant_a`` shows popular
items, ``variant_b`` popular items from the user's favourite categories. A click is a view of
one shown item shortly afterwards; its cart and purchase rows carry the same attribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from engine.sample.catalog import AGE_BANDS, CATEGORIES, Events
from engine.sample.effects import affinity_matrix, draw_times, sample_rows, top_k_rows

if TYPE_CHECKING:
    from engine.sample.catalog import Items, Users
    from engine.sample.generator import SampleConfig

CHUNK = 4096


@dataclass(frozen=True)
class Exposures:
    """The serving log, sorted by (TIMESTAMP, USER_ID); row r is RECOMMENDATION_ID r."""

    ts: np.ndarray
    user: np.ndarray
    variant: np.ndarray
    lists: np.ndarray  # (n, list_size) item indices, in display order


def _favourites(cfg: SampleConfig, users: Users) -> np.ndarray:
    """(n_users, n_categories) boolean: the user's top ``ab_favourite_categories`` categories."""
    base = np.array([cfg.category_base_weight[c] for c in CATEGORIES])
    score = base * affinity_matrix(cfg.age_affinity, AGE_BANDS)[users.age] * users.taste
    top = np.argsort(-score, axis=1, kind="stable")[:, : cfg.ab_favourite_categories]
    fav = np.zeros(score.shape, dtype=bool)
    np.put_along_axis(fav, top, True, axis=1)
    return fav


def _lists(
    cfg: SampleConfig,
    rng: np.random.Generator,
    users: Users,
    items: Items,
    user: np.ndarray,
    ts: np.ndarray,
) -> np.ndarray:
    """The items shown in each exposure (only items that exist at its time)."""
    base = np.array([cfg.category_base_weight[c] for c in CATEGORIES])
    cat_total = np.bincount(items.category, weights=items.popularity, minlength=len(CATEGORIES))
    overall = base[items.category] * items.popularity / cat_total[items.category]
    popular = overall**cfg.ab_popular_sharpness
    fav = _favourites(cfg, users)
    out = np.empty((len(ts), cfg.ab_list_size), dtype=np.int64)
    for lo in range(0, len(ts), CHUNK):
        u, t = user[lo : lo + CHUNK], ts[lo : lo + CHUNK]
        exists = items.created[None, :] <= t[:, None]
        personal = fav[u][:, items.category] * items.popularity[None, :]
        w = np.where(users.variant[u][:, None] == 1, personal, popular[None, :]) * exists
        out[lo : lo + CHUNK] = top_k_rows(w, cfg.ab_list_size, rng)
    return out


def make_exposures(
    cfg: SampleConfig,
    rng: np.random.Generator,
    users: Users,
    items: Items,
    start: date,
    start_ts: int,
) -> Exposures:
    """Draw the exposures of the A/B period (weekly and daily activity curves apply)."""
    first_day = (date.fromisoformat(cfg.ab_start_date) - start).days
    n = cfg.ab_exposures
    ts = start_ts + draw_times(cfg, rng, n, start, first_day, cfg.n_days)
    user = rng.choice(cfg.n_users, size=n, p=users.activity / users.activity.sum())
    order = np.lexsort((user, ts))
    ts, user = ts[order], user[order]
    lists = _lists(cfg, rng, users, items, user, ts)
    return Exposures(ts=ts, user=user, variant=users.variant[user], lists=lists)


def click_events(
    cfg: SampleConfig, rng: np.random.Generator, users: Users, exp: Exposures, end_ts: int
) -> Events:
    """Views (clicks), carts and purchases attributed to the exposures."""
    n = len(exp.ts)
    ctr = np.asarray(cfg.ab_click_through)[exp.variant]
    pos_w = (1.0 + np.arange(cfg.ab_list_size)) ** -cfg.ab_position_decay
    pos = sample_rows(np.broadcast_to(pos_w, (n, cfg.ab_list_size)), rng)
    click_ts = exp.ts + 5 + rng.exponential(cfg.ab_click_delay_mean, size=n).astype(np.int64)
    clicked = (rng.random(n) < ctr) & (click_ts < end_ts)
    buys = rng.random(n) < np.asarray(cfg.ab_purchase_after_click)[exp.variant]
    carts = buys | (rng.random(n) < cfg.ab_cart_without_purchase)
    cart_ts = click_ts + rng.integers(*cfg.cart_delay, size=n)
    buy_ts = cart_ts + rng.integers(*cfg.purchase_delay, size=n)
    carts &= clicked & (cart_ts < end_ts)
    buys &= carts & (buy_ts < end_ts)
    item = exp.lists[np.arange(n), pos]
    rec = np.arange(n)
    sel = (clicked, carts, buys)
    return Events(
        user=np.concatenate([exp.user[s] for s in sel]),
        item=np.concatenate([item[s] for s in sel]),
        ts=np.concatenate([click_ts[clicked], cart_ts[carts], buy_ts[buys]]),
        event=np.concatenate([np.full(s.sum(), k) for k, s in enumerate(sel)]),
        device=np.concatenate([users.device[exp.user[s]] for s in sel]),
        rec=np.concatenate([rec[s] for s in sel]),
    )

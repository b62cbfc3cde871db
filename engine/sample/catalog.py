"""The sample store's vocabulary and its tables (users, items, events).

Everything here is static text (categories, sub-categories, brands, description templates)
plus the two functions that draw the users and the items from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.sample.generator import SampleConfig

CATEGORIES = (
    "electronics",
    "fashion",
    "home_garden",
    "books",
    "sports_outdoor",
    "toys_games",
    "beauty",
    "grocery",
)
SUB_CATEGORIES = {
    "electronics": ("phones", "laptops", "headphones", "cameras"),
    "fashion": ("coats", "shoes", "dresses"),
    "home_garden": ("furniture", "kitchen", "garden_tools"),
    "books": ("fiction", "non_fiction", "childrens_books"),
    "sports_outdoor": ("cycling", "camping", "fitness", "swimming"),
    "toys_games": ("video_games", "board_games", "puzzles"),
    "beauty": ("skincare", "makeup", "fragrance"),
    "grocery": ("snacks", "beverages", "pantry"),
}
BRANDS = {
    "electronics": ("Voltix", "Nimbus", "Arcwave", "Quantra"),
    "fashion": ("Marlowe", "Tessaro", "Northcoat", "Vela"),
    "home_garden": ("Hearthly", "Greenfold", "Oakridge"),
    "books": ("Pagewell", "Inkhouse", "Lantern Press"),
    "sports_outdoor": ("Trailpeak", "Swiftline", "Basecamp"),
    "toys_games": ("Playforge", "Brightblock", "Pixelpine"),
    "beauty": ("Luma", "Petalis", "Aurene"),
    "grocery": ("Harvest Lane", "Brookfarm", "Daily Pantry"),
}
# Noun used in descriptions for each sub-category.
NOUNS = {
    "phones": "smartphone",
    "laptops": "laptop",
    "headphones": "headset",
    "cameras": "camera",
    "coats": "coat",
    "shoes": "pair of shoes",
    "dresses": "dress",
    "furniture": "side table",
    "kitchen": "cookware set",
    "garden_tools": "garden tool kit",
    "fiction": "novel",
    "non_fiction": "non-fiction title",
    "childrens_books": "picture book",
    "cycling": "cycling jersey",
    "camping": "camping tent",
    "fitness": "yoga mat",
    "swimming": "swimsuit",
    "video_games": "video game",
    "board_games": "board game",
    "puzzles": "jigsaw puzzle",
    "skincare": "face cream",
    "makeup": "lipstick",
    "fragrance": "eau de parfum",
    "snacks": "snack box",
    "beverages": "cold brew coffee",
    "pantry": "olive oil",
}
ADJECTIVES = (
    "lightweight",
    "durable",
    "compact",
    "premium",
    "classic",
    "modern",
    "eco-friendly",
    "versatile",
    "bestselling",
    "handcrafted",
    "sleek",
    "cozy",
    "everyday",
    "award-winning",
)
PURPOSES = (
    "for everyday use",
    "for busy mornings",
    "made to last",
    "for the whole family",
    "perfect as a gift",
    "for beginners and experts alike",
    "with a two-year warranty",
    "at a friendly price",
    "loved by our regulars",
    "designed for comfort",
)
TEMPLATES = (  # some contain commas, so DESCRIPTION exercises CSV quoting
    "{a} {adj} {noun} from {brand} {purpose}.",
    "{brand} {noun}: {adj} and {adj2}, {purpose}.",
    "The {adj} {brand} {noun} {purpose}.",
    "Discover this {adj2} {noun} by {brand}: {adj}, {purpose}.",
)
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
TIERS = ("bronze", "silver", "gold")
REGIONS = ("north", "south", "east", "west")
DEVICES = ("mobile", "desktop", "tablet")
VARIANTS = ("variant_a", "variant_b")


@dataclass(frozen=True)
class Users:
    """Columns of users.csv as arrays (index i is user ``ids[i]``)."""

    ids: list[str]
    age: np.ndarray  # index into AGE_BANDS
    tier: np.ndarray  # index into TIERS
    region: np.ndarray  # index into REGIONS
    device: np.ndarray  # preferred device, index into DEVICES
    activity: np.ndarray  # relative number of sessions
    taste: np.ndarray  # (n_users, n_categories) personal category multipliers
    variant: np.ndarray  # 0 = variant_a, 1 = variant_b (hash of USER_ID)


@dataclass(frozen=True)
class Items:
    """Columns of items.csv as arrays (index j is item ``ids[j]``, ids sorted by creation)."""

    ids: list[str]
    category: np.ndarray  # index into CATEGORIES
    sub_category: list[str]
    brand: list[str]
    price_cents: np.ndarray
    created: np.ndarray  # unix seconds
    popularity: np.ndarray  # Zipf weight within the item's category
    description: list[str]


@dataclass(frozen=True)
class Events:
    """Interaction rows as arrays: indices into users/items/DEVICES, event 0/1/2 =
    view/add_to_cart/purchase, rec = exposure row (RECOMMENDATION_ID) or -1."""

    user: np.ndarray
    item: np.ndarray
    ts: np.ndarray
    event: np.ndarray
    device: np.ndarray
    rec: np.ndarray


def ab_variant(user_id: str) -> int:
    """The A/B variant of a user: 1 (variant_b) if the md5 of USER_ID is odd, else 0."""
    return int(hashlib.md5(user_id.encode("utf-8")).hexdigest(), 16) % 2


def make_users(cfg: SampleConfig, rng: np.random.Generator) -> Users:
    """Draw the users: segments, preferred device, activity level and personal taste."""
    n = cfg.n_users
    ids = [f"u{i + 1:05d}" for i in range(n)]
    taste = rng.gamma(cfg.taste_shape, 1.0 / cfg.taste_shape, size=(n, len(CATEGORIES)))
    return Users(
        ids=ids,
        age=rng.choice(len(AGE_BANDS), size=n, p=cfg.age_band_shares),
        tier=rng.choice(len(TIERS), size=n, p=cfg.tier_shares),
        region=rng.choice(len(REGIONS), size=n, p=cfg.region_shares),
        device=rng.choice(len(DEVICES), size=n, p=cfg.device_shares),
        activity=rng.lognormal(0.0, cfg.activity_sigma, size=n),
        taste=taste,
        variant=np.array([ab_variant(u) for u in ids], dtype=np.int64),
    )


def _descriptions(sub: list[str], brand: list[str], rng: np.random.Generator) -> list[str]:
    """One templated English sentence per item."""
    n = len(sub)
    tpl = rng.integers(len(TEMPLATES), size=n)
    adj = rng.integers(len(ADJECTIVES), size=(n, 2))
    adj[:, 1] = (adj[:, 0] + 1 + rng.integers(len(ADJECTIVES) - 1, size=n)) % len(ADJECTIVES)
    purpose = rng.integers(len(PURPOSES), size=n)
    out = []
    for j in range(n):
        first = ADJECTIVES[adj[j, 0]]
        out.append(
            TEMPLATES[tpl[j]].format(
                a="An" if first[0] in "aeiou" else "A",
                adj=first,
                adj2=ADJECTIVES[adj[j, 1]],
                noun=NOUNS[sub[j]],
                brand=brand[j],
                purpose=PURPOSES[purpose[j]],
            )
        )
    return out


def make_items(cfg: SampleConfig, rng: np.random.Generator, start: int, end: int) -> Items:
    """Draw the catalogue: category, sub-category, brand, price, creation time, popularity."""
    n = cfg.n_items
    cat = rng.choice(len(CATEGORIES), size=n, p=cfg.category_item_shares)
    sub = [
        SUB_CATEGORIES[CATEGORIES[c]][rng.integers(len(SUB_CATEGORIES[CATEGORIES[c]]))] for c in cat
    ]
    brand = [BRANDS[CATEGORIES[c]][rng.integers(len(BRANDS[CATEGORIES[c]]))] for c in cat]
    median = np.array([cfg.price_median[c] for c in CATEGORIES])[cat]
    sigma = np.array([cfg.price_sigma[c] for c in CATEGORIES])[cat]
    raw = median * np.exp(sigma * rng.standard_normal(n))
    price_cents = np.maximum(np.floor(raw), 1.0).astype(np.int64) * 100 - 1  # 24.99 style
    is_new = rng.random(n) >= cfg.pre_period_item_share
    old_created = start - rng.integers(1, cfg.pre_period_item_days * 86400, size=n)
    new_created = start + rng.integers(0, end - start - 86400, size=n)
    created = np.where(is_new, new_created, old_created)
    popularity = np.zeros(n)
    for c in range(len(CATEGORIES)):
        members = np.flatnonzero(cat == c)
        ranks = rng.permutation(len(members)) + 1
        popularity[members] = ranks.astype(float) ** -cfg.zipf_exponent
    order = np.argsort(created, kind="stable")  # ITEM_IDs follow creation order
    sub = [sub[j] for j in order]
    brand = [brand[j] for j in order]
    return Items(
        ids=[f"i{j + 1:04d}" for j in range(n)],
        category=cat[order],
        sub_category=sub,
        brand=brand,
        price_cents=price_cents[order],
        created=created[order],
        popularity=popularity[order],
        description=_descriptions(sub, brand, rng),
    )

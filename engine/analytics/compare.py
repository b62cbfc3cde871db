"""Comparing recommenders: the ranked lists of campaigns and solution versions side by side,
how much they agree, why each item is there, and the same over a sample of users.

Lists. A campaign answers through `Engine.get_recommendations`, so its list is what an app
gets (cold-item exploration, filters, reasons; the answer is logged like any other). A
solution version is loaded from its artifact and scored as the serving path scores a
campaign's model: the user's live history (events recorded after training count), seen
items removed, the best `k` by the recipe's score; no exploration.

Agreement of two lists A and B:

- overlap@k = |A[:k] ∩ B[:k]| / k: the share of the first k places the lists have in common.
- Rank-biased overlap (Webber, Moffat and Zobel, "A similarity measure for indefinite
  rankings", ACM TOIS 28(4), 2010), `rbo`: the overlap at every depth d, averaged with
  weights p^(d-1) that favour the top (p = 0.9: the top 10 places carry about 86% of the
  weight), in the extrapolated form RBO_EXT of their equation 32, which assumes the
  agreement seen at the end of the lists continues; 1 for identical lists, 0 for disjoint.
- Kendall's tau (`kendall_tau`): over the union of both lists, each item's position in each
  list, items missing from a list ranked (tied) just after its end; tau-b from
  `scipy.stats.kendalltau`, from -1 (reversed) through 0 to 1 (same order).

Why an item is there: the user's history items that co-occur most with it (distinct users
who interacted with both, from the group's interactions), its popularity rank, and the
campaign's reason (exploration, a promotion), plus what a filter removed from the top k.

Over many users (`aggregate`): catalogue coverage (distinct items recommended / catalogue),
popularity bias (mean popularity percentile of the recommended items, as the training
metric `popularity_bias_at_25` defines it: 1.0 = only the most popular item, 0.5 = the
median item), and each pair's overlap@k, RBO and tau per user, with bootstrap 95%
confidence intervals of the means.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import kendalltau

from engine.datasets.rules import quote
from engine.errors import InvalidInputException
from engine.recipes import recipe_class, recipe_name
from engine.recipes.base import History, RecipeNotApplicable, top_n
from engine.serving import loaded
from engine.serving.recommend import preview
from engine.store.data_tables import table_name

RBO_P = 0.9
DAY = 86_400
USER_TYPES = ("USER_PERSONALIZATION", "POPULAR_ITEMS", "PERSONALIZED_RANKING")
ITEM_TYPES = ("RELATED_ITEMS",)
MAX_MODELS = 8


# --- sources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A campaign or a solution version whose lists can be compared."""

    kind: str  # "campaign" | "version"
    arn: str  # the campaign's or the version's ARN
    version_arn: str
    recipe_arn: str
    recipe_type: str
    name: str  # short: the campaign's name, or "solution · version id"

    @property
    def for_items(self) -> bool:
        """Related-items recipes answer for an item, the others for a user."""
        return self.recipe_type in ITEM_TYPES

    @property
    def label(self) -> str:
        kind = "campaign" if self.kind == "campaign" else "version"
        return f"{self.name} ({kind}, {recipe_name(self.recipe_arn)})"


def list_sources(engine: Any, group_arn: str) -> list[Source]:
    """The group's ACTIVE campaigns, then its ACTIVE solution versions, newest first
    (user-segmentation recipes, which make no lists, are left out)."""
    solutions = engine.catalog.list("solution", group_arn)
    versions: dict[str, tuple[Any, Any]] = {}  # ARN -> (version, its solution)
    for solution in solutions:
        for version in engine.catalog.list("solution-version", solution.arn):
            if version.status == "ACTIVE" and version.spec.get("trainedRecipeArn"):
                versions[version.arn] = (version, solution)

    def source(kind: str, arn: str, version_arn: str, name: str) -> Source | None:
        recipe = versions[version_arn][0].spec["trainedRecipeArn"]
        recipe_type = recipe_class(recipe).recipe_type
        if recipe_type not in USER_TYPES + ITEM_TYPES:
            return None
        return Source(kind, arn, version_arn, recipe, recipe_type, name)

    campaigns = [
        source("campaign", c.arn, c.spec["solutionVersionArn"], c.name)
        for solution in solutions
        for c in engine.catalog.list("campaign", solution.arn)
        if c.status in ("ACTIVE", "UPDATE IN_PROGRESS")
        and c.spec.get("solutionVersionArn") in versions
    ]
    alone = [
        source("version", arn, arn, f"{solution.name} · {version.spec['artifactId']}")
        for arn, (version, solution) in versions.items()
    ]
    return [s for s in campaigns + alone if s is not None]


# --- one list ---------------------------------------------------------------------------------

_models: OrderedDict[tuple[str, str], loaded.LoadedModel] = OrderedDict()
_models_lock = threading.Lock()


def version_model(engine: Any, version_arn: str) -> loaded.LoadedModel:
    """A solution version's model with its group's id maps (a few kept in memory; a version
    never changes once ACTIVE)."""
    key = (str(engine.data_dir), version_arn)
    with _models_lock:
        found = _models.get(key)
        if found is not None:
            _models.move_to_end(key)
            return found
    version = engine.catalog.require(version_arn, "solution-version")
    if version.status != "ACTIVE":
        raise InvalidInputException(f"Solution version {version_arn} is {version.status}")
    group = engine.catalog.require(version.spec["datasetGroupArn"], "dataset-group")
    datasets = {d.spec["datasetType"]: d.id for d in engine.catalog.list("dataset", group.arn)}
    model = loaded.load(
        engine.store,
        engine.store.data_dir / "artifacts",
        version_arn,
        version.spec["artifactId"],
        group.id,
        datasets,
        group_arn=group.arn,
    )
    with _models_lock:
        _models[key] = model
        while len(_models) > MAX_MODELS:
            _models.popitem(last=False)
    return model


def _best(scores: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
    if k <= 0:
        return []
    ids, _ = top_n(np.where(allowed, scores, -np.inf)[None, :], k)
    return [int(i) for i in ids[0] if i >= 0]


def _version_list(
    engine: Any,
    source: Source,
    user_id: str | None,
    item_id: str | None,
    k: int,
    filter_arn: str | None,
    filter_values: dict[str, str] | None,
    promotion: dict[str, Any] | None,
) -> dict[str, Any]:
    del promotion  # promotions are a campaign's: a version alone has none
    model = version_model(engine, source.version_arn)
    if source.for_items:
        if not item_id:
            raise InvalidInputException(f"{source.name} recommends related items: give an item")
        dense = model.items.dense(item_id)
        item = np.array([dense if dense is not None else len(model.items) + 1])
        try:
            raw = model.recipe.similar_scores(item)[0].astype(np.float64)
        except RecipeNotApplicable as exc:
            raise InvalidInputException(str(exc)) from None
        seen = np.array([dense] if dense is not None else [], np.int64)
    else:
        dense = model.users.dense(user_id) if user_id else None
        users = np.array([dense if dense is not None else len(model.users) + 1])
        history = (
            engine.history.history(model.group_id, model.interactions_dataset, user_id)
            if user_id and model.interactions_dataset is not None
            else History.empty(1)
        )
        raw = model.recipe.score_all(users, history, None)[0].astype(np.float64)
        seen = np.asarray(history.items[0], np.int64)
    candidates = np.ones(len(raw), bool)
    candidates[seen[seen < len(raw)]] = False
    unfiltered = _best(raw, candidates, k) if filter_arn else []
    if filter_arn:
        candidates &= engine.filter_mask(
            filter_arn,
            model.group_id,
            model.group_arn,
            len(raw),
            user_id,
            item_id,
            filter_values,
        )
    chosen = _best(raw, candidates, k)
    probabilities = loaded.softmax(np.where(candidates, raw, -np.inf))
    items = model.items.external(chosen)
    kept = set(chosen)
    return {
        "items": list(items),
        "scores": [round(float(probabilities[d]), 7) for d in chosen],
        "reasons": [""] * len(items),
        "removed": list(model.items.external([d for d in unfiltered if d not in kept])),
    }


def _campaign_list(
    engine: Any,
    source: Source,
    user_id: str | None,
    item_id: str | None,
    k: int,
    filter_arn: str | None,
    filter_values: dict[str, str] | None,
    promotion: dict[str, Any] | None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"campaignArn": source.arn, "numResults": k}
    if source.for_items:
        request["itemId"] = item_id
    elif user_id:
        request["userId"] = user_id
    if promotion:
        request["promotions"] = [promotion]
    filtered = dict(request)
    if filter_arn:
        filtered["filterArn"] = filter_arn
        if filter_values:
            filtered["filterValues"] = filter_values
    answer = preview(engine.get_recommendations, **filtered)["itemList"]
    items = [e["itemId"] for e in answer]
    removed: list[str] = []
    if filter_arn:
        kept = set(items)
        unfiltered = preview(engine.get_recommendations, **request)["itemList"]
        removed = [e["itemId"] for e in unfiltered if e["itemId"] not in kept]
    reasons = []
    for entry in answer:
        reason = ", ".join(entry.get("reason") or [])
        if entry.get("promotionName"):
            reason = f"{reason}: {entry['promotionName']}"
        reasons.append(reason)
    return {
        "items": items,
        "scores": [e.get("score") for e in answer],
        "reasons": reasons,
        "removed": removed,
    }


def recommend(
    engine: Any,
    source: Source,
    *,
    user_id: str | None = None,
    item_id: str | None = None,
    k: int = 10,
    filter_arn: str | None = None,
    filter_values: dict[str, str] | None = None,
    promotion: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The top `k` of a source for a user (or an item, for related-items recipes):
    `{"items", "scores", "reasons", "removed"}` (`removed`: what the filter took out of the
    top k; `reasons`: "Exploration", or "Promoted item: <name>" for a campaign given a
    `promotion`, Personalize's `{"name", "percentPromotedItems", "filterArn"}`; a solution
    version without a campaign has neither). Raises the Engine's errors (an unknown filter,
    a bad filter value, ...)."""
    run = _campaign_list if source.kind == "campaign" else _version_list
    return run(engine, source, user_id, item_id, k, filter_arn, filter_values, promotion)


# --- agreement of two lists -------------------------------------------------------------------


def overlap_at_k(a: list[str], b: list[str], k: int) -> float:
    """|A[:k] ∩ B[:k]| / k."""
    if k <= 0:
        return 0.0
    return len(set(a[:k]) & set(b[:k])) / k


def rbo(a: list[str], b: list[str], p: float = RBO_P) -> float:
    """Extrapolated rank-biased overlap of two rankings (Webber, Moffat and Zobel 2010,
    equation 32, which also covers lists of different lengths):

        RBO_EXT = (1-p)/p * (sum_{d=1..l} X_d/d * p^d + sum_{d=s+1..l} X_s (d-s)/(s d) * p^d)
                  + ((X_l - X_s)/l + X_s/s) * p^l

    with s and l the lengths of the shorter and the longer list and X_d the size of the
    overlap of their first d items (the shorter list whole once d > s). 1.0 for identical
    lists, 0.0 for disjoint ones; two empty lists agree (1.0)."""
    a, b = list(dict.fromkeys(a)), list(dict.fromkeys(b))
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    s, length = len(short), len(long_)
    if length == 0:
        return 1.0
    if s == 0:
        return 0.0
    in_short: set[str] = set()
    in_long: set[str] = set()
    x = np.zeros(length + 1)  # x[d] = X_d
    for d in range(1, length + 1):
        x[d] = x[d - 1]
        if d <= s:
            in_short.add(short[d - 1])
            x[d] += short[d - 1] in in_long
        in_long.add(long_[d - 1])
        x[d] += long_[d - 1] in in_short
    depth = np.arange(1, length + 1)
    total = float(np.sum(x[1:] / depth * p**depth))
    if length > s:
        tail = np.arange(s + 1, length + 1)
        total += float(np.sum(x[s] * (tail - s) / (s * tail) * p**tail))
    return (1 - p) / p * total + ((x[length] - x[s]) / length + x[s] / s) * p**length


def kendall_tau(a: list[str], b: list[str]) -> float:
    """Kendall's tau-b of two rankings over the union of their items; an item missing from
    a list is ranked just after that list's end (all missing items tied there). NaN when it
    is undefined (fewer than two items, or one ranking puts everything in a tie)."""
    union = list(dict.fromkeys([*a, *b]))
    if len(union) < 2:
        return float("nan")
    rank_a = {item: r for r, item in enumerate(a, start=1)}
    rank_b = {item: r for r, item in enumerate(b, start=1)}
    x = [rank_a.get(item, len(a) + 1) for item in union]
    y = [rank_b.get(item, len(b) + 1) for item in union]
    if len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(kendalltau(x, y).statistic)


def pair_statistics(lists: dict[str, list[str]], k: int) -> pl.DataFrame:
    """Every pair of lists: overlap@k, RBO (p = 0.9) and Kendall's tau."""
    rows = [
        {
            "a": a,
            "b": b,
            "overlap": overlap_at_k(lists[a], lists[b], k),
            "rbo": rbo(lists[a][:k], lists[b][:k]),
            "kendall_tau": kendall_tau(lists[a][:k], lists[b][:k]),
        }
        for a, b in combinations(lists, 2)
    ]
    schema = {"a": pl.Utf8, "b": pl.Utf8, "overlap": pl.Float64, "rbo": pl.Float64}
    return pl.DataFrame(rows, schema={**schema, "kendall_tau": pl.Float64})


def rank_shifts(lists: dict[str, list[str]]) -> pl.DataFrame:
    """Each list's items with their rank and their rank in the first (reference) list:
    `source, rank, item, reference_rank` (null if not in the reference) and `shift`
    (reference_rank - rank: positive = higher here than in the reference)."""
    names = list(lists)
    reference = {item: r for r, item in enumerate(lists[names[0]], start=1)} if names else {}
    rows = [
        {"source": name, "rank": r, "item": item, "reference_rank": reference.get(item)}
        for name in names
        for r, item in enumerate(lists[name], start=1)
    ]
    frame = pl.DataFrame(
        rows,
        schema={"source": pl.Utf8, "rank": pl.Int64, "item": pl.Utf8, "reference_rank": pl.Int64},
    )
    return frame.with_columns(shift=pl.col("reference_rank") - pl.col("rank"))


# --- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    group_id: int
    interactions: str
    items: str | None
    items_fields: tuple[Any, ...]
    has_event_type: bool


def _tables(engine: Any, group_arn: str) -> _Tables:
    group = engine.catalog.require(group_arn, "dataset-group")
    found = {d.spec["datasetType"]: d for d in engine.catalog.list("dataset", group_arn)}
    if "INTERACTIONS" not in found:
        raise InvalidInputException(f"{group_arn} has no Interactions dataset")
    interactions = found["INTERACTIONS"]
    items = found.get("ITEMS")
    names = {f.name for f in engine.dataset_fields(interactions)}
    return _Tables(
        group.id,
        table_name(interactions.id),
        table_name(items.id) if items is not None else None,
        tuple(engine.dataset_fields(items)) if items is not None else (),
        "EVENT_TYPE" in names,
    )


def recent_history(engine: Any, group_arn: str, user_id: str, limit: int = 20) -> pl.DataFrame:
    """The user's latest `limit` events, newest first: `time, event_type, item`."""
    tables = _tables(engine, group_arn)
    event_type = "coalesce(\"EVENT_TYPE\", '')" if tables.has_event_type else "'interaction'"
    with engine.store.cursor() as cur:
        return cur.sql(
            f'SELECT to_timestamp("TIMESTAMP") AS time, {event_type} AS event_type, '
            f'"ITEM_ID" AS item FROM {tables.interactions} WHERE "USER_ID" = $user '
            'ORDER BY "TIMESTAMP" DESC LIMIT $limit',
            params={"user": user_id, "limit": limit},
        ).pl()


def history_items(engine: Any, group_arn: str, user_id: str, limit: int = 100) -> list[str]:
    """Distinct items of the user's latest `limit` events, newest first."""
    frame = recent_history(engine, group_arn, user_id, limit)
    return list(dict.fromkeys(frame["item"].to_list()))


def item_popularity(engine: Any, group_arn: str) -> pl.DataFrame:
    """Every item of the catalogue (items with interactions and the Items dataset's rows):
    `item, users` (distinct users who interacted), `popularity_rank` (1 = most popular) and
    `percentile` (0..1, ties at their average rank; 1 = the most popular item)."""
    tables = _tables(engine, group_arn)
    catalogue = "SELECT item FROM pop"
    if tables.items is not None:
        catalogue = f'SELECT "ITEM_ID" AS item FROM {tables.items} UNION {catalogue}'
    with engine.store.cursor() as cur:
        frame = cur.sql(
            f'WITH pop AS (SELECT "ITEM_ID" AS item, count(DISTINCT "USER_ID") AS users '
            f"FROM {tables.interactions} GROUP BY 1), catalogue AS ({catalogue}) "
            "SELECT c.item, coalesce(p.users, 0) AS users FROM catalogue c "
            "LEFT JOIN pop p USING (item) ORDER BY users DESC, c.item"
        ).pl()
    n = frame.height
    return frame.with_columns(
        popularity_rank=pl.col("users").rank("min", descending=True).cast(pl.Int64),
        percentile=((pl.col("users").rank("average") - 1) / (n - 1) if n > 1 else pl.lit(1.0)).cast(
            pl.Float64
        ),
    )


def metadata_columns(engine: Any, group_arn: str) -> list[str]:
    """The Items columns worth showing beside an item: up to two categorical fields and two
    numeric ones (CREATION_TIMESTAMP becomes `age_days`)."""
    fields = _tables(engine, group_arn).items_fields
    skip = {"ITEM_ID", "CREATION_TIMESTAMP"}
    categorical = [f.name for f in fields if f.categorical and not f.textual and f.name not in skip]
    numeric = [f.name for f in fields if f.is_numeric and f.name not in skip]
    return categorical[:2] + numeric[:2]


def item_details(engine: Any, group_arn: str, items: list[str]) -> pl.DataFrame:
    """`item`, the `metadata_columns` and `age_days` (days between the item's creation and
    the group's newest interaction) of the given items; items without a row are left out."""
    tables = _tables(engine, group_arn)
    columns = metadata_columns(engine, group_arn)
    if tables.items is None or not items:
        return pl.DataFrame({"item": []}, schema={"item": pl.Utf8})
    select = "".join(f", t.{quote(c)} AS {quote(c)}" for c in columns)
    if any(f.name == "CREATION_TIMESTAMP" for f in tables.items_fields):
        select += (
            f', CAST(round(((SELECT max("TIMESTAMP") FROM {tables.interactions}) '
            f'- t."CREATION_TIMESTAMP") / {DAY}) AS BIGINT) AS age_days'
        )
    with engine.store.cursor() as cur:
        return cur.sql(
            f'SELECT t."ITEM_ID" AS item{select} FROM {tables.items} t '
            'WHERE t."ITEM_ID" IN (SELECT unnest($items::VARCHAR[]))',
            params={"items": list(items)},
        ).pl()


def cooccurrence(
    engine: Any, group_arn: str, targets: list[str], anchors: list[str]
) -> pl.DataFrame:
    """`target, anchor, users`: distinct users who interacted with both (target != anchor)."""
    tables = _tables(engine, group_arn)
    empty = pl.DataFrame(schema={"target": pl.Utf8, "anchor": pl.Utf8, "users": pl.Int64})
    if not targets or not anchors:
        return empty
    with engine.store.cursor() as cur:
        frame = cur.sql(
            f'WITH ev AS (SELECT DISTINCT "USER_ID" AS u, "ITEM_ID" AS i '
            f"FROM {tables.interactions} "
            'WHERE "ITEM_ID" IN (SELECT unnest($targets::VARCHAR[])) '
            'OR "ITEM_ID" IN (SELECT unnest($anchors::VARCHAR[]))), '
            "t AS (SELECT u, i AS target FROM ev WHERE i IN (SELECT unnest($targets::VARCHAR[]))), "
            "a AS (SELECT u, i AS anchor FROM ev WHERE i IN (SELECT unnest($anchors::VARCHAR[]))) "
            "SELECT target, anchor, count(*) AS users FROM t JOIN a USING (u) "
            "WHERE target <> anchor GROUP BY ALL ORDER BY target, users DESC, anchor",
            params={"targets": list(targets), "anchors": list(anchors)},
        ).pl()
    return frame.cast({"users": pl.Int64}) if frame.height else empty


def explain(
    engine: Any,
    group_arn: str,
    items: list[str],
    anchors: list[str],
    top: int = 3,
) -> pl.DataFrame:
    """Why each item may be recommended: `item`; `pulled_by`, the `top` anchors (the user's
    history items, or the seed item) most associated with it, and `shared_users`, how many
    users interacted with both; then the item's `users` and `popularity_rank`.

    Anchors are ranked by the cosine of their co-occurrence, both / sqrt(users(item) x
    users(anchor)), so that a bestseller in the history does not pull every item up."""
    popularity = item_popularity(engine, group_arn).select("item", "users", "popularity_rank")
    users = popularity.select("item", "users")
    co = (
        cooccurrence(engine, group_arn, items, anchors)
        .join(users.rename({"item": "target", "users": "target_users"}), on="target")
        .join(users.rename({"item": "anchor", "users": "anchor_users"}), on="anchor")
        .with_columns(
            strength=pl.col("users") / (pl.col("target_users") * pl.col("anchor_users")).sqrt()
        )
    )
    best = (
        co.sort(["target", "strength", "anchor"], descending=[False, True, False])
        .group_by("target", maintain_order=True)
        .head(top)
        .group_by("target", maintain_order=True)
        .agg(pulled_by=pl.col("anchor"), shared_users=pl.col("users"))
        .rename({"target": "item"})
    )
    base = pl.DataFrame({"item": list(dict.fromkeys(items))}, schema={"item": pl.Utf8})
    return base.join(best, on="item", how="left").join(popularity, on="item", how="left")


def sample_entities(
    engine: Any, group_arn: str, n: int, *, items: bool = False, seed: int = 0, min_events: int = 2
) -> list[str]:
    """A reproducible sample of `n` users (or items) with at least `min_events` interactions."""
    tables = _tables(engine, group_arn)
    column = '"ITEM_ID"' if items else '"USER_ID"'
    with engine.store.cursor() as cur:
        frame = cur.sql(
            f"SELECT {column} AS id FROM {tables.interactions} GROUP BY 1 "
            "HAVING count(*) >= $min ORDER BY hash(id, $seed), id LIMIT $n",
            params={"min": min_events, "seed": seed, "n": n},
        ).pl()
    return frame["id"].to_list()


# --- over many users --------------------------------------------------------------------------


def bootstrap_mean(
    values: Any, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile-bootstrap confidence interval (NaNs
    dropped; NaN everywhere when nothing is left)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(x.mean()), float(low), float(high)


def aggregate(
    lists: list[dict[str, list[str]]], popularity: pl.DataFrame, k: int, seed: int = 0
) -> dict[str, pl.DataFrame]:
    """Statistics over one dict of lists per sampled user (source -> items):

    - `sources`: per source, `lists`, `distinct_items`, `coverage` (distinct / catalogue),
      `popularity_bias` with `pb_low`/`pb_high` (bootstrap 95% CI of the mean over lists);
    - `pairs`: per pair, `overlap` (mean overlap@k) with `low`/`high`, `rbo`, `kendall_tau`;
    - `overlaps`: per pair and user, `overlap` (the distribution)."""
    percentile = dict(zip(popularity["item"], popularity["percentile"], strict=True))
    catalogue = max(popularity.height, 1)
    names = list(dict.fromkeys(name for row in lists for name in row))
    source_rows = []
    for name in names:
        per_list = [row[name][:k] for row in lists if row.get(name)]
        distinct = {item for items in per_list for item in items}
        bias = [float(np.mean([percentile.get(i, 0.0) for i in items])) for items in per_list]
        mean, low, high = bootstrap_mean(bias, seed=seed)
        source_rows.append(
            {
                "source": name,
                "lists": len(per_list),
                "distinct_items": len(distinct),
                "coverage": len(distinct) / catalogue,
                "popularity_bias": mean,
                "pb_low": low,
                "pb_high": high,
            }
        )
    pair_rows, overlap_rows = [], []
    for a, b in combinations(names, 2):
        both = [row for row in lists if row.get(a) is not None and row.get(b) is not None]
        overlaps = [overlap_at_k(row[a], row[b], k) for row in both]
        rbos = [rbo(row[a][:k], row[b][:k]) for row in both]
        taus = [kendall_tau(row[a][:k], row[b][:k]) for row in both]
        pair = f"{a} vs {b}"
        mean, low, high = bootstrap_mean(overlaps, seed=seed)
        pair_rows.append(
            {
                "pair": pair,
                "a": a,
                "b": b,
                "users": len(both),
                "overlap": mean,
                "low": low,
                "high": high,
                "rbo": float(np.mean(rbos)) if rbos else float("nan"),
                "kendall_tau": float(np.nanmean(taus)) if np.isfinite(taus).any() else np.nan,
            }
        )
        overlap_rows += [{"pair": pair, "overlap": value} for value in overlaps]
    return {
        "sources": pl.DataFrame(
            source_rows,
            schema={
                "source": pl.Utf8,
                "lists": pl.Int64,
                "distinct_items": pl.Int64,
                "coverage": pl.Float64,
                "popularity_bias": pl.Float64,
                "pb_low": pl.Float64,
                "pb_high": pl.Float64,
            },
        ),
        "pairs": pl.DataFrame(
            pair_rows,
            schema={
                "pair": pl.Utf8,
                "a": pl.Utf8,
                "b": pl.Utf8,
                "users": pl.Int64,
                "overlap": pl.Float64,
                "low": pl.Float64,
                "high": pl.Float64,
                "rbo": pl.Float64,
                "kendall_tau": pl.Float64,
            },
        ),
        "overlaps": pl.DataFrame(overlap_rows, schema={"pair": pl.Utf8, "overlap": pl.Float64}),
    }

"""Batch inference jobs: CreateBatchInferenceJob, DescribeBatchInferenceJob,
ListBatchInferenceJobs.

A job answers every line of its JSON-lines input with what the real-time API would return
for it, from a solution version (no campaign needed):

- user recipes: `{"userId": "u1"}` -> `{"recommendedItems": [...], "scores": [...]}`, as
  GetRecommendations (seen items excluded, cold-item exploration for aws-user-personalization
  as `batchInferenceJobConfig.itemExplorationConfig` sets it, default weight 0.3);
- related-items recipes: `{"itemId": "i1"}`, as GetRecommendations with an itemId;
- aws-personalized-ranking: `{"userId": "u1", "itemList": ["i1", ...]}`, as
  GetPersonalizedRanking (unknown items last; their score is null).

A line may also carry `context` (contextual metadata) and `filterValues` (for a filter with
parameters). Output lines are `{"input": <the line>, "output": {...}, "error": null}`; a line
that cannot be answered (not JSON, no userId, ...) gets `"output": null` and the reason in
`error`, and the job goes on.

Throughput: lines are answered in blocks: one `score_all` (or `similar_scores`) call for the
block's users, the users' histories from the in-memory history index, seen items and the
filter applied as masks, the top `numResults` by `argpartition`, and the Personalize-style
scores (softmax over the catalogue) from one vectorised exp per block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.batch import io
from engine.batch.filtering import EntityRows, ItemFilter
from engine.batch.jobs import (
    Answer,
    BatchJobBase,
    BatchPlan,
    BatchProgress,
    block_size,
    describe,
    listed,
    not_for,
)
from engine.errors import InvalidInputException
from engine.operations import operation, paginate
from engine.recipes import recipe_class, recipe_name
from engine.recipes.base import History, top_n
from engine.serving import exploration
from engine.serving.campaigns import DEFAULT_EXPLORATION, EXPLORING_RECIPES
from engine.serving.loaded import LoadedModel, softmax
from engine.serving.recommend import MAX_RESULTS

BATCH_INFERENCE_JOB = "batch-inference-job"
#: Recipes Personalize offers no batch recommendations for.
NO_BATCH = {
    "arn:aws:personalize:::recipe/aws-trending-now": "have no batch recommendations",
    "arn:aws:personalize:::recipe/aws-next-best-action": "have no batch recommendations",
}
MAX_ID_LENGTH = 256
EMPTY_TIMES = np.zeros(0, np.int64)


def _exploration(config: dict[str, Any] | None, recipe_arn: str) -> tuple[float, float] | None:
    """(weight, cut-off days) the job explores cold items with, or None (as a campaign:
    aws-user-personalization explores by default, other recipes only when asked to)."""
    given = (config or {}).get("itemExplorationConfig")
    if recipe_arn not in EXPLORING_RECIPES and not given:
        return None
    settings = {**DEFAULT_EXPLORATION, **(given or {})}
    field = "batchInferenceJobConfig.itemExplorationConfig"
    unknown = sorted(set(settings) - set(DEFAULT_EXPLORATION))
    if unknown:
        raise InvalidInputException(
            f"{field}: {unknown[0]} is not an exploration setting (known: "
            f"{', '.join(DEFAULT_EXPLORATION)})"
        )
    try:
        weight = float(settings["explorationWeight"])
        cutoff = float(settings["explorationItemAgeCutOff"])
    except ValueError:
        raise InvalidInputException(f"{field} {settings} must hold numbers") from None
    if not 0.0 <= weight <= 1.0:
        raise InvalidInputException(f"{field}.explorationWeight {weight} must be 0..1")
    if cutoff < 1:
        raise InvalidInputException(
            f"{field}.explorationItemAgeCutOff {cutoff} must be at least 1 day"
        )
    return (weight, cutoff) if weight > 0 else None


def _id(value: Any, name: str) -> str | None:
    """The error for an id field of an input line, or None when it is a usable id."""
    if not isinstance(value, str) or not value:
        return f"{name} must be a non-empty string"
    if len(value) > MAX_ID_LENGTH:
        return f"{name} is {len(value)} characters; at most {MAX_ID_LENGTH} are allowed"
    return None


def _context_key(given: dict[str, Any]) -> tuple[tuple[str, str], ...] | str:
    """The line's context as a hashable key, or the error message (a str)."""
    context = given.get("context")
    if context is None:
        return ()
    if not isinstance(context, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in context.items()
    ):
        return "context must be an object of string values"
    return tuple(sorted(context.items()))


def round7(values: np.ndarray) -> np.ndarray:
    """`round(value, 7)` of every value, vectorised: the same floats as Python's correctly
    rounded `round` (values within a hair of a rounding boundary are rounded by Python)."""
    scaled = values * 1e7
    out = np.rint(scaled) / 1e7
    close = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for index in zip(*np.nonzero(close), strict=True):
        out[index] = round(float(values[index]), 7)
    return out


def top_n_negated(negated: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`engine.recipes.base.top_n` of `-negated`, without negating: the same ids in the same
    order (the same argpartition and stable argsort on the same comparisons), and the
    negated best scores (+inf where a row has fewer than n)."""
    n = min(n, negated.shape[1])
    if n <= 0:
        return np.zeros((negated.shape[0], 0), np.int64), np.zeros((negated.shape[0], 0))
    part = np.argpartition(negated, n - 1, axis=1)[:, :n]
    part_scores = np.take_along_axis(negated, part, axis=1)
    order = np.argsort(part_scores, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, axis=1)
    best = np.take_along_axis(part_scores, order, axis=1)
    return np.where(np.isfinite(best), ids, -1), best


def _scatter(matrix: np.ndarray, columns: list[np.ndarray], value: float) -> None:
    """Set `matrix[r, c] = value` for each row's columns (ids < 0 or past the end skipped)."""
    lengths = [len(c) for c in columns]
    if not sum(lengths):
        return
    rows = np.repeat(np.arange(len(columns)), lengths)
    cols = np.concatenate(columns).astype(np.int64, copy=False)
    keep = (cols >= 0) & (cols < matrix.shape[1])
    matrix[rows[keep], cols[keep]] = value


def _exploration_scores(
    relevance: np.ndarray, pool: np.ndarray, fresh: np.ndarray, weight: float
) -> np.ndarray:
    """`exploration.exploration_scores` for each row (relevance already padded to the
    catalogue): each pool item's relevance percentile within the row's pool (NaN-free: items
    the model cannot score get 0.5), blended with its freshness; -inf outside the pool.

    The percentile's ranks come from one stable argsort per row over the cold items only
    (the pool is always among them), which orders the finite scores exactly as sorting each
    row's finite scores alone does."""
    cold = np.flatnonzero(fresh > 0)
    part = relevance[:, cold]
    in_pool = pool[:, cold] & np.isfinite(part)
    values = np.where(in_pool, part, -np.inf)
    counts = in_pool.sum(axis=1)
    order = np.argsort(values, axis=1, kind="stable")
    positions = np.empty_like(order)
    np.put_along_axis(positions, order, np.arange(len(cold))[None, :], axis=1)
    ranks = (positions - (len(cold) - counts)[:, None]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = ranks / (counts - 1)[:, None]
    share = np.where((counts == 1)[:, None], 1.0, share)
    percentile = np.full(relevance.shape, np.nan)
    percentile[:, cold] = np.where(in_pool, share, np.nan)
    percentile[pool & np.isnan(percentile)] = 0.5  # unscorable but allowed: new to the model
    final = (1.0 - weight) * percentile + weight * fresh[None, : relevance.shape[1]]
    return np.where(pool, final, -np.inf)


#: One parsed input line: its position in the block, its JSON value, its JSON text.
Entry = tuple[int, dict[str, Any], bytes]


class InferenceAnswerer:
    """Answers blocks of input lines for one job (the model, filter and settings fixed)."""

    def __init__(self, engine: Any, model: LoadedModel, plan: BatchPlan) -> None:
        self.engine = engine
        self.model = model
        self.recipe = model.recipe
        self.n = plan.num_results
        kind = self.recipe.recipe_type
        self.kind = kind if kind in ("RELATED_ITEMS", "PERSONALIZED_RANKING") else "USER"
        self.exploration = (
            _exploration(plan.config, self.recipe.recipe_arn) if self.kind == "USER" else None
        )
        self.facts = engine.item_facts(model) if self.exploration else None
        self.universe = len(self.facts) if self.facts is not None else self.recipe.n_items
        self.filter = (
            ItemFilter(engine, plan.filter_arn, model, self.universe) if plan.filter_arn else None
        )
        self._profiles: EntityRows | None = None
        self._item_json: np.ndarray | None = None

    @property
    def block(self) -> int:
        return block_size(max(self.universe, self.recipe.n_items))

    def item_json(self) -> np.ndarray:
        """Each dense item's id as JSON bytes (an object array, built once per job)."""
        if self._item_json is None:
            ids = self.model.items.external_ids
            self._item_json = np.array([io.dumps(i) for i in ids] or [b""], dtype=object)
        return self._item_json

    # --- lines -------------------------------------------------------------------------------

    def answer(self, lines: list[bytes]) -> list[bytes]:
        """One output line per input line, in order."""
        out: list[bytes | None] = [None] * len(lines)
        groups: dict[Any, list[Entry]] = {}
        for k, line in enumerate(lines):
            given, echo, error = io.parse_line(line)
            key: Any = None
            if error is None:
                error = self._check(given)
            if error is None:
                key = _context_key(given)
                if isinstance(key, str):
                    error = key
            if error is not None:
                out[k] = io.output_line(echo, None, error)
                continue
            groups.setdefault(key, []).append((k, given, echo))
        for key, entries in groups.items():
            context = dict(key) if key else None
            if self.kind == "RELATED_ITEMS":
                self._related(entries, context, out)
            elif self.kind == "PERSONALIZED_RANKING":
                self._ranking(entries, context, out)
            else:
                self._users(entries, context, out)
        return out  # type: ignore[return-value]

    def _check(self, given: dict[str, Any]) -> str | None:
        """What is wrong with a parsed line, or None."""
        filter_values = given.get("filterValues")
        if filter_values is not None and not isinstance(filter_values, dict):
            return "filterValues must be an object"
        if self.kind == "RELATED_ITEMS":
            if "itemId" not in given:
                name = recipe_name(self.recipe.recipe_arn)
                return f"itemId is required: {name} recommends related items"
            return _id(given["itemId"], "itemId")
        if "userId" not in given:
            return "userId is required"
        error = _id(given["userId"], "userId")
        if error is not None or self.kind != "PERSONALIZED_RANKING":
            return error
        items = given.get("itemList")
        if not isinstance(items, list) or not items:
            return "itemList (the items to rank) must be a non-empty list"
        if len(items) > MAX_RESULTS:
            return f"itemList has {len(items)} items; at most {MAX_RESULTS} are allowed"
        return next((e for e in (_id(i, "each itemList entry") for i in items) if e), None)

    def _allowed(
        self, given: dict[str, Any], user_id: str | None, item_id: str | None
    ) -> np.ndarray | None:
        """The filter's mask for a line (None: no filter); InvalidInputException for bad
        filterValues."""
        if self.filter is None:
            return None
        return self.filter.mask(user_id, item_id, given.get("filterValues"))

    # --- users -------------------------------------------------------------------------------

    def _profile(self, user_id: str) -> dict[str, Any] | None:
        model = self.model
        if model.users_dataset is None or not model.user_fields:
            return None
        if self._profiles is None:
            datasets = self.engine.catalog.list("dataset", model.group_arn)
            dataset = next(d for d in datasets if d.id == model.users_dataset)
            self._profiles = EntityRows(
                self.engine, model.group_id, "USER", dataset, list(model.user_fields)
            )
        return self._profiles.get(user_id)

    def _histories(self, entries: list[Entry], profiles: bool) -> tuple[np.ndarray, History]:
        """The dense ids (new users: one past the id map) and histories of the lines' users,
        as GetRecommendations reads them (the latest events from the history index)."""
        model, recipe = self.model, self.recipe
        ids = [given["userId"] for _, given, _ in entries]
        users = model.users.dense_many(ids)
        unknown = users < 0
        users[unknown] = len(model.users) + 1
        items: list[np.ndarray] = []
        times: list[np.ndarray] = []
        dataset = model.interactions_dataset
        if dataset is None:
            items = [np.zeros(0, np.int32)] * len(ids)
            times = [EMPTY_TIMES] * len(ids)
        else:
            history, group = self.engine.history, model.group_id
            for user_id in ids:
                one = history.history(group, dataset, user_id)
                items.append(one.items[0])
                times.append(one.timestamps[0] if one.timestamps is not None else EMPTY_TIMES)
        found = None
        if profiles:
            new = unknown | (users >= recipe.n_users)
            found = [self._profile(u) if new[r] else None for r, u in enumerate(ids)]
        return users, History(items, times, None, found)

    def _users(
        self, entries: list[Entry], context: dict[str, str] | None, out: list[bytes | None]
    ) -> None:
        users, history = self._histories(entries, profiles=True)
        raw = self.recipe.score_all(users, history, context)
        ids = [(g["userId"], None) for _, g, _ in entries]
        if self.exploration is not None:
            self._explore(raw, history.items, entries, ids, out)
        else:
            self._top(raw, history.items, entries, ids, out)

    def _filter_masks(
        self,
        entries: list[Entry],
        ids: list[tuple[str | None, str | None]],
        width: int,
        out: list[bytes | None],
    ) -> tuple[np.ndarray | None, set[int]]:
        """The filter's items per line (lines x width, or 1 x width when every line gets the
        same mask; None: no filter) and the rows whose filterValues were refused (their
        error lines are written)."""
        failed: set[int] = set()
        if self.filter is None:
            return None, failed
        masks = []
        for r, (k, given, echo) in enumerate(entries):
            try:
                masks.append(self._allowed(given, *ids[r]))
            except InvalidInputException as exc:
                out[k] = io.output_line(echo, None, str(exc))
                failed.add(r)
                masks.append(masks[-1] if masks else np.ones(width, bool))
        if all(m is masks[0] for m in masks):
            return masks[0][None, :], failed
        return np.stack(masks), failed

    def _top(
        self,
        raw: np.ndarray,
        seen: list[np.ndarray],
        entries: list[Entry],
        ids: list[tuple[str | None, str | None]],
        out: list[bytes | None],
    ) -> None:
        """Rank and score each row as GetRecommendations does, and write the lines.

        `raw` holds the recipe's scores (lines x items); `seen` the items to leave out of each
        row, `ids` each line's (userId, itemId) for the filter. The work is on the negated
        scores in float64 (excluded items +inf): `top_n_negated` needs no copy and ranks the
        same values as the real-time `top_n`, and the softmax over each row's remaining items
        is one pass of `exp` over the same array."""
        negated = np.negative(raw, dtype=np.float64)  # float64, as GetRecommendations ranks
        _scatter(negated, seen, np.inf)
        allowed, failed = self._filter_masks(entries, ids, negated.shape[1], out)
        if allowed is not None:
            np.copyto(negated, np.inf, where=~allowed)
        best_ids, best = top_n_negated(negated, self.n)
        counts = (best_ids >= 0).sum(axis=1)  # -1 pads the end of a row
        top = best[:, 0].astype(np.float64) if best.shape[1] else np.full(len(raw), np.inf)
        # exp(raw - max) as `softmax` computes it: (-max) - (-raw) == raw - max, exactly
        weights = np.subtract(np.where(np.isfinite(top), top, 0.0)[:, None], negated, out=negated)
        np.exp(weights, out=weights)
        totals = weights.sum(axis=1)
        chosen = np.where(best_ids >= 0, best_ids, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            probabilities = np.take_along_axis(weights, chosen, axis=1) / totals[:, None]
        rounded = round7(np.where(best_ids >= 0, probabilities, 0.0))
        names = self.item_json()[chosen]
        for r, (k, _, echo) in enumerate(entries):
            if r in failed:
                continue
            m = counts[r]
            out[k] = io.output_line(
                echo,
                b'{"recommendedItems":['
                + b",".join(names[r, :m])
                + b'],"scores":'
                + io.dumps(rounded[r, :m].tolist())
                + b"}",
                None,
            )

    def _explore(
        self,
        raw: np.ndarray,
        seen: list[np.ndarray],
        entries: list[Entry],
        ids: list[tuple[str | None, str | None]],
        out: list[bytes | None],
    ) -> None:
        """Lines with cold-item exploration, as GetRecommendations answers them
        (`engine.serving.exploration`), a block at a time: the relevance top, the cold pool's
        percentiles and exploration scores and their top are matrix operations; only the
        interleaving (and the rare refill when too few cold items remain) is per line."""
        facts = self.facts
        weight, cutoff = self.exploration
        universe, n_raw = len(facts), raw.shape[1]
        rows = len(entries)
        raw64 = raw.astype(np.float64)
        relevance = np.full((rows, universe), -np.inf)
        relevance[:, : min(n_raw, universe)] = raw64[:, :universe]
        candidates = np.ones((rows, universe), bool)
        _scatter(candidates, seen, False)
        allowed, failed = self._filter_masks(entries, ids, universe, out)
        if allowed is not None:
            candidates &= allowed
        explore_n = exploration.exploration_slots(self.n, weight)
        chosen, _ = top_n(np.where(candidates, relevance, -np.inf), self.n - explore_n)
        if explore_n:
            fresh = facts.freshness(cutoff)
            pool = candidates & (fresh > 0)[None, :]
            _scatter(pool, list(chosen), False)
            scores = _exploration_scores(relevance, pool, fresh, weight)
            explored, _ = top_n(scores, explore_n)
        else:
            explored = np.zeros((rows, 0), np.int64)
        weights = np.where(candidates[:, :n_raw], raw64, -np.inf)  # softmax over candidates
        top = weights.max(axis=1, initial=-np.inf)
        np.subtract(weights, np.where(np.isfinite(top), top, 0.0)[:, None], out=weights)
        np.exp(weights, out=weights)
        totals = weights.sum(axis=1)
        picked = self._interleaved(chosen, explored, explore_n, candidates, relevance, failed)
        scored = (picked >= 0) & (picked < n_raw)
        at = np.where(scored, picked, 0)
        scored &= np.isfinite(np.take_along_axis(raw64, at, axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            probabilities = np.take_along_axis(weights, at, axis=1) / totals[:, None]
        rounded = round7(np.where(scored, probabilities, 0.0)).tolist()
        counts = (picked >= 0).sum(axis=1)
        flags = scored.tolist()
        for r, (k, _, echo) in enumerate(entries):
            if r in failed:
                continue
            m = counts[r]
            scores = [v if f else None for v, f in zip(rounded[r][:m], flags[r][:m], strict=True)]
            result = {"recommendedItems": facts.items.external(picked[r, :m]), "scores": scores}
            out[k] = io.output_line(echo, result, None)

    def _interleaved(
        self,
        chosen: np.ndarray,
        explored: np.ndarray,
        explore_n: int,
        candidates: np.ndarray,
        relevance: np.ndarray,
        failed: set[int],
    ) -> np.ndarray:
        """Each line's list (lines x n, -1 padded): the explored items at the evenly spread
        places among the relevance top (`exploration.interleave`). Full rows share the places
        and are placed at once; the others (few candidates or few cold items, refilled by
        relevance) one by one."""
        rows, n = len(chosen), self.n
        picked = np.full((rows, n), -1, np.int64)
        if not explore_n:
            picked[:, : chosen.shape[1]] = chosen
            return picked
        full = (chosen >= 0).all(axis=1) & (explored >= 0).all(axis=1)
        if chosen.shape[1] + explored.shape[1] == n:
            places = exploration.spread_positions(n, explore_n)
            others = np.setdiff1d(np.arange(n), places)
            picked[np.ix_(full, places)] = explored[full]
            picked[np.ix_(full, others)] = chosen[full]
        else:
            full[:] = False
        best = self.engine._best
        for r in np.flatnonzero(~full):
            if r in failed:
                continue
            main = [i for i in chosen[r].tolist() if i >= 0]
            extra = [i for i in explored[r].tolist() if i >= 0]
            if len(extra) < explore_n:  # too few cold items: relevance fills the rest
                rest = candidates[r].copy()
                rest[main + extra] = False
                main += best(relevance[r], rest, explore_n - len(extra))
            total = len(main) + len(extra)
            merged = exploration.interleave(
                main, extra, exploration.spread_positions(total, len(extra))
            )
            picked[r, : len(merged)] = merged
        return picked

    # --- related items -------------------------------------------------------------------

    def _related(
        self, entries: list[Entry], context: dict[str, str] | None, out: list[bytes | None]
    ) -> None:
        items = self.model.items
        dense = items.dense_many(g["itemId"] for _, g, _ in entries)
        asked = np.where(dense >= 0, dense, len(items) + 1)
        raw = self.recipe.similar_scores(asked)
        seen = [dense[r : r + 1][dense[r : r + 1] >= 0] for r in range(len(dense))]
        ids = [
            (g.get("userId") if isinstance(g.get("userId"), str) else None, g["itemId"])
            for _, g, _ in entries
        ]
        self._top(raw, seen, entries, ids, out)

    # --- personalized ranking ------------------------------------------------------------

    def _ranking(
        self, entries: list[Entry], context: dict[str, str] | None, out: list[bytes | None]
    ) -> None:
        """As GetPersonalizedRanking: the list in the user's order, unknown items last with
        a null score, items the filter rejects left out."""
        users, history = self._histories(entries, profiles=False)
        rows = self.recipe.score_all(users, history, context)
        n_items = self.recipe.n_items
        for r, (k, given, echo) in enumerate(entries):
            input_list = list(given["itemList"])
            items = self.model.items.dense_many(input_list)
            known_ids = (items >= 0) & (items < n_items)
            raw = np.full(len(items), np.nan, np.float32)
            raw[known_ids] = rows[r][items[known_ids]]
            try:
                allow = self._allowed(given, given["userId"], None)
            except InvalidInputException as exc:
                out[k] = io.output_line(echo, None, str(exc))
                continue
            if allow is not None:  # filtered-out items leave the ranking
                keep = [i for i, d in enumerate(items) if d < 0 or d >= len(allow) or allow[d]]
                input_list = [input_list[i] for i in keep]
                items, raw = items[keep], raw[keep]
            known = [i for i in range(len(input_list)) if np.isfinite(raw[i])]
            known.sort(key=lambda i: -raw[i])
            probabilities = softmax(raw[known]) if known else np.zeros(0)
            seen = set(known)
            unknown = [i for i in range(len(input_list)) if i not in seen]
            result = {
                "recommendedItems": [input_list[i] for i in known + unknown],
                "scores": [round(float(p), 7) for p in probabilities] + [None] * len(unknown),
            }
            out[k] = io.output_line(echo, result, None)


class BatchInferenceOps(BatchJobBase):
    """The batch inference job operations of the Engine."""

    @io.batch_operation("CreateBatchInferenceJob")
    def create_batch_inference_job(
        self,
        *,
        jobName: str,
        solutionVersionArn: str,
        jobInput: dict[str, Any],
        jobOutput: dict[str, Any],
        roleArn: str,
        filterArn: str | None = None,
        numResults: int | None = None,
        batchInferenceJobConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
        batchInferenceJobMode: str | None = None,
        themeGenerationConfig: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start answering every line of `jobInput` (JSON lines; a file or a folder) with
        the solution version's recommendations, written to `<jobOutput path>/<file>.out`.

        The input may be `s3://bucket/key` (the embedded store unless an S3 endpoint is
        configured), `file://` or a local path; the output must be `s3://bucket/prefix/`.
        `kmsKeyArn` is kept and described but Tailor does not encrypt. THEME_GENERATION and
        `rankingInfluence` (Semantic-Similarity's) are not supported.
        """
        version, recipe_arn = self._batch_version(solutionVersionArn)
        mode = batchInferenceJobMode or "BATCH_INFERENCE"
        if mode != "BATCH_INFERENCE" or themeGenerationConfig:
            raise InvalidInputException(
                "batchInferenceJobMode THEME_GENERATION (themes from a generative model) is "
                "not supported by Tailor"
            )
        if recipe_arn in NO_BATCH:
            raise not_for(recipe_arn, NO_BATCH[recipe_arn])
        recipe_type = recipe_class(recipe_arn).recipe_type
        if recipe_type == "USER_SEGMENTATION":
            raise not_for(recipe_arn, "make user segments: use CreateBatchSegmentJob")
        config = dict(batchInferenceJobConfig or {})
        if config.get("rankingInfluence"):
            raise InvalidInputException(
                "batchInferenceJobConfig.rankingInfluence applies to aws-semantic-similarity, "
                "which Tailor does not have"
            )
        if recipe_type == "USER_PERSONALIZATION":
            _exploration(config, recipe_arn)
        if recipe_arn in EXPLORING_RECIPES:
            given = config.get("itemExplorationConfig") or {}
            config["itemExplorationConfig"] = {**DEFAULT_EXPLORATION, **given}
        n = self._num_results(numResults, MAX_RESULTS)
        self._batch_filter(filterArn, version, "ItemID")
        path = jobInput["s3DataSource"]["path"]
        io.check_input(path, self.store.data_dir, self.settings)
        io.check_output(jobOutput["s3DataDestination"]["path"])
        arn = self.arns.make(BATCH_INFERENCE_JOB, jobName)
        spec = {
            "filterArn": filterArn,
            "numResults": n,
            "jobInput": {"s3DataSource": dict(jobInput["s3DataSource"])},
            "jobOutput": {"s3DataDestination": dict(jobOutput["s3DataDestination"])},
            "roleArn": roleArn,
            "batchInferenceJobConfig": config or None,
            "batchInferenceJobMode": mode,
        }
        self._insert_batch_job(BATCH_INFERENCE_JOB, arn, jobName, solutionVersionArn, spec, tags)
        plan = BatchPlan(
            arn,
            version,
            path,
            jobOutput["s3DataDestination"]["path"],
            filterArn,
            n,
            config,
        )
        progress = BatchProgress()

        def prepare(model: LoadedModel) -> tuple[Answer, int]:
            answerer = InferenceAnswerer(self, model, plan)
            return answerer.answer, answerer.block

        self.jobs.submit(arn, lambda: self._run_batch(plan, progress, prepare), progress)
        return {"batchInferenceJobArn": arn}

    @operation("DescribeBatchInferenceJob")
    def describe_batch_inference_job(self, *, batchInferenceJobArn: str) -> dict[str, Any]:
        """Describe a batch inference job: its status, and failureReason if it failed."""
        job = self.catalog.require(batchInferenceJobArn, BATCH_INFERENCE_JOB)
        spec = job.spec
        return {
            "batchInferenceJob": describe(
                job,
                "batchInferenceJobArn",
                batchInferenceJobConfig=spec.get("batchInferenceJobConfig"),
                batchInferenceJobMode=spec.get("batchInferenceJobMode"),
            )
        }

    @operation("ListBatchInferenceJobs")
    def list_batch_inference_jobs(
        self,
        *,
        solutionVersionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List batch inference jobs (of one solution version if given), newest first."""
        rows = [
            listed(
                j, "batchInferenceJobArn", batchInferenceJobMode=j.spec.get("batchInferenceJobMode")
            )
            for j in self.catalog.list(BATCH_INFERENCE_JOB, solutionVersionArn)
        ]
        return paginate(
            f"ListBatchInferenceJobs:{solutionVersionArn or ''}",
            rows,
            "batchInferenceJobs",
            nextToken,
            maxResults,
        )

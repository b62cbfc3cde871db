"""Real-time answers: GetRecommendations and GetPersonalizedRanking (personalize-runtime).

Each request reads the user's events from the in-memory history index, which the event
writer updates as events commit, so an event recorded a moment ago already shapes the answer
(seen items are excluded; recipes fold the new history into the user's representation).
Scores are a softmax over the catalogue's finite scores, as Personalize reports them.

Every answer gets a `recommendationId` and is logged (campaign, user, items shown), so later
events that carry the id count as impressions of what was shown and attribute to the campaign.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.errors import InvalidInputException
from engine.idmap import IdMap
from engine.operations import operation
from engine.recipes.base import History, RecipeNotApplicable, top_n
from engine.serving import exploration
from engine.serving.campaigns import CampaignOps
from engine.serving.exploration import ItemFacts
from engine.serving.filter_ops import FilterOps
from engine.serving.loaded import LoadedModel, softmax
from engine.store import events as event_sql
from engine.store import serving

RUNTIME = "personalize-runtime"
MAX_RESULTS = 500
MAX_RESULTS_WITH_METADATA = 50
PROMOTED = "Promoted item"
EXPLORATION = "Exploration"


_LOGGING = contextvars.ContextVar("tailor_log_recommendations", default=True)


@contextlib.contextmanager
def unlogged() -> Iterator[None]:
    """Answer without writing the recommendation log (for previews such as the dashboard's
    Compare page, which must not count as impressions in experiments and attribution)."""
    token = _LOGGING.set(False)
    try:
        yield
    finally:
        _LOGGING.reset(token)


def preview(call: Any, **request: Any) -> dict[str, Any]:
    """Call a runtime operation (e.g. `engine.get_recommendations`) without logging it."""
    with unlogged():
        return call(**request)


def _recommendation_id() -> str:
    return f"RID-{uuid.uuid4()}"


class RecommendOps(CampaignOps, FilterOps):
    """The runtime operations of the Engine."""

    _facts: dict[int, tuple[int, ItemFacts]]

    def _history(self, model: LoadedModel, user_id: str | None) -> History:
        if not user_id or model.interactions_dataset is None:
            return History.empty(1)
        return self.history.history(model.group_id, model.interactions_dataset, user_id)

    def item_facts(self, model: LoadedModel) -> ItemFacts:
        """Every item of the campaign's dataset group with its age and interaction count
        (cached until the group's imports, items or users change)."""
        version = self.metadata_version(model.group_id)
        cached = self._facts.get(model.group_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        with self.store.cursor() as cur:
            found = event_sql.item_facts(
                cur,
                model.group_id,
                model.interactions_dataset,
                model.items_dataset,
                model.items_have_created,
            )
        facts = ItemFacts(
            IdMap([str(e) for e in found["external_id"]]),
            found["created"].astype(np.int64),
            found["count"].astype(np.int64),
            int(found["latest"][0]),
        )
        self._facts[model.group_id] = (version, facts)
        return facts

    def _metadata(
        self, model: LoadedModel, columns: dict[str, list[str]] | None, item_ids: list[str]
    ) -> dict[str, dict[str, str]]:
        if not columns:
            return {}
        wanted = columns.get("ITEMS") or []
        if model.items_dataset is None:
            raise InvalidInputException("metadataColumns: the dataset group has no Items dataset")
        with self.store.cursor() as cur:
            return serving.item_metadata(cur, model.items_dataset, wanted, item_ids)

    @operation("GetRecommendations", service=RUNTIME)
    def get_recommendations(
        self,
        *,
        campaignArn: str | None = None,
        itemId: str | None = None,
        userId: str | None = None,
        numResults: int | None = None,
        context: dict[str, str] | None = None,
        filterArn: str | None = None,
        filterValues: dict[str, str] | None = None,
        recommenderArn: str | None = None,
        promotions: list[dict[str, Any]] | None = None,
        metadataColumns: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """Recommendations for a user (userId) or related items (itemId) from a campaign,
        with cold-item exploration (User-Personalization) and at most one promotion."""
        if recommenderArn:
            raise InvalidInputException(
                "recommenderArn: recommenders are not supported yet; use a campaign"
            )
        if not campaignArn:
            raise InvalidInputException("campaignArn is required")
        variant = None
        if ":experiment/" in campaignArn:  # an A/B test: answer from the user's variant
            campaignArn, variant = self.experiment_route(campaignArn, userId)
        n = 25 if numResults is None else numResults
        limit = MAX_RESULTS_WITH_METADATA if metadataColumns else MAX_RESULTS
        if not 1 <= n <= limit:
            raise InvalidInputException(f"numResults {n} must be from 1 to {limit}")
        promotion = self._promotion(promotions)
        model = self.campaign_model(campaignArn)
        rid = _recommendation_id()
        if model.recipe.recipe_type == "RELATED_ITEMS":
            if not itemId:
                raise InvalidInputException(
                    f"itemId is required: {model.recipe.recipe_arn} recommends related items"
                )
            raw, seen = self._related_scores(model, itemId)
            facts, weight, cutoff = None, 0.0, 0.0
        else:
            if model.recipe.recipe_type == "USER_PERSONALIZATION" and not userId:
                raise InvalidInputException("userId is required for this campaign's recipe")
            raw, seen = self._user_scores(model, userId, context)
            weight, cutoff = model.exploration or (0.0, 0.0)
            facts = self.item_facts(model) if weight > 0 else None
        universe = len(facts) if facts is not None else len(raw)
        candidates = np.ones(universe, bool)
        candidates[seen[seen < universe]] = False
        allow = self._allowed(model, filterArn, filterValues, userId, itemId, universe)
        if allow is not None:
            candidates &= allow
        fresh = facts.freshness(cutoff) if facts is not None else None
        relevance = np.full(universe, -np.inf)
        relevance[: min(len(raw), universe)] = raw[:universe]
        promoted: list[int] = []
        if promotion is not None:
            mask = self._allowed(
                model,
                promotion["filterArn"],
                promotion.get("filterValues"),
                userId,
                itemId,
                universe,
            ).copy()
            mask[seen[seen < universe]] = False
            k = exploration.promoted_count(n, promotion["percentPromotedItems"])
            promoted = self._best(relevance, mask, k)
            candidates[promoted] = False
        places = n - len(promoted)
        explore_n = exploration.exploration_slots(places, weight) if fresh is not None else 0
        chosen = self._best(relevance, candidates, places - explore_n)
        explored: list[int] = []
        if explore_n:
            pool = candidates & (fresh > 0)
            pool[chosen] = False
            scores = exploration.exploration_scores(raw, pool, fresh, weight)
            explored = self._best(scores, pool, explore_n)
            if len(explored) < explore_n:  # too few cold items: relevance fills the rest
                rest = candidates.copy()
                rest[chosen + explored] = False
                chosen += self._best(relevance, rest, explore_n - len(explored))
            total = len(chosen) + len(explored)
            chosen = exploration.interleave(
                chosen, explored, exploration.spread_positions(total, len(explored))
            )
        if promoted:
            total = len(chosen) + len(promoted)
            chosen = exploration.interleave(
                chosen, promoted, exploration.promotion_positions(total, len(promoted), rid)
            )
        shown = candidates[: len(raw)].copy()
        shown[[p for p in promoted if p < len(raw)]] = True
        probabilities = softmax(np.where(shown, raw, -np.inf))
        id_map = facts.items if facts is not None else model.items
        external = id_map.external(chosen)
        metadata = self._metadata(model, metadataColumns, external)
        promoted_set, explored_set = set(promoted), set(explored)
        item_list = []
        for dense, item_id in zip(chosen, external, strict=True):
            entry: dict[str, Any] = {"itemId": item_id}
            if dense < len(raw) and np.isfinite(raw[dense]):
                entry["score"] = round(float(probabilities[dense]), 7)
            if dense in promoted_set:
                entry["promotionName"] = promotion["name"]
                entry["reason"] = [PROMOTED]
            elif dense in explored_set:
                entry["reason"] = [EXPLORATION]
            if metadataColumns:
                entry["metadata"] = metadata.get(item_id, {})
            item_list.append(entry)
        if _LOGGING.get():
            self.log_recommendation(
                rid, campaignArn, model.group_id, userId, itemId, external, time.time(), variant
            )
        return {"itemList": item_list, "recommendationId": rid}

    @staticmethod
    def _promotion(promotions: list[dict[str, Any]] | None) -> dict[str, Any] | None:
        if not promotions:
            return None
        promotion = promotions[0]
        for key in ("name", "percentPromotedItems", "filterArn"):
            if not promotion.get(key):
                raise InvalidInputException(f"promotions[0].{key} is required")
        return promotion

    @staticmethod
    def _best(scores: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
        """The `k` best allowed items by `scores` (fewer if fewer have a finite score)."""
        if k <= 0:
            return []
        ids, _ = top_n(np.where(allowed, scores, -np.inf)[None, :], k)
        return [int(i) for i in ids[0] if i >= 0]

    def _allowed(
        self,
        model: LoadedModel,
        filter_arn: str | None,
        filter_values: dict[str, str] | None,
        user_id: str | None,
        item_id: str | None,
        n_items: int,
    ) -> np.ndarray | None:
        """The filter's item mask for this request (None: no filter)."""
        if not filter_arn:
            return None
        return self.filter_mask(
            filter_arn,
            model.group_id,
            model.group_arn,
            n_items,
            user_id,
            item_id,
            filter_values,
        )

    def _user_scores(
        self, model: LoadedModel, user_id: str | None, context: dict[str, str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The recipe's scores for every item it knows, and the items the user has seen."""
        dense = model.users.dense(user_id) if user_id else None
        users = np.array([dense if dense is not None else len(model.users) + 1])
        history = self._history(model, user_id)
        if user_id and (dense is None or dense >= model.recipe.n_users):
            history.profiles = [self._profile(model, user_id)]
        scores = model.recipe.score_all(users, history, context)[0].astype(np.float64)
        return scores, history.items[0]

    def _profile(self, model: LoadedModel, user_id: str) -> dict[str, Any] | None:
        """What the Users dataset says about a user the model has not seen (e.g. one added
        by PutUsers after training), so popular items can be shaped by it."""
        if model.users_dataset is None or not model.user_fields:
            return None
        with self.store.cursor() as cur:
            return serving.entity_row(
                cur, model.users_dataset, "USER_ID", user_id, list(model.user_fields)
            )

    def _related_scores(self, model: LoadedModel, item_id: str) -> tuple[np.ndarray, np.ndarray]:
        dense = model.items.dense(item_id)
        item = np.array([dense if dense is not None else len(model.items) + 1])
        try:
            scores = model.recipe.similar_scores(item)[0].astype(np.float64)
        except RecipeNotApplicable as exc:
            raise InvalidInputException(str(exc)) from None
        seen = np.array([dense] if dense is not None else [], np.int64)
        return scores, seen

    @operation("GetPersonalizedRanking", service=RUNTIME)
    def get_personalized_ranking(
        self,
        *,
        campaignArn: str,
        inputList: list[str],
        userId: str,
        context: dict[str, str] | None = None,
        filterArn: str | None = None,
        filterValues: dict[str, str] | None = None,
        metadataColumns: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """`inputList` re-ranked for the user; items the model does not know come last,
        unscored, in their input order."""
        limit = MAX_RESULTS_WITH_METADATA if metadataColumns else MAX_RESULTS
        if len(inputList) > limit:
            raise InvalidInputException(
                f"inputList has {len(inputList)} items; at most {limit} are allowed"
            )
        model = self.campaign_model(campaignArn)
        dense = model.users.dense(userId)
        history = self._history(model, userId)
        user = dense if dense is not None else len(model.users) + 1
        items = model.items.dense_many(inputList)
        raw = model.recipe.score(user, history, np.where(items >= 0, items, 10**9), context)
        allow = self._allowed(model, filterArn, filterValues, userId, None, model.recipe.n_items)
        if allow is not None:  # filtered-out items leave the ranking
            keep = [i for i, d in enumerate(items) if d < 0 or d >= len(allow) or allow[d]]
            inputList = [inputList[i] for i in keep]
            items, raw = items[keep], raw[keep]
        known = [i for i in range(len(inputList)) if np.isfinite(raw[i])]
        known.sort(key=lambda i: -raw[i])
        probabilities = softmax(raw[known]) if known else np.zeros(0)
        metadata = self._metadata(model, metadataColumns, list(inputList))
        ranking: list[dict[str, Any]] = []
        for rank, i in enumerate(known):
            ranking.append({"itemId": inputList[i], "score": round(float(probabilities[rank]), 7)})
        seen = set(known)
        ranking += [{"itemId": inputList[i]} for i in range(len(inputList)) if i not in seen]
        if metadataColumns:
            for entry in ranking:
                entry["metadata"] = metadata.get(entry["itemId"], {})
        rid = _recommendation_id()
        if _LOGGING.get():
            self.log_recommendation(
                rid,
                campaignArn,
                model.group_id,
                userId,
                None,
                [e["itemId"] for e in ranking],
                time.time(),
            )
        return {"personalizedRanking": ranking, "recommendationId": rid}

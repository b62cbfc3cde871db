"""Real-time answers: GetRecommendations and GetPersonalizedRanking (personalize-runtime).

Each request reads the user's latest events from the store, so an event recorded a moment
ago already shapes the answer (seen items are excluded; order-aware recipes read it). Scores
are a softmax over the catalogue's finite scores, as Personalize reports them.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from engine.errors import InvalidInputException
from engine.operations import operation
from engine.recipes.base import History, RecipeNotApplicable, top_n
from engine.serving.campaigns import CampaignOps
from engine.serving.filter_ops import FilterOps
from engine.serving.loaded import LoadedModel, softmax
from engine.store import serving

RUNTIME = "personalize-runtime"
MAX_RESULTS = 500
MAX_RESULTS_WITH_METADATA = 50


def _recommendation_id() -> str:
    return f"RID-{uuid.uuid4()}"


class RecommendOps(CampaignOps, FilterOps):
    """The runtime operations of the Engine."""

    def _history(self, model: LoadedModel, user_id: str | None) -> History:
        if not user_id or model.interactions_dataset is None:
            return History.empty(1)
        with self.store.cursor() as cur:
            items, times = serving.user_history(
                cur, model.group_id, model.interactions_dataset, user_id
            )
        return History([items], [times], None)

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
        """Recommendations for a user (userId) or related items (itemId) from a campaign."""
        if recommenderArn:
            raise InvalidInputException(
                "recommenderArn: recommenders are not supported yet; use a campaign"
            )
        if not campaignArn:
            raise InvalidInputException("campaignArn is required")
        if promotions:
            raise InvalidInputException("promotions are not supported by Tailor yet")
        n = 25 if numResults is None else numResults
        limit = MAX_RESULTS_WITH_METADATA if metadataColumns else MAX_RESULTS
        if not 1 <= n <= limit:
            raise InvalidInputException(f"numResults {n} must be from 1 to {limit}")
        model = self.campaign_model(campaignArn)
        if model.recipe.recipe_type == "RELATED_ITEMS":
            if not itemId:
                raise InvalidInputException(
                    f"itemId is required: {model.recipe.recipe_arn} recommends related items"
                )
            allow = self._allowed(model, campaignArn, filterArn, filterValues, userId, itemId)
            ids, scores = self._related(model, itemId, n, allow)
        else:
            if model.recipe.recipe_type == "USER_PERSONALIZATION" and not userId:
                raise InvalidInputException("userId is required for this campaign's recipe")
            allow = self._allowed(model, campaignArn, filterArn, filterValues, userId, itemId)
            ids, scores = self._for_user(model, userId, n, context, allow)
        external = model.items.external(ids)
        metadata = self._metadata(model, metadataColumns, external)
        item_list = []
        for item_id, score in zip(external, scores, strict=True):
            entry: dict[str, Any] = {"itemId": item_id, "score": round(float(score), 7)}
            if metadataColumns:
                entry["metadata"] = metadata.get(item_id, {})
            item_list.append(entry)
        return {"itemList": item_list, "recommendationId": _recommendation_id()}

    def _allowed(
        self,
        model: LoadedModel,
        campaign_arn: str,
        filter_arn: str | None,
        filter_values: dict[str, str] | None,
        user_id: str | None,
        item_id: str | None,
    ) -> np.ndarray | None:
        """The filter's item mask for this request (None: no filter)."""
        if not filter_arn:
            return None
        group_arn = self.catalog.require(campaign_arn, "campaign").spec["datasetGroupArn"]
        return self.filter_mask(
            filter_arn,
            model.group_id,
            group_arn,
            model.recipe.n_items,
            user_id,
            item_id,
            filter_values,
        )

    def _for_user(
        self,
        model: LoadedModel,
        user_id: str | None,
        n: int,
        context: dict[str, str] | None,
        allow: np.ndarray | None = None,
    ) -> tuple[list[int], np.ndarray]:
        dense = model.users.dense(user_id) if user_id else None
        users = np.array([dense if dense is not None else len(model.users) + 1])
        history = self._history(model, user_id)
        scores = model.recipe.score_all(users, history, context)[0].astype(np.float64)
        seen = history.items[0]
        scores[seen[seen < len(scores)]] = -np.inf
        if allow is not None:
            scores[~allow[: len(scores)]] = -np.inf
        probabilities = softmax(scores)
        ids, _ = top_n(scores[None, :], n)
        chosen = [int(i) for i in ids[0] if i >= 0]
        return chosen, probabilities[chosen]

    def _related(
        self, model: LoadedModel, item_id: str, n: int, allow: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray]:
        dense = model.items.dense(item_id)
        item = np.array([dense if dense is not None else len(model.items) + 1])
        try:
            scores = model.recipe.similar_scores(item)[0].astype(np.float64)
        except RecipeNotApplicable as exc:
            raise InvalidInputException(str(exc)) from None
        if dense is not None and dense < len(scores):
            scores[dense] = -np.inf
        if allow is not None:
            scores[~allow[: len(scores)]] = -np.inf
        probabilities = softmax(scores)
        ids, _ = top_n(scores[None, :], n)
        chosen = [int(i) for i in ids[0] if i >= 0]
        return chosen, probabilities[chosen]

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
        allow = self._allowed(model, campaignArn, filterArn, filterValues, userId, None)
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
        return {"personalizedRanking": ranking, "recommendationId": _recommendation_id()}

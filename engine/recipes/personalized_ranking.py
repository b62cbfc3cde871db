"""aws-personalized-ranking: re-rank a given list of items for one user.

The model is User-Personalization's hybrid LightFM model (identities, metadata, context,
real-time history); only the use differs: `GetPersonalizedRanking` sends an input list and gets
it back in the user's order. Items the model has never seen keep no score (NaN) and go last, in
their input order, as Personalize does. Exploration does not apply, so its settings are absent.
"""

from __future__ import annotations

import numpy as np

from engine.recipes.base import History
from engine.recipes.user_personalization import FactorConfig, UserPersonalization


class PersonalizedRanking(UserPersonalization):
    """The User-Personalization model, used to order a caller's list of items."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-personalized-ranking"
    recipe_type = "PERSONALIZED_RANKING"
    description = (
        "Re-ranks a given list of items for a user with the hybrid LightFM model "
        "(interactions, metadata, context, real-time history); unknown items go last."
    )
    Config = FactorConfig

    def rank(
        self,
        user: int,
        history: History,
        items: np.ndarray,
        context: dict[str, str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`items` best first: (ordered ids, their scores). Scored items come first by
        decreasing score (ties keep the input order); unknown items follow with NaN scores,
        in their input order."""
        items = np.asarray(items)
        scores = self.score(user, history, items, context)
        known = np.flatnonzero(~np.isnan(scores))
        unknown = np.flatnonzero(np.isnan(scores))
        order = np.concatenate([known[np.argsort(-scores[known], kind="stable")], unknown])
        return items[order], scores[order]

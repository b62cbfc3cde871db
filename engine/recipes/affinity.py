"""aws-item-affinity and aws-item-attribute-affinity: user segments from implicit-feedback ALS.

Both recipes are tailor-als (`engine.recipes.als`) with defaults tuned for 0/1 feedback
(alpha 10, regularization 0.1) and a different question: for a set of items, which users are
most likely to interact? The affinity of a user for a set is the mean predicted preference
over the set (the user's trained factors dotted with the set's mean item factors), so one
matrix product scores every known user for every set. Item-Affinity passes one item per set;
Item-Attribute-Affinity the items matching an attribute query (the caller resolves the query
to item ids). Items the model has not seen are ignored; a set with none it knows gives an
empty segment (-inf for everyone). Recommendations come from the same model, as tailor-als.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from engine.recipes.als import Config as AlsConfig
from engine.recipes.als import ImplicitAls


class Config(AlsConfig):
    """tailor-als's hyperparameters with defaults for segments from 0/1 feedback."""

    regularization: float = Field(
        0.1, ge=0.0, le=1000.0, description="L2 penalty on user and item factors."
    )
    alpha: float = Field(
        10.0, gt=0.0, le=10000.0, description="Confidence of an observed pair per unit of weight."
    )


class ItemAffinity(ImplicitAls):
    """Users most likely to interact with each given item (one segment per item)."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-item-affinity"
    recipe_type = "USER_SEGMENTATION"
    description = (
        "User segments: the users most likely to interact with each item, from an "
        "implicit-feedback ALS factor model."
    )
    Config = Config

    def segment_scores(self, item_sets: list[np.ndarray]) -> np.ndarray:
        """Each known user's mean predicted preference over each set's known items."""
        means = np.zeros((len(item_sets), self.item_factors.shape[1]), np.float32)
        empty = np.zeros(len(item_sets), bool)
        for s, items in enumerate(item_sets):
            items = np.asarray(items, np.int64)
            items = np.unique(items[(items >= 0) & (items < self.n_items)])
            if len(items):
                means[s] = self.item_factors[items].mean(axis=0)
            else:
                empty[s] = True
        scores = means @ self.user_factors.T
        scores[empty] = -np.inf
        return scores.astype(np.float32)


class ItemAttributeAffinity(ItemAffinity):
    """Users most likely to interact with items matching an attribute query (one segment per
    query; the caller passes the matching item ids)."""

    recipe_arn = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"
    recipe_type = "USER_SEGMENTATION"
    description = (
        "User segments: the users with the highest mean affinity to the items matching an "
        "attribute query (e.g. GENRE = comedy), from an implicit-feedback ALS factor model."
    )

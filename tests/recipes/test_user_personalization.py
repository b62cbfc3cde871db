"""aws-user-personalization under the recipe contract, plus context, real-time history and
hyperparameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.recipes.base import History, TrainingStopped
from engine.recipes.user_personalization import UserPersonalization
from tests.recipes.contract import N_ITEMS, N_USERS, RecipeContract

FAST = {"no_components": 16, "epochs": 20}
NEW_USER = np.array([N_USERS + 1])


def top(model, users, history, n=10, context=None):
    ids, _ = model.recommend(np.asarray(users), history, n=n, context=context)
    return ids[0]


class TestUserPersonalization(RecipeContract):
    recipe = UserPersonalization
    hyperparameters = FAST

    def test_context_flips_the_ranking_of_a_new_user(self, model):
        mobile = top(model, NEW_USER, History.empty(1), context={"DEVICE": "mobile"})
        desktop = top(model, NEW_USER, History.empty(1), context={"DEVICE": "desktop"})
        assert np.mean(mobile < 15) > 0.7, mobile  # even users (mobile) like items 0-14
        assert np.mean(desktop >= 15) > 0.7, desktop

    def test_context_moves_a_known_user(self, model):
        """User 1 is an odd (desktop) user: on mobile, items 0-14 gain on items 15-29."""
        history = History.empty(1)
        desktop = model.score_all(np.array([1]), history, {"DEVICE": "desktop"})[0]
        mobile = model.score_all(np.array([1]), history, {"DEVICE": "mobile"})[0]
        gap = lambda s: s[:15].mean() - s[15:].mean()  # noqa: E731
        assert gap(mobile) > gap(desktop)

    def test_unknown_context_is_ignored(self, model, data):
        users = np.arange(4)
        history = data.interactions.history(users)
        plain = model.score_all(users, history)
        odd = model.score_all(users, history, {"DEVICE": "tablet", "NO_SUCH_FIELD": "x"})
        np.testing.assert_array_equal(plain, odd)

    def test_new_event_changes_recommendations_without_refitting(self, model, data):
        user = np.array([0])  # an even user: likes items 0-14
        history = data.interactions.history(user)
        before = top(model, user, history)
        events = np.array([15, 16, 17, 18, 19, 20, 21, 22], np.int32)
        after_history = History([np.concatenate([history.items[0], events])])
        after = top(model, user, after_history)
        assert not np.array_equal(before, after)
        # the odd items (15-29) gain on the even ones; compared on scores, because the new
        # events also remove 8 odd items from what can be recommended
        gap = lambda s: s[15:].mean() - s[:15].mean()  # noqa: E731
        assert gap(model.score_all(user, after_history)[0]) > gap(model.score_all(user, history)[0])

    def test_new_user_follows_history(self, model):
        odd = top(model, NEW_USER, History([np.array([16, 17, 18], np.int32)]))
        even = top(model, NEW_USER, History([np.array([1, 2, 3], np.int32)]))
        assert np.mean(odd >= 15) > 0.7, odd
        assert np.mean(even < 15) > 0.7, even

    def test_items_newer_than_the_model_are_ignored_in_history(self, model):
        with_new = History([np.array([16, 17, N_ITEMS + 4], np.int32)])
        without = History([np.array([16, 17], np.int32)])
        np.testing.assert_array_equal(
            model.score_all(NEW_USER, with_new), model.score_all(NEW_USER, without)
        )

    def test_a_new_user_with_nothing_gets_item_biases(self, model):
        scores = model.score_all(NEW_USER, History.empty(1))[0]
        np.testing.assert_allclose(scores, model.item_bias, rtol=1e-6)

    def test_save_load_keeps_context_and_history_scores(self, model, data, tmp_path):
        model.save(tmp_path / "m")
        again = UserPersonalization.load(tmp_path / "m")
        users = np.array([0, 1, N_USERS + 2])
        history = data.interactions.history(np.array([0, 1, 3]))
        for context in (None, {"DEVICE": "mobile"}):
            np.testing.assert_array_equal(
                model.score_all(users, history, context), again.score_all(users, history, context)
            )

    def test_progress_is_reported_per_epoch(self, data):
        calls = []
        UserPersonalization(no_components=4, epochs=3).fit(data, lambda f, m: calls.append(f))
        assert calls == pytest.approx([1 / 3, 2 / 3, 1.0])

    def test_training_can_be_stopped(self, data):
        def stop(fraction, message):
            raise TrainingStopped

        with pytest.raises(TrainingStopped):
            UserPersonalization(no_components=4, epochs=3).fit(data, stop)

    def test_personalize_names_and_strings_are_accepted(self):
        recipe = UserPersonalization(hidden_dimension="8", exploration_weight="0.5")
        assert recipe.config.no_components == 8
        assert recipe.config.exploration_weight == 0.5

    def test_exploration_settings_are_described_and_bounded(self):
        described = {h["name"]: h for h in UserPersonalization.describe_hyperparameters()}
        assert described["exploration_weight"]["default"] == 0.3
        assert described["exploration_item_age_cut_off"]["default"] == 30
        assert described["loss"]["choices"] == ["warp", "bpr"]
        with pytest.raises(ValueError):
            UserPersonalization(exploration_weight=1.5)

"""tailor-sequence under the recipe contract, plus tests that fail if the order of the history
(or its timing) is ignored."""

import numpy as np
import pytest

from engine.recipes.base import History, Interactions, TrainingData
from engine.recipes.sequence import SIGNALS, SequenceAware, encode, holdout_mask
from tests.recipes.contract import RecipeContract

FAST = {"candidates": 20, "context_length": 4, "horizon": 4, "ease_lambda": 10.0}


class TestSequenceAware(RecipeContract):
    recipe = SequenceAware
    hyperparameters = {**FAST, "stack_min_positives": 1}
    related_items = True

    def test_the_reranker_was_stacked(self, model):
        assert model.coef.shape == (2 * len(SIGNALS) + 4,)  # features + intercept
        assert not np.allclose(model.coef[len(SIGNALS) :], 0.0)  # learned, not the fixed blend

    def test_cold_user_gets_popular_items(self, model):
        ids, _ = model.recommend(np.array([999]), History.empty(1), n=1)
        assert ids[0, 0] == np.argmax(model.parts.log_popularity)

    def test_unknown_items_in_history_are_ignored(self, model, data):
        history = data.interactions.history(np.array([4]))
        with_new = History(
            [np.append(history.items[0], 10_000)], [np.append(history.timestamps[0], 2e9)]
        )
        a = model.score_all(np.array([4]), history)
        b = model.score_all(np.array([4]), with_new)
        np.testing.assert_allclose(a, b)

    def test_history_without_timestamps(self, model, data):
        history = data.interactions.history(np.arange(3))
        ids, _ = model.recommend(np.arange(3), History(history.items), n=5)
        assert (ids >= 0).all()


class TestFixedBlend(RecipeContract):
    """The same recipe without stacking (the fixed `prior_*` blend)."""

    recipe = SequenceAware
    hyperparameters = {**FAST, "stacking": False}
    related_items = True

    def test_coefficients_are_the_prior_blend(self, model):
        assert np.allclose(model.coef[len(SIGNALS) :], 0.0)


def chain_data(
    n_items: int = 12, n_users: int = 80, length: int = 8, both_ways: bool = False
) -> TrainingData:
    """Every user walks the chain k -> k+1 -> ... from a random start (wrapping around), one
    step a day, so item k is always followed by item k+1; with `both_ways`, every other user
    walks it backwards (k -> k-1), so that only the order tells the direction."""
    rng = np.random.default_rng(3)
    users, items, times = [], [], []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        direction = -1 if both_ways and u % 2 else 1
        for step in range(length):
            users.append(u)
            items.append((start + direction * step) % n_items)
            times.append(1_700_000_000 + u * 10_000_000 + step * 86_400)
    inter = Interactions(np.array(users), np.array(items), np.array(times), n_users, n_items)
    return TrainingData(inter)


@pytest.fixture(scope="module", params=[True, False], ids=["stacked", "fixed"])
def chain_model(request) -> SequenceAware:
    return SequenceAware(**FAST, stacking=request.param, stack_min_positives=1).fit(chain_data())


def one(items, start=1_800_000_000, step=86_400) -> History:
    items = np.asarray(items, np.int32)
    return History([items], [start + step * np.arange(len(items), dtype=np.int64)])


@pytest.mark.parametrize("last", [0, 3, 7, 11])
def test_next_in_chain_comes_first(chain_model, last):
    """After ... k-1, k the model recommends k+1 first."""
    ids, _ = chain_model.recommend(np.array([500]), one([(last - 1) % 12, last]), n=3)
    assert ids[0, 0] == (last + 1) % 12


@pytest.mark.parametrize("stacking", [True, False])
def test_same_items_in_another_order_rank_differently(stacking):
    """Users walk the chain both ways: 10, 11, 12, 13 leads to 14 and 13, 12, 11, 10 to 9."""
    model = SequenceAware(**FAST, stacking=stacking, stack_min_positives=1)
    model.fit(chain_data(n_items=30, n_users=300, both_ways=True))
    forwards, _ = model.recommend(np.array([0]), one([10, 11, 12, 13]), n=5)
    backwards, _ = model.recommend(np.array([0]), one([13, 12, 11, 10]), n=5)
    assert forwards[0, 0] == 14 and backwards[0, 0] == 9
    assert not np.array_equal(forwards, backwards)


def test_a_new_event_changes_the_answer_without_retraining(chain_model):
    before, _ = chain_model.recommend(np.array([0]), one([1, 2]), n=1)
    after, _ = chain_model.recommend(np.array([0]), one([1, 2, 3]), n=1)
    assert before[0, 0] == 3 and after[0, 0] == 4


def test_timing_of_the_sitting_matters():
    """Same items, same order: the `session` signal only sees events close in time."""
    data = chain_data()
    data.interactions.timestamp = data.interactions.timestamp // 1000  # steps of 86 s
    model = SequenceAware(**FAST, stacking=False).fit(data)
    close = model.score_all(np.array([0]), one([0, 6], step=10))
    apart = model.score_all(np.array([0]), one([0, 6], step=86_400))
    assert not np.allclose(close, apart)


def test_holdout_mask_takes_the_newest_tenth():
    user = np.repeat([0, 1, 2], [20, 25, 1])
    inter = Interactions(user, np.arange(46) % 7, np.arange(46), 3, 7)
    held = holdout_mask(inter, 0.1)
    assert held[:20].sum() == 2 and held[18:20].all()
    assert held[20:45].sum() == 2 and held[43:45].all()  # round(2.5) = 2
    assert not held[45]  # a single event always stays


def test_encode_positions_count_from_the_newest():
    enc = encode(History([np.array([4, 5, 6]), np.array([1])], None), 10)
    np.testing.assert_array_equal(enc.position, [2, 1, 0, 0])
    np.testing.assert_array_equal(enc.lengths, [3, 1])
    assert enc.age is None


def test_too_many_items_is_refused_before_allocating():
    users = np.arange(62) // 2
    many = Interactions(users, np.arange(62) % 31, np.arange(62), 31, 31)
    with pytest.raises(ValueError, match="max_items"):
        SequenceAware(max_items=30).fit(TrainingData(many))


def test_rare_items_stay_out_of_the_dense_matrices(tmp_path):
    users = np.repeat(np.arange(6), 3)
    items = np.array([0, 1, 2, 0, 1, 3, 0, 1, 4, 0, 2, 1, 1, 2, 0, 2, 0, 5])
    inter = Interactions(users, items, np.arange(18), 6, 8)
    model = SequenceAware(**FAST, stacking=False, min_item_users=2).fit(TrainingData(inter))
    np.testing.assert_array_equal(model.parts.dense, [0, 1, 2])
    assert model.parts.ease.shape == (3, 3) and model.parts.ridge_inverse.shape == (3, 3)
    scores = model.score_all(np.array([0]), History([np.array([3, 0])], [np.array([1, 2])]))
    assert scores.shape == (1, 8) and np.isfinite(scores).all()
    assert model.similar_scores(np.array([1, 5])).shape == (2, 8)
    model.save(tmp_path / "m")
    again = SequenceAware.load(tmp_path / "m")
    history = History([np.array([3, 0])], [np.array([1, 2])])
    np.testing.assert_allclose(again.score_all(np.array([0]), history), scores)


def test_hyperparameters_have_ranges_and_descriptions():
    for hp in SequenceAware.describe_hyperparameters():
        assert hp["description"], hp["name"]
        if hp["type"] in ("int", "float"):
            assert "ge" in hp or "gt" in hp, hp["name"]


def test_hpo_searches_the_quality_knobs_only():
    from engine.training.hpo import default_space

    names = {p.name for p in default_space(SequenceAware)}
    assert {"ease_lambda", "recency_decay", "ridge_lambda", "session_gap", "candidates"} <= names
    assert not names & {"max_items", "stack_users", "stack_min_positives", "random_state"}

"""engine.training.split follows Personalize's protocol: 10% of users, their newest 10%."""

from __future__ import annotations

import numpy as np
import pytest

from engine.recipes.base import Interactions
from engine.training.split import Split, holdout_split, kfold_splits, truth_size


def random_interactions(seed: int = 0, n_users: int = 300, n_items: int = 80) -> Interactions:
    """Users with 1-60 events at random (often repeated) times, given in shuffled order."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 61, size=n_users)
    counts[:20] = 1  # some users with a single event
    user = np.repeat(np.arange(n_users), counts)
    item = rng.integers(0, n_items, size=len(user))
    time = rng.integers(0, 50, size=len(user)) * 1000  # many equal timestamps
    order = rng.permutation(len(user))
    return Interactions(user[order], item[order], time[order], n_users, n_items)


def events_of(interactions: Interactions, user: int) -> tuple[np.ndarray, np.ndarray]:
    mask = interactions.user == user
    return interactions.item[mask], interactions.timestamp[mask]


def check_split(data: Interactions, split: Split, truth_fraction: float = 0.1) -> None:
    """Truth = round(10%) of the user's events, none older than any input event; input = the
    rest in time order; train = all events but the truth."""
    assert len(split.truth) == len(split.test_users) == len(split.test_history)
    assert np.all(np.diff(split.test_users) > 0)
    held_out = 0
    for k, u in enumerate(split.test_users):
        items, times = events_of(data, u)
        n = len(items)
        size = max(1, round(truth_fraction * n))
        assert n >= 2
        assert len(split.truth[k]) == size
        history_items = split.test_history.items[k]
        history_times = split.test_history.timestamps[k]
        assert np.all(np.diff(history_times) >= 0)  # chronological
        # input + truth are exactly the user's events; the truth holds the newest ones
        events = sorted(zip(items.tolist(), times.tolist(), strict=True))
        inputs = sorted(zip(history_items.tolist(), history_times.tolist(), strict=True))
        rest = list(events)
        for pair in inputs:
            rest.remove(pair)
        assert sorted(i for i, _ in rest) == sorted(split.truth[k].tolist())
        assert max(history_times) <= min(t for _, t in rest)
        assert np.sort(times)[n - size] == min(t for _, t in rest)
        train_items, train_times = events_of(split.train, u)
        np.testing.assert_array_equal(train_items, history_items)
        np.testing.assert_array_equal(train_times, history_times)
        held_out += size
    assert len(split.train) == len(data) - held_out
    for u in np.setdiff1d(np.arange(data.n_users), split.test_users)[:50]:
        np.testing.assert_array_equal(events_of(split.train, u)[0], events_of(data, u)[0])


def test_holdout_takes_ten_percent_of_eligible_users() -> None:
    data = random_interactions()
    split = holdout_split(data, seed=1)
    eligible = np.flatnonzero(np.bincount(data.user, minlength=data.n_users) >= 2)
    assert len(split.test_users) == round(0.1 * len(eligible))
    assert np.isin(split.test_users, eligible).all()
    check_split(data, split)


def test_other_fractions() -> None:
    data = random_interactions(seed=4)
    split = holdout_split(data, test_fraction=0.3, truth_fraction=0.25, seed=2)
    eligible = np.count_nonzero(np.bincount(data.user, minlength=data.n_users) >= 2)
    assert len(split.test_users) == round(0.3 * eligible)
    check_split(data, split, truth_fraction=0.25)


def test_truth_size_rounds_like_python_and_keeps_one_input_event() -> None:
    n = np.array([0, 1, 2, 4, 5, 14, 15, 25, 35, 45, 64, 65, 66])
    expected = [0, 0, 1, 1, 1, 1, 2, 2, 4, 4, 6, 6, 7]
    assert truth_size(n).tolist() == expected
    assert truth_size(np.array([2, 3]), truth_fraction=0.9).tolist() == [1, 2]


def test_users_with_one_event_are_never_test_users() -> None:
    data = random_interactions()
    singles = np.flatnonzero(np.bincount(data.user, minlength=data.n_users) == 1)
    assert len(singles) >= 20
    for seed in range(5):
        assert not np.isin(holdout_split(data, seed=seed).test_users, singles).any()
    folds = list(kfold_splits(data, folds=7))
    assert not np.isin(np.concatenate([f.test_users for f in folds]), singles).any()


def test_seeded_determinism() -> None:
    data = random_interactions()
    a, b = holdout_split(data, seed=5), holdout_split(data, seed=5)
    np.testing.assert_array_equal(a.test_users, b.test_users)
    assert all(np.array_equal(x, y) for x, y in zip(a.truth, b.truth, strict=True))
    assert not np.array_equal(a.test_users, holdout_split(data, seed=6).test_users)
    first = [f.test_users for f in kfold_splits(data, folds=4, seed=9)]
    second = [f.test_users for f in kfold_splits(data, folds=4, seed=9)]
    assert all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))


def test_kfold_test_users_partition_the_eligible_users() -> None:
    data = random_interactions(seed=2)
    eligible = np.flatnonzero(np.bincount(data.user, minlength=data.n_users) >= 2)
    folds = list(kfold_splits(data, folds=10, seed=3))
    assert len(folds) == 10
    users = np.concatenate([f.test_users for f in folds])
    assert len(users) == len(np.unique(users))  # disjoint
    np.testing.assert_array_equal(np.sort(users), eligible)  # covering
    sizes = [len(f.test_users) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for fold in folds[:3]:
        check_split(data, fold)


def tied_interactions() -> Interactions:
    """User 0: items 0-4 at t=1 then items 5-9 at t=2; user 1: two events. Truth size 1."""
    user = np.r_[np.zeros(10, int), 1, 1]
    item = np.r_[np.arange(10), 0, 1]
    time = np.r_[np.full(5, 1), np.full(5, 2), 0, 1]
    return Interactions(user, item, time, 2, 10)


def test_equal_timestamps_get_a_seeded_order_that_ignores_the_stored_order() -> None:
    data = tied_interactions()
    truth = next(kfold_splits(data, folds=1)).truth[0]
    assert len(truth) == 1 and 5 <= truth[0] <= 9  # one of the newest events
    reversed_rows = np.arange(len(data))[::-1]
    reloaded = Interactions(
        data.user[reversed_rows], data.item[reversed_rows], data.timestamp[reversed_rows], 2, 10
    )
    assert next(kfold_splits(reloaded, folds=1)).truth[0].tolist() == truth.tolist()
    picked = {next(kfold_splits(data, folds=1, seed=s)).truth[0][0] for s in range(40)}
    assert picked == {5, 6, 7, 8, 9}  # every tied newest event can be the truth


def test_random_ties_follow_the_protocol_on_many_ties() -> None:
    data = random_interactions(seed=8)
    check_split(data, holdout_split(data, seed=2, ties="random"))
    stored = holdout_split(data, seed=2, ties="stored")
    check_split(data, stored)


def test_stored_ties_keep_the_stored_order() -> None:
    data = random_interactions(seed=5)
    split = holdout_split(data, seed=1, ties="stored")
    for k, u in enumerate(split.test_users):
        items, _ = events_of(data, u)
        size = len(split.truth[k])
        np.testing.assert_array_equal(split.truth[k], items[len(items) - size :])
        np.testing.assert_array_equal(split.test_history.items[k], items[: len(items) - size])
    assert next(kfold_splits(tied_interactions(), folds=1, ties="stored")).truth[0].tolist() == [9]


def test_ties_to_truth_or_input_move_the_whole_boundary_run() -> None:
    data = tied_interactions()
    as_truth = next(kfold_splits(data, folds=1, ties="truth"))
    assert as_truth.truth[0].tolist() == [5, 6, 7, 8, 9]
    assert as_truth.test_history.items[0].tolist() == [0, 1, 2, 3, 4]
    assert len(as_truth.train) == len(data) - 5 - 1
    as_input = next(kfold_splits(data, folds=1, ties="input"))
    assert len(as_input.truth[0]) == 1  # one truth event is always kept
    with pytest.raises(ValueError, match="ties must be"):
        next(kfold_splits(data, folds=1, ties="newest"))


def test_rejects_impossible_requests() -> None:
    data = Interactions(np.array([0, 1]), np.array([0, 1]), np.array([1, 2]), 2, 2)
    with pytest.raises(ValueError, match="at least 2 events"):
        holdout_split(data)
    data = random_interactions()
    with pytest.raises(ValueError, match="folds must be between"):
        next(kfold_splits(data, folds=10_000))

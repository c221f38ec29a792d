"""Tests of tripletrec.data.split: partitions, known answers, seeds, errors."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec import Interactions
from tripletrec.data import cold_start_items, cold_start_users, leave_k_out, random_split, temporal_split


def records(data):
    """Set of (user, item, weight, timestamp) tuples of the stored pairs."""
    users, items, weights = data.to_coo()
    stamps = data.timestamps if data.timestamps is not None else np.full(len(data), -1)
    return set(zip(users.tolist(), items.tolist(), weights.tolist(), stamps.tolist()))


def pairs(data):
    users, items, _ = data.to_coo()
    return set(zip(users.tolist(), items.tolist()))


def assert_partition(data, train, test):
    assert train.shape == data.shape and test.shape == data.shape
    assert train.user_ids is data.user_ids and test.user_ids is data.user_ids
    assert train.item_ids is data.item_ids and test.item_ids is data.item_ids
    assert not pairs(train) & pairs(test)
    assert len(train) + len(test) == len(data)
    assert records(train) | records(test) == records(data)


@st.composite
def interaction_sets(draw, with_timestamps=True):
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 6))
    cells = draw(st.lists(st.integers(0, n_users * n_items - 1), min_size=0, max_size=n_users * n_items, unique=True))
    cells = np.array(sorted(cells), dtype=np.int64)
    weights = draw(st.lists(st.floats(0.0, 5.0, width=32), min_size=len(cells), max_size=len(cells)))
    timestamps = None
    if with_timestamps:
        # A narrow range, so that ties happen.
        timestamps = draw(st.lists(st.integers(0, 4), min_size=len(cells), max_size=len(cells)))
    return Interactions.from_indices(cells // n_items, cells % n_items, weights, timestamps, shape=(n_users, n_items))


@pytest.fixture
def stamped():
    """Three users: 'a' has 4 pairs, 'b' 2 (two tied at the latest time), 'c' 1."""
    return Interactions.from_arrays(
        ["a", "a", "a", "a", "b", "b", "c"],
        ["x", "y", "z", "w", "x", "y", "z"],
        [1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0],
        [10, 40, 20, 30, 7, 7, 3],
    )


# ------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(
    data=interaction_sets(),
    fraction=st.floats(0.05, 0.95),
    k=st.integers(1, 3),
    min_train=st.integers(0, 2),
    seed=st.integers(0, 2**32),
)
def test_every_split_partitions_the_source(data, fraction, k, min_train, seed):
    splits = [
        random_split(data, fraction, seed=seed),
        leave_k_out(data, k=k, by="random", seed=seed, min_train=min_train),
        leave_k_out(data, k=k, by="time", min_train=min_train),
        temporal_split(data, test_fraction=fraction),
        temporal_split(data, cutoff=2),
        cold_start_items(data, fraction, seed=seed),
    ]
    for train, test in splits:
        assert_partition(data, train, test)


@settings(max_examples=40, deadline=None)
@given(data=interaction_sets(with_timestamps=False), fraction=st.floats(0.05, 0.95), k=st.integers(1, 3))
def test_splits_without_timestamps_partition_the_source(data, fraction, k):
    for train, test in (
        random_split(data, fraction),  # seed=None: fresh entropy
        leave_k_out(data, k=k),
        cold_start_items(data, fraction),
    ):
        assert train.timestamps is None and test.timestamps is None
        assert_partition(data, train, test)


@settings(max_examples=60, deadline=None)
@given(data=interaction_sets(), k=st.integers(1, 3), min_train=st.integers(0, 2))
def test_leave_k_out_by_time_matches_a_loop_reference(data, k, min_train):
    _, test = leave_k_out(data, k=k, by="time", min_train=min_train)
    expected = set()
    for user in range(data.n_users):
        start, end = data.indptr[user], data.indptr[user + 1]
        if end - start < k + min_train:
            continue
        history = sorted(zip(data.timestamps[start:end].tolist(), data.indices[start:end].tolist()))
        expected |= {(user, item) for _, item in history[-k:]}
    assert pairs(test) == expected


@settings(max_examples=60, deadline=None)
@given(data=interaction_sets(), k=st.integers(1, 3), min_train=st.integers(0, 2), seed=st.integers(0, 99))
def test_leave_k_out_random_takes_k_of_each_eligible_user(data, k, min_train, seed):
    train, test = leave_k_out(data, k=k, by="random", seed=seed, min_train=min_train)
    counts = data.user_counts()
    eligible = counts >= k + min_train
    np.testing.assert_array_equal(test.user_counts(), np.where(eligible, k, 0))
    np.testing.assert_array_equal(train.user_counts(), np.where(eligible, counts - k, counts))


@settings(max_examples=60, deadline=None)
@given(data=interaction_sets(), fraction=st.floats(0.05, 0.95))
def test_temporal_split_cuts_time_once(data, fraction):
    train, test = temporal_split(data, test_fraction=fraction)
    if len(train) and len(test):
        assert train.timestamps.max() < test.timestamps.min()
    # At least the asked number of pairs is in test; more only through ties.
    n_test = int(round(fraction * len(data)))
    assert len(test) >= n_test
    if len(test) > n_test:
        assert np.count_nonzero(data.timestamps == test.timestamps.min()) > 1


@settings(max_examples=60, deadline=None)
@given(data=interaction_sets(with_timestamps=False), fraction=st.floats(0.05, 0.95), seed=st.integers(0, 99))
def test_cold_start_items_keeps_test_items_out_of_train(data, fraction, seed):
    train, test = cold_start_items(data, fraction, seed=seed)
    test_items = set(test.indices.tolist())
    assert test_items.isdisjoint(train.indices.tolist())
    # A test item takes all its pairs along.
    counts = data.item_counts()
    np.testing.assert_array_equal(test.item_counts()[list(test_items)], counts[list(test_items)])
    n_active = int(np.count_nonzero(counts))
    if n_active >= 2:
        expected = min(max(int(round(fraction * n_active)), 1), n_active - 1)
        assert len(test_items) == expected


@settings(max_examples=60, deadline=None)
@given(data=interaction_sets(with_timestamps=False), fraction=st.floats(0.05, 0.95), seed=st.integers(0, 99))
def test_cold_start_users_keeps_test_users_out_of_train(data, fraction, seed):
    train, test = cold_start_users(data, fraction, seed=seed)
    test_users = set(test.user_index().tolist())
    assert test_users.isdisjoint(train.user_index().tolist())
    # A test user takes all its pairs along, and the two parts make the whole.
    counts = data.user_counts()
    np.testing.assert_array_equal(test.user_counts()[list(test_users)], counts[list(test_users)])
    assert len(train) + len(test) == len(data)
    n_active = int(np.count_nonzero(counts))
    if n_active >= 2:
        expected = min(max(int(round(fraction * n_active)), 1), n_active - 1)
        assert len(test_users) == expected


# ----------------------------------------------------------- known answers
def external_items(data, user):
    index = data.user_ids.to_index(user)
    return sorted(data.item_ids.to_external(data.item_indices_of(index)).tolist())


def test_leave_one_out_by_time_picks_each_users_latest_item(stamped):
    train, test = leave_k_out(stamped, k=1, by="time")
    assert external_items(test, "a") == ["y"]  # t=40 is a's latest
    assert external_items(test, "b") == ["y"]  # tie at t=7: larger item index (y > x)
    assert external_items(test, "c") == []  # one pair < k + min_train = 2: all train
    assert external_items(train, "a") == ["w", "x", "z"]
    assert external_items(train, "c") == ["z"]


def test_leave_two_out_by_time_and_min_train(stamped):
    _, test = leave_k_out(stamped, k=2, by="time")
    assert external_items(test, "a") == ["w", "y"]  # t=40 and t=30
    assert external_items(test, "b") == []  # 2 pairs < 2 + 1
    _, test = leave_k_out(stamped, k=2, by="time", min_train=0)
    assert external_items(test, "b") == ["x", "y"]
    assert external_items(test, "c") == []  # 1 pair < 2


def test_temporal_split_by_cutoff_by_hand(stamped):
    train, test = temporal_split(stamped, cutoff=20)
    assert sorted(test.timestamps.tolist()) == [20, 30, 40]
    assert sorted(train.timestamps.tolist()) == [3, 7, 7, 10]
    assert test.weights.sum() == pytest.approx(2.0 + 3.0 + 4.0)


def test_temporal_split_by_fraction_by_hand(stamped):
    # 7 pairs, round(0.3 * 7) = 2: the cutoff is the 2nd latest time, 30.
    _, test = temporal_split(stamped, test_fraction=0.3)
    assert sorted(test.timestamps.tolist()) == [30, 40]
    # round(0.6 * 7) = 4 latest would cut inside the tie at 7: both go to test.
    _, test = temporal_split(stamped, test_fraction=0.6)
    assert sorted(test.timestamps.tolist()) == [10, 20, 30, 40]
    _, test = temporal_split(stamped, test_fraction=0.7)
    assert sorted(test.timestamps.tolist()) == [7, 7, 10, 20, 30, 40]


def test_random_split_sends_the_rounded_fraction_to_test():
    data = Interactions.from_scipy(sp.random(30, 20, density=0.3, random_state=1, format="csr"))
    train, test = random_split(data, test_fraction=0.25, seed=3)
    assert len(test) == round(0.25 * len(data))
    assert_partition(data, train, test)


def test_cold_start_items_ignores_items_without_pairs():
    # Items 3..9 have no pair; 2 of the 3 active items (round(0.5 * 3)) go to test.
    data = Interactions.from_indices([0, 1, 1, 2, 2], [0, 0, 1, 1, 2], shape=(3, 10))
    for seed in range(10):
        train, test = cold_start_items(data, test_fraction=0.5, seed=seed)
        test_items = set(test.indices.tolist())
        assert len(test_items) == 2 and test_items <= {0, 1, 2}
        assert set(train.indices.tolist()) == {0, 1, 2} - test_items


# ---------------------------------------------------------- reproducibility
@pytest.fixture(scope="module")
def larger():
    return Interactions.from_scipy(sp.random(60, 40, density=0.2, random_state=7, format="csr"))


SEEDED = {
    "random_split": lambda data, seed: random_split(data, 0.2, seed=seed),
    "leave_k_out": lambda data, seed: leave_k_out(data, k=2, seed=seed),
    "cold_start_items": lambda data, seed: cold_start_items(data, 0.2, seed=seed),
}


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_same_seed_same_split_different_seed_different_split(larger, name):
    split = SEEDED[name]
    first_train, first_test = split(larger, 11)
    again_train, again_test = split(larger, 11)
    assert pairs(first_test) == pairs(again_test) and pairs(first_train) == pairs(again_train)
    other_train, other_test = split(larger, 12)
    assert pairs(other_test) != pairs(first_test)
    from_generator = split(larger, np.random.default_rng(11))[1]
    assert pairs(from_generator) == pairs(first_test)


def test_leave_k_out_by_time_ignores_the_seed(stamped):
    assert pairs(leave_k_out(stamped, by="time", seed=1)[1]) == pairs(leave_k_out(stamped, by="time", seed=2)[1])


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, float("nan"), "0.2", True])
def test_fraction_outside_the_open_unit_interval_is_rejected(stamped, fraction):
    for split in (random_split, cold_start_items):
        with pytest.raises(ValueError, match=r"test_fraction must be a finite number > 0 and < 1, got"):
            split(stamped, fraction)
    with pytest.raises(ValueError, match=r"test_fraction must be a finite number > 0 and < 1, got"):
        temporal_split(stamped, test_fraction=fraction)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_leave_k_out_rejects_k_below_one(stamped, k):
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        leave_k_out(stamped, k=k)


def test_leave_k_out_rejects_negative_min_train(stamped):
    with pytest.raises(ValueError, match="min_train must be an integer >= 0, got -1"):
        leave_k_out(stamped, min_train=-1)


def test_leave_k_out_rejects_unknown_order(stamped):
    with pytest.raises(ValueError, match="by must be one of 'random', 'time'; got 'latest'"):
        leave_k_out(stamped, by="latest")


def test_time_based_splits_need_timestamps():
    data = Interactions.from_indices([0, 0, 1], [0, 1, 1], shape=(2, 2))
    with pytest.raises(ValueError, match=r"leave_k_out\(by='time'\) needs timestamps, but data has none"):
        leave_k_out(data, by="time")
    with pytest.raises(ValueError, match="temporal_split needs timestamps, but data has none"):
        temporal_split(data, cutoff=1)


def test_temporal_split_needs_exactly_one_of_cutoff_and_fraction(stamped):
    for arguments in ({}, {"cutoff": 5, "test_fraction": 0.2}):
        with pytest.raises(ValueError, match="exactly one of cutoff and test_fraction"):
            temporal_split(stamped, **arguments)
    with pytest.raises(ValueError, match="cutoff must be an integer timestamp, got 2.5"):
        temporal_split(stamped, cutoff=2.5)


@pytest.mark.parametrize("not_interactions", [[(0, 1)], sp.eye(3, format="csr"), None])
def test_splits_reject_data_that_is_not_interactions(not_interactions):
    calls = [
        lambda: random_split(not_interactions),
        lambda: leave_k_out(not_interactions),
        lambda: temporal_split(not_interactions, cutoff=1),
        lambda: cold_start_items(not_interactions),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="data must be a tripletrec.Interactions, got"):
            call()


@pytest.mark.parametrize("seed", [-1, 1.5, "seven"])
def test_seed_must_be_an_integer_or_generator(stamped, seed):
    with pytest.raises(ValueError, match="seed must be an integer >= 0 or None, got"):
        random_split(stamped, seed=seed)


@settings(max_examples=40, deadline=None)
@given(
    users=st.lists(st.integers(0, 5), min_size=1, max_size=30).map(sorted),
    data=st.data(),
    offset=st.sampled_from([0, 2**40]),
)
def test_packed_order_matches_lexsort(users, data, offset):
    # offset=2**40 leaves no room to pack: the helper falls back to lexsort.
    from tripletrec.data.split import _order_within_users

    keys = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(users), max_size=len(users))))
    users = np.array(users, dtype=np.int64) + offset
    got = _order_within_users(users, keys, 4 if offset == 0 else 2**32)
    np.testing.assert_array_equal(got, np.lexsort((keys, users)))

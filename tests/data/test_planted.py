"""Tests of the planted synthetic dataset and its sampling kernels."""

import itertools

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import roc_auc_score

from tripletrec import Dataset, PlantedModel
from tripletrec.data import random_split, temporal_split
from tripletrec.data.planted import MAX_DENSITY, synthetic
from tripletrec.kernels.planted_sampling import (
    alias_probabilities,
    build_alias_table,
    exp_nonpositive,
    sample_user_items,
    shuffled_positions,
    splitmix64,
)

MASK_64 = (1 << 64) - 1


# ------------------------------------------------------ reference sampler
def reference_splitmix64(state):
    """SplitMix64 on Python integers (Steele, Lea and Flood, 2014)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK_64
    mixed = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & MASK_64
    mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & MASK_64
    return state, mixed ^ (mixed >> 31)


def reference_stream(seed, stream):
    return reference_splitmix64(seed ^ ((stream * 0x94D049BB133111EB) & MASK_64))[1]


def reference_sample_user_items(
    indptr,
    user_factors,
    item_codes,
    code_step,
    alias_table,
    item_of_rank,
    n_candidates,
    max_proposals,
    seed,
):
    """A plain Python/numpy transcription of the documented sampling rule.

    No pipeline, no stamps, sets instead of marks: it must produce the same
    items as the kernel from the same random streams.
    """
    n_items = len(item_codes)
    items = np.empty(indptr[-1], dtype=np.int32)
    for user in range(len(indptr) - 1):
        proposal_state = reference_stream(seed, 2 * user)
        choice_state = reference_stream(seed, 2 * user + 1)
        taste = user_factors[user] * np.float32(code_step)
        owned = set()
        for out in range(indptr[user], indptr[user + 1]):
            candidates = []
            n_proposed = 0
            while n_proposed < max_proposals and len(candidates) < n_candidates:
                proposal_state, bits = reference_splitmix64(proposal_state)
                bucket = ((bits >> 32) * n_items) >> 32
                entry = int(alias_table[bucket])
                rank = bucket if (bits & 0xFFFFFFFF) < entry % 2**33 else entry // 2**33
                n_proposed += 1
                if rank not in owned and rank not in candidates:
                    candidates.append(rank)
            while not candidates:
                for _ in range(max_proposals):
                    choice_state, bits = reference_splitmix64(choice_state)
                    rank = ((bits >> 32) * n_items) >> 32
                    if rank not in owned and rank not in candidates:
                        candidates.append(rank)
                        if len(candidates) == n_candidates:
                            break
            scores = (item_codes[candidates].astype(np.float32) @ taste).astype(np.float64)
            cumulative = np.cumsum(np.exp(scores - scores.max()))
            choice_state, bits = reference_splitmix64(choice_state)
            target = (bits >> 11) * 2.0**-53 * cumulative[-1]
            chosen = candidates[min(int(np.searchsorted(cumulative, target, side="right")), len(candidates) - 1)]
            owned.add(chosen)
            items[out] = item_of_rank[chosen]
        items[indptr[user] : indptr[user + 1]].sort()
    return items


def kernel_inputs(seed, n_users, n_items, dim, exponent, max_count):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max_count + 1, n_users)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    user_factors = rng.standard_normal((n_users, dim)).astype(np.float32)
    item_codes = rng.integers(-40, 41, (n_items, dim)).astype(np.int8)
    popularity = np.arange(1, n_items + 1, dtype=np.float64) ** -exponent
    table = build_alias_table(popularity / popularity.sum())
    item_of_rank = rng.permutation(n_items).astype(np.int32)
    return indptr, user_factors, item_codes, np.float32(0.1), table, item_of_rank


@pytest.mark.parametrize(
    "n_users, n_items, dim, exponent, max_count, n_candidates",
    [
        (30, 40, 4, 1.0, 20, 4),  # the usual case
        (12, 6, 3, 0.0, 3, 8),  # more candidates wanted than items: the budget stops a pick
        (10, 30, 2, 6.0, 15, 5),  # steep popularity, heavy users: uniform fallback
        (300, 20, 2, 1.0, 10, 3),  # more users than one parallel task
    ],
)
def test_kernel_matches_the_reference_sampler(n_users, n_items, dim, exponent, max_count, n_candidates):
    inputs = kernel_inputs(n_users, n_users, n_items, dim, exponent, max_count)
    seed = 0x1234_5678_9ABC_DEF0
    expected = reference_sample_user_items(*inputs, n_candidates, 8 * n_candidates, seed)
    with np.errstate(over="ignore"):
        got = sample_user_items(*inputs, n_candidates, 8 * n_candidates, np.uint64(seed))
    np.testing.assert_array_equal(got, expected)


def test_kernel_survives_more_picks_than_pick_stamps():
    """One user with 40,000 picks wraps the int16 pick stamps; picks stay distinct."""
    n_items = 80_000
    indptr = np.array([0, 40_000], dtype=np.int64)
    popularity = np.full(n_items, 1.0 / n_items)
    with np.errstate(over="ignore"):
        items = sample_user_items(
            indptr,
            np.zeros((1, 1), dtype=np.float32),
            np.zeros((n_items, 1), dtype=np.int8),
            np.float32(1.0),
            build_alias_table(popularity),
            np.arange(n_items, dtype=np.int32),
            1,
            8,
            np.uint64(3),
        )
    assert len(np.unique(items)) == 40_000


def test_splitmix64_known_answers():
    # Reference output of SplitMix64 seeded with 1234567 (as in the xoshiro
    # authors' test vectors), checked against the Python-integer version.
    expected = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]
    state, reference_state, got, reference = np.uint64(1234567), 1234567, [], []
    with np.errstate(over="ignore"):
        for _ in expected:
            state, output = splitmix64(np.uint64(state))
            got.append(int(output))
            reference_state, output = reference_splitmix64(reference_state)
            reference.append(output)
    assert got == expected == reference


@settings(max_examples=200, deadline=None)
@given(x=st.floats(-100.0, 0.0))
def test_exp_nonpositive_agrees_with_numpy(x):
    assert exp_nonpositive(x) == pytest.approx(np.exp(x), rel=1e-8)


def test_exp_nonpositive_clamps_far_below_zero():
    assert exp_nonpositive(-1e6) == pytest.approx(np.exp(-100.0), rel=1e-8)


@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=40).filter(lambda w: sum(w) > 0))
def test_alias_table_encodes_the_distribution(weights):
    probabilities = np.array(weights) / np.sum(weights)
    table = build_alias_table(probabilities)
    np.testing.assert_allclose(alias_probabilities(table), probabilities, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3000), seed=st.integers(0, 2**64 - 1))
def test_shuffled_positions_is_a_permutation(n, seed):
    with np.errstate(over="ignore"):
        positions = shuffled_positions(n, np.uint64(seed))
    np.testing.assert_array_equal(np.sort(positions), np.arange(n))


# ------------------------------------------ the generative model, exactly
def exact_pick_probabilities(popularity, scores, n_candidates):
    """P(item) for one pick by enumeration: candidates are the first distinct
    proposals (successive sampling without replacement), then a softmax."""
    n = len(popularity)
    probability = np.zeros(n)
    for ordered in itertools.permutations(range(n), n_candidates):
        p_set, left = 1.0, 1.0
        for item in ordered:
            p_set *= popularity[item] / left
            left -= popularity[item]
        softmax = np.exp(scores[list(ordered)] - scores.max())
        probability[list(ordered)] += p_set * softmax / softmax.sum()
    return probability


@pytest.mark.parametrize("n_candidates", [1, 2, 3])
def test_single_picks_follow_the_documented_distribution(n_candidates):
    n_items, n_users = 5, 20_000
    popularity = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    codes = np.array([[-10], [5], [20], [0], [12]], dtype=np.int8)
    scores = 0.1 * codes[:, 0].astype(np.float64)
    indptr = np.arange(n_users + 1, dtype=np.int64)  # one pick per user
    with np.errstate(over="ignore"):
        items = sample_user_items(
            indptr,
            np.ones((n_users, 1), dtype=np.float32),
            codes,
            np.float32(0.1),
            build_alias_table(popularity),
            np.arange(n_items, dtype=np.int32),
            n_candidates,
            200,  # 5 items: 200 proposals always find the candidates
            np.uint64(99),
        )
    expected = exact_pick_probabilities(popularity, scores, n_candidates)
    observed = np.bincount(items, minlength=n_items)
    assert stats.chisquare(observed, expected * n_users).pvalue > 1e-3
    if n_candidates > 1:
        # The test can tell: keeping repeated proposals would be rejected.
        assert np.abs(observed / n_users - expected).max() < 0.02


# --------------------------------------------------------- the dataset
def test_synthetic_returns_a_planted_dataset():
    data = synthetic(n_users=60, n_items=40, n_interactions=500, dim=5, seed=3)
    assert isinstance(data, Dataset) and data.name == "synthetic"
    x = data.interactions
    assert x.shape == (60, 40) and len(x) == 500
    # Distinct pairs: CSR rows strictly increasing within each user.
    row_of = x.user_index()
    assert np.all((np.diff(x.indices) > 0) | (np.diff(row_of) > 0))
    np.testing.assert_array_equal(x.weights, np.ones(500, dtype=np.float32))
    np.testing.assert_array_equal(np.sort(x.timestamps), np.arange(500))
    assert x.user_counts().min() >= 1  # n_interactions >= n_users
    assert x.user_counts().max() <= np.ceil(MAX_DENSITY * 40)
    truth = data.truth
    assert isinstance(truth, PlantedModel)
    assert truth.user_factors.shape == (60, 5) and truth.user_factors.dtype == np.float32
    assert truth.item_factors.shape == (40, 5) and truth.item_factors.dtype == np.float32
    assert truth.item_popularity.dtype == np.float64


@pytest.mark.parametrize("exponent", [0.0, 0.7, 1.0, 2.5])
def test_item_popularity_is_the_power_law_by_hand(exponent):
    data = synthetic(n_users=30, n_items=25, n_interactions=200, popularity_exponent=exponent, seed=1)
    ranks = np.arange(1, 26, dtype=np.float64)
    expected = ranks**-exponent / np.sum(ranks**-exponent)
    np.testing.assert_allclose(np.sort(data.truth.item_popularity)[::-1], expected, rtol=1e-12)


def test_item_factors_are_the_documented_rounded_normals():
    dim, affinity_scale = 8, 8.0
    data = synthetic(n_users=2000, n_items=2000, n_interactions=4000, dim=dim, seed=2)
    sigma = np.sqrt(affinity_scale) / dim**0.25
    steps = data.truth.item_factors / (sigma / 16)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    assert data.truth.item_factors.std() == pytest.approx(sigma, rel=0.02)
    assert data.truth.user_factors.std() == pytest.approx(sigma, rel=0.02)
    scores = data.truth.score(np.arange(200))
    assert scores.std() == pytest.approx(affinity_scale, rel=0.1)


def test_same_seed_same_arrays_different_seed_different_data():
    def arrays(seed):
        data = synthetic(n_users=80, n_items=50, n_interactions=900, seed=seed)
        x, truth = data.interactions, data.truth
        return [x.indptr, x.indices, x.timestamps, truth.user_factors, truth.item_factors, truth.item_popularity]

    for first, again in zip(arrays(5), arrays(5)):
        np.testing.assert_array_equal(first, again)
    other = arrays(6)
    for first, different in zip(arrays(5), other):
        assert not np.array_equal(first, different)


@pytest.mark.skipif(
    numba.config.DISABLE_JIT or numba.config.NUMBA_NUM_THREADS < 2,
    reason="needs the JIT and two numba threads",
)
def test_one_thread_and_many_threads_give_the_same_data():
    arguments = dict(n_users=3000, n_items=300, n_interactions=12_000, seed=4)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = synthetic(**arguments).interactions
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = synthetic(**arguments).interactions
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(single.indptr, many.indptr)
    np.testing.assert_array_equal(single.indices, many.indices)
    np.testing.assert_array_equal(single.timestamps, many.timestamps)


def per_user_auc(test, seen, scores):
    """ndarray: per user with a test pair, the AUC of test pairs vs unseen items.

    Mann-Whitney form: the positives' mean rank among the user's candidate
    items (test pairs and unseen items; ties averaged).
    """
    positive = test.matrix.toarray() > 0
    excluded = (seen.matrix.toarray() > 0) & ~positive
    ranks = stats.rankdata(np.where(excluded, -np.inf, scores), axis=1)
    ranks -= excluded.sum(axis=1, keepdims=True)  # the excluded all rank below
    n_positive = positive.sum(axis=1)
    n_negative = (~positive & ~excluded).sum(axis=1)
    rows = (n_positive > 0) & (n_negative > 0)
    rank_sum = np.where(positive, ranks, 0.0).sum(axis=1)
    auc = (rank_sum - n_positive * (n_positive + 1) / 2) / np.maximum(n_positive * n_negative, 1)
    return auc[rows], np.flatnonzero(rows)


def test_per_user_auc_agrees_with_scikit_learn():
    data = synthetic(n_users=40, n_items=30, n_interactions=300, seed=12)
    _, test = random_split(data.interactions, 0.3, seed=1)
    scores = data.truth.score(np.arange(40))
    scores[:, :5] = 0.0  # ties
    auc, users = per_user_auc(test, data.interactions, scores)
    seen = data.interactions.matrix.toarray() > 0
    positive = test.matrix.toarray() > 0
    for value, user in zip(auc, users):
        candidates = positive[user] | ~seen[user]
        assert value == pytest.approx(roc_auc_score(positive[user, candidates], scores[user, candidates]))


def test_planted_scores_recover_held_out_pairs_with_the_defaults():
    data = synthetic()
    train, test = random_split(data.interactions, 0.2, seed=0)
    planted = data.truth.score(np.arange(data.interactions.n_users))
    popularity = np.tile(data.truth.item_popularity, (data.interactions.n_users, 1))
    planted_auc = per_user_auc(test, data.interactions, planted)[0].mean()
    popularity_auc = per_user_auc(test, data.interactions, popularity)[0].mean()
    assert planted_auc > 0.95
    assert planted_auc > popularity_auc + 0.15
    # And popularity is real signal too: popular items are chosen more.
    assert popularity_auc > 0.6
    assert stats.spearmanr(train.item_counts(), data.truth.item_popularity)[0] > 0.6


def test_no_taste_and_one_candidate_means_popularity_alone():
    data = synthetic(n_users=400, n_items=10, n_interactions=400, n_candidates=1, seed=8)
    # One item per user, the first proposal: counts follow item_popularity.
    counts = data.interactions.item_counts()
    assert stats.chisquare(counts, 400 * data.truth.item_popularity).pvalue > 1e-3


def test_timestamps_support_temporal_splits():
    data = synthetic(n_users=50, n_items=40, n_interactions=600, seed=9)
    train, test = temporal_split(data.interactions, test_fraction=0.25)
    assert len(test) == 150  # distinct timestamps: no ties at the cutoff
    assert train.timestamps.max() < test.timestamps.min()
    # Each user's history spans the clock: most users have pairs on both sides.
    assert np.mean((train.user_counts() > 0) & (test.user_counts() > 0)) > 0.5


def test_the_density_limit_is_reachable():
    data = synthetic(n_users=7, n_items=9, n_interactions=int(MAX_DENSITY * 63), seed=0)
    assert len(data.interactions) == 31
    assert data.interactions.user_counts().max() <= 5


# --------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n_users": 0}, "n_users must be an integer >= 1, got 0"),
        ({"n_items": -3}, "n_items must be an integer >= 1, got -3"),
        ({"n_interactions": 0}, "n_interactions must be an integer >= 1, got 0"),
        ({"n_users": 2.5}, "n_users must be an integer >= 1, got 2.5"),
        ({"n_items": True}, "n_items must be an integer >= 1, got True"),
        ({"dim": 0}, "dim must be an integer >= 1, got 0"),
        ({"popularity_exponent": -0.5}, "popularity_exponent must be a finite number >= 0, got -0.5"),
        ({"popularity_exponent": float("nan")}, "popularity_exponent must be a finite number >= 0, got nan"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": "1"}, "seed must be an integer >= 0, got '1'"),
        ({"n_candidates": 0}, "n_candidates must be an integer >= 1, got 0"),
        ({"affinity_scale": -1.0}, "affinity_scale must be a finite number >= 0, got -1.0"),
        ({"activity_sigma": float("inf")}, "activity_sigma must be a finite number >= 0, got inf"),
        (
            {"n_users": 10, "n_items": 10, "n_interactions": 51},
            r"n_interactions must be at most 0.5 \* n_users \* n_items = 50 for 10 users and 10 items, got 51",
        ),
    ],
)
def test_bad_arguments_are_rejected_by_name(arguments, message):
    with pytest.raises(ValueError, match=message):
        synthetic(**arguments)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            {"n_users": 10**12},
            r"n_users must be at most 2,147,483,647 \(2\*\*31 - 1\): indices are stored as int32; "
            r"got 1,000,000,000,000",
        ),
        (
            {"n_items": 2**31},
            r"n_items must be at most 2,147,483,647 \(2\*\*31 - 1\): indices are stored as int32; "
            r"got 2,147,483,648",
        ),
        (
            {"n_users": 10**6, "n_items": 10**6, "n_interactions": 2**31},
            r"n_interactions must be at most 2,147,483,647 \(2\*\*31 - 1; 16 bytes each while "
            r"sampling\), got 2,147,483,648",
        ),
        (
            {"n_users": 10**8, "n_items": 500, "dim": 100},
            r"\(n_users \+ n_items\) \* dim must be at most 2,147,483,647 planted factor entries, "
            r"got \(100,000,000 \+ 500\) \* 100 = 10,000,050,000",
        ),
    ],
)
def test_impossible_sizes_are_refused_before_allocating(arguments, message):
    # A MemoryError from numpy would mean the bound came too late.
    with pytest.raises(ValueError, match=message):
        synthetic(**arguments)

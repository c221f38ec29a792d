"""The ranking kernels against plain-numpy references, and against their numpy twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec.kernels import ranking, ranking_numpy

# The compiled kernels and their numpy twin take the same arguments.
BOTH = pytest.mark.parametrize("kernels", [ranking, ranking_numpy], ids=["compiled", "numpy"])


def numpy_counts(row, sorted_positive_scores, excluded):
    """Reference for count_below_and_equal: plain comparisons over candidates."""
    candidate = np.ones(len(row), dtype=bool)
    candidate[excluded] = False
    scores = row[candidate]
    below = np.array([np.sum(scores < value) for value in sorted_positive_scores], dtype=np.int64)
    equal = np.array([np.sum(scores == value) for value in sorted_positive_scores], dtype=np.int64)
    return below, equal, int(np.isnan(row).sum())


def numpy_metrics_without_ties(row, positives, excluded, k):
    """Reference rank metrics for a row with distinct scores, by sorting."""
    candidate = np.ones(len(row), dtype=bool)
    candidate[excluded] = False
    items = np.flatnonzero(candidate)
    ranked = items[np.argsort(-row[items], kind="stable")]
    relevant = np.isin(ranked, positives)
    n_positives = relevant.sum()
    top = relevant[:k]
    positions = np.arange(1, len(top) + 1)
    ranks = np.flatnonzero(relevant) + 1
    n_negatives = len(ranked) - n_positives
    # A positive at rank r has (r - 1) - (positives above it) negatives above.
    negatives_above = (ranks - 1) - np.arange(n_positives)
    out = np.empty(ranking.N_RANK_METRICS)
    out[0] = 1 - negatives_above.sum() / (n_positives * n_negatives) if n_negatives else np.nan
    out[1] = top.sum() / k
    out[2] = top.sum() / n_positives
    ideal = np.sum(1 / np.log2(np.arange(2, min(k, n_positives) + 2)))
    out[3] = np.sum(top / np.log2(positions + 1)) / ideal
    out[4] = np.sum((np.cumsum(top) / positions)[top]) / min(k, n_positives)
    out[5] = float(top.any())
    out[6] = 1 / ranks[0]
    return out


def test_metric_columns_are_distinct():
    columns = [
        ranking.AUC,
        ranking.PRECISION,
        ranking.RECALL,
        ranking.NDCG,
        ranking.AVERAGE_PRECISION,
        ranking.HIT,
        ranking.RECIPROCAL_RANK,
    ]
    assert sorted(columns) == list(range(ranking.N_RANK_METRICS))
    # The numpy reference below writes the columns in this order.
    assert columns == list(range(7))


def test_discount_prefix_by_hand():
    discounts = ranking.discount_prefix(3)
    assert discounts.tolist() == pytest.approx([0.0, 1.0, 1.0 + 1 / math.log2(3), 1.5 + 1 / math.log2(3)])


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_items=st.integers(1, 80),
    n_positives=st.integers(1, 40),
    n_levels=st.sampled_from([2, 4, 0]),
    exclude_share=st.sampled_from([0.0, 0.3]),
    with_nan=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_count_below_and_equal_matches_numpy(seed, n_items, n_positives, n_levels, exclude_share, with_nan, dtype):
    # n_positives up to 40 crosses SMALL_POSITIVE_COUNT: both paths are checked.
    rng = np.random.default_rng(seed)
    row = (rng.integers(0, n_levels, n_items) if n_levels else rng.normal(size=n_items)).astype(dtype)
    order = rng.permutation(n_items)
    positives = np.sort(order[: min(n_positives, n_items)])
    rest = order[len(positives) :]
    excluded = np.sort(rest[rng.random(len(rest)) < exclude_share]).astype(np.int32)
    if with_nan and len(rest):
        row[rest[0]] = np.nan
    sorted_positive_scores = np.sort(row[positives])
    below = np.full(len(positives), -7, dtype=np.int64)
    equal = np.full(len(positives), -7, dtype=np.int64)
    n_nan = ranking.count_below_and_equal(row, sorted_positive_scores, excluded, below, equal)
    expected_below, expected_equal, expected_nan = numpy_counts(row, sorted_positive_scores, excluded)
    np.testing.assert_array_equal(below, expected_below)
    np.testing.assert_array_equal(equal, expected_equal)
    assert n_nan == expected_nan


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_items=st.integers(1, 60),
    k=st.integers(1, 60),
    n_levels=st.sampled_from([1, 3, 0]),
    exclude_share=st.sampled_from([0.0, 0.4]),
)
def test_top_k_cut_matches_sorting(seed, n_items, k, n_levels, exclude_share):
    rng = np.random.default_rng(seed)
    row = (rng.integers(0, n_levels, n_items) if n_levels else rng.normal(size=n_items)).astype(np.float32)
    excluded = np.flatnonzero(rng.random(n_items) < exclude_share).astype(np.int32)
    candidates = np.delete(row, excluded)
    if len(candidates) == 0:
        return
    k = min(k, n_items)
    cut, n_above, n_at_cut, slots = ranking.top_k_cut(row, excluded, k, np.empty(k, np.float32))
    ordered = np.sort(candidates)[::-1]
    expected_cut = ordered[min(k, len(candidates)) - 1]
    assert cut == expected_cut
    assert n_above == np.sum(candidates > expected_cut)
    assert n_at_cut == np.sum(candidates == expected_cut)
    assert slots == min(k, len(candidates)) - n_above


def csr(lists):
    """(indptr int64, indices int32) of per-user item lists, each sorted."""
    indptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(items) for items in lists], out=indptr[1:])
    indices = np.concatenate([np.sort(np.asarray(items, dtype=np.int32)) for items in lists] + [np.zeros(0, np.int32)])
    return indptr, indices


def run_block(scores, positives_per_user, excluded_per_user, k, rows=None, kernels=ranking, with_top_k=True):
    """Call ``kernels.rank_block`` over every user; returns (metrics, nan, top, cuts, log_miss, excluded CSR).

    Outputs start filled with sentinels, so that what a path leaves
    unwritten shows up in comparisons.
    """
    n_users = len(positives_per_user)
    positive_indptr, positive_indices = csr(positives_per_user)
    excluded_indptr, excluded_indices = csr(excluded_per_user)
    users = np.arange(n_users, dtype=np.int64)
    rows = users if rows is None else rows
    metrics = np.full((n_users, ranking.N_RANK_METRICS), -5.0)
    nan = np.full(n_users, -3, dtype=np.int64)
    width = k if with_top_k else 0
    top = np.full((n_users, width), -9, dtype=np.int32)
    cuts = np.full(n_users if with_top_k else 0, -2.0)
    log_miss = np.full(n_users if with_top_k else 0, -2.0)
    kernels.rank_block(
        scores,
        rows,
        users,
        ranking.Csr(positive_indptr, positive_indices),
        ranking.Csr(excluded_indptr, excluded_indices),
        k,
        ranking.discount_prefix(k),
        with_top_k,
        ranking.RankOutputs(metrics, nan, top, cuts, log_miss),
    )
    return metrics, nan, top, cuts, log_miss, (excluded_indptr, excluded_indices)


@BOTH
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 8),
    n_items=st.integers(2, 70),
    k=st.integers(1, 20),
    exclude_share=st.sampled_from([0.0, 0.3]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_rank_block_matches_numpy_sorting(kernels, seed, n_users, n_items, k, exclude_share, dtype):
    # Distinct scores: the numpy reference simply sorts.
    rng = np.random.default_rng(seed)
    k = min(k, n_items)
    scores = np.stack([rng.permutation(n_items) for _ in range(n_users)]).astype(dtype)
    positives, excluded = [], []
    for _ in range(n_users):
        order = rng.permutation(n_items)
        count = rng.integers(1, min(n_items, 30) + 1)
        positives.append(order[:count])
        rest = order[count:]
        excluded.append(rest[rng.random(len(rest)) < exclude_share])
    metrics, nan, top, cuts, _, _ = run_block(scores, positives, excluded, k, kernels=kernels)
    assert not nan.any()
    assert np.isnan(cuts).all()  # distinct scores never tie at the cut
    for user in range(n_users):
        expected = numpy_metrics_without_ties(scores[user], positives[user], excluded[user], k)
        np.testing.assert_allclose(metrics[user], expected, rtol=0, atol=1e-12)
        candidates = np.setdiff1d(np.arange(n_items), excluded[user])
        best = candidates[np.argsort(-scores[user][candidates])[:k]]
        listed = top[user][top[user] >= 0]
        assert sorted(listed.tolist()) == sorted(best.tolist())
        assert (top[user] >= 0).sum() == min(k, len(candidates))


@BOTH
def test_rank_block_reads_the_given_rows(kernels):
    scores = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]], dtype=np.float32)
    # One user, scored by row 1: its positive, item 0, ranks first.
    metrics, *_ = run_block(scores, [[0]], [[]], 1, rows=np.array([1], dtype=np.int64), kernels=kernels)
    assert metrics[0, ranking.PRECISION] == 1.0
    assert metrics[0, ranking.AUC] == 1.0


@BOTH
def test_rank_block_reports_nan_rows(kernels):
    scores = np.array([[0.0, np.nan, 2.0], [np.nan, 1.0, 0.0], [1.0, 2.0, 3.0]])
    # User 0: NaN among negatives; user 1: NaN on its positive; user 2: clean.
    _, nan, *_ = run_block(scores, [[0], [0], [0]], [[], [], []], 1, kernels=kernels)
    assert nan[0] > 0 and nan[1] > 0 and nan[2] == 0


@BOTH
def test_tied_cut_outputs_and_log_miss(kernels):
    # User 0: four tied items, k = 1; item 3 excluded for user 1.
    scores = np.array([[1.0, 1.0, 1.0, 1.0], [5.0, 1.0, 1.0, 1.0]])
    _, _, top, cuts, log_miss, excluded_csr = run_block(scores, [[0], [1]], [[], [3]], 2, kernels=kernels)
    # User 0: nothing certain, 2 places among 4 tied. User 1: item 0 certain,
    # 1 place among items 1, 2.
    assert (top[0] < 0).all()
    assert sorted(top[1][top[1] >= 0].tolist()) == [0]
    assert cuts.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(log_miss, [math.log(1 - 2 / 4), math.log(1 - 1 / 2)])
    out = np.zeros(4)
    kernels.tied_cut_log_miss(scores, np.array([0, 1]), np.array([0, 1]), cuts, log_miss, *excluded_csr, out)
    np.testing.assert_allclose(out, [log_miss[0], log_miss.sum(), log_miss.sum(), log_miss[0]])


# ------------------------------------------------ the numpy twin, value for value
def assert_same_outputs(compiled, twin):
    """The outputs of the two paths agree; rows with NaN only in their NaN count."""
    metrics, nan, top, cuts, log_miss = compiled[:5]
    np.testing.assert_array_equal(twin[1], nan)
    clean = nan == 0
    # Metrics to float precision (the twin adds the same terms in the same order).
    np.testing.assert_allclose(twin[0][clean], metrics[clean], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(twin[2][clean], top[clean])
    if len(cuts):
        np.testing.assert_array_equal(twin[3][clean], cuts[clean])
        np.testing.assert_allclose(twin[4][clean], log_miss[clean], rtol=1e-12, atol=1e-15)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 7),
    n_items=st.integers(1, 45),
    k=st.integers(1, 45),
    n_levels=st.sampled_from([1, 2, 3, 6, 0]),
    max_positives=st.sampled_from([3, 40]),
    exclude_share=st.sampled_from([0.0, 0.3, 0.9]),
    nan_share=st.sampled_from([0.0, 0.0, 0.05]),
    with_top_k=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_numpy_twin_matches_the_compiled_kernels(
    seed, n_users, n_items, k, n_levels, max_positives, exclude_share, nan_share, with_top_k, dtype
):
    # Ties (n_levels 1: every score equal), tie groups straddling the cut,
    # users with more positives than SMALL_POSITIVE_COUNT, rows read out of
    # order and NaN rows: both paths must write the same outputs.
    rng = np.random.default_rng(seed)
    k = min(k, n_items)
    shape = (n_users + 1, n_items)
    scores = (rng.integers(0, n_levels, shape) if n_levels else rng.normal(size=shape)).astype(dtype)
    scores[rng.random(shape) < nan_share] = np.nan
    rows = rng.permutation(n_users + 1)[:n_users].astype(np.int64)
    positives, excluded = [], []
    for _ in range(n_users):
        order = rng.permutation(n_items)
        count = rng.integers(1, min(n_items, max_positives) + 1)
        positives.append(order[:count])
        rest = order[count:]
        excluded.append(rest[rng.random(len(rest)) < exclude_share])
    arguments = (scores, positives, excluded, k, rows)
    compiled = run_block(*arguments, kernels=ranking, with_top_k=with_top_k)
    twin = run_block(*arguments, kernels=ranking_numpy, with_top_k=with_top_k)
    assert_same_outputs(compiled, twin)
    # Nothing is left unwritten for a clean user.
    clean = compiled[1] == 0
    assert not (twin[0][clean] == -5.0).any()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 6),
    n_items=st.integers(1, 30),
    n_levels=st.sampled_from([1, 2, 4]),
    exclude_share=st.sampled_from([0.0, 0.4]),
)
def test_numpy_tied_cut_log_miss_matches_the_kernel(seed, n_users, n_items, n_levels, exclude_share):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, n_levels, (n_users, n_items)).astype(np.float32)
    excluded_indptr, excluded_indices = csr(
        [np.flatnonzero(rng.random(n_items) < exclude_share) for _ in range(n_users)]
    )
    users = rng.permutation(n_users)[: rng.integers(0, n_users + 1)].astype(np.int64)
    rows = users[::-1].copy()
    cuts = rng.integers(0, n_levels, len(users)).astype(np.float64)
    log_miss = np.log(rng.random(len(users)))
    start = np.log(rng.random(n_items))
    results = []
    for kernels in (ranking, ranking_numpy):
        out = start.copy()
        kernels.tied_cut_log_miss(scores, rows, users, cuts, log_miss, excluded_indptr, excluded_indices, out)
        results.append(out)
    # Each item's terms are added in the same order: equal to the last bit.
    np.testing.assert_array_equal(results[1], results[0])

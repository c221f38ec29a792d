"""Kernels of the ranking metrics: one pass per user over a block of scores.

For every evaluated user the kernel sweeps the user's score row a few times
while it sits in cache and reduces it to, for each test positive, how many
candidate items score below it and how many tie with it. Every rank metric
(AUC, precision@k, recall@k, NDCG@k, MAP@k, hit rate@k, reciprocal rank)
follows from those counts exactly, ties included, without sorting the row.
Catalogue coverage needs the top-k items themselves; a bounded buffer of the
k best scores finds the cut score, and a second sweep lists the items above it.

Ties are resolved as the expected value over a uniformly random order of the
tied items (see :mod:`tripletrec.metrics` for each metric's formula).
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from .threads import run_in_ranges

__all__ = [
    "AUC",
    "AVERAGE_PRECISION",
    "Csr",
    "RankOutputs",
    "HIT",
    "N_RANK_METRICS",
    "NDCG",
    "PRECISION",
    "RECALL",
    "RECIPROCAL_RANK",
    "ITEMS_PER_TASK",
    "SMALL_POSITIVE_COUNT",
    "count_below_and_equal",
    "discount_prefix",
    "rank_metrics_from_counts",
    "rank_block",
    "tied_cut_log_miss",
    "top_k_cut",
]

# Column of each metric in the (n_block, N_RANK_METRICS) output of rank_block.
AUC = 0
PRECISION = 1
RECALL = 2
NDCG = 3
AVERAGE_PRECISION = 4
HIT = 5
RECIPROCAL_RANK = 6
N_RANK_METRICS = 7

Csr = namedtuple("Csr", ["indptr", "indices"])
Csr.__doc__ = """Per-user item lists in compressed sparse row form; read only.

Fields
------
indptr : ndarray, shape (n_users + 1,), int64
indices : ndarray, shape (n_pairs,), int32
    User ``u``'s items are ``indices[indptr[u]:indptr[u + 1]]``, ascending.
"""

RankOutputs = namedtuple("RankOutputs", ["metrics", "nan_counts", "top_items", "cuts", "log_miss"])
RankOutputs.__doc__ = """Where :func:`rank_block` writes, one row per block user.

Fields
------
metrics : ndarray, shape (n_block, N_RANK_METRICS), float64
nan_counts : ndarray, shape (n_block,), int64
    NaN scores in each user's row; when non-zero the user's metrics are
    meaningless.
top_items : ndarray, shape (n_block, k), int32
    The candidates certainly in the user's top k (any order), -1 padded.
    May have zero columns when the top k is not asked for.
cuts : ndarray, shape (n_block,), float64
    The cut score when the tie group at the cut does not fit in the top k
    (some of its candidates are in, some out); NaN otherwise.
log_miss : ndarray, shape (n_block,), float64
    For such a cut, ``log(1 - slots / group size)``: the log-probability
    that a given candidate of the tie group misses the top k.
"""

# Up to this many positives a user's counts come from one vectorised sweep of
# the row per positive (cheap compares, SIMD); above it, from one sweep with
# a binary search of each score among the sorted positives, whose cost grows
# with log(positives) instead of positives.
SMALL_POSITIVE_COUNT = 16

# Items per parallel task of tied_cut_log_miss.
ITEMS_PER_TASK = 4096


def discount_prefix(k: int) -> np.ndarray:
    """Cumulative DCG discounts: ``out[i] = sum(1 / log2(t + 2) for t < i)``.

    Parameters
    ----------
    k : int

    Returns
    -------
    ndarray, shape (k + 1,), float64
    """
    out = np.zeros(k + 1, dtype=np.float64)
    np.cumsum(1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0), out=out[1:])
    return out


@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _count_not_greater(sorted_values, value):
    """Number of entries of ascending ``sorted_values`` that are <= ``value``."""
    low = 0
    high = sorted_values.shape[0]
    while low < high:
        middle = (low + high) >> 1
        if sorted_values[middle] <= value:
            low = middle + 1
        else:
            high = middle
    return low


@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _contains(sorted_items, item):
    """Whether ascending int array ``sorted_items`` holds ``item``."""
    low = 0
    high = sorted_items.shape[0]
    while low < high:
        middle = (low + high) >> 1
        if sorted_items[middle] < item:
            low = middle + 1
        else:
            high = middle
    return low < sorted_items.shape[0] and sorted_items[low] == item


@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _sort_ascending(values):
    """Heap sort ``values`` (no NaN) in place, ascending.

    Instead of ``ndarray.sort``, whose quicksort took a quarter of
    :func:`rank_block`'s compile time; users' positives are few, so the sort's
    speed hardly matters.
    """
    n = values.shape[0]
    # Build a max-heap, then move the maximum to the end, n - 1 times.
    for start in range(n // 2 - 1, -1, -1):
        _sift_down_max(values, start, n)
    for end in range(n - 1, 0, -1):
        largest = values[0]
        values[0] = values[end]
        values[end] = largest
        _sift_down_max(values, 0, end)


@numba.njit(cache=True, error_model="numpy", inline="always", no_cpython_wrapper=True)
def _sift_down_max(values, start, size):
    position = start
    value = values[position]
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and values[child + 1] > values[child]:
            child += 1
        if values[child] <= value:
            break
        values[position] = values[child]
        position = child
    values[position] = value


# The counting sweeps keep int32 counters, cast back after every add (numba
# would otherwise widen them to int64), so LLVM packs 8 float32 compares and
# 8 counter adds per AVX2 instruction. Item counts fit in int32 (item
# indices are int32).
@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _count_below_equal(row, value):
    """(#scores < value, #scores == value) over the whole row."""
    n_below = np.int32(0)
    n_equal = np.int32(0)
    for i in range(row.shape[0]):
        score = row[i]
        n_below = np.int32(n_below + np.int32(score < value))
        n_equal = np.int32(n_equal + np.int32(score == value))
    return np.int64(n_below), np.int64(n_equal)


@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _count_around(row, value):
    """(#scores < value, #scores == value, #scores > value) over the whole row."""
    n_below = np.int32(0)
    n_equal = np.int32(0)
    n_above = np.int32(0)
    for i in range(row.shape[0]):
        score = row[i]
        n_below = np.int32(n_below + np.int32(score < value))
        n_equal = np.int32(n_equal + np.int32(score == value))
        n_above = np.int32(n_above + np.int32(score > value))
    return np.int64(n_below), np.int64(n_equal), np.int64(n_above)


@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _count_above_equal(row, value):
    """(#scores > value, #scores == value) over the whole row."""
    n_above = np.int32(0)
    n_equal = np.int32(0)
    for i in range(row.shape[0]):
        score = row[i]
        n_above = np.int32(n_above + np.int32(score > value))
        n_equal = np.int32(n_equal + np.int32(score == value))
    return np.int64(n_above), np.int64(n_equal)


# The histogram's signs as typed int64 values: two literal constants would
# make numba compile _histogram_value twice (once per Literal[int] type).
_ADD = np.int64(1)
_REMOVE = np.int64(-1)


@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _histogram_value(sorted_positive_scores, value, strictly_between, equal_to_group, sign):
    # strictly_between[p]: values with exactly p positive scores <= them and
    # equal to none; equal_to_group[h]: values equal to the positive scores
    # whose tie group ends at index h.
    position = _count_not_greater(sorted_positive_scores, value)
    if position > 0 and sorted_positive_scores[position - 1] == value:
        equal_to_group[position - 1] += sign
    else:
        strictly_between[position] += sign


@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True)
def _add_histogram_counts(sorted_positive_scores, strictly_between, equal_to_group, below, equal):
    # Turn the histogram into per-positive counts and add them to below/equal.
    n_positives = sorted_positive_scores.shape[0]
    cumulative = 0
    high = n_positives - 1
    # equal_to_group is only non-zero at the last index of a tie group, so a
    # running sum up to j - 1 holds exactly the values of the lower groups.
    equal_below = 0
    for j in range(n_positives):
        cumulative += strictly_between[j]
        below[j] += cumulative + equal_below
        equal_below += equal_to_group[j]
    # Every positive of a tie group takes the count stored at its last index.
    while high >= 0:
        low = high
        while low > 0 and sorted_positive_scores[low - 1] == sorted_positive_scores[high]:
            low -= 1
        for j in range(low, high + 1):
            equal[j] += equal_to_group[high]
        high = low - 1


@numba.njit(cache=True, error_model="numpy")
def count_below_and_equal(row, sorted_positive_scores, excluded, below, equal):
    """Per positive, how many candidates score below it and how many tie.

    Parameters
    ----------
    row : ndarray, shape (n_items,), float32 or float64
        The user's scores.
    sorted_positive_scores : ndarray, shape (n_positives,), same dtype as row
        The scores of the user's positives, ascending, none NaN.
    excluded : ndarray, shape (n_excluded,), int32
        Ascending item indices that are not candidates (training items).
    below, equal : ndarray, shape (n_positives,), int64
        Output, overwritten: ``below[j]`` the number of candidates whose
        score is < ``sorted_positive_scores[j]``, ``equal[j]`` the number
        whose score equals it (the positive itself and tied positives
        included).

    Returns
    -------
    int
        The number of NaN scores in ``row`` (candidates or not).
    """
    n_positives = sorted_positive_scores.shape[0]
    n_items = row.shape[0]
    below[:] = 0
    equal[:] = 0
    n_nan = 0
    if n_positives <= SMALL_POSITIVE_COUNT:
        for j in range(n_positives):
            value = sorted_positive_scores[j]
            if j > 0 and value == sorted_positive_scores[j - 1]:
                below[j] = below[j - 1]
                equal[j] = equal[j - 1]
                continue
            if j == 0:
                # The sweep for the lowest positive also counts scores above
                # it; whatever is in none of the three classes is NaN.
                n_below, n_equal, n_above = _count_around(row, value)
                n_nan = n_items - n_below - n_equal - n_above
            else:
                n_below, n_equal = _count_below_equal(row, value)
            below[j] = n_below
            equal[j] = n_equal
    else:
        strictly_between = np.zeros(n_positives + 1, dtype=np.int64)
        equal_to_group = np.zeros(n_positives, dtype=np.int64)
        for i in range(n_items):
            score = row[i]
            if score != score:
                n_nan += 1
            else:
                _histogram_value(sorted_positive_scores, score, strictly_between, equal_to_group, _ADD)
        _add_histogram_counts(sorted_positive_scores, strictly_between, equal_to_group, below, equal)
    if excluded.shape[0] > 0:
        strictly_between = np.zeros(n_positives + 1, dtype=np.int64)
        equal_to_group = np.zeros(n_positives, dtype=np.int64)
        for t in range(excluded.shape[0]):
            score = row[excluded[t]]
            if score == score:
                _histogram_value(sorted_positive_scores, score, strictly_between, equal_to_group, _REMOVE)
        _add_histogram_counts(sorted_positive_scores, strictly_between, equal_to_group, below, equal)
    return n_nan


@numba.njit(cache=True, error_model="numpy")
def rank_metrics_from_counts(sorted_positive_scores, below, equal, n_candidates, k, discounts, out):
    """Every rank metric of one user from the counts of :func:`count_below_and_equal`.

    Ties are resolved as the expected value over a uniformly random order of
    tied candidates: a tie group of ``g`` candidates holding ``m`` positives
    puts a positive at each of its positions with probability ``m / g``.

    Parameters
    ----------
    sorted_positive_scores : ndarray, shape (n_positives,)
        Ascending; ``n_positives >= 1``.
    below, equal : ndarray, shape (n_positives,), int64
    n_candidates : int
        Candidates of the user (items minus excluded ones), positives included.
    k : int
        The cut of the @k metrics, >= 1.
    discounts : ndarray, shape (k + 1,), float64
        :func:`discount_prefix` of ``k``.
    out : ndarray, shape (N_RANK_METRICS,), float64
        Output, indexed by the module's metric constants. AUC is NaN when the
        user has no negative candidate.
    """
    n_positives = sorted_positive_scores.shape[0]
    n_negatives = n_candidates - n_positives
    auc_sum = 0.0
    expected_hits = 0.0
    dcg = 0.0
    precision_sum = 0.0
    hit = 0.0
    reciprocal_rank = 0.0
    positives_above = 0
    high = n_positives - 1
    while high >= 0:
        low = high
        while low > 0 and sorted_positive_scores[low - 1] == sorted_positive_scores[high]:
            low -= 1
        group_positives = high - low + 1
        group_size = equal[high]
        n_below = below[high]
        n_above = n_candidates - n_below - group_size
        # Negatives strictly below count 1, tied negatives 1/2 (the positives
        # below and tied are not negatives).
        auc_sum += group_positives * ((n_below - low) + 0.5 * (group_size - group_positives))
        share = group_positives / group_size
        if n_above < k:
            slots = min(k - n_above, group_size)
            expected_hits += slots * share
            dcg += share * (discounts[n_above + slots] - discounts[n_above])
            # A positive at offset j of the group has, in expectation,
            # j * (m - 1) / (g - 1) of the group's other positives before it.
            spread = 0.0
            if group_size > 1:
                spread = (group_positives - 1) / (group_size - 1)
            for offset in range(slots):
                precision_sum += share * (positives_above + 1 + offset * spread) / (n_above + offset + 1)
        if positives_above == 0:
            # The highest tie group alone decides hit rate and reciprocal rank.
            if n_above < k:
                slots = min(k - n_above, group_size)
                negatives_in_group = group_size - group_positives
                if slots > negatives_in_group:
                    hit = 1.0
                else:
                    # P(the first `slots` places hold no positive).
                    miss = 1.0
                    for place in range(slots):
                        miss *= (negatives_in_group - place) / (group_size - place)
                    hit = 1.0 - miss
            # P(first positive at offset j) = C(g-j-1, m-1) / C(g, m).
            probability = share
            last_offset = group_size - group_positives
            for offset in range(last_offset + 1):
                reciprocal_rank += probability / (n_above + offset + 1)
                if offset < last_offset:
                    probability *= (group_size - offset - group_positives) / (group_size - offset - 1)
        positives_above += group_positives
        high = low - 1
    ideal_count = min(k, n_positives)
    if n_negatives > 0:
        out[AUC] = auc_sum / (n_positives * n_negatives)
    else:
        out[AUC] = np.nan
    out[PRECISION] = expected_hits / k
    out[RECALL] = expected_hits / n_positives
    out[NDCG] = dcg / discounts[ideal_count]
    out[AVERAGE_PRECISION] = precision_sum / ideal_count
    out[HIT] = hit
    out[RECIPROCAL_RANK] = reciprocal_rank


@numba.njit(cache=True, error_model="numpy")
def top_k_cut(row, excluded, k, buffer):
    """The k-th best candidate score and the candidates at and above it.

    Parameters
    ----------
    row : ndarray, shape (n_items,), float32 or float64
    excluded : ndarray, shape (n_excluded,), int32
        Ascending item indices that are not candidates.
    k : int
        >= 1.
    buffer : ndarray, shape (k,), same dtype as row
        Scratch.

    Returns
    -------
    cut : float
        The score at position ``min(k, n_candidates)`` of the candidates
        sorted by decreasing score (NaN scores ignored).
    n_above : int
        Candidates scoring > ``cut``.
    n_at_cut : int
        Candidates scoring == ``cut``.
    slots : int
        Places of the top list left for the tie group at ``cut``:
        ``min(k, n_candidates) - n_above``.
    """
    n_items = row.shape[0]
    filled = 0
    for i in range(n_items):
        score = row[i]
        # Cheap rejection first: most scores lose to the current k-th best.
        if filled == k:
            if not score > buffer[k - 1]:
                continue
        elif score != score:
            continue
        if excluded.shape[0] > 0 and _contains(excluded, i):
            continue
        # Insert into the descending buffer, dropping the smallest if full.
        position = filled if filled < k else k - 1
        while position > 0 and buffer[position - 1] < score:
            buffer[position] = buffer[position - 1]
            position -= 1
        buffer[position] = score
        if filled < k:
            filled += 1
    cut = buffer[filled - 1]
    n_above, n_at_cut = _count_above_equal(row, cut)
    for t in range(excluded.shape[0]):
        score = row[excluded[t]]
        if score > cut:
            n_above -= 1
        elif score == cut:
            n_at_cut -= 1
    return cut, n_above, n_at_cut, filled - n_above


def rank_block(scores, rows, users, positives_csr, excluded_csr, k, discounts, with_top_k, out):
    """Rank metrics (and optionally the top-k items) of a block of users.

    Parameters
    ----------
    scores : ndarray, shape (n_rows, n_items), float32 or float64, C-contiguous
    rows : ndarray, shape (n_block,), int64
        The row of ``scores`` holding each block user's scores.
    users : ndarray, shape (n_block,), int64
        Each block user's index into the CSR arrays; every one has at least
        one positive.
    positives_csr : Csr
        The test positives, none of them excluded.
    excluded_csr : Csr
        The items removed from each user's candidates.
    k : int
    discounts : ndarray, shape (k + 1,), float64
    with_top_k : bool
        Whether to fill the three top-k outputs of ``out``.
    out : RankOutputs
        Written in place.
    """
    # Users on threads, each thread ranking a range (tripletrec.kernels.threads).
    arguments = (scores, rows, users, positives_csr, excluded_csr, k, discounts, with_top_k, out)
    run_in_ranges(_rank_users, rows.shape[0], arguments)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _rank_users(first, last, scores, rows, users, positives_csr, excluded_csr, k, discounts, with_top_k, out):
    """:func:`rank_block` for block users ``first .. last - 1`` (serial)."""
    for b in range(first, last):
        _rank_user(b, scores, rows, users, positives_csr, excluded_csr, k, discounts, with_top_k, out)


# Inlined into _rank_users as numba IR (its only caller), so that it is not
# compiled and optimised once on its own and again inside the caller: the
# first evaluate above the numpy size rule compiled in about 7 s instead of
# 8 (2 cores), with the same speed.
@numba.njit(cache=True, error_model="numpy", inline="always", no_cpython_wrapper=True)
def _rank_user(b, scores, rows, users, positives_csr, excluded_csr, k, discounts, with_top_k, out):
    """:func:`rank_block`'s work for block user ``b``; the other parameters are its own."""
    positive_indptr, positive_indices = positives_csr
    excluded_indptr, excluded_indices = excluded_csr
    metrics_out, nan_out, top_items_out, cut_out, log_miss_out = out
    row = scores[rows[b]]
    user = users[b]
    positives = positive_indices[positive_indptr[user] : positive_indptr[user + 1]]
    excluded = excluded_indices[excluded_indptr[user] : excluded_indptr[user + 1]]
    n_positives = positives.shape[0]
    positive_scores = np.empty(n_positives, dtype=scores.dtype)
    has_nan_positive = False
    for j in range(n_positives):
        positive_scores[j] = row[positives[j]]
        if positive_scores[j] != positive_scores[j]:
            has_nan_positive = True
    if has_nan_positive:
        nan_out[b] = 1
        return
    _sort_ascending(positive_scores)
    below = np.empty(n_positives, dtype=np.int64)
    equal = np.empty(n_positives, dtype=np.int64)
    nan_out[b] = count_below_and_equal(row, positive_scores, excluded, below, equal)
    if nan_out[b] > 0:
        return
    n_candidates = row.shape[0] - excluded.shape[0]
    rank_metrics_from_counts(positive_scores, below, equal, n_candidates, k, discounts, metrics_out[b])
    if with_top_k:
        buffer = np.empty(k, dtype=scores.dtype)
        cut, n_above, n_at_cut, slots = top_k_cut(row, excluded, k, buffer)
        certain_ties = slots >= n_at_cut
        found = 0
        for i in range(row.shape[0]):
            score = row[i]
            if score > cut or (certain_ties and score == cut):
                if excluded.shape[0] > 0 and _contains(excluded, i):
                    continue
                top_items_out[b, found] = i
                found += 1
        for position in range(found, k):
            top_items_out[b, position] = -1
        if certain_ties:
            cut_out[b] = np.nan
            log_miss_out[b] = 0.0
        else:
            cut_out[b] = cut
            log_miss_out[b] = np.log1p(-slots / n_at_cut)


def tied_cut_log_miss(scores, rows, users, cuts, log_miss, excluded_indptr, excluded_indices, out):
    """Add, per item, the log-probability of missing the tied cuts' top k.

    For each given user, every candidate whose score equals the user's cut
    misses the user's top k with probability ``exp(log_miss)``; users'
    tie orders are independent, so the log-probabilities add up per item.

    Parameters
    ----------
    scores : ndarray, shape (n_rows, n_items), float32 or float64
    rows, users : ndarray, shape (n_tied,), int64
        Score row and CSR index of each user whose cut is tied.
    cuts, log_miss : ndarray, shape (n_tied,), float64
        From :func:`rank_block`.
    excluded_indptr : ndarray, shape (n_users + 1,), int64
    excluded_indices : ndarray, shape (n_excluded_pairs,), int32
    out : ndarray, shape (n_items,), float64
        Accumulated in place.
    """
    n_items = scores.shape[1]
    n_tasks = (n_items + ITEMS_PER_TASK - 1) // ITEMS_PER_TASK
    # Tasks own disjoint item ranges, so their writes to `out` never collide.
    arguments = (scores, rows, users, cuts, log_miss, excluded_indptr, excluded_indices, out)
    run_in_ranges(_tied_cut_tasks, n_tasks, arguments)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _tied_cut_tasks(first, last, scores, rows, users, cuts, log_miss, excluded_indptr, excluded_indices, out):
    """:func:`tied_cut_log_miss` for item tasks ``first .. last - 1`` (serial)."""
    n_items = scores.shape[1]
    for task in range(first, last):
        start = task * ITEMS_PER_TASK
        stop = min(start + ITEMS_PER_TASK, n_items)
        for t in range(rows.shape[0]):
            row = scores[rows[t]]
            cut = cuts[t]
            user = users[t]
            excluded = excluded_indices[excluded_indptr[user] : excluded_indptr[user + 1]]
            for i in range(start, stop):
                if row[i] == cut:
                    if excluded.shape[0] > 0 and _contains(excluded, i):
                        continue
                    out[i] += log_miss[t]

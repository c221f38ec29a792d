"""The ranking kernels in plain numpy, for workloads too small to repay a compile.

:func:`rank_block` and :func:`tied_cut_log_miss` take and write exactly what
their namesakes in :mod:`tripletrec.kernels.ranking` do, and compute the same
values: the same counts, the same formulas, each sum and product taken in
the kernel's order. They exist because compiling the ranking kernels costs
seconds the first time (see :mod:`tripletrec._compile_notice`) while numpy
ranks a MovieLens-100k-sized block in tens of milliseconds;
:func:`tripletrec.metrics.evaluate` picks one or the other by the size of the
work (its ``_NUMPY_SCORES``).

How the counts are found without a per-user loop: each user's row is copied
with its excluded items set to NaN, the rows are sorted (NaN goes last, so a
row starts with its candidates' scores in ascending order), and one binary
search, run for all positives at once, counts the candidates below and tied
with each positive. The metrics then follow per tie group of positives with
``np.bincount``, which adds its weights one after the other in input order:
the groups are listed from the highest score down, as the kernel visits
them, so each user's sums see the same terms in the same order.
"""

from __future__ import annotations

import numpy as np

from .ranking import AUC, AVERAGE_PRECISION, HIT, NDCG, PRECISION, RECALL, RECIPROCAL_RANK

__all__ = ["rank_block", "tied_cut_log_miss"]


def _concatenated_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)


def _count_sorted(ordered: np.ndarray, owners: np.ndarray, values: np.ndarray, limits: np.ndarray, strict: bool):
    """Per query, how many of ``ordered[owner, :limit]`` are < (``strict``) or <= its value.

    A binary search run for every query at once: ``ordered`` rows are
    ascending over their first ``limits[row]`` entries.

    Parameters
    ----------
    ordered : ndarray, shape (n_rows, n_columns)
    owners : ndarray, shape (n_queries,), int64
        The row each query searches.
    values : ndarray, shape (n_queries,)
    limits : ndarray, shape (n_rows,), int64
    strict : bool

    Returns
    -------
    ndarray, shape (n_queries,), int64
    """
    low = np.zeros(len(values), dtype=np.int64)
    high = limits[owners].astype(np.int64)
    last_column = max(ordered.shape[1] - 1, 0)
    # Each step at least halves every open range high - low <= n_columns.
    for _ in range(int(ordered.shape[1]).bit_length()):
        middle = (low + high) >> 1
        probe = ordered[owners, np.minimum(middle, last_column)]
        passed = (probe < values) if strict else (probe <= values)
        open_range = low < high
        low = np.where(open_range & passed, middle + 1, low)
        high = np.where(open_range & ~passed, middle, high)
    return low


def _row_entries(indptr: np.ndarray, indices: np.ndarray, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row within the block, item) of every CSR entry of ``users``, row by row."""
    starts = indptr[users].astype(np.int64)
    counts = indptr[users + 1] - starts
    owners = np.repeat(np.arange(len(users), dtype=np.int64), counts)
    return owners, indices[_concatenated_ranges(starts, counts)].astype(np.int64)


def rank_block(scores, rows, users, positives_csr, excluded_csr, k, discounts, with_top_k, out):
    """Rank metrics (and optionally the top-k items) of a block of users, in numpy.

    Parameters and outputs are those of :func:`tripletrec.kernels.ranking.rank_block`.
    As there, a user whose row holds a NaN gets a non-zero ``nan_counts``
    entry (1 when a positive's score is NaN, else the row's NaN count) and
    nothing else is written for them.
    """
    metrics_out, nan_out, top_items_out, cut_out, log_miss_out = out
    if len(rows) == 0:
        return
    n_items = scores.shape[1]
    block = scores[rows]  # a copy: excluded items are overwritten below
    owners, items = _row_entries(positives_csr.indptr, positives_csr.indices, users)
    positive_scores = block[owners, items]
    nan_counts = np.count_nonzero(np.isnan(block), axis=1)
    nan_counts[owners[np.isnan(positive_scores)]] = 1
    nan_out[:] = nan_counts
    clean = np.flatnonzero(nan_counts == 0)
    if len(clean) < len(rows):
        # Rare (evaluate refuses NaN): restrict everything to the clean users.
        block = block[clean]
        users = users[clean]
        owners, items = _row_entries(positives_csr.indptr, positives_csr.indices, users)
        positive_scores = block[owners, items]
    n_users = len(users)
    if n_users == 0:
        return

    excluded_owners, excluded_items = _row_entries(excluded_csr.indptr, excluded_csr.indices, users)
    n_candidates = n_items - np.bincount(excluded_owners, minlength=n_users)
    block[excluded_owners, excluded_items] = np.nan
    ordered = np.sort(block, axis=1)

    # Positives ascending within each user (owners stay grouped: they lead the sort).
    order = np.lexsort((positive_scores, owners))
    positive_scores = positive_scores[order]
    below = _count_sorted(ordered, owners, positive_scores, n_candidates, strict=True)
    equal = _count_sorted(ordered, owners, positive_scores, n_candidates, strict=False) - below
    n_positives = np.bincount(owners, minlength=n_users)
    first_positive = np.cumsum(n_positives) - n_positives
    place = np.arange(len(owners), dtype=np.int64) - first_positive[owners]

    # Tie groups of positives: [low, high] places of one user with one score.
    same_as_next = np.zeros(len(owners), dtype=bool)
    same_as_next[:-1] = (owners[1:] == owners[:-1]) & (positive_scores[1:] == positive_scores[:-1])
    same_as_previous = np.zeros(len(owners), dtype=bool)
    same_as_previous[1:] = same_as_next[:-1]
    # Highest group first within each user, as the kernel's loop runs.
    highs = np.flatnonzero(~same_as_next)[::-1]
    lows = np.flatnonzero(~same_as_previous)[::-1]
    group_owner = owners[highs]
    group_positives = highs - lows + 1
    group_size = equal[highs]
    group_below = below[highs]
    group_low = place[lows]
    positives_above = n_positives[group_owner] - 1 - place[highs]
    n_above = n_candidates[group_owner] - group_below - group_size

    def per_user(weights, where=None):
        # np.bincount adds weights one by one in input order: the kernel's order.
        if where is None:
            return np.bincount(group_owner, weights, minlength=n_users)
        return np.bincount(group_owner[where], weights, minlength=n_users)

    auc_sum = per_user(group_positives * ((group_below - group_low) + 0.5 * (group_size - group_positives)))
    share = group_positives / group_size
    in_top = n_above < k
    slots = np.minimum(k - n_above, group_size)
    top_groups = np.flatnonzero(in_top)
    expected_hits = per_user(slots[in_top] * share[in_top], top_groups)
    start = n_above[in_top]
    dcg = per_user(share[in_top] * (discounts[start + slots[in_top]] - discounts[start]), top_groups)
    # Average precision: one term per (group, offset) of the groups reaching the top k.
    spread = np.zeros(len(highs))
    several = group_size > 1
    spread[several] = (group_positives[several] - 1) / (group_size[several] - 1)
    term_group = np.repeat(top_groups, slots[in_top])
    offset = _concatenated_ranges(np.zeros(len(top_groups), dtype=np.int64), slots[in_top])
    precision_terms = (
        share[term_group]
        * (positives_above[term_group] + 1 + offset * spread[term_group])
        / (n_above[term_group] + offset + 1)
    )
    precision_sum = np.bincount(group_owner[term_group], precision_terms, minlength=n_users)

    # The highest tie group of each user decides hit rate and reciprocal rank.
    is_top = positives_above == 0
    hit, reciprocal_rank = _hit_and_reciprocal_rank(
        group_positives[is_top], group_size[is_top], n_above[is_top], share[is_top], group_owner[is_top], k, n_users
    )

    n_negatives = n_candidates - n_positives
    ideal_count = np.minimum(k, n_positives)
    metrics = np.empty((n_users, metrics_out.shape[1]), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        metrics[:, AUC] = np.where(n_negatives > 0, auc_sum / (n_positives * n_negatives), np.nan)
    metrics[:, PRECISION] = expected_hits / k
    metrics[:, RECALL] = expected_hits / n_positives
    metrics[:, NDCG] = dcg / discounts[ideal_count]
    metrics[:, AVERAGE_PRECISION] = precision_sum / ideal_count
    metrics[:, HIT] = hit
    metrics[:, RECIPROCAL_RANK] = reciprocal_rank
    metrics_out[clean] = metrics
    if with_top_k:
        _top_k_outputs(block, ordered, n_candidates, k, clean, (top_items_out, cut_out, log_miss_out))


def _hit_and_reciprocal_rank(group_positives, group_size, n_above, share, owner, k, n_users):
    """Hit rate and reciprocal rank from each user's highest tie group (one per user)."""
    hit = np.zeros(n_users)
    negatives = group_size - group_positives
    reaches = n_above < k
    slots = np.minimum(k - n_above, group_size)
    hit[owner[reaches & (slots > negatives)]] = 1.0
    # Otherwise P(the first `slots` places hold no positive), multiplied
    # place by place as the kernel does (multiply.reduceat is sequential).
    product = np.flatnonzero(reaches & (slots <= negatives))
    if len(product):
        place = _concatenated_ranges(np.zeros(len(product), dtype=np.int64), slots[product])
        which = np.repeat(product, slots[product])
        ratios = (negatives[which] - place) / (group_size[which] - place)
        starts = np.cumsum(slots[product]) - slots[product]
        hit[owner[product]] = 1.0 - np.multiply.reduceat(ratios, starts)

    # Reciprocal rank: P(first positive at offset j) * 1 / (n_above + j + 1),
    # the probabilities built by the kernel's running product; a table with a
    # row per user whose top group holds a tied negative (padded with ones /
    # zeros), so cumprod and cumsum run along each row in order.
    reciprocal_rank = np.zeros(n_users)
    last_offset = negatives
    plain = last_offset == 0
    reciprocal_rank[owner[plain]] = share[plain] / (n_above[plain] + 1)
    tied = np.flatnonzero(~plain)
    if len(tied):
        width = int(last_offset[tied].max()) + 1
        offsets = np.arange(width, dtype=np.int64)
        g = group_size[tied][:, None]
        m = group_positives[tied][:, None]
        valid = offsets[None, :] <= last_offset[tied][:, None]
        factors = np.ones((len(tied), width))
        step = offsets[None, :-1] < last_offset[tied][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = (g - offsets[None, :-1] - m) / (g - offsets[None, :-1] - 1)
        factors[:, 0] = share[tied]
        factors[:, 1:] = np.where(step, ratios, 1.0)
        probability = np.cumprod(factors, axis=1)
        terms = np.where(valid, probability / (n_above[tied][:, None] + offsets[None, :] + 1), 0.0)
        reciprocal_rank[owner[tied]] = np.cumsum(terms, axis=1)[:, -1]
    return hit, reciprocal_rank


def _top_k_outputs(block, ordered, n_candidates, k, clean, out):
    """The top-k outputs of :func:`rank_block` for the clean users.

    ``block`` holds the users' scores with excluded items set to NaN and
    ``ordered`` the same rows sorted; ``out`` is ``(top_items, cuts, log_miss)``.
    """
    top_items_out, cut_out, log_miss_out = out
    n_users = len(block)
    users = np.arange(n_users, dtype=np.int64)
    filled = np.minimum(k, n_candidates)
    cut = ordered[users, n_candidates - filled]
    n_not_above = _count_sorted(ordered, users, cut, n_candidates, strict=False)
    n_at_cut = n_not_above - _count_sorted(ordered, users, cut, n_candidates, strict=True)
    n_above = n_candidates - n_not_above
    slots = filled - n_above
    certain = slots >= n_at_cut
    # Excluded items are NaN in block: neither above nor at the cut.
    chosen = (block > cut[:, None]) | (certain[:, None] & (block == cut[:, None]))
    owner, item = np.nonzero(chosen)
    found = np.bincount(owner, minlength=n_users)
    position = np.arange(len(owner)) - (np.cumsum(found) - found)[owner]
    top_items = np.full((n_users, top_items_out.shape[1]), -1, dtype=top_items_out.dtype)
    top_items[owner, position] = item
    top_items_out[clean] = top_items
    cut_out[clean] = np.where(certain, np.nan, cut)
    log_miss = np.zeros(n_users)
    uncertain = ~certain
    log_miss[uncertain] = np.log1p(-slots[uncertain] / n_at_cut[uncertain])
    log_miss_out[clean] = log_miss


def tied_cut_log_miss(scores, rows, users, cuts, log_miss, excluded_indptr, excluded_indices, out):
    """Add, per item, the log-probability of missing the tied cuts' top k, in numpy.

    Parameters and effect are those of
    :func:`tripletrec.kernels.ranking.tied_cut_log_miss`; each item's terms
    are added in the order of the users, as there.
    """
    if len(rows) == 0:
        return
    at_cut = scores[rows] == np.asarray(cuts)[:, None]
    owners, items = _row_entries(excluded_indptr, excluded_indices, users)
    at_cut[owners, items] = False
    # Row 0 is what out held; cumsum down the rows adds each user's term in turn.
    terms = np.zeros((len(rows) + 1, scores.shape[1]))
    terms[0] = out
    terms[1:] = np.where(at_cut, np.asarray(log_miss)[:, None], 0.0)
    touched = at_cut.any(axis=0)
    out[touched] = np.cumsum(terms[:, touched], axis=0)[-1]

"""Kernels of the planted synthetic data generator.

The random numbers come from SplitMix64 [1]_, a counter-based generator
seeded per user from ``(seed, user)``, so the items a user gets depend only on
the seed and the user, never on how ``prange`` hands users to threads: one
thread and many threads give identical output.

The sampling loop is bound by memory latency (every candidate item is a
random row of a table far larger than L2), so items are handled by
popularity rank (the hot rows sit together), factors are int8 codes, and
proposals are drawn a few ahead of their use, with their scratch entry and
factor row prefetched.

References
----------
.. [1] G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom
   number generators", OOPSLA 2014.
"""

from __future__ import annotations

import numba
import numpy as np

from .prefetch import prefetch
from .training import build_alias_table as vose_alias_table

__all__ = [
    "alias_probabilities",
    "build_alias_table",
    "exp_nonpositive",
    "sample_user_items",
    "shuffled_positions",
    "splitmix64",
    "user_stream_state",
]

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_MULTIPLIER_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_MULTIPLIER_2 = np.uint64(0x94D049BB133111EB)
_LOW_32_BITS = np.uint64(0xFFFFFFFF)
_TWO_TO_MINUS_53 = 1.0 / 9007199254740992.0
_ALIAS_BITS = np.int64(33)
_ALIAS_SHIFT = np.int64(2**33)
_CUT_MASK = np.int64(2**33 - 1)
_LAST_PICK_STAMP = np.int16(-(2**15) + 1)
# Proposals drawn ahead of their check, so that their memory arrives in time
# (a power of two).
_PIPELINE_DEPTH = 8
_PIPELINE_MASK = _PIPELINE_DEPTH - 1
# 1 / k! for k = 0 .. 12: Taylor coefficients of exp.
_EXP_TAYLOR = 1.0 / np.cumprod(np.concatenate(([1.0], np.arange(1.0, 13.0))))

# Users per parallel task: large enough to amortise the per-task scratch
# arrays, small enough that skewed user activity still balances over threads.
USERS_PER_TASK = 256


@numba.njit(cache=True)
def splitmix64(state):
    """Advance a SplitMix64 state.

    Parameters
    ----------
    state : uint64
        Pass a ``numpy.uint64``: numba types a Python int below ``2**63`` as
        int64, and mixed int64 / uint64 arithmetic is floating point.

    Returns
    -------
    next_state : uint64
    output : uint64
        64 uniformly distributed random bits.
    """
    state = state + _GOLDEN_GAMMA
    mixed = state
    mixed = (mixed ^ (mixed >> np.uint64(30))) * _MIX_MULTIPLIER_1
    mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX_MULTIPLIER_2
    return state, mixed ^ (mixed >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (float64), vectorisable: no call to libm.

    ``exp(x) = exp(x / 128) ** 128``: a degree-12 Taylor polynomial on
    ``[-100 / 128, 0]`` and seven squarings; relative error below 1e-8.
    Arguments below -100 count as -100 (a softmax weight under 4e-44 next
    to the best candidate's 1 changes nothing).
    """
    z = max(x, -100.0) * (1.0 / 128.0)
    y = _EXP_TAYLOR[-1]
    for power in range(len(_EXP_TAYLOR) - 2, -1, -1):
        y = y * z + _EXP_TAYLOR[power]
    for _ in range(7):
        y = y * y
    return y


@numba.njit(cache=True)
def user_stream_state(seed, stream):
    """Starting SplitMix64 state (uint64) of random stream ``stream`` under ``seed`` (uint64).

    :func:`sample_user_items` gives user ``u`` stream ``2 u`` for proposals
    and ``2 u + 1`` for choices.
    """
    _, state = splitmix64(seed ^ (np.uint64(stream) * _MIX_MULTIPLIER_2))
    return state


@numba.njit(cache=True)
def _mix64(value):
    """SplitMix64's output function: a bijective scramble of 64 bits."""
    value = (value ^ (value >> np.uint64(30))) * _MIX_MULTIPLIER_1
    value = (value ^ (value >> np.uint64(27))) * _MIX_MULTIPLIER_2
    return value ^ (value >> np.uint64(31))


@numba.njit(cache=True, parallel=True)
def shuffled_positions(n, seed):
    """A pseudorandom permutation of ``0 .. n - 1``, computed in parallel.

    Position ``i`` goes through a 4-round (unbalanced) Feistel network [3]_
    over the ``b`` bits that cover ``n - 1``: its low and high parts are in
    turn XORed with a keyed scramble of the other part, a bijection of
    ``0 .. 2**b - 1``. While the result is ``>= n`` the network is applied
    again (cycle walking), which keeps it a bijection of ``0 .. n - 1``;
    ``2**b < 2 n``, so that takes under two rounds on average. Unlike a
    shuffle, every entry is computed independently of the others.

    Parameters
    ----------
    n : int
        At least 1.
    seed : uint64

    Returns
    -------
    ndarray, shape (n,), int64

    References
    ----------
    .. [3] M. Luby and C. Rackoff, "How to construct pseudorandom
       permutations from pseudorandom functions", SIAM J. Comput. 17(2), 1988.
    """
    n_bits = 1
    while (np.int64(1) << n_bits) < n:
        n_bits += 1
    low_bits = np.uint64(n_bits // 2)
    low_mask = (np.uint64(1) << low_bits) - np.uint64(1)
    high_mask = (np.uint64(1) << np.uint64(n_bits - n_bits // 2)) - np.uint64(1)
    round_keys = np.empty(4, dtype=np.uint64)
    state = seed
    for round_index in range(4):
        state, round_keys[round_index] = splitmix64(state)
    limit = np.uint64(n)
    positions = np.empty(n, dtype=np.int64)
    for index in numba.prange(n):
        value = np.uint64(index)
        while True:
            high = value >> low_bits
            low = value & low_mask
            low ^= _mix64(high ^ round_keys[0]) & low_mask
            high ^= _mix64(low ^ round_keys[1]) & high_mask
            low ^= _mix64(high ^ round_keys[2]) & low_mask
            high ^= _mix64(low ^ round_keys[3]) & high_mask
            value = (high << low_bits) | low
            if value < limit:
                break
        positions[index] = np.int64(value)
    return positions


@numba.njit(cache=True)
def build_alias_table(probabilities):
    """Walker's alias table [2]_ (Vose's construction), packed for O(1) sampling.

    Parameters
    ----------
    probabilities : ndarray, shape (n,), float64
        Non-negative, summing to 1; ``n < 2**30``.

    Returns
    -------
    table : ndarray, shape (n,), int64
        Entry ``b`` packs ``alias[b] * 2**33 + threshold[b]`` with
        ``threshold[b]`` in ``0 .. 2**32``: bucket ``b`` yields ``b`` when 32
        uniform random bits are below ``threshold[b]``, else ``alias[b]``. One
        8-byte entry per bucket: one cache line per proposal.

    References
    ----------
    .. [2] A. J. Walker, "An efficient method for generating discrete random
       variables with general distributions", ACM TOMS 3(3), 1977.
    """
    n = probabilities.shape[0]
    threshold, alias = vose_alias_table(probabilities)
    table = np.empty(n, dtype=np.int64)
    for bucket in range(n):
        cut = np.int64(np.round(threshold[bucket] * 4294967296.0))
        table[bucket] = np.int64(alias[bucket]) * _ALIAS_SHIFT + min(cut, np.int64(4294967296))
    return table


@numba.njit(cache=True)
def alias_probabilities(table):
    """ndarray, shape (n,), float64: the distribution a packed alias table samples."""
    n = table.shape[0]
    probabilities = np.zeros(n, dtype=np.float64)
    for bucket in range(n):
        kept = (table[bucket] % _ALIAS_SHIFT) / 4294967296.0
        probabilities[bucket] += kept / n
        probabilities[table[bucket] // _ALIAS_SHIFT] += (1.0 - kept) / n
    return probabilities


@numba.njit(cache=True, parallel=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def sample_user_items(
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
    """Each user's distinct items, chosen by softmax among proposed candidates.

    Items are handled by popularity rank (0 = most proposed). User ``u``
    picks ``indptr[u + 1] - indptr[u]`` items one after another. Its
    proposals are one stream of independent draws from the alias table (by
    popularity); one pick takes proposals from where the previous pick
    stopped, skipping ranks the user already has and repeats, until
    ``n_candidates`` distinct candidates are on the table or
    ``max_proposals`` proposals were taken. With no candidate by then, it
    proposes uniformly among all ranks under the same rule instead (drawn
    from the choice stream), repeating until a candidate turns up. It keeps
    candidate ``r`` with probability proportional to
    ``exp(user_factors[u] * code_step @ item_codes[r])`` (float32 scores,
    :func:`exp_nonpositive` of the score minus the best one; one uniform
    from the choice stream walks the cumulative weights).

    Parameters
    ----------
    indptr : ndarray, shape (n_users + 1,), int64
        Output offsets: user ``u`` fills ``items[indptr[u]:indptr[u + 1]]``.
        Needs ``indptr[u + 1] - indptr[u] <= n_items`` for every user.
    user_factors : ndarray, shape (n_users, dim), float32
    item_codes : ndarray, shape (n_items, dim), int8
        Item factors in rank order, in units of ``code_step``.
    code_step : float32
    alias_table : ndarray, shape (n_items,), int64
        The popularity distribution over ranks, from :func:`build_alias_table`.
    item_of_rank : ndarray, shape (n_items,), int32
        The item index to report for each rank.
    n_candidates : int
        At least 1.
    max_proposals : int
        At least ``n_candidates``.
    seed : uint64

    Returns
    -------
    items : ndarray, shape (indptr[-1],), int32
        Each user's item indices (``item_of_rank`` applied), ascending within
        the user.
    """
    n_users = indptr.shape[0] - 1
    n_items = item_codes.shape[0]
    dim = item_codes.shape[1]
    items = np.empty(indptr[n_users], dtype=np.int32)
    n_all = np.uint64(n_items)
    n_tasks = (n_users + USERS_PER_TASK - 1) // USERS_PER_TASK
    for task in numba.prange(n_tasks):
        first_user = task * USERS_PER_TASK
        last_user = min(n_users, first_user + USERS_PER_TASK)
        # mark[r] == the user's stamp (> 0): the user has rank r;
        # mark[r] == the pick's stamp (< 0): rank r is already a candidate.
        # Fresh stamps per user and per pick avoid clearing the array; int16
        # keeps it small enough to stay in cache.
        mark = np.zeros(n_items, dtype=np.int16)
        candidates = np.empty(n_candidates, dtype=np.int64)
        weights = np.empty(n_candidates, dtype=np.float64)
        taste = np.empty(dim, dtype=np.float32)
        # Proposals drawn but not yet checked, oldest at slot_at (-1: none).
        pending_rank = np.empty(_PIPELINE_DEPTH, dtype=np.int64)
        pick_stamp = np.int16(0)
        for user in range(first_user, last_user):
            user_stamp = np.int16(user - first_user + 1)
            # Proposals and choices read separate streams, so the pipeline's
            # look-ahead changes no random number a choice sees.
            proposal_state = user_stream_state(seed, 2 * user)
            choice_state = user_stream_state(seed, 2 * user + 1)
            pending_rank[:] = -1
            slot_at = 0
            for d in range(dim):
                taste[d] = user_factors[user, d] * code_step
            for out in range(indptr[user], indptr[user + 1]):
                if pick_stamp == _LAST_PICK_STAMP:
                    for rank in range(n_items):
                        if mark[rank] < 0:
                            mark[rank] = 0
                    pick_stamp = np.int16(0)
                pick_stamp = np.int16(pick_stamp - 1)
                n_open = 0
                n_proposed = 0
                while n_proposed < max_proposals:
                    # Draw a proposal now, check the one drawn _PIPELINE_DEPTH
                    # draws ago, whose mark and factor row were prefetched.
                    rank = pending_rank[slot_at]
                    proposal_state, bits = splitmix64(proposal_state)
                    drawn = np.int64(((bits >> np.uint64(32)) * n_all) >> np.uint64(32))
                    entry = alias_table[drawn]
                    # Branch-free: the outcome is a coin flip the CPU cannot predict.
                    use_alias = np.int64(np.int64(bits & _LOW_32_BITS) >= (entry & _CUT_MASK))
                    drawn += use_alias * ((entry >> _ALIAS_BITS) - drawn)
                    prefetch(mark, drawn)
                    prefetch(item_codes, drawn)
                    pending_rank[slot_at] = drawn
                    slot_at = (slot_at + 1) & _PIPELINE_MASK
                    if rank < 0:
                        continue  # the pipeline is still filling
                    n_proposed += 1
                    if mark[rank] != user_stamp and mark[rank] != pick_stamp:
                        mark[rank] = pick_stamp
                        candidates[n_open] = rank
                        n_open += 1
                        if n_open == n_candidates:
                            break
                while n_open == 0:
                    for _ in range(max_proposals):
                        choice_state, bits = splitmix64(choice_state)
                        rank = np.int64(((bits >> np.uint64(32)) * n_all) >> np.uint64(32))
                        if mark[rank] != user_stamp and mark[rank] != pick_stamp:
                            mark[rank] = pick_stamp
                            candidates[n_open] = rank
                            n_open += 1
                            if n_open == n_candidates:
                                break
                best = -np.inf
                for j in range(n_open):
                    codes = item_codes[candidates[j]]
                    score = np.float32(0.0)
                    for d in range(dim):
                        score += taste[d] * np.float32(codes[d])
                    weights[j] = score
                    best = max(best, weights[j])
                for j in range(n_open):
                    weights[j] = exp_nonpositive(weights[j] - best)
                total = 0.0
                for j in range(n_open):
                    total += weights[j]
                choice_state, bits = splitmix64(choice_state)
                target = np.float64(bits >> np.uint64(11)) * _TWO_TO_MINUS_53 * total
                chosen = n_open - 1
                cumulative = 0.0
                for j in range(n_open):
                    cumulative += weights[j]
                    if target < cumulative:
                        chosen = j
                        break
                rank = candidates[chosen]
                mark[rank] = user_stamp
                items[out] = item_of_rank[rank]
            items[indptr[user] : indptr[user + 1]].sort()
    return items

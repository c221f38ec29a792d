"""Random numbers and negative sampling for the training and fold-in kernels.

One xorshift64* generator [1]_ per training chunk (or per folded-in user),
its state passed in and returned; negatives drawn uniformly, among items the
user has not interacted with (``unseen``), or by popularity through an alias
table [2]_.

References
----------
.. [1] S. Vigna, "An experimental exploration of Marsaglia's xorshift
   generators, scrambled", ACM TOMS 42(4), 2016.
.. [2] A. J. Walker, "An efficient method for generating discrete random
   variables with general distributions", ACM TOMS 3(3), 1977.
"""

from __future__ import annotations

import numba
import numpy as np

from ..sampling import POPULARITY, UNSEEN
from .jit_options import INTERNAL as _INTERNAL
from .jit_options import KERNEL_OPTIONS as _OPTIONS

__all__ = [
    "build_alias_table",
    "contains_sorted",
    "draw_negative",
    "draw_negatives",
    "random_below",
    "shuffle_between",
    "xorshift64star",
]


_XORSHIFT_MULTIPLIER = np.uint64(0x2545F4914F6CDD1D)
_SHIFT_12 = np.uint64(12)
_SHIFT_25 = np.uint64(25)
_SHIFT_27 = np.uint64(27)
_SHIFT_32 = np.uint64(32)
_SHIFT_8 = np.uint64(8)
_LOW_24_BITS = np.uint64(0xFFFFFF)
_TWO_TO_MINUS_24 = np.float32(1.0 / 16777216.0)


# ------------------------------------------------------------ random numbers
@numba.njit(forceinline=True, **_OPTIONS)
def xorshift64star(state):
    """Advance a xorshift64* state [2]_.

    Parameters
    ----------
    state : uint64
        Non-zero.

    Returns
    -------
    next_state : uint64
    output : uint64
        64 random bits; the high bits are the best ones.
    """
    state ^= state >> _SHIFT_12
    state ^= state << _SHIFT_25
    state ^= state >> _SHIFT_27
    return state, state * _XORSHIFT_MULTIPLIER


@numba.njit(forceinline=True, **_OPTIONS)
def random_below(state, bound):
    """A random int64 in ``0 .. bound - 1`` (``bound`` uint64, < 2**32).

    Multiply-shift of the 32 high bits (Lemire): no division, bias below
    ``bound / 2**32``.
    """
    state, bits = xorshift64star(state)
    return state, np.int64(((bits >> _SHIFT_32) * bound) >> _SHIFT_32)


@numba.njit(forceinline=True, **_INTERNAL)
def shuffle_between(values, start, stop, state):
    # Fisher-Yates on values[start:stop].
    for slot in range(stop - 1, start, -1):
        state, offset = random_below(state, np.uint64(slot - start + 1))
        other = start + offset
        swap = values[slot]
        values[slot] = values[other]
        values[other] = swap
    return state


# ------------------------------------------------------------------ sampling
@numba.njit(forceinline=True, **_OPTIONS)
def contains_sorted(indices, start, stop, item):
    # Binary search in the user's ascending item indices.
    low = start
    high = stop
    while low < high:
        middle = (low + high) >> 1
        if indices[middle] < item:
            low = middle + 1
        else:
            high = middle
    return low < stop and indices[low] == item


@numba.njit(forceinline=True, **_INTERNAL)
def draw_negative(state, sampler, n_items_bound, alias_threshold, alias, indices, start, stop, max_draws):
    """One negative item for the user whose items are ``indices[start:stop]``."""
    if sampler == POPULARITY:
        state, bits = xorshift64star(state)
        bucket = np.int64(((bits >> _SHIFT_32) * n_items_bound) >> _SHIFT_32)
        uniform = np.float32((bits >> _SHIFT_8) & _LOW_24_BITS) * _TWO_TO_MINUS_24
        if uniform < alias_threshold[bucket]:
            return state, bucket
        return state, np.int64(alias[bucket])
    state, item = random_below(state, n_items_bound)
    if sampler == UNSEEN:
        draws = 1
        while draws < max_draws and contains_sorted(indices, start, stop, item):
            state, item = random_below(state, n_items_bound)
            draws += 1
    return state, item


@numba.njit(cache=True)
def build_alias_table(probabilities):
    """Walker's alias table (Vose's construction) for O(1) draws.

    Parameters
    ----------
    probabilities : ndarray, shape (n,), float64
        Non-negative, summing to 1.

    Returns
    -------
    threshold : ndarray, shape (n,), float64
        Bucket ``b`` returns ``b`` when a uniform draw is below
        ``threshold[b]``, else ``alias[b]``.
    alias : ndarray, shape (n,), int32
    """
    n = probabilities.shape[0]
    scaled = probabilities * n
    threshold = np.ones(n, dtype=np.float64)
    alias = np.arange(n).astype(np.int32)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    n_small = 0
    n_large = 0
    for index in range(n):
        if scaled[index] < 1.0:
            small[n_small] = index
            n_small += 1
        else:
            large[n_large] = index
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        under = small[n_small]
        n_large -= 1
        over = large[n_large]
        threshold[under] = scaled[under]
        alias[under] = over
        scaled[over] = (scaled[over] + scaled[under]) - 1.0
        if scaled[over] < 1.0:
            small[n_small] = over
            n_small += 1
        else:
            large[n_large] = over
            n_large += 1
    # What is left holds 1 up to rounding: those buckets keep themselves.
    return threshold, alias


@numba.njit(**_OPTIONS)
def draw_negatives(counts, n_draws, sampler, alias_threshold, alias, positives, max_draws, seed):
    """Draw ``n_draws`` negatives for one user with the kernels' sampler.

    For testing the compiled sampler against
    :func:`tripletrec.sampling.negative_probabilities`.

    Parameters
    ----------
    counts : ndarray, shape (n_items,), int64
        Output: ``counts[i]`` is increased by how often item ``i`` was drawn.
    n_draws : int
    sampler : int
        Code from :data:`tripletrec.sampling.SAMPLER_CODES`.
    alias_threshold : ndarray, shape (n_items,), float32
    alias : ndarray, shape (n_items,), int32
        Alias table of ``popularity`` (ignored by the other samplers).
    positives : ndarray, shape (n_positives,), int32, ascending
    max_draws : int
        ``unseen``'s bound on draws.
    seed : uint64
        Non-zero generator state.

    Returns
    -------
    uint64
        The generator state after the draws.
    """
    state = np.uint64(seed)
    bound = np.uint64(counts.shape[0])
    stop = positives.shape[0]
    for _ in range(n_draws):
        state, item = draw_negative(state, sampler, bound, alias_threshold, alias, positives, 0, stop, max_draws)
        counts[item] += 1
    return state

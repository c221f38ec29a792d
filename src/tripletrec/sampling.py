"""Negative samplers: which items a user's positives are ranked against.

=============== ================================================================
name            distribution of one negative for a user with positives ``P``
=============== ================================================================
``uniform``     every item with probability ``1 / n_items`` (the seed
                notebook's sampler); the user's own positives included.
``unseen``      uniform, but a draw that is one of the user's positives is
                redrawn, at most ``max_draws`` draws in all; the last draw is
                accepted whatever it is, so a user who has nearly every item
                cannot stall training.
``popularity``  item ``i`` with probability proportional to
                ``item_count[i] ** alpha`` [1]_; items nobody interacted with
                are never drawn.
=============== ================================================================

This module is the Python side: names, integer codes for the kernels, the
popularity alias table (built once per fit) and numpy references of each
distribution and sampler. The compiled draws live in
:mod:`tripletrec.kernels.training` and the tests compare their frequencies
with :func:`negative_probabilities`.

References
----------
.. [1] T. Mikolov, I. Sutskever, K. Chen, G. Corrado and J. Dean,
   "Distributed representations of words and phrases and their
   compositionality", NIPS 2013 (the ``count ** 0.75`` unigram sampler).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "NEGATIVE_SAMPLERS",
    "SAMPLER_CODES",
    "UNSEEN_MAX_DRAWS",
    "check_sampler",
    "sampler_code",
    "popularity_probabilities",
    "alias_table",
    "negative_probabilities",
    "sample_negatives",
]

#: Names of the negative samplers.
NEGATIVE_SAMPLERS = ("uniform", "unseen", "popularity")

#: Integer code of each sampler, as the compiled kernels receive it.
SAMPLER_CODES = {name: code for code, name in enumerate(NEGATIVE_SAMPLERS)}

UNIFORM, UNSEEN, POPULARITY = (SAMPLER_CODES[name] for name in NEGATIVE_SAMPLERS)

#: Draws the ``unseen`` sampler makes before it accepts one of the user's
#: own positives. With a user holding a fraction ``q`` of all items the
#: sampler returns a positive with probability ``q ** UNSEEN_MAX_DRAWS``.
UNSEEN_MAX_DRAWS = 8


def check_sampler(name: Any) -> str:
    """Return ``name`` if it names a sampler, else raise ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in SAMPLER_CODES:
        raise ValueError(f"negatives must be one of {', '.join(NEGATIVE_SAMPLERS)}; got {name!r}")
    return name


def sampler_code(name: str) -> int:
    """The kernels' integer code of sampler ``name`` (``ValueError`` if unknown)."""
    return SAMPLER_CODES[check_sampler(name)]


def popularity_probabilities(item_counts: Any, alpha: float) -> np.ndarray:
    """``item_counts ** alpha``, normalised to sum to 1.

    Parameters
    ----------
    item_counts : array_like, shape (n_items,), int or float
        Non-negative interaction count (or summed weight) of each item.
    alpha : float
        Exponent, >= 0: 0 is uniform over the items with a positive count,
        1 is proportional to popularity.

    Returns
    -------
    ndarray, shape (n_items,), float64
    """
    counts = np.asarray(item_counts, dtype=np.float64)
    if counts.ndim != 1:
        raise ValueError(f"item_counts must be one-dimensional, got shape {counts.shape}")
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"popularity_alpha must be a finite number >= 0, got {alpha!r}")
    if np.any(~np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("item_counts must be finite and non-negative")
    # 0 ** 0 would be 1: an item nobody interacted with must stay at 0.
    powered = np.where(counts > 0, counts ** float(alpha), 0.0)
    total = powered.sum()
    if total <= 0:
        raise ValueError("item_counts are all zero: no item to sample by popularity")
    return powered / total


def alias_table(probabilities: Any) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table [2]_ for O(1) draws from ``probabilities``.

    A draw picks a bucket ``b`` uniformly and a uniform number ``x`` in
    [0, 1); it returns ``b`` when ``x < threshold[b]``, else ``alias[b]``.

    Parameters
    ----------
    probabilities : array_like, shape (n,), float
        Non-negative, summing to 1.

    Returns
    -------
    threshold : ndarray, shape (n,), float32
    alias : ndarray, shape (n,), int32

    References
    ----------
    .. [2] A. J. Walker, "An efficient method for generating discrete random
       variables with general distributions", ACM TOMS 3(3), 1977.
    """
    from .kernels.training import build_alias_table

    probabilities = np.ascontiguousarray(probabilities, dtype=np.float64)
    threshold, alias = build_alias_table(probabilities)
    return threshold.astype(np.float32), alias.astype(np.int32)


def negative_probabilities(
    name: str,
    n_items: int,
    positives: Any = (),
    *,
    item_counts: Any = None,
    alpha: float = 0.75,
    max_draws: int = UNSEEN_MAX_DRAWS,
) -> np.ndarray:
    """Exact probability of each item being one user's negative (numpy reference).

    Parameters
    ----------
    name : {"uniform", "unseen", "popularity"}
    n_items : int
    positives : array_like of int
        The user's positive items (distinct); used by ``unseen``.
    item_counts : array_like, shape (n_items,), optional
        Needed by ``popularity``.
    alpha : float
        ``popularity``'s exponent.
    max_draws : int
        ``unseen``'s bound on draws.

    Returns
    -------
    ndarray, shape (n_items,), float64
    """
    code = sampler_code(name)
    if code == POPULARITY:
        if item_counts is None:
            raise ValueError("item_counts is required for popularity sampling")
        return popularity_probabilities(item_counts, alpha)
    uniform = np.full(n_items, 1.0 / n_items)
    if code == UNIFORM:
        return uniform
    seen = np.zeros(n_items, dtype=bool)
    seen[np.asarray(positives, dtype=np.int64)] = True
    share_seen = seen.sum() / n_items
    # An unseen item is returned by any of the max_draws draws that follows
    # only seen draws; a seen item only by the last one.
    unseen_mass = sum(share_seen**draw for draw in range(max_draws))
    return np.where(seen, share_seen ** (max_draws - 1), unseen_mass) / n_items


def sample_negatives(
    name: str,
    random: np.random.Generator,
    size: int,
    n_items: int,
    positives: Any = (),
    *,
    item_counts: Any = None,
    alpha: float = 0.75,
    max_draws: int = UNSEEN_MAX_DRAWS,
) -> np.ndarray:
    """Draw ``size`` negatives for one user with numpy (reference sampler).

    Same distributions as the kernels, drawn with ``random``; the kernels use
    their own generator, so the draws agree in distribution, not one by one.

    Returns
    -------
    ndarray, shape (size,), int64
    """
    code = sampler_code(name)
    if code == POPULARITY:
        probabilities = negative_probabilities(name, n_items, item_counts=item_counts, alpha=alpha)
        return random.choice(n_items, size=size, p=probabilities).astype(np.int64)
    items = random.integers(0, n_items, size=size)
    if code == UNSEEN:
        seen = np.zeros(n_items, dtype=bool)
        seen[np.asarray(positives, dtype=np.int64)] = True
        retry = seen[items]
        for _ in range(max_draws - 1):
            if not retry.any():
                break
            items[retry] = random.integers(0, n_items, size=int(retry.sum()))
            retry = seen[items]
    return items.astype(np.int64)

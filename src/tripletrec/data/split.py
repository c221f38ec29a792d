"""Train / test splits of an :class:`~tripletrec.data.interactions.Interactions`.

Every split returns ``(train, test)``: two sets built with
:meth:`Interactions.select` from complementary masks over the source's stored
pairs, so they never share a pair, together they are the source (weights and
timestamps included), and both keep the source's shape and id maps. Every
split is vectorised numpy; the random ones take ``seed`` (an int, a
``numpy.random.Generator`` or None for fresh entropy) and give the same split
for the same seed.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_integer, check_real
from .interactions import Interactions

__all__ = ["cold_start_items", "cold_start_users", "leave_k_out", "random_split", "temporal_split"]

_LEAVE_OUT_ORDERS = ("random", "time")


def _check_data(data) -> Interactions:
    if not isinstance(data, Interactions):
        raise ValueError(f"data must be a tripletrec.Interactions, got {type(data).__name__}")
    return data


def _check_fraction(value, name: str) -> float:
    return check_real(value, name, low=0.0, high=1.0, low_open=True, high_open=True)


def _check_count(value, name: str, minimum: int) -> int:
    return check_integer(value, name, low=minimum)


def _generator(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_integer(seed, "seed", low=0, allow_none=True))


def _order_within_users(users: np.ndarray, keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Stable order of the pairs by (user, key); ``0 <= keys < n_keys``, int64.

    Packs both into one int64 when they fit (one radix-friendly argsort,
    an order of magnitude faster than ``np.lexsort`` on millions of pairs).
    Equal keys keep the stored order, that is ascending item within a user.
    """
    key_bits = max(1, int(n_keys - 1).bit_length())
    user_bits = max(1, int(users.max(initial=0)).bit_length())
    if user_bits + key_bits <= 62:
        return np.argsort((users << key_bits) | keys, kind="stable")
    return np.lexsort((keys, users))


def _split(data: Interactions, test_mask: np.ndarray) -> tuple[Interactions, Interactions]:
    return data.select(~test_mask), data.select(test_mask)


def random_split(data: Interactions, test_fraction: float = 0.2, seed=None) -> tuple[Interactions, Interactions]:
    """Send a random ``test_fraction`` of the pairs to test.

    Parameters
    ----------
    data : Interactions
    test_fraction : float
        In (0, 1). Exactly ``round(test_fraction * len(data))`` pairs go to
        test, chosen uniformly without replacement.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    train, test : Interactions
        Same shape and id maps as ``data``.

    Examples
    --------
    >>> from tripletrec import Interactions
    >>> data = Interactions.from_indices([0, 0, 1, 1, 2], [0, 1, 1, 2, 0], shape=(3, 3))
    >>> train, test = random_split(data, test_fraction=0.4, seed=0)
    >>> len(train), len(test)
    (3, 2)
    """
    data = _check_data(data)
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    rng = _generator(seed)
    n_pairs = len(data)
    n_test = int(round(test_fraction * n_pairs))
    test_mask = np.zeros(n_pairs, dtype=bool)
    test_mask[rng.choice(n_pairs, n_test, replace=False)] = True
    return _split(data, test_mask)


def leave_k_out(
    data: Interactions,
    k: int = 1,
    by: str = "random",
    seed=None,
    min_train: int = 1,
) -> tuple[Interactions, Interactions]:
    """Hold out ``k`` pairs of every user.

    Parameters
    ----------
    data : Interactions
    k : int
        Test pairs per user, at least 1.
    by : {"random", "time"}
        ``"random"``: ``k`` pairs chosen uniformly among the user's pairs
        (by 32 random bits per pair; the rare tie goes to the larger item
        index). ``"time"``: the user's ``k`` latest pairs by timestamp; among
        equal timestamps the pair with the larger item index counts as
        later, so the choice is deterministic. Needs timestamps.
    seed : int, numpy.random.Generator or None
        Only used by ``by="random"``.
    min_train : int
        At least 0. A user with fewer than ``k + min_train`` pairs is not
        split: all of their pairs stay in train (and they have no test pair).

    Returns
    -------
    train, test : Interactions
        Same shape and id maps as ``data``.

    Examples
    --------
    >>> from tripletrec import Interactions
    >>> data = Interactions.from_indices(
    ...     [0, 0, 0, 1], [0, 1, 2, 0], timestamps=[5, 9, 7, 1], shape=(2, 3))
    >>> train, test = leave_k_out(data, by="time")
    >>> test.items_of(0).tolist(), len(test.items_of(1))
    ([1], 0)
    """
    data = _check_data(data)
    k = _check_count(k, "k", 1)
    min_train = _check_count(min_train, "min_train", 0)
    if by not in _LEAVE_OUT_ORDERS:
        raise ValueError(f"by must be one of {', '.join(map(repr, _LEAVE_OUT_ORDERS))}; got {by!r}")
    users = data.user_index()
    if by == "time":
        if data.timestamps is None:
            raise ValueError("leave_k_out(by='time') needs timestamps, but data has none")
        distinct_times, time_rank = np.unique(data.timestamps, return_inverse=True)
        order = _order_within_users(users, time_rank.reshape(-1), len(distinct_times))
    else:
        rng = _generator(seed)
        order = _order_within_users(users, rng.integers(0, 2**32, len(data)), 2**32)
    counts = data.user_counts()
    # order keeps users contiguous in CSR order, so position - indptr[user]
    # is the pair's rank within its user (0 = earliest / first drawn).
    rank_in_user = np.arange(len(data), dtype=np.int64) - data.indptr[users]
    from_end = counts[users] - 1 - rank_in_user
    in_test = (from_end < k) & (counts[users] >= k + min_train)
    test_mask = np.zeros(len(data), dtype=bool)
    test_mask[order[in_test]] = True
    return _split(data, test_mask)


def temporal_split(
    data: Interactions, cutoff: int | None = None, test_fraction: float | None = None
) -> tuple[Interactions, Interactions]:
    """One global time cut: pairs at or after the cutoff are test.

    Give exactly one of ``cutoff`` and ``test_fraction``.

    Parameters
    ----------
    data : Interactions
        Must have timestamps.
    cutoff : int, optional
        Pairs with ``timestamp >= cutoff`` go to test, the rest to train.
    test_fraction : float, optional
        In (0, 1). The cutoff becomes the timestamp of the pair at position
        ``len(data) - round(test_fraction * len(data))`` in time order (the
        ``1 - test_fraction`` quantile), so the latest ``test_fraction`` of
        the pairs go to test; pairs sharing the cutoff's timestamp all go to
        test, so ties can make the test set larger.

    Returns
    -------
    train, test : Interactions
        Same shape and id maps as ``data``.

    Examples
    --------
    >>> from tripletrec import Interactions
    >>> data = Interactions.from_indices(
    ...     [0, 0, 1, 1], [0, 1, 0, 1], timestamps=[1, 4, 2, 3], shape=(2, 2))
    >>> train, test = temporal_split(data, test_fraction=0.5)
    >>> sorted(test.timestamps.tolist())
    [3, 4]
    """
    data = _check_data(data)
    if (cutoff is None) == (test_fraction is None):
        raise ValueError("temporal_split needs exactly one of cutoff and test_fraction")
    if data.timestamps is None:
        raise ValueError("temporal_split needs timestamps, but data has none")
    timestamps = data.timestamps
    if test_fraction is not None:
        test_fraction = _check_fraction(test_fraction, "test_fraction")
        n_test = int(round(test_fraction * len(data)))
        if n_test == 0:
            return _split(data, np.zeros(len(data), dtype=bool))
        cutoff = int(np.partition(timestamps, len(data) - n_test)[len(data) - n_test])
    elif isinstance(cutoff, bool) or not isinstance(cutoff, numbers.Integral):
        raise ValueError(f"cutoff must be an integer timestamp, got {cutoff!r}")
    return _split(data, timestamps >= cutoff)


def _held_out(counts: np.ndarray, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Mask of the rows (users or items) held out whole: ``round(fraction * n)`` of the ``n`` with pairs.

    At least one, and at most ``n - 1`` when ``n >= 2``, chosen uniformly without replacement.
    """
    active = np.flatnonzero(counts > 0)
    n_test = int(round(test_fraction * len(active)))
    n_test = min(max(n_test, 1), max(len(active) - 1, 1)) if len(active) else 0
    is_test = np.zeros(len(counts), dtype=bool)
    is_test[rng.permutation(active)[:n_test]] = True
    return is_test


def cold_start_items(data: Interactions, test_fraction: float = 0.2, seed=None) -> tuple[Interactions, Interactions]:
    """Hold out whole items: every pair of a test item goes to test.

    Parameters
    ----------
    data : Interactions
    test_fraction : float
        In (0, 1). ``round(test_fraction * n)`` of the ``n`` items that have
        at least one pair become test items (at least one, and at most
        ``n - 1`` when ``n >= 2``), chosen uniformly without replacement.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    train, test : Interactions
        Same shape and id maps as ``data``; no test item has a pair in
        train.

    Examples
    --------
    >>> from tripletrec import Interactions
    >>> data = Interactions.from_indices([0, 1, 1, 2], [0, 0, 1, 2], shape=(3, 4))
    >>> train, test = cold_start_items(data, test_fraction=0.34, seed=0)
    >>> set(train.indices.tolist()).isdisjoint(test.indices.tolist())
    True
    """
    data = _check_data(data)
    is_test_item = _held_out(data.item_counts(), _check_fraction(test_fraction, "test_fraction"), _generator(seed))
    return _split(data, is_test_item[data.indices])


def cold_start_users(data: Interactions, test_fraction: float = 0.2, seed=None) -> tuple[Interactions, Interactions]:
    """Hold out whole users: every pair of a test user goes to test.

    The users' counterpart of :func:`cold_start_items`, for evaluating new
    users served from their features (or folded in).

    Parameters
    ----------
    data : Interactions
    test_fraction : float
        In (0, 1). ``round(test_fraction * n)`` of the ``n`` users that have
        at least one pair become test users (at least one, and at most
        ``n - 1`` when ``n >= 2``), chosen uniformly without replacement.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    train, test : Interactions
        Same shape and id maps as ``data``; no test user has a pair in train.

    Examples
    --------
    >>> from tripletrec import Interactions
    >>> data = Interactions.from_indices([0, 1, 1, 2], [0, 0, 1, 2], shape=(3, 4))
    >>> train, test = cold_start_users(data, test_fraction=0.34, seed=0)
    >>> set(train.user_index().tolist()).isdisjoint(test.user_index().tolist())
    True
    """
    data = _check_data(data)
    is_test_user = _held_out(data.user_counts(), _check_fraction(test_fraction, "test_fraction"), _generator(seed))
    return _split(data, is_test_user[data.user_index()])

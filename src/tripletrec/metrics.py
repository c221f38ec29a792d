"""Exact ranking metrics for implicit-feedback recommenders.

:func:`evaluate` scores the test users in blocks (so memory stays bounded for
any number of users) and computes every requested metric in one pass per
user: compiled (:mod:`tripletrec.kernels.ranking`), or in numpy
(:mod:`tripletrec.kernels.ranking_numpy`, same results) when the whole
evaluation is small enough that compiling would cost more than it saves
(see :func:`evaluate`'s Notes). The per-metric functions (:func:`auc`,
:func:`precision_at_k`, ...) return one metric for every user.

Definitions
-----------
For a user ``u``:

* **candidates** are all items, minus the user's training items when
  ``train`` is given (they are removed from the ranking entirely, as LightFM's
  ``auc_score(train_interactions=...)`` does). With ``train=None`` every item
  is a candidate and training positives count as negatives.
* **positives** are the candidates the user has a test pair with. Every
  stored test pair counts as a positive whatever its weight (a stored weight
  of 0 included): threshold the test set first (``test.threshold(4)``) to
  keep only strong feedback. A test pair that is also in ``train`` is not a
  candidate, so it is not a positive either.
* Users with no positive are left out of every metric and counted in
  :attr:`Evaluation.n_skipped`.

Two AUCs
--------
* ``auc``: over the candidates above, so with ``train`` the user's training
  items are removed from the ranking (LightFM's convention).
* ``auc_all``: the seed notebook's definition: every item is a candidate and
  training items count as negatives, whatever ``train`` is. Asked for with
  ``train`` given, it costs a second ranking pass over the same scores; it is
  averaged over the same users as the other metrics. With ``train=None`` the
  two are equal.
* Candidates are ranked by decreasing score, position 1 first.

Ties: every metric is the **expected value over a uniformly random order of
tied candidates**. For AUC this is the usual "ties count 1/2"; for the @k
metrics it means a tie group of ``g`` candidates holding ``m`` positives puts
a positive at each of its positions with probability ``m / g``, so a model
that scores everything equal gets the metric of a random ranking, never one
that depends on item indices. The results are deterministic.

NaN scores are rejected; infinite scores are ranked like any other number
(two equal infinities tie).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._evaluation_inputs import ScoreSource, check_evaluation_pairs, positive_csr
from ._validation import check_integer
from .data.interactions import Interactions
from .kernels import ranking, ranking_numpy

__all__ = [
    "DEFAULT_METRICS",
    "METRIC_NAMES",
    "Evaluation",
    "auc",
    "coverage_at_k",
    "evaluate",
    "hit_rate_at_k",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]

# auc_all comes last so the established names keep their order in messages.
METRIC_NAMES = ("auc", "precision", "recall", "ndcg", "map", "hit_rate", "mrr", "coverage", "auc_all")
# auc_all is left out of the default: with train it costs a second ranking
# pass, paid only by callers who ask for it.
DEFAULT_METRICS = tuple(name for name in METRIC_NAMES if name != "auc_all")
_AT_K_METRICS = frozenset({"precision", "recall", "ndcg", "map", "hit_rate", "coverage"})
_KERNEL_COLUMN = {
    "auc": ranking.AUC,
    "auc_all": ranking.AUC,
    "precision": ranking.PRECISION,
    "recall": ranking.RECALL,
    "ndcg": ranking.NDCG,
    "map": ranking.AVERAGE_PRECISION,
    "hit_rate": ranking.HIT,
    "mrr": ranking.RECIPROCAL_RANK,
}
# Scores per block when block_size is not given: 2**24 values, 64 MiB of
# float32. Smaller blocks would stay in the last-level cache between the
# model's product and the metric pass, but every block costs two thread
# fork-joins (the product's and the kernel's), and on a busy machine each one
# can wait a scheduler tick for a paused thread: measured on 2 shared cores,
# 2**24 beat 2**22 by 1.5-2.5x and matched it when the machine was idle.
_BLOCK_SCORES = 2**24
# Up to this many scores (evaluated users x items) the ranking runs in numpy
# (kernels.ranking_numpy) rather than in the compiled kernels, with the same
# results: compiling those costs about 7 s on 2 cores the first time (then it
# is cached on disk), while numpy ranks 2**22 scores in about 0.1 s (warm
# kernels: about 0.07 s) and MovieLens 100k in about 0.04 s. Measured with
# benchmarks/first_run.py and a synthetic sweep of sizes on 2 shared cores.
_NUMPY_SCORES = 2**22


def _metric_key(name: str, k: int) -> str:
    return f"{name}@{k}" if name in _AT_K_METRICS else name


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    means : dict of str to float
        The mean of each metric over the evaluated users, keyed
        ``"auc"``, ``"auc_all"``, ``"precision@10"``, ``"recall@10"``, ``"ndcg@10"``,
        ``"map@10"``, ``"hit_rate@10"``, ``"mrr"``, ``"coverage@10"`` (for
        ``k=10``), in the order asked for. The AUC mean leaves out users whose
        AUC is undefined (no negative candidate); coverage is a catalogue
        figure, not a mean.
    per_user : dict of str to ndarray, shape (n_evaluated,), float64
        Each metric's value for each evaluated user, keyed as ``means``
        (coverage has no per-user value and is absent). AUC is NaN for a user
        without negative candidates.
    users : ndarray, shape (n_evaluated,), int64
        Dense indices of the evaluated users (those with a test positive),
        ascending; ``per_user`` arrays follow this order.
    n_skipped : int
        Users left out because they have no test positive.
    k : int
        The cut of the @k metrics.
    """

    means: dict
    per_user: dict
    users: np.ndarray
    n_skipped: int
    k: int

    @property
    def n_evaluated(self) -> int:
        """int: the number of evaluated users."""
        return len(self.users)

    def __getitem__(self, name: str) -> float:
        """The mean of metric ``name`` (``"ndcg@10"``, or just ``"ndcg"``)."""
        if name in self.means:
            return self.means[name]
        if name in METRIC_NAMES and _metric_key(name, self.k) in self.means:
            return self.means[_metric_key(name, self.k)]
        raise KeyError(f"no metric {name!r} in this evaluation; it has {', '.join(self.means)}")

    def summary(self) -> str:
        """One line per metric mean, then the user counts."""
        width = max(len(key) for key in self.means)
        lines = [f"{key:<{width}}  {value:.4f}" for key, value in self.means.items()]
        lines.append(f"{self.n_evaluated} users evaluated, {self.n_skipped} skipped (no test positive)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        figures = ", ".join(f"{key}={value:.4f}" for key, value in self.means.items())
        return f"Evaluation({figures}; {self.n_evaluated} users, {self.n_skipped} skipped)"


# ---------------------------------------------------------------- validation
def _check_metrics(metrics: str | Iterable[str]) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not names:
        raise ValueError(f"metrics is empty; choose from {', '.join(METRIC_NAMES)}")
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown:
        raise ValueError(
            f"metrics: unknown metric {', '.join(repr(name) for name in unknown)}; "
            f"valid metrics are {', '.join(METRIC_NAMES)} (k is set by the k argument)"
        )
    return tuple(dict.fromkeys(names))


def _check_block_size(block_size: Any, n_items: int) -> int:
    block_size = check_integer(block_size, "block_size", low=1, allow_none=True)
    return max(1, _BLOCK_SCORES // max(n_items, 1)) if block_size is None else block_size


def _mean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else float("nan")


# ------------------------------------------------------------------- evaluate
def evaluate(
    model_or_scores: Any,
    test: Interactions,
    train: Interactions | None = None,
    k: int = 10,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
    block_size: int | None = None,
) -> Evaluation:
    """Rank metrics of a model on a test set, per user and averaged.

    Every metric is computed for every user in the same pass over the
    user's scores; see the module docstring and the per-metric functions
    (:func:`auc`, :func:`precision_at_k`, :func:`recall_at_k`,
    :func:`ndcg_at_k`, :func:`map_at_k`, :func:`hit_rate_at_k`, :func:`mrr`,
    :func:`coverage_at_k`) for each definition, denominator and tie rule.

    Parameters
    ----------
    model_or_scores : model or ndarray, shape (n_users, n_items), float32 or float64
        A model with ``score_indices(user_indices) -> ndarray, shape (len(user_indices), n_items)``
        (an int64 array of dense user indices) and optionally
        ``n_users``, ``n_items``, ``user_ids`` and ``item_ids`` attributes,
        which must match ``test``; or a dense score matrix. Higher scores rank
        first.
    test : Interactions
        The held-out pairs; every stored pair is a positive, whatever its
        weight.
    train : Interactions, optional
        Training pairs to remove from each user's candidates (and from the
        positives): every stored pair, whatever its weight. Same shape and id
        maps as ``test``. With ``None`` every item is a candidate.
    k : int
        The cut of the @k metrics, ``1 <= k <= n_items``.
    metrics : str or sequence of str
        Any of ``"auc"``, ``"auc_all"``, ``"precision"``, ``"recall"``,
        ``"ndcg"``, ``"map"``, ``"hit_rate"``, ``"mrr"``, ``"coverage"``.
        ``"auc"`` ranks the candidates (training items removed when
        ``train`` is given); ``"auc_all"`` ranks every item, training items
        counting as negatives (the seed notebook's definition). Default:
        :data:`DEFAULT_METRICS`, every metric but ``"auc_all"``.
    block_size : int, optional
        Users scored per call of ``model.score_indices``; memory is about
        ``block_size * n_items`` scores (a few times that when the ranking
        runs in numpy, see Notes). Default: about 16 million scores (64 MiB
        of float32) per block. Does not change the results.

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        For a test set that is empty or not an :class:`Interactions`, a
        ``train`` or model whose shape or id maps differ from ``test``'s, a
        score matrix of the wrong shape, ``k`` outside ``1..n_items``, an
        unknown metric name, or NaN among an evaluated user's scores.

    Notes
    -----
    Size rule: when (users with a test positive) x ``n_items`` is at most
    2**22 scores, the ranking runs in numpy
    (:mod:`tripletrec.kernels.ranking_numpy`); above, in compiled kernels
    (:mod:`tripletrec.kernels.ranking`), whose first use compiles them for
    several seconds. Both give the same metrics.

    Examples
    --------
    >>> import numpy as np
    >>> from tripletrec import Interactions
    >>> test = Interactions.from_indices([0, 1], [2, 0], shape=(2, 3))
    >>> scores = np.array([[0.1, 0.5, 0.9], [0.2, 0.8, 0.4]])
    >>> result = evaluate(scores, test, k=1, metrics=("auc", "precision"))
    >>> result.means
    {'auc': 0.5, 'precision@1': 0.5}
    """
    names = _check_metrics(metrics)
    check_evaluation_pairs(test, train)
    k = check_integer(k, "k", low=1, high=test.n_items)
    block_size = _check_block_size(block_size, test.n_items)
    source = ScoreSource(model_or_scores, test)

    positive_indptr, positive_indices = positive_csr(test, train)
    positive_counts = np.diff(positive_indptr)
    users = np.flatnonzero(positive_counts > 0).astype(np.int64)
    if len(users) == 0:
        raise ValueError(
            "test has no positive left once the training pairs are removed: every test pair is also in train"
        )
    if train is None:
        excluded_indptr = np.zeros(test.n_users + 1, dtype=np.int64)
        excluded_indices = np.zeros(0, dtype=np.int32)
    else:
        excluded_indptr, excluded_indices = train.indptr, train.indices

    with_coverage = "coverage" in names
    discounts = ranking.discount_prefix(k)
    n_items = test.n_items
    # One choice for the whole call, so block_size never changes the path.
    kernels = ranking_numpy if len(users) * n_items <= _NUMPY_SCORES else ranking
    metric_values = np.empty((len(users), ranking.N_RANK_METRICS), dtype=np.float64)
    # auc_all ranks every item with every test pair positive; without train
    # that is the first pass, with train it needs a second pass over the same
    # scores (no second call of the model).
    all_items_pass = "auc_all" in names and excluded_indices.size > 0
    all_items_values = metric_values
    if all_items_pass:
        all_items_values = np.empty_like(metric_values)
        no_exclusion_indptr = np.zeros(test.n_users + 1, dtype=np.int64)
        no_exclusion_indices = np.zeros(0, dtype=np.int32)
    covered = np.zeros(n_items, dtype=bool)
    log_miss = np.zeros(n_items, dtype=np.float64)
    top_width = k if with_coverage else 0
    for start in range(0, len(users), block_size):
        block_users = users[start : start + block_size]
        scores, rows = source.block(block_users)
        n_block = len(block_users)
        nan_counts = np.zeros(n_block, dtype=np.int64)
        top_items = np.empty((n_block, top_width), dtype=np.int32)
        cuts = np.empty(n_block if with_coverage else 0, dtype=np.float64)
        block_log_miss = np.empty_like(cuts)
        kernels.rank_block(
            scores,
            rows,
            block_users,
            ranking.Csr(positive_indptr, positive_indices),
            ranking.Csr(excluded_indptr, excluded_indices),
            k,
            discounts,
            with_coverage,
            ranking.RankOutputs(metric_values[start : start + n_block], nan_counts, top_items, cuts, block_log_miss),
        )
        if all_items_pass:
            kernels.rank_block(
                scores,
                rows,
                block_users,
                ranking.Csr(test.indptr, test.indices),
                ranking.Csr(no_exclusion_indptr, no_exclusion_indices),
                k,
                discounts,
                False,
                ranking.RankOutputs(
                    all_items_values[start : start + n_block],
                    np.zeros(n_block, dtype=np.int64),
                    np.empty((n_block, 0), dtype=np.int32),
                    np.empty(0, dtype=np.float64),
                    np.empty(0, dtype=np.float64),
                ),
            )
        if nan_counts.any():
            first = int(np.flatnonzero(nan_counts)[0])
            user = int(block_users[first])
            raise ValueError(
                f"scores contain NaN for user index {user} (user id "
                f"{test.user_ids.ids[user].item()!r}); the score row of every evaluated "
                "user must be free of NaN"
            )
        if with_coverage:
            covered[top_items[top_items >= 0]] = True
            tied = np.flatnonzero(~np.isnan(cuts))
            if len(tied):
                kernels.tied_cut_log_miss(
                    scores,
                    rows[tied],
                    block_users[tied],
                    cuts[tied],
                    block_log_miss[tied],
                    excluded_indptr,
                    excluded_indices,
                    log_miss,
                )

    means: dict[str, float] = {}
    per_user: dict[str, np.ndarray] = {}
    for name in names:
        key = _metric_key(name, k)
        if name == "coverage":
            # An item covered for sure counts 1; otherwise the probability
            # that at least one user's random tie order puts it in the top k.
            uncovered_log_miss = log_miss[~covered]
            expected = covered.sum() + float(np.sum(-np.expm1(uncovered_log_miss)))
            means[key] = float(expected / n_items)
            continue
        source_values = all_items_values if name == "auc_all" else metric_values
        values = np.ascontiguousarray(source_values[:, _KERNEL_COLUMN[name]])
        per_user[key] = values
        means[key] = _mean(values)
    return Evaluation(
        means=means,
        per_user=per_user,
        users=users,
        n_skipped=int(test.n_users - len(users)),
        k=k,
    )


# ------------------------------------------------------- one metric, all users
def _per_user(
    name: str, model_or_scores: Any, test: Interactions, train: Interactions | None, k: int, block_size: int | None
) -> np.ndarray:
    result = evaluate(model_or_scores, test, train, k=k, metrics=(name,), block_size=block_size)
    values = np.full(test.n_users, np.nan, dtype=np.float64)
    values[result.users] = result.per_user[_metric_key(name, k)]
    return values


def auc(
    model_or_scores: Any, test: Interactions, train: Interactions | None = None, *, block_size: int | None = None
) -> np.ndarray:
    """Per-user ROC AUC of the test positives against the other candidates.

    ``AUC(u) = (#{(p, n): s_p > s_n} + 0.5 * #{(p, n): s_p == s_n}) / (P * N)``
    over the user's positives ``p`` and negative candidates ``n`` (``P``
    positives, ``N`` negatives): the probability that a random positive
    outscores a random negative, ties counting one half. This is exactly
    scikit-learn's ``roc_auc_score(test_row > 0, scores_row)`` over the
    candidates. With ``train=None`` the negatives are all the other items
    (training positives included); with ``train`` they exclude the user's
    training items, as LightFM's ``auc_score(train_interactions=...)``.

    Parameters
    ----------
    model_or_scores, test, train, block_size
        As for :func:`evaluate`.

    Returns
    -------
    ndarray, shape (n_users,), float64
        NaN for users without a positive, and for users whose candidates are
        all positives (no negative: AUC undefined).
    """
    return _per_user("auc", model_or_scores, test, train, 1, block_size)


def precision_at_k(
    model_or_scores: Any,
    test: Interactions,
    train: Interactions | None = None,
    k: int = 10,
    *,
    block_size: int | None = None,
) -> np.ndarray:
    """Per-user precision@k: positives among the top k, divided by k.

    The denominator is always ``k``: a user with fewer than ``k`` positives
    scores at most ``P / k``, and a user with fewer than ``k`` candidates
    (after removing training items) has a top list shorter than ``k`` and
    scores at most ``n_candidates / k``. Ties at the cut count their expected
    number of positives: a tie group of ``g`` candidates holding ``m``
    positives with ``r`` places left in the top k adds ``r * m / g``.

    Returns
    -------
    ndarray, shape (n_users,), float64
        NaN for users without a positive.
    """
    return _per_user("precision", model_or_scores, test, train, k, block_size)


def recall_at_k(
    model_or_scores: Any,
    test: Interactions,
    train: Interactions | None = None,
    k: int = 10,
    *,
    block_size: int | None = None,
) -> np.ndarray:
    """Per-user recall@k: positives among the top k, divided by the user's positives.

    The denominator is ``P``, the number of test positives (not
    ``min(k, P)``: a user with more than ``k`` positives cannot reach 1).
    Ties at the cut as for :func:`precision_at_k`.

    Returns
    -------
    ndarray, shape (n_users,), float64
        NaN for users without a positive.
    """
    return _per_user("recall", model_or_scores, test, train, k, block_size)


def ndcg_at_k(
    model_or_scores: Any,
    test: Interactions,
    train: Interactions | None = None,
    k: int = 10,
    *,
    block_size: int | None = None,
) -> np.ndarray:
    """Per-user NDCG@k with binary relevance.

    ``DCG = sum over positions i = 1..k of rel_i / log2(i + 1)`` and the
    ideal ``IDCG = sum over i = 1..min(k, P) of 1 / log2(i + 1)``; NDCG is
    their ratio, in [0, 1]. Ties: each position occupied by a tie group of
    ``g`` candidates holding ``m`` positives has relevance ``m / g`` (the
    expected value), which is what scikit-learn's ``ndcg_score`` does with
    ``ignore_ties=False``.

    Returns
    -------
    ndarray, shape (n_users,), float64
        NaN for users without a positive.
    """
    return _per_user("ndcg", model_or_scores, test, train, k, block_size)


def map_at_k(
    model_or_scores: Any,
    test: Interactions,
    train: Interactions | None = None,
    k: int = 10,
    *,
    block_size: int | None = None,
) -> np.ndarray:
    """Per-user average precision at k (its mean over users is MAP@k).

    ``AP@k = sum over positions i <= k holding a positive of precision@i,
    divided by min(k, P)``. With ``k >= n_items`` and no ties this equals
    scikit-learn's ``average_precision_score``. Ties: the expected value over
    a random order of each tie group (for a position at offset ``j`` of a
    group of ``g`` holding ``m`` positives, after ``h`` positives above the
    group: ``(m / g) * (h + 1 + j (m - 1) / (g - 1)) / i``).

    Returns
    -------
    ndarray, shape (n_users,), float64
        NaN for users without a positive.
    """
    return _per_user("map", model_or_scores, test, train, k, block_size)


def hit_rate_at_k(
    model_or_scores: Any,
    test: Interactions,
    train: Interactions | None = None,
    k: int = 10,
    *,
    block_size: int | None = None,
) -> np.ndarray:
    """Per-user hit rate@k: 1 if a positive is in the top k, else 0.

    Ties at the cut give the probability that a random order of the tie group
    puts at least one of its positives in the ``r`` places left:
    ``1 - C(g - m, r) / C(g, r)``.

    Returns
    -------
    ndarray, shape (n_users,), float64
        NaN for users without a positive.
    """
    return _per_user("hit_rate", model_or_scores, test, train, k, block_size)


def mrr(
    model_or_scores: Any, test: Interactions, train: Interactions | None = None, *, block_size: int | None = None
) -> np.ndarray:
    """Per-user reciprocal rank of the first positive in the full ranking.

    ``1 / rank`` of the highest-ranked positive among all candidates (no
    cut); its mean over users is the MRR. Ties: the expected value of
    ``1 / rank`` when the top positive's tie group is in random order.

    Returns
    -------
    ndarray, shape (n_users,), float64
        NaN for users without a positive.
    """
    return _per_user("mrr", model_or_scores, test, train, 1, block_size)


def coverage_at_k(
    model_or_scores: Any,
    test: Interactions,
    train: Interactions | None = None,
    k: int = 10,
    *,
    block_size: int | None = None,
) -> float:
    """Catalogue coverage@k: fraction of items in at least one evaluated top k.

    Over the evaluated users (those with a test positive), the number of
    distinct items that appear in at least one user's top-k candidates,
    divided by ``n_items``. Ties at the cut: the expected value when each
    user's tie group is in an independent random order, i.e. an item that is
    only ever in tied cuts counts ``1 - prod_u (1 - r_u / g_u)``.

    Returns
    -------
    float
    """
    result = evaluate(model_or_scores, test, train, k=k, metrics=("coverage",), block_size=block_size)
    return result.means[_metric_key("coverage", k)]

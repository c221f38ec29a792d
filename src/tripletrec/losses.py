"""The catalogue of ranking losses the trainer optimises.

Each loss is written in terms of model scores ``s = user . item + bias``.
Pairwise losses see a triplet (user, positive item, negative item) through
the score difference ``d = s+ - s-``; the pointwise ``logistic`` loss sees one
score ``s`` with a label ``y = +1`` (positive) or ``y = -1`` (sampled
negative).

============  ==========================================================  =========
name          loss of one example                                         reference
============  ==========================================================  =========
``bpr``       ``-log sigmoid(d)``                                         [1]_
``sigmoid``   ``1 - sigmoid(d)``                                          [2]_
``hinge``     ``max(0, margin - d)``                                      [3]_
``warp``      ``log(floor((n_items - 1) / draws)) * max(0, margin - d)``  [3]_
``warp-kos``  ``warp`` on the k-th best scored of ``n`` positives         [4]_
``logistic``  ``-log sigmoid(y * s)``                                     [5]_
``softmax``   ``-log softmax(s - log q)[positive]`` over a sampled set    [6]_
============  ==========================================================  =========

``softmax`` (sampled softmax with the log-Q correction) is trained by the
torch engine only (:mod:`tripletrec.torch`), so it is not in :data:`LOSSES`,
the catalogue of the compiled kernels.

For every loss this module holds a numpy reference of its value and of its
derivative with respect to ``d`` (pairwise) or ``s`` (pointwise); the
compiled kernels in :mod:`tripletrec.kernels.training` implement the same
formulas and the tests check them against these references.

``sigmoid`` is the loss of the Keras triplet notebook this project started
from [2]_. It is *not* BPR: its gradient ``-sigmoid(d) (1 - sigmoid(d))``
vanishes for badly ranked pairs (``d`` very negative), where BPR's gradient
``-sigmoid(-d)`` is largest.

References
----------
.. [1] S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR:
   Bayesian personalized ranking from implicit feedback", UAI 2009.
.. [2] M. Kula, "Recommendations in Keras using triplet loss",
   https://github.com/maciejkula/triplet_recommendations_keras, 2016.
.. [3] J. Weston, S. Bengio and N. Usunier, "WSABIE: Scaling up to large
   vocabulary image annotation", IJCAI 2011.
.. [4] J. Weston, H. Yee and R. J. Weiss, "Learning to rank recommendations
   with the k-order statistic loss", RecSys 2013.
.. [5] C. C. Johnson, "Logistic matrix factorization for implicit feedback
   data", NIPS Workshop on Distributed Machine Learning and Matrix
   Computations, 2014.
.. [6] X. Yi, J. Yang, L. Hong, D. Z. Cheng, L. Heldt, A. Kumthekar, Z.
   Zhao, L. Wei and E. Chi, "Sampling-bias-corrected neural modeling for
   large corpus item recommendations", RecSys 2019.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "LOSSES",
    "LOSS_CODES",
    "PAIRWISE_LOSSES",
    "check_loss",
    "loss_code",
    "bpr_loss",
    "bpr_gradient",
    "sigmoid_loss",
    "sigmoid_gradient",
    "hinge_loss",
    "hinge_gradient",
    "warp_rank_weight",
    "warp_loss",
    "warp_gradient",
    "kos_positive",
    "logistic_loss",
    "logistic_gradient",
    "pairwise_loss",
    "pairwise_gradient",
    "sampled_softmax_loss",
    "sampled_softmax_gradient",
]

#: Names of the losses, in catalogue order.
LOSSES = ("bpr", "sigmoid", "hinge", "warp", "warp-kos", "logistic")

#: Integer code of each loss, as the compiled kernels receive it.
LOSS_CODES = {name: code for code, name in enumerate(LOSSES)}

#: Losses that compare a positive with a negative through ``d = s+ - s-``.
PAIRWISE_LOSSES = ("bpr", "sigmoid", "hinge", "warp", "warp-kos")

BPR, SIGMOID, HINGE, WARP, WARP_KOS, LOGISTIC = (LOSS_CODES[name] for name in LOSSES)


def check_loss(name: Any) -> str:
    """Return ``name`` if it names a loss, else raise ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in LOSS_CODES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {name!r}")
    return name


def loss_code(name: str) -> int:
    """The kernels' integer code of loss ``name`` (``ValueError`` if unknown)."""
    return LOSS_CODES[check_loss(name)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only: no overflow for any finite x.
    x = np.asarray(x, dtype=np.float64)
    exp_neg_abs = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + exp_neg_abs), exp_neg_abs / (1.0 + exp_neg_abs))


def bpr_loss(difference: Any) -> np.ndarray:
    """BPR loss [1]_ ``-log sigmoid(d) = log(1 + exp(-d))``.

    Parameters
    ----------
    difference : array_like, float
        ``d = s+ - s-``.

    Returns
    -------
    ndarray, float64, same shape
    """
    return np.logaddexp(0.0, -np.asarray(difference, dtype=np.float64))


def bpr_gradient(difference: Any) -> np.ndarray:
    """Derivative of :func:`bpr_loss` with respect to ``d``: ``-sigmoid(-d)``."""
    return -_sigmoid(-np.asarray(difference, dtype=np.float64))


def sigmoid_loss(difference: Any) -> np.ndarray:
    """The Keras notebook's loss [2]_ ``1 - sigmoid(d)``.

    Parameters
    ----------
    difference : array_like, float
        ``d = s+ - s-``.

    Returns
    -------
    ndarray, float64, same shape
    """
    return _sigmoid(-np.asarray(difference, dtype=np.float64))


def sigmoid_gradient(difference: Any) -> np.ndarray:
    """Derivative of :func:`sigmoid_loss`: ``-sigmoid(d) * (1 - sigmoid(d))``."""
    difference = np.asarray(difference, dtype=np.float64)
    return -_sigmoid(difference) * _sigmoid(-difference)


def hinge_loss(difference: Any, margin: float = 1.0) -> np.ndarray:
    """Margin ranking loss [3]_ ``max(0, margin - d)``.

    Parameters
    ----------
    difference : array_like, float
        ``d = s+ - s-``.
    margin : float

    Returns
    -------
    ndarray, float64, same shape
    """
    return np.maximum(0.0, margin - np.asarray(difference, dtype=np.float64))


def hinge_gradient(difference: Any, margin: float = 1.0) -> np.ndarray:
    """Derivative of :func:`hinge_loss`: ``-1`` where ``d < margin``, else 0.

    At the kink ``d == margin`` the loss is zero and so is the (sub)gradient
    used, as in the kernels.
    """
    difference = np.asarray(difference, dtype=np.float64)
    return np.where(difference < margin, -1.0, 0.0)


def warp_rank_weight(draws: Any, n_items: int) -> np.ndarray:
    """WARP's rank weight [3]_ ``log(floor((n_items - 1) / draws))``.

    After ``draws`` uniform draws to find the first negative that violates
    the margin, ``floor((n_items - 1) / draws)`` estimates the positive's
    rank; the logarithm approximates the harmonic weight
    ``sum_{j <= rank} 1 / j`` of the paper. A rank estimate of 1 gives
    weight 0; an estimate below 1 (more draws than other items) counts as 1.

    Parameters
    ----------
    draws : array_like, int
        Number of negatives drawn, the violating one included (>= 1).
    n_items : int

    Returns
    -------
    ndarray, float64
    """
    draws = np.asarray(draws, dtype=np.int64)
    if np.any(draws < 1):
        raise ValueError("draws must be at least 1")
    estimated_rank = np.maximum((int(n_items) - 1) // draws, 1)
    return np.log(estimated_rank.astype(np.float64))


def warp_loss(difference: Any, draws: Any, n_items: int, margin: float = 1.0) -> np.ndarray:
    """WARP loss [3]_ of a violating pair: ``warp_rank_weight(draws) * hinge_loss(d)``."""
    return warp_rank_weight(draws, n_items) * hinge_loss(difference, margin)


def warp_gradient(difference: Any, draws: Any, n_items: int, margin: float = 1.0) -> np.ndarray:
    """Derivative of :func:`warp_loss` with respect to ``d`` (the weight is a constant)."""
    return warp_rank_weight(draws, n_items) * hinge_gradient(difference, margin)


def kos_positive(positive_scores: Any, k: int) -> int:
    """The k-order-statistic rule [4]_: which sampled positive WARP-kos trains on.

    The positives drawn for a user are ranked by score, best first (ties
    keep draw order); the one at place ``min(k, len(positive_scores))`` is
    the positive of the WARP step. ``k = 1`` trains on the best scored
    positive (optimising the top of the list); larger ``k`` on worse ones.

    Parameters
    ----------
    positive_scores : array_like, shape (n,), float
        Scores of the ``n >= 1`` sampled positives, in draw order.
    k : int
        1-based place in the ranking, ``k >= 1``.

    Returns
    -------
    int
        Index into ``positive_scores`` of the chosen positive.
    """
    scores = np.asarray(positive_scores, dtype=np.float64).reshape(-1)
    if len(scores) == 0:
        raise ValueError("positive_scores must hold at least one score")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    order = np.argsort(-scores, kind="stable")
    return int(order[min(k, len(scores)) - 1])


def logistic_loss(score: Any, label: Any) -> np.ndarray:
    """Pointwise logistic loss [5]_ ``-log sigmoid(y * s)``.

    Parameters
    ----------
    score : array_like, float
        Model score ``s`` of one (user, item) pair.
    label : array_like, +1 or -1
        +1 for a positive, -1 for a sampled negative.

    Returns
    -------
    ndarray, float64
    """
    return np.logaddexp(0.0, -np.asarray(label, dtype=np.float64) * np.asarray(score, dtype=np.float64))


def logistic_gradient(score: Any, label: Any) -> np.ndarray:
    """Derivative of :func:`logistic_loss` with respect to ``s``: ``-y sigmoid(-y s)``."""
    label = np.asarray(label, dtype=np.float64)
    return -label * _sigmoid(-label * np.asarray(score, dtype=np.float64))


def pairwise_loss(name: str, difference: Any, margin: float = 1.0) -> np.ndarray:
    """Value of the pairwise loss ``name`` at ``d`` (``warp`` variants: one draw's hinge).

    For ``warp`` and ``warp-kos`` this is the hinge part only; multiply by
    :func:`warp_rank_weight` for the full loss.
    """
    code = loss_code(name)
    if code == BPR:
        return bpr_loss(difference)
    if code == SIGMOID:
        return sigmoid_loss(difference)
    if code in (HINGE, WARP, WARP_KOS):
        return hinge_loss(difference, margin)
    raise ValueError(f"loss {name!r} is pointwise, not pairwise; use logistic_loss")


def pairwise_gradient(name: str, difference: Any, margin: float = 1.0) -> np.ndarray:
    """Derivative of :func:`pairwise_loss` with respect to ``d``."""
    code = loss_code(name)
    if code == BPR:
        return bpr_gradient(difference)
    if code == SIGMOID:
        return sigmoid_gradient(difference)
    if code in (HINGE, WARP, WARP_KOS):
        return hinge_gradient(difference, margin)
    raise ValueError(f"loss {name!r} is pointwise, not pairwise; use logistic_gradient")


def _corrected_logits(logits: Any, log_q: Any, mask: Any) -> np.ndarray:
    corrected = np.asarray(logits, dtype=np.float64) - np.asarray(log_q, dtype=np.float64)[None, :]
    if mask is not None:
        corrected = np.where(np.asarray(mask, dtype=bool), -np.inf, corrected)
    return corrected


def sampled_softmax_loss(logits: Any, log_q: Any, targets: Any, mask: Any = None) -> np.ndarray:
    """Sampled softmax with the log-Q correction [6]_, one value per row.

    Row ``r`` scores its positive (column ``targets[r]``) against the other
    columns, each a candidate sampled with probability ``q``; subtracting
    ``log q`` from a column's score removes the bias of sampling popular
    items more often (with in-batch negatives, ``q`` of an item is its share
    of the training pairs). The loss is
    ``-log softmax(logits[r] - log_q)[targets[r]]``, masked columns left out.

    Parameters
    ----------
    logits : array_like, shape (n_rows, n_columns)
        Scores ``s`` of each row's user with each column's item.
    log_q : array_like, shape (n_columns,)
        Log sampling probability of each column's item.
    targets : array_like of int, shape (n_rows,)
        Column of each row's positive.
    mask : array_like of bool, shape (n_rows, n_columns), optional
        Columns to leave out of a row's softmax (other rows' copies of the
        row's own positive: "accidental hits"). Never a row's target.

    Returns
    -------
    ndarray, shape (n_rows,), float64
    """
    corrected = _corrected_logits(logits, log_q, mask)
    rows = np.arange(corrected.shape[0])
    top = corrected.max(axis=1, keepdims=True)
    log_normaliser = top[:, 0] + np.log(np.exp(corrected - top).sum(axis=1))
    return log_normaliser - corrected[rows, np.asarray(targets)]


def sampled_softmax_gradient(logits: Any, log_q: Any, targets: Any, mask: Any = None) -> np.ndarray:
    """Derivative of :func:`sampled_softmax_loss` (each row's value) with respect to ``logits``.

    ``softmax(logits - log_q)`` minus one at each row's target; zero at masked columns.
    """
    corrected = _corrected_logits(logits, log_q, mask)
    top = corrected.max(axis=1, keepdims=True)
    weights = np.exp(corrected - top)
    gradient = weights / weights.sum(axis=1, keepdims=True)
    gradient[np.arange(corrected.shape[0]), np.asarray(targets)] -= 1.0
    return gradient

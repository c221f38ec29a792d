"""Compiled loss values and derivatives for the training kernels.

Two forms of the pairwise losses:

* :func:`pair_loss_and_gradient` and :func:`point_loss_and_gradient`, in
  float64: the compiled twins of :mod:`tripletrec.losses`, which the fold-in
  and side-feature kernels use;
* :func:`pair_gradient32`, in float32, for the training kernel's hot loop.
  A step's gradient is float32 anyway (it multiplies float32 rows), so
  float32 arithmetic loses nothing there, and ``expf`` costs about half of
  ``exp``. The loss value it returns in two parts, ``linear`` and
  ``log1p_argument``, so that the kernel never calls ``log1p`` for the
  (reported, not trained) loss of an unweighted fit: it sums
  ``log1p(x_i)`` as the logarithm of the running product of ``1 + x_i``
  (:func:`accumulate_log1p`), one multiplication per example instead of a
  ``log1p`` (a fifth of a BPR step's time).

Both agree with :mod:`tripletrec.losses` to float32 precision (the tests
check it).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..losses import BPR, SIGMOID
from .jit_options import KERNEL_OPTIONS as _OPTIONS
from .jit_options import ONE32 as _ONE32
from .jit_options import ZERO32 as _ZERO32

__all__ = [
    "LOG_PRODUCT_LIMIT",
    "accumulate_log1p",
    "kth_best",
    "pair_gradient32",
    "pair_loss_and_gradient",
    "point_loss_and_gradient",
]


#: :func:`accumulate_log1p` folds its running product into the sum of logs
#: once it passes this. Every factor is at most 2, so the product stays far
#: from float64's overflow (about 1.8e308).
LOG_PRODUCT_LIMIT = 1e280


@numba.njit(forceinline=True, **_OPTIONS)
def pair_loss_and_gradient(loss, difference, margin):
    """Value and derivative in ``d`` of a pairwise loss at ``d = s+ - s-``.

    The compiled twin of :func:`tripletrec.losses.pairwise_loss` and
    :func:`tripletrec.losses.pairwise_gradient` (float64 in and out); the
    hinge is shared by ``hinge``, ``warp`` and ``warp-kos``.
    """
    if loss == BPR or loss == SIGMOID:
        # One exp of a non-positive number gives both sigmoids, stably.
        exp_neg_abs = math.exp(-abs(difference))
        if difference >= 0.0:
            sigmoid_positive = 1.0 / (1.0 + exp_neg_abs)
        else:
            sigmoid_positive = exp_neg_abs / (1.0 + exp_neg_abs)
        sigmoid_negative = 1.0 - sigmoid_positive
        if loss == BPR:
            # -log sigmoid(d) = log1p(exp(-|d|)) + max(-d, 0)
            return math.log1p(exp_neg_abs) + max(-difference, 0.0), -sigmoid_negative
        return sigmoid_negative, -sigmoid_positive * sigmoid_negative
    if difference < margin:
        return margin - difference, -1.0
    return 0.0, 0.0


@numba.njit(forceinline=True, **_OPTIONS)
def pair_gradient32(loss, difference, margin):
    """Derivative in ``d`` of a pairwise loss, and its value in two parts (float32).

    Parameters
    ----------
    loss : int
        A pairwise loss code (the hinge is shared by ``hinge``, ``warp`` and
        ``warp-kos``).
    difference : float32
        ``d = s+ - s-``.
    margin : float32

    Returns
    -------
    gradient : float32
        The loss's derivative in ``d``.
    linear : float32
    log1p_argument : float32
        The loss is ``linear + log1p(log1p_argument)`` (``log1p_argument``
        is 0 except for ``bpr``).
    """
    if loss == BPR or loss == SIGMOID:
        # One exp of a non-positive number gives both sigmoids, stably: it
        # never overflows, and 1 - sigmoid is never a difference of nearly
        # equal numbers.
        exp_neg_abs = math.exp(-abs(difference))
        inverse = _ONE32 / (_ONE32 + exp_neg_abs)
        if difference >= _ZERO32:
            sigmoid_positive = inverse
            sigmoid_negative = exp_neg_abs * inverse
        else:
            sigmoid_positive = exp_neg_abs * inverse
            sigmoid_negative = inverse
        if loss == BPR:
            # -log sigmoid(d) = log1p(exp(-|d|)) + max(-d, 0)
            return -sigmoid_negative, max(-difference, _ZERO32), exp_neg_abs
        return -sigmoid_positive * sigmoid_negative, sigmoid_negative, _ZERO32
    if difference < margin:
        return -_ONE32, margin - difference, _ZERO32
    return _ZERO32, _ZERO32, _ZERO32


@numba.njit(forceinline=True, **_OPTIONS)
def accumulate_log1p(product, total, argument):
    """Add ``log1p(argument)`` to a sum kept as ``total + log(product)``.

    Parameters
    ----------
    product : float64
        The running product of ``1 + argument`` (start at 1).
    total : float64
        The logarithms already folded out of the product (start at 0).
    argument : float32
        In ``0 .. 1``.

    Returns
    -------
    product, total : float64
        The sum so far is ``total + log(product)``.

    Notes
    -----
    One multiplication instead of a ``log1p``. Each factor adds a rounding
    of relative size 2**-53, so after ``n`` terms the sum is off by about
    ``n * 1e-16`` in absolute terms, and an ``argument`` below 1e-16 is
    lost (an absolute error of that size): far below float32 precision.
    """
    product *= 1.0 + np.float64(argument)
    if product > LOG_PRODUCT_LIMIT:
        total += math.log(product)
        product = 1.0
    return product, total


@numba.njit(forceinline=True, **_OPTIONS)
def point_loss_and_gradient(score, label):
    """Value and derivative in ``s`` of ``-log sigmoid(label * s)`` (float64)."""
    signed = label * score
    exp_neg_abs = math.exp(-abs(signed))
    if signed >= 0.0:
        sigmoid_negative = exp_neg_abs / (1.0 + exp_neg_abs)
    else:
        sigmoid_negative = 1.0 / (1.0 + exp_neg_abs)
    return math.log1p(exp_neg_abs) + max(-signed, 0.0), -label * sigmoid_negative


@numba.njit(**_OPTIONS)
def kth_best(scores, n, k):
    """Index of the ``min(k, n)``-th best of ``scores[:n]``; ties keep index order.

    The compiled twin of :func:`tripletrec.losses.kos_positive`.
    """
    place = min(k, n) - 1
    for candidate in range(n):
        better = 0
        value = scores[candidate]
        for other in range(n):
            if scores[other] > value or (scores[other] == value and other < candidate):
                better += 1
        if better == place:
            return candidate
    return n - 1

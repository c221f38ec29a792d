"""One optimizer step of the training kernels, for a triplet or a single pair.

:mod:`tripletrec.kernels.training` runs the epochs; this module holds what
one step does to the rows it touches: the dot products, the gradients of
the three rows, the optimizer's update and the L2 term.

Optimizers, applied per row touched by a step (rows not touched are left
alone: no decay, no L2):

* ``sgd``: ``x -= learning_rate * g``;
* ``adagrad`` [1]_: ``G += g * g``; ``x -= learning_rate * g / sqrt(G)``,
  with ``G`` starting at ``ADAGRAD_INITIAL_ACCUMULATOR``;
* ``rowwise-adagrad`` [3]_: one sum per row, ``G += mean(g * g)`` over the
  row's values; ``x -= learning_rate * g / sqrt(G)``, ``G`` starting at
  ``ADAGRAD_INITIAL_ACCUMULATOR``. A bias is a row of one value. One
  square root per row instead of per value, and a state of one number per
  row, which on large catalogues stays in cache;
* ``adam`` [2]_, lazy (sparse) form: the moments of a row are updated only
  when the row is touched, and the bias correction uses that row's own
  step count ``t``: ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g * g``;
  ``x -= learning_rate * sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (sqrt(v) + eps)``.

where ``g`` is the sample-weighted loss gradient plus ``l2 * x`` (``bias_l2
* b`` for a bias), all computed from the values before the step.

Templates. :func:`_pair_step` and :func:`_point_step` read the optimizer
from the module constant ``_OPTIMIZER``: they are never compiled as they
stand, but copied by :func:`tripletrec.kernels.training._variant` with
``_OPTIMIZER`` set to one optimizer's code, so numba prunes the other
optimizers' branches before typing them.

References
----------
.. [1] J. Duchi, E. Hazan and Y. Singer, "Adaptive subgradient methods for
   online learning and stochastic optimization", JMLR 12, 2011.
.. [2] D. P. Kingma and J. Ba, "Adam: A method for stochastic
   optimization", ICLR 2015.
.. [3] M. Naumov et al., "Deep learning recommendation model for
   personalization and recommendation systems", arXiv:1906.00091, 2019
   (the row-wise Adagrad of its embedding tables).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .jit_options import INTERNAL as _INTERNAL
from .jit_options import KERNEL_OPTIONS as _OPTIONS
from .jit_options import ONE32 as _ONE32
from .jit_options import ZERO32 as _ZERO32
from .prefetch import prefetch, prefetch_write

__all__ = [
    "OPTIMIZERS",
    "OPTIMIZER_CODES",
    "SGD",
    "ADAGRAD",
    "ADAM",
    "ROWWISE_ADAGRAD",
    "ADAGRAD_INITIAL_ACCUMULATOR",
    "ADAM_BETA1",
    "ADAM_BETA2",
    "ADAM_EPSILON",
    "dot",
]

#: Names of the optimizers, in code order.
OPTIMIZERS = ("sgd", "adagrad", "adam", "rowwise-adagrad")
OPTIMIZER_CODES = {name: code for code, name in enumerate(OPTIMIZERS)}
SGD, ADAGRAD, ADAM, ROWWISE_ADAGRAD = (OPTIMIZER_CODES[name] for name in OPTIMIZERS)

#: Starting value of Adagrad's squared-gradient sums: keeps the first steps
#: of a row at about ``learning_rate * g / sqrt(0.1)`` instead of a full
#: ``learning_rate * sign(g)``.
ADAGRAD_INITIAL_ACCUMULATOR = 0.1
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPSILON = 1e-8


# The optimizer of a compiled copy of the step templates (see the module docstring).
_OPTIMIZER = -1


# ------------------------------------------------------------------ prefetch
@numba.njit(forceinline=True, **_INTERNAL)
def _prefetch_row(matrix, row):
    values = matrix[row]
    # One hint per 64-byte line of float32 values.
    for offset in range(0, values.shape[0], 16):
        prefetch(values, offset)


@numba.njit(forceinline=True, **_INTERNAL)
def _prefetch_row_for_write(matrix, row):
    values = matrix[row]
    for offset in range(0, values.shape[0], 16):
        prefetch_write(values, offset)


# ---------------------------------------------------------------- the steps
@numba.njit(forceinline=True, **_OPTIONS)
def dot(left, right):
    total = _ZERO32
    for k in range(left.shape[0]):
        total += left[k] * right[k]
    return total


@numba.njit(forceinline=True, **_INTERNAL)
def _dot_difference(user, positive, negative):
    total = _ZERO32
    for k in range(user.shape[0]):
        total += user[k] * (positive[k] - negative[k])
    return total


@numba.njit(forceinline=True, **_INTERNAL)
def _adam_rate(learning_rate, steps, row):
    steps[row] += 1
    t = steps[row]
    return np.float32(learning_rate * math.sqrt(1.0 - ADAM_BETA2**t) / (1.0 - ADAM_BETA1**t))


@numba.njit(forceinline=True, **_INTERNAL)
def _pair_gradient_squares(u_row, p_row, n_row, gradient, l2):
    """Squared norms of the three rows' gradients ``g (p - n) + l2 u``, ``g u + l2 p``, ``l2 n - g u``.

    Expanded into sums of products of the rows, none of which involves the
    gradient: the pass over the rows then does not wait for the loss's
    ``exp`` (which waits for the score), and the processor runs it while
    the score's chain completes. Only the three short sums at the end wait
    for ``g``. The expansion can cancel to a tiny negative number where
    the exact value is about 0 (``g u = -l2 p``): clamped at 0, an error of
    float32 rounding on a sum of squares that is added to an accumulator
    of at least ``ADAGRAD_INITIAL_ACCUMULATOR``.
    """
    uu = _ZERO32
    pp = _ZERO32
    nn = _ZERO32
    up = _ZERO32
    un = _ZERO32
    dd = _ZERO32
    for k in range(u_row.shape[0]):
        u = u_row[k]
        p = p_row[k]
        n = n_row[k]
        d = p - n
        uu += u * u
        pp += p * p
        nn += n * n
        up += u * p
        un += u * n
        dd += d * d
    cross = np.float32(2.0) * gradient * l2
    gradient_squared = gradient * gradient
    l2_squared = l2 * l2
    square_u = gradient_squared * dd + cross * (up - un) + l2_squared * uu
    square_p = gradient_squared * uu + cross * up + l2_squared * pp
    square_n = gradient_squared * uu - cross * un + l2_squared * nn
    return max(square_u, _ZERO32), max(square_p, _ZERO32), max(square_n, _ZERO32)


@numba.njit(forceinline=True, **_INTERNAL)
def _pair_update(u_row, p_row, n_row, gradient, l2, rate_u, rate_p, rate_n):
    # SGD and row-wise Adagrad: each row moves by its own rate times its gradient.
    for k in range(u_row.shape[0]):
        u = u_row[k]
        p = p_row[k]
        n = n_row[k]
        u_row[k] = u - rate_u * (gradient * (p - n) + l2 * u)
        p_row[k] = p - rate_p * (gradient * u + l2 * p)
        n_row[k] = n - rate_n * (l2 * n - gradient * u)


@numba.njit(forceinline=True, **_INTERNAL)
def _point_update(u_row, i_row, gradient, l2, rate_u, rate_i):
    for k in range(u_row.shape[0]):
        u = u_row[k]
        v = i_row[k]
        u_row[k] = u - rate_u * (gradient * v + l2 * u)
        i_row[k] = v - rate_i * (gradient * u + l2 * v)


@numba.njit(forceinline=True, **_INTERNAL)
def _adagrad_bias_point(item, gradient, item_biases, bias_moment2, learning_rate, bias_l2):
    # Both Adagrads: a bias is a row of one value.
    bias = item_biases[item]
    gb = gradient + bias_l2 * bias
    sb = bias_moment2[item] + gb * gb
    bias_moment2[item] = sb
    item_biases[item] = bias - learning_rate * gb / np.sqrt(sb)


@numba.njit(forceinline=True, **_INTERNAL)
def _adagrad_bias_pair(positive, negative, gradient, item_biases, bias_moment2, learning_rate, bias_l2):
    # Both Adagrads: a bias is a row of one value.
    bias_p = item_biases[positive]
    bias_n = item_biases[negative]
    gp = gradient + bias_l2 * bias_p
    gn = bias_l2 * bias_n - gradient
    sp = bias_moment2[positive] + gp * gp
    sn = bias_moment2[negative] + gn * gn
    bias_moment2[positive] = sp
    bias_moment2[negative] = sn
    item_biases[positive] = bias_p - learning_rate * gp / np.sqrt(sp)
    item_biases[negative] = bias_n - learning_rate * gn / np.sqrt(sn)


def _pair_step(user, positive, negative, gradient, model, optimizer_state, settings):
    """One step on ``gradient * d(s+ - s-)`` plus L2 of the touched rows.

    ``model``, ``optimizer_state`` and ``settings`` are a :class:`Model`, an
    :class:`OptimizerState` and a :class:`Settings`.
    """
    user_factors, item_factors, item_biases = model
    (user_moment1, user_moment2, item_moment1, item_moment2, bias_moment1, bias_moment2, user_steps, item_steps) = (
        optimizer_state
    )
    learning_rate = settings.learning_rate
    l2 = settings.l2
    bias_l2 = settings.bias_l2
    use_biases = settings.use_biases
    u_row = user_factors[user]
    p_row = item_factors[positive]
    n_row = item_factors[negative]
    dim = u_row.shape[0]
    if _OPTIMIZER == SGD:
        _pair_update(u_row, p_row, n_row, gradient, l2, learning_rate, learning_rate, learning_rate)
        if use_biases:
            bias_p = item_biases[positive]
            bias_n = item_biases[negative]
            item_biases[positive] = bias_p - learning_rate * (gradient + bias_l2 * bias_p)
            item_biases[negative] = bias_n - learning_rate * (bias_l2 * bias_n - gradient)
    elif _OPTIMIZER == ADAGRAD:
        u_sum = user_moment2[user]
        p_sum = item_moment2[positive]
        n_sum = item_moment2[negative]
        for k in range(dim):
            u = u_row[k]
            p = p_row[k]
            n = n_row[k]
            gu = gradient * (p - n) + l2 * u
            gp = gradient * u + l2 * p
            gn = l2 * n - gradient * u
            su = u_sum[k] + gu * gu
            sp = p_sum[k] + gp * gp
            sn = n_sum[k] + gn * gn
            u_sum[k] = su
            p_sum[k] = sp
            n_sum[k] = sn
            u_row[k] = u - learning_rate * gu / np.sqrt(su)
            p_row[k] = p - learning_rate * gp / np.sqrt(sp)
            n_row[k] = n - learning_rate * gn / np.sqrt(sn)
        if use_biases:
            _adagrad_bias_pair(positive, negative, gradient, item_biases, bias_moment2, learning_rate, bias_l2)
    elif _OPTIMIZER == ROWWISE_ADAGRAD:
        # The mean squared gradient of each row first: the whole row then
        # moves with one rate, one square root per row instead of per value.
        square_u, square_p, square_n = _pair_gradient_squares(u_row, p_row, n_row, gradient, l2)
        inverse_dim = _ONE32 / np.float32(dim)
        su = user_moment2[user, 0] + square_u * inverse_dim
        sp = item_moment2[positive, 0] + square_p * inverse_dim
        sn = item_moment2[negative, 0] + square_n * inverse_dim
        user_moment2[user, 0] = su
        item_moment2[positive, 0] = sp
        item_moment2[negative, 0] = sn
        _pair_update(
            u_row,
            p_row,
            n_row,
            gradient,
            l2,
            learning_rate / np.sqrt(su),
            learning_rate / np.sqrt(sp),
            learning_rate / np.sqrt(sn),
        )
        if use_biases:
            _adagrad_bias_pair(positive, negative, gradient, item_biases, bias_moment2, learning_rate, bias_l2)
    else:
        beta1 = np.float32(ADAM_BETA1)
        beta2 = np.float32(ADAM_BETA2)
        epsilon = np.float32(ADAM_EPSILON)
        rate_u = _adam_rate(learning_rate, user_steps, user)
        rate_p = _adam_rate(learning_rate, item_steps, positive)
        rate_n = _adam_rate(learning_rate, item_steps, negative)
        u_first = user_moment1[user]
        p_first = item_moment1[positive]
        n_first = item_moment1[negative]
        u_second = user_moment2[user]
        p_second = item_moment2[positive]
        n_second = item_moment2[negative]
        for k in range(dim):
            u = u_row[k]
            p = p_row[k]
            n = n_row[k]
            gu = gradient * (p - n) + l2 * u
            gp = gradient * u + l2 * p
            gn = l2 * n - gradient * u
            mu = beta1 * u_first[k] + (_ONE32 - beta1) * gu
            mp = beta1 * p_first[k] + (_ONE32 - beta1) * gp
            mn = beta1 * n_first[k] + (_ONE32 - beta1) * gn
            vu = beta2 * u_second[k] + (_ONE32 - beta2) * gu * gu
            vp = beta2 * p_second[k] + (_ONE32 - beta2) * gp * gp
            vn = beta2 * n_second[k] + (_ONE32 - beta2) * gn * gn
            u_first[k] = mu
            p_first[k] = mp
            n_first[k] = mn
            u_second[k] = vu
            p_second[k] = vp
            n_second[k] = vn
            u_row[k] = u - rate_u * mu / (np.sqrt(vu) + epsilon)
            p_row[k] = p - rate_p * mp / (np.sqrt(vp) + epsilon)
            n_row[k] = n - rate_n * mn / (np.sqrt(vn) + epsilon)
        if use_biases:
            bias_p = item_biases[positive]
            bias_n = item_biases[negative]
            gp = gradient + bias_l2 * bias_p
            gn = bias_l2 * bias_n - gradient
            mp = beta1 * bias_moment1[positive] + (_ONE32 - beta1) * gp
            mn = beta1 * bias_moment1[negative] + (_ONE32 - beta1) * gn
            vp = beta2 * bias_moment2[positive] + (_ONE32 - beta2) * gp * gp
            vn = beta2 * bias_moment2[negative] + (_ONE32 - beta2) * gn * gn
            bias_moment1[positive] = mp
            bias_moment1[negative] = mn
            bias_moment2[positive] = vp
            bias_moment2[negative] = vn
            item_biases[positive] = bias_p - rate_p * mp / (np.sqrt(vp) + epsilon)
            item_biases[negative] = bias_n - rate_n * mn / (np.sqrt(vn) + epsilon)


def _point_step(user, item, gradient, model, optimizer_state, settings):
    """One step on ``gradient * ds`` for the score of (user, item), plus L2.

    The bundles are those of :func:`_pair_step`.
    """
    user_factors, item_factors, item_biases = model
    (user_moment1, user_moment2, item_moment1, item_moment2, bias_moment1, bias_moment2, user_steps, item_steps) = (
        optimizer_state
    )
    learning_rate = settings.learning_rate
    l2 = settings.l2
    bias_l2 = settings.bias_l2
    use_biases = settings.use_biases
    u_row = user_factors[user]
    i_row = item_factors[item]
    dim = u_row.shape[0]
    if _OPTIMIZER == SGD:
        _point_update(u_row, i_row, gradient, l2, learning_rate, learning_rate)
        if use_biases:
            bias = item_biases[item]
            item_biases[item] = bias - learning_rate * (gradient + bias_l2 * bias)
    elif _OPTIMIZER == ROWWISE_ADAGRAD:
        square_u = _ZERO32
        square_i = _ZERO32
        for k in range(dim):
            u = u_row[k]
            v = i_row[k]
            gu = gradient * v + l2 * u
            gv = gradient * u + l2 * v
            square_u += gu * gu
            square_i += gv * gv
        inverse_dim = _ONE32 / np.float32(dim)
        su = user_moment2[user, 0] + square_u * inverse_dim
        sv = item_moment2[item, 0] + square_i * inverse_dim
        user_moment2[user, 0] = su
        item_moment2[item, 0] = sv
        _point_update(u_row, i_row, gradient, l2, learning_rate / np.sqrt(su), learning_rate / np.sqrt(sv))
        if use_biases:
            _adagrad_bias_point(item, gradient, item_biases, bias_moment2, learning_rate, bias_l2)
    elif _OPTIMIZER == ADAGRAD:
        u_sum = user_moment2[user]
        i_sum = item_moment2[item]
        for k in range(dim):
            u = u_row[k]
            v = i_row[k]
            gu = gradient * v + l2 * u
            gv = gradient * u + l2 * v
            su = u_sum[k] + gu * gu
            sv = i_sum[k] + gv * gv
            u_sum[k] = su
            i_sum[k] = sv
            u_row[k] = u - learning_rate * gu / np.sqrt(su)
            i_row[k] = v - learning_rate * gv / np.sqrt(sv)
        if use_biases:
            _adagrad_bias_point(item, gradient, item_biases, bias_moment2, learning_rate, bias_l2)
    else:
        beta1 = np.float32(ADAM_BETA1)
        beta2 = np.float32(ADAM_BETA2)
        epsilon = np.float32(ADAM_EPSILON)
        rate_u = _adam_rate(learning_rate, user_steps, user)
        rate_i = _adam_rate(learning_rate, item_steps, item)
        u_first = user_moment1[user]
        i_first = item_moment1[item]
        u_second = user_moment2[user]
        i_second = item_moment2[item]
        for k in range(dim):
            u = u_row[k]
            v = i_row[k]
            gu = gradient * v + l2 * u
            gv = gradient * u + l2 * v
            mu = beta1 * u_first[k] + (_ONE32 - beta1) * gu
            mv = beta1 * i_first[k] + (_ONE32 - beta1) * gv
            vu = beta2 * u_second[k] + (_ONE32 - beta2) * gu * gu
            vv = beta2 * i_second[k] + (_ONE32 - beta2) * gv * gv
            u_first[k] = mu
            i_first[k] = mv
            u_second[k] = vu
            i_second[k] = vv
            u_row[k] = u - rate_u * mu / (np.sqrt(vu) + epsilon)
            i_row[k] = v - rate_i * mv / (np.sqrt(vv) + epsilon)
        if use_biases:
            bias = item_biases[item]
            gb = gradient + bias_l2 * bias
            mb = beta1 * bias_moment1[item] + (_ONE32 - beta1) * gb
            vb = beta2 * bias_moment2[item] + (_ONE32 - beta2) * gb * gb
            bias_moment1[item] = mb
            bias_moment2[item] = vb
            item_biases[item] = bias - rate_i * mb / (np.sqrt(vb) + epsilon)

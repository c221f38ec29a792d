"""Compiled training kernels: one call trains one epoch.

:func:`train_epoch` runs stochastic gradient steps on (user, positive,
negative) triplets with every loss of :mod:`tripletrec.losses` and every
sampler of :mod:`tripletrec.sampling`.

Parallelism (Hogwild [1]_). The Python layer shuffles the users every epoch
and cuts the shuffled list into contiguous chunks of about equal numbers of
interactions, one chunk per thread. A user row is therefore only ever
written by the thread that owns the user; item rows (and item biases) are
shared and updated without locks, as in Hogwild: two threads updating the
same item row at once can lose part of one update, which SGD tolerates.

Order within a chunk. By default each user's positives are visited
together, in a random order, so the user's row stays in the L1 cache
across its updates; ``random_order=True`` instead shuffles all the chunk's
interactions together (the classic fully random SGD order), which touches a
cold user row at nearly every step. ``benchmarks/throughput.py`` measures
both.

Random numbers come from one xorshift64* generator [2]_ per chunk (:mod:`tripletrec.kernels.random_draws`), its
state kept in ``rng_states`` between epochs. With one chunk (``threads=1``)
an epoch is a deterministic function of its inputs.

Optimizers, applied per row touched by a step (rows not touched are left
alone: no decay, no L2):

* ``sgd``: ``x -= learning_rate * g``;
* ``adagrad`` [3]_: ``G += g * g``; ``x -= learning_rate * g / sqrt(G)``,
  with ``G`` starting at ``ADAGRAD_INITIAL_ACCUMULATOR``;
* ``rowwise-adagrad`` [5]_: one sum per row, ``G += mean(g * g)`` over the
  row's values; ``x -= learning_rate * g / sqrt(G)``, ``G`` starting at
  ``ADAGRAD_INITIAL_ACCUMULATOR``. A bias is a row of one value. One
  square root per row instead of per value, and a state of one number per
  row, which on large catalogues stays in cache;
* ``adam`` [4]_, lazy (sparse) form: the moments of a row are updated only
  when the row is touched, and the bias correction uses that row's own
  step count ``t``: ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g * g``;
  ``x -= learning_rate * sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (sqrt(v) + eps)``.

where ``g`` is the sample-weighted loss gradient plus ``l2 * x`` (``bias_l2
* b`` for a bias), all computed from the values before the step.

The kernels are compiled without numba's reference-counting runtime
(``_nrt=False``): every array they touch is allocated by the caller, and
the hot loop pays no atomic reference-count updates (which otherwise cost
more than the arithmetic of a step and contend between threads).

References
----------
.. [1] F. Niu, B. Recht, C. Re and S. J. Wright, "Hogwild!: A lock-free
   approach to parallelizing stochastic gradient descent", NIPS 2011.
.. [2] S. Vigna, "An experimental exploration of Marsaglia's xorshift
   generators, scrambled", ACM TOMS 42(4), 2016.
.. [3] J. Duchi, E. Hazan and Y. Singer, "Adaptive subgradient methods for
   online learning and stochastic optimization", JMLR 12, 2011.
.. [4] D. P. Kingma and J. Ba, "Adam: A method for stochastic
   optimization", ICLR 2015.
.. [5] M. Naumov et al., "Deep learning recommendation model for
   personalization and recommendation systems", arXiv:1906.00091, 2019
   (the row-wise Adagrad of its embedding tables).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..losses import LOGISTIC, LOSSES, WARP, WARP_KOS
from ..sampling import NEGATIVE_SAMPLERS
from .loss_terms import (
    accumulate_log1p,
    kth_best,
    pair_gradient32,
    pair_loss_and_gradient,
    point_loss_and_gradient,
)
from .prefetch import prefetch, prefetch_write
from .random_draws import (
    build_alias_table,
    draw_negative,
    draw_negatives,
    random_below,
    shuffle_between,
    xorshift64star,
)
from .threads import run_in_ranges
from .training_bundles import EpochPlan, Model, OptimizerState, Scratch, Settings, TrainingData
from .variants import compile_variant

__all__ = [
    "OPTIMIZERS",
    "OPTIMIZER_CODES",
    "EpochPlan",
    "Model",
    "OptimizerState",
    "Scratch",
    "Settings",
    "TrainingData",
    "ADAGRAD_INITIAL_ACCUMULATOR",
    "ADAM_BETA1",
    "ADAM_BETA2",
    "ADAM_EPSILON",
    "SCRATCH_PADDING",
    "PREFETCH_DISTANCE",
    "WARP_LOOKAHEAD",
    "train_epoch",
    "lay_out_chunk",
    "pair_loss_and_gradient",
    "point_loss_and_gradient",
    "kth_best",
    "build_alias_table",
    "draw_negatives",
    "xorshift64star",
    "random_below",
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

#: Extra entries at the end of each per-thread scratch row, so that two
#: threads' rows never share a 64-byte cache line.
SCRATCH_PADDING = 16

#: How many examples ahead the kernel draws negatives and prefetches rows.
PREFETCH_DISTANCE = 8

#: How many draws ahead WARP draws its further negatives and prefetches them.
WARP_LOOKAHEAD = 8

# No "nnan"/"ninf": the Python layer must still see a NaN when training
# diverges. Reassociation lets LLVM vectorise the dot products.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}
_OPTIONS = {"cache": True, "fastmath": _FASTMATH, "error_model": "numpy", "_nrt": False}
# Functions only other kernels call need no Python entry point: numba skips
# building and compiling its wrapper, which was a fifth of a first fit's
# compile time.
_NO_WRAPPER = {"no_cpython_wrapper": True}
_INTERNAL = {**_OPTIONS, **_NO_WRAPPER}

_ZERO32 = np.float32(0.0)
_ONE32 = np.float32(1.0)


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


# ------------------------------------------------------------------- epochs
def _prefetch_example(position, negative, data, model, optimizer_state):
    """Prefetch, for writing, the rows the example's step will update (a template, see :func:`_variant`).

    Only the optimizer's own state: the others' arrays are empty, and a
    hint for them was a wasted instruction and branch per row. With write
    intent, since the step writes every one of these lines; with Hogwild
    an item row is often in the other thread's cache, and a read hint would
    leave the store to take it over a second time.
    """
    user = data.interaction_users[position]
    positive = data.indices[position]
    user_factors, item_factors, item_biases = model
    _prefetch_row_for_write(user_factors, user)
    _prefetch_row_for_write(item_factors, positive)
    _prefetch_row_for_write(item_factors, negative)
    prefetch_write(item_biases, positive)
    prefetch_write(item_biases, negative)
    if _OPTIMIZER != SGD:
        _prefetch_row_for_write(optimizer_state.user_moment2, user)
        _prefetch_row_for_write(optimizer_state.item_moment2, positive)
        _prefetch_row_for_write(optimizer_state.item_moment2, negative)
        prefetch_write(optimizer_state.bias_moment2, positive)
        prefetch_write(optimizer_state.bias_moment2, negative)
    if _OPTIMIZER == ADAM:
        _prefetch_row_for_write(optimizer_state.user_moment1, user)
        _prefetch_row_for_write(optimizer_state.item_moment1, positive)
        _prefetch_row_for_write(optimizer_state.item_moment1, negative)
        prefetch_write(optimizer_state.bias_moment1, positive)
        prefetch_write(optimizer_state.bias_moment1, negative)
        prefetch_write(optimizer_state.user_steps, user)
        prefetch_write(optimizer_state.item_steps, positive)
        prefetch_write(optimizer_state.item_steps, negative)


def _train_positions(state, data, model, optimizer_state, scratch, settings):
    """Train on the stored interactions at ``scratch.positions``, in that order.

    The first negative of each example is drawn ``PREFETCH_DISTANCE``
    examples ahead (kept in ``upcoming_negatives[:PREFETCH_DISTANCE]``), so
    that the rows the example will touch can be prefetched while earlier
    examples compute; WARP's further draws are queued in the next
    ``WARP_LOOKAHEAD`` entries.

    ``scratch`` is a :class:`Scratch` of this chunk's share: its slice of
    ``positions`` and its rows of the others (one-dimensional); the other
    bundles are those of :func:`train_epoch`.

    Returns the generator state, the summed weighted loss and the summed
    weight of the loss terms.
    """
    indptr, indices, weights, interaction_users, alias_threshold, alias = data
    user_factors, item_factors, item_biases = model
    positions, kos_scores, kos_positions, upcoming_negatives = scratch
    loss = settings.loss
    sampler = _SAMPLER
    n_negatives = settings.n_negatives
    max_sampled = settings.max_sampled
    unseen_max_draws = settings.unseen_max_draws
    kos_k = settings.kos_k
    kos_n = settings.kos_n
    margin = settings.margin
    margin32 = np.float32(margin)
    use_weights = settings.use_weights
    n_items = item_factors.shape[0]
    n_items_bound = np.uint64(n_items)
    n_examples = positions.shape[0]
    warp_queue = upcoming_negatives[PREFETCH_DISTANCE:]
    total_loss = 0.0
    total_weight = 0.0
    # The unweighted pairwise losses' log1p terms, as the log of their product
    # (see accumulate_log1p).
    log_product = 1.0
    for ahead in range(min(PREFETCH_DISTANCE, n_examples)):
        position = positions[ahead]
        user = interaction_users[position]
        state, negative = draw_negative(
            state,
            sampler,
            n_items_bound,
            alias_threshold,
            alias,
            indices,
            indptr[user],
            indptr[user + 1],
            unseen_max_draws,
        )
        upcoming_negatives[ahead] = negative
        _prefetch_example(position, negative, data, model, optimizer_state)
    for example in range(n_examples):
        slot = example % PREFETCH_DISTANCE
        first_negative = upcoming_negatives[slot]
        ahead = example + PREFETCH_DISTANCE
        if ahead < n_examples:
            position = positions[ahead]
            user = interaction_users[position]
            state, negative = draw_negative(
                state,
                sampler,
                n_items_bound,
                alias_threshold,
                alias,
                indices,
                indptr[user],
                indptr[user + 1],
                unseen_max_draws,
            )
            upcoming_negatives[slot] = negative
            _prefetch_example(position, negative, data, model, optimizer_state)

        position = positions[example]
        user = np.int64(interaction_users[position])
        start = indptr[user]
        stop = indptr[user + 1]
        weight = weights[position] if use_weights else _ONE32
        if weight == _ZERO32:
            continue
        positive = np.int64(indices[position])
        user_row = user_factors[user]
        if _LOSS_FAMILY == _POINTWISE:
            score = dot(user_row, item_factors[positive]) + item_biases[positive]
            value, gradient = point_loss_and_gradient(np.float64(score), 1.0)
            total_loss += weight * value
            total_weight += weight
            _point_step(user, positive, np.float32(weight * gradient), model, optimizer_state, settings)
            negative = first_negative
            for round_ in range(n_negatives):
                if round_ > 0:
                    state, negative = draw_negative(
                        state, sampler, n_items_bound, alias_threshold, alias, indices, start, stop, unseen_max_draws
                    )
                score = dot(user_row, item_factors[negative]) + item_biases[negative]
                value, gradient = point_loss_and_gradient(np.float64(score), -1.0)
                total_loss += weight * value
                total_weight += weight
                _point_step(user, negative, np.float32(weight * gradient), model, optimizer_state, settings)
            continue
        if _LOSS_FAMILY == _WARP_KOS_FAMILY:
            n_drawn = min(kos_n, stop - start)
            for draw in range(n_drawn):
                state, offset = random_below(state, np.uint64(stop - start))
                kos_positions[draw] = start + offset
                _prefetch_row(item_factors, indices[start + offset])
            for draw in range(n_drawn):
                item = indices[kos_positions[draw]]
                kos_scores[draw] = dot(user_row, item_factors[item]) + item_biases[item]
            chosen = kos_positions[kth_best(kos_scores, n_drawn, kos_k)]
            positive = np.int64(indices[chosen])
            weight = weights[chosen] if use_weights else _ONE32
            if weight == _ZERO32:
                continue
        if _LOSS_FAMILY == _WARP_FAMILY or _LOSS_FAMILY == _WARP_KOS_FAMILY:
            positive_score = dot(user_row, item_factors[positive]) + item_biases[positive]
            total_weight += weight
        negative = first_negative
        # WARP makes one step (on the first violating negative it finds); the
        # other pairwise losses one step per negative.
        n_rounds = 1 if _LOSS_FAMILY == _WARP_FAMILY or _LOSS_FAMILY == _WARP_KOS_FAMILY else n_negatives
        for round_ in range(n_rounds):
            step_gradient = 0.0
            if _LOSS_FAMILY == _WARP_FAMILY or _LOSS_FAMILY == _WARP_KOS_FAMILY:
                # Draws 2.. come from a queue filled WARP_LOOKAHEAD draws
                # ahead (once the first draw missed), so their rows can be
                # prefetched.
                lookahead = min(WARP_LOOKAHEAD, max_sampled - 1)
                for draws in range(1, max_sampled + 1):
                    if draws > 1:
                        if draws == 2:
                            for queued in range(lookahead):
                                state, upcoming = draw_negative(
                                    state,
                                    sampler,
                                    n_items_bound,
                                    alias_threshold,
                                    alias,
                                    indices,
                                    start,
                                    stop,
                                    unseen_max_draws,
                                )
                                warp_queue[queued] = upcoming
                                _prefetch_row(item_factors, upcoming)
                                prefetch(item_biases, upcoming)
                        queue_slot = (draws - 2) % lookahead
                        negative = warp_queue[queue_slot]
                        if draws + lookahead <= max_sampled:
                            state, upcoming = draw_negative(
                                state,
                                sampler,
                                n_items_bound,
                                alias_threshold,
                                alias,
                                indices,
                                start,
                                stop,
                                unseen_max_draws,
                            )
                            warp_queue[queue_slot] = upcoming
                            _prefetch_row(item_factors, upcoming)
                            prefetch(item_biases, upcoming)
                    negative_score = dot(user_row, item_factors[negative]) + item_biases[negative]
                    difference = np.float64(positive_score) - np.float64(negative_score)
                    if difference < margin:
                        rank_weight = math.log(np.float64(max((n_items - 1) // draws, 1)))
                        total_loss += weight * rank_weight * (margin - difference)
                        step_gradient = -weight * rank_weight
                        break
            else:
                if round_ > 0:
                    state, negative = draw_negative(
                        state, sampler, n_items_bound, alias_threshold, alias, indices, start, stop, unseen_max_draws
                    )
                difference = _dot_difference(user_row, item_factors[positive], item_factors[negative])
                difference += item_biases[positive] - item_biases[negative]
                gradient, linear, log1p_argument = pair_gradient32(loss, difference, margin32)
                if use_weights:
                    total_loss += weight * (np.float64(linear) + math.log1p(np.float64(log1p_argument)))
                else:
                    total_loss += linear
                    log_product, total_loss = accumulate_log1p(log_product, total_loss, log1p_argument)
                total_weight += weight
                step_gradient = weight * gradient
            if step_gradient != 0.0:
                _pair_step(user, positive, negative, np.float32(step_gradient), model, optimizer_state, settings)
    return state, total_loss + math.log(log_product), total_weight


def train_epoch(plan, data, model, optimizer_state, scratch, settings):
    """Train one epoch, in place.

    Runs the compiled copy of the kernels for the settings' loss family,
    optimizer and sampler (compiled on first use; see :func:`_variant`).

    Parameters
    ----------
    plan : EpochPlan
        The shuffled users, their cut into chunks, the chunks' generators
        (advanced in place) and the chunks' loss outputs.
    data : TrainingData
        The training interactions and the popularity sampler's alias table.
    model : Model
        User and item factors and item biases, trained in place.
    optimizer_state : OptimizerState
        Updated in place.
    scratch : Scratch
        Work arrays (one row per chunk for the per-chunk ones).
    settings : Settings
        Loss, sampler, optimizer and their hyper-parameters.
    """
    kernel = _variant(_LOSS_FAMILIES[settings.loss], settings.optimizer, settings.sampler)
    # Chunks hold about equal numbers of interactions: one range per thread.
    n_chunks = plan.chunk_starts.shape[0] - 1
    run_in_ranges(kernel, n_chunks, (plan, data, model, optimizer_state, scratch, settings), tasks_per_thread=1)


@numba.njit(**_INTERNAL)
def lay_out_chunk(chunk, plan, indptr, positions, random_order):
    """Write the visiting order of chunk ``chunk``'s interactions into ``positions``.

    The chunk's users (``plan``, an :class:`EpochPlan`) in their shuffled
    order, each user's positives together in a random order, or
    (``random_order``) all the chunk's interactions shuffled together.

    Returns
    -------
    state : uint64
        The chunk's generator state after the shuffles.
    offset, filled : int64
        The chunk's order is ``positions[offset:filled]``.
    """
    state = plan.rng_states[chunk]
    offset = plan.chunk_offsets[chunk]
    filled = offset
    for slot in range(plan.chunk_starts[chunk], plan.chunk_starts[chunk + 1]):
        user = plan.user_order[slot]
        begin = filled
        for position in range(indptr[user], indptr[user + 1]):
            positions[filled] = position
            filled += 1
        if not random_order:
            state = shuffle_between(positions, begin, filled, state)
    if random_order:
        state = shuffle_between(positions, offset, filled, state)
    return state, offset, filled


def _train_chunk(chunk, plan, data, model, optimizer_state, scratch, settings):
    """Lay out chunk ``chunk``'s visiting order and train on it (a template, see :func:`_variant`)."""
    positions = scratch.positions
    state, offset, filled = lay_out_chunk(chunk, plan, data.indptr, positions, settings.random_order)
    chunk_scratch = Scratch(
        positions[offset:filled],
        scratch.kos_scores[chunk],
        scratch.kos_positions[chunk],
        scratch.upcoming_negatives[chunk],
    )
    state, total_loss, total_weight = _train_positions(state, data, model, optimizer_state, chunk_scratch, settings)
    plan.rng_states[chunk] = state
    plan.chunk_losses[chunk] = total_loss
    plan.chunk_weights[chunk] = total_weight


def _train_chunks(first, last, plan, data, model, optimizer_state, scratch, settings):
    """Train chunks ``first .. last - 1`` of the epoch plan (a template, see :func:`_variant`).

    Serial and compiled without the GIL: :func:`train_epoch` runs one range
    of chunks per thread (see :mod:`tripletrec.kernels.threads`).
    """
    for chunk in range(first, last):
        _train_chunk(chunk, plan, data, model, optimizer_state, scratch, settings)


# ------------------------------------------------------------------ variants
# One dispatcher compiling every loss, optimizer and sampler into one
# function took most of a first fit's time (numba typing and LLVM optimising
# code that a fit never runs). The templates above instead read the loss
# family, optimizer and sampler from the module constants below, and
# _variant compiles a copy of them per combination actually used, in which
# those are compile-time constants: numba prunes the other branches before
# typing them.
_LOSS_FAMILY = -1
_OPTIMIZER = -1
_SAMPLER = -1

# Loss families, each a different training loop: the pairwise losses (their
# loss code stays a run-time value), warp, warp-kos and logistic.
_PAIRWISE, _WARP_FAMILY, _WARP_KOS_FAMILY, _POINTWISE = range(4)
_FAMILY_NAMES = ("pairwise", "warp", "warp_kos", "pointwise")
_LOSS_FAMILIES = {
    code: {WARP: _WARP_FAMILY, WARP_KOS: _WARP_KOS_FAMILY, LOGISTIC: _POINTWISE}.get(code, _PAIRWISE)
    for code in range(len(LOSSES))
}

# Templates in calling order (callees first) with their jit options.
_TEMPLATES = (
    (_pair_step, {"forceinline": True, **_NO_WRAPPER}),
    (_point_step, _NO_WRAPPER),
    (_prefetch_example, {"forceinline": True, **_NO_WRAPPER}),
    (_train_positions, {"inline": "always", **_NO_WRAPPER}),
    (_train_chunk, _NO_WRAPPER),
    (_train_chunks, {"nogil": True}),
)

_variants = {}


def _variant(loss_family, optimizer, sampler):
    """The compiled ``_train_chunks`` for one loss family, optimizer and sampler.

    Each template is copied (:func:`tripletrec.kernels.variants.compile_variant`)
    with module globals in which ``_LOSS_FAMILY``, ``_OPTIMIZER`` and
    ``_SAMPLER`` hold the variant's codes.

    Parameters
    ----------
    loss_family : int
        One of ``_PAIRWISE``, ``_WARP_FAMILY``, ``_WARP_KOS_FAMILY``, ``_POINTWISE``.
    optimizer, sampler : int
        Codes of :data:`OPTIMIZER_CODES` and :data:`tripletrec.sampling.SAMPLER_CODES`.

    Returns
    -------
    numba dispatcher (the plain function under ``NUMBA_DISABLE_JIT``)
    """
    key = (loss_family, optimizer, sampler)
    if key not in _variants:
        suffix = f"__{_FAMILY_NAMES[loss_family]}_{OPTIMIZERS[optimizer]}_{NEGATIVE_SAMPLERS[sampler]}".replace(
            "-", "_"
        )
        constants = {"_LOSS_FAMILY": loss_family, "_OPTIMIZER": optimizer, "_SAMPLER": sampler}
        _variants[key] = compile_variant(_TEMPLATES, globals(), constants, suffix, _OPTIONS)["_train_chunks"]
    return _variants[key]

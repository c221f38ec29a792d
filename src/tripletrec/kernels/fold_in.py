"""Compiled fold-in: fit the vectors of new users with every item parameter frozen.

A user who was not in the training data has no row in ``user_factors_``.
Fold-in learns one for them from the items they interacted with, by running
the training algorithm on that user alone: the same loss, the same negative
sampling rule and the same optimizer, but only the user's own vector moves
(the item vectors and biases are read, never written). Each user is an
independent small problem, so :func:`fold_in_users` solves them in parallel
over users (on threads, :mod:`tripletrec.kernels.threads`) with no shared writes.

Random numbers come from one xorshift64* generator [1]_ per user, started
from :func:`user_random_state` of ``(seed, user key)``, the key being a hash
of the user's items and weights computed by the caller
(:func:`tripletrec.models.fold_in.user_keys`): a user's vector depends only
on the seed and the user's items, never on the other users in the batch, the
user's position in it, the number of threads or how users are handed to
threads.

One epoch visits each of the user's positives once, in a random order, with
the step of :func:`pair_step` (``bpr``, ``sigmoid``, ``hinge``, and ``warp``
/ ``warp-kos`` once a violating negative is found) or :func:`point_step`
(``logistic``). The optimizers follow :mod:`tripletrec.kernels.training`
(``sgd``, ``adagrad`` and ``rowwise-adagrad`` with their accumulators
starting at :data:`~tripletrec.kernels.steps.ADAGRAD_INITIAL_ACCUMULATOR`,
lazy ``adam``), restricted to the user row, with the optimizer state started
afresh for every folded-in user.

The vector returned is the average of the user's vectors at the end of the
last ``epochs - epochs // 2`` epochs (suffix averaging of the SGD iterates
[2]_ [3]_) rather than the last one: with only the user's few items to learn
from, the last iterate carries the noise of the last steps. On ml-100k this
raised the held-out precision@10 of folded-in users by 2-4% of its value
(``tests/models/test_serving.py`` gives the measured margin).

References
----------
.. [1] S. Vigna, "An experimental exploration of Marsaglia's xorshift
   generators, scrambled", ACM TOMS 42(4), 2016.
.. [2] B. T. Polyak and A. B. Juditsky, "Acceleration of stochastic
   approximation by averaging", SIAM J. Control and Optimization 30(4),
   1992.
.. [3] A. Rakhlin, O. Shamir and K. Sridharan, "Making gradient descent
   optimal for strongly convex stochastic optimization", ICML 2012.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from ..losses import HINGE, LOGISTIC, WARP, WARP_KOS
from ..sampling import UNSEEN
from .jit_options import FASTMATH
from .jit_options import ONE32 as _ONE32
from .jit_options import ZERO32 as _ZERO32
from .loss_terms import kth_best, pair_loss_and_gradient, point_loss_and_gradient
from .random_draws import contains_sorted, random_below
from .steps import ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, OPTIMIZER_CODES, dot
from .threads import run_in_ranges

__all__ = [
    "FoldInScratch",
    "FoldInSettings",
    "FrozenItems",
    "NewUsers",
    "StepRule",
    "UserState",
    "fold_in_users",
    "pair_step",
    "point_step",
    "user_random_state",
]

SGD = OPTIMIZER_CODES["sgd"]
ADAGRAD = OPTIMIZER_CODES["adagrad"]
ADAM = OPTIMIZER_CODES["adam"]
ROWWISE_ADAGRAD = OPTIMIZER_CODES["rowwise-adagrad"]

# Fold-in allocates its work arrays inside the kernels: numba's runtime stays on.
_OPTIONS = {"cache": True, "error_model": "numpy", "fastmath": FASTMATH}

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_MULTIPLIER_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_MULTIPLIER_2 = np.uint64(0x94D049BB133111EB)


# ------------------------------------------------------------ bundle types
# The kernels take their arrays and settings in these few named tuples, which
# numba passes (unpacked, at no cost) into the inner jitted functions.
NewUsers = namedtuple("NewUsers", ["indptr", "indices", "weights", "anchors", "keys"])
NewUsers.__doc__ = """The new users' interactions, CSR, and their anchors; read only.

Fields
------
indptr : ndarray, shape (n_new + 1,), int64
indices : ndarray, shape (nnz,), int32
    The new users' items (dense item indices), ascending within a user.
weights : ndarray, shape (nnz,), float32
    Sample weight of each pair (ignored unless ``FoldInSettings.use_weights``);
    a weight-0 pair takes no step.
anchors : ndarray, shape (n_new, dim), float32
    The vector the L2 penalty pulls each user towards: zeros for plain
    fold-in; a hybrid model's vector of the user's features, so that the
    penalty falls on what the items add to it (the user's identity vector).
keys : ndarray, shape (n_new,), uint64
    Each user's key, which with the seed starts the user's generator
    (:func:`user_random_state`).
"""

FrozenItems = namedtuple("FrozenItems", ["item_factors", "item_biases"])
FrozenItems.__doc__ = """The trained item parameters; read only.

Fields
------
item_factors : ndarray, shape (n_items, dim), float32
item_biases : ndarray, shape (n_items,), float32
"""

FoldInScratch = namedtuple(
    "FoldInScratch", ["first_moments", "second_moments", "vector_sums", "order", "kos_scores", "kos_positions"]
)
FoldInScratch.__doc__ = """Work arrays of :func:`fold_in_users`, one row per new user.

Fields
------
first_moments, second_moments : ndarray, shape (n_new, dim), float32
    The optimizer state (zeros; Adagrad's start is set by the kernel).
vector_sums : ndarray, shape (n_new, dim), float64
    Zeros: sums of the vectors averaged.
order : ndarray, shape (nnz,), int64
    Each user's visiting order.
kos_scores : ndarray, shape (n_new, >= kos_n), float32
kos_positions : ndarray, shape (n_new, >= kos_n), int64
    Scratch of ``warp-kos`` (may have zero columns for other losses).
"""

FoldInSettings = namedtuple(
    "FoldInSettings",
    [
        "seed",
        "loss",
        "sampler",
        "optimizer",
        "n_negatives",
        "max_sampled",
        "unseen_max_draws",
        "kos_k",
        "kos_n",
        "epochs",
        "learning_rate",
        "l2",
        "margin",
        "use_weights",
    ],
)
FoldInSettings.__doc__ = """The scalar settings of a fold-in.

Fields
------
seed : uint64
    With the user's key, seeds the user's generator (:func:`user_random_state`).
loss, sampler, optimizer : int
    Codes of :data:`tripletrec.losses.LOSS_CODES`,
    :data:`tripletrec.sampling.SAMPLER_CODES` (``uniform`` or ``unseen``) and
    :data:`tripletrec.kernels.steps.OPTIMIZER_CODES`.
n_negatives : int
    Negatives per positive for ``bpr``, ``sigmoid``, ``hinge`` and ``logistic``.
max_sampled : int
    Most negatives ``warp`` and ``warp-kos`` draw per positive.
unseen_max_draws : int
    Draws of the ``unseen`` sampler before it accepts a positive.
kos_k, kos_n : int
    ``warp-kos`` trains on the ``kos_k``-th best of ``kos_n`` drawn positives.
epochs : int
    Passes over each user's items.
learning_rate, l2 : float32
margin : float64
use_weights : bool
"""

UserState = namedtuple("UserState", ["vector", "first_moment", "second_moment", "anchor"])
UserState.__doc__ = """One user's row and optimizer state, updated in place by a step.

Fields
------
vector : ndarray, shape (dim,), float32
first_moment, second_moment : ndarray, shape (dim,), float32
    Adagrad's sums live in ``second_moment`` (row-wise Adagrad's one sum in
    ``second_moment[0]``); Adam uses both; SGD neither.
anchor : ndarray, shape (dim,), float32
    What the L2 penalty pulls ``vector`` towards (read only).
"""

StepRule = namedtuple("StepRule", ["optimizer", "learning_rate", "l2"])
StepRule.__doc__ = """How a step moves the user row.

Fields
------
optimizer : int
    Code of :data:`tripletrec.kernels.steps.OPTIMIZER_CODES`.
learning_rate, l2 : float32
"""


@numba.njit(**_OPTIONS)
def user_random_state(seed, key):
    """Starting xorshift64* state of the user with ``key`` under ``seed``.

    SplitMix64's output function of ``seed + (key + 1) * golden_gamma``:
    distinct keys give unrelated, non-zero states.

    Parameters
    ----------
    seed : uint64
    key : uint64
        The user's key (a hash of the user's items and weights).

    Returns
    -------
    uint64
        Never zero (xorshift would stay at zero forever).
    """
    mixed = np.uint64(seed) + (np.uint64(key) + np.uint64(1)) * _GOLDEN_GAMMA
    mixed = (mixed ^ (mixed >> np.uint64(30))) * _MIX_MULTIPLIER_1
    mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX_MULTIPLIER_2
    mixed = mixed ^ (mixed >> np.uint64(31))
    if mixed == np.uint64(0):
        return _GOLDEN_GAMMA
    return mixed


@numba.njit(forceinline=True, **_OPTIONS, no_cpython_wrapper=True)
def _update_user(user, adam_steps, direction_left, direction_right, gradient, rule):
    """``user.vector -= step(gradient * (left - right) + l2 * (user.vector - user.anchor))``.

    ``user`` is a :class:`UserState`, ``rule`` a :class:`StepRule`.
    ``direction_right`` may be empty (zero length): the direction is then
    ``direction_left`` alone (pointwise losses). Returns Adam's new step count.
    """
    user_vector, first_moment, second_moment, anchor = user
    optimizer, learning_rate, l2 = rule
    dim = user_vector.shape[0]
    pairwise = direction_right.shape[0] > 0
    if optimizer == ROWWISE_ADAGRAD:
        # One sum for the whole row, kept in second_moment[0].
        squares = _ZERO32
        for index in range(dim):
            direction = direction_left[index]
            if pairwise:
                direction = direction - direction_right[index]
            step_gradient = gradient * direction + l2 * (user_vector[index] - anchor[index])
            squares += step_gradient * step_gradient
        row_sum = second_moment[0] + squares / np.float32(dim)
        second_moment[0] = row_sum
        rate = learning_rate / np.sqrt(row_sum)
    elif optimizer == ADAM:
        adam_steps += 1
        rate = np.float32(learning_rate * math.sqrt(1.0 - ADAM_BETA2**adam_steps) / (1.0 - ADAM_BETA1**adam_steps))
        beta1 = np.float32(ADAM_BETA1)
        beta2 = np.float32(ADAM_BETA2)
        epsilon = np.float32(ADAM_EPSILON)
    for index in range(dim):
        value = user_vector[index]
        direction = direction_left[index]
        if pairwise:
            direction = direction - direction_right[index]
        step_gradient = gradient * direction + l2 * (value - anchor[index])
        if optimizer == SGD:
            user_vector[index] = value - learning_rate * step_gradient
        elif optimizer == ROWWISE_ADAGRAD:
            user_vector[index] = value - rate * step_gradient
        elif optimizer == ADAGRAD:
            total = second_moment[index] + step_gradient * step_gradient
            second_moment[index] = total
            user_vector[index] = value - learning_rate * step_gradient / np.sqrt(total)
        else:
            first = beta1 * first_moment[index] + (_ONE32 - beta1) * step_gradient
            second = beta2 * second_moment[index] + (_ONE32 - beta2) * step_gradient * step_gradient
            first_moment[index] = first
            second_moment[index] = second
            user_vector[index] = value - rate * first / (np.sqrt(second) + epsilon)
    return adam_steps


@numba.njit(**_OPTIONS)
def pair_step(
    user,
    adam_steps,
    positive_vector,
    positive_bias,
    negative_vector,
    negative_bias,
    weight,
    rank_weight,
    loss,
    margin,
    rule,
):
    """One fold-in step on a (positive, negative) pair; only the user's row moves.

    With ``d = user . (positive - negative) + positive_bias - negative_bias``
    and ``(value, g)`` the pairwise loss and its derivative at ``d``
    (:func:`tripletrec.kernels.training.pair_loss_and_gradient`; the hinge
    for ``warp`` and ``warp-kos``), the user gradient is
    ``weight * rank_weight * g * (positive - negative) + l2 * (user - anchor)`` and the
    optimizer takes one step on it. A zero loss gradient takes no step (no
    L2 either), as in training.

    Parameters
    ----------
    user : UserState
        The user's vector and optimizer state, updated in place.
    adam_steps : int64
        Adam's step count before this step.
    positive_vector, negative_vector : ndarray, shape (dim,), float32
    positive_bias, negative_bias : float32
    weight : float32
        Sample weight of the positive.
    rank_weight : float64
        WARP's ``log(floor((n_items - 1) / draws))``; 1 for the other losses.
    loss : int
        Code of :data:`tripletrec.losses.LOSS_CODES`.
    margin : float64
    rule : StepRule
        The optimizer, learning rate and L2.

    Returns
    -------
    value : float64
        ``weight * rank_weight * loss(d)``.
    adam_steps : int64
        The step count after the step.
    """
    user_vector = user.vector
    difference = dot(user_vector, positive_vector) - dot(user_vector, negative_vector)
    difference += positive_bias - negative_bias
    value, gradient = pair_loss_and_gradient(loss, np.float64(difference), margin)
    scale = np.float64(weight) * rank_weight
    if gradient != 0.0:
        adam_steps = _update_user(
            user, adam_steps, positive_vector, negative_vector, np.float32(scale * gradient), rule
        )
    return scale * value, adam_steps


@numba.njit(**_OPTIONS)
def point_step(user, adam_steps, item_vector, item_bias, label, weight, rule):
    """One fold-in step of the logistic loss on one (user, item) score.

    With ``s = user . item + item_bias`` and ``g`` the derivative of
    ``-log sigmoid(label * s)`` in ``s``, the user gradient is
    ``weight * g * item + l2 * (user - anchor)``. Parameters are those of
    :func:`pair_step`; ``label`` is +1.0 for a positive, -1.0 for a negative.

    Returns
    -------
    value : float64
        ``weight * -log sigmoid(label * s)``.
    adam_steps : int64
    """
    score = dot(user.vector, item_vector) + item_bias
    value, gradient = point_loss_and_gradient(np.float64(score), label)
    adam_steps = _update_user(user, adam_steps, item_vector, item_vector[:0], np.float32(weight * gradient), rule)
    return weight * value, adam_steps


@numba.njit(forceinline=True, **_OPTIONS, no_cpython_wrapper=True)
def _draw_negative(state, n_items_bound, sampler, indices, start, stop, unseen_max_draws):
    state, item = random_below(state, n_items_bound)
    if sampler == UNSEEN:
        draws = 1
        while draws < unseen_max_draws and contains_sorted(indices, start, stop, item):
            state, item = random_below(state, n_items_bound)
            draws += 1
    return state, item


# Inlined into _fold_in_range as numba IR (its only caller), so that it is not
# compiled and optimised once on its own and again inside the caller: about
# 0.8 s less of the first fold-in's compile (2 cores), with the same speed.
@numba.njit(**_OPTIONS, inline="always", no_cpython_wrapper=True)
def _fold_in_user(user, new_users, items, user_factors, scratch, epoch_losses, settings):
    """Fold in the user at row ``user``; the bundles are those of :func:`fold_in_users`."""
    indptr, indices, weights, anchors, keys = new_users
    item_factors, item_biases = items
    first_moments, second_moments, vector_sums, order, kos_scores, kos_positions = scratch
    (
        seed,
        loss,
        sampler,
        optimizer,
        n_negatives,
        max_sampled,
        unseen_max_draws,
        kos_k,
        kos_n,
        epochs,
        learning_rate,
        l2,
        margin,
        use_weights,
    ) = settings
    start = indptr[user]
    stop = indptr[user + 1]
    count = stop - start
    if count == 0:
        return
    n_items = item_factors.shape[0]
    n_items_bound = np.uint64(n_items)
    user_vector = user_factors[user]
    first_moment = first_moments[user]
    second_moment = second_moments[user]
    if optimizer == ADAGRAD or optimizer == ROWWISE_ADAGRAD:
        second_moment[:] = np.float32(ADAGRAD_INITIAL_ACCUMULATOR)
    # A plain int64, not the constant: numba would compile pair_step again
    # for the literal HINGE next to the runtime loss code.
    hinge = np.int64(HINGE)
    user_state = UserState(user_vector, first_moment, second_moment, anchors[user])
    rule = StepRule(optimizer, learning_rate, l2)
    adam_steps = np.int64(0)
    state = user_random_state(np.uint64(seed), keys[user])
    visit = order[start:stop]
    for offset in range(count):
        visit[offset] = start + offset
    user_kos_scores = kos_scores[user]
    user_kos_positions = kos_positions[user]
    dim = user_vector.shape[0]
    vector_sum = vector_sums[user]
    first_averaged_epoch = epochs // 2
    for epoch in range(epochs):
        # Fisher-Yates: the user's positives in a fresh random order.
        for slot in range(count - 1, 0, -1):
            state, other = random_below(state, np.uint64(slot + 1))
            swap = visit[slot]
            visit[slot] = visit[other]
            visit[other] = swap
        total_loss = 0.0
        total_weight = 0.0
        for slot in range(count):
            position = visit[slot]
            weight = weights[position] if use_weights else _ONE32
            if weight == _ZERO32:
                continue
            positive = indices[position]
            if loss == WARP or loss == WARP_KOS:
                if loss == WARP_KOS:
                    n_drawn = min(kos_n, count)
                    for draw in range(n_drawn):
                        state, drawn = random_below(state, np.uint64(count))
                        user_kos_positions[draw] = start + drawn
                        item = indices[start + drawn]
                        user_kos_scores[draw] = dot(user_vector, item_factors[item]) + item_biases[item]
                    chosen = user_kos_positions[kth_best(user_kos_scores, n_drawn, kos_k)]
                    positive = indices[chosen]
                    weight = weights[chosen] if use_weights else _ONE32
                    if weight == _ZERO32:
                        continue
                total_weight += weight
                positive_score = dot(user_vector, item_factors[positive]) + item_biases[positive]
                for draws in range(1, max_sampled + 1):
                    state, negative = _draw_negative(
                        state, n_items_bound, sampler, indices, start, stop, unseen_max_draws
                    )
                    negative_score = dot(user_vector, item_factors[negative]) + item_biases[negative]
                    if np.float64(positive_score) - np.float64(negative_score) < margin:
                        rank_weight = math.log(np.float64(max((n_items - 1) // draws, 1)))
                        value, adam_steps = pair_step(
                            user_state,
                            adam_steps,
                            item_factors[positive],
                            item_biases[positive],
                            item_factors[negative],
                            item_biases[negative],
                            weight,
                            rank_weight,
                            hinge,
                            margin,
                            rule,
                        )
                        total_loss += value
                        break
            elif loss == LOGISTIC:
                value, adam_steps = point_step(
                    user_state,
                    adam_steps,
                    item_factors[positive],
                    item_biases[positive],
                    1.0,
                    weight,
                    rule,
                )
                total_loss += value
                total_weight += weight
                for _ in range(n_negatives):
                    state, negative = _draw_negative(
                        state, n_items_bound, sampler, indices, start, stop, unseen_max_draws
                    )
                    value, adam_steps = point_step(
                        user_state,
                        adam_steps,
                        item_factors[negative],
                        item_biases[negative],
                        -1.0,
                        weight,
                        rule,
                    )
                    total_loss += value
                    total_weight += weight
            else:
                for _ in range(n_negatives):
                    state, negative = _draw_negative(
                        state, n_items_bound, sampler, indices, start, stop, unseen_max_draws
                    )
                    value, adam_steps = pair_step(
                        user_state,
                        adam_steps,
                        item_factors[positive],
                        item_biases[positive],
                        item_factors[negative],
                        item_biases[negative],
                        weight,
                        1.0,
                        loss,
                        margin,
                        rule,
                    )
                    total_loss += value
                    total_weight += weight
        epoch_losses[user, epoch] = total_loss / total_weight if total_weight > 0.0 else 0.0
        if epoch >= first_averaged_epoch:
            for index in range(dim):
                vector_sum[index] += user_vector[index]
    for index in range(dim):
        user_vector[index] = np.float32(vector_sum[index] / (epochs - first_averaged_epoch))


def fold_in_users(new_users, items, user_factors, scratch, epoch_losses, settings):
    """Fold in every user of a CSR batch, in parallel over users, in place.

    Users are folded in on ``numba.get_num_threads()`` threads, each running
    :func:`_fold_in_range` over its users (:mod:`tripletrec.kernels.threads`).

    Parameters
    ----------
    new_users : NewUsers
        The new users' items and weights.
    items : FrozenItems
        The trained item parameters; read only.
    user_factors : ndarray, shape (n_new, dim), float32
        The starting vectors; overwritten with the folded-in ones (the
        average of the vectors at the end of epochs ``epochs // 2 + 1`` to
        ``epochs``). A user without items keeps its start.
    scratch : FoldInScratch
        Work arrays.
    epoch_losses : ndarray, shape (n_new, epochs), float64
        Output: each user's mean weighted loss per epoch (0 for users
        without items).
    settings : FoldInSettings
        Loss, sampler, optimizer, epochs and the rest.
    """
    n_new = new_users.indptr.shape[0] - 1
    run_in_ranges(_fold_in_range, n_new, (new_users, items, user_factors, scratch, epoch_losses, settings))


@numba.njit(nogil=True, **_OPTIONS)
def _fold_in_range(first, last, new_users, items, user_factors, scratch, epoch_losses, settings):
    """Fold in users ``first .. last - 1`` (serial; see :func:`fold_in_users`)."""
    for user in range(first, last):
        _fold_in_user(user, new_users, items, user_factors, scratch, epoch_losses, settings)

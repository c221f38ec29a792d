"""Compiled training with side features: one call trains one epoch of a hybrid model.

A hybrid model (LightFM's representation [1]_) describes each user and item
by a sparse row of feature weights, and learns one vector per feature column
(and, for items, one bias per column). The vector of user ``u`` is the
weighted sum of its features' vectors::

    user_vector[u] = sum_f user_features[u, f] * user_embeddings[f]

and likewise for items (``item_vector``, and ``item_bias[i] = sum_f
item_features[i, f] * item_feature_biases[f]``). With only identity columns
(one per user and per item, weight 1) it is plain matrix factorisation.

:func:`train_feature_epoch` runs the training of
:mod:`tripletrec.kernels.training` on these representations: the same
chunks of users per thread (Hogwild [2]_ on every shared row, feature rows
included), the same losses, samplers and random generators, and the same
optimizers, applied per *feature row*. A step computes the loss gradient
``g`` with respect to the representations from their values before the
step; a feature column ``f`` of weight ``w`` in the row of the user (item)
then takes the optimizer step on ``w * g_vector + l2 * embedding[f]``, where
``g_vector`` is the representation's gradient (``g * (positive_vector -
negative_vector)`` for the user of a pair, ``g * user_vector`` for its
positive, ``-g * user_vector`` for its negative). The item biases follow
with ``w * g + bias_l2 * bias[f]``. Items are updated first (positive, then
negative), the user last.

WARP's search for a violating negative is the costly part (up to
``max_sampled`` item representations per positive): each draw is first
screened with the item representations of the start of the epoch
(:class:`FeatureData`), one dot product for the positive and one per
negative, and only a pair that passes is represented exactly and checked
again. A negative whose snapshot
is out of date may so be passed over, as it may be by the sampling itself;
on ml-100k with genre, year and title features this made WARP epochs 3x
faster at the same held-out accuracy (``benchmarks/cold_start.py``).

Representations are computed when an example needs them. A user's vector is
computed once for its run of consecutive examples in the chunk and kept
current by adding each step's change of its rows, which is exact on one
thread and, with more, misses only what other threads wrote meanwhile to
shared user-feature rows, as Hogwild allows.

The arrays come in the bundles of :mod:`tripletrec.kernels.training_bundles`
with rows of *feature columns* in place of users and items: ``Model`` holds
the feature embeddings and the item feature biases, ``OptimizerState`` their
optimizer state, and :class:`FeatureRows` the feature matrices.

References
----------
.. [1] M. Kula, "Metadata embeddings for user and item cold-start
   recommendations", CBRecSys workshop at RecSys 2015, arXiv:1507.08439.
.. [2] F. Niu, B. Recht, C. Re and S. J. Wright, "Hogwild!: A lock-free
   approach to parallelizing stochastic gradient descent", NIPS 2011.
.. [3] M. Volkovs, G. Yu and T. Poutanen, "DropoutNet: Addressing cold
   start in recommender systems", NIPS 2017.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from ..sampling import NEGATIVE_SAMPLERS
from .jit_options import INTERNAL as _INTERNAL
from .jit_options import KERNEL_OPTIONS as _OPTIONS
from .jit_options import NO_WRAPPER as _NO_WRAPPER
from .jit_options import ONE32 as _ONE32
from .jit_options import ZERO32 as _ZERO32
from .random_draws import draw_negative, random_below, xorshift64star
from .steps import (
    ADAGRAD,
    ADAM,
    ADAM_BETA1,
    ADAM_BETA2,
    ADAM_EPSILON,
    OPTIMIZERS,
    ROWWISE_ADAGRAD,
    SGD,
    dot,
)
from .threads import run_in_ranges
from .training import (
    _FAMILY_NAMES,
    _LOSS_FAMILIES,
    _POINTWISE,
    _WARP_FAMILY,
    _WARP_KOS_FAMILY,
    kth_best,
    lay_out_chunk,
    pair_loss_and_gradient,
    point_loss_and_gradient,
)
from .variants import compile_variant

__all__ = ["FeatureData", "FeatureRows", "FeatureScratch", "VECTORS_PER_CHUNK", "train_feature_epoch"]


#: Work vectors of length ``dim`` each chunk keeps: the user's, the
#: positive's and the negative's representations and the user's gradient direction.
VECTORS_PER_CHUNK = 4

FeatureRows = namedtuple("FeatureRows", ["indptr", "columns", "values"])
FeatureRows.__doc__ = """A feature matrix in CSR form: one row per user (item); read only.

Fields
------
indptr : ndarray, shape (n_rows + 1,), int64
columns : ndarray, shape (nnz,), int32
    Feature columns of each row (rows of the embedding table).
values : ndarray, shape (nnz,), float32
    Their weights.
"""

FeatureData = namedtuple(
    "FeatureData",
    [
        "user_features",
        "item_features",
        "item_vectors",
        "item_vector_biases",
        "identity_dropout",
        "user_identity_start",
        "item_identity_start",
        "feature_l2",
    ],
)
FeatureData.__doc__ = """The feature matrices of a hybrid model, and a snapshot of the item representations.

Fields
------
user_features : FeatureRows
    Shape (n_users, n_user_columns); read only.
item_features : FeatureRows
    Shape (n_items, n_item_columns); read only.
item_vectors : ndarray, shape (n_items, dim), float32
item_vector_biases : ndarray, shape (n_items,), float32
    Every item's representation (``F @ embeddings``, ``F @ biases``) at the
    start of the epoch. ``warp`` and ``warp-kos`` screen each drawn negative
    with it (one dot product) and represent the positive and a negative
    exactly only once the snapshot says the pair violates the margin; the
    pair then takes the step only if it violates exactly too. The kernel
    writes those exact representations back into the snapshot.
identity_dropout : float32
    Probability, per item and step, of leaving the item's identity column
    out of its representation (forward and backward), so that its features
    learn to stand for it alone, as they must for a new item [3]_. 0: never.
user_identity_start, item_identity_start : int64
    The first identity column of the user (item) features (their number
    when there is none).
feature_l2 : float32
    The L2 penalty of the given (non-identity) feature columns; the identity
    columns take ``Settings.l2``. A feature shared by many rows is touched by
    many steps, so a per-step penalty shrinks it in proportion to its
    frequency: a smaller one keeps it from being shrunk away.
"""

FeatureScratch = namedtuple("FeatureScratch", ["positions", "kos_scores", "kos_positions", "vectors"])
FeatureScratch.__doc__ = """Work arrays of an epoch with features; their contents on entry do not matter.

Fields
------
positions : ndarray, shape (nnz,), int32 (int64 from 2**31 pairs)
    The visiting order of the interactions.
kos_scores : ndarray, shape (n_chunks, >= kos_n + SCRATCH_PADDING), float32
kos_positions : ndarray, shape (n_chunks, >= kos_n + SCRATCH_PADDING), int64
    Scratch of warp-kos.
vectors : ndarray, shape (n_chunks, >= VECTORS_PER_CHUNK * dim + SCRATCH_PADDING), float32
    Each chunk's representation vectors.
"""


# ----------------------------------------------------------- representations
@numba.njit(forceinline=True, **_INTERNAL)
def _represent_row(rows, row, table, biases, out, limit):
    """``out = sum_f w_f table[f]`` over row ``row``'s features below column ``limit``; returns ``sum_f w_f biases[f]``.

    ``biases`` may be empty (users have none): the returned bias is then 0.
    Columns are sorted and identity columns come last, so ``limit`` (the
    first identity column) leaves out the row's identity (identity dropout).
    """
    for k in range(out.shape[0]):
        out[k] = _ZERO32
    bias = _ZERO32
    with_biases = biases.shape[0] > 0
    for entry in range(rows.indptr[row], rows.indptr[row + 1]):
        column = rows.columns[entry]
        if column >= limit:
            break
        weight = rows.values[entry]
        embedding = table[column]
        for k in range(out.shape[0]):
            out[k] += weight * embedding[k]
        if with_biases:
            bias += weight * biases[column]
    return bias


@numba.njit(forceinline=True, **_INTERNAL)
def _identity_limit(state, features, n_columns):
    """The column limit of one item's representation in a step: its identity dropped or not.

    With probability ``features.identity_dropout`` the limit is the first
    identity column (the identity is left out of the step, forward and
    backward); otherwise ``n_columns``. Draws nothing when the probability is 0.
    """
    if features.identity_dropout <= _ZERO32:
        return state, n_columns
    state, bits = xorshift64star(state)
    uniform = np.float32((bits >> np.uint64(40)) & np.uint64(0xFFFFFF)) * np.float32(1.0 / 16777216.0)
    if uniform < features.identity_dropout:
        return state, features.item_identity_start
    return state, n_columns


@numba.njit(forceinline=True, **_INTERNAL)
def _refresh_snapshot(features, item, vector, bias):
    """Write an item's exact representation into the screening snapshot."""
    snapshot = features.item_vectors[item]
    for k in range(vector.shape[0]):
        snapshot[k] = vector[k]
    features.item_vector_biases[item] = bias


# --------------------------------------------------------------- the steps
def _update_rows(rows, row, table, moment1, moment2, steps, direction, scale, rule, tracked, limit):
    """The optimizer step of every feature row of ``row`` below column ``limit`` (a template, see :func:`_variant`).

    Feature column ``f`` of weight ``w`` steps on ``w * scale * direction +
    l2 * table[f]``, where ``rule`` is ``(learning_rate, feature_l2,
    identity_l2, identity_start)``: ``l2`` is ``identity_l2`` for the
    identity columns (from ``identity_start`` on) and ``feature_l2`` for the
    others. ``tracked`` (a representation vector, or empty) receives
    ``w * (new - old)`` of each row, so that it stays ``F[row] @ table``.
    """
    learning_rate, feature_l2, identity_l2, identity_start = rule
    dim = direction.shape[0]
    tracking = tracked.shape[0] > 0
    for entry in range(rows.indptr[row], rows.indptr[row + 1]):
        column = rows.columns[entry]
        if column >= limit:
            break
        weight = rows.values[entry]
        gradient = weight * scale
        l2 = identity_l2 if column >= identity_start else feature_l2
        embedding = table[column]
        if _OPTIMIZER == ROWWISE_ADAGRAD:
            squares = _ZERO32
            for k in range(dim):
                step_gradient = gradient * direction[k] + l2 * embedding[k]
                squares += step_gradient * step_gradient
            row_sum = moment2[column, 0] + squares / np.float32(dim)
            moment2[column, 0] = row_sum
            rate = learning_rate / np.sqrt(row_sum)
        elif _OPTIMIZER == ADAM:
            steps[column] += 1
            t = steps[column]
            rate = np.float32(learning_rate * math.sqrt(1.0 - ADAM_BETA2**t) / (1.0 - ADAM_BETA1**t))
        else:
            rate = learning_rate
        for k in range(dim):
            value = embedding[k]
            step_gradient = gradient * direction[k] + l2 * value
            if _OPTIMIZER == SGD or _OPTIMIZER == ROWWISE_ADAGRAD:
                new = value - rate * step_gradient
            elif _OPTIMIZER == ADAGRAD:
                total = moment2[column, k] + step_gradient * step_gradient
                moment2[column, k] = total
                new = value - rate * step_gradient / np.sqrt(total)
            else:
                first = np.float32(ADAM_BETA1) * moment1[column, k] + np.float32(1.0 - ADAM_BETA1) * step_gradient
                second = np.float32(ADAM_BETA2) * moment2[column, k] + np.float32(1.0 - ADAM_BETA2) * (
                    step_gradient * step_gradient
                )
                moment1[column, k] = first
                moment2[column, k] = second
                new = value - rate * first / (np.sqrt(second) + np.float32(ADAM_EPSILON))
            embedding[k] = new
            if tracking:
                tracked[k] += weight * (new - value)


def _update_item(item, scale, features, model, optimizer_state, direction, settings, limit):
    """Step every feature row of item ``item`` below column ``limit``: vectors, then biases (a template)."""
    rows = features.item_features
    _update_rows(
        rows,
        item,
        model.item_factors,
        optimizer_state.item_moment1,
        optimizer_state.item_moment2,
        optimizer_state.item_steps,
        direction,
        scale,
        (settings.learning_rate, features.feature_l2, settings.l2, features.item_identity_start),
        direction[:0],
        limit,
    )
    if not settings.use_biases:
        return
    biases = model.item_biases
    bias_moment1 = optimizer_state.bias_moment1
    bias_moment2 = optimizer_state.bias_moment2
    learning_rate = settings.learning_rate
    for entry in range(rows.indptr[item], rows.indptr[item + 1]):
        column = rows.columns[entry]
        if column >= limit:
            break
        weight = rows.values[entry]
        bias = biases[column]
        step_gradient = weight * scale + settings.bias_l2 * bias
        if _OPTIMIZER == SGD:
            new = bias - learning_rate * step_gradient
        elif _OPTIMIZER == ADAM:
            # The column's step count was advanced by its vector's step.
            t = optimizer_state.item_steps[column]
            rate = np.float32(learning_rate * math.sqrt(1.0 - ADAM_BETA2**t) / (1.0 - ADAM_BETA1**t))
            first = np.float32(ADAM_BETA1) * bias_moment1[column] + np.float32(1.0 - ADAM_BETA1) * step_gradient
            second = np.float32(ADAM_BETA2) * bias_moment2[column] + np.float32(1.0 - ADAM_BETA2) * (
                step_gradient * step_gradient
            )
            bias_moment1[column] = first
            bias_moment2[column] = second
            new = bias - rate * first / (np.sqrt(second) + np.float32(ADAM_EPSILON))
        else:
            # Both Adagrads: a bias is a row of one value.
            total = bias_moment2[column] + step_gradient * step_gradient
            bias_moment2[column] = total
            new = bias - learning_rate * step_gradient / np.sqrt(total)
        biases[column] = new


def _update_user(user, direction, scale, features, model, optimizer_state, settings, user_vector):
    """Step every feature row of user ``user``, keeping ``user_vector`` current (a template)."""
    _update_rows(
        features.user_features,
        user,
        model.user_factors,
        optimizer_state.user_moment1,
        optimizer_state.user_moment2,
        optimizer_state.user_steps,
        direction,
        scale,
        (settings.learning_rate, features.feature_l2, settings.l2, features.user_identity_start),
        user_vector,
        model.user_factors.shape[0],
    )


def _pair_step(user, positive, negative, gradient, features, model, optimizer_state, vectors, settings, limits):
    """One step on ``gradient * d(s+ - s-)`` through the features (a template).

    ``vectors`` holds the user's, the positive's and the negative's
    representations and a work vector; the user's is kept current.
    ``limits`` are the positive's and the negative's column limits (identity dropout).
    """
    user_vector, positive_vector, negative_vector, direction = vectors
    for k in range(direction.shape[0]):
        direction[k] = positive_vector[k] - negative_vector[k]
    _update_item(positive, gradient, features, model, optimizer_state, user_vector, settings, limits[0])
    _update_item(negative, -gradient, features, model, optimizer_state, user_vector, settings, limits[1])
    _update_user(user, direction, gradient, features, model, optimizer_state, settings, user_vector)


def _point_step(user, item, gradient, item_vector, features, model, optimizer_state, vectors, settings, limit):
    """One step on ``gradient * ds`` of the score of (user, item) through the features (a template)."""
    user_vector = vectors[0]
    direction = vectors[3]
    for k in range(direction.shape[0]):
        direction[k] = item_vector[k]
    _update_item(item, gradient, features, model, optimizer_state, user_vector, settings, limit)
    _update_user(user, direction, gradient, features, model, optimizer_state, settings, user_vector)


# ------------------------------------------------------------------- epochs
def _draw(state, data, start, stop, n_items_bound, settings):
    """One negative for the user whose items are ``data.indices[start:stop]`` (a template: ``_SAMPLER``)."""
    return draw_negative(
        state,
        _SAMPLER,
        n_items_bound,
        data.alias_threshold,
        data.alias,
        data.indices,
        start,
        stop,
        settings.unseen_max_draws,
    )


def _train_positions(state, data, features, model, optimizer_state, scratch, settings):
    """Train on the interactions at ``scratch.positions``, in that order (a template).

    ``scratch`` holds this chunk's share (its slice of ``positions``, its
    rows of the others). Returns the generator state, the summed weighted
    loss and the summed weight of the loss terms.
    """
    indptr = data.indptr
    indices = data.indices
    weights = data.weights
    item_rows = features.item_features
    item_table = model.item_factors
    item_biases = model.item_biases
    positions = scratch.positions
    kos_scores = scratch.kos_scores
    kos_positions = scratch.kos_positions
    dim = item_table.shape[1]
    user_vector = scratch.vectors[0:dim]
    positive_vector = scratch.vectors[dim : 2 * dim]
    negative_vector = scratch.vectors[2 * dim : 3 * dim]
    vectors = (user_vector, positive_vector, negative_vector, scratch.vectors[3 * dim : 4 * dim])
    margin = settings.margin
    use_weights = settings.use_weights
    n_items = item_rows.indptr.shape[0] - 1
    n_item_columns = np.int64(item_table.shape[0])
    n_user_columns = np.int64(model.user_factors.shape[0])
    n_items_bound = np.uint64(n_items)
    total_loss = 0.0
    total_weight = 0.0
    current_user = np.int64(-1)
    for example in range(positions.shape[0]):
        position = positions[example]
        user = np.int64(data.interaction_users[position])
        start = indptr[user]
        stop = indptr[user + 1]
        weight = weights[position] if use_weights else _ONE32
        if weight == _ZERO32:
            continue
        if user != current_user or settings.random_order:
            _represent_row(
                features.user_features, user, model.user_factors, item_biases[:0], user_vector, n_user_columns
            )
            current_user = user
        positive = np.int64(indices[position])
        if _LOSS_FAMILY == _WARP_KOS_FAMILY:
            n_drawn = min(settings.kos_n, stop - start)
            for draw in range(n_drawn):
                state, offset = random_below(state, np.uint64(stop - start))
                kos_positions[draw] = start + offset
                bias = _represent_row(
                    item_rows, indices[start + offset], item_table, item_biases, negative_vector, n_item_columns
                )
                kos_scores[draw] = dot(user_vector, negative_vector) + bias
            chosen = kos_positions[kth_best(kos_scores, n_drawn, settings.kos_k)]
            positive = np.int64(indices[chosen])
            weight = weights[chosen] if use_weights else _ONE32
            if weight == _ZERO32:
                continue
        state, positive_limit = _identity_limit(state, features, n_item_columns)
        positive_bias = _ZERO32
        if not _WARP_LIKE:
            positive_bias = _represent_row(
                item_rows, positive, item_table, item_biases, positive_vector, positive_limit
            )
        if _LOSS_FAMILY == _POINTWISE:
            score = dot(user_vector, positive_vector) + positive_bias
            value, gradient = point_loss_and_gradient(np.float64(score), 1.0)
            total_loss += weight * value
            total_weight += weight
            _point_step(
                user,
                positive,
                np.float32(weight * gradient),
                positive_vector,
                features,
                model,
                optimizer_state,
                vectors,
                settings,
                positive_limit,
            )
            for _ in range(settings.n_negatives):
                state, negative = _draw(state, data, start, stop, n_items_bound, settings)
                state, negative_limit = _identity_limit(state, features, n_item_columns)
                negative_bias = _represent_row(
                    item_rows, negative, item_table, item_biases, negative_vector, negative_limit
                )
                score = dot(user_vector, negative_vector) + negative_bias
                value, gradient = point_loss_and_gradient(np.float64(score), -1.0)
                total_loss += weight * value
                total_weight += weight
                _point_step(
                    user,
                    negative,
                    np.float32(weight * gradient),
                    negative_vector,
                    features,
                    model,
                    optimizer_state,
                    vectors,
                    settings,
                    negative_limit,
                )
            continue
        positive_score = 0.0
        positive_screen = 0.0
        represented = False
        if _LOSS_FAMILY == _WARP_FAMILY or _LOSS_FAMILY == _WARP_KOS_FAMILY:
            # The positive is represented exactly only once a draw passes the
            # screen (late in training most positives find no violation).
            positive_screen = np.float64(
                dot(user_vector, features.item_vectors[positive]) + features.item_vector_biases[positive]
            )
            total_weight += weight
        # WARP draws until a negative violates the margin and makes one step;
        # the other pairwise losses make one step per negative.
        n_draws = settings.max_sampled if _WARP_LIKE else settings.n_negatives
        for draws in range(1, n_draws + 1):
            state, negative = _draw(state, data, start, stop, n_items_bound, settings)
            if _WARP_LIKE:
                # Screen the draw with the item's representation from the start
                # of the epoch: one dot product instead of the feature sum.
                screened = dot(user_vector, features.item_vectors[negative]) + features.item_vector_biases[negative]
                if positive_screen - np.float64(screened) >= margin:
                    continue
                if not represented:
                    positive_bias = _represent_row(
                        item_rows, positive, item_table, item_biases, positive_vector, positive_limit
                    )
                    positive_score = np.float64(dot(user_vector, positive_vector) + positive_bias)
                    positive_screen = positive_score
                    represented = True
                    if positive_limit == n_item_columns:
                        _refresh_snapshot(features, positive, positive_vector, positive_bias)
            state, negative_limit = _identity_limit(state, features, n_item_columns)
            negative_bias = _represent_row(
                item_rows, negative, item_table, item_biases, negative_vector, negative_limit
            )
            negative_score = np.float64(dot(user_vector, negative_vector) + negative_bias)
            if _WARP_LIKE and negative_limit == n_item_columns:
                # An item seen to violate is likely drawn again: its snapshot afresh.
                _refresh_snapshot(features, negative, negative_vector, negative_bias)
            if not _WARP_LIKE and draws > 1:
                # The last step moved the positive's rows, and the negative's
                # may share some of them: its representation afresh.
                positive_bias = _represent_row(
                    item_rows, positive, item_table, item_biases, positive_vector, positive_limit
                )
            if _LOSS_FAMILY == _WARP_FAMILY or _LOSS_FAMILY == _WARP_KOS_FAMILY:
                difference = positive_score - negative_score
                if difference >= margin:
                    continue
                rank_weight = math.log(np.float64(max((n_items - 1) // draws, 1)))
                total_loss += weight * rank_weight * (margin - difference)
                step_gradient = -weight * rank_weight
            else:
                difference = np.float64(dot(user_vector, positive_vector) + positive_bias) - negative_score
                value, gradient = pair_loss_and_gradient(settings.loss, difference, margin)
                total_loss += weight * value
                total_weight += weight
                step_gradient = weight * gradient
            if step_gradient != 0.0:
                _pair_step(
                    user,
                    positive,
                    negative,
                    np.float32(step_gradient),
                    features,
                    model,
                    optimizer_state,
                    vectors,
                    settings,
                    (positive_limit, negative_limit),
                )
            if _LOSS_FAMILY == _WARP_FAMILY or _LOSS_FAMILY == _WARP_KOS_FAMILY:
                break
    return state, total_loss, total_weight


def _train_chunks(first, last, plan, data, features, model, optimizer_state, scratch, settings):
    """Train chunks ``first .. last - 1`` of the epoch plan (a template; serial, without the GIL)."""
    for chunk in range(first, last):
        positions = scratch.positions
        state, offset, filled = lay_out_chunk(chunk, plan, data.indptr, positions, settings.random_order)
        chunk_scratch = FeatureScratch(
            positions[offset:filled], scratch.kos_scores[chunk], scratch.kos_positions[chunk], scratch.vectors[chunk]
        )
        state, total_loss, total_weight = _train_positions(
            state, data, features, model, optimizer_state, chunk_scratch, settings
        )
        plan.rng_states[chunk] = state
        plan.chunk_losses[chunk] = total_loss
        plan.chunk_weights[chunk] = total_weight


def train_feature_epoch(plan, data, features, model, optimizer_state, scratch, settings):
    """Train one epoch of a hybrid model, in place.

    Parameters
    ----------
    plan : tripletrec.kernels.training.EpochPlan
        The shuffled users, their chunks, the chunks' generators (advanced in
        place) and loss outputs.
    data : tripletrec.kernels.training.TrainingData
        The training interactions and the popularity sampler's alias table.
    features : FeatureData
        The user and item feature matrices (:class:`FeatureRows`).
    model : tripletrec.kernels.training.Model
        ``user_factors``: the user feature embeddings, shape (n_user_columns,
        dim); ``item_factors``: the item feature embeddings, shape
        (n_item_columns, dim); ``item_biases``: the item feature biases,
        shape (n_item_columns,); float32, trained in place.
    optimizer_state : tripletrec.kernels.training.OptimizerState
        Rows are feature columns; updated in place.
    scratch : FeatureScratch
    settings : tripletrec.kernels.training.Settings
    """
    kernel = _variant(_LOSS_FAMILIES[settings.loss], settings.optimizer, settings.sampler)
    n_chunks = plan.chunk_starts.shape[0] - 1
    run_in_ranges(
        kernel, n_chunks, (plan, data, features, model, optimizer_state, scratch, settings), tasks_per_thread=1
    )


# ------------------------------------------------------------------ variants
# As in tripletrec.kernels.training: the templates read the loss family,
# optimizer and sampler from these constants, and _variant compiles a copy
# per combination used, with them as compile-time constants.
_LOSS_FAMILY = -1
# Whether the loss family is warp or warp-kos (set with _LOSS_FAMILY).
_WARP_LIKE = False
_OPTIMIZER = -1
_SAMPLER = -1

_TEMPLATES = (
    (_draw, {"forceinline": True, **_NO_WRAPPER}),
    (_update_rows, {"forceinline": True, **_NO_WRAPPER}),
    (_update_item, {"forceinline": True, **_NO_WRAPPER}),
    (_update_user, {"forceinline": True, **_NO_WRAPPER}),
    (_pair_step, _NO_WRAPPER),
    (_point_step, _NO_WRAPPER),
    (_train_positions, {"inline": "always", **_NO_WRAPPER}),
    (_train_chunks, {"nogil": True}),
)

_variants = {}


def _variant(loss_family, optimizer, sampler):
    """The compiled ``_train_chunks`` for one loss family, optimizer and sampler."""
    key = (loss_family, optimizer, sampler)
    if key not in _variants:
        suffix = f"__{_FAMILY_NAMES[loss_family]}_{OPTIMIZERS[optimizer]}_{NEGATIVE_SAMPLERS[sampler]}".replace(
            "-", "_"
        )
        constants = {
            "_LOSS_FAMILY": loss_family,
            "_WARP_LIKE": loss_family in (_WARP_FAMILY, _WARP_KOS_FAMILY),
            "_OPTIMIZER": optimizer,
            "_SAMPLER": sampler,
        }
        _variants[key] = compile_variant(_TEMPLATES, globals(), constants, suffix, _OPTIONS)["_train_chunks"]
    return _variants[key]

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

Optimizers: :mod:`tripletrec.kernels.steps`, which holds one step of each.

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
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..losses import LOGISTIC, LOSSES, WARP, WARP_KOS
from ..sampling import NEGATIVE_SAMPLERS
from . import steps
from .jit_options import INTERNAL as _INTERNAL
from .jit_options import KERNEL_OPTIONS as _OPTIONS
from .jit_options import NO_WRAPPER as _NO_WRAPPER
from .jit_options import ONE32 as _ONE32
from .jit_options import ZERO32 as _ZERO32
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
from .steps import (
    ADAGRAD_INITIAL_ACCUMULATOR,
    ADAM,
    ADAM_BETA1,
    ADAM_BETA2,
    ADAM_EPSILON,
    OPTIMIZER_CODES,
    OPTIMIZERS,
    SGD,
    _dot_difference,
    _pair_step,
    _point_step,
    _prefetch_row,
    _prefetch_row_for_write,
    dot,
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

#: Extra entries at the end of each per-thread scratch row, so that two
#: threads' rows never share a 64-byte cache line.
SCRATCH_PADDING = 16

#: How many examples ahead the kernel draws negatives and prefetches rows.
PREFETCH_DISTANCE = 8

#: How many draws ahead WARP draws its further negatives and prefetches them.
WARP_LOOKAHEAD = 8


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
        # The step templates (module steps) call that module's helpers: their copies see both namespaces.
        namespace = {**vars(steps), **globals()}
        _variants[key] = compile_variant(_TEMPLATES, namespace, constants, suffix, _OPTIONS)["_train_chunks"]
    return _variants[key]

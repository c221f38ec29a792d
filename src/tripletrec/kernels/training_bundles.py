"""The named tuples the training kernels take: arrays and settings in a few bundles.

numba passes a named tuple into a jitted function at no cost and unpacks it
in the inner functions, so the kernels keep short signatures (at most twelve
parameters) however many arrays an optimizer needs. Inside a ``prange``
body, numba 0.68 loses writes to arrays unpacked from a tuple; the kernels
run no such loop (see :mod:`tripletrec.kernels.threads`).
"""

from __future__ import annotations

from collections import namedtuple

__all__ = ["EpochPlan", "Model", "OptimizerState", "Scratch", "Settings", "TrainingData"]

# The kernels take their arrays and settings in these few named tuples, which
# numba passes (unpacked, at no cost) into the inner jitted functions.
Model = namedtuple("Model", ["user_factors", "item_factors", "item_biases"])
Model.__doc__ = """The trained parameters, updated in place.

Fields
------
user_factors : ndarray, shape (n_users, dim), float32
item_factors : ndarray, shape (n_items, dim), float32
item_biases : ndarray, shape (n_items,), float32
"""

OptimizerState = namedtuple(
    "OptimizerState",
    [
        "user_moment1",
        "user_moment2",
        "item_moment1",
        "item_moment2",
        "bias_moment1",
        "bias_moment2",
        "user_steps",
        "item_steps",
    ],
)
OptimizerState.__doc__ = """The optimizer's per-row state, updated in place.

Adam keeps its first and second moments in the ``moment1`` and ``moment2``
arrays; Adagrad keeps its sums in the ``moment2`` arrays (row-wise Adagrad
one column: the row's sum). An array an optimizer does not use may be empty
(zero rows).

Fields
------
user_moment1, user_moment2 : ndarray, shape (n_users, dim or 1), float32
item_moment1, item_moment2 : ndarray, shape (n_items, dim or 1), float32
bias_moment1, bias_moment2 : ndarray, shape (n_items,), float32
user_steps : ndarray, shape (n_users,), int64
item_steps : ndarray, shape (n_items,), int64
    Adam's per-row step counts.
"""

TrainingData = namedtuple(
    "TrainingData", ["indptr", "indices", "weights", "interaction_users", "alias_threshold", "alias"]
)
TrainingData.__doc__ = """The training interactions and the negative sampler's table; read only.

Fields
------
indptr : ndarray, shape (n_users + 1,), int64
indices : ndarray, shape (nnz,), int32
    CSR of the training interactions; items ascending within a user.
weights : ndarray, shape (nnz,), float32
    Sample weight of each interaction (ignored unless ``Settings.use_weights``;
    may then be empty).
interaction_users : ndarray, shape (nnz,), int32
    User of each stored interaction.
alias_threshold : ndarray, shape (n_items,), float32
alias : ndarray, shape (n_items,), int32
    The popularity sampler's alias table (may be empty for other samplers).
"""

EpochPlan = namedtuple(
    "EpochPlan", ["user_order", "chunk_starts", "chunk_offsets", "rng_states", "chunk_losses", "chunk_weights"]
)
EpochPlan.__doc__ = """Which users each chunk (thread) trains, its generator, and its outputs.

Fields
------
user_order : ndarray, shape (n_active_users,), int64
    The users to train, shuffled.
chunk_starts : ndarray, shape (n_chunks + 1,), int64
    Chunk ``c`` trains ``user_order[chunk_starts[c]:chunk_starts[c + 1]]``.
chunk_offsets : ndarray, shape (n_chunks + 1,), int64
    Where chunk ``c``'s interactions start in ``Scratch.positions``: the
    number of interactions of the users before it in ``user_order``.
rng_states : ndarray, shape (n_chunks,), uint64
    One non-zero xorshift64* state per chunk; advanced in place.
chunk_losses, chunk_weights : ndarray, shape (n_chunks,), float64
    Output: summed weighted loss and summed weight of the loss terms of each
    chunk; their ratio is the epoch's mean loss.
"""

Scratch = namedtuple("Scratch", ["positions", "kos_scores", "kos_positions", "upcoming_negatives"])
Scratch.__doc__ = """Work arrays of an epoch; their contents on entry do not matter.

The per-chunk arrays have one row per chunk, padded by ``SCRATCH_PADDING``
so that two threads' rows never share a cache line. :func:`train_epoch`
hands each chunk a ``Scratch`` of its own rows (and its own slice of
``positions``).

Fields
------
positions : ndarray, shape (nnz,), int32 (int64 from 2**31 pairs)
    The visiting order of the interactions.
kos_scores : ndarray, shape (n_chunks, >= kos_n + SCRATCH_PADDING), float32
kos_positions : ndarray, shape (n_chunks, >= kos_n + SCRATCH_PADDING), int64
    Scratch of warp-kos.
upcoming_negatives : ndarray, shape (n_chunks, >= PREFETCH_DISTANCE + WARP_LOOKAHEAD + SCRATCH_PADDING), int64
    Negatives drawn ahead of their example.
"""

Settings = namedtuple(
    "Settings",
    [
        "loss",
        "sampler",
        "optimizer",
        "n_negatives",
        "max_sampled",
        "unseen_max_draws",
        "kos_k",
        "kos_n",
        "learning_rate",
        "l2",
        "bias_l2",
        "margin",
        "use_biases",
        "use_weights",
        "random_order",
    ],
)
Settings.__doc__ = """The scalar hyper-parameters of an epoch.

Fields
------
loss, sampler, optimizer : int
    Codes from :data:`tripletrec.losses.LOSS_CODES`,
    :data:`tripletrec.sampling.SAMPLER_CODES` and :data:`OPTIMIZER_CODES`.
n_negatives : int
    Negatives per positive for bpr, sigmoid, hinge and logistic.
max_sampled : int
    Most negatives warp and warp-kos draw for one positive.
unseen_max_draws : int
    Draws of the ``unseen`` sampler before it accepts a positive.
kos_k, kos_n : int
    warp-kos trains on the ``kos_k``-th best of ``kos_n`` positives.
learning_rate, l2, bias_l2 : float32
margin : float64
use_biases : bool
    Learn the item biases; with False they are left as they are (but still
    part of the scores).
use_weights : bool
random_order : bool
    Shuffle all of a chunk's interactions together instead of visiting each
    user's positives together.
"""

"""Fold-in: vectors for users who were not in training, the items frozen.

The functions here take the model's item arrays and id map, never the model:
:class:`~tripletrec.models.BaseModel` maps ids, then calls them.
:func:`fold_in_vectors` runs :func:`tripletrec.kernels.fold_in.fold_in_users`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._parallel import kernel_threads
from .._validation import check_integer, check_memory, check_real
from ..data.interactions import IdMap, Interactions
from ..kernels import fold_in as fold_in_kernels
from ..kernels.steps import OPTIMIZER_CODES
from ..losses import LOSS_CODES
from ..sampling import SAMPLER_CODES, UNSEEN_MAX_DRAWS
from ..serving.exact import check_threads
from .ids import unknown_message
from .trainer import MAX_EPOCHS

__all__ = ["FOLD_IN_LOSSES", "fold_in_interactions", "fold_in_settings", "fold_in_vectors", "user_keys"]

#: Losses fold-in can fit a new user with.
FOLD_IN_LOSSES = ("bpr", "sigmoid", "hinge", "warp", "warp-kos", "logistic")


def _is_flat(items: Any) -> bool:
    """Whether ``items`` is one user's flat list of ids rather than a list of lists."""
    return len(items) > 0 and all(np.ndim(item) == 0 for item in items)


def fold_in_interactions(items: Any, weights: Any, item_ids: IdMap) -> tuple[Interactions, bool]:
    """The new users' items as an Interactions over ``item_ids``.

    Parameters
    ----------
    items : list of array_like, array_like, or Interactions
        One list of external item ids per new user; a flat list of ids is
        one new user; an Interactions whose rows are the new users and whose
        item id map is ``item_ids``.
    weights : list of array_like, array_like, or None
        Same nesting as ``items``.
    item_ids : IdMap
        The model's item id map.

    Returns
    -------
    given : Interactions, shape (n_new, len(item_ids))
    single : bool
        Whether ``items`` was one user's flat list.
    """
    n_items = len(item_ids)
    if isinstance(items, Interactions):
        if weights is not None:
            raise ValueError("weights must be None when items is an Interactions (its weights are used)")
        if items.n_items != n_items or items.item_ids != item_ids:
            raise ValueError(
                f"items is an Interactions over {items.n_items} items whose item ids differ "
                f"from the model's {n_items}; build it with item_ids=model.item_ids_"
            )
        return items, False
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise ValueError(
            "items must be a list of item ids (one new user), a list of item-id lists (one per "
            f"new user) or an Interactions, got {type(items).__name__}"
        )
    single = _is_flat(items)
    lists = [items] if single else list(items)
    if single and weights is not None:
        weights = [weights]
    for position, user_items in enumerate(lists):
        if np.ndim(user_items) != 1:
            raise ValueError(
                f"items must be a list of item ids or a list of item-id lists, one per new user; "
                f"items[{position}] is {user_items!r}"
            )
    lengths = np.array([len(user_items) for user_items in lists], dtype=np.int64)
    rows = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    flat = (
        np.concatenate([np.asarray(user_items) for user_items in lists if len(user_items)])
        if lengths.sum()
        else np.empty(0, dtype=item_ids.ids.dtype)
    )
    indices = item_ids.to_index(flat, name="items", missing="ignore")
    missing = indices < 0
    if missing.any():
        first_user = int(rows[np.flatnonzero(missing)[0]])
        where = "" if single else f" (first in items[{first_user}])"
        raise ValueError(unknown_message("items", flat, missing, "item") + where)
    flat_weights = None
    if weights is not None:
        weight_lists = list(weights)
        if len(weight_lists) != len(lists) or any(
            np.ndim(user_weights) != 1 or len(user_weights) != length
            for user_weights, length in zip(weight_lists, lengths)
        ):
            raise ValueError(
                "weights must be None or one weight per given item, with the nesting of items "
                f"(item counts {lengths.tolist()[:10]})"
            )
        flat_weights = (
            np.concatenate([np.asarray(w, dtype=np.float64) for w in weight_lists if len(w)])
            if lengths.sum()
            else np.empty(0)
        )
    given = Interactions.from_indices(
        rows,
        indices,
        flat_weights,
        shape=(len(lists), n_items),
        item_ids=item_ids,
        duplicates="sum",
    )
    return given, single


def fold_in_settings(
    params: Mapping[str, Any], owner: str, epochs: Any, learning_rate: Any, seed: Any
) -> dict[str, Any]:
    """The kernel settings of a fold-in: the model's training settings, overridden.

    Parameters
    ----------
    params : mapping
        The model's ``get_params()``; settings it lacks take
        :class:`~tripletrec.MatrixFactorization`'s defaults.
    owner : str
        The model's class name, for messages.
    epochs, learning_rate, seed
        Overrides (None: the model's).
    """
    loss = params.get("loss", "bpr")
    if loss not in FOLD_IN_LOSSES:
        raise ValueError(
            f"fold_in supports models trained with loss {', '.join(FOLD_IN_LOSSES)}; this {owner} has loss={loss!r}"
        )
    optimizer = params.get("optimizer", "rowwise-adagrad")
    if optimizer not in OPTIMIZER_CODES:
        raise ValueError(
            f"fold_in supports the optimizers {', '.join(OPTIMIZER_CODES)}; this {owner} has optimizer={optimizer!r}"
        )
    if seed is None:
        seed = params.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    seed = check_integer(seed, "seed", low=0)
    return {
        "loss": LOSS_CODES[loss],
        # The popularity sampler needs training counts the model does not keep.
        "sampler": SAMPLER_CODES["unseen"] if params.get("negatives") == "unseen" else SAMPLER_CODES["uniform"],
        "optimizer": OPTIMIZER_CODES[optimizer],
        "n_negatives": check_integer(params.get("n_negatives", 1), "n_negatives", low=1),
        "max_sampled": check_integer(params.get("max_sampled", 100), "max_sampled", low=1),
        "kos_k": check_integer(params.get("kos_k", 5), "kos_k", low=1),
        "kos_n": check_integer(params.get("kos_n", 10), "kos_n", low=1),
        "epochs": check_integer(
            params.get("epochs", 20) if epochs is None else epochs, "epochs", low=1, high=MAX_EPOCHS
        ),
        "learning_rate": check_real(
            params.get("learning_rate", 0.1) if learning_rate is None else learning_rate,
            "learning_rate",
            low=0.0,
            low_open=True,
        ),
        "l2": check_real(params.get("l2", 0.0), "l2", low=0.0),
        "margin": check_real(params.get("margin", 1.0), "margin", low=0.0),
        "use_weights": bool(params.get("use_weights", True)),
        "seed": seed % 2**64,
    }


_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's output function, elementwise on uint64 (wrapping by design)."""
    values = (values ^ (values >> np.uint64(30))) * _MIX_1
    values = (values ^ (values >> np.uint64(27))) * _MIX_2
    return values ^ (values >> np.uint64(31))


def user_keys(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A 64-bit key per CSR row from its items and weights: what seeds a folded-in user's draws.

    Two rows with the same items and weights get the same key wherever they
    are in a batch, so a new user's vector does not depend on who else is
    folded in with them (a server answers a request the same alone or
    batched). The key is the mixed sum of each (item, weight bits) pair's
    mix, plus the row's length: the order of a row's entries does not matter.

    Parameters
    ----------
    indptr : ndarray, shape (n_rows + 1,), int
    indices : ndarray, shape (nnz,), int
    weights : ndarray, shape (nnz,), float32

    Returns
    -------
    ndarray, shape (n_rows,), uint64
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    counts = np.diff(indptr)
    with np.errstate(over="ignore"):
        bits = np.asarray(weights, dtype=np.float32).view(np.uint32).astype(np.uint64)
        entries = _mix(np.asarray(indices, dtype=np.uint64) * _GOLDEN_GAMMA + (bits << np.uint64(32)))
        sums = np.zeros(len(counts), dtype=np.uint64)
        rows = np.repeat(np.arange(len(counts)), counts)
        # np.add.at wraps modulo 2**64 like the kernels' uint64 arithmetic.
        np.add.at(sums, rows, entries)
        return _mix(sums + counts.astype(np.uint64) * _GOLDEN_GAMMA)


def fold_in_vectors(
    item_factors: np.ndarray,
    item_biases: np.ndarray,
    given: Interactions,
    settings: Mapping[str, Any],
    threads: Any,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train one vector per row of ``given`` against the frozen items.

    Parameters
    ----------
    item_factors : ndarray, shape (n_items, dim), float32
    item_biases : ndarray, shape (n_items,), float32
    given : Interactions, shape (n_new, n_items)
        The new users' items (dense item indices).
    settings : dict
        From :func:`fold_in_settings`.
    threads : int or None
    start : ndarray, shape (n_new, dim), float32, optional
        Where each vector starts and what its L2 penalty pulls it towards
        (default zeros), e.g. a new user's vector from side features; a row
        without items keeps its start.

    Returns
    -------
    vectors : ndarray, shape (n_new, dim), float32
    epoch_losses : ndarray, shape (n_new, epochs), float64

    Raises
    ------
    FloatingPointError
        When a vector stops being finite.
    """
    threads = check_threads(threads)
    # The kernel keeps each new user's loss of every epoch.
    check_memory(
        given.n_users * settings["epochs"] * 8, "fold-in's per-epoch losses", "epochs or the number of new users"
    )
    train = given
    if settings["use_weights"]:
        weights_array = given.weights.astype(np.float64)
        positive = weights_array > 0
        train = given.select(positive)
        rows = train.user_index()
        user_weight_sums = np.bincount(rows, weights=train.weights.astype(np.float64), minlength=given.n_users)
        user_counts = np.maximum(train.user_counts(), 1)
        # Mean weight 1 per user, so the learning rate keeps its meaning
        # and a user's vector does not depend on the others in the batch.
        normalized = train.weights / (user_weight_sums / user_counts)[rows]
        train_weights = np.ascontiguousarray(normalized, dtype=np.float32)
    else:
        train_weights = np.ones(len(train), dtype=np.float32)
    n_new, dim = given.n_users, item_factors.shape[1]
    kos_width = settings["kos_n"] if settings["loss"] == LOSS_CODES["warp-kos"] else 0
    if start is None:
        anchors = np.zeros((n_new, dim), dtype=np.float32)
    else:
        anchors = np.ascontiguousarray(start, dtype=np.float32)
        if anchors.shape != (n_new, dim):
            raise ValueError(f"user_features give {anchors.shape[0]} new users but items give {n_new}")
    user_vectors = anchors.copy()
    epoch_losses = np.zeros((n_new, settings["epochs"]), dtype=np.float64)
    # Only the uncompiled kernel (NUMBA_DISABLE_JIT) warns: uint64 products
    # wrap by design, and divergence is reported below.
    with kernel_threads(threads), np.errstate(over="ignore", invalid="ignore"):
        fold_in_kernels.fold_in_users(
            fold_in_kernels.NewUsers(
                np.ascontiguousarray(train.indptr, dtype=np.int64),
                np.ascontiguousarray(train.indices, dtype=np.int32),
                train_weights,
                anchors,
                user_keys(train.indptr, train.indices, train_weights),
            ),
            fold_in_kernels.FrozenItems(
                np.ascontiguousarray(item_factors, dtype=np.float32),
                np.ascontiguousarray(item_biases, dtype=np.float32),
            ),
            user_vectors,
            fold_in_kernels.FoldInScratch(
                first_moments=np.zeros((n_new, dim), dtype=np.float32),
                second_moments=np.zeros((n_new, dim), dtype=np.float32),
                vector_sums=np.zeros((n_new, dim), dtype=np.float64),
                order=np.empty(len(train), dtype=np.int64),
                kos_scores=np.zeros((n_new, kos_width), dtype=np.float32),
                kos_positions=np.zeros((n_new, kos_width), dtype=np.int64),
            ),
            epoch_losses,
            fold_in_kernels.FoldInSettings(
                seed=np.uint64(settings["seed"]),
                loss=settings["loss"],
                sampler=settings["sampler"],
                optimizer=settings["optimizer"],
                n_negatives=settings["n_negatives"],
                max_sampled=settings["max_sampled"],
                unseen_max_draws=UNSEEN_MAX_DRAWS,
                kos_k=settings["kos_k"],
                kos_n=settings["kos_n"],
                epochs=settings["epochs"],
                learning_rate=np.float32(settings["learning_rate"]),
                l2=np.float32(settings["l2"]),
                margin=np.float64(settings["margin"]),
                use_weights=settings["use_weights"],
            ),
        )
    if not np.isfinite(user_vectors).all():
        raise FloatingPointError(
            "fold-in diverged: a new user's vector became NaN or infinite; pass a lower "
            f"learning_rate than {settings['learning_rate']:g}"
        )
    return user_vectors, epoch_losses

"""What every trained model offers: top-k, similar items, fold-in and a model file.

:class:`RecommenderMixin` works on any model whose score is a dot product
plus an item bias. It relies only on these attributes:

* ``user_factors_`` (n_users, dim) float32, ``item_factors_`` (n_items, dim)
  float32 and ``item_biases_`` (n_items,) float32;
* ``user_ids_`` and ``item_ids_``, the :class:`~tripletrec.IdMap` of the
  training data;
* ``get_params()`` / ``set_params(**params)`` and ``history_`` (list of dict);
* optionally ``item_names_`` (ndarray of str, e.g. MovieLens titles) and
  ``best_epoch_``.

Everything a caller passes in or gets back is in **external ids** (the ids of
the data the model was trained on), never dense indices, and every method is
batch-first: a sequence of users (items) gives one row per user (item); a
single id gives one row without the batch axis.

Padding. When fewer than ``k`` items are left for a row (exclusions, a small
candidate set, ``k`` larger than the catalogue), the row ends with padded
slots: their score is ``-inf`` and their id is :data:`PAD_INT_ID` (-1) for
integer ids or :data:`PAD_STR_ID` (``""``) for string ids. Test
``np.isneginf(scores)`` to find them whatever the id type.

The model file (:meth:`RecommenderMixin.save`, :func:`load`) is one ``.npz``
written by :func:`tripletrec.io.save_arrays`: no pickle, a JSON header with
a checksum, atomic replacement. :func:`load` finds the model class in a
registry of the classes that inherit :class:`RecommenderMixin` and define
``fit`` (filled when each class is defined); a file can only name one of
them, and nothing named in a file is ever imported or evaluated.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

import numba
import numpy as np
import scipy.sparse as sp

from ..data.interactions import IdMap, Interactions
from ..io import ModelFileError, load_arrays, save_arrays
from ..kernels import fold_in as fold_in_kernels
from ..kernels.training import OPTIMIZER_CODES
from ..losses import LOSS_CODES
from ..sampling import SAMPLER_CODES, UNSEEN_MAX_DRAWS
from .topk import cosine_top_k, top_k

__all__ = [
    "FOLD_IN_LOSSES",
    "PAD_INT_ID",
    "PAD_STR_ID",
    "RecommenderMixin",
    "known_model_classes",
    "load",
]

#: Id of a padded slot when the model's ids are integers.
PAD_INT_ID = -1

#: Id of a padded slot when the model's ids are strings.
PAD_STR_ID = ""

#: Losses :meth:`RecommenderMixin.fold_in` can fit a new user with.
FOLD_IN_LOSSES = ("bpr", "sigmoid", "hinge", "warp", "warp-kos", "logistic")

_UNKNOWN_RULES = ("error", "popular")

# The arrays of a model file; "item_names" is optional.
_REQUIRED_ARRAYS = ("user_factors", "item_factors", "item_biases", "user_ids", "item_ids")
_OPTIONAL_ARRAYS = ("item_names",)

# (module, qualified name) -> class, filled by RecommenderMixin.__init_subclass__.
_MODEL_CLASSES: dict[tuple[str, str], type] = {}


def known_model_classes() -> dict[str, type]:
    """The model classes :func:`load` can rebuild, by ``module.qualname``."""
    return {f"{module}.{name}": cls for (module, name), cls in sorted(_MODEL_CLASSES.items())}


# ----------------------------------------------------------------- helpers
def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _positive_integer(value: Any, name: str) -> int:
    if not _is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _finite_number(value: Any, name: str, *, strict: bool = False) -> float:
    valid = (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_))
        and math.isfinite(value)
        and (value > 0 if strict else value >= 0)
    )
    if not valid:
        raise ValueError(f"{name} must be a finite number {'> 0' if strict else '>= 0'}, got {value!r}")
    return float(value)


def _check_threads(threads: Any) -> int:
    if threads is None:
        return numba.get_num_threads()
    if not _is_integer(threads) or not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(
            f"threads must be None or an integer between 1 and "
            f"{numba.config.NUMBA_NUM_THREADS}, got {threads!r}"
        )
    return int(threads)


def _pad_id(ids: np.ndarray) -> Any:
    return PAD_STR_ID if ids.dtype.kind in "US" else PAD_INT_ID


def _to_external(id_map: IdMap, indices: np.ndarray) -> np.ndarray:
    """External ids of dense ``indices``; -1 (a padded slot) becomes the pad id."""
    ids = id_map.ids
    external = ids[np.maximum(indices, 0)]
    padded = indices < 0
    if padded.any():
        external = external.astype(ids.dtype, copy=True)
        external[padded] = _pad_id(ids)
    return external


def _pad_columns(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    missing = k - ids.shape[1]
    if missing <= 0:
        return ids, scores
    n_rows = ids.shape[0]
    return (
        np.concatenate([ids, np.full((n_rows, missing), -1, dtype=np.int64)], axis=1),
        np.concatenate([scores, np.full((n_rows, missing), -np.inf, dtype=np.float32)], axis=1),
    )


def _as_id_array(values: Any, name: str) -> tuple[np.ndarray, bool]:
    """``values`` as a 1-D array, and whether a single id was given."""
    array = np.asarray(values)
    if array.ndim > 1:
        raise ValueError(f"{name} must be a single id or a 1-dimensional sequence of ids, got shape {array.shape}")
    return array.reshape(-1), array.ndim == 0


def _unknown_message(name: str, values: np.ndarray, unknown: np.ndarray, what: str) -> str:
    examples = ", ".join(repr(value) for value in values[unknown][:5].tolist())
    more = ", ..." if int(unknown.sum()) > 5 else ""
    return (
        f"{name}: {int(unknown.sum())} of {len(values)} ids are not in the model's {what} "
        f"id map: {examples}{more}"
    )


# ------------------------------------------------------------------ mixin
class RecommenderMixin:
    """Recommend, find similar items and users, fold in new users, save.

    Mixed into every model class (:class:`tripletrec.models.BaseModel`
    inherits it); see the module docstring for the attributes it relies on,
    the id conventions and padding. Every subclass that defines ``fit`` is
    registered for :func:`load`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Abstract bases (no fit) cannot be trained, so no file holds one.
        if callable(getattr(cls, "fit", None)):
            _MODEL_CLASSES[(cls.__module__, cls.__qualname__)] = cls

    # ------------------------------------------------------------ state
    def _require_fitted(self) -> None:
        if getattr(self, "item_factors_", None) is None:
            from .base import NotFittedError

            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(train) first"
            )

    def _user_indices(self, users: Any, unknown: str) -> tuple[np.ndarray, np.ndarray, bool]:
        if unknown not in _UNKNOWN_RULES:
            raise ValueError(f"unknown must be one of {', '.join(_UNKNOWN_RULES)}; got {unknown!r}")
        values, scalar = _as_id_array(users, "users")
        indices = self.user_ids_.to_index(values, name="users", missing="ignore")
        missing = indices < 0
        if missing.any() and unknown == "error":
            raise ValueError(
                _unknown_message("users", values, missing, "user")
                + "; pass unknown='popular' to rank items by popularity for them, "
                "or recommend_new(their items) to fold them in"
            )
        return indices, missing, scalar

    def _item_indices(self, items: Any, name: str) -> tuple[np.ndarray, bool]:
        values, scalar = _as_id_array(items, name)
        indices = self.item_ids_.to_index(values, name=name, missing="ignore")
        missing = indices < 0
        if missing.any():
            raise ValueError(_unknown_message(name, values, missing, "item"))
        return indices, scalar

    def _exclusion_rows(self, exclude: Any, user_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """CSR (indptr, indices) of ``exclude``'s rows for ``user_indices`` (-1: empty row)."""
        if exclude is None:
            return None
        n_users, n_items = self.user_factors_.shape[0], self.item_factors_.shape[0]
        if isinstance(exclude, Interactions):
            if exclude.shape != (n_users, n_items):
                raise ValueError(
                    f"exclude is {exclude.n_users} users x {exclude.n_items} items but the model "
                    f"has {n_users} x {n_items}; pass interactions that share its id maps"
                )
            if exclude.user_ids != self.user_ids_ or exclude.item_ids != self.item_ids_:
                raise ValueError(
                    "exclude must share the model's id maps (user_ids_ and item_ids_), e.g. the "
                    "training interactions"
                )
            indptr, indices = exclude.indptr, exclude.indices
        elif sp.issparse(exclude):
            if exclude.shape != (n_users, n_items):
                raise ValueError(
                    f"exclude has shape {exclude.shape} but the model has {n_users} users x "
                    f"{n_items} items (rows are dense user indices)"
                )
            matrix = sp.csr_matrix(exclude)
            indptr, indices = matrix.indptr.astype(np.int64), matrix.indices
        else:
            raise ValueError(
                "exclude must be None, an Interactions with the model's id maps or a scipy "
                f"sparse matrix (n_users, n_items), got {type(exclude).__name__}"
            )
        known = user_indices >= 0
        rows = np.where(known, user_indices, 0)
        starts = indptr[rows]
        counts = np.where(known, indptr[rows + 1] - starts, 0)
        out_indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=out_indptr[1:])
        # Position j of output row r reads entry starts[r] + j of the input.
        gather = np.repeat(starts - out_indptr[:-1], counts) + np.arange(out_indptr[-1], dtype=np.int64)
        return out_indptr, np.ascontiguousarray(indices[gather], dtype=np.int64)

    def _top_items(
        self,
        user_vectors: np.ndarray,
        k: Any,
        exclusions: tuple[np.ndarray, np.ndarray] | None,
        candidates: np.ndarray | None,
        threads: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dense item indices and scores, best first, padded to k."""
        k = _positive_integer(k, "k")
        n_available = self.item_factors_.shape[0] if candidates is None else len(np.unique(candidates))
        selected = min(k, n_available)
        if selected == 0 or len(user_vectors) == 0:
            ids = np.empty((len(user_vectors), 0), dtype=np.int64)
            scores = np.empty((len(user_vectors), 0), dtype=np.float32)
        else:
            ids, scores = top_k(
                user_vectors,
                self.item_factors_,
                selected,
                item_biases=self.item_biases_,
                exclude=exclusions,
                candidates=candidates,
                threads=threads,
            )
        return _pad_columns(ids, scores, k)

    # --------------------------------------------------------- recommend
    def recommend(
        self,
        users: Any,
        k: int = 10,
        *,
        exclude: Any = None,
        items: Any = None,
        unknown: str = "error",
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best-scored items for each user, best first.

        Parameters
        ----------
        users : external user id or array_like, shape (n_query,)
            Users of the training data, by their external ids.
        k : int
            Items per user, >= 1. Rows with fewer than ``k`` items left are
            padded (see the module docstring).
        exclude : Interactions or scipy.sparse matrix, optional
            Items never to return: each user's stored pairs in ``exclude``
            (typically ``train``), whatever their weight. An
            :class:`~tripletrec.Interactions` must share the model's shape
            and id maps; a sparse matrix has shape ``(n_users, n_items)`` in
            dense indices.
        items : array_like, shape (n_candidates,), optional
            Restrict the answer to these external item ids (duplicates are
            ignored).
        unknown : {"error", "popular"}
            For a user not in the model: ``"error"`` raises ``ValueError``
            naming the ids; ``"popular"`` ranks items by ``item_biases_``
            alone (the score of a user with a zero vector: the model's
            learned popularity, not interaction counts, which a model does
            not keep), with nothing to exclude. Use :meth:`recommend_new` to
            fold a new user in from their items instead.
        threads : int, optional
            Threads for the top-k selection (default: numba's setting).

        Returns
        -------
        ids : ndarray, shape (n_query, k) or (k,), item id dtype
            External item ids, best first; ties go to the lower dense item
            index. One row per user, without the batch axis when ``users``
            is a single id.
        scores : ndarray, shape (n_query, k) or (k,), float32
            ``user_factors_[u] @ item_factors_[i] + item_biases_[i]``;
            ``-inf`` in padded slots.

        Raises
        ------
        ValueError
            Unknown users (with ``unknown="error"``) or candidate items, ``k``
            not a positive integer, ``exclude`` of another shape or id maps.

        Examples
        --------
        >>> ids, scores = model.recommend([196, 186], k=5, exclude=data.train)  # doctest: +SKIP
        >>> ids.shape  # doctest: +SKIP
        (2, 5)
        """
        self._require_fitted()
        user_indices, missing, scalar = self._user_indices(users, unknown)
        candidates = None if items is None else self._item_indices(items, "items")[0]
        exclusions = self._exclusion_rows(exclude, user_indices)
        user_vectors = self.user_factors_[np.maximum(user_indices, 0)]
        if missing.any():
            user_vectors[missing] = 0.0  # a zero vector scores items by their bias alone
        ids, scores = self._top_items(user_vectors, k, exclusions, candidates, threads)
        external = _to_external(self.item_ids_, ids)
        if scalar:
            return external[0], scores[0]
        return external, scores

    # ----------------------------------------------------------- similar
    def _similar(
        self, vectors_name: str, id_map_name: str, queries: Any, k: Any, name: str, threads: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        vectors, id_map = getattr(self, vectors_name), getattr(self, id_map_name)
        values, scalar = _as_id_array(queries, name)
        indices = id_map.to_index(values, name=name, missing="ignore")
        missing = indices < 0
        if missing.any():
            what = "user" if name == "users" else "item"
            raise ValueError(_unknown_message(name, values, missing, what))
        k = _positive_integer(k, "k")
        selected = min(k, len(vectors))
        if len(indices) == 0:
            ids = np.empty((0, 0), dtype=np.int64)
            similarities = np.empty((0, 0), dtype=np.float32)
        else:
            ids, similarities = cosine_top_k(
                vectors[indices], vectors, selected, exclude_self_indices=indices, threads=threads
            )
        ids, similarities = _pad_columns(ids, similarities, k)
        external = _to_external(id_map, ids)
        if scalar:
            return external[0], similarities[0]
        return external, similarities

    def similar_items(
        self, items: Any, k: int = 10, *, threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k items whose vectors are most cosine-similar to each item's.

        Similarity is the cosine of ``item_factors_`` rows; the item biases
        (popularity) take no part. The query item itself is never returned.
        An item whose vector is zero has similarity 0 with every item.

        Parameters
        ----------
        items : external item id or array_like, shape (n_query,)
        k : int
            Items per query, >= 1; rows are padded when ``k`` exceeds
            ``n_items - 1`` (module docstring).
        threads : int, optional

        Returns
        -------
        ids : ndarray, shape (n_query, k) or (k,), item id dtype
            Most similar first; ties go to the lower dense index.
        similarities : ndarray, shape (n_query, k) or (k,), float32
            Cosines in ``[-1, 1]`` (up to rounding); ``-inf`` where padded.

        Raises
        ------
        ValueError
            Unknown item ids (named), ``k`` not a positive integer.
        """
        return self._similar("item_factors_", "item_ids_", items, k, "items", threads)

    def similar_users(
        self, users: Any, k: int = 10, *, threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k users whose vectors are most cosine-similar to each user's.

        As :meth:`similar_items`, on ``user_factors_``. Users without any
        training interaction have a zero vector, hence similarity 0 with
        everyone.

        Returns
        -------
        ids : ndarray, shape (n_query, k) or (k,), user id dtype
        similarities : ndarray, shape (n_query, k) or (k,), float32
        """
        return self._similar("user_factors_", "user_ids_", users, k, "users", threads)

    # ----------------------------------------------------------- fold-in
    def _fold_in_interactions(self, items: Any, weights: Any) -> Interactions:
        """The new users' items as an Interactions over the model's item map."""
        n_items = self.item_factors_.shape[0]
        if isinstance(items, Interactions):
            if weights is not None:
                raise ValueError(
                    "weights must be None when items is an Interactions (its weights are used)"
                )
            if items.n_items != n_items or items.item_ids != self.item_ids_:
                raise ValueError(
                    f"items is an Interactions over {items.n_items} items whose item ids differ "
                    f"from the model's {n_items}; build it with item_ids=model.item_ids_"
                )
            return items
        if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
            raise ValueError(
                "items must be a list of item-id lists (one per new user) or an Interactions, "
                f"got {type(items).__name__}"
            )
        lists = list(items)
        for position, user_items in enumerate(lists):
            if np.ndim(user_items) != 1:
                raise ValueError(
                    f"items must be a list of item-id lists, one per new user; items[{position}] "
                    f"is {user_items!r} (for a single new user pass [their_items])"
                )
        lengths = np.array([len(user_items) for user_items in lists], dtype=np.int64)
        rows = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
        flat = (
            np.concatenate([np.asarray(user_items) for user_items in lists if len(user_items)])
            if lengths.sum()
            else np.empty(0, dtype=self.item_ids_.ids.dtype)
        )
        indices = self.item_ids_.to_index(flat, name="items", missing="ignore")
        missing = indices < 0
        if missing.any():
            first_user = int(rows[np.flatnonzero(missing)[0]])
            raise ValueError(
                _unknown_message("items", flat, missing, "item") + f" (first in items[{first_user}])"
            )
        flat_weights = None
        if weights is not None:
            weight_lists = list(weights)
            if len(weight_lists) != len(lists) or any(
                np.ndim(user_weights) != 1 or len(user_weights) != length
                for user_weights, length in zip(weight_lists, lengths)
            ):
                raise ValueError(
                    "weights must be None or one list of weights per new user, each as long as "
                    f"that user's items (lengths {lengths.tolist()[:10]})"
                )
            flat_weights = (
                np.concatenate([np.asarray(w, dtype=np.float64) for w in weight_lists if len(w)])
                if lengths.sum()
                else np.empty(0)
            )
        return Interactions.from_indices(
            rows, indices, flat_weights, shape=(len(lists), n_items), item_ids=self.item_ids_,
            duplicates="sum",
        )

    def _fold_in_settings(self, epochs: Any, learning_rate: Any, seed: Any) -> dict[str, Any]:
        params = self.get_params()
        loss = params.get("loss", "bpr")
        if loss not in FOLD_IN_LOSSES:
            raise ValueError(
                f"fold_in supports models trained with loss {', '.join(FOLD_IN_LOSSES)}; "
                f"this {type(self).__name__} has loss={loss!r}"
            )
        optimizer = params.get("optimizer", "rowwise-adagrad")
        if optimizer not in OPTIMIZER_CODES:
            raise ValueError(
                f"fold_in supports the optimizers {', '.join(OPTIMIZER_CODES)}; this "
                f"{type(self).__name__} has optimizer={optimizer!r}"
            )
        if seed is None:
            seed = params.get("seed")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
        elif not _is_integer(seed) or seed < 0:
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        return {
            "loss": LOSS_CODES[loss],
            # The popularity sampler needs training counts the model does not keep.
            "sampler": SAMPLER_CODES["unseen"] if params.get("negatives") == "unseen" else SAMPLER_CODES["uniform"],
            "optimizer": OPTIMIZER_CODES[optimizer],
            "n_negatives": _positive_integer(params.get("n_negatives", 1), "n_negatives"),
            "max_sampled": _positive_integer(params.get("max_sampled", 100), "max_sampled"),
            "kos_k": _positive_integer(params.get("kos_k", 5), "kos_k"),
            "kos_n": _positive_integer(params.get("kos_n", 10), "kos_n"),
            "epochs": _positive_integer(params.get("epochs", 20) if epochs is None else epochs, "epochs"),
            "learning_rate": _finite_number(
                params.get("learning_rate", 0.1) if learning_rate is None else learning_rate,
                "learning_rate", strict=True,
            ),
            "l2": _finite_number(params.get("l2", 0.0), "l2"),
            "margin": _finite_number(params.get("margin", 1.0), "margin"),
            "use_weights": bool(params.get("use_weights", True)),
            "seed": int(seed) % 2**64,
        }

    def _fold_in(
        self, items: Any, weights: Any, epochs: Any, learning_rate: Any, seed: Any, threads: Any
    ) -> tuple[np.ndarray, Interactions, np.ndarray]:
        """Folded-in vectors, the new users' interactions and per-epoch losses."""
        self._require_fitted()
        given = self._fold_in_interactions(items, weights)
        settings = self._fold_in_settings(epochs, learning_rate, seed)
        threads = _check_threads(threads)
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
        n_new, dim = given.n_users, self.item_factors_.shape[1]
        kos_width = settings["kos_n"] if settings["loss"] == LOSS_CODES["warp-kos"] else 0
        user_vectors = np.zeros((n_new, dim), dtype=np.float32)
        epoch_losses = np.zeros((n_new, settings["epochs"]), dtype=np.float64)
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            # Only the uncompiled kernel (NUMBA_DISABLE_JIT) warns: uint64
            # products wrap by design, and divergence is reported below.
            with np.errstate(over="ignore", invalid="ignore"):
                fold_in_kernels.fold_in_users(
                    fold_in_kernels.NewUsers(
                        np.ascontiguousarray(train.indptr, dtype=np.int64),
                        np.ascontiguousarray(train.indices, dtype=np.int32),
                        train_weights,
                    ),
                    fold_in_kernels.FrozenItems(
                        np.ascontiguousarray(self.item_factors_, dtype=np.float32),
                        np.ascontiguousarray(self.item_biases_, dtype=np.float32),
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
        finally:
            numba.set_num_threads(previous)
        if not np.isfinite(user_vectors).all():
            raise FloatingPointError(
                "fold-in diverged: a new user's vector became NaN or infinite; pass a lower "
                f"learning_rate than {settings['learning_rate']:g}"
            )
        return user_vectors, given, epoch_losses

    def fold_in(
        self,
        items: Any,
        weights: Any = None,
        *,
        epochs: int | None = None,
        learning_rate: float | None = None,
        seed: int | None = None,
        threads: int | None = None,
    ) -> np.ndarray:
        """Vectors for users who were not in training, the items frozen.

        Each new user's vector starts at zero and is trained alone on the
        user's items with the model's own settings: its loss (all of
        :data:`FOLD_IN_LOSSES`), ``n_negatives``, ``margin``,
        ``max_sampled``, ``kos_k`` / ``kos_n``, ``optimizer`` (its state
        started afresh), ``learning_rate``, ``l2`` and ``epochs`` passes over
        the user's items; the vector returned is the average of those of
        the last half of the epochs (see :mod:`tripletrec.kernels.fold_in`).
        ``item_factors_`` and ``item_biases_`` are never changed. Negatives are drawn uniformly from all items; a model
        trained with ``negatives="unseen"`` keeps that rule, while
        ``"popularity"`` falls back to uniform (the training counts it needs
        are not part of the model).

        The result can be used as ``user_factors_`` rows: the score of item
        ``i`` for new user ``n`` is ``vectors[n] @ item_factors_[i] +
        item_biases_[i]``. :meth:`recommend_new` does this and the ranking.

        Parameters
        ----------
        items : list of array_like, or Interactions
            One list of external item ids per new user (a user with an empty
            list keeps a zero vector: a popularity ranking), or an
            :class:`~tripletrec.Interactions` whose rows are the new users
            and whose item id map is the model's. A repeated item counts
            once, with its weights summed.
        weights : list of array_like, optional
            One weight per given item (same nesting as ``items``; not with
            an Interactions, whose weights are used). Used when the model's
            ``use_weights`` is true: each user's positive weights are scaled
            to mean 1 and weight-0 items take no step. Default: all 1.
        epochs : int, optional
            Passes over each user's items (default: the model's ``epochs``).
        learning_rate : float, optional
            Default: the model's ``learning_rate``.
        seed : int, optional
            Seeds the negative sampling (default: the model's ``seed``, or
            fresh entropy when that is None). User ``n`` draws from a stream
            of its own, seeded by ``(seed, n)``: the result does not depend
            on ``threads``.
        threads : int, optional
            Users folded in at once (default: numba's thread count).

        Returns
        -------
        ndarray, shape (n_new, dim), float32

        Raises
        ------
        ValueError
            Unknown item ids (named, with the first user holding one), a flat
            list instead of a list of lists, weights that do not match the
            items, an Interactions with another item id map, or a loss or
            optimizer fold-in does not support.
        FloatingPointError
            When a vector stops being finite (lower ``learning_rate``).

        Notes
        -----
        Quality, measured on ml-100k ``ua`` (ratings >= 4, dim 32, adagrad,
        20 epochs): 100 users removed from training and folded in from their
        training items reached 0.93-1.08 times (mean 1.01, bpr) and
        0.94-1.20 times (mean 1.04, warp) the held-out precision@10 of the
        same users trained with everybody else, over 8 draws of the users;
        a zero vector (popularity) reached 0.50-0.64 times.
        ``tests/models/test_serving.py`` asserts at least 0.85 times.
        """
        vectors, _, _ = self._fold_in(items, weights, epochs, learning_rate, seed, threads)
        return vectors

    def recommend_new(
        self,
        items: Any,
        k: int = 10,
        *,
        weights: Any = None,
        candidates: Any = None,
        exclude_given: bool = True,
        epochs: int | None = None,
        learning_rate: float | None = None,
        seed: int | None = None,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Recommend to users who were not in training, from their items.

        Folds the users in (:meth:`fold_in`) and ranks the items for the new
        vectors as :meth:`recommend` does.

        Parameters
        ----------
        items, weights, epochs, learning_rate, seed, threads
            As for :meth:`fold_in`.
        k : int
        candidates : array_like, shape (n_candidates,), optional
            External item ids to restrict the answer to.
        exclude_given : bool
            Never return a user's given items (all of them, weight-0 ones
            included).

        Returns
        -------
        ids : ndarray, shape (n_new, k), item id dtype
        scores : ndarray, shape (n_new, k), float32
            Padded as in :meth:`recommend`.
        """
        vectors, given, _ = self._fold_in(items, weights, epochs, learning_rate, seed, threads)
        candidate_indices = None if candidates is None else self._item_indices(candidates, "candidates")[0]
        exclusions = (given.indptr, given.indices) if exclude_given else None
        ids, scores = self._top_items(vectors, k, exclusions, candidate_indices, threads)
        return _to_external(self.item_ids_, ids), scores

    # -------------------------------------------------------- model file
    def save(self, path: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None) -> Path:
        """Write the model to one ``.npz`` file that :func:`load` reads back.

        The file holds the learned arrays (``user_factors``,
        ``item_factors``, ``item_biases``), the id maps (``user_ids``,
        ``item_ids``), ``item_names`` when the model has ``item_names_``, and
        a JSON header with the class name, ``get_params()``, ``history_``,
        ``best_epoch_`` and ``metadata`` (plus the format's version and
        checksum; see :mod:`tripletrec.io`). Optimizer state and random
        generator states are not part of the learned model and are not
        saved. No pickle is involved.

        Parameters
        ----------
        path : str or os.PathLike
            Destination; ``.npz`` is appended when missing. Replaced
            atomically if it exists.
        metadata : dict, optional
            JSON-serialisable facts about the model, e.g.
            ``{"dataset": "ml-100k", "split": "ua"}``; default: the
            ``metadata_`` of a loaded model, else empty.

        Returns
        -------
        pathlib.Path
            The file written.

        Raises
        ------
        ValueError
            For metadata or parameters JSON cannot hold (nothing is written).
        """
        self._require_fitted()
        if metadata is None:
            metadata = getattr(self, "metadata_", None) or {}
        if not isinstance(metadata, Mapping):
            raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
        cls = type(self)
        header = {
            "model_class": cls.__qualname__,
            "model_module": cls.__module__,
            "params": self.get_params(),
            "history": list(getattr(self, "history_", [])),
            "best_epoch": getattr(self, "best_epoch_", None),
            "metadata": dict(metadata),
        }
        arrays = {
            "user_factors": np.asarray(self.user_factors_, dtype=np.float32),
            "item_factors": np.asarray(self.item_factors_, dtype=np.float32),
            "item_biases": np.asarray(self.item_biases_, dtype=np.float32),
            "user_ids": self.user_ids_.ids,
            "item_ids": self.item_ids_.ids,
        }
        item_names = getattr(self, "item_names_", None)
        if item_names is not None:
            item_names = np.asarray(item_names)
            if item_names.shape != (self.item_factors_.shape[0],):
                raise ValueError(
                    f"item_names_ has shape {item_names.shape} but the model has "
                    f"{self.item_factors_.shape[0]} items"
                )
            arrays["item_names"] = item_names.astype(str)
        return save_arrays(path, header, arrays)


# ---------------------------------------------------------------- loading
def _model_class(header: dict, path: Path) -> type:
    name = header.get("model_class")
    module = header.get("model_module")
    if not isinstance(name, str):
        raise ModelFileError(f"{path}: the header names no model class; this is not a saved model")
    cls = _MODEL_CLASSES.get((module, name))
    if cls is not None:
        return cls
    # A class that moved to another module is still found by its name alone.
    same_name = [cls for (_, known), cls in _MODEL_CLASSES.items() if known == name]
    if len(same_name) == 1:
        return same_name[0]
    known = ", ".join(sorted({known for _, known in _MODEL_CLASSES})) or "none"
    if not same_name:
        raise ModelFileError(
            f"{path} holds a model of class {name!r} (module {module!r}), which is not a known "
            f"tripletrec model class (known: {known}); import the module that defines it "
            "before loading"
        )
    raise ModelFileError(
        f"{path} holds a model of class {name!r} (module {module!r}) and several known "
        f"classes have that name, none in that module"
    )


def _check_model_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    missing = [name for name in _REQUIRED_ARRAYS if name not in arrays]
    if missing:
        raise ModelFileError(f"{path} lacks the model arrays {', '.join(missing)}")
    extra = sorted(set(arrays) - set(_REQUIRED_ARRAYS) - set(_OPTIONAL_ARRAYS))
    if extra:
        raise ModelFileError(f"{path} holds arrays this tripletrec does not know: {', '.join(extra)}")
    user_factors, item_factors = arrays["user_factors"], arrays["item_factors"]
    for name in ("user_factors", "item_factors", "item_biases"):
        if arrays[name].dtype != np.float32:
            raise ModelFileError(f"{path}: {name} is {arrays[name].dtype}, not float32")
    if user_factors.ndim != 2 or item_factors.ndim != 2 or user_factors.shape[1] != item_factors.shape[1]:
        raise ModelFileError(
            f"{path}: user_factors {user_factors.shape} and item_factors {item_factors.shape} "
            "are not two matrices of the same dim"
        )
    n_users, n_items = user_factors.shape[0], item_factors.shape[0]
    expected = {"item_biases": n_items, "user_ids": n_users, "item_ids": n_items, "item_names": n_items}
    for name, length in expected.items():
        if name in arrays and arrays[name].shape != (length,):
            raise ModelFileError(
                f"{path}: {name} has shape {arrays[name].shape} but the factors describe "
                f"{n_users} users and {n_items} items (expected ({length},))"
            )
    if "item_names" in arrays and arrays["item_names"].dtype.kind not in "US":
        raise ModelFileError(f"{path}: item_names is {arrays['item_names'].dtype}, not strings")
    for name in ("user_factors", "item_factors", "item_biases"):
        if not np.isfinite(arrays[name]).all():
            raise ModelFileError(f"{path}: {name} holds NaN or infinite values")


def load(path: str | os.PathLike) -> RecommenderMixin:
    """Read a model written by :meth:`RecommenderMixin.save`.

    The file is verified by :func:`tripletrec.io.load_arrays` (format
    version, checksum, no pickled objects). The model class is looked up by
    name among the known model classes (:func:`known_model_classes`): a file
    can only name a class that is already defined, and nothing from the file
    is imported, evaluated or unpickled. The model is rebuilt with its
    default constructor, ``set_params`` with the saved parameters, and the
    saved learned attributes, ``history_``, ``best_epoch_``,
    ``item_names_`` (None if not saved) and ``metadata_`` (the ``metadata``
    given to ``save``). It scores exactly as the saved model did.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    model
        An instance of the saved class, fitted. Its optimizer state is not
        restored (it is not part of the learned model).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        A corrupt, tampered, foreign or too-new file (see
        :func:`tripletrec.io.load_arrays`), an unknown model class, saved
        parameters the class does not have (named), or arrays that are
        missing or do not fit together.
    """
    path = Path(path)
    header, arrays = load_arrays(path)
    cls = _model_class(header, path)
    _check_model_arrays(arrays, path)
    params = header.get("params", {})
    history = header.get("history", [])
    metadata = header.get("metadata", {})
    if not isinstance(params, dict) or not isinstance(history, list) or not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: the header's params, history or metadata have the wrong type")
    model = cls()
    valid = model.get_params()
    unknown = sorted(name for name in params if name not in valid)
    if unknown:
        raise ModelFileError(
            f"{path} sets parameters {', '.join(repr(name) for name in unknown)} that "
            f"{cls.__name__} does not have; it was written by another tripletrec version "
            "or modified"
        )
    model.set_params(**params)
    try:
        user_ids = IdMap(arrays["user_ids"])
        item_ids = IdMap(arrays["item_ids"])
    except ValueError as error:
        raise ModelFileError(f"{path}: the saved id maps are invalid ({error})") from None
    model.user_factors_ = np.ascontiguousarray(arrays["user_factors"])
    model.item_factors_ = np.ascontiguousarray(arrays["item_factors"])
    model.item_biases_ = np.ascontiguousarray(arrays["item_biases"])
    model.user_ids_ = user_ids
    model.item_ids_ = item_ids
    model.n_users_ = int(model.user_factors_.shape[0])
    model.n_items_ = int(model.item_factors_.shape[0])
    model.history_ = history
    model.best_epoch_ = header.get("best_epoch")
    model.item_names_ = arrays.get("item_names")
    model.metadata_ = metadata
    return model

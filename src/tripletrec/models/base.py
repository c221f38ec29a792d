"""The base every tripletrec model plugs into.

A model learns a vector per user and per item (and optionally a bias per
item); :class:`BaseModel` gives it everything else, in external ids:
:meth:`~BaseModel.score`, :meth:`~BaseModel.predict`,
:meth:`~BaseModel.recommend`, :meth:`~BaseModel.similar_items`,
:meth:`~BaseModel.similar_users`, :meth:`~BaseModel.fold_in`,
:meth:`~BaseModel.recommend_new`, :meth:`~BaseModel.save` (and
:func:`tripletrec.load`), and :func:`tripletrec.evaluate` through
:meth:`~BaseModel.score_indices`.

What a model provides, in ``fit``:

* ``user_factors_`` (n_users, dim) float32, ``item_factors_`` (n_items,
  dim) float32 and ``item_biases_`` (n_items,) float32: the score of item
  ``i`` for user ``u`` is ``user_factors_[u] @ item_factors_[i] +
  item_biases_[i]``;
* ``user_ids_`` and ``item_ids_`` (:class:`~tripletrec.IdMap` of the
  training data), ``n_users_`` and ``n_items_`` (:meth:`BaseModel._set_id_maps`);
* ``history_`` (list of dict), and optionally ``item_names_`` and
  ``best_epoch_``.

The id boundary. Public methods take and return external ids (the ids of the
data the model was trained on) and are batch-first: a sequence of users
(items) gives one row per user (item); a single id gives one row without
the batch axis. They convert ids once (:mod:`tripletrec.models.ids`), then
call index-level methods whose names say they take dense indices
(:meth:`~BaseModel.score_indices`, :meth:`~BaseModel.recommend_indices`),
documented for power users.

Models follow scikit-learn's estimator rules without depending on it:
``__init__`` stores its arguments unchanged under the same names and does
nothing else; they are validated by ``fit`` against the class's
``_parameter_constraints`` table (:meth:`BaseModel._validate_params`, which
reports every bad argument at once); :meth:`BaseModel.get_params` /
:meth:`BaseModel.set_params` read and write exactly the ``__init__``
arguments, so :func:`clone` (and ``sklearn.base.clone``) build an unfitted
copy; what ``fit`` learns lives in attributes ending in ``_``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import check_flag, check_index_array, check_integer, check_option
from ..data.interactions import IdMap, Interactions
from ..serving.exact import cosine_top_k, top_k
from .estimator import Estimator, clone
from .ids import as_id_array, exclusion_rows, pad_columns, to_external, to_indices, unknown_message
from .new_users import NewUserSupport
from .persistence import register_model_class, save_model

__all__ = ["BaseModel", "NotFittedError", "clone"]

_UNKNOWN_RULES = ("error", "popular")


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit``."""


class BaseModel(NewUserSupport, Estimator):
    """Base class of the models: parameters, the id boundary, and serving.

    Subclasses define ``__init__`` (storing its arguments),
    ``_parameter_constraints`` (a dict from each argument to the
    constraints of :mod:`tripletrec._validation` it may meet) and ``fit``,
    which sets the attributes below. Every subclass that defines ``fit`` is
    registered for :func:`tripletrec.load`.

    Attributes
    ----------
    user_factors_ : ndarray, shape (n_users_, dim), float32
    item_factors_ : ndarray, shape (n_items_, dim), float32
    item_biases_ : ndarray, shape (n_items_,), float32
    n_users_, n_items_ : int
    user_ids_, item_ids_ : IdMap
        Map external ids to the dense indices of the rows above.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Abstract bases (no fit) cannot be trained, so no file holds one.
        if callable(getattr(cls, "fit", None)):
            register_model_class(cls)

    # ----------------------------------------------------------------- state
    def _require_fitted(self) -> None:
        if getattr(self, "item_factors_", None) is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(train) first")

    def _set_id_maps(self, interactions: Interactions) -> None:
        self.n_users_ = int(interactions.n_users)
        self.n_items_ = int(interactions.n_items)
        self.user_ids_: IdMap = interactions.user_ids
        self.item_ids_: IdMap = interactions.item_ids

    @staticmethod
    def _as_interactions(data: Any, name: str) -> Interactions:
        if isinstance(data, Interactions):
            interactions = data
        elif sp.issparse(data):
            matrix = sp.csr_matrix(data)
            # scipy's conversions need one index dtype for indptr and indices.
            matrix.indptr = matrix.indptr.astype(np.int64)
            matrix.indices = matrix.indices.astype(np.int64)
            interactions = Interactions.from_scipy(matrix)
        elif data is None:
            raise ValueError(
                f"{name} is None; pass an Interactions or a scipy sparse matrix (a dataset loaded "
                "without split= has train=None: use its .interactions, or load it with split=...)"
            )
        else:
            raise ValueError(f"{name} must be an Interactions or a scipy sparse matrix, got {type(data).__name__}")
        if len(interactions) == 0:
            raise ValueError(
                f"{name} is empty: it has no interactions ({interactions.n_users} users x {interactions.n_items} items)"
            )
        if interactions.n_items < 2:
            raise ValueError(f"{name} has {interactions.n_items} item; ranking needs at least 2 items")
        return interactions

    def _check_same_shape(self, data: Interactions, name: str) -> None:
        if data.shape != (self.n_users_, self.n_items_):
            raise ValueError(
                f"{name} is {data.n_users} users x {data.n_items} items but the model was "
                f"fitted on {self.n_users_} x {self.n_items_}"
            )
        if data.user_ids != self.user_ids_ or data.item_ids != self.item_ids_:
            raise ValueError(f"{name} must share the model's id maps (user_ids_ and item_ids_)")

    # ---------------------------------------------------------- id boundary
    def _user_indices(self, users: Any, unknown: str = "error") -> tuple[np.ndarray, np.ndarray, bool]:
        """Dense indices of external user ids (-1 for unknown ones), the unknown mask, single."""
        check_option(unknown, "unknown", _UNKNOWN_RULES)
        values, single = as_id_array(users, "users")
        indices = self.user_ids_.to_index(values, name="users", missing="ignore")
        missing = indices < 0
        if missing.any() and unknown == "error":
            raise ValueError(
                unknown_message("users", values, missing, "user")
                + "; pass unknown='popular' to rank items by popularity for them, "
                "or recommend_new(their items) to fold them in"
            )
        return indices, missing, single

    def _item_indices(self, items: Any, name: str = "items") -> tuple[np.ndarray, bool]:
        return to_indices(self.item_ids_, items, name, "item")

    # --------------------------------------------------------------- scoring
    def score(self, users: Any, items: Any = None) -> np.ndarray:
        """Scores of items for users: ``user . item + item bias``, higher is better.

        Parameters
        ----------
        users : external user id or array_like, shape (n,)
            Users of the training data, by their ids.
        items : array_like, shape (m,), optional
            External item ids; default every item, in the order of
            ``item_ids_.ids`` (column ``j`` is item ``item_ids_.ids[j]``).

        Returns
        -------
        ndarray, shape (n, m) or (m,), float32
            One row per user, without the batch axis when ``users`` is a
            single id. Only the order within a row matters.

        Raises
        ------
        ValueError
            Naming unknown user or item ids.

        See Also
        --------
        predict : scores of (user, item) pairs.
        score_indices : the same on dense indices.
        """
        self._require_fitted()
        user_indices, _ = to_indices(self.user_ids_, users, "users", "user")
        single = np.ndim(users) == 0
        item_indices = None if items is None else self._item_indices(items)[0]
        scores = self.score_indices(user_indices, item_indices)
        return scores[0] if single else scores

    def score_indices(self, user_indices: Any, item_indices: Any = None) -> np.ndarray:
        """Scores by dense indices (rows of ``user_factors_`` and ``item_factors_``).

        Parameters
        ----------
        user_indices : array_like, shape (n,), int
            Dense user indices ``0 .. n_users_ - 1`` (``user_ids_.to_index``
            maps external ids to them).
        item_indices : array_like, shape (m,), int, optional
            Dense item indices; default all ``n_items_`` items in index order.

        Returns
        -------
        ndarray, shape (n, m), float32
        """
        self._require_fitted()
        user_indices = check_index_array(user_indices, self.n_users_, "user_indices")
        if item_indices is None:
            item_factors = self.item_factors_
            item_biases = self.item_biases_
        else:
            item_indices = check_index_array(item_indices, self.n_items_, "item_indices")
            item_factors = self.item_factors_[item_indices]
            item_biases = self.item_biases_[item_indices]
        scores = self.user_factors_[user_indices] @ item_factors.T
        scores += item_biases
        return scores

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Scores of (user, item) pairs, as LightFM's ``predict``.

        Parameters
        ----------
        users : external user id or array_like, shape (n,)
            A single user is paired with every item.
        items : array_like, shape (n,)
            External item ids, as many as users (or any number for a
            single user).

        Returns
        -------
        ndarray, shape (n,), float32
            ``score(users[j], items[j])`` for each pair ``j``.

        Raises
        ------
        ValueError
            Unknown ids, or users and items of different lengths.
        """
        self._require_fitted()
        user_indices, single_user = to_indices(self.user_ids_, users, "users", "user")
        item_indices, _ = self._item_indices(items)
        if single_user:
            user_indices = np.full(len(item_indices), user_indices[0], dtype=np.int64)
        return self.predict_indices(user_indices, item_indices)

    def predict_indices(self, user_indices: Any, item_indices: Any) -> np.ndarray:
        """Scores of (user, item) pairs given by dense indices.

        Parameters
        ----------
        user_indices, item_indices : array_like, shape (n,), int

        Returns
        -------
        ndarray, shape (n,), float32
        """
        self._require_fitted()
        user_indices = check_index_array(user_indices, self.n_users_, "user_indices")
        item_indices = check_index_array(item_indices, self.n_items_, "item_indices")
        if len(user_indices) != len(item_indices):
            raise ValueError(
                f"users and items must pair up: got {len(user_indices)} users and {len(item_indices)} items"
            )
        # Row-wise dot products in float32, as the kernels and score() compute them.
        scores = np.einsum("ij,ij->i", self.user_factors_[user_indices], self.item_factors_[item_indices])
        return (scores + self.item_biases_[item_indices]).astype(np.float32, copy=False)

    # ------------------------------------------------------------- top-k
    def _exclusion_rows(self, exclude: Any, user_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """CSR (indptr, indices) of ``exclude``'s rows for ``user_indices`` (-1: empty row)."""
        return exclusion_rows(exclude, user_indices, self.user_ids_, self.item_ids_)

    def _top_items_for_vectors(
        self,
        user_vectors: np.ndarray,
        k: Any,
        exclusions: tuple[np.ndarray, np.ndarray] | None,
        candidate_indices: np.ndarray | None,
        threads: Any,
        approximate: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dense item indices and scores for query vectors, best first, padded to k."""
        # No list can hold more items than the catalogue: a larger k is capped, never padded.
        k = min(check_integer(k, "k", low=1), self.item_factors_.shape[0])
        n_available = self.item_factors_.shape[0] if candidate_indices is None else len(np.unique(candidate_indices))
        selected = min(k, n_available)
        if selected == 0 or len(user_vectors) == 0:
            indices = np.empty((len(user_vectors), 0), dtype=np.int64)
            scores = np.empty((len(user_vectors), 0), dtype=np.float32)
        elif check_flag(approximate, "approximate"):
            indices, scores = self.approximate_index(threads=threads).search(
                user_vectors, selected, exclude=exclusions, candidates=candidate_indices
            )
        else:
            indices, scores = top_k(
                user_vectors,
                self.item_factors_,
                selected,
                item_biases=self.item_biases_,
                exclude=exclusions,
                candidates=candidate_indices,
                threads=threads,
            )
        return pad_columns(indices, scores, k)

    def recommend(
        self,
        users: Any,
        k: int = 10,
        *,
        exclude: Any = None,
        items: Any = None,
        unknown: str = "error",
        approximate: bool = False,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best-scored items for each user, best first.

        Parameters
        ----------
        users : external user id or array_like, shape (n_query,)
            Users of the training data, by their external ids.
        k : int
            Items per user, >= 1; a ``k`` larger than the catalogue is
            capped at ``n_items_``. Rows with fewer than ``k`` items left are
            padded (see :mod:`tripletrec.models.ids`).
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
        approximate : bool
            Search an HNSW graph of the items (:meth:`approximate_index`,
            ``pip install 'tripletrec[ann]'``) instead of scoring every item:
            much faster for many users of a large catalogue, at a recall
            below 1; the scores of the items returned are exact.
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
        user_indices, missing, single = self._user_indices(users, unknown)
        candidate_indices = None if items is None else self._item_indices(items)[0]
        exclusions = self._exclusion_rows(exclude, user_indices)
        user_vectors = self.user_factors_[np.maximum(user_indices, 0)]
        if missing.any():
            user_vectors[missing] = 0.0  # a zero vector scores items by their bias alone
        indices, scores = self._top_items_for_vectors(
            user_vectors, k, exclusions, candidate_indices, threads, approximate
        )
        external = to_external(self.item_ids_, indices)
        if single:
            return external[0], scores[0]
        return external, scores

    def approximate_index(self, *, threads: int | None = None, **settings: Any):
        """The HNSW index of this model's items that ``approximate=True`` searches (built on first use).

        The index is kept until the item vectors or biases change (``fit``,
        ``add_items``, ``load``) or other ``settings`` are asked for.

        Parameters
        ----------
        threads : int, optional
            faiss threads for building and searching.
        **settings
            :class:`tripletrec.serving.approximate.ApproximateIndex`'s
            ``neighbours``, ``build_breadth``, ``search_breadth``.

        Returns
        -------
        ApproximateIndex

        Raises
        ------
        ImportError
            faiss is not installed.
        """
        self._require_fitted()
        from ..serving.approximate import ApproximateIndex

        # The arrays themselves (not copies) identify the model state the index was built on.
        # The search breadth is a search-time setting: changing it needs no new graph.
        search_breadth = settings.pop("search_breadth", None)
        key = (id(self.item_factors_), id(self.item_biases_), self.item_factors_.shape, tuple(sorted(settings.items())))
        cached = getattr(self, "_approximate", None)
        if cached is None or cached[0] != key:
            cached = (key, ApproximateIndex(self.item_factors_, self.item_biases_, threads=threads, **settings))
            self._approximate = cached
        index = cached[1]
        index.threads = threads
        if search_breadth is not None:
            index.search_breadth = check_integer(search_breadth, "search_breadth", low=1)
        return index

    def recommend_indices(
        self,
        user_indices: Any,
        k: int = 10,
        *,
        exclude: Any = None,
        item_indices: Any = None,
        approximate: bool = False,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`recommend` on dense indices.

        Parameters
        ----------
        user_indices : array_like, shape (n_query,), int
            Dense user indices.
        k : int
        exclude : Interactions or scipy.sparse matrix, optional
            As for :meth:`recommend`.
        item_indices : array_like, shape (n_candidates,), int, optional
            Dense item indices to restrict the answer to.
        approximate : bool
            As for :meth:`recommend`.
        threads : int, optional

        Returns
        -------
        item_indices : ndarray, shape (n_query, k), int64
            Best first; -1 in padded slots.
        scores : ndarray, shape (n_query, k), float32
            ``-inf`` in padded slots.
        """
        self._require_fitted()
        user_indices = check_index_array(user_indices, self.n_users_, "user_indices")
        if item_indices is not None:
            item_indices = check_index_array(item_indices, self.n_items_, "item_indices")
        exclusions = self._exclusion_rows(exclude, user_indices)
        return self._top_items_for_vectors(
            self.user_factors_[user_indices], k, exclusions, item_indices, threads, approximate
        )

    # ----------------------------------------------------------- similar
    def _similar_indices(
        self, vectors: np.ndarray, query_indices: np.ndarray, k: Any, threads: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``vectors`` most cosine-similar to rows ``query_indices``, padded to k."""
        k = min(check_integer(k, "k", low=1), len(vectors))
        selected = min(k, len(vectors))
        if len(query_indices) == 0:
            indices = np.empty((0, 0), dtype=np.int64)
            similarities = np.empty((0, 0), dtype=np.float32)
        else:
            indices, similarities = cosine_top_k(
                vectors[query_indices], vectors, selected, exclude_self_indices=query_indices, threads=threads
            )
        return pad_columns(indices, similarities, k)

    def similar_items(self, items: Any, k: int = 10, *, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k items whose vectors are most cosine-similar to each item's.

        Similarity is the cosine of ``item_factors_`` rows; the item biases
        (popularity) take no part. The query item itself is never returned.
        An item whose vector is zero has similarity 0 with every item.

        Parameters
        ----------
        items : external item id or array_like, shape (n_query,)
        k : int
            Items per query, >= 1, capped at the number of items; rows are
            padded when ``k`` exceeds ``n_items - 1``
            (:mod:`tripletrec.models.ids`).
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
        self._require_fitted()
        query_indices, single = self._item_indices(items)
        indices, similarities = self._similar_indices(self.item_factors_, query_indices, k, threads)
        external = to_external(self.item_ids_, indices)
        return (external[0], similarities[0]) if single else (external, similarities)

    def similar_users(self, users: Any, k: int = 10, *, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k users whose vectors are most cosine-similar to each user's.

        As :meth:`similar_items`, on ``user_factors_``. Users without any
        training interaction have a zero vector, hence similarity 0 with
        everyone.

        Returns
        -------
        ids : ndarray, shape (n_query, k) or (k,), user id dtype
        similarities : ndarray, shape (n_query, k) or (k,), float32
        """
        self._require_fitted()
        query_indices, single = to_indices(self.user_ids_, users, "users", "user")
        indices, similarities = self._similar_indices(self.user_factors_, query_indices, k, threads)
        external = to_external(self.user_ids_, indices)
        return (external[0], similarities[0]) if single else (external, similarities)

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
        return save_model(self, path, metadata)

"""Serving users who were not in training: fold-in and recommendations for new users.

:class:`NewUserSupport` is a part of :class:`~tripletrec.models.BaseModel`
(a mixin, on its own it is nothing): it learns a vector for each new user
from their items (:func:`tripletrec.models.fold_in.fold_in_vectors`, the
item parameters frozen) and ranks the items for it as ``recommend`` does.
It uses the base's id boundary (``_require_fitted``, ``_item_indices``,
``item_ids_``) and top-k (``_top_items_for_vectors``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_flag
from ..data.interactions import Interactions
from .fold_in import fold_in_interactions, fold_in_settings, fold_in_vectors
from .ids import to_external

__all__ = ["NewUserSupport"]


class NewUserSupport:
    """Fold-in and recommendations for users who were not in training (part of BaseModel)."""

    def _new_user_start(self, user_features: Any) -> np.ndarray | None:
        """Starting vectors of new users from their side features (None without); see FeatureSupport."""
        if user_features is not None:
            raise ValueError(
                f"user_features needs a model fitted with user features; this {type(self).__name__} has none"
            )
        return None

    def _fold_in_params(self) -> dict[str, Any]:
        """The training settings a fold-in reuses (loss, optimizer, learning rate, ...): the model's own."""
        return self.get_params()

    def _fold_in(
        self,
        items: Any,
        weights: Any,
        epochs: Any,
        learning_rate: Any,
        seed: Any,
        threads: Any,
        user_features: Any = None,
    ) -> tuple[np.ndarray, Interactions | None, bool]:
        """New users' vectors, their interactions (None without items), and whether one flat list was given."""
        self._require_fitted()
        start = self._new_user_start(user_features)
        if items is None:
            if start is None:
                raise ValueError("pass the new users' items, their user_features, or both")
            return start, None, False
        given, single = fold_in_interactions(items, weights, self.item_ids_)
        settings = fold_in_settings(self._fold_in_params(), type(self).__name__, epochs, learning_rate, seed)
        vectors, _ = fold_in_vectors(self.item_factors_, self.item_biases_, given, settings, threads, start)
        return vectors, given, single

    def fold_in(
        self,
        items: Any = None,
        weights: Any = None,
        *,
        user_features: Any = None,
        epochs: int | None = None,
        learning_rate: float | None = None,
        seed: int | None = None,
        threads: int | None = None,
    ) -> np.ndarray:
        """Vectors for users who were not in training, the items frozen.

        Each new user's vector starts at zero (or, with ``user_features``,
        at the vector of its features, towards which ``l2`` then pulls it:
        the penalty falls on what the items add, as on a trained user's
        identity vector) and is trained alone on the
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
        items : array_like, list of array_like, or Interactions
            A flat list of external item ids (one new user: the result has
            no batch axis), one list of external item ids per new user (a
            user with an empty list keeps a zero vector: a popularity
            ranking), or an
            :class:`~tripletrec.Interactions` whose rows are the new users
            and whose item id map is the model's. A repeated item counts
            once, with its weights summed. None with ``user_features``:
            the vectors of the features alone.
        weights : list of array_like, optional
            One weight per given item (same nesting as ``items``; not with
            an Interactions, whose weights are used). Used when the model's
            ``use_weights`` is true: each user's positive weights are scaled
            to mean 1 and weight-0 items take no step. Default: all 1.
        user_features : Features or scipy sparse matrix or ndarray, optional
            A model fitted with user features: one feature row per new user
            (see :meth:`user_representations`), in the order of ``items``.
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
        ndarray, shape (n_new, dim) or (dim,), float32

        Raises
        ------
        ValueError
            Unknown item ids (named, with the first user holding one),
            weights that do not match the
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
        ``tests/models/test_fold_in.py`` asserts at least 0.85 times.
        """
        vectors, _, single = self._fold_in(items, weights, epochs, learning_rate, seed, threads, user_features)
        return vectors[0] if single else vectors

    def recommend_new(
        self,
        items: Any = None,
        k: int = 10,
        *,
        user_features: Any = None,
        weights: Any = None,
        candidates: Any = None,
        exclude_given: bool = True,
        epochs: int | None = None,
        learning_rate: float | None = None,
        seed: int | None = None,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Recommend to users who were not in training, from their items, their features or both.

        Folds the users in (:meth:`fold_in`) and ranks the items for the new
        vectors as :meth:`recommend` does. A model fitted with user features
        recommends to a user with no items from ``user_features`` alone.

        Parameters
        ----------
        items, user_features, weights, epochs, learning_rate, seed, threads
            As for :meth:`fold_in`.
        k : int
        candidates : array_like, shape (n_candidates,), optional
            External item ids to restrict the answer to.
        exclude_given : bool
            Never return a user's given items (all of them, weight-0 ones
            included).

        Returns
        -------
        ids : ndarray, shape (n_new, k) or (k,), item id dtype
        scores : ndarray, shape (n_new, k) or (k,), float32
            Padded as in :meth:`recommend`.
        """
        vectors, given, single = self._fold_in(items, weights, epochs, learning_rate, seed, threads, user_features)
        candidate_indices = None if candidates is None else self._item_indices(candidates, "candidates")[0]
        exclude_given = check_flag(exclude_given, "exclude_given")
        exclusions = (given.indptr, given.indices) if exclude_given and given is not None else None
        indices, scores = self._top_items_for_vectors(vectors, k, exclusions, candidate_indices, threads)
        external = to_external(self.item_ids_, indices)
        return (external[0], scores[0]) if single else (external, scores)

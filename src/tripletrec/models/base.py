"""What every tripletrec model shares: parameters, id maps and scoring.

Models follow scikit-learn's estimator rules without depending on it:

* ``__init__`` stores its arguments unchanged under the same names and does
  nothing else; arguments are validated by ``fit``;
* :meth:`BaseModel.get_params` / :meth:`BaseModel.set_params` read and write
  exactly the ``__init__`` arguments, so :func:`clone` (and
  ``sklearn.base.clone``) build an unfitted copy;
* what ``fit`` learns lives in attributes ending in ``_``; internal training
  state (optimizer moments, random generator states) lives in attributes
  starting with ``_`` and is not part of the learned model.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np

from ..data.interactions import IdMap, Interactions
from .serving import RecommenderMixin

__all__ = ["BaseModel", "NotFittedError", "clone"]


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit``."""


class BaseModel(RecommenderMixin):
    """Base class of the factor models.

    Subclasses set, in ``fit``:

    Attributes
    ----------
    user_factors_ : ndarray, shape (n_users_, dim), float32
    item_factors_ : ndarray, shape (n_items_, dim), float32
    item_biases_ : ndarray, shape (n_items_,), float32
    n_users_, n_items_ : int
    user_ids_, item_ids_ : IdMap
        Map external ids to the dense indices of the rows above.
    """

    # ------------------------------------------------------------ parameters
    @classmethod
    def _parameter_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        names = []
        for name, parameter in signature.parameters.items():
            if name == "self":
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must list its parameters explicitly, not *{name}")
            names.append(name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, by name.

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn compatibility; no parameter of a
            tripletrec model is itself an estimator.

        Returns
        -------
        dict of str to object
        """
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params: Any) -> "BaseModel":
        """Set constructor arguments by name; returns ``self``.

        Takes effect at the next ``fit`` (``fit_partial`` uses the new
        training settings but keeps the learned shape).

        Raises
        ------
        ValueError
            For a name that is not a constructor argument.
        """
        valid = self._parameter_names()
        unknown = [name for name in params if name not in valid]
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no parameter {', '.join(repr(name) for name in unknown)}; "
                f"valid parameters are {', '.join(valid)}"
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            if default is inspect.Parameter.empty or not _same_value(value, default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    # ----------------------------------------------------------------- state
    def _check_fitted(self) -> None:
        if not hasattr(self, "item_factors_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(train) first"
            )

    def _set_id_maps(self, interactions: Interactions) -> None:
        self.n_users_ = int(interactions.n_users)
        self.n_items_ = int(interactions.n_items)
        self.user_ids_: IdMap = interactions.user_ids
        self.item_ids_: IdMap = interactions.item_ids

    # --------------------------------------------------------------- scoring
    def _check_indices(self, values: Any, size: int, name: str) -> np.ndarray:
        indices = np.asarray(values)
        if indices.ndim == 0:
            indices = indices.reshape(1)
        if indices.ndim != 1:
            raise ValueError(f"{name} must be a one-dimensional array of indices, got shape {indices.shape}")
        if len(indices) and indices.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integer dense indices, got dtype {indices.dtype}")
        indices = indices.astype(np.int64, copy=False)
        bad = (indices < 0) | (indices >= size)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name}: {int(bad.sum())} of {len(indices)} indices are outside 0..{size - 1} "
                f"(first at position {first}: {int(indices[first])})"
            )
        return indices

    def score(self, users: Any, items: Any = None) -> np.ndarray:
        """Scores ``user_factors_[u] . item_factors_[i] + item_biases_[i]``.

        Higher is better; only the order within a user's row matters.

        Parameters
        ----------
        users : array_like, shape (n,), int
            Dense user indices ``0 .. n_users_ - 1`` (map external ids with
            ``model.user_ids_.to_index(ids)``).
        items : array_like, shape (m,), int, optional
            Dense item indices; default all ``n_items_`` items in index order.

        Returns
        -------
        ndarray, shape (n, m), float32
        """
        self._check_fitted()
        users = self._check_indices(users, self.n_users_, "users")
        if items is None:
            item_factors = self.item_factors_
            item_biases = self.item_biases_
        else:
            items = self._check_indices(items, self.n_items_, "items")
            item_factors = self.item_factors_[items]
            item_biases = self.item_biases_[items]
        scores = self.user_factors_[users] @ item_factors.T
        scores += item_biases
        return scores


def _same_value(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False


def clone(model: BaseModel) -> BaseModel:
    """An unfitted copy of ``model`` with the same (deep-copied) parameters."""
    if not hasattr(model, "get_params"):
        raise ValueError(f"model must have get_params(), got {type(model).__name__}")
    return type(model)(**copy.deepcopy(model.get_params(deep=False)))

"""Estimator parameters, as scikit-learn defines them, without depending on it.

* ``__init__`` stores its arguments unchanged under the same names and does
  nothing else;
* :meth:`Estimator.get_params` / :meth:`Estimator.set_params` read and write
  exactly the ``__init__`` arguments, so :func:`clone` (and
  ``sklearn.base.clone``) build an unfitted copy;
* arguments are validated where they are used (``fit``), all at once,
  against the class's ``_parameter_constraints`` table
  (:meth:`Estimator._validate_params`, :mod:`tripletrec._validation`).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from .._validation import validate_parameters

__all__ = ["Estimator", "clone"]


class Estimator:
    """Parameter handling shared by every model."""

    #: Constructor argument -> the constraints it may meet (see tripletrec._validation).
    _parameter_constraints: dict[str, tuple] = {}

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

    def set_params(self, **params: Any) -> Estimator:
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
            name: parameter.default for name, parameter in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            if default is inspect.Parameter.empty or not _same_value(value, default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def _validate_params(self) -> dict[str, Any]:
        """Check every constructor argument against ``_parameter_constraints``.

        Returns
        -------
        dict of str to object
            The arguments as plain Python values, by name.

        Raises
        ------
        ValueError
            Naming every invalid argument with its value and what it must be.
        """
        return validate_parameters(self._parameter_constraints, self.get_params(), type(self).__name__)


def _same_value(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False


def clone(model: Estimator) -> Estimator:
    """An unfitted copy of ``model`` with the same (deep-copied) parameters."""
    if not hasattr(model, "get_params"):
        raise ValueError(f"model must have get_params(), got {type(model).__name__}")
    return type(model)(**copy.deepcopy(model.get_params(deep=False)))

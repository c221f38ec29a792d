"""The model file: :func:`save_model` writes a fitted model, :func:`load` reads it back.

A model file is one ``.npz`` written by :func:`tripletrec.io.save_arrays`:
no pickle, a JSON header with a checksum, atomic replacement. :func:`load`
finds the model class in a registry of the classes that inherit
:class:`~tripletrec.models.BaseModel` and define ``fit`` (filled by
:func:`register_model_class` when each class is defined); a file can only
name one of them, and nothing named in a file is ever imported or
evaluated.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..data.interactions import IdMap
from ..io import ModelFileError, load_arrays, save_arrays

__all__ = ["known_model_classes", "load", "register_model_class", "save_model"]

# The arrays of a model file; "item_names" is optional.
_REQUIRED_ARRAYS = ("user_factors", "item_factors", "item_biases", "user_ids", "item_ids")
_OPTIONAL_ARRAYS = ("item_names",)


# (module, qualified name) -> class, filled by register_model_class.
_MODEL_CLASSES: dict[tuple[str, str], type] = {}


def register_model_class(cls: type) -> None:
    """Make ``cls`` loadable by :func:`load` (called for each model class as it is defined)."""
    _MODEL_CLASSES[(cls.__module__, cls.__qualname__)] = cls


def known_model_classes() -> dict[str, type]:
    """The model classes :func:`load` can rebuild, by ``module.qualname``."""
    return {f"{module}.{name}": cls for (module, name), cls in sorted(_MODEL_CLASSES.items())}


def save_model(model: Any, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a fitted model to ``path``; see :meth:`tripletrec.models.BaseModel.save`."""
    model._require_fitted()
    if metadata is None:
        metadata = getattr(model, "metadata_", None) or {}
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    cls = type(model)
    header = {
        "model_class": cls.__qualname__,
        "model_module": cls.__module__,
        "params": model.get_params(),
        "history": list(getattr(model, "history_", [])),
        "best_epoch": getattr(model, "best_epoch_", None),
        "metadata": dict(metadata),
    }
    arrays = {
        "user_factors": np.asarray(model.user_factors_, dtype=np.float32),
        "item_factors": np.asarray(model.item_factors_, dtype=np.float32),
        "item_biases": np.asarray(model.item_biases_, dtype=np.float32),
        "user_ids": model.user_ids_.ids,
        "item_ids": model.item_ids_.ids,
    }
    item_names = getattr(model, "item_names_", None)
    if item_names is not None:
        item_names = np.asarray(item_names)
        if item_names.shape != (model.item_factors_.shape[0],):
            raise ValueError(
                f"item_names_ has shape {item_names.shape} but the model has {model.item_factors_.shape[0]} items"
            )
        arrays["item_names"] = item_names.astype(str)
    # Model-specific arrays (a hybrid model's feature embeddings and matrices).
    extra = getattr(model, "_extra_arrays", None)
    if callable(extra):
        arrays.update(extra())
    return save_arrays(path, header, arrays)


#: tripletrec's model modules that load on demand (the torch engine's models serve without torch).
_OWN_MODEL_MODULES = ("tripletrec.torch.triplet_network", "tripletrec.torch.two_tower")


def _model_class(header: dict, path: Path) -> type:
    name = header.get("model_class")
    module = header.get("model_module")
    if not isinstance(name, str):
        raise ModelFileError(f"{path}: the header names no model class; this is not a saved model")
    cls = _MODEL_CLASSES.get((module, name))
    if cls is None and module in _OWN_MODEL_MODULES:
        # Our own model modules that `import tripletrec` does not load (they
        # import no optional dependency at module level); never a module a
        # file names otherwise.
        importlib.import_module(module)
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


def _check_model_arrays(arrays: dict[str, np.ndarray], path: Path, cls: type) -> None:
    missing = [name for name in _REQUIRED_ARRAYS if name not in arrays]
    if missing:
        raise ModelFileError(f"{path} lacks the model arrays {', '.join(missing)}")
    class_arrays = cls.extra_array_names() if hasattr(cls, "extra_array_names") else ()
    extra = sorted(set(arrays) - set(_REQUIRED_ARRAYS) - set(_OPTIONAL_ARRAYS) - set(class_arrays))
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
    # No users is a model that still recommends for new users through
    # fold-in; no items or no dimensions is no model at all.
    if n_items == 0 or user_factors.shape[1] == 0:
        raise ModelFileError(
            f"{path}: the factors describe {n_items} items of dim {user_factors.shape[1]}; a model "
            "needs at least 1 item and dim >= 1"
        )
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


def _check_saved_params(model: Any, path: Path) -> None:
    """The saved parameters against the class's constraint table.

    The table bounds every parameter that sizes memory when the model is used
    (``fold_in`` allocates ``epochs`` losses and ``kos_n`` scratch slots per
    new user), so a tampered file cannot ask for an impossible allocation.
    """
    try:
        model._validate_params()
    except ValueError as error:
        raise ModelFileError(f"{path}: the saved parameters are invalid ({error})") from None


def load(path: str | os.PathLike) -> Any:
    """Read a model written by :meth:`~tripletrec.models.BaseModel.save`.

    The file is verified by :func:`tripletrec.io.load_arrays` (format
    version, checksum, no pickled objects). The model class is looked up by
    name among the known model classes (:func:`known_model_classes`): a file
    can only name a class that is already defined, and nothing from the file
    is imported, evaluated or unpickled. The model is rebuilt with its
    default constructor, ``set_params`` with the saved parameters, and the
    saved learned attributes (a hybrid model's feature embeddings, feature
    matrices and column names included), ``history_``, ``best_epoch_``,
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
        parameters the class does not have (named) or that break its
        ``_parameter_constraints``, no
        items or factors of dim 0 (no users is accepted: such a model still
        serves new users through ``fold_in``), or arrays that are missing or
        do not fit together.
    """
    path = Path(path)
    header, arrays = load_arrays(path)
    cls = _model_class(header, path)
    _check_model_arrays(arrays, path, cls)
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
    # JSON has no tuples: a tuple parameter (layer widths) comes back as a list.
    model.set_params(**{name: tuple(value) if isinstance(value, list) else value for name, value in params.items()})
    _check_saved_params(model, path)
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
    restore = getattr(model, "_restore_extra_arrays", None)
    if callable(restore):
        try:
            restore(arrays, str(path))
        except ValueError as error:
            raise ModelFileError(str(error)) from None
    return model

"""The id boundary: external ids in, dense indices behind, external ids out.

Every public model method takes and returns the ids of the data the model
was trained on; :class:`~tripletrec.models.BaseModel` converts them here and
calls index-level methods whose names say they take indices.

Padding. When fewer than ``k`` items are left for a row (exclusions, a small
candidate set, ``k`` larger than the catalogue), the row ends with padded
slots: their score is ``-inf`` and their id is :data:`PAD_INT_ID` (-1) for
integer ids or :data:`PAD_STR_ID` (``""``) for string ids. Test
``np.isneginf(scores)`` to find them whatever the id type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.interactions import IdMap

__all__ = ["PAD_INT_ID", "PAD_STR_ID", "as_id_array", "pad_columns", "to_external", "to_indices", "unknown_message"]

#: Id of a padded slot when the model's ids are integers.
PAD_INT_ID = -1

#: Id of a padded slot when the model's ids are strings.
PAD_STR_ID = ""


def pad_id(ids: np.ndarray) -> Any:
    """The id of a padded slot for an id array of this dtype."""
    return PAD_STR_ID if ids.dtype.kind in "US" else PAD_INT_ID


def to_external(id_map: IdMap, indices: np.ndarray) -> np.ndarray:
    """External ids of dense ``indices``; -1 (a padded slot) becomes the pad id."""
    ids = id_map.ids
    external = ids[np.maximum(indices, 0)]
    padded = indices < 0
    if padded.any():
        external = external.astype(ids.dtype, copy=True)
        external[padded] = pad_id(ids)
    return external


def pad_columns(indices: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Append padded slots (index -1, score -inf) so that rows hold ``k`` entries."""
    missing = k - indices.shape[1]
    if missing <= 0:
        return indices, scores
    n_rows = indices.shape[0]
    return (
        np.concatenate([indices, np.full((n_rows, missing), -1, dtype=np.int64)], axis=1),
        np.concatenate([scores, np.full((n_rows, missing), -np.inf, dtype=np.float32)], axis=1),
    )


def as_id_array(values: Any, name: str) -> tuple[np.ndarray, bool]:
    """``values`` as a 1-D array, and whether a single id was given."""
    array = np.asarray(values)
    if array.ndim > 1:
        raise ValueError(f"{name} must be a single id or a 1-dimensional sequence of ids, got shape {array.shape}")
    return array.reshape(-1), array.ndim == 0


def unknown_message(name: str, values: np.ndarray, unknown: np.ndarray, what: str) -> str:
    """The error text for ids of ``values`` (mask ``unknown``) missing from the model's id map."""
    examples = ", ".join(repr(value) for value in values[unknown][:5].tolist())
    more = ", ..." if int(unknown.sum()) > 5 else ""
    return (
        f"{name}: {int(unknown.sum())} of {len(values)} ids are not in the model's {what} "
        f"id map: {examples}{more}"
    )


def to_indices(id_map: IdMap, values: Any, name: str, what: str) -> tuple[np.ndarray, bool]:
    """Dense indices of external ids (all must be known), and whether one id was given.

    Raises
    ------
    ValueError
        Naming the unknown ids.
    """
    array, single = as_id_array(values, name)
    indices = id_map.to_index(array, name=name, missing="ignore")
    unknown = indices < 0
    if unknown.any():
        raise ValueError(unknown_message(name, array, unknown, what))
    return indices, single

"""The id boundary: external ids in, dense indices behind, external ids out.

Every public model method takes and returns the ids of the data the model
was trained on; :class:`~tripletrec.models.BaseModel` converts them here and
calls index-level methods whose names say they take indices.

Padding. ``k`` is capped at the size of the catalogue (the items, or the
users for similar users). When fewer than ``k`` items are then left for a
row (exclusions, a small candidate set, the query itself left out of its
similar items), the row ends with padded
slots: their score is ``-inf`` and their id is :data:`PAD_INT_ID` (-1) for
integer ids, :data:`PAD_UINT_ID` (2**64 - 1) for uint64 ids or
:data:`PAD_STR_ID` (``""``) for string ids. Test
``np.isneginf(scores)`` to find them whatever the id type.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..data.interactions import IdMap, Interactions

__all__ = [
    "PAD_INT_ID",
    "PAD_STR_ID",
    "PAD_UINT_ID",
    "as_id_array",
    "exclusion_rows",
    "pad_columns",
    "to_external",
    "to_indices",
    "unknown_message",
]

#: Id of a padded slot when the model's ids are integers.
PAD_INT_ID = -1

#: Id of a padded slot when the model's ids are strings.
PAD_STR_ID = ""

#: Id of a padded slot when the model's ids are uint64 (hashed ids past
#: int64's range, where -1 does not exist). It can also be a real id: find
#: padded slots by their ``-inf`` score.
PAD_UINT_ID = np.iinfo(np.uint64).max


def pad_id(ids: np.ndarray) -> Any:
    """The id of a padded slot for an id array of this dtype."""
    if ids.dtype.kind in "US":
        return PAD_STR_ID
    return PAD_UINT_ID if ids.dtype.kind == "u" else PAD_INT_ID


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
    return f"{name}: {int(unknown.sum())} of {len(values)} ids are not in the model's {what} id map: {examples}{more}"


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


def _translated(exclude: Interactions, user_ids: IdMap, item_ids: IdMap) -> tuple[np.ndarray, np.ndarray]:
    """``exclude``'s CSR re-indexed to the model's id maps, every one of its ids being known to the model."""
    user_rows = user_ids.to_index(exclude.user_ids.ids, missing="ignore")
    item_columns = item_ids.to_index(exclude.item_ids.ids, missing="ignore")
    for what, rows, ids in (("users", user_rows, exclude.user_ids.ids), ("items", item_columns, exclude.item_ids.ids)):
        if (rows < 0).any():
            raise ValueError(
                f"exclude holds {int((rows < 0).sum())} {what} the model does not know (first: "
                f"{ids[rows < 0][:1].tolist()[0]!r}); pass interactions over the model's users and items, e.g. the training data"
            )
    users, items, _ = exclude.to_coo()
    matrix = sp.csr_matrix(
        (np.ones(len(users), dtype=np.float32), (user_rows[users], item_columns[items])),
        shape=(len(user_ids), len(item_ids)),
    )
    return matrix.indptr.astype(np.int64), matrix.indices


def exclusion_rows(
    exclude: Any, user_indices: np.ndarray, user_ids: IdMap, item_ids: IdMap
) -> tuple[np.ndarray, np.ndarray] | None:
    """CSR (indptr, indices) of ``exclude``'s rows for ``user_indices`` (-1: an empty row).

    Parameters
    ----------
    exclude : Interactions, scipy.sparse matrix or None
        An Interactions whose ids the model all knows (its own id maps, or
        those of the data it was fitted on before it grew by ``add_items``
        or ``fit_partial``), or a sparse matrix over the model's users and
        items (rows are dense user indices).
    user_indices : ndarray, shape (n_query,), int64
        Dense user indices, -1 for a user the model does not know.
    user_ids, item_ids : IdMap
        The model's id maps.

    Returns
    -------
    (indptr, indices) or None
        ``indptr`` shape (n_query + 1,), ``indices`` the dense item indices
        to exclude for each query row, both int64; None when ``exclude`` is.
    """
    if exclude is None:
        return None
    n_users, n_items = len(user_ids), len(item_ids)
    if isinstance(exclude, Interactions):
        if exclude.user_ids == user_ids and exclude.item_ids == item_ids:
            indptr, indices = exclude.indptr, exclude.indices
        else:
            indptr, indices = _translated(exclude, user_ids, item_ids)
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

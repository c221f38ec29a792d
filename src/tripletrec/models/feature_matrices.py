"""The feature matrices of a hybrid model: from what the user passes to what the kernel trains.

A hybrid model describes user (item) ``r`` by row ``r`` of a sparse matrix
whose columns are, in this order, the *given* feature columns and, when
identity features are on, one identity column per user (item). Identity
columns come last so that new users and items append columns without
renumbering the others. With ``normalize`` each row is divided by the sum
of its absolute values (LightFM's ``normalize=True``), identity included.

Everything here works on dense row indices of the model's id maps: the
public methods of the model convert ids before calling in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Features, canonical_csr
from ..data.id_map import IdMap

__all__ = ["FeatureInput", "columns_by_name", "feature_input", "model_matrix", "new_rows", "rows_for_ids"]


@dataclass(frozen=True)
class FeatureInput:
    """One side's given features, rows aligned to the model's id map.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_rows, n_given), float32
        Given columns only (no identity).
    names : ndarray, shape (n_given,), str
        Column names (``"feature_0"``, ... for a bare matrix).
    """

    matrix: sp.csr_matrix
    names: np.ndarray


def _canonical(matrix: sp.spmatrix, name: str) -> sp.csr_matrix:
    """Canonical float32 CSR (:func:`~tripletrec.data.dataset.canonical_csr`), finite, no stored zeros.

    Row pointers are int64 whatever the size: the feature kernel is compiled
    for that one layout.
    """
    matrix = canonical_csr(matrix)
    if not np.isfinite(matrix.data).all():
        bad = int(np.flatnonzero(~np.isfinite(matrix.data))[0])
        row = int(np.searchsorted(matrix.indptr, bad, side="right") - 1)
        raise ValueError(f"{name} holds a NaN or infinite value (row {row}); feature values must be finite")
    if (matrix.data == 0).any():
        # A copy first: the arrays may be the caller's, never changed in place.
        matrix = matrix.copy()
        matrix.eliminate_zeros()
    matrix.indices = matrix.indices.astype(np.int32, copy=False)
    matrix.indptr = matrix.indptr.astype(np.int64, copy=False)
    return matrix


def feature_input(features: Any, ids: IdMap, name: str) -> FeatureInput | None:
    """Check one side's ``user_features`` / ``item_features`` and align its rows to ``ids``.

    Parameters
    ----------
    features : Features, scipy sparse matrix, ndarray or None
        A :class:`~tripletrec.data.Features` is aligned by id: row ``r``
        of the result is the feature row of ``ids`` entry ``r`` (an id the
        Features lack gets an empty row; its extra ids are ignored). A
        matrix must already have one row per entry of ``ids``, in order.
    ids : IdMap
        The model's (or the training data's) id map of that side.
    name : str
        The argument's name, for errors.

    Returns
    -------
    FeatureInput or None
        None for ``features=None``.
    """
    if features is None:
        return None
    if isinstance(features, Features):
        if features.ids is ids or features.ids == ids:
            matrix = features.matrix
        else:
            rows = features.ids.to_index(ids.ids, missing="ignore")
            if (rows < 0).all() and len(ids) > 0:
                raise ValueError(f"{name} describes none of the {len(ids)} ids of the data (its ids are other ones)")
            # Row -1 (an id the features lack) takes an appended empty row.
            padded = sp.vstack([sp.csr_matrix(features.matrix), sp.csr_matrix((1, features.matrix.shape[1]))])
            matrix = padded.tocsr()[np.where(rows < 0, features.matrix.shape[0], rows)]
        names = np.asarray(features.columns).astype(str)
    elif sp.issparse(features) or isinstance(features, np.ndarray):
        if features.ndim != 2:
            raise ValueError(f"{name} must be two-dimensional (rows x feature columns), got shape {features.shape}")
        if features.shape[0] != len(ids):
            raise ValueError(
                f"{name} has {features.shape[0]} rows but there are {len(ids)} ids; a matrix needs one row per "
                "id, in the id map's order (pass a tripletrec.data.Features to align rows by id)"
            )
        if not sp.issparse(features) and not np.issubdtype(features.dtype, np.number):
            raise ValueError(f"{name} must hold numbers, got dtype {features.dtype}")
        matrix = features
        names = np.array([f"feature_{column}" for column in range(features.shape[1])])
    else:
        raise ValueError(
            f"{name} must be a tripletrec.data.Features, a scipy sparse matrix or a 2-d ndarray, "
            f"got {type(features).__name__}"
        )
    if len(set(names.tolist())) != len(names):
        raise ValueError(f"{name} repeats a column name; feature columns must have distinct names")
    return FeatureInput(_canonical(matrix, name), names)


def model_matrix(given: sp.csr_matrix | None, n_rows: int, identity: bool, normalize: bool, name: str) -> sp.csr_matrix:
    """The matrix the kernel trains: given columns, then identity columns, optionally L1-normalised.

    Parameters
    ----------
    given : csr_matrix, shape (n_rows, n_given), float32, or None
    n_rows : int
    identity : bool
        Append one identity column per row.
    normalize : bool
        Divide each row by the sum of its absolute values.
    name : str
        The features' argument name, for errors.

    Returns
    -------
    csr_matrix, shape (n_rows, n_given + n_rows * identity), float32
        Canonical (sorted indices), int32 columns, int64 row pointers.

    Raises
    ------
    ValueError
        With ``normalize``, for a row with no non-zero value (it cannot be
        normalised; LightFM refuses it too): the message names the first.
    """
    parts = [] if given is None else [given]
    if identity:
        parts.append(sp.identity(n_rows, dtype=np.float32, format="csr"))
    matrix = _canonical(sp.hstack(parts, format="csr") if parts else sp.csr_matrix((n_rows, 0)), name)
    if normalize:
        empty = np.diff(matrix.indptr) == 0
        if empty.any():
            raise ValueError(
                f"{name}: {int(empty.sum())} row(s) have no feature (first: row {int(np.flatnonzero(empty)[0])}) "
                "and cannot be normalised; turn identity features on, give every row a feature, "
                "or pass normalize_features=False"
            )
        norms = np.asarray(abs(matrix).sum(axis=1), dtype=np.float32).ravel()
        matrix.data /= np.repeat(norms, np.diff(matrix.indptr))
    return matrix


def columns_by_name(features: Features, names: np.ndarray, name: str) -> sp.csr_matrix:
    """``features``' matrix with its columns placed at the model's columns of the same name.

    Columns the model does not know are dropped (they have no embedding);
    the model's columns the features lack stay empty.

    Raises
    ------
    ValueError
        When no column of ``features`` is known to the model.
    """
    position = {column: index for index, column in enumerate(names.tolist())}
    given = np.asarray(features.columns).astype(str).tolist()
    target = np.array([position.get(column, -1) for column in given], dtype=np.int64)
    if len(given) and (target < 0).all():
        raise ValueError(
            f"none of the {len(given)} columns of {name} is a feature column of the model "
            f"(e.g. {given[0]!r}; the model knows {len(names)} columns such as {names[:3].tolist()})"
        )
    matrix = sp.csr_matrix(features.matrix).tocoo()
    keep = target[matrix.col] >= 0
    return sp.csr_matrix(
        (matrix.data[keep], (matrix.row[keep], target[matrix.col[keep]])),
        shape=(matrix.shape[0], len(names)),
        dtype=np.float32,
    )


def rows_for_ids(features: Features, ids: IdMap, name: str) -> Features:
    """The rows of ``features`` for ``ids``, in that order; every id must have one.

    Raises
    ------
    ValueError
        Naming how many of ``ids`` ``features`` lacks, and the first.
    """
    rows = features.ids.to_index(ids.ids, missing="ignore")
    if (rows < 0).any():
        missing = ids.ids[rows < 0]
        raise ValueError(
            f"{name} has no row for {len(missing)} of the {len(ids)} ids asked for (first: {missing[:1].tolist()[0]!r})"
        )
    return Features(features.matrix[rows], features.columns, ids)


def new_rows(features: Any, names: np.ndarray, identity: bool, normalize: bool, name: str) -> sp.csr_matrix:
    """Feature rows of users (items) the model has no row for, in the model's given columns.

    Parameters
    ----------
    features : Features or scipy sparse matrix or ndarray, shape (n_new, ...)
        One row per new user (item), in order. A Features' columns are
        matched by name (unknown ones dropped); a matrix must have the
        model's given columns, in order.
    names : ndarray of str
        The model's given column names.
    identity, normalize : bool
        The model's settings: with ``normalize`` the row is scaled as a
        training row with the same features is, its identity column (when
        on, weight 1, an embedding of zero for someone new) counted.
    name : str
        The argument's name, for errors.

    Returns
    -------
    csr_matrix, shape (n_new, len(names)), float32
    """
    if isinstance(features, Features):
        matrix = _canonical(columns_by_name(features, names, name), name)
    elif sp.issparse(features) or isinstance(features, np.ndarray):
        if features.ndim != 2 or features.shape[1] != len(names):
            raise ValueError(
                f"{name} must have one row per new id and the model's {len(names)} feature columns, "
                f"got shape {features.shape}"
            )
        matrix = _canonical(features, name)
    else:
        raise ValueError(
            f"{name} must be a tripletrec.data.Features, a scipy sparse matrix or a 2-d ndarray, "
            f"got {type(features).__name__}"
        )
    if normalize:
        norms = np.asarray(abs(matrix).sum(axis=1), dtype=np.float32).ravel() + np.float32(identity)
        if (norms == 0).any():
            first = int(np.flatnonzero(norms == 0)[0])
            raise ValueError(f"{name} row {first} has no feature and cannot be normalised")
        matrix = sp.csr_matrix(sp.diags(1.0 / norms, format="csr", dtype=np.float32) @ matrix, dtype=np.float32)
    return matrix

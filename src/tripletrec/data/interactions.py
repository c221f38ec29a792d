"""The one container for user x item implicit feedback.

:class:`Interactions` holds a CSR matrix of float32 weights, optional
per-pair timestamps aligned with the stored entries, and an :class:`IdMap`
for users and one for items that translate between the caller's external
ids (ints or strings) and the dense indices the kernels use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import check_index_array, check_integer, is_real
from .id_map import IdMap, as_one_dimensional, count_phrase, id_array

__all__ = ["MAX_DIMENSION", "IdMap", "Interactions"]

_INT64_MAX = int(np.iinfo(np.int64).max)
_FLOAT32_MAX = float(np.finfo(np.float32).max)

_DUPLICATE_RULES = ("sum", "error")

#: The largest number of users or of items an :class:`Interactions` may have.
#: Item indices are stored as int32 (and the kernels index users with int32
#: too), so a larger shape could not be indexed; checking up front turns an
#: impossible size into a clear error instead of a huge allocation.
MAX_DIMENSION = int(np.iinfo(np.int32).max)


def _first_bad(bad: np.ndarray, values: np.ndarray, name: str, unit: str, problem: str) -> None:
    """Raise ``ValueError`` when ``bad`` has any entry: count, first position and its value."""
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        value = values[first]
        shown = repr(value.item()) if isinstance(value, np.generic) else repr(value)
        units = unit[:-1] + "ies" if unit.endswith("y") else unit + "s"
        raise ValueError(
            f"{name}: {count_phrase(int(bad.sum()), len(values), units)} {problem} (first at {unit} {first}: {shown})"
        )


def _check_weights(weights: Any, n: int, unit: str = "row") -> np.ndarray:
    """Weights as given (numeric dtype) once finite, >= 0 and within float32's range.

    They are stored as float32, so a weight finite in float64 but beyond
    float32's largest value (about 3.4e38) would become infinite: refused.
    """
    weights = np.asarray(weights)
    if weights.shape != (n,):
        raise ValueError(
            f"weights has {weights.size} values but there are {n} (user, item) {unit}s; "
            "arrays must have the same length"
        )
    if weights.dtype.kind not in "biuf":
        raise ValueError(f"weights must be numeric, got dtype {weights.dtype}")
    if weights.dtype.kind == "f":
        _first_bad(~np.isfinite(weights), weights, "weights", unit, "are NaN or infinite")
    _first_bad(weights < 0, weights, "weights", unit, "are negative")
    if weights.dtype.itemsize > 4 or weights.dtype.kind in "iu":
        _first_bad(
            np.abs(weights) > _FLOAT32_MAX,
            weights,
            "weights",
            unit,
            f"are above {_FLOAT32_MAX:.8g}, the largest float32 (the stored type)",
        )
    return weights


def _check_timestamps(timestamps: Any, n: int, unit: str = "row") -> np.ndarray:
    """Timestamps as int64 (datetime64 as Unix seconds); refuse what int64 cannot hold exactly.

    Integers must fit in int64; floats must be finite, whole and within
    int64's range (``1e30`` is not silently wrapped, ``1.5`` not silently
    truncated); datetime64 values must not be NaT.
    """
    values = np.asarray(timestamps)
    if not isinstance(timestamps, np.ndarray) and values.dtype.kind != "M" and values.ndim == 1:
        # numpy would turn [2**62 + 1, 7.0] into inexact floats and [True, 2]
        # into ints: judge a list's values one by one instead.
        values = np.empty(len(values), dtype=object)
        values[:] = list(timestamps)
    if values.shape != (n,):
        raise ValueError(
            f"timestamps has {values.size} values but there are {n} (user, item) {unit}s; "
            "arrays must have the same length"
        )
    kind = values.dtype.kind
    if kind == "M":
        _first_bad(np.isnat(values), values, "timestamps", unit, "are NaT (not a time)")
        return values.astype("datetime64[s]").astype(np.int64)
    if kind == "i":
        return values.astype(np.int64, copy=False)
    if kind == "u":
        _first_bad(values > np.uint64(_INT64_MAX), values, "timestamps", unit, "are outside int64's range")
        return values.astype(np.int64)
    if kind == "f":
        _first_bad(~np.isfinite(values), values, "timestamps", unit, "are NaN or infinite")
        # 2**63 is exact in float64; int64 holds [-2**63, 2**63).
        outside = (values < -(2.0**63)) | (values >= 2.0**63)
        _first_bad(outside, values, "timestamps", unit, "are outside int64's range")
        _first_bad(values != np.floor(values), values, "timestamps", unit, "are not whole numbers")
        return values.astype(np.int64)
    if kind == "O":
        listed = values.tolist()
        number = np.array([is_real(value) for value in listed], dtype=bool)
        _first_bad(~number, values, "timestamps", unit, "are not numbers")
        finite = np.array([not isinstance(v, (float, np.floating)) or math.isfinite(v) for v in listed], dtype=bool)
        _first_bad(~finite, values, "timestamps", unit, "are NaN or infinite")
        # Python compares ints and floats exactly, so no value is rounded here.
        outside = np.array([not -(2**63) <= value < 2**63 for value in listed], dtype=bool)
        _first_bad(outside, values, "timestamps", unit, "are outside int64's range")
        whole = np.array([value == math.floor(value) for value in listed], dtype=bool)
        _first_bad(~whole, values, "timestamps", unit, "are not whole numbers")
        return np.array([int(value) for value in listed], dtype=np.int64)
    raise ValueError(f"timestamps must be integers or datetime64, got dtype {values.dtype}")


def _check_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """Two non-negative integers, each at most :data:`MAX_DIMENSION`."""
    if not isinstance(shape, (tuple, list, np.ndarray)) or len(shape) != 2:
        raise ValueError(f"{name} must be two non-negative integers (n_users, n_items), got {shape!r}")
    dimensions = []
    for position, what in enumerate(("n_users", "n_items")):
        value = check_integer(shape[position], f"{name}[{position}] ({what})", low=0)
        if value > MAX_DIMENSION:
            raise ValueError(
                f"{name}[{position}] ({what}) is {value:,}, above the largest supported "
                f"{MAX_DIMENSION:,} (2**31 - 1): indices are stored as int32"
            )
        dimensions.append(value)
    return dimensions[0], dimensions[1]


def _canonical_order(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray | None:
    """The permutation sorting each row's columns, None when already sorted.

    Raises ``ValueError`` when a row stores a column twice: one pair, one
    stored weight (merging them would need a rule, see ``duplicates``).
    """
    nnz = len(indices)
    if nnz < 2:
        return None
    # continues_row[k]: entries k and k + 1 belong to the same row.
    continues_row = np.ones(nnz - 1, dtype=bool)
    row_starts = np.asarray(indptr[1:-1], dtype=np.int64)
    row_starts = row_starts[(row_starts > 0) & (row_starts < nnz)]
    continues_row[row_starts - 1] = False
    step = np.diff(indices.astype(np.int64, copy=False))
    order = None
    if bool(np.any(continues_row & (step < 0))):
        rows = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        order = np.lexsort((indices, rows))
        step = np.diff(indices[order].astype(np.int64))
    repeated = np.flatnonzero(continues_row & (step == 0))
    if len(repeated):
        first = int(repeated[0]) + 1
        row = int(np.searchsorted(indptr, first, side="right")) - 1
        column = int(indices[first] if order is None else indices[order[first]])
        raise ValueError(
            f"matrix stores a (user, item) pair more than once: {len(repeated)} stored "
            f"entries repeat an earlier column of their row (first: row {row}, column "
            f"{column}); build it with Interactions.from_scipy(matrix, duplicates='sum') "
            "to add their weights"
        )
    return order


class Interactions:
    """User x item implicit feedback: CSR weights, timestamps, id maps.

    Build one with :meth:`from_arrays` (external ids), :meth:`from_indices`
    (dense indices), :meth:`from_scipy` or :meth:`from_dataframe`; the
    constructor itself takes an already-valid CSR matrix.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_users, n_items)
        Weights of the stored (user, item) pairs: numeric, finite, >= 0 and
        within float32's range (they are stored as float32). Each row must
        store a column at most once (``ValueError`` otherwise; see
        :meth:`from_scipy` to add repeats up); columns stored out of order
        are sorted, timestamps moving with their entries. Stored zeros are
        pairs with weight 0. At most :data:`MAX_DIMENSION` rows and columns.
    timestamps : array_like, shape (nnz,), optional
        One timestamp per stored entry, aligned with ``matrix.data``;
        integers within int64, whole finite floats within int64, or
        datetime64 (stored as Unix seconds); NaT is refused.
    user_ids, item_ids : IdMap or array_like, optional
        External ids (array-likes become an :class:`IdMap` under its rules);
        default to the identity map ``0 .. n - 1``.

    Raises
    ------
    ValueError
        For any of the above, naming the value and its stored-entry position.

    Notes
    -----
    Interactions derived from one another (:meth:`threshold`, the splits in
    :mod:`tripletrec.data.split`) share the same ``user_ids`` and ``item_ids``
    objects and shape, so a train and a test set always index the same users
    and items.
    """

    def __init__(
        self,
        matrix: sp.csr_matrix,
        timestamps: np.ndarray | None = None,
        user_ids: IdMap | None = None,
        item_ids: IdMap | None = None,
    ):
        if not sp.issparse(matrix) or matrix.format != "csr":
            raise ValueError("matrix must be a scipy.sparse CSR matrix")
        n_users, n_items = _check_shape(matrix.shape, "matrix.shape")
        try:
            matrix.check_format(full_check=True)
        except ValueError as error:
            raise ValueError(f"matrix is not a valid CSR matrix: {error}") from None
        weights = _check_weights(matrix.data, matrix.nnz, unit="stored entry")
        if timestamps is not None:
            timestamps = _check_timestamps(timestamps, matrix.nnz, unit="stored entry")
        indptr, indices = matrix.indptr, matrix.indices
        order = _canonical_order(indptr, indices)
        if order is not None:
            # Sort each row's columns, carrying the weights and timestamps along.
            indices, weights = indices[order], weights[order]
            timestamps = None if timestamps is None else timestamps[order]
        # scipy wants one index dtype for indptr and indices: int32 unless nnz needs more.
        index_dtype = np.int32 if matrix.nnz < np.iinfo(np.int32).max else np.int64
        matrix = sp.csr_matrix(
            (
                weights.astype(np.float32, copy=False),
                indices.astype(index_dtype, copy=False),
                indptr.astype(index_dtype, copy=False),
            ),
            shape=(n_users, n_items),
            copy=False,
        )
        matrix.has_sorted_indices = True
        if user_ids is None:
            user_ids = IdMap(np.arange(n_users, dtype=np.int64))
        elif not isinstance(user_ids, IdMap):
            user_ids = IdMap(user_ids, name="user_ids")
        if item_ids is None:
            item_ids = IdMap(np.arange(n_items, dtype=np.int64))
        elif not isinstance(item_ids, IdMap):
            item_ids = IdMap(item_ids, name="item_ids")
        if len(user_ids) != n_users:
            raise ValueError(f"user_ids has {len(user_ids)} ids but the matrix has {n_users} rows")
        if len(item_ids) != n_items:
            raise ValueError(f"item_ids has {len(item_ids)} ids but the matrix has {n_items} columns")
        self._matrix = matrix
        self._timestamps = timestamps
        self.user_ids = user_ids
        self.item_ids = item_ids

    # ------------------------------------------------------------------ build
    @classmethod
    def from_indices(
        cls,
        users: Any,
        items: Any,
        weights: Any = None,
        timestamps: Any = None,
        *,
        shape: tuple[int, int],
        user_ids: IdMap | None = None,
        item_ids: IdMap | None = None,
        duplicates: str = "sum",
    ) -> Interactions:
        """Build from dense indices.

        Parameters
        ----------
        users, items : array_like, shape (n,), int
            Dense row and column indices, ``0 <= users < shape[0]``.
        weights : array_like, shape (n,), float, optional
            Non-negative finite weights within float32's range (the stored
            type; about 3.4e38); default 1.
        timestamps : array_like, shape (n,), int, optional
            Integers within int64, whole finite floats within int64, or
            datetime64 (stored as Unix seconds; NaT refused).
        shape : (int, int)
            ``(n_users, n_items)``: two integers from 0 to
            :data:`MAX_DIMENSION` (2**31 - 1), checked before anything is
            allocated.
        user_ids, item_ids : IdMap, optional
        duplicates : {"sum", "error"}
            What to do with a (user, item) pair given more than once: ``"sum"``
            adds the weights (and keeps the latest timestamp; a sum beyond
            float32's range is refused); ``"error"`` raises ``ValueError``
            naming the first repeated row.

        Returns
        -------
        Interactions

        Raises
        ------
        ValueError
            A bad shape, index, weight or timestamp, named with its row.
        """
        if duplicates not in _DUPLICATE_RULES:
            raise ValueError(f"duplicates must be one of {', '.join(_DUPLICATE_RULES)}; got {duplicates!r}")
        n_users, n_items = _check_shape(shape)
        users_arr = np.asarray(users)
        items_arr = np.asarray(items)
        n = users_arr.size
        if users_arr.ndim != 1 or items_arr.ndim != 1:
            raise ValueError("users and items must be one-dimensional arrays")
        if items_arr.size != n:
            raise ValueError(f"users has {n} rows but items has {items_arr.size}; arrays must have the same length")
        user_index = check_index_array(users_arr, n_users, "users")
        item_index = check_index_array(items_arr, n_items, "items")
        weight_values = (
            np.ones(n, dtype=np.float64) if weights is None else _check_weights(weights, n).astype(np.float64)
        )
        time_values = None if timestamps is None else _check_timestamps(timestamps, n)

        # Sort by (user, item) so that rows become CSR order and repeats sit together.
        key = user_index * max(n_items, 1) + item_index
        order = np.argsort(key, kind="stable")
        key = key[order]
        repeated = np.zeros(n, dtype=bool)
        if n > 1:
            repeated[1:] = key[1:] == key[:-1]
        if repeated.any():
            if duplicates == "error":
                first_sorted = int(np.flatnonzero(repeated)[0])
                row = int(max(order[first_sorted], order[first_sorted - 1]))
                raise ValueError(
                    f"duplicate (user, item) pairs: {count_phrase(int(repeated.sum()), n)} "
                    f"repeat an earlier pair (first at row {row}: user index "
                    f"{int(user_index[row])}, item index {int(item_index[row])}); pass "
                    "duplicates='sum' to add their weights"
                )
        starts = np.flatnonzero(~repeated)
        unique_key = key[starts]
        summed = np.add.reduceat(weight_values[order], starts) if n else np.empty(0)
        # Each weight fits float32, but a sum of repeats may not.
        overflow = np.flatnonzero(summed > _FLOAT32_MAX)
        if len(overflow):
            pair = int(key[starts[overflow[0]]])
            raise ValueError(
                f"weights: the repeats of (user index {pair // max(n_items, 1)}, item index "
                f"{pair % max(n_items, 1)}) add up to {float(summed[overflow[0]])!r}, above "
                f"{_FLOAT32_MAX:.8g}, the largest float32 (the stored type)"
            )
        latest = None
        if time_values is not None:
            latest = np.maximum.reduceat(time_values[order], starts) if n else np.empty(0, np.int64)
        rows = unique_key // max(n_items, 1)
        cols = unique_key % max(n_items, 1)
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_users), out=indptr[1:])
        matrix = sp.csr_matrix((summed.astype(np.float32), cols.astype(np.int32), indptr), shape=(n_users, n_items))
        return cls(matrix, latest, user_ids, item_ids)

    @classmethod
    def from_arrays(
        cls,
        users: Any,
        items: Any,
        weights: Any = None,
        timestamps: Any = None,
        *,
        user_ids: IdMap | None = None,
        item_ids: IdMap | None = None,
        duplicates: str = "sum",
    ) -> Interactions:
        """Build from external ids (ints or strings).

        Parameters
        ----------
        users, items : array_like, shape (n,)
            External user and item ids of each interaction, under the rules
            of :class:`IdMap` (all integers or all strings; no missing ids).
            No rows at all make an empty set of shape (0, 0) with integer
            id maps.
        weights : array_like, shape (n,), optional
            Non-negative finite weights; default 1.
        timestamps : array_like, shape (n,), int or datetime64, optional
        user_ids, item_ids : IdMap, optional
            Use these id maps (every id must be in them) instead of building
            new ones from the distinct values, sorted. Pass the maps of an
            existing set to index a second set the same way.
        duplicates : {"sum", "error"}
            See :meth:`from_indices`.

        Returns
        -------
        Interactions
        """
        # Even ids meant for a given map follow the IdMap rules, so that a
        # missing or mixed id is named as such, not as "not in the id map".
        users_arr = id_array(as_one_dimensional(users), "users")
        items_arr = id_array(as_one_dimensional(items), "items")
        if users_arr.size != items_arr.size:
            raise ValueError(
                f"users has {users_arr.size} rows but items has {items_arr.size}; arrays must have the same length"
            )
        if user_ids is None:
            user_ids, user_index = IdMap.from_values(users_arr, name="users")
        else:
            user_index = user_ids.to_index(users_arr, name="users")
        if item_ids is None:
            item_ids, item_index = IdMap.from_values(items_arr, name="items")
        else:
            item_index = item_ids.to_index(items_arr, name="items")
        return cls.from_indices(
            user_index,
            item_index,
            weights,
            timestamps,
            shape=(len(user_ids), len(item_ids)),
            user_ids=user_ids,
            item_ids=item_ids,
            duplicates=duplicates,
        )

    @classmethod
    def from_scipy(
        cls,
        matrix: Any,
        *,
        user_ids: IdMap | None = None,
        item_ids: IdMap | None = None,
        timestamps: Any = None,
        duplicates: str = "sum",
    ) -> Interactions:
        """Build from a scipy sparse matrix or array of shape (n_users, n_items).

        Explicitly stored zeros are kept as pairs of weight 0; call
        :meth:`threshold` to drop them. ``timestamps``, if given, follow the
        matrix's COO order (``matrix.tocoo()``).
        """
        if not sp.issparse(matrix):
            raise ValueError(f"matrix must be a scipy sparse matrix, got {type(matrix).__name__}")
        coo = sp.coo_matrix(matrix)
        return cls.from_indices(
            coo.row,
            coo.col,
            coo.data,
            timestamps,
            shape=coo.shape,
            user_ids=user_ids,
            item_ids=item_ids,
            duplicates=duplicates,
        )

    @classmethod
    def from_dataframe(
        cls,
        frame: Any,
        user_col: str,
        item_col: str,
        weight_col: str | None = None,
        timestamp_col: str | None = None,
        *,
        user_ids: IdMap | None = None,
        item_ids: IdMap | None = None,
        duplicates: str = "sum",
    ) -> Interactions:
        """Build from a pandas DataFrame with the given column names."""
        missing = [
            column
            for column in (user_col, item_col, weight_col, timestamp_col)
            if column is not None and column not in frame.columns
        ]
        if missing:
            raise ValueError(
                f"frame has no column {', '.join(repr(c) for c in missing)}; its columns are "
                f"{', '.join(repr(c) for c in frame.columns)}"
            )
        return cls.from_arrays(
            frame[user_col].to_numpy(),
            frame[item_col].to_numpy(),
            None if weight_col is None else frame[weight_col].to_numpy(),
            None if timestamp_col is None else frame[timestamp_col].to_numpy(),
            user_ids=user_ids,
            item_ids=item_ids,
            duplicates=duplicates,
        )

    # --------------------------------------------------------------- accessors
    @property
    def matrix(self) -> sp.csr_matrix:
        """scipy.sparse.csr_matrix, shape (n_users, n_items), float32 (read it, do not modify)."""
        return self._matrix

    @property
    def timestamps(self) -> np.ndarray | None:
        """ndarray, shape (nnz,), int64, aligned with ``matrix.data``; or None."""
        return self._timestamps

    @property
    def shape(self) -> tuple[int, int]:
        return self._matrix.shape

    @property
    def n_users(self) -> int:
        return self._matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self._matrix.shape[1]

    @property
    def indptr(self) -> np.ndarray:
        """ndarray, shape (n_users + 1,), int32 (int64 past 2**31 pairs): CSR row pointers."""
        return self._matrix.indptr

    @property
    def indices(self) -> np.ndarray:
        """ndarray, shape (nnz,), int32 (int64 past 2**31 pairs): item index of each stored pair."""
        return self._matrix.indices

    @property
    def weights(self) -> np.ndarray:
        """ndarray, shape (nnz,), float32: weight of each stored pair."""
        return self._matrix.data

    def __len__(self) -> int:
        return int(self._matrix.nnz)

    def __repr__(self) -> str:
        stamps = ", timestamps" if self._timestamps is not None else ""
        return f"Interactions({self.n_users} users x {self.n_items} items, {len(self)} pairs{stamps})"

    def user_index(self) -> np.ndarray:
        """ndarray, shape (nnz,), int64: user index of each stored pair (CSR order)."""
        return np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(self.indptr))

    def user_counts(self) -> np.ndarray:
        """ndarray, shape (n_users,), int64: stored pairs per user."""
        return np.diff(self.indptr).astype(np.int64)

    def item_counts(self) -> np.ndarray:
        """ndarray, shape (n_items,), int64: stored pairs per item."""
        return np.bincount(self.indices, minlength=self.n_items).astype(np.int64)

    def items_of(self, user: Any) -> np.ndarray:
        """The external ids of the items of one user, given by external id.

        Parameters
        ----------
        user : external user id

        Returns
        -------
        ndarray, item id dtype
            In ascending dense-index order.

        Raises
        ------
        ValueError
            When ``user`` is not in ``user_ids``.
        """
        index = int(self.user_ids.to_index(np.asarray([user]), name="user")[0])
        return self.item_ids.ids[self.item_indices_of(index)]

    def item_indices_of(self, user_index: Any) -> np.ndarray:
        """ndarray, int32: dense item indices of the user with dense index ``user_index``, ascending."""
        if isinstance(user_index, (bool, np.bool_)) or not isinstance(user_index, (int, np.integer)):
            raise ValueError(f"user_index must be an integer dense index, got {user_index!r}")
        user_index = int(user_index)
        if not 0 <= user_index < self.n_users:
            raise ValueError(f"user_index {user_index} is outside 0..{self.n_users - 1}")
        return self.indices[self.indptr[user_index] : self.indptr[user_index + 1]]

    def user_items(self) -> list[np.ndarray]:
        """Item indices of every user: a list of ``n_users`` int32 arrays."""
        if self.n_users == 0:
            return []  # np.split would return one empty piece
        return np.split(self.indices, self.indptr[1:-1])

    def same_ids(self, other: Interactions) -> bool:
        """True when ``other`` has the same shape and id maps."""
        return self.shape == other.shape and self.user_ids == other.user_ids and self.item_ids == other.item_ids

    # -------------------------------------------------------------- transforms
    def select(self, keep: np.ndarray) -> Interactions:
        """The stored pairs where ``keep`` (bool, shape (nnz,)) is True.

        Shape and id maps are unchanged; this is the building block of
        thresholds and splits.
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (len(self),):
            raise ValueError(f"keep must have shape ({len(self)},), got {keep.shape}")
        counts = np.bincount(self.user_index()[keep], minlength=self.n_users)
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        matrix = sp.csr_matrix((self.weights[keep], self.indices[keep], indptr), shape=self.shape)
        stamps = None if self._timestamps is None else self._timestamps[keep]
        return Interactions(matrix, stamps, self.user_ids, self.item_ids)

    def threshold(self, min_weight: float) -> Interactions:
        """Keep the pairs with weight >= ``min_weight`` (e.g. rating >= 4)."""
        if not np.isfinite(min_weight):
            raise ValueError(f"min_weight must be finite, got {min_weight!r}")
        return self.select(self.weights >= np.float32(min_weight))

    def binarize(self) -> Interactions:
        """The same pairs with every weight set to 1."""
        matrix = self._matrix.copy()
        matrix.data[:] = 1.0
        return Interactions(matrix, self._timestamps, self.user_ids, self.item_ids)

    def to_coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user index, item index, weight) arrays of the stored pairs."""
        return self.user_index(), self.indices.astype(np.int64), self.weights.copy()

    def to_dataframe(self):
        """A pandas DataFrame with columns user, item, weight (and timestamp).

        Users and items are external ids.
        """
        import pandas as pd

        users, items, weights = self.to_coo()
        columns = {
            "user": self.user_ids.ids[users],
            "item": self.item_ids.ids[items],
            "weight": weights,
        }
        if self._timestamps is not None:
            columns["timestamp"] = self._timestamps.copy()
        return pd.DataFrame(columns)

"""The one container for user x item implicit feedback.

:class:`Interactions` holds a CSR matrix of float32 weights, optional
per-pair timestamps aligned with the stored entries, and an :class:`IdMap`
for users and one for items that translate between the caller's external
ids (ints or strings) and the dense indices the kernels use.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

__all__ = ["IdMap", "Interactions"]

_DUPLICATE_RULES = ("sum", "error")


def _count_phrase(count: int, total: int, noun: str = "rows") -> str:
    return f"{count} of {total} {noun}"


class IdMap:
    """Two-way map between external ids and dense indices ``0 .. n - 1``.

    Parameters
    ----------
    ids : array_like, shape (n,), int or str
        The external id of each index, in index order. Must be unique.

    Examples
    --------
    >>> ids = IdMap(["b", "a"])
    >>> ids.to_index(["a", "b"]).tolist()
    [1, 0]
    >>> ids.to_external([0]).tolist()
    ['b']
    """

    def __init__(self, ids: Iterable[Any]):
        values = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
        if values.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {values.shape}")
        if values.dtype.kind not in "iuUSO":
            raise ValueError(
                f"ids must be integers or strings, got dtype {values.dtype}"
            )
        if values.dtype.kind == "O":
            values = values.astype(str)
        if values.dtype.kind == "u":
            values = values.astype(np.int64)
        self._ids = values
        self._ids.setflags(write=False)
        self._lookup: dict[Any, int] | None = None
        self._order = np.argsort(values, kind="stable")
        sorted_ids = values[self._order]
        repeats = int(np.count_nonzero(sorted_ids[1:] == sorted_ids[:-1]))
        if repeats:
            raise ValueError(
                f"ids must be unique: {repeats} of {len(values)} ids are repeats"
            )
        self._sorted = sorted_ids

    @classmethod
    def from_values(cls, values: Any) -> tuple["IdMap", np.ndarray]:
        """Build a map over the distinct ``values`` (sorted) and index them.

        Returns
        -------
        id_map : IdMap
        indices : ndarray, shape (len(values),), int64
        """
        values = np.asarray(values)
        if values.dtype.kind == "O":
            values = values.astype(str)
        if values.dtype.kind not in "iuUS":
            raise ValueError(f"ids must be integers or strings, got dtype {values.dtype}")
        unique, inverse = np.unique(values, return_inverse=True)
        return cls(unique), inverse.reshape(-1).astype(np.int64)

    @property
    def ids(self) -> np.ndarray:
        """ndarray, shape (n,): the external id of each index (read-only)."""
        return self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdMap):
            return NotImplemented
        if self is other:
            return True
        return (
            len(self) == len(other)
            and self._ids.dtype.kind == other._ids.dtype.kind
            and bool(np.array_equal(self._ids, other._ids))
        )

    __hash__ = None  # type: ignore[assignment]

    def __contains__(self, external_id: Any) -> bool:
        return self._dict().get(self._key(external_id)) is not None

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self._ids[:3].tolist())
        more = ", ..." if len(self) > 3 else ""
        return f"IdMap([{head}{more}], n={len(self)})"

    def _key(self, external_id: Any) -> Any:
        if isinstance(external_id, np.generic):
            return external_id.item()
        return external_id

    def _dict(self) -> dict[Any, int]:
        if self._lookup is None:
            self._lookup = {key: index for index, key in enumerate(self._ids.tolist())}
        return self._lookup

    def to_index(self, external_ids: Any, *, name: str = "ids", missing: str = "error") -> np.ndarray:
        """Dense indices of ``external_ids``.

        Parameters
        ----------
        external_ids : array_like, shape (m,)
        name : str
            What the ids are called in error messages (e.g. ``"users"``).
        missing : {"error", "ignore"}
            ``"error"`` raises ``ValueError`` naming how many ids are unknown;
            ``"ignore"`` returns -1 for them.

        Returns
        -------
        ndarray, shape (m,), int64
        """
        values = np.asarray(external_ids)
        scalar = values.ndim == 0
        values = values.reshape(-1)
        if values.dtype.kind == "O":
            values = values.astype(str) if self._ids.dtype.kind in "US" else values
        indices = self._vector_lookup(values)
        unknown = indices < 0
        if missing == "error" and unknown.any():
            examples = ", ".join(repr(x) for x in values[unknown][:3].tolist())
            raise ValueError(
                f"{name}: {_count_phrase(int(unknown.sum()), len(values))} are not in "
                f"the id map (e.g. {examples})"
            )
        return indices[0] if scalar else indices

    def _vector_lookup(self, values: np.ndarray) -> np.ndarray:
        if len(values) == 0:
            return np.empty(0, dtype=np.int64)
        ids = self._ids
        same_kind = (ids.dtype.kind in "iu" and values.dtype.kind in "iu") or (
            ids.dtype.kind in "US" and values.dtype.kind in "US"
        )
        if not same_kind:
            # A string id never equals an integer id; everything is unknown.
            return np.full(len(values), -1, dtype=np.int64)
        order = self._order
        sorted_ids = self._sorted
        position = np.searchsorted(sorted_ids, values)
        position = np.clip(position, 0, len(ids) - 1)
        found = sorted_ids[position] == values
        return np.where(found, order[position], -1).astype(np.int64)

    def to_external(self, indices: Any) -> np.ndarray:
        """External ids of dense ``indices`` (array_like of int)."""
        indices = np.asarray(indices)
        bad = (indices < 0) | (indices >= len(self))
        if np.any(bad):
            raise ValueError(
                f"indices: {_count_phrase(int(np.sum(bad)), indices.size)} are outside "
                f"0..{len(self) - 1}"
            )
        return self._ids[indices]


def _check_weights(weights: np.ndarray, n: int) -> np.ndarray:
    weights = np.asarray(weights)
    if weights.shape != (n,):
        raise ValueError(
            f"weights has {weights.size} values but there are {n} (user, item) rows; "
            "arrays must have the same length"
        )
    if weights.dtype.kind not in "biuf":
        raise ValueError(f"weights must be numeric, got dtype {weights.dtype}")
    weights = weights.astype(np.float64, copy=False)
    not_finite = ~np.isfinite(weights)
    if not_finite.any():
        first = int(np.flatnonzero(not_finite)[0])
        raise ValueError(
            f"weights: {_count_phrase(int(not_finite.sum()), n)} are NaN or infinite "
            f"(first at row {first})"
        )
    negative = weights < 0
    if negative.any():
        first = int(np.flatnonzero(negative)[0])
        raise ValueError(
            f"weights: {_count_phrase(int(negative.sum()), n)} are negative "
            f"(first at row {first}: {float(weights[first])!r})"
        )
    return weights


def _check_indices(indices: Any, size: int, name: str) -> np.ndarray:
    values = np.asarray(indices)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    if len(values) and values.dtype.kind not in "iu":
        if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer indices, got dtype {values.dtype}")
    values = values.astype(np.int64, copy=False)
    bad = (values < 0) | (values >= size)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}: {_count_phrase(int(bad.sum()), len(values))} are negative or "
            f"out of range 0..{size - 1} (first at row {first}: {int(values[first])})"
        )
    return values


class Interactions:
    """User x item implicit feedback: CSR weights, timestamps, id maps.

    Build one with :meth:`from_arrays` (external ids), :meth:`from_indices`
    (dense indices), :meth:`from_scipy` or :meth:`from_dataframe`; the
    constructor itself takes an already-valid CSR matrix.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_users, n_items), float32
        Weights of the stored (user, item) pairs; canonical (sorted column
        indices, no duplicates). Stored zeros are pairs with weight 0.
    timestamps : ndarray, shape (nnz,), int64, optional
        One timestamp per stored entry, aligned with ``matrix.data``.
    user_ids, item_ids : IdMap, optional
        External ids; default to the identity map ``0 .. n - 1``.

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
        if matrix.dtype != np.float32:
            matrix = matrix.astype(np.float32)
        matrix.sort_indices()
        n_users, n_items = matrix.shape
        if user_ids is None:
            user_ids = IdMap(np.arange(n_users, dtype=np.int64))
        if item_ids is None:
            item_ids = IdMap(np.arange(n_items, dtype=np.int64))
        if len(user_ids) != n_users:
            raise ValueError(f"user_ids has {len(user_ids)} ids but the matrix has {n_users} rows")
        if len(item_ids) != n_items:
            raise ValueError(f"item_ids has {len(item_ids)} ids but the matrix has {n_items} columns")
        if timestamps is not None:
            timestamps = np.asarray(timestamps, dtype=np.int64)
            if timestamps.shape != (matrix.nnz,):
                raise ValueError(
                    f"timestamps has {timestamps.size} values but the matrix stores "
                    f"{matrix.nnz} pairs"
                )
        # scipy wants one index dtype for indptr and indices: int32 unless nnz needs more.
        index_dtype = np.int32 if matrix.nnz < np.iinfo(np.int32).max else np.int64
        matrix.indptr = matrix.indptr.astype(index_dtype, copy=False)
        matrix.indices = matrix.indices.astype(index_dtype, copy=False)
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
    ) -> "Interactions":
        """Build from dense indices.

        Parameters
        ----------
        users, items : array_like, shape (n,), int
            Dense row and column indices, ``0 <= users < shape[0]``.
        weights : array_like, shape (n,), float, optional
            Non-negative finite weights; default 1.
        timestamps : array_like, shape (n,), int, optional
        shape : (int, int)
            ``(n_users, n_items)``.
        user_ids, item_ids : IdMap, optional
        duplicates : {"sum", "error"}
            What to do with a (user, item) pair given more than once: ``"sum"``
            adds the weights (and keeps the latest timestamp); ``"error"``
            raises ``ValueError`` naming the first repeated row.

        Returns
        -------
        Interactions
        """
        if duplicates not in _DUPLICATE_RULES:
            raise ValueError(
                f"duplicates must be one of {', '.join(_DUPLICATE_RULES)}; got {duplicates!r}"
            )
        n_users, n_items = (int(shape[0]), int(shape[1]))
        if n_users < 0 or n_items < 0:
            raise ValueError(f"shape must be non-negative, got {shape}")
        users_arr = np.asarray(users)
        items_arr = np.asarray(items)
        n = users_arr.size
        if users_arr.ndim != 1 or items_arr.ndim != 1:
            raise ValueError("users and items must be one-dimensional arrays")
        if items_arr.size != n:
            raise ValueError(
                f"users has {n} rows but items has {items_arr.size}; arrays must have "
                "the same length"
            )
        user_index = _check_indices(users_arr, n_users, "users")
        item_index = _check_indices(items_arr, n_items, "items")
        weight_values = (
            np.ones(n, dtype=np.float64) if weights is None else _check_weights(weights, n)
        )
        time_values = None
        if timestamps is not None:
            time_values = np.asarray(timestamps)
            if time_values.shape != (n,):
                raise ValueError(
                    f"timestamps has {time_values.size} values but there are {n} "
                    "(user, item) rows; arrays must have the same length"
                )
            if time_values.dtype.kind == "M":
                time_values = time_values.astype("datetime64[s]").astype(np.int64)
            elif time_values.dtype.kind == "f":
                if not np.all(np.isfinite(time_values)):
                    bad = ~np.isfinite(time_values)
                    raise ValueError(
                        f"timestamps: {_count_phrase(int(bad.sum()), n)} are NaN or infinite"
                    )
                time_values = time_values.astype(np.int64)
            elif time_values.dtype.kind not in "iu":
                raise ValueError(f"timestamps must be integers or datetime64, got dtype {time_values.dtype}")
            time_values = time_values.astype(np.int64, copy=False)

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
                    f"duplicate (user, item) pairs: {_count_phrase(int(repeated.sum()), n)} "
                    f"repeat an earlier pair (first at row {row}: user index "
                    f"{int(user_index[row])}, item index {int(item_index[row])}); pass "
                    "duplicates='sum' to add their weights"
                )
        starts = np.flatnonzero(~repeated)
        unique_key = key[starts]
        summed = np.add.reduceat(weight_values[order], starts) if n else np.empty(0)
        latest = None
        if time_values is not None:
            latest = np.maximum.reduceat(time_values[order], starts) if n else np.empty(0, np.int64)
        rows = unique_key // max(n_items, 1)
        cols = unique_key % max(n_items, 1)
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_users), out=indptr[1:])
        matrix = sp.csr_matrix(
            (summed.astype(np.float32), cols.astype(np.int32), indptr), shape=(n_users, n_items)
        )
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
    ) -> "Interactions":
        """Build from external ids (ints or strings).

        Parameters
        ----------
        users, items : array_like, shape (n,)
            External user and item ids of each interaction.
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
        users_arr = np.asarray(users)
        items_arr = np.asarray(items)
        if users_arr.ndim != 1 or items_arr.ndim != 1:
            raise ValueError("users and items must be one-dimensional arrays")
        if users_arr.size != items_arr.size:
            raise ValueError(
                f"users has {users_arr.size} rows but items has {items_arr.size}; "
                "arrays must have the same length"
            )
        if user_ids is None:
            user_ids, user_index = IdMap.from_values(users_arr)
        else:
            user_index = user_ids.to_index(users_arr, name="users")
        if item_ids is None:
            item_ids, item_index = IdMap.from_values(items_arr)
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
    ) -> "Interactions":
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
    ) -> "Interactions":
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
        return (
            f"Interactions({self.n_users} users x {self.n_items} items, "
            f"{len(self)} pairs{stamps})"
        )

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
        return np.split(self.indices, self.indptr[1:-1])

    def same_ids(self, other: "Interactions") -> bool:
        """True when ``other`` has the same shape and id maps."""
        return (
            self.shape == other.shape
            and self.user_ids == other.user_ids
            and self.item_ids == other.item_ids
        )

    # -------------------------------------------------------------- transforms
    def select(self, keep: np.ndarray) -> "Interactions":
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
        matrix = sp.csr_matrix(
            (self.weights[keep], self.indices[keep], indptr), shape=self.shape
        )
        stamps = None if self._timestamps is None else self._timestamps[keep]
        return Interactions(matrix, stamps, self.user_ids, self.item_ids)

    def threshold(self, min_weight: float) -> "Interactions":
        """Keep the pairs with weight >= ``min_weight`` (e.g. rating >= 4)."""
        if not np.isfinite(min_weight):
            raise ValueError(f"min_weight must be finite, got {min_weight!r}")
        return self.select(self.weights >= np.float32(min_weight))

    def binarize(self) -> "Interactions":
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

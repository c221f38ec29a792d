"""External ids and the dense indices behind them: :class:`IdMap` and the id rules.

The rules every construction path of :class:`~tripletrec.Interactions`
follows are in :class:`IdMap`'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["IdMap", "as_one_dimensional", "count_phrase", "id_array", "is_missing_id"]


def count_phrase(count: int, total: int, noun: str = "rows") -> str:
    return f"{count} of {total} {noun}"


_INT64_MAX = int(np.iinfo(np.int64).max)
_UINT64_MAX = int(np.iinfo(np.uint64).max)


def is_missing_id(value: Any) -> bool:
    """None, a float NaN, or a pandas missing marker (NA, NaT)."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    # pandas.NA and NaT without importing pandas: both are their own class.
    return type(value).__name__ in ("NAType", "NaTType")


def _id_kind(value: Any) -> str:
    """``"int"``, ``"str"``, ``"missing"`` or ``"other"`` for one external id."""
    if isinstance(value, (str, np.str_)):
        return "str"
    if isinstance(value, (bool, np.bool_)):
        return "other"
    if isinstance(value, (int, np.integer)):
        return "int"
    if is_missing_id(value):
        return "missing"
    return "other"


def _integer_ids(values: np.ndarray, name: str) -> np.ndarray:
    """int64 ids, or uint64 when some id is beyond int64 (and none is negative)."""
    if values.dtype.kind in "iu":
        if values.dtype == np.uint64 and int(values.max()) > _INT64_MAX:
            return values.copy()  # kept exactly: int64 would wrap these to negatives
        return values.astype(np.int64)
    # An object array of Python ints: check the range before numpy sees them.
    as_ints = [int(value) for value in values.tolist()]
    low, high = min(as_ints), max(as_ints)
    if low < -_INT64_MAX - 1 or high > _UINT64_MAX:
        position = next(i for i, value in enumerate(as_ints) if value < -_INT64_MAX - 1 or value > _UINT64_MAX)
        raise ValueError(
            f"{name}: id {as_ints[position]} at position {position} is outside the range of "
            "64-bit integers; integer ids must fit in int64 or uint64"
        )
    if high <= _INT64_MAX:
        return np.array(as_ints, dtype=np.int64)
    if low < 0:
        raise ValueError(
            f"{name}: ids mix negative integers ({low}) with integers above int64's largest "
            f"({high}); no 64-bit integer type holds both"
        )
    return np.array(as_ints, dtype=np.uint64)


def id_array(ids: Any, name: str = "ids") -> np.ndarray:
    """External ids as int64, uint64 or str, following the rules of :class:`IdMap`."""
    if isinstance(ids, np.ndarray):
        values = ids
    else:
        # Through an object array, so that numpy never turns [1, "a"] into
        # strings or [2**70, 1] into floats behind our back.
        listed = list(ids)
        values = np.empty(len(listed), dtype=object)
        values[:] = listed
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    kind = values.dtype.kind
    if len(values) == 0:
        # An empty id list holds no kind; integers are the default kind.
        return values.astype(str) if kind in "US" else np.empty(0, dtype=np.int64)
    if kind in "iu":
        return _integer_ids(values, name)
    if kind in "US":
        return values.astype(str)
    if kind == "f":
        missing = np.isnan(values)
        if missing.any():
            _raise_missing(name, missing)
    if kind != "O":
        raise ValueError(f"{name} must be integers or strings, got dtype {values.dtype}")
    kinds = [_id_kind(value) for value in values.tolist()]
    missing = np.array([k == "missing" for k in kinds])
    if missing.any():
        _raise_missing(name, missing)
    first_kind = kinds[0]
    for position, (value, value_kind) in enumerate(zip(values.tolist(), kinds)):
        if value_kind == "other":
            raise ValueError(
                f"{name} must be integers or strings, got {type(value).__name__} {value!r} at position {position}"
            )
        if value_kind != first_kind:
            kind_names = {"str": "a string", "int": "an integer"}
            raise ValueError(
                f"{name} mix integers and strings: {value!r} at position {position} is "
                f"{kind_names[value_kind]} but the first id, {values[0]!r}, is "
                f"{kind_names[first_kind]}; ids must be all integers or all strings"
            )
    if first_kind == "str":
        return values.astype(str)
    return _integer_ids(values, name)


def as_one_dimensional(values: Any) -> Any:
    """``values`` unchanged, after checking that it is one-dimensional."""
    if np.ndim(values) != 1:
        raise ValueError("users and items must be one-dimensional arrays")
    return values


def _raise_missing(name: str, missing: np.ndarray) -> None:
    first = int(np.flatnonzero(missing)[0])
    raise ValueError(
        f"{name}: {count_phrase(int(missing.sum()), len(missing), 'ids')} are missing "
        f"(None, NaN or NA; first at position {first})"
    )


def _query_array(external_ids: Any) -> np.ndarray:
    """Ids to look up as a 1-d array, through an object array unless already an ndarray.

    ``np.asarray([1, "a"])`` would turn the integer into the string ``"1"``
    (and ``[True]`` into ``[1]`` with ints), which could then match an id it
    is not.
    """
    if isinstance(external_ids, np.ndarray):
        return external_ids.reshape(-1)
    listed = list(external_ids)
    values = np.empty(len(listed), dtype=object)
    values[:] = listed
    return values


def _lookup_keys(values: np.ndarray, id_dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``values`` cast exactly to ``id_dtype`` and a mask of those that can be ids at all.

    A value of another kind (a string among integer ids, a float, a bool,
    None) or outside ``id_dtype``'s range can never match, so it is masked
    out instead of converted (numpy would compare uint64 with int64 as
    float64, and lose exactness past 2**53).
    """
    n = len(values)
    if id_dtype.kind == "U":
        if values.dtype.kind in "US":
            return values.astype(str), np.ones(n, dtype=bool)
        if values.dtype.kind == "O":
            valid = np.array([_id_kind(value) == "str" for value in values.tolist()], dtype=bool)
            keys = np.where(valid, values, "").astype(str)
            return keys, valid
        return np.empty(n, dtype=str), np.zeros(n, dtype=bool)
    low = -_INT64_MAX - 1 if id_dtype == np.int64 else 0
    high = _INT64_MAX if id_dtype == np.int64 else _UINT64_MAX
    if values.dtype.kind in "iu":
        if values.dtype == np.uint64:
            valid = values <= np.uint64(high)
        else:
            valid = values.astype(np.int64) >= low
        keys = np.where(valid, values, 0).astype(id_dtype)
        return keys, valid
    if values.dtype.kind == "O":
        listed = values.tolist()
        valid = np.array([_id_kind(value) == "int" and low <= int(value) <= high for value in listed], dtype=bool)
        keys = np.array([int(v) if ok else 0 for v, ok in zip(listed, valid)], dtype=id_dtype)
        return keys, valid
    return np.zeros(n, dtype=id_dtype), np.zeros(n, dtype=bool)


class IdMap:
    """Two-way map between external ids and dense indices ``0 .. n - 1``.

    Parameters
    ----------
    ids : array_like, shape (n,), int or str
        The external id of each index, in index order. Must be unique.

    Notes
    -----
    Every way of building :class:`Interactions` (the constructor,
    :meth:`Interactions.from_arrays`, :meth:`~Interactions.from_indices`,
    :meth:`~Interactions.from_scipy`, :meth:`~Interactions.from_dataframe`)
    makes its ids through this class, so these rules hold everywhere:

    * The ids are **all integers or all strings**; one kind per map.
      Integers are stored as int64, or as uint64 when some id exceeds
      int64's largest value (hashed ids), so every integer is kept exactly.
      Strings are stored as numpy ``str``.
    * Mixing kinds raises ``ValueError`` naming the first id whose kind
      differs from the first id's, and its position: ``["1", 1]`` is not two
      spellings of one id, nor two ids.
    * Bools, floats (even integral ones such as ``1.0``: a float id is
      usually a column that lost its integer type upstream) and other
      objects raise ``ValueError``.
    * Missing ids (None, NaN, pandas ``NA`` or ``NaT``) raise ``ValueError``
      naming how many there are and the first position.
    * Integers below int64's smallest or above uint64's largest, and a mix of
      negative ids with ids above int64's largest (no 64-bit type holds
      both), raise ``ValueError``.
    * An empty id list makes an empty map of int64 ids.

    :meth:`to_index` looks ids up exactly in the map's own type: an id of the
    other kind, or out of the type's range, is simply not in the map.

    Examples
    --------
    >>> ids = IdMap(["b", "a"])
    >>> ids.to_index(["a", "b"]).tolist()
    [1, 0]
    >>> ids.to_external([0]).tolist()
    ['b']
    >>> IdMap(np.array([5, 2**64 - 1], dtype=np.uint64)).ids.tolist()
    [5, 18446744073709551615]
    """

    def __init__(self, ids: Iterable[Any], *, name: str = "ids"):
        values = id_array(ids, name)
        self._ids = values
        self._ids.setflags(write=False)
        self._order = np.argsort(values, kind="stable")
        sorted_ids = values[self._order]
        repeats = int(np.count_nonzero(sorted_ids[1:] == sorted_ids[:-1]))
        if repeats:
            raise ValueError(f"{name} must be unique: {repeats} of {len(values)} ids are repeats")
        self._sorted = sorted_ids

    @classmethod
    def from_values(cls, values: Any, *, name: str = "ids") -> tuple[IdMap, np.ndarray]:
        """Build a map over the distinct ``values`` (sorted) and index them.

        Parameters
        ----------
        values : array_like, shape (n,), int or str
            External ids, following the rules of :class:`IdMap`.
        name : str
            What the ids are called in error messages (e.g. ``"users"``).

        Returns
        -------
        id_map : IdMap
        indices : ndarray, shape (len(values),), int64
        """
        values = id_array(values, name)
        unique, inverse = np.unique(values, return_inverse=True)
        return cls(unique, name=name), inverse.reshape(-1).astype(np.int64)

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
        keys, valid = _lookup_keys(_query_array([external_id]), self._ids.dtype)
        return bool(self._vector_lookup(keys, valid)[0] >= 0)

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self._ids[:3].tolist())
        more = ", ..." if len(self) > 3 else ""
        return f"IdMap([{head}{more}], n={len(self)})"

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
        scalar = np.ndim(external_ids) == 0
        values = _query_array([external_ids] if scalar else external_ids)
        keys, valid = _lookup_keys(values, self._ids.dtype)
        indices = self._vector_lookup(keys, valid)
        unknown = indices < 0
        if missing == "error" and unknown.any():
            examples = ", ".join(repr(x) for x in values[unknown][:3].tolist())
            raise ValueError(
                f"{name}: {count_phrase(int(unknown.sum()), len(values))} are not in the id map (e.g. {examples})"
            )
        return indices[0] if scalar else indices

    def index_of(self, external_id: Any) -> int:
        """Dense index of one external id, -1 when it is not in the map.

        The answer of ``to_index([external_id], missing="ignore")[0]``
        without building arrays: a server looks up one user per request.

        Parameters
        ----------
        external_id : int or str

        Returns
        -------
        int
        """
        kind = self._ids.dtype.kind
        if kind == "U" and type(external_id) is str:
            key = np.array(external_id)  # stored as the map stores strings (numpy drops trailing NULs)
        elif kind == "i" and type(external_id) is int and -_INT64_MAX - 1 <= external_id <= _INT64_MAX:
            key = np.int64(external_id)
        else:  # another kind, bools, numpy scalars, uint64 maps: the general rules
            return int(self.to_index([external_id], missing="ignore")[0])
        position = int(self._sorted.searchsorted(key))
        if position < len(self._sorted) and self._sorted[position] == key:
            return int(self._order[position])
        return -1

    def _vector_lookup(self, keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
        if len(keys) == 0 or len(self._ids) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        position = np.searchsorted(self._sorted, keys)
        position = np.clip(position, 0, len(self._ids) - 1)
        found = valid & (self._sorted[position] == keys)
        return np.where(found, self._order[position], -1).astype(np.int64)

    def to_external(self, indices: Any) -> np.ndarray:
        """External ids of dense ``indices`` (array_like of int)."""
        indices = np.asarray(indices)
        bad = (indices < 0) | (indices >= len(self))
        if np.any(bad):
            raise ValueError(f"indices: {count_phrase(int(np.sum(bad)), indices.size)} are outside 0..{len(self) - 1}")
        return self._ids[indices]

"""What a dataset loader returns: interactions, splits and side features."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .interactions import IdMap, Interactions

__all__ = ["Features", "Dataset", "PlantedModel"]


@dataclass(frozen=True)
class Features:
    """A named side-feature matrix, one row per user (or item).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_rows, n_columns), float32
        Row ``r`` describes the user (item) with dense index ``r`` in ``ids``.
    columns : ndarray, shape (n_columns,), str
        The name of each column, e.g. ``"occupation=writer"``.
    ids : IdMap
        The id map the rows follow; the same object as the interactions'.
    """

    matrix: sp.csr_matrix
    columns: np.ndarray
    ids: IdMap

    def __post_init__(self) -> None:
        if self.matrix.shape != (len(self.ids), len(self.columns)):
            raise ValueError(
                f"feature matrix has shape {self.matrix.shape} but there are "
                f"{len(self.ids)} ids and {len(self.columns)} column names"
            )

    @classmethod
    def one_hot(cls, values: Any, ids: IdMap, prefix: str) -> Features:
        """One column per distinct value (sorted), named ``prefix=value``."""
        values = np.asarray(values)
        levels, codes = np.unique(values, return_inverse=True)
        n = len(values)
        matrix = sp.csr_matrix(
            (np.ones(n, dtype=np.float32), codes.reshape(-1).astype(np.int32), np.arange(n + 1)),
            shape=(n, len(levels)),
        )
        return cls(matrix, np.array([f"{prefix}={level}" for level in levels]), ids)

    @classmethod
    def numeric(cls, values: Any, ids: IdMap, name: str) -> Features:
        """One numeric column called ``name``."""
        column = np.asarray(values, dtype=np.float32).reshape(-1, 1)
        return cls(sp.csr_matrix(column), np.array([name]), ids)

    @classmethod
    def concat(cls, *parts: Features) -> Features:
        """Stack feature blocks side by side: the columns of each part, in order.

        Parameters
        ----------
        *parts : Features
            At least one; all with equal ``ids`` (:class:`IdMap` equality) and
            no column name in common.

        Returns
        -------
        Features
            ``matrix`` of shape (n_rows, sum of the parts' n_columns), float32
            CSR with sorted int32 indices and no duplicate entries; ``columns``
            the parts' names in order; ``ids`` the first part's id map.

        Raises
        ------
        TypeError
            A part that is not :class:`Features`.
        ValueError
            No parts, parts whose ids differ (naming which), or a column name
            that appears twice (naming it).

        Examples
        --------
        >>> ids = IdMap(["u1", "u2"])
        >>> both = Features.concat(Features.one_hot(["F", "M"], ids, "gender"), Features.numeric([31, 25], ids, "age"))
        >>> both.columns.tolist()
        ['gender=F', 'gender=M', 'age']
        """
        if not parts:
            raise ValueError("Features.concat needs at least one Features part")
        for position, part in enumerate(parts):
            if not isinstance(part, Features):
                raise TypeError(f"Features.concat: part {position} is {type(part).__name__}, not Features")
        first = parts[0]
        for position, part in enumerate(parts[1:], 1):
            if part.ids != first.ids:
                raise ValueError(
                    f"Features.concat: part {position} ({_describe(part)}) has other ids than part 0 "
                    f"({_describe(first)}); every part must follow the same IdMap"
                )
        columns = np.concatenate([np.asarray(part.columns, dtype=str) for part in parts])
        names, counts = np.unique(columns, return_counts=True)
        if (counts > 1).any():
            repeated = names[counts > 1].tolist()
            shown = ", ".join(repr(name) for name in repeated[:5]) + (", ..." if len(repeated) > 5 else "")
            raise ValueError(
                f"Features.concat: {len(repeated)} column names appear more than once: {shown}; "
                "column names must be unique (give the parts different prefixes)"
            )
        matrix = sp.hstack([part.matrix for part in parts], format="csr")
        return cls(canonical_csr(matrix), columns, first.ids)

    def to_dense(self) -> np.ndarray:
        """ndarray, shape (n_rows, n_columns), float32."""
        return self.matrix.toarray()


def _describe(part: Features) -> str:
    return f"{len(part.ids)} rows, columns {', '.join(part.columns[:2].tolist())}{', ...' if len(part.columns) > 2 else ''}"


def canonical_csr(matrix: Any) -> sp.csr_matrix:
    """``matrix`` as float32 CSR with sorted, duplicate-free int32 indices.

    The canonical form the feature kernels can read without checks: scipy
    would keep unsorted or repeated entries that a hand-built CSR holds, and
    pick int64 indices after some operations.
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()  # never reorder the caller's arrays in place
        matrix.sum_duplicates()  # also sorts the indices
    if matrix.nnz < np.iinfo(np.int32).max and matrix.shape[1] < np.iinfo(np.int32).max:
        matrix.indices = matrix.indices.astype(np.int32, copy=False)
        matrix.indptr = matrix.indptr.astype(np.int32, copy=False)
    return matrix


@dataclass(frozen=True)
class PlantedModel:
    """The ground truth behind a synthetic dataset.

    Attributes
    ----------
    user_factors : ndarray, shape (n_users, dim), float32
    item_factors : ndarray, shape (n_items, dim), float32
    item_popularity : ndarray, shape (n_items,), float64
        The probability with which each item is proposed (sums to 1).
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    item_popularity: np.ndarray

    def score(self, users: Any, items: Any = None) -> np.ndarray:
        """True affinity ``user_factors[users] @ item_factors[items].T``."""
        items_factors = self.item_factors if items is None else self.item_factors[np.asarray(items)]
        return self.user_factors[np.asarray(users)] @ items_factors.T


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    name : str
        E.g. ``"ml-100k"`` or ``"synthetic"``.
    interactions : Interactions
        Every interaction; for MovieLens the weights are the ratings.
    train, test : Interactions or None
        The official split when one was asked for; both share the id maps
        and shape of ``interactions``.
    item_titles : ndarray, shape (n_items,), str, or None
    user_features, item_features : dict of str to Features
        Named side-feature matrices (``"age"``, ``"gender"``, ``"occupation"``,
        ``"zip"``; ``"genre"``, ``"year"``) aligned with the interactions' id
        maps. :func:`tripletrec.data.features.movielens_features` turns them
        into one matrix per side for a hybrid model.
    truth : PlantedModel or None
        Synthetic data only: the model that generated it.
    source : str
        Where the data was read from.
    """

    name: str
    interactions: Interactions
    train: Interactions | None = None
    test: Interactions | None = None
    item_titles: np.ndarray | None = None
    user_features: dict[str, Features] = field(default_factory=dict)
    item_features: dict[str, Features] = field(default_factory=dict)
    truth: PlantedModel | None = None
    source: str = ""

    def summary(self) -> str:
        """A few human-readable lines: sizes, density, features, split."""
        data = self.interactions
        density = len(data) / max(1, data.n_users * data.n_items)
        lines = [
            f"{self.name}: {data.n_users:,} users x {data.n_items:,} items, "
            f"{len(data):,} interactions (density {density:.2%})",
        ]
        if self.source:
            lines.append(f"  source: {self.source}")
        if len(data):
            weights = data.weights
            lines.append(f"  weights: min {weights.min():g}, mean {weights.mean():.3g}, max {weights.max():g}")
        for label, part in (("train", self.train), ("test", self.test)):
            if part is not None:
                lines.append(f"  {label}: {len(part):,} interactions")
        for kind, features in (("user", self.user_features), ("item", self.item_features)):
            for name, feature in features.items():
                lines.append(f"  {kind} feature {name}: {len(feature.columns)} columns")
        return "\n".join(lines)

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

    def to_dense(self) -> np.ndarray:
        """ndarray, shape (n_rows, n_columns), float32."""
        return self.matrix.toarray()


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
        ``"genre"``) aligned with the interactions' id maps.
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

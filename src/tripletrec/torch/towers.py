"""Towers: a row's features (identity columns included) through embeddings and an MLP, in torch.

A tower maps a row (a user or an item) described by a sparse feature row
``x`` (its given features and, when on, its identity column) to a vector:
the weighted sum of the features' embeddings ``sum_f x_f e_f`` (LightFM's
representation), then, if ``hidden`` layers are given, a multilayer
perceptron. With no hidden layer a two-tower model is LightFM's hybrid
matrix factorisation; the score is always the dot product of the towers'
outputs (plus the item's bias), so top-k stays an exact inner product search.

Feature rows live on the device as padded arrays (``PaddedRows``): for each
row its column indices and weights, padded with weight 0, so a batch's rows
are two gathers, no Python loop.

This module imports torch.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .engine import pair_scores

__all__ = ["PaddedRows", "Tower", "TwoTowerNetwork", "mlp"]

#: Rows per forward pass when exporting every row's vector.
EXPORT_BATCH = 8192


class PaddedRows:
    """A CSR feature matrix as padded (column, weight) arrays on a device.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_rows, n_columns)
    device : torch.device
    """

    def __init__(self, matrix: sp.csr_matrix, device: torch.device):
        columns, weights = padded(matrix)
        self.columns = torch.from_numpy(columns).to(device)
        self.weights = torch.from_numpy(weights).to(device)
        self.n_rows = matrix.shape[0]

    def rows(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.columns[index], self.weights[index]


def padded(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(columns int64, weights float32), both (n_rows, max non-zeros per row), padded with column 0 weight 0."""
    matrix = sp.csr_matrix(matrix)
    counts = np.diff(matrix.indptr)
    width = max(int(counts.max(initial=0)), 1)
    columns = np.zeros((matrix.shape[0], width), dtype=np.int64)
    weights = np.zeros((matrix.shape[0], width), dtype=np.float32)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    slots = np.arange(len(matrix.indices)) - np.repeat(matrix.indptr[:-1], counts)
    columns[rows, slots] = matrix.indices
    weights[rows, slots] = matrix.data
    return columns, weights


def mlp(width: int, hidden: tuple[int, ...], out: int, dropout: float) -> torch.nn.Module | None:
    """ReLU layers of the ``hidden`` widths, then a linear layer to ``out`` (None without hidden layers)."""
    if not hidden:
        return None
    layers: list[torch.nn.Module] = []
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
        width = size
    layers.append(torch.nn.Linear(width, out))
    return torch.nn.Sequential(*layers)


class Tower(torch.nn.Module):
    """Feature embeddings summed by the row's weights, then an optional MLP.

    Parameters
    ----------
    n_columns : int
        Feature columns (given features and identity columns).
    embedding_dim, dim : int
        Width of the feature embeddings and of the output (equal without hidden layers).
    hidden : tuple of int
    biases : bool
        Also a bias per feature, summed alike (the item side's bias).
    init_scale : float
    dropout : float
    generator : torch.Generator
    """

    def __init__(self, n_columns, embedding_dim, dim, hidden, biases, init_scale, dropout, generator):
        super().__init__()
        self.embeddings = torch.nn.Embedding(n_columns, embedding_dim)
        with torch.no_grad():
            std = init_scale / embedding_dim**0.5
            self.embeddings.weight.copy_(torch.randn(self.embeddings.weight.shape, generator=generator) * std)
        self.layers = mlp(embedding_dim, tuple(hidden), dim, dropout)
        if self.layers is not None:
            with torch.no_grad():
                for layer in self.layers:
                    if isinstance(layer, torch.nn.Linear):
                        bound = 1.0 / layer.in_features**0.5
                        layer.weight.uniform_(-bound, bound, generator=generator)
                        layer.bias.zero_()
        self.biases = torch.nn.Embedding(n_columns, 1) if biases else None
        if self.biases is not None:
            torch.nn.init.zeros_(self.biases.weight)

    def forward(self, columns: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors (..., dim) and biases (...) of rows given as padded (columns, weights) (..., width)."""
        summed = (self.embeddings(columns) * weights[..., None]).sum(-2)
        vectors = summed if self.layers is None else self.layers(summed)
        if self.biases is None:
            return vectors, torch.zeros(vectors.shape[:-1], device=vectors.device, dtype=vectors.dtype)
        return vectors, (self.biases(columns)[..., 0] * weights).sum(-1)


class TwoTowerNetwork(torch.nn.Module):
    """A user tower and an item tower over their padded feature rows.

    Parameters
    ----------
    users, items : PaddedRows
        Every known row's features (identity columns included).
    user_tower, item_tower : Tower
    """

    def __init__(self, users: PaddedRows, items: PaddedRows, user_tower: Tower, item_tower: Tower):
        super().__init__()
        self.user_rows = users
        self.item_rows = items
        self.user_tower = user_tower
        self.item_tower = item_tower

    def users(self, index: torch.Tensor) -> torch.Tensor:
        return self.user_tower(*self.user_rows.rows(index))[0]

    def items(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.item_tower(*self.item_rows.rows(index))

    def forward(self, users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor):
        """Scores of the positives (batch,) and of the negatives (batch, n), as EmbeddingNetwork's."""
        return pair_scores(self.users(users), *self.items(positives), *self.items(negatives))

    @torch.no_grad()
    def _all(self, tower: Tower, rows: PaddedRows) -> tuple[np.ndarray, np.ndarray]:
        was_training = self.training
        self.eval()
        vectors, biases = [], []
        for start in range(0, rows.n_rows, EXPORT_BATCH):
            index = torch.arange(start, min(start + EXPORT_BATCH, rows.n_rows), device=rows.columns.device)
            vector, bias = tower(*rows.rows(index))
            vectors.append(vector.float().cpu().numpy())
            biases.append(bias.float().cpu().numpy())
        self.train(was_training)
        return np.ascontiguousarray(np.concatenate(vectors), dtype=np.float32), np.concatenate(biases).astype(
            np.float32
        )

    def exported(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every user's and item's tower output, and the items' biases, as float32 numpy arrays."""
        user_vectors, _ = self._all(self.user_tower, self.user_rows)
        item_vectors, item_biases = self._all(self.item_tower, self.item_rows)
        return user_vectors, item_vectors, item_biases

    @torch.no_grad()
    def represent(self, side: str, matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Tower outputs of new rows given by their feature matrix (columns of the tower)."""
        tower, known = (self.user_tower, self.user_rows) if side == "user" else (self.item_tower, self.item_rows)
        return self._all(tower, PaddedRows(matrix, known.columns.device))

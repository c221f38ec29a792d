"""Simple strong baselines for the comparison: popularity, cosine item-kNN and EASE.

Each is fitted on a binary user x item CSR matrix and scores users through
``score_indices(user_indices)``, the interface :func:`tripletrec.evaluate`
takes, so they are measured exactly like the factor models.

* :class:`Popularity`: every user gets the items ranked by their number of
  training users (a non-personalised floor).
* :class:`ItemKNN`: cosine similarity between item columns, each item keeping
  its ``k`` most similar items; a user's score for item ``i`` is the sum of
  ``i``'s similarities to the user's items.
* :class:`EASE`: Steck, "Embarrassingly Shallow Autoencoders for Sparse Data"
  (WWW 2019): ``P = (X^T X + l2 I)^-1``, ``B = I - P / diag(P)`` (column
  ``j`` divided by ``P[j, j]``), so ``diag(B) = 0``; scores ``X B``. Dense in
  the number of items (``n_items^2`` floats), so for catalogues of a few
  thousand items, not the synthetic ones of 50,000+.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["EASE", "ItemKNN", "Popularity", "make_baseline"]


def _binary_csr(matrix) -> sp.csr_matrix:
    """The matrix as float64 CSR with every stored value 1 (weights ignored, as for every system)."""
    csr = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    csr.sum_duplicates()
    csr.data[:] = 1.0
    return csr


class Popularity:
    """Scores every item by its number of training users, the same for every user."""

    def fit(self, matrix) -> Popularity:
        counts = np.asarray(_binary_csr(matrix).sum(axis=0)).ravel()
        self.item_scores_ = counts.astype(np.float32)
        return self

    def score_indices(self, user_indices) -> np.ndarray:
        return np.broadcast_to(self.item_scores_, (len(user_indices), len(self.item_scores_))).copy()


class ItemKNN:
    """Cosine item-item nearest neighbours.

    Parameters
    ----------
    k : int
        Neighbours kept per item: for each item ``i``, its ``k`` largest
        similarities to other items (ties broken by lower index); the rest
        are set to 0. ``score(u, i) = sum over j in items(u) of S[j, i]``.
    """

    def __init__(self, k: int = 100):
        self.k = int(k)

    def fit(self, matrix) -> ItemKNN:
        x = _binary_csr(matrix)
        self.user_items_ = x.astype(np.float32)
        co = (x.T @ x).toarray()
        norms = np.sqrt(np.diag(co))
        norms[norms == 0] = 1.0  # items without users: zero similarity, not NaN
        similarity = co / norms[:, None] / norms[None, :]
        np.fill_diagonal(similarity, 0.0)
        n_items = similarity.shape[0]
        if self.k < n_items - 1:
            # Column i holds i's similarities; keep its k largest. A stable
            # sort of the negated column breaks ties by the lower index.
            order = np.argsort(-similarity, axis=0, kind="stable")
            drop = order[self.k :, :]
            similarity[drop, np.arange(n_items)[None, :]] = 0.0
        self.similarity_ = similarity.astype(np.float32)
        return self

    def score_indices(self, user_indices) -> np.ndarray:
        return np.asarray(self.user_items_[np.asarray(user_indices)] @ self.similarity_, dtype=np.float32)


class EASE:
    """Steck's EASE: a ridge item-item regression with a zero diagonal, in closed form.

    Parameters
    ----------
    l2 : float
        The ridge weight ``lambda``.
    """

    def __init__(self, l2: float = 400.0):
        self.l2 = float(l2)

    def fit(self, matrix) -> EASE:
        x = _binary_csr(matrix)
        self.user_items_ = x.astype(np.float32)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        weights = -precision / np.diag(precision)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)
        return self

    def score_indices(self, user_indices) -> np.ndarray:
        return np.asarray(self.user_items_[np.asarray(user_indices)] @ self.weights_, dtype=np.float32)


def make_baseline(name: str, params: dict):
    """The unfitted baseline ``name`` ("popularity", "item-knn", "ease") with ``params``."""
    return {"popularity": Popularity, "item-knn": ItemKNN, "ease": EASE}[name](**params)

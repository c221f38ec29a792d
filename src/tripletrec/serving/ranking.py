"""Batch-independent top-k for the server: BLAS finds candidates, float64 decides.

The server answers many requests with one ``top_k`` call (micro-batching),
but a float32 BLAS product gives a row slightly different scores (in the last
bits) depending on how many other rows share the product, so a near-tie could
rank differently alone and in a batch. Here the float32 product only
proposes ``k + MARGIN`` candidates per row; each candidate is then rescored in
float64 from the float32 factors (products of float32 numbers are exact in
float64, and each row's sum is computed alone, in a fixed order), and the
answer is the best ``k`` by that score, ties to the lower item index.

The candidates provably hold that answer when the ``k``-th float64 score
beats the weakest candidate's float32 score by more than the float32
product's error bound (every item left out scored at most that); otherwise
the row is rescored over all its items in float64 (rare: it needs about
``MARGIN`` items within rounding of each other). Either way a row's answer is
a function of its own vector, exclusions, candidates and ``k`` alone.

With ``approximate``, the model's HNSW index
(:class:`~tripletrec.serving.approximate.ApproximateIndex`) proposes each
row's items instead: a graph search visits items in an order that depends on
the row's vector alone, so that answer is batch-independent too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .exact import top_k

__all__ = ["MARGIN", "ItemTable", "rank_rows"]

#: Extra candidates per row beyond its ``k``, so that the exact float64
#: order can differ from the float32 one without a full rescoring.
MARGIN = 16

# Items rescored at a time by the full float64 fallback (bounds its memory).
_FALLBACK_CHUNK = 8192

# Up to this many scores (rows x items) numpy selects faster than the kernel's thread start.
_NUMPY_SELECTION_SCORES = 20_000

# Unit roundoff of float32; the error bound uses twice the textbook one.
_FLOAT32_ROUNDOFF = 2.0**-24


@dataclass(frozen=True)
class ItemTable:
    """A model's item side as the ranking needs it, computed once per loaded model.

    Attributes
    ----------
    factors : ndarray, shape (n_items, dim), float32
    biases : ndarray, shape (n_items,), float32
    max_norm : float
        Largest Euclidean norm of an item vector (for the error bound).
    max_bias : float
        Largest absolute bias.
    finite : bool
        Whether every factor and bias is finite (checked once here rather
        than by every ranking call; a table that is not is checked, and
        refused, at each call).
    """

    factors: np.ndarray
    biases: np.ndarray
    max_norm: float
    max_bias: float
    finite: bool = False

    @classmethod
    def of(cls, model) -> ItemTable:
        """The table of a fitted model (its ``item_factors_`` and ``item_biases_``)."""
        factors = np.ascontiguousarray(model.item_factors_, dtype=np.float32)
        biases = np.ascontiguousarray(model.item_biases_, dtype=np.float32)
        norms = np.linalg.norm(factors.astype(np.float64), axis=1)
        finite = bool(np.isfinite(factors).all() and np.isfinite(biases).all())
        return cls(factors, biases, float(norms.max(initial=0.0)), float(np.abs(biases).max(initial=0.0)), finite)


def _exact_scores(vector: np.ndarray, factors: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """float64 scores of rows ``factors`` for one query: the same numbers for an item wherever it is asked."""
    # The element-wise products are exact; add.reduce sums each item's dim
    # products along the contiguous last axis, an order that depends on dim only.
    products = np.multiply(factors.astype(np.float64), vector.astype(np.float64)[None, :])
    return np.add.reduce(products, axis=-1) + biases.astype(np.float64)


def _best(indices: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (index, score) pairs: higher score first, ties to the lower index."""
    order = np.lexsort((indices, -scores))[:k]
    return indices[order], scores[order]


def _rescore_all(
    vector: np.ndarray, table: ItemTable, k: int, excluded: np.ndarray | None, candidates: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The row's answer from float64 scores of every item it may get (the uncertified case)."""
    pool = np.arange(len(table.factors), dtype=np.int64) if candidates is None else candidates
    if excluded is not None and len(excluded):
        pool = pool[~np.isin(pool, excluded)]
    best_indices = np.empty(0, dtype=np.int64)
    best_scores = np.empty(0, dtype=np.float64)
    for start in range(0, len(pool), _FALLBACK_CHUNK):
        chunk = pool[start : start + _FALLBACK_CHUNK]
        scores = _exact_scores(vector, table.factors[chunk], table.biases[chunk])
        best_indices, best_scores = _best(
            np.concatenate([best_indices, chunk]), np.concatenate([best_scores, scores]), k
        )
    return best_indices, best_scores


def _exclusion_csr(exclusions: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([0 if rows is None else len(rows) for rows in exclusions], dtype=np.int64)
    indptr = np.zeros(len(exclusions) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate([rows for rows in exclusions if rows is not None] or [np.empty(0, dtype=np.int64)])
    return indptr, indices.astype(np.int64, copy=False)


def _rank_approximate(vectors, index, ks, exclusions, candidates) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each row's best items from the HNSW index, as :func:`rank_rows` returns them."""
    n_available = len(index.item_vectors) if candidates is None else len(candidates)
    found, scores = index.search(
        np.ascontiguousarray(vectors, dtype=np.float32),
        min(max(ks), n_available),
        exclude=_exclusion_csr(exclusions),
        candidates=candidates,
    )
    answers = []
    for row, k in enumerate(ks):
        valid = found[row, :k] >= 0
        answers.append((found[row, :k][valid], scores[row, :k][valid].astype(np.float64)))
    return answers


def rank_rows(
    vectors: np.ndarray,
    table: ItemTable,
    ks: list[int],
    exclusions: list[np.ndarray | None],
    candidates: np.ndarray | None = None,
    *,
    approximate: bool = False,
    index: Any = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The best items for each query vector, the same whatever the other rows are.

    Parameters
    ----------
    vectors : ndarray, shape (n_rows, dim), float32
        Query vectors (user factors, folded-in vectors, zeros for popularity).
    table : ItemTable
    ks : list of int
        Items wanted per row, each ``>= 1``.
    exclusions : list of (ndarray of int64 or None)
        Dense item indices never to return, per row.
    candidates : ndarray of int64, optional
        Sorted unique dense item indices the answer is restricted to (shared
        by every row).
    approximate : bool
        Search ``index`` (an HNSW graph of the items) instead of scoring every item.
    index : ApproximateIndex, optional
        The model's index (``model.approximate_index()``), needed with ``approximate``.

    Returns
    -------
    list of (indices, scores)
        Per row, dense item indices (int64) and their float64 scores, best
        first, ties to the lower index; fewer than ``k`` when fewer items
        remain.
    """
    n_rows = len(vectors)
    if n_rows == 0:
        return []
    if approximate:
        return _rank_approximate(vectors, index, ks, exclusions, candidates)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n_available = len(table.factors) if candidates is None else len(candidates)
    proposed = min(max(ks) + MARGIN, n_available)
    indptr, indices = _exclusion_csr(exclusions)
    found, approximate_scores = top_k(
        vectors,
        table.factors,
        proposed,
        item_biases=table.biases,
        exclude=(indptr, indices),
        candidates=candidates,
        # The server warms the kernel up at start; numpy's selection is slower past a few thousand scores.
        selection="compiled" if n_rows * n_available > _NUMPY_SELECTION_SCORES else "auto",
        # One thread: starting a pool costs more than selecting a micro-batch
        # (16 users of 50,000 items: 3.7 ms with one thread, 4.9 ms with two on
        # 2 cores), and the event loop needs the other core meanwhile.
        threads=1,
        check_items=not table.finite,
    )
    # |float32 score - exact score| <= ~(dim + 1) u (|v| |w| + |b|); doubled for safety.
    dim = vectors.shape[1]
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    bounds = 2.0 * (dim + 2) * _FLOAT32_ROUNDOFF * (norms * table.max_norm + table.max_bias)
    answers = []
    for row in range(n_rows):
        valid = found[row] >= 0
        row_items = found[row][valid]
        exact = _exact_scores(vectors[row], table.factors[row_items], table.biases[row_items])
        best_indices, best_scores = _best(row_items, exact, ks[row])
        # Every item the row may get is a candidate: nothing was left out.
        complete = not valid.all() or proposed == n_available
        weakest = float(approximate_scores[row, -1])
        certified = complete or (
            len(best_scores) == ks[row] and best_scores[-1] > weakest + bounds[row] and np.isfinite(weakest)
        )
        if not certified:
            best_indices, best_scores = _rescore_all(vectors[row], table, ks[row], exclusions[row], candidates)
        answers.append((best_indices, best_scores))
    return answers

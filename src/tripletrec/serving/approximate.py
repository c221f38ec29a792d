"""Approximate top-k: a faiss HNSW graph over the item vectors (``pip install 'tripletrec[ann]'``).

Exact top-k (:mod:`tripletrec.serving.exact`) scores every item for every
query; for all users of a large catalogue that is most of the work. A
hierarchical navigable small world graph [1]_ visits a few thousand items
per query instead. The score is an inner product plus the item's bias, a
maximum inner product search: each item is indexed as ``[v_i, b_i]`` and
each query as ``[u, 1]``, so ``[u, 1] . [v_i, b_i] = u . v_i + b_i`` and the
bias needs no separate pass.

Exclusions (items a user already has) are honoured by over-fetching, in
two passes. A trained model ranks few of a user's own items among its very
best (on the 100,000-user synthetic model of ``benchmarks/approximate_topk.py``
99.9 % of users need at most ``k`` extra items), so the first pass asks the
graph for ``2 k`` items per row and drops the excluded ones. Only the rows
left with fewer than ``k`` items that could still hide more exclusions go
to the second pass, which is exhaustive: rows grouped by how many items
they exclude (powers of two), each group asks for ``k`` plus its largest
exclusion count, so every row still gets ``k`` items. A
candidate restriction (``items=``) is answered exactly over the candidates,
which are few by nature. Returned scores are recomputed exactly (float32
dot products, as the exact path), so only the choice of items is approximate.

This module imports faiss only when an index is built.

References
----------
.. [1] Y. A. Malkov and D. A. Yashunin, "Efficient and robust approximate
   nearest neighbor search using hierarchical navigable small world
   graphs", IEEE TPAMI 42(4), 2020.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np

from .._validation import check_integer
from .exact import _exclusion_arrays, top_k

__all__ = ["ApproximateIndex", "FAISS_MISSING"]

#: Queries per faiss search call: bounds the over-fetched (queries x fetched) arrays.
QUERY_BLOCK = 4096

#: The message when faiss is not installed.
FAISS_MISSING = "approximate top-k needs faiss: pip install 'tripletrec[ann]'"


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError(FAISS_MISSING) from None
    return faiss


@contextmanager
def _faiss_threads(faiss, threads: int | None):
    """faiss's OpenMP thread count set to ``threads`` for the body (None: unchanged)."""
    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(threads))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class ApproximateIndex:
    """An HNSW inner-product index over item vectors and biases.

    Parameters
    ----------
    item_vectors : ndarray, shape (n_items, dim), float32
    item_biases : ndarray, shape (n_items,), float32, optional
    neighbours : int
        Links per node of the graph (HNSW's ``M``): more is slower to build
        and to search, with a higher recall.
    build_breadth : int
        Candidates kept while building (``efConstruction``).
    search_breadth : int
        Candidates kept while searching (``efSearch``, at least the number
        of items fetched): the recall / speed dial.
    threads : int, optional
        faiss's OpenMP threads for building and searching (None: faiss's default).

    Attributes
    ----------
    build_seconds : float
    """

    def __init__(
        self,
        item_vectors: Any,
        item_biases: Any = None,
        *,
        neighbours: int = 32,
        build_breadth: int = 80,
        search_breadth: int = 48,
        threads: int | None = None,
    ):
        import time

        faiss = _faiss()
        self.item_vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        n_items, dim = self.item_vectors.shape
        biases = np.zeros(n_items, dtype=np.float32) if item_biases is None else item_biases
        self.item_biases = np.ascontiguousarray(biases, dtype=np.float32)
        self.search_breadth = check_integer(search_breadth, "search_breadth", low=1)
        self.threads = threads
        started = time.perf_counter()
        index = faiss.IndexHNSWFlat(dim + 1, check_integer(neighbours, "neighbours", low=2), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = check_integer(build_breadth, "build_breadth", low=1)
        with _faiss_threads(faiss, self.threads):
            index.add(np.hstack([self.item_vectors, self.item_biases[:, None]]))
        self.index = index
        self.build_seconds = time.perf_counter() - started

    def search(
        self, query_vectors: Any, k: int, *, exclude: Any = None, candidates: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The (approximately) k best items for each query vector, best first.

        Parameters
        ----------
        query_vectors : ndarray, shape (n_query, dim), float32
        k : int
            At most the number of items.
        exclude : (indptr, indices) or scipy.sparse matrix, optional
            Per query row, item indices never to return (as :func:`tripletrec.serving.exact.top_k`).
        candidates : array_like of int, optional
            Restrict the answer to these item indices (answered exactly).

        Returns
        -------
        indices : ndarray, shape (n_query, k), int64
            ``-1`` where fewer than ``k`` items remain.
        scores : ndarray, shape (n_query, k), float32
            ``query . item + bias``, ``-inf`` in padded slots.
        """
        queries = np.ascontiguousarray(query_vectors, dtype=np.float32)
        n_query, n_items = queries.shape[0], self.item_vectors.shape[0]
        k = check_integer(k, "k", low=1)
        if k > n_items:
            raise ValueError(f"k={k} is larger than the {n_items} items")
        if candidates is not None:
            return top_k(
                queries, self.item_vectors, k, item_biases=self.item_biases, exclude=exclude, candidates=candidates
            )
        indptr, excluded = _exclusion_arrays(exclude, n_query, n_items)
        if len(indptr) == 0:
            indptr = np.zeros(n_query + 1, dtype=np.int64)
        indices = np.empty((n_query, k), dtype=np.int64)
        scores = np.empty((n_query, k), dtype=np.float32)
        faiss = _faiss()
        with _faiss_threads(faiss, self.threads):
            for begin in range(0, n_query, QUERY_BLOCK):
                end = min(begin + QUERY_BLOCK, n_query)
                block = slice(begin, end)
                indices[block], scores[block] = self._search_block(queries[block], k, indptr[begin : end + 1], excluded)
        return indices, scores

    def _search_block(self, queries: np.ndarray, k: int, indptr: np.ndarray, excluded: np.ndarray):
        counts = np.diff(indptr)
        n_items = self.item_vectors.shape[0]
        first_fetch = min(n_items, 2 * k) if counts.any() else k
        indices, scores = self._search_rows(
            queries, k, indptr - indptr[0], excluded[indptr[0] : indptr[-1]], first_fetch
        )
        # Rows short of k items whose exclusions reach past what the first pass fetched.
        short = np.flatnonzero((indices[:, -1] < 0) & (counts > first_fetch - k))
        if short.size == 0:
            return indices, scores
        # Grouped by how many items they exclude (powers of two): each group over-fetches
        # for its own largest row, not the block's, which a few heavy users would inflate.
        groups = np.ceil(np.log2(counts[short] + 1.0)).astype(np.int64)
        for group in np.unique(groups):
            rows = short[groups == group]
            row_indptr = np.concatenate([[0], np.cumsum(counts[rows])])
            # Each row's slice of ``excluded``, gathered without a loop over rows.
            positions = np.repeat(indptr[rows] - row_indptr[:-1], counts[rows]) + np.arange(row_indptr[-1])
            fetch = min(n_items, k + int(counts[rows].max()))
            indices[rows], scores[rows] = self._search_rows(queries[rows], k, row_indptr, excluded[positions], fetch)
        return indices, scores

    def _search_rows(self, queries: np.ndarray, k: int, indptr: np.ndarray, excluded: np.ndarray, fetch: int):
        """The first ``k`` of the ``fetch`` items the graph finds per row, exclusions dropped."""
        n_query, n_items = queries.shape[0], self.item_vectors.shape[0]
        counts = np.diff(indptr)
        self.index.hnsw.efSearch = max(self.search_breadth, fetch)
        _, found = self.index.search(np.hstack([queries, np.ones((n_query, 1), dtype=np.float32)]), fetch)
        if counts.any():
            # Membership of each (row, item) found in the row's exclusions, by sorted 64-bit keys:
            # no dense (rows x items) mask.
            rows = np.repeat(np.arange(n_query, dtype=np.int64), counts)
            excluded_keys = np.sort(rows * n_items + excluded)
            found_keys = np.arange(n_query, dtype=np.int64)[:, None] * n_items + found
            at = np.minimum(np.searchsorted(excluded_keys, found_keys), len(excluded_keys) - 1)
            dropped = (excluded_keys[at] == found_keys) & (found >= 0)
            found = np.where(dropped, -1, found)
        return self._first_k(queries, found, k)

    def _first_k(self, queries: np.ndarray, found: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each row's first ``k`` valid items, rescored exactly and sorted best first."""
        valid = found >= 0
        # Stable: valid entries keep faiss's order, invalid ones move to the end.
        order = np.argsort(~valid, axis=1, kind="stable")[:, :k]
        chosen = np.take_along_axis(found, order, axis=1)
        present = chosen >= 0
        safe = np.maximum(chosen, 0)
        scores = np.einsum("qd,qkd->qk", queries, self.item_vectors[safe]) + self.item_biases[safe]
        scores = np.where(present, scores, -np.inf).astype(np.float32)
        # Best first; ties to the lower item index, as the exact path.
        ranking = np.lexsort((np.where(present, chosen, np.iinfo(np.int64).max), -scores.astype(np.float64)), axis=1)
        indices = np.take_along_axis(np.where(present, chosen, -1), ranking, axis=1).astype(np.int64)
        return indices, np.take_along_axis(scores, ranking, axis=1)

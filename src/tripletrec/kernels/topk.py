"""Partial selection of the k best items per row of a tile of scores.

The Python layer (:mod:`tripletrec.serving.exact`) computes a tile of scores
(a block of queries by a chunk of items) with one BLAS product and hands it
here; each row is scanned once with a size-k heap, so selecting from
``n_items`` scores costs ``O(n_items)`` comparisons plus ``O(log k)`` work
for the few items that beat the current k-th best, instead of the
``O(n_items log n_items)`` of a full sort.

Order and ties
--------------
An item is better than another when its score is higher, or when the scores
are equal and its column is lower. Columns are scanned in increasing order
(tiles left to right, each left to right), so an item that only ties the
current k-th best never displaces it: a strict ``>`` against the heap root
is the whole tie rule during the scan.

Items whose score is ``-inf`` or NaN are never selected (``NaN > x`` is
false and ``-inf`` cannot beat the ``-inf`` the heap starts with); excluded
items are set to ``-inf`` in the tile, which is scratch memory owned by the
caller, so they fall out the same way without a copy. Heap slots that no
item filled come back as column -1 with score ``-inf``.
"""

from __future__ import annotations

import numba
import numpy as np

from .threads import run_in_ranges

__all__ = ["select_top_k"]


@numba.njit(cache=True, inline="always", no_cpython_wrapper=True)
def _is_worse(score_a, column_a, score_b, column_b):
    return score_a < score_b or (score_a == score_b and column_a > column_b)


@numba.njit(cache=True, no_cpython_wrapper=True)
def _sift_down(heap_scores, heap_columns, start, size):
    """Restore the worst-at-root heap order below ``start`` in ``heap[:size]``."""
    position = start
    score = heap_scores[position]
    column = heap_columns[position]
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        right = child + 1
        if right < size and _is_worse(heap_scores[right], heap_columns[right], heap_scores[child], heap_columns[child]):
            child = right
        if not _is_worse(heap_scores[child], heap_columns[child], score, column):
            break
        heap_scores[position] = heap_scores[child]
        heap_columns[position] = heap_columns[child]
        position = child
    heap_scores[position] = score
    heap_columns[position] = column


@numba.njit(cache=True, no_cpython_wrapper=True)
def _sort_heap_best_first(heap_scores, heap_columns, k):
    """Heap sort in place: the worst goes to the back, leaving best first."""
    for end in range(k - 1, 0, -1):
        score = heap_scores[0]
        column = heap_columns[0]
        heap_scores[0] = heap_scores[end]
        heap_columns[0] = heap_columns[end]
        heap_scores[end] = score
        heap_columns[end] = column
        _sift_down(heap_scores, heap_columns, 0, end)


# Scores are tested a chunk at a time with a branch-free count that LLVM
# vectorises; only the rare chunk holding a score above the current k-th best
# goes through the scalar heap insertion.
_CHUNK = 64


@numba.njit(cache=True, no_cpython_wrapper=True)
def _insert_range(row, start, stop, first_column, heap_scores, heap_columns, k):
    threshold = heap_scores[0]
    for column in range(start, stop):
        score = row[column]
        if score > threshold:
            heap_scores[0] = score
            heap_columns[0] = first_column + column
            _sift_down(heap_scores, heap_columns, 0, k)
            threshold = heap_scores[0]


@numba.njit(cache=True, no_cpython_wrapper=True)
def _insert_range_with_biases(row, biases, start, stop, first_column, heap_scores, heap_columns, k):
    threshold = heap_scores[0]
    for column in range(start, stop):
        score = row[column] + biases[column]
        if score > threshold:
            heap_scores[0] = score
            heap_columns[0] = first_column + column
            _sift_down(heap_scores, heap_columns, 0, k)
            threshold = heap_scores[0]


@numba.njit(cache=True, no_cpython_wrapper=True)
def _scan_row(row, first_column, heap_scores, heap_columns, k):
    n_columns = row.shape[0]
    chunked_end = n_columns - n_columns % _CHUNK
    for start in range(0, chunked_end, _CHUNK):
        threshold = heap_scores[0]
        hits = 0
        for column in range(start, start + _CHUNK):
            hits += row[column] > threshold
        if hits:
            _insert_range(row, start, start + _CHUNK, first_column, heap_scores, heap_columns, k)
    _insert_range(row, chunked_end, n_columns, first_column, heap_scores, heap_columns, k)


@numba.njit(cache=True, no_cpython_wrapper=True)
def _scan_row_with_biases(row, biases, first_column, heap_scores, heap_columns, k):
    n_columns = row.shape[0]
    chunked_end = n_columns - n_columns % _CHUNK
    for start in range(0, chunked_end, _CHUNK):
        threshold = heap_scores[0]
        hits = 0
        for column in range(start, start + _CHUNK):
            hits += row[column] + biases[column] > threshold
        if hits:
            _insert_range_with_biases(row, biases, start, start + _CHUNK, first_column, heap_scores, heap_columns, k)
    _insert_range_with_biases(row, biases, chunked_end, n_columns, first_column, heap_scores, heap_columns, k)


def select_top_k(
    scores,
    first_query,
    first_column,
    biases,
    exclude_indptr,
    exclude_indices,
    item_to_column,
    k,
    start_heaps,
    finish_heaps,
    out_columns,
    out_scores,
):
    """Feed one tile of scores into the running top-k of each of its rows.

    A row's k best are kept as a heap in its output row, so the columns of a
    query can arrive in several tiles (left to right): the first tile starts
    the heaps, the last one sorts them best first.

    Parameters
    ----------
    scores : ndarray, shape (n_rows, width), float32, C-contiguous
        Scores of queries ``first_query ..`` for columns
        ``first_column .. first_column + width - 1``. Excluded entries are
        overwritten with ``-inf`` (the tile is scratch memory).
    first_query : int
        Query index of the tile's first row.
    first_column : int
        Column index of the tile's first column.
    biases : ndarray, shape (n_columns,) or (0,), float32
        Per-column bias over all columns (not just this tile), added before
        selection; an empty array means none.
    exclude_indptr : ndarray, shape (n_query + 1,) or (0,), int64
        CSR row pointers of the items to exclude per query; empty means none.
    exclude_indices : ndarray, shape (nnz,), int64
        Catalogue item index of each excluded entry.
    item_to_column : ndarray, shape (n_items,), int64
        Column holding each catalogue item, or -1 when the item is not scored
        (not a candidate); its exclusions are then ignored.
    k : int
        How many columns to keep per row (``k >= 1``).
    start_heaps : bool
        This is the query's first tile: reset its heap to k empty slots.
    finish_heaps : bool
        This is the query's last tile: sort the heap best first.
    out_columns : ndarray, shape (n_query, k), int64
        Rows ``first_query .. first_query + n_rows - 1`` hold the heaps; when
        finished, the selected columns best first, -1 in unfilled slots.
    out_scores : ndarray, shape (n_query, k), float32
        Their scores, ``-inf`` in unfilled slots.
    """
    # Rows on threads, each thread selecting for a range (tripletrec.kernels.threads).
    arguments = (
        scores,
        first_query,
        first_column,
        biases,
        (exclude_indptr, exclude_indices),
        item_to_column,
        k,
        (start_heaps, finish_heaps),
        (out_columns, out_scores),
    )
    run_in_ranges(_select_rows, scores.shape[0], arguments)


@numba.njit(cache=True, nogil=True)
def _select_rows(first, last, scores, first_query, first_column, biases, exclusions, item_to_column, k, phases, out):
    """:func:`select_top_k` for tile rows ``first .. last - 1`` (serial).

    ``exclusions`` is ``(exclude_indptr, exclude_indices)``, ``phases``
    ``(start_heaps, finish_heaps)`` and ``out`` ``(out_columns, out_scores)``.
    """
    exclude_indptr, exclude_indices = exclusions
    start_heaps, finish_heaps = phases
    out_columns, out_scores = out
    width = scores.shape[1]
    has_biases = biases.shape[0] > 0
    has_exclusions = exclude_indptr.shape[0] > 0
    negative_infinity = np.float32(-np.inf)
    for row_index in range(first, last):
        query = first_query + row_index
        row = scores[row_index]
        if has_exclusions:
            for entry in range(exclude_indptr[query], exclude_indptr[query + 1]):
                column = item_to_column[exclude_indices[entry]] - first_column
                if 0 <= column < width:
                    row[column] = negative_infinity
        # The output row doubles as the heap: no per-row allocation.
        heap_scores = out_scores[query]
        heap_columns = out_columns[query]
        if start_heaps:
            for slot in range(k):
                heap_scores[slot] = negative_infinity
                heap_columns[slot] = -1
        if has_biases:
            _scan_row_with_biases(
                row, biases[first_column : first_column + width], first_column, heap_scores, heap_columns, k
            )
        else:
            _scan_row(row, first_column, heap_scores, heap_columns, k)
        if finish_heaps:
            _sort_heap_best_first(heap_scores, heap_columns, k)

"""The top-k selection kernel in plain numpy, for tiles too small to repay a compile.

:func:`select_top_k` takes the arguments of
:func:`tripletrec.kernels.topk.select_top_k` and writes the same answer, by
the same rule (score descending, then column ascending; ``-inf`` and NaN
never selected; -1 / ``-inf`` padding), for a tile that holds every column
of its queries: the first tile that is also the last, so there are no heaps
to carry from tile to tile. Compiling the selection kernel costs seconds the
first time (see :mod:`tripletrec._compile_notice`); numpy selects the top 10
of a MovieLens-100k catalogue for a few users in well under a millisecond.
:func:`tripletrec.serving.exact.top_k` picks one or the other by the size of
the work (:data:`tripletrec.serving.exact.NUMPY_SELECTION_MAX_SCORES`).

One partition per row finds the k-th best score; everything above it is in,
and of the items tied with it the lowest columns fill the places left. A
stable sort of those k by descending score then puts lower columns first
among equal scores.
"""

from __future__ import annotations

import numpy as np

__all__ = ["select_top_k"]


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
    """The k best columns of each row of a whole-width tile, in numpy.

    Parameters
    ----------
    scores, first_query, first_column, biases, exclude_indptr, exclude_indices, item_to_column, k
        As for :func:`tripletrec.kernels.topk.select_top_k`; ``scores`` gets
        its excluded entries overwritten with ``-inf``, as there.
    start_heaps, finish_heaps : bool
        Both must be true: the tile is the only one of its queries.
    out_columns : ndarray, shape (n_query, k), int64
    out_scores : ndarray, shape (n_query, k), float32
        Rows ``first_query .. first_query + n_rows - 1`` receive the selected
        columns best first (-1 in unfilled slots) and their scores (``-inf``
        there).

    Raises
    ------
    ValueError
        If the tile is not the only one of its queries.
    """
    if not (start_heaps and finish_heaps):
        raise ValueError("the numpy selection needs the whole row in one tile (start_heaps and finish_heaps)")
    n_rows, width = scores.shape
    if n_rows == 0:
        return
    if exclude_indptr.shape[0] > 0:
        starts = exclude_indptr[first_query : first_query + n_rows]
        counts = exclude_indptr[first_query + 1 : first_query + n_rows + 1] - starts
        total = int(counts.sum())
        if total:
            owners = np.repeat(np.arange(n_rows), counts)
            entries = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
            columns = item_to_column[exclude_indices[entries]] - first_column
            inside = (columns >= 0) & (columns < width)
            scores[owners[inside], columns[inside]] = -np.inf
    # float32 + float32 in float32, as the kernel adds a bias to each score.
    values = scores + biases[first_column : first_column + width] if biases.shape[0] > 0 else scores
    not_a_number = np.isnan(values)
    if not_a_number.any():
        # NaN is never selected, like -inf; a copy keeps the tile's NaN as the kernel does.
        values = np.where(not_a_number, np.float32(-np.inf), values)
    selected = min(k, width)
    threshold = np.partition(values, width - selected, axis=1)[:, width - selected, None]
    chosen = values > threshold
    at_threshold = values == threshold
    places_left = selected - np.count_nonzero(chosen, axis=1)
    crowded = np.flatnonzero(np.count_nonzero(at_threshold, axis=1) > places_left)
    chosen |= at_threshold
    if len(crowded):
        # More items tie at the threshold than places are left: the lowest columns win.
        tied = at_threshold[crowded]
        drop = tied & (np.cumsum(tied, axis=1) > places_left[crowded, None])
        chosen[crowded] &= ~drop
    rows, columns = np.nonzero(chosen)  # exactly `selected` per row, columns ascending
    columns = columns.reshape(n_rows, selected)
    best = values[rows, columns.ravel()].reshape(n_rows, selected)
    # Stable: equal scores keep their ascending columns.
    order = np.argsort(-best, axis=1, kind="stable")
    columns = np.take_along_axis(columns, order, axis=1) + first_column
    best = np.take_along_axis(best, order, axis=1)
    columns[best == -np.inf] = -1
    stop = first_query + n_rows
    out_columns[first_query:stop, :selected] = columns
    out_scores[first_query:stop, :selected] = best
    out_columns[first_query:stop, selected:] = -1
    out_scores[first_query:stop, selected:] = -np.inf

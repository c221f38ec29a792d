"""Batched top-k: BLAS scores in blocks of queries, numba partial selection.

:func:`top_k` answers "the k best items for each of these users" for any
model whose score is a dot product plus an optional item bias;
:func:`cosine_top_k` answers "the k most similar rows" for similar items and
similar users.

Scores are computed by BLAS a tile at a time (a block of ``block_size``
queries by a chunk of at most :data:`ITEM_CHUNK` items) into one of two
reused buffers, so memory stays bounded whatever the number of queries or
items; :func:`tripletrec.kernels.topk.select_top_k` feeds each tile into
running size-k heaps, in parallel over rows, while the next tile is being
scored.

Small requests (at most :data:`NUMPY_SELECTION_MAX_SCORES` scores, every
item in one tile) are selected in numpy instead
(:func:`tripletrec.kernels.topk_numpy.select_top_k`), with the same scores
and the same answer: compiling the selection kernel takes seconds the first
time, more than numpy needs for such a request, so a first
``recommend`` on a small catalogue does not wait for a compiler.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from .._parallel import kernel_threads
from .._validation import check_integer
from ..kernels import topk_numpy
from ..kernels.topk import select_top_k

__all__ = [
    "DEFAULT_TILE_BYTES",
    "ITEM_CHUNK",
    "NUMPY_SELECTION_MAX_SCORES",
    "check_threads",
    "cosine_top_k",
    "default_block_size",
    "top_k",
]

#: Most items scored per BLAS product: larger catalogues are cut into chunks
#: so that memory stays bounded however many items there are. Each tile of
#: scores (block of queries x chunk of items) costs one BLAS call and one
#: selection call, and on a busy machine every call pays for waking the
#: other library's threads, so few large tiles beat many small ones that
#: would stay in cache (measured with ``benchmarks/recommend_speed.py``).
ITEM_CHUNK = 65536

#: Target size of one tile of scores; two tiles are in use at a time.
DEFAULT_TILE_BYTES = 64 * 2**20

#: Up to this many scores (queries x scored items), with every item in one
#: tile (at most :data:`ITEM_CHUNK`), :func:`top_k` selects in numpy rather
#: than with the compiled kernel; the answer is the same. The compile costs
#: about 3 s on 2 cores the first time (then it is cached on disk); numpy
#: selects 2**22 scores in about 50 ms (warm kernel: about 15 ms) and a few
#: users of a MovieLens-100k catalogue in under a millisecond, faster than
#: the kernel's thread start.
NUMPY_SELECTION_MAX_SCORES = 2**22


def default_block_size(n_columns: int) -> int:
    """Queries per block so that one tile of scores is about 64 MiB.

    Parameters
    ----------
    n_columns : int
        Items scored per query (a tile holds at most :data:`ITEM_CHUNK`).

    Returns
    -------
    int
        At least 16 (BLAS is slow on very thin blocks).
    """
    columns_per_tile = min(max(int(n_columns), 1), ITEM_CHUNK)
    return max(16, DEFAULT_TILE_BYTES // (4 * columns_per_tile))


def _as_float32_matrix(values: Any, name: str, check_finite: bool = True) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (rows, dim), got shape {array.shape}")
    if array.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if check_finite:
        _check_finite(array, name)
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    not_finite = ~np.isfinite(array)
    if not_finite.any():
        first_row = int(np.flatnonzero(not_finite.reshape(len(array), -1).any(axis=1))[0])
        raise ValueError(f"{name} has {int(not_finite.sum())} NaN or infinite values (first in row {first_row})")


def _check_k(k: Any, available: int, what: str) -> int:
    k = check_integer(k, "k", low=1)
    if k > available:
        raise ValueError(f"k={k} is larger than the {available} {what} to choose from")
    return k


def _exclusion_arrays(exclude: Any, n_query: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, indices)`` as int64, checked against the query shape."""
    if exclude is None:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if sp.issparse(exclude):
        if exclude.shape != (n_query, n_items):
            raise ValueError(
                f"exclude has shape {exclude.shape} but must be (n_query, n_items) = "
                f"({n_query}, {n_items}): one row per query, one column per item"
            )
        matrix = exclude.tocsr()
        indptr, indices = matrix.indptr, matrix.indices
    elif isinstance(exclude, tuple) and len(exclude) == 2:
        indptr, indices = (np.asarray(part) for part in exclude)
    else:
        raise ValueError(
            "exclude must be None, a scipy sparse matrix (n_query, n_items) or an "
            f"(indptr, indices) pair, got {type(exclude).__name__}"
        )
    if indptr.ndim != 1 or len(indptr) != n_query + 1:
        raise ValueError(
            f"exclude indptr has {indptr.size} entries but there are {n_query} queries (need {n_query + 1})"
        )
    if indices.ndim != 1 or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise ValueError("exclude indptr and indices must be 1-dimensional integer arrays")
    indptr = indptr.astype(np.int64, copy=False)
    indices = indices.astype(np.int64, copy=False)
    if indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
        raise ValueError(
            f"exclude indptr must rise from 0 to len(indices) = {len(indices)}, "
            f"got {int(indptr[0])} .. {int(indptr[-1])}"
        )
    outside = (indices < 0) | (indices >= n_items)
    if outside.any():
        first_row = int(np.searchsorted(indptr, np.flatnonzero(outside)[0], side="right") - 1)
        raise ValueError(
            f"exclude has {int(outside.sum())} item indices outside 0..{n_items - 1} (first in row {first_row})"
        )
    return np.ascontiguousarray(indptr), np.ascontiguousarray(indices)


def _candidate_columns(candidates: Any, n_items: int) -> np.ndarray | None:
    if candidates is None:
        return None
    candidates = np.asarray(candidates)
    if candidates.ndim != 1 or candidates.dtype.kind not in "iu":
        raise ValueError(
            f"candidates must be a 1-dimensional array of item indices, got dtype "
            f"{candidates.dtype} and shape {candidates.shape}"
        )
    outside = (candidates < 0) | (candidates >= n_items)
    if outside.any():
        raise ValueError(
            f"candidates has {int(outside.sum())} item indices outside 0..{n_items - 1} "
            f"(e.g. {int(candidates[outside][0])})"
        )
    # Sorted columns make "lower column" mean "lower item index" for ties.
    return np.unique(candidates).astype(np.int64)


def check_threads(threads: Any) -> int:
    """``threads`` checked against the cores numba may use; None: numba's current setting."""
    checked = check_integer(threads, "threads", low=1, high=numba.config.NUMBA_NUM_THREADS, allow_none=True)
    return numba.get_num_threads() if checked is None else checked


def _select_block(threads: int, *arguments: Any) -> None:
    # numba's thread count is per calling thread: set where the kernel runs.
    with kernel_threads(threads):
        select_top_k(*arguments)


def _score_and_select(
    user_vectors: np.ndarray,
    scored_transposed: np.ndarray,
    k: int,
    biases: np.ndarray,
    exclude_indptr: np.ndarray,
    exclude_indices: np.ndarray,
    item_to_column: np.ndarray,
    block_size: int,
    threads: int,
    item_chunk: int,
    overlap: bool = True,
    in_numpy: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The tile loop of :func:`top_k`, on checked arguments.

    Tiles of ``block_size`` queries by ``item_chunk`` items go left to right
    through each block of queries; every tile is one BLAS product and one
    selection call that feeds the running heaps.

    With ``overlap`` (the default) the selection of tile ``t`` runs in a
    helper thread while the main thread's BLAS call scores tile ``t + 1``
    into the second buffer. Run one after the other instead, each library's
    worker threads spin for a while after their turn (OpenBLAS for tens of
    milliseconds), stealing cores from the other; overlapped, both always
    have work. The overlapped selection gets a quarter of the threads (it is
    that much cheaper than the product); the last tile, which nothing
    overlaps, gets them all.

    With ``in_numpy`` (which needs ``item_chunk >= n_columns``: one tile per
    block of queries) each tile is selected by
    :func:`tripletrec.kernels.topk_numpy.select_top_k` in the calling
    thread, after the same BLAS product; ``overlap`` and ``threads`` then
    play no part.
    """
    if in_numpy and item_chunk < scored_transposed.shape[1]:
        raise ValueError("the numpy selection needs every item in one tile (item_chunk >= n_columns)")
    overlap = overlap and not in_numpy
    n_query = user_vectors.shape[0]
    n_columns = scored_transposed.shape[1]
    item_chunk = max(1, min(item_chunk, n_columns))
    out_columns = np.empty((n_query, k), dtype=np.int64)
    out_scores = np.empty((n_query, k), dtype=np.float32)
    tiles = [
        (first_query, first_column)
        for first_query in range(0, n_query, block_size)
        for first_column in range(0, n_columns, item_chunk)
    ]
    overlapped_threads = max(1, threads // 4)
    buffers = [
        np.empty(block_size * item_chunk, dtype=np.float32) for _ in range(2 if overlap and len(tiles) > 1 else 1)
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as selector:
        pending = None
        for tile_number, (first_query, first_column) in enumerate(tiles):
            stop_query = min(first_query + block_size, n_query)
            stop_column = min(first_column + item_chunk, n_columns)
            # The first rows x columns floats of a buffer, as one C array
            # (a slice of the 2-D buffer would not be contiguous).
            tile = buffers[tile_number % len(buffers)][
                : (stop_query - first_query) * (stop_column - first_column)
            ].reshape(stop_query - first_query, stop_column - first_column)
            np.matmul(
                user_vectors[first_query:stop_query],
                scored_transposed[:, first_column:stop_column],
                out=tile,
            )
            if pending is not None:
                pending.result()  # also frees the buffer the next tile reuses
            arguments = (
                tile,
                first_query,
                first_column,
                biases,
                exclude_indptr,
                exclude_indices,
                item_to_column,
                k,
                first_column == 0,
                stop_column == n_columns,
                out_columns,
                out_scores,
            )
            if in_numpy:
                topk_numpy.select_top_k(*arguments)
            elif overlap and tile_number + 1 < len(tiles):
                pending = selector.submit(_select_block, overlapped_threads, *arguments)
            else:
                pending = None
                _select_block(threads, *arguments)
    return out_columns, out_scores


def top_k(
    user_vectors: Any,
    item_vectors: Any,
    k: int,
    *,
    item_biases: Any = None,
    exclude: Any = None,
    candidates: Any = None,
    block_size: int | None = None,
    threads: int | None = None,
    selection: str = "auto",
    check_items: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The k highest-scoring items for each query row, best first.

    The score of item ``i`` for query row ``u`` is
    ``user_vectors[u] @ item_vectors[i] + item_biases[i]``, computed in
    float32.

    Parameters
    ----------
    user_vectors : array_like, shape (n_query, dim), float32
        One row per query (the rows of the users asked for, already gathered).
        Other real dtypes are converted to float32.
    item_vectors : array_like, shape (n_items, dim), float32
    k : int
        How many items per row, ``1 <= k <= n_items`` (``<= len(candidates)``
        when candidates are given).
    item_biases : array_like, shape (n_items,), float32, optional
    exclude : scipy.sparse matrix, shape (n_query, n_items), or (indptr, indices), optional
        Items never to return for each query row, e.g. the users' training
        items: the stored entries of row ``u`` (values are ignored). The
        ``(indptr, indices)`` pair is the same thing as bare CSR arrays.
    candidates : array_like, shape (n_candidates,), int, optional
        Restrict the answer to these item indices (duplicates are ignored).
        Returned ids are still catalogue item indices.
    block_size : int, optional
        Queries scored per BLAS product. Memory is two tiles of
        ``block_size x min(n_items, ITEM_CHUNK)`` float32 scores (one being
        scored while the other is selected from). Default:
        :func:`default_block_size` (about 64 MiB per tile).
    threads : int, optional
        Numba threads for the selection (the BLAS library keeps its own
        setting). Tiles selected while BLAS scores the next one use a quarter
        of them (at least one); the last tile uses all. Default: numba's
        current setting. Unused by small requests, which numpy selects in
        the calling thread (see Notes).
    selection : {"auto", "compiled"}
        ``"auto"``: the size rule of the Notes; ``"compiled"``: always the
        compiled kernel (a server whose kernels are warm: faster from a
        few thousand scores on). Same answer either way.
    check_items : bool
        Check ``item_vectors`` and ``item_biases`` for NaN and infinity, a
        pass over every item at each call. A caller that checked them once
        (the server, per loaded model) passes False.

    Returns
    -------
    ids : ndarray, shape (n_query, k), int64
        Item indices, best first. Ties are broken by the lower item index.
        When fewer than k items remain for a row after exclusion, the row is
        padded at the end with id -1.
    scores : ndarray, shape (n_query, k), float32
        Their scores; ``-inf`` in padded slots.

    Raises
    ------
    ValueError
        On shapes that do not agree, non-finite vectors or biases, ``k``
        outside ``1 .. n_items``, or exclusions / candidates outside the
        catalogue.

    Notes
    -----
    Scores that overflow float32 to ``-inf`` or NaN are treated like excluded
    items (never returned); finite inputs of sensible size never do.
    The matrix product may use a different BLAS code path for one row than
    for many, so scores can differ from a single-query call in the last bit.

    Size rule: when ``n_query * n_scored <= NUMPY_SELECTION_MAX_SCORES``
    (``n_scored`` the items or candidates scored) and ``n_scored <=
    ITEM_CHUNK``, the selection runs in numpy, which needs no compiled
    kernel; otherwise in the compiled kernel. Both take the same scores and
    return the same ids and scores.

    Examples
    --------
    >>> users = np.array([[1.0, 0.0]], dtype=np.float32)
    >>> items = np.array([[0.5, 0.0], [2.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    >>> ids, scores = top_k(users, items, 2)
    >>> ids.tolist(), scores.tolist()
    ([[1, 2]], [[2.0, 1.0]])
    """
    if selection not in ("auto", "compiled"):
        raise ValueError(f"selection must be 'auto' or 'compiled', got {selection!r}")
    user_vectors = _as_float32_matrix(user_vectors, "user_vectors")
    item_vectors = _as_float32_matrix(item_vectors, "item_vectors", check_items)
    n_query, dim = user_vectors.shape
    n_items = item_vectors.shape[0]
    if item_vectors.shape[1] != dim:
        raise ValueError(f"user_vectors have dim {dim} but item_vectors have dim {item_vectors.shape[1]}")
    if item_biases is None:
        biases = np.empty(0, dtype=np.float32)
    else:
        biases = np.asarray(item_biases)
        if biases.shape != (n_items,):
            raise ValueError(f"item_biases has shape {biases.shape} but there are {n_items} items")
        if biases.dtype.kind not in "fiub":
            raise ValueError(f"item_biases must be numeric, got dtype {biases.dtype}")
        biases = np.ascontiguousarray(biases, dtype=np.float32)
        if check_items:
            _check_finite(biases.reshape(-1, 1), "item_biases")

    candidate_items = _candidate_columns(candidates, n_items)
    if candidate_items is None:
        k = _check_k(k, n_items, "items")
        scored_vectors = item_vectors
        item_to_column = np.arange(n_items, dtype=np.int64)
    else:
        k = _check_k(k, len(candidate_items), "candidate items")
        scored_vectors = item_vectors[candidate_items]
        if len(biases):
            biases = biases[candidate_items]
        item_to_column = np.full(n_items, -1, dtype=np.int64)
        item_to_column[candidate_items] = np.arange(len(candidate_items))
    exclude_indptr, exclude_indices = _exclusion_arrays(exclude, n_query, n_items)

    n_columns = scored_vectors.shape[0]
    if block_size is None:
        block_size = default_block_size(n_columns)
    block_size = min(check_integer(block_size, "block_size", low=1), max(n_query, 1))

    out_columns, out_scores = _score_and_select(
        user_vectors,
        scored_vectors.T,
        k,
        biases,
        exclude_indptr,
        exclude_indices,
        item_to_column,
        block_size,
        check_threads(threads),
        ITEM_CHUNK,
        in_numpy=selection == "auto" and n_columns <= ITEM_CHUNK and n_query * n_columns <= NUMPY_SELECTION_MAX_SCORES,
    )
    if candidate_items is None:
        return out_columns, out_scores
    ids = np.where(out_columns >= 0, candidate_items[np.maximum(out_columns, 0)], -1)
    return ids, out_scores


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    # A zero vector has no direction: leaving it at zero gives it cosine 0
    # with everything instead of a division by zero.
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (vectors * scale[:, None]).astype(np.float32)


def cosine_top_k(
    query_vectors: Any,
    vectors: Any,
    k: int,
    exclude_self_indices: Any = None,
    *,
    exclude: Any = None,
    candidates: Any = None,
    block_size: int | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k rows of ``vectors`` most cosine-similar to each query row.

    Used for similar items (queries and vectors both item representations)
    and similar users.

    Parameters
    ----------
    query_vectors : array_like, shape (n_query, dim), float32
    vectors : array_like, shape (n_rows, dim), float32
    k : int
        ``1 <= k <= n_rows`` (``<= len(candidates)`` when given).
    exclude_self_indices : array_like, shape (n_query,), int, optional
        Row of ``vectors`` that is the query itself, never returned for that
        query; -1 for a query that is not among ``vectors``.
    exclude, candidates, block_size, threads
        As in :func:`top_k`; ``exclude`` is combined with the self exclusion.

    Returns
    -------
    ids : ndarray, shape (n_query, k), int64
        Rows of ``vectors``, most similar first, ties broken by the lower
        index; padded with -1 when exclusions leave fewer than k rows (so
        ``k = n_rows`` with self exclusion always pads the last slot).
    similarities : ndarray, shape (n_query, k), float32
        Cosine similarities in ``[-1, 1]`` (up to rounding); ``-inf`` where
        padded.

    Notes
    -----
    A zero vector (query or row) has cosine similarity 0 with every row.
    """
    query_vectors = _as_float32_matrix(query_vectors, "query_vectors")
    vectors = _as_float32_matrix(vectors, "vectors")
    n_query = len(query_vectors)
    n_rows = len(vectors)
    if exclude_self_indices is not None:
        self_rows = np.asarray(exclude_self_indices)
        if self_rows.shape != (n_query,) or self_rows.dtype.kind not in "iu":
            raise ValueError(
                f"exclude_self_indices must be {n_query} integers (one per query row), "
                f"got dtype {self_rows.dtype} and shape {self_rows.shape}"
            )
        self_rows = self_rows.astype(np.int64)
        outside = (self_rows < -1) | (self_rows >= n_rows)
        if outside.any():
            first = int(np.flatnonzero(outside)[0])
            raise ValueError(f"exclude_self_indices[{first}] = {int(self_rows[first])} is outside -1..{n_rows - 1}")
        has_self = (self_rows >= 0).astype(np.int64)
        self_matrix = sp.csr_matrix(
            (
                np.ones(int(has_self.sum()), dtype=np.float32),
                self_rows[self_rows >= 0],
                np.concatenate([[0], np.cumsum(has_self)]),
            ),
            shape=(n_query, n_rows),
        )
        if exclude is None:
            exclude = self_matrix
        else:
            indptr, indices = _exclusion_arrays(exclude, n_query, n_rows)
            given = sp.csr_matrix(
                (np.ones(len(indices), dtype=np.float32), indices, indptr),
                shape=(n_query, n_rows),
            )
            exclude = given + self_matrix
    return top_k(
        _unit_rows(query_vectors),
        _unit_rows(vectors),
        k,
        exclude=exclude,
        candidates=candidates,
        block_size=block_size,
        threads=threads,
    )

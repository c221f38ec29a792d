"""The partial-selection kernel and its numpy twin against a full sort with the same tie rule."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec.kernels import topk, topk_numpy
from tripletrec.kernels.topk import select_top_k

# Tests of one whole-width tile run on the compiled kernel and on its numpy twin.
BOTH = pytest.mark.parametrize("select", [topk.select_top_k, topk_numpy.select_top_k], ids=["compiled", "numpy"])

EMPTY_INDEX = np.empty(0, dtype=np.int64)
EMPTY_FLOAT = np.empty(0, dtype=np.float32)


def reference_select(scores, k, excluded_columns=None):
    """Full sort per row: score descending, then column ascending; pad -1/-inf.

    ``excluded_columns`` is a list (one per row) of columns never to return.
    Columns with a NaN or -inf score are never returned, as documented.
    """
    n_rows, n_columns = scores.shape
    ids = np.full((n_rows, k), -1, dtype=np.int64)
    best = np.full((n_rows, k), -np.inf, dtype=np.float32)
    for row in range(n_rows):
        keep = np.isfinite(scores[row]) | (scores[row] == np.inf)
        if excluded_columns is not None:
            keep[list(excluded_columns[row])] = False
        columns = np.flatnonzero(keep)
        order = np.lexsort((columns, -scores[row, columns]))[:k]
        ids[row, : len(order)] = columns[order]
        best[row, : len(order)] = scores[row, columns[order]]
    return ids, best


def run_kernel(
    scores,
    k,
    *,
    biases=EMPTY_FLOAT,
    indptr=EMPTY_INDEX,
    indices=EMPTY_INDEX,
    item_to_column=None,
    first_query=0,
    n_query=None,
    tile_width=None,
    select=select_top_k,
):
    """Select from ``scores`` with ``select`` in tiles of ``tile_width`` columns, left to right."""
    scores = np.ascontiguousarray(scores, dtype=np.float32).copy()
    n_rows, n_columns = scores.shape
    n_query = n_rows if n_query is None else n_query
    tile_width = tile_width or n_columns
    if item_to_column is None:
        item_to_column = np.arange(n_columns, dtype=np.int64)
    out_ids = np.full((n_query, k), 99, dtype=np.int64)
    out_scores = np.full((n_query, k), 99.0, dtype=np.float32)
    for first_column in range(0, n_columns, tile_width):
        stop_column = min(first_column + tile_width, n_columns)
        tile = np.ascontiguousarray(scores[:, first_column:stop_column])
        select(
            tile,
            first_query,
            first_column,
            biases,
            indptr,
            indices,
            item_to_column,
            k,
            first_column == 0,
            stop_column == n_columns,
            out_ids,
            out_scores,
        )
        scores[:, first_column:stop_column] = tile
    return out_ids, out_scores, scores


def tied_scores(rng, n_rows, n_columns):
    # Few distinct values, so most rows hold ties that the rule must settle.
    return rng.integers(-3, 4, size=(n_rows, n_columns)).astype(np.float32)


@BOTH
def test_known_answer_by_hand(select):
    scores = np.array([[1.0, 3.0, 2.0, 3.0, 0.0]], dtype=np.float32)
    ids, best, _ = run_kernel(scores, 3, select=select)
    # 3.0 twice: the lower column (1) first; then 2.0 at column 2.
    assert ids.tolist() == [[1, 3, 2]]
    assert best.tolist() == [[3.0, 3.0, 2.0]]


@BOTH
@pytest.mark.parametrize("k", [1, 2, 7, 40])
def test_agrees_with_full_sort_on_ties(select, k):
    rng = np.random.default_rng(k)
    scores = tied_scores(rng, 9, 40)
    ids, best, _ = run_kernel(scores, k, select=select)
    expected_ids, expected_best = reference_select(scores, k)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(best, expected_best)


@BOTH
def test_long_rows_cross_many_chunks(select):
    # Rows longer than the vectorised chunk with a ragged tail, continuous scores.
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((5, 1000)).astype(np.float32)
    scores[:, 997] = 10.0  # the best item sits in the unchunked tail
    ids, best, _ = run_kernel(scores, 10, select=select)
    expected_ids, expected_best = reference_select(scores, 10)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(best, expected_best)
    assert (ids[:, 0] == 997).all()


@BOTH
def test_biases_are_added_before_selection(select):
    rng = np.random.default_rng(2)
    scores = tied_scores(rng, 6, 130)
    biases = rng.integers(-2, 3, size=130).astype(np.float32)
    ids, best, _ = run_kernel(scores, 5, biases=biases, select=select)
    expected_ids, expected_best = reference_select(scores + biases, 5)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(best, expected_best)


@BOTH
def test_exclusions_use_the_query_rows_of_the_block(select):
    rng = np.random.default_rng(3)
    n_query, n_columns = 6, 20
    excluded = [rng.choice(n_columns, size=rng.integers(0, 8), replace=False) for _ in range(n_query)]
    indptr = np.concatenate([[0], np.cumsum([len(e) for e in excluded])]).astype(np.int64)
    indices = np.concatenate(excluded).astype(np.int64)
    scores = tied_scores(rng, n_query, n_columns)
    # Only the block of queries 2..4 is passed; results land at those rows.
    ids, best, block = run_kernel(
        scores[2:5], 4, indptr=indptr, indices=indices, first_query=2, n_query=n_query, select=select
    )
    expected_ids, expected_best = reference_select(scores[2:5], 4, excluded[2:5])
    np.testing.assert_array_equal(ids[2:5], expected_ids)
    np.testing.assert_array_equal(best[2:5], expected_best)
    assert (ids[[0, 1, 5]] == 99).all()  # rows outside the block untouched
    # The block is scratch: excluded entries were overwritten in place.
    for offset, row in enumerate(range(2, 5)):
        assert np.all(block[offset, excluded[row]] == -np.inf)


@BOTH
def test_pads_with_minus_one_and_minus_infinity(select):
    scores = np.array([[5.0, 4.0, 3.0, 2.0]], dtype=np.float32)
    indptr = np.array([0, 3], dtype=np.int64)
    indices = np.array([0, 2, 3], dtype=np.int64)
    ids, best, _ = run_kernel(scores, 3, indptr=indptr, indices=indices, select=select)
    assert ids.tolist() == [[1, -1, -1]]
    assert best[0, 0] == 4.0 and np.all(best[0, 1:] == -np.inf)


@BOTH
def test_item_to_column_maps_catalogue_exclusions_to_candidate_columns(select):
    # Two candidate columns hold catalogue items 4 and 7 of 9.
    scores = np.array([[1.0, 2.0]], dtype=np.float32)
    item_to_column = np.full(9, -1, dtype=np.int64)
    item_to_column[[4, 7]] = [0, 1]
    indptr = np.array([0, 2], dtype=np.int64)
    indices = np.array([7, 3], dtype=np.int64)  # item 3 is no candidate: ignored
    ids, best, _ = run_kernel(scores, 2, indptr=indptr, indices=indices, item_to_column=item_to_column, select=select)
    assert ids.tolist() == [[0, -1]]
    assert best[0, 0] == 1.0


@BOTH
def test_nan_and_minus_infinity_scores_are_never_returned(select):
    scores = np.array([[np.nan, 1.0, -np.inf, np.inf, 0.5]], dtype=np.float32)
    ids, best, _ = run_kernel(scores, 5, select=select)
    assert ids.tolist() == [[3, 1, 4, -1, -1]]
    assert best[0, :3].tolist() == [np.inf, 1.0, 0.5]


@BOTH
def test_k_equal_to_row_length_is_a_full_sort(select):
    rng = np.random.default_rng(4)
    scores = tied_scores(rng, 3, 70)
    ids, best, _ = run_kernel(scores, 70, select=select)
    expected_ids, expected_best = reference_select(scores, 70)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(best, expected_best)
    assert sorted(ids[0].tolist()) == list(range(70))


@pytest.mark.parametrize("tile_width", [1, 5, 64, 65, 129])
def test_tiles_left_to_right_equal_one_pass(tile_width):
    # Heaps carried across tiles: ties at tile edges, biases and exclusions
    # offset by each tile's first column.
    rng = np.random.default_rng(tile_width)
    n_query, n_columns = 5, 200
    scores = tied_scores(rng, n_query, n_columns)
    biases = rng.integers(-1, 2, size=n_columns).astype(np.float32)
    excluded = [rng.choice(n_columns, size=30, replace=False) for _ in range(n_query)]
    indptr = np.arange(0, 30 * n_query + 1, 30, dtype=np.int64)
    indices = np.concatenate(excluded).astype(np.int64)
    ids, best, _ = run_kernel(scores, 9, biases=biases, indptr=indptr, indices=indices, tile_width=tile_width)
    expected_ids, expected_best = reference_select(scores + biases, 9, excluded)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(best, expected_best)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 6),
    width=st.integers(1, 150),
    k=st.integers(1, 150),
    n_levels=st.sampled_from([1, 3, 0]),
    special_share=st.sampled_from([0.0, 0.0, 0.1, 0.9]),
    use_biases=st.booleans(),
    exclusion=st.sampled_from(["none", "all columns", "candidates"]),
    first_query=st.integers(0, 2),
)
def test_numpy_twin_matches_the_kernel(
    seed, n_rows, width, k, n_levels, special_share, use_biases, exclusion, first_query
):
    # Ties, NaN and infinite scores, biases, exclusions through a candidate
    # map, rows at an offset: the same columns, scores and tile afterwards.
    rng = np.random.default_rng(seed)
    k = min(k, width)
    shape = (n_rows, width)
    scores = (rng.integers(0, n_levels, shape) if n_levels else rng.normal(size=shape)).astype(np.float32)
    special = rng.random(shape) < special_share
    scores[special] = rng.choice(np.array([np.nan, -np.inf, np.inf], dtype=np.float32), size=int(special.sum()))
    biases = rng.integers(-1, 2, width).astype(np.float32) if use_biases else EMPTY_FLOAT
    n_query = first_query + n_rows + 1
    indptr, indices, item_to_column = EMPTY_INDEX, EMPTY_INDEX, None
    if exclusion != "none":
        n_items = width if exclusion == "all columns" else width + 5
        item_to_column = np.full(n_items, -1, dtype=np.int64)
        item_to_column[np.sort(rng.choice(n_items, width, replace=False))] = np.arange(width)
        excluded = [rng.choice(n_items, rng.integers(0, n_items + 1), replace=False) for _ in range(n_query)]
        indptr = np.concatenate([[0], np.cumsum([len(row) for row in excluded])]).astype(np.int64)
        indices = np.concatenate(excluded).astype(np.int64)
    options = dict(
        biases=biases,
        indptr=indptr,
        indices=indices,
        item_to_column=item_to_column,
        first_query=first_query,
        n_query=n_query,
    )
    compiled = run_kernel(scores, k, **options)
    twin = run_kernel(scores, k, **options, select=topk_numpy.select_top_k)
    np.testing.assert_array_equal(twin[0], compiled[0])
    np.testing.assert_array_equal(twin[1], compiled[1])
    np.testing.assert_array_equal(twin[2], compiled[2])  # NaN compare equal here


def test_numpy_twin_refuses_a_tile_of_a_longer_row():
    scores = np.zeros((1, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="whole row in one tile"):
        run_kernel(scores, 2, tile_width=2, select=topk_numpy.select_top_k)

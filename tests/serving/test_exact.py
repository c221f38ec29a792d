"""Batched top-k and cosine top-k against numpy / scikit-learn references."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import tripletrec.serving.exact as topk_module
from tripletrec.kernels import topk_numpy
from tripletrec.serving.exact import cosine_top_k, default_block_size, top_k

from ..conftest import PATHS, forced_path


def reference_top_k(user_vectors, item_vectors, k, item_biases=None, excluded=None, candidates=None):
    """Full argsort per row: score descending, item index ascending; pad -1/-inf.

    ``excluded`` is a list (one per query row) of item indices never to return.
    """
    scores = user_vectors.astype(np.float32) @ item_vectors.astype(np.float32).T
    if item_biases is not None:
        scores = scores + item_biases.astype(np.float32)
    n_query, n_items = scores.shape
    ids = np.full((n_query, k), -1, dtype=np.int64)
    best = np.full((n_query, k), -np.inf, dtype=np.float32)
    for row in range(n_query):
        keep = np.zeros(n_items, dtype=bool)
        keep[np.arange(n_items) if candidates is None else candidates] = True
        if excluded is not None:
            keep[list(excluded[row])] = False
        items = np.flatnonzero(keep)
        order = np.lexsort((items, -scores[row, items]))[:k]
        ids[row, : len(order)] = items[order]
        best[row, : len(order)] = scores[row, items[order]]
    return ids, best


def as_csr(excluded, n_items):
    indptr = np.concatenate([[0], np.cumsum([len(row) for row in excluded])])
    indices = np.concatenate([np.asarray(row, dtype=np.int64) for row in excluded])
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(excluded), n_items))


def integer_model(seed, n_query=12, n_items=50, dim=3):
    # Small integers: every float32 product and sum is exact, so the blocked
    # BLAS scores equal the reference bit for bit and ties are frequent.
    rng = np.random.default_rng(seed)
    users = rng.integers(-2, 3, size=(n_query, dim)).astype(np.float32)
    items = rng.integers(-2, 3, size=(n_items, dim)).astype(np.float32)
    biases = rng.integers(-1, 2, size=n_items).astype(np.float32)
    excluded = [rng.choice(n_items, size=rng.integers(0, 15), replace=False) for _ in range(n_query)]
    return rng, users, items, biases, excluded


@pytest.mark.usefixtures("path")
def test_known_answer_by_hand():
    users = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    items = np.array([[0.5, 1.0], [2.0, 0.0], [1.0, 3.0]], dtype=np.float32)
    biases = np.array([0.0, 0.0, -1.5], dtype=np.float32)
    ids, scores = top_k(users, items, 2, item_biases=biases)
    # user 0 scores: 0.5, 2.0, -0.5; user 1 scores: 1.0, 0.0, 1.5
    assert ids.tolist() == [[1, 0], [2, 0]]
    assert scores.tolist() == [[2.0, 0.5], [1.5, 1.0]]
    assert ids.dtype == np.int64 and scores.dtype == np.float32


@pytest.mark.usefixtures("path")
@pytest.mark.parametrize("use_biases", [False, True])
@pytest.mark.parametrize("use_exclusions", [False, True])
@pytest.mark.parametrize("use_candidates", [False, True])
def test_agrees_with_argsort_reference(use_biases, use_exclusions, use_candidates):
    rng, users, items, biases, excluded = integer_model(7)
    candidates = rng.choice(50, size=30, replace=False) if use_candidates else None
    k = 6
    ids, scores = top_k(
        users,
        items,
        k,
        item_biases=biases if use_biases else None,
        exclude=as_csr(excluded, 50) if use_exclusions else None,
        candidates=candidates,
        block_size=5,
    )
    expected_ids, expected_scores = reference_top_k(
        users,
        items,
        k,
        item_biases=biases if use_biases else None,
        excluded=excluded if use_exclusions else None,
        candidates=candidates,
    )
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(scores, expected_scores)


@pytest.mark.usefixtures("path")
def test_continuous_scores_match_reference_within_rounding():
    rng = np.random.default_rng(11)
    users = rng.standard_normal((40, 16)).astype(np.float32)
    items = rng.standard_normal((300, 16)).astype(np.float32)
    biases = rng.standard_normal(300).astype(np.float32)
    excluded = [rng.choice(300, size=20, replace=False) for _ in range(40)]
    ids, scores = top_k(users, items, 10, item_biases=biases, exclude=as_csr(excluded, 300), block_size=7)
    expected_ids, expected_scores = reference_top_k(users, items, 10, biases, excluded)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-5)
    # Each returned score is the score of the returned item; nothing excluded.
    full = users @ items.T + biases
    np.testing.assert_allclose(np.take_along_axis(full, ids, axis=1), scores, rtol=1e-5, atol=1e-5)
    for row in range(40):
        assert not set(ids[row]) & set(excluded[row])
    assert np.mean(ids == expected_ids) > 0.99


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_query=st.integers(1, 6),
    n_items=st.integers(1, 30),
    dim=st.integers(1, 4),
    data=st.data(),
)
def test_property_matches_reference(seed, n_query, n_items, dim, data):
    rng = np.random.default_rng(seed)
    users = rng.integers(-3, 4, size=(n_query, dim)).astype(np.float32)
    items = rng.integers(-3, 4, size=(n_items, dim)).astype(np.float32)
    biases = rng.integers(-2, 3, size=n_items).astype(np.float32) if data.draw(st.booleans(), label="biases") else None
    excluded = (
        [rng.choice(n_items, size=rng.integers(0, n_items + 1), replace=False) for _ in range(n_query)]
        if data.draw(st.booleans(), label="exclude")
        else None
    )
    candidates = (
        rng.choice(n_items, size=rng.integers(1, n_items + 1), replace=False)
        if data.draw(st.booleans(), label="candidates")
        else None
    )
    available = n_items if candidates is None else len(candidates)
    k = data.draw(st.integers(1, available), label="k")
    block_size = data.draw(st.integers(1, n_query + 1), label="block_size")
    expected_ids, expected_scores = reference_top_k(users, items, k, biases, excluded, candidates)
    for path in PATHS:
        with forced_path(path):
            ids, scores = top_k(
                users,
                items,
                k,
                item_biases=biases,
                exclude=None if excluded is None else as_csr(excluded, n_items),
                candidates=candidates,
                block_size=block_size,
            )
        np.testing.assert_array_equal(ids, expected_ids, err_msg=path)
        np.testing.assert_array_equal(scores, expected_scores, err_msg=path)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_query=st.integers(1, 40),
    n_items=st.integers(1, 300),
    dim=st.integers(1, 16),
    data=st.data(),
)
def test_numpy_and_compiled_paths_agree(seed, n_query, n_items, dim, data):
    # Continuous scores (rounded by BLAS), some items duplicated so that
    # scores tie exactly, biases, exclusions, candidates and query blocks:
    # both paths score the same tiles and must return the same ids and scores.
    rng = np.random.default_rng(seed)
    users = rng.standard_normal((n_query, dim)).astype(np.float32)
    items = rng.standard_normal((n_items, dim)).astype(np.float32)
    items[rng.random(n_items) < 0.3] = items[0]
    biases = rng.standard_normal(n_items).astype(np.float32) if data.draw(st.booleans(), label="biases") else None
    if biases is not None:
        biases[items[:, 0] == items[0, 0]] = biases[0]
    exclude = (
        as_csr([rng.choice(n_items, size=rng.integers(0, n_items + 1), replace=False) for _ in range(n_query)], n_items)
        if data.draw(st.booleans(), label="exclude")
        else None
    )
    candidates = (
        rng.choice(n_items, size=rng.integers(1, n_items + 1)) if data.draw(st.booleans(), label="candidates") else None
    )
    available = n_items if candidates is None else len(np.unique(candidates))
    k = data.draw(st.integers(1, available), label="k")
    block_size = data.draw(st.sampled_from([None, 1, 7]), label="block_size")
    results = {}
    for path in PATHS:
        with forced_path(path):
            results[path] = top_k(
                users, items, k, item_biases=biases, exclude=exclude, candidates=candidates, block_size=block_size
            )
    np.testing.assert_array_equal(results["numpy"][0], results["compiled"][0])
    np.testing.assert_array_equal(results["numpy"][1], results["compiled"][1])


def test_size_rule_picks_the_path(monkeypatch):
    # queries x scored items up to NUMPY_SELECTION_MAX_SCORES, every item in
    # one tile: numpy; otherwise the compiled kernel.
    calls = []
    for module, name in ((topk_module, "select_top_k"), (topk_numpy, "select_top_k")):
        original = getattr(module, name)

        def spy(*arguments, module=module, original=original):
            calls.append(module)
            original(*arguments)

        monkeypatch.setattr(module, name, spy)
    _, users, items, biases, excluded = integer_model(5, n_query=4, n_items=30)
    exclude = as_csr(excluded, 30)
    monkeypatch.setattr(topk_module, "NUMPY_SELECTION_MAX_SCORES", 4 * 30)
    small = top_k(users, items, 5, item_biases=biases, exclude=exclude)
    assert set(calls) == {topk_numpy}
    calls.clear()
    monkeypatch.setattr(topk_module, "NUMPY_SELECTION_MAX_SCORES", 4 * 30 - 1)
    large = top_k(users, items, 5, item_biases=biases, exclude=exclude)
    assert set(calls) == {topk_module}
    calls.clear()
    monkeypatch.setattr(topk_module, "NUMPY_SELECTION_MAX_SCORES", 10**9)
    monkeypatch.setattr(topk_module, "ITEM_CHUNK", 29)  # the items no longer fit one tile
    chunked = top_k(users, items, 5, item_biases=biases, exclude=exclude)
    assert set(calls) == {topk_module}
    for got in (large, chunked):
        np.testing.assert_array_equal(got[0], small[0])
        np.testing.assert_array_equal(got[1], small[1])


@pytest.mark.usefixtures("path")
def test_batch_equals_single_rows():
    _, users, items, biases, excluded = integer_model(3)
    exclude = as_csr(excluded, 50)
    ids, scores = top_k(users, items, 8, item_biases=biases, exclude=exclude)
    for row in range(len(users)):
        single_ids, single_scores = top_k(users[row : row + 1], items, 8, item_biases=biases, exclude=exclude[row])
        np.testing.assert_array_equal(single_ids[0], ids[row])
        np.testing.assert_array_equal(single_scores[0], scores[row])


@pytest.mark.usefixtures("path")
def test_block_size_does_not_change_the_result():
    rng = np.random.default_rng(5)
    users = rng.standard_normal((37, 8)).astype(np.float32)
    items = rng.standard_normal((90, 8)).astype(np.float32)
    excluded = [rng.choice(90, size=10, replace=False) for _ in range(37)]
    results = [top_k(users, items, 9, exclude=as_csr(excluded, 90), block_size=size) for size in (1, 2, 16, 37, 1000)]
    for ids, scores in results[1:]:
        np.testing.assert_array_equal(ids, results[0][0])
        # One-row blocks may take another BLAS code path: allow the last bit.
        np.testing.assert_allclose(scores, results[0][1], rtol=1e-6)


@pytest.mark.usefixtures("path")
def test_threads_setting_gives_the_same_answer():
    _, users, items, biases, excluded = integer_model(9)
    expected = top_k(users, items, 5, item_biases=biases, exclude=as_csr(excluded, 50))
    got = top_k(users, items, 5, item_biases=biases, exclude=as_csr(excluded, 50), threads=1)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.usefixtures("path")
def test_indptr_indices_pair_and_unsorted_duplicate_csr_equal_plain_csr():
    _, users, items, _, excluded = integer_model(4)
    csr = as_csr(excluded, 50)
    expected = top_k(users, items, 7, exclude=csr)
    pair = top_k(users, items, 7, exclude=(csr.indptr, csr.indices))
    # Reversed column order within rows and every entry stored twice.
    messy_rows = [np.concatenate([row[::-1], row]) for row in excluded]
    messy = top_k(users, items, 7, exclude=as_csr(messy_rows, 50))
    coo = top_k(users, items, 7, exclude=csr.tocoo())
    for got in (pair, messy, coo):
        np.testing.assert_array_equal(got[0], expected[0])


@pytest.mark.usefixtures("path")
def test_k_equal_to_catalogue_and_padding_after_exclusion():
    users = np.array([[1.0], [-1.0]], dtype=np.float32)
    items = np.array([[3.0], [1.0], [2.0]], dtype=np.float32)
    exclude = as_csr([[0, 2], []], 3)
    ids, scores = top_k(users, items, 3, exclude=exclude)
    assert ids.tolist() == [[1, -1, -1], [1, 2, 0]]
    assert scores[0, 0] == 1.0 and np.all(scores[0, 1:] == -np.inf)
    assert scores[1].tolist() == [-1.0, -2.0, -3.0]


@pytest.mark.usefixtures("path")
def test_candidates_return_catalogue_indices_and_ignore_duplicates():
    users = np.array([[1.0]], dtype=np.float32)
    items = np.arange(10, dtype=np.float32)[:, None]
    ids, scores = top_k(users, items, 3, candidates=[2, 7, 5, 7, 0], exclude=as_csr([[5, 9]], 10))
    # 9 is the best item overall but no candidate; 5 is excluded.
    assert ids.tolist() == [[7, 2, 0]]
    assert scores.tolist() == [[7.0, 2.0, 0.0]]


@pytest.mark.usefixtures("path")
def test_ties_are_broken_by_lower_item_index():
    users = np.ones((1, 2), dtype=np.float32)
    items = np.array([[1, 0], [0, 1], [2, 0], [1, 1], [0, 2]], dtype=np.float32)
    ids, scores = top_k(users, items, 4, candidates=[4, 3, 2, 1])
    assert ids.tolist() == [[2, 3, 4, 1]]
    assert scores.tolist() == [[2.0, 2.0, 2.0, 1.0]]


@pytest.mark.usefixtures("path")
def test_no_queries_and_float64_input():
    items = np.eye(4)
    ids, scores = top_k(np.zeros((0, 4)), items, 2)
    assert ids.shape == (0, 2) and scores.shape == (0, 2)
    ids, _ = top_k(np.array([[0.0, 0.0, 1.0, 0.0]]), items, 1)
    assert ids.tolist() == [[2]]


def test_default_block_size_bounds_memory():
    # About 64 MiB of float32 scores per tile, at least 16 queries.
    assert default_block_size(25_000) == 64 * 2**20 // (4 * 25_000) == 671
    assert default_block_size(10) == 64 * 2**20 // 40
    # Huge catalogues are cut into chunks of ITEM_CHUNK items.
    assert default_block_size(10**9) == default_block_size(topk_module.ITEM_CHUNK) == 256


@pytest.mark.parametrize("item_chunk", [1, 7, 64, 65])
def test_item_chunks_do_not_change_the_result(monkeypatch, item_chunk):
    # Tiles narrower than the catalogue, a narrower last tile, ties that
    # straddle tile edges, exclusions and biases in every tile.
    _, users, items, biases, excluded = integer_model(12, n_query=9, n_items=130)
    expected = reference_top_k(users, items, 12, biases, excluded)
    monkeypatch.setattr(topk_module, "ITEM_CHUNK", item_chunk)
    for block_size in (2, 9):
        ids, scores = top_k(users, items, 12, item_biases=biases, exclude=as_csr(excluded, 130), block_size=block_size)
        np.testing.assert_array_equal(ids, expected[0])
        np.testing.assert_array_equal(scores, expected[1])


def test_overlapped_and_sequential_tile_loops_agree():
    _, users, items, biases, excluded = integer_model(13, n_query=20, n_items=40)
    exclude = as_csr(excluded, 40)
    arguments = (
        users,
        items.T,
        5,
        biases,
        exclude.indptr.astype(np.int64),
        exclude.indices.astype(np.int64),
        np.arange(40, dtype=np.int64),
        3,
        2,
        16,
    )
    overlapped = topk_module._score_and_select(*arguments, overlap=True)
    sequential = topk_module._score_and_select(*arguments, overlap=False)
    # The numpy selection needs every item in one tile (item_chunk 40).
    in_numpy = topk_module._score_and_select(*arguments[:-1], 40, in_numpy=True)
    with pytest.raises(ValueError, match="every item in one tile"):
        topk_module._score_and_select(*arguments, in_numpy=True)
    for other in (sequential, in_numpy):
        np.testing.assert_array_equal(overlapped[0], other[0])
        np.testing.assert_array_equal(overlapped[1], other[1])
    np.testing.assert_array_equal(overlapped[0], reference_top_k(users, items, 5, biases, excluded)[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k must be an integer >= 1, got 0"),
        ({"k": -3}, "k must be an integer >= 1"),
        ({"k": 6}, "k=6 is larger than the 5 items"),
        ({"k": 2.0}, "k must be an integer"),
        ({"k": True}, "k must be an integer"),
        ({"k": 3, "candidates": [0, 1]}, "k=3 is larger than the 2 candidate items"),
        ({"candidates": [0, 5]}, r"candidates has 1 item indices outside 0..4 \(e.g. 5\)"),
        ({"candidates": [[0, 1]]}, "candidates must be a 1-dimensional array"),
        ({"item_biases": np.zeros(4)}, r"item_biases has shape \(4,\) but there are 5 items"),
        ({"item_biases": np.array([0, 0, np.nan, 0, 0])}, "item_biases has 1 NaN"),
        ({"exclude": sp.csr_matrix((3, 5))}, r"exclude has shape \(3, 5\) but must be"),
        ({"exclude": (np.array([0, 1]), np.array([0]))}, "exclude indptr has 2 entries"),
        (
            {"exclude": (np.array([0, 1, 1]), np.array([5]))},
            r"exclude has 1 item indices outside 0..4 \(first in row 0\)",
        ),
        ({"exclude": (np.array([0, 2, 1]), np.array([0]))}, "exclude indptr must rise"),
        ({"exclude": [[0]]}, "exclude must be None, a scipy sparse matrix"),
        ({"block_size": 0}, "block_size must be an integer >= 1"),
        ({"threads": 0}, "threads must be an integer >= 1 and <= \\d+ or None, got 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    users = np.ones((2, 3), dtype=np.float32)
    items = np.ones((5, 3), dtype=np.float32)
    kwargs = {"k": 2, **kwargs}
    k = kwargs.pop("k")
    with pytest.raises(ValueError, match=message):
        top_k(users, items, k, **kwargs)


def test_bad_vectors_are_named():
    items = np.ones((5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="user_vectors have dim 2 but item_vectors have dim 3"):
        top_k(np.ones((2, 2)), items, 1)
    with pytest.raises(ValueError, match=r"user_vectors must be 2-dimensional .* shape \(3,\)"):
        top_k(np.ones(3), items, 1)
    bad = np.ones((4, 3))
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"user_vectors has 1 NaN or infinite values \(first in row 2\)"):
        top_k(bad, items, 1)
    with pytest.raises(ValueError, match="item_vectors must be numeric"):
        top_k(np.ones((1, 3)), np.array([["a", "b", "c"]]), 1)


@pytest.mark.usefixtures("path")
def test_cosine_agrees_with_scikit_learn_and_excludes_self():
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(8)
    vectors = rng.standard_normal((60, 5)).astype(np.float32)
    vectors[13] = 0.0  # zero vector: similarity 0 with everything
    queries = np.array([3, 13, 59])
    ids, similarities = cosine_top_k(vectors[queries], vectors, 8, exclude_self_indices=queries, block_size=2)
    reference = cosine_similarity(vectors[queries], vectors)
    for row, query in enumerate(queries):
        assert query not in ids[row]
        others = np.delete(np.arange(60), query)
        order = np.lexsort((others, -reference[row, others]))[:8]
        np.testing.assert_allclose(similarities[row], reference[row, others[order]], atol=1e-6)
    # The zero query: all similarities 0, ties by lower index, itself skipped.
    assert ids[1].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert np.all(similarities[1] == 0.0)
    assert np.all(np.abs(similarities) <= 1.0 + 1e-6)


@pytest.mark.usefixtures("path")
def test_cosine_known_answer_and_scale_invariance():
    vectors = np.array([[1.0, 0.0], [10.0, 0.0], [1.0, 1.0], [0.0, -3.0]], dtype=np.float32)
    ids, similarities = cosine_top_k(vectors[:1], vectors, 3, exclude_self_indices=[0])
    assert ids.tolist() == [[1, 2, 3]]
    np.testing.assert_allclose(similarities, [[1.0, np.sqrt(0.5), 0.0]], atol=1e-6)


@pytest.mark.usefixtures("path")
def test_cosine_pads_when_self_exclusion_leaves_too_few_and_merges_exclude():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    ids, similarities = cosine_top_k(vectors, vectors, 3, exclude_self_indices=[0, 1, -1])
    assert ids[:, -1].tolist() == [-1, -1, 1]  # the third query is not in `vectors`
    assert ids[2].tolist() == [2, 0, 1]
    ids, _ = cosine_top_k(vectors[:1], vectors, 2, exclude_self_indices=[0], exclude=as_csr([[2]], 3))
    assert ids.tolist() == [[1, -1]]


def test_cosine_bad_self_indices_are_named():
    vectors = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"exclude_self_indices\[1\] = 3 is outside -1..2"):
        cosine_top_k(vectors[:2], vectors, 1, exclude_self_indices=[0, 3])
    with pytest.raises(ValueError, match="exclude_self_indices must be 2 integers"):
        cosine_top_k(vectors[:2], vectors, 1, exclude_self_indices=[0])


def test_selection_compiled_gives_the_auto_answer():
    rng = np.random.default_rng(3)
    users = rng.standard_normal((4, 8)).astype(np.float32)
    items = rng.standard_normal((50, 8)).astype(np.float32)
    exclude = (np.array([0, 2, 2, 3, 3]), np.array([1, 4, 7]))
    auto = top_k(users, items, 5, exclude=exclude)
    compiled = top_k(users, items, 5, exclude=exclude, selection="compiled")
    np.testing.assert_array_equal(auto[0], compiled[0])
    np.testing.assert_array_equal(auto[1], compiled[1])
    with pytest.raises(ValueError, match="selection"):
        top_k(users, items, 5, selection="fast")

"""Approximate top-k (faiss HNSW) against the exact path."""

import numpy as np
import pytest
import scipy.sparse as sp

faiss = pytest.importorskip("faiss", reason="the ann extra is not installed (pip install 'tripletrec[ann]')")

from tripletrec.models import MatrixFactorization  # noqa: E402
from tripletrec.serving.approximate import ApproximateIndex  # noqa: E402
from tripletrec.serving.exact import top_k  # noqa: E402


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(3000, 16)).astype(np.float32)
    biases = rng.normal(size=3000).astype(np.float32)
    users = rng.normal(size=(200, 16)).astype(np.float32)
    return users, items, biases


def recall(found, expected):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, expected)])


def test_hnsw_finds_the_exact_top_k_with_the_bias_as_an_extra_dimension(vectors):
    users, items, biases = vectors
    index = ApproximateIndex(items, biases, search_breadth=128, threads=1)
    found, scores = index.search(users, 10)
    expected, expected_scores = top_k(users, items, 10, item_biases=biases)
    assert recall(found, expected) > 0.95
    # The scores of what is returned are exact, best first.
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", users, items[found]) + biases[found], rtol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    # Without the bias the answer would differ: the extra dimension matters.
    unbiased, _ = ApproximateIndex(items, None, search_breadth=128, threads=1).search(users, 10)
    assert recall(unbiased, expected) < 0.9


def test_excluded_items_are_never_returned_and_rows_stay_full(vectors):
    users, items, biases = vectors
    index = ApproximateIndex(items, biases, search_breadth=128, threads=1)
    exact, _ = top_k(users, items, 30, item_biases=biases)
    # Exclude each row's exact top 20: the graph must reach past them.
    exclude = sp.csr_matrix(
        (np.ones(200 * 20), exact[:, :20].ravel(), np.arange(0, 200 * 20 + 1, 20)), shape=(200, 3000)
    )
    found, scores = index.search(users, 10, exclude=exclude)
    assert found.shape == (200, 10) and (found >= 0).all() and np.isfinite(scores).all()
    for row in range(200):
        assert not set(found[row]) & set(exact[row, :20])
    expected, _ = top_k(users, items, 10, item_biases=biases, exclude=exclude)
    assert recall(found, expected) > 0.9


def test_only_rows_whose_exclusions_crowd_the_first_pass_are_searched_again(vectors, monkeypatch):
    users, items, biases = vectors
    index = ApproximateIndex(items, biases, search_breadth=128, threads=1)
    exact, _ = top_k(users, items, 40, item_biases=biases)
    rng = np.random.default_rng(1)
    # Even rows exclude their exact top 30 (the first pass's 2k = 20 items cannot hold 10 others),
    # odd rows exclude 30 random items (rarely among their best: the first pass suffices),
    # and row 1 excludes nothing.
    rows = []
    for row in range(200):
        if row == 1:
            rows.append(np.empty(0, dtype=np.int64))
        elif row % 2 == 0:
            rows.append(np.sort(exact[row, :30]))
        else:
            rows.append(np.sort(rng.choice(np.setdiff1d(np.arange(3000), exact[row, :40]), 30, replace=False)))
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    exclude = (indptr, np.concatenate(rows))
    searched = []
    original = ApproximateIndex._search_rows

    def spy(self, queries, k, row_indptr, excluded, fetch):
        searched.append((len(queries), fetch))
        return original(self, queries, k, row_indptr, excluded, fetch)

    monkeypatch.setattr(ApproximateIndex, "_search_rows", spy)
    found, scores = index.search(users, 10, exclude=exclude)
    # One first pass over all 200 rows fetching 2k, then one over the 100 crowded rows fetching k + 30.
    assert searched == [(200, 20), (100, 40)]
    assert (found >= 0).all() and np.isfinite(scores).all()
    for row in range(200):
        assert not set(found[row]) & set(rows[row])
    expected, _ = top_k(users, items, 10, item_biases=biases, exclude=exclude)
    assert recall(found, expected) > 0.95


def test_candidates_are_answered_exactly(vectors):
    users, items, biases = vectors
    index = ApproximateIndex(items, biases, threads=1)
    candidates = np.arange(0, 3000, 7)
    found = index.search(users, 5, candidates=candidates)
    expected = top_k(users, items, 5, item_biases=biases, candidates=candidates)
    assert np.array_equal(found[0], expected[0])


def test_recommend_approximate_matches_exact_and_the_index_follows_training():
    from tripletrec.data import synthetic

    data = synthetic(500, 2000, 20_000, dim=8, seed=0).interactions
    model = MatrixFactorization(dim=16, epochs=3, seed=0, threads=1).fit(data, progress=False)
    users = data.user_ids.ids[:100]
    exact_ids, exact_scores = model.recommend(users, k=10, exclude=data)
    ids, scores = model.recommend(users, k=10, exclude=data, approximate=True)
    assert recall(ids, exact_ids) > 0.95
    first = model.approximate_index()
    assert model.approximate_index() is first  # built once
    model.fit_partial(data, epochs=1, progress=False)  # moves the vectors in place
    assert model.approximate_index() is not first
    single_ids, _ = model.recommend(users[0], k=10, approximate=True)
    assert single_ids.shape == (10,)


def test_bad_approximate_flag_is_named():
    from tripletrec.data import synthetic

    data = synthetic(50, 100, 500, dim=4, seed=0).interactions
    model = MatrixFactorization(dim=4, epochs=1, seed=0, threads=1).fit(data, progress=False)
    with pytest.raises(ValueError, match="approximate"):
        model.recommend(data.user_ids.ids[:2], approximate="yes")

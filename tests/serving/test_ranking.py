"""The server's ranking: exact float64 top-k, the same for a row alone and in any batch."""

import numpy as np
import pytest

from tripletrec.serving import ranking
from tripletrec.serving.ranking import ItemTable, rank_rows


class _Model:
    def __init__(self, factors, biases):
        self.item_factors_, self.item_biases_ = factors, biases


def _table(n_items=500, dim=16, seed=0, duplicates=0):
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_items, dim)).astype(np.float32)
    biases = rng.standard_normal(n_items).astype(np.float32)
    if duplicates:  # exact ties: the same vector and bias for many items
        factors[-duplicates:] = factors[0]
        biases[-duplicates:] = biases[0]
    return ItemTable.of(_Model(factors, biases))


def _reference(vector, table, k, excluded=None, candidates=None):
    scores = table.factors.astype(np.float64) @ vector.astype(np.float64) + table.biases
    pool = np.arange(len(scores)) if candidates is None else candidates
    if excluded is not None:
        pool = pool[~np.isin(pool, excluded)]
    order = np.lexsort((pool, -scores[pool]))[:k]
    return pool[order], scores[pool][order]


def test_rows_are_exact_and_do_not_depend_on_the_batch():
    table = _table(duplicates=40)
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((33, 16)).astype(np.float32)
    vectors[5] = 0.0  # popularity: only biases, and 41 tied items
    ks = [int(k) for k in rng.integers(1, 60, size=33)]
    exclusions = [rng.choice(500, size=int(rng.integers(0, 30)), replace=False) for _ in range(33)]
    exclusions[3] = None
    batched = rank_rows(vectors, table, ks, exclusions)
    for row in range(33):
        (alone,) = rank_rows(vectors[row : row + 1], table, [ks[row]], [exclusions[row]])
        np.testing.assert_array_equal(alone[0], batched[row][0])
        np.testing.assert_array_equal(alone[1], batched[row][1])
        ids, scores = _reference(vectors[row], table, ks[row], exclusions[row])
        np.testing.assert_array_equal(batched[row][0], ids)
        np.testing.assert_allclose(batched[row][1], scores, rtol=1e-12)


def test_uncertified_rows_fall_back_to_the_same_answer(monkeypatch):
    table = _table(duplicates=100)
    vectors = np.zeros((2, 16), dtype=np.float32)
    vectors[1] = table.factors[0]
    candidates = np.arange(0, 500, 2)
    expected = rank_rows(vectors, table, [5, 5], [None, None], candidates)
    calls = []
    original = ranking._rescore_all
    monkeypatch.setattr(ranking, "MARGIN", 0)
    monkeypatch.setattr(ranking, "_rescore_all", lambda *args: calls.append(1) or original(*args))
    fallback = rank_rows(vectors, table, [5, 5], [None, None], candidates)
    assert calls, "the ties should have needed the full rescoring"
    for (ids, scores), (want_ids, want_scores) in zip(fallback, expected):
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_array_equal(scores, want_scores)
    ids, _ = _reference(vectors[1], table, 5, candidates=candidates)
    np.testing.assert_array_equal(fallback[1][0], ids)


def test_short_rows_hold_what_remains():
    table = _table(n_items=10)
    vector = np.ones((1, 16), dtype=np.float32)
    ((ids, scores),) = rank_rows(vector, table, [8], [np.arange(5)])
    assert sorted(ids.tolist()) == [5, 6, 7, 8, 9] and len(scores) == 5


def test_approximate_rows_match_exact_and_do_not_depend_on_the_batch():
    pytest.importorskip("faiss", reason="the ann extra is not installed (pip install 'tripletrec[ann]')")
    from tripletrec.serving.approximate import ApproximateIndex

    table = _table(n_items=2000, dim=16, seed=3)
    index = ApproximateIndex(table.factors, table.biases, search_breadth=200, threads=1)
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((20, 16)).astype(np.float32)
    ks = [int(k) for k in rng.integers(1, 20, size=20)]
    exclusions = [rng.choice(2000, size=int(rng.integers(0, 10)), replace=False) for _ in range(20)]
    batch = rank_rows(vectors, table, ks, exclusions, approximate=True, index=index)
    hits = 0
    for row in range(20):
        alone = rank_rows(
            vectors[row : row + 1], table, ks[row : row + 1], exclusions[row : row + 1], approximate=True, index=index
        )[0]
        assert np.array_equal(alone[0], batch[row][0]) and np.array_equal(alone[1], batch[row][1])
        expected, _ = _reference(vectors[row], table, ks[row], exclusions[row])
        assert not set(batch[row][0]) & set(exclusions[row])
        hits += len(set(batch[row][0]) & set(expected))
    assert hits / sum(ks) > 0.95


@pytest.mark.parametrize("where", ["factors", "biases"])
def test_item_table_checked_once_when_finite_and_at_each_call_when_not(where):
    table = _table(n_items=8000, dim=8)
    assert table.finite
    vectors = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    # 3 x 8,000 scores: past the numpy selection, the compiled kernel without the per-call check.
    expected = [_reference(vector, table, 5) for vector in vectors]
    for (ids, scores), (want_ids, want_scores) in zip(rank_rows(vectors, table, [5] * 3, [None] * 3), expected):
        assert ids.tolist() == want_ids.tolist()
        np.testing.assert_array_equal(scores, want_scores)
    factors, biases = table.factors.copy(), table.biases.copy()
    (factors if where == "factors" else biases)[7] = np.nan
    broken = ItemTable.of(_Model(factors, biases))
    assert not broken.finite
    with pytest.raises(ValueError, match="NaN or infinite"):
        rank_rows(vectors, broken, [5] * 3, [None] * 3)

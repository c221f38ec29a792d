"""Known answers of the benchmark baselines (benchmarks/baselines.py): EASE, item-kNN, popularity."""

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from baselines import EASE, ItemKNN, Popularity  # noqa: E402


def _matrix(rows, n_items):
    users = [user for user, items in enumerate(rows) for _ in items]
    items = [item for row in rows for item in row]
    return sp.csr_matrix((np.ones(len(items)), (users, items)), shape=(len(rows), n_items))


def test_ease_two_items_by_hand():
    # X = [[1, 1], [1, 0]], lambda = 1: G + I = [[3, 1], [1, 2]], P = [[2, -1], [-1, 3]] / 5,
    # B[0, 1] = -P[0, 1] / P[1, 1] = 1/3 and B[1, 0] = -P[1, 0] / P[0, 0] = 1/2.
    model = EASE(l2=1.0).fit(_matrix([[0, 1], [0]], 2))
    np.testing.assert_allclose(model.weights_, [[0.0, 1 / 3], [1 / 2, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(model.score_indices(np.array([1])), [[0.0, 1 / 3]], rtol=1e-6)


def test_ease_is_the_ridge_regression_of_each_item_on_the_others():
    # Steck's closed form equals, column by column, the ridge fit of item j on the other items.
    random = np.random.default_rng(0)
    dense = (random.random((30, 6)) < 0.4).astype(float)
    l2 = 2.5
    model = EASE(l2=l2).fit(sp.csr_matrix(dense))
    for j in range(6):
        others = [i for i in range(6) if i != j]
        x = dense[:, others]
        expected = np.linalg.solve(x.T @ x + l2 * np.eye(5), x.T @ dense[:, j])
        np.testing.assert_allclose(model.weights_[others, j], expected, rtol=1e-4, atol=1e-6)
        assert model.weights_[j, j] == 0.0


def test_item_knn_cosine_and_pruning_by_hand():
    # Items 0 and 1 have the same users (cosine 1); item 2 shares one of two users with each (cosine 1/2).
    matrix = _matrix([[0, 1], [0, 1, 2], [2]], 3)
    full = ItemKNN(k=2).fit(matrix)
    np.testing.assert_allclose(full.similarity_, [[0, 1, 0.5], [1, 0, 0.5], [0.5, 0.5, 0]], rtol=1e-6)
    np.testing.assert_allclose(full.score_indices(np.array([2])), [[0.5, 0.5, 0.0]], rtol=1e-6)
    # k=1: each item keeps its nearest neighbour (column-wise); item 2's tie goes to item 0.
    pruned = ItemKNN(k=1).fit(matrix)
    np.testing.assert_allclose(pruned.similarity_, [[0, 1, 0.5], [1, 0, 0], [0, 0, 0]], rtol=1e-6)
    np.testing.assert_allclose(pruned.score_indices(np.array([0, 2])), [[1, 1, 0.5], [0, 0, 0]], rtol=1e-6)


def test_item_knn_item_without_users_scores_zero():
    model = ItemKNN(k=5).fit(_matrix([[0], [0, 1]], 3))
    assert np.isfinite(model.similarity_).all()
    np.testing.assert_array_equal(model.similarity_[:, 2], 0.0)


def test_popularity_counts_users_and_ignores_weights():
    matrix = _matrix([[0, 1], [1], [1, 2]], 4)
    matrix.data[:] = 5.0
    scores = Popularity().fit(matrix).score_indices(np.array([0, 2]))
    np.testing.assert_array_equal(scores, [[1, 3, 1, 0], [1, 3, 1, 0]])


@pytest.mark.parametrize("model", [EASE(l2=10.0), ItemKNN(k=2), Popularity()])
def test_baselines_plug_into_evaluate(model):
    from tripletrec import Interactions, evaluate

    train = Interactions.from_scipy(_matrix([[0, 1], [0, 1, 2], [2, 3]], 4))
    test = Interactions.from_scipy(_matrix([[2], [3], [0]], 4))
    result = evaluate(model.fit(train.matrix), test, train=train, k=2, metrics=("auc", "precision"))
    assert result.n_evaluated == 3

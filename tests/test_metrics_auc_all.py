"""The two AUCs: ``auc`` ranks without the training items, ``auc_all`` ranks every item."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tripletrec import Interactions
from tripletrec.metrics import METRIC_NAMES, evaluate

# Every test on both paths: numpy (small workloads) and compiled.
pytestmark = pytest.mark.usefixtures("path")


def _random_split(seed: int, n_users: int = 30, n_items: int = 25):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items))
    train_mask = mask < 0.25
    test_mask = (mask >= 0.25) & (mask < 0.4)
    scores = rng.normal(size=(n_users, n_items))
    # Repeated values make ties, which both AUCs count one half.
    scores[:, ::5] = scores[:, :1]
    users, items = np.nonzero(train_mask)
    train = Interactions.from_indices(users, items, shape=(n_users, n_items))
    users, items = np.nonzero(test_mask)
    test = Interactions.from_indices(users, items, shape=(n_users, n_items))
    return train, test, test_mask, train_mask, scores


def test_auc_all_is_a_metric_name():
    assert "auc_all" in METRIC_NAMES


@pytest.mark.parametrize("seed", [0, 1])
def test_auc_all_counts_training_items_as_negatives_even_with_train(seed):
    train, test, test_mask, train_mask, scores = _random_split(seed)
    result = evaluate(scores, test, train=train, metrics=("auc", "auc_all"))
    assert list(result.means) == ["auc", "auc_all"]
    for position, user in enumerate(result.users):
        every_item = roc_auc_score(test_mask[user], scores[user])
        assert result.per_user["auc_all"][position] == pytest.approx(every_item, abs=1e-12)
        candidates = ~train_mask[user]
        without_train = roc_auc_score(test_mask[user, candidates], scores[user, candidates])
        assert result.per_user["auc"][position] == pytest.approx(without_train, abs=1e-12)
    # Training items are real negatives here, so the two definitions differ.
    assert result["auc_all"] != pytest.approx(result["auc"], abs=1e-6)


def test_auc_and_auc_all_agree_without_train():
    _, test, test_mask, _, scores = _random_split(2)
    result = evaluate(scores, test, metrics=("auc", "auc_all"))
    expected = np.mean([roc_auc_score(test_mask[user], scores[user]) for user in result.users])
    assert result["auc"] == pytest.approx(expected, abs=1e-12)
    assert result["auc_all"] == pytest.approx(expected, abs=1e-12)


def test_auc_all_alone_matches_its_value_among_other_metrics():
    train, test, _, _, scores = _random_split(3)
    alone = evaluate(scores, test, train=train, metrics=("auc_all",))
    together = evaluate(scores, test, train=train, block_size=7, metrics=("precision", "auc_all", "auc"))
    assert alone["auc_all"] == pytest.approx(together["auc_all"], abs=1e-12)
    assert together["auc"] != pytest.approx(together["auc_all"], abs=1e-6)

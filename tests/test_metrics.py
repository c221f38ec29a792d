"""Tests of tripletrec.metrics: hand-computed answers, scikit-learn agreement,
brute force over every tie order, block invariance and input validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, ndcg_score, roc_auc_score

import tripletrec.metrics as metrics_module
from tripletrec import IdMap, Interactions
from tripletrec.kernels import ranking, ranking_numpy
from tripletrec.metrics import (
    METRIC_NAMES,
    Evaluation,
    auc,
    coverage_at_k,
    evaluate,
    hit_rate_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

from .conftest import PATHS, forced_path

LOG2_3 = math.log2(3)


def interactions(rows: list[list[int]], n_items: int) -> Interactions:
    """Interactions whose user ``u`` has the items ``rows[u]``."""
    users = [user for user, items in enumerate(rows) for _ in items]
    items = [item for row in rows for item in row]
    return Interactions.from_indices(users, items, shape=(len(rows), n_items))


def from_mask(mask: np.ndarray) -> Interactions:
    users, items = np.nonzero(mask)
    return Interactions.from_indices(users, items, shape=mask.shape)


class MatrixModel:
    """A model that serves rows of a fixed score matrix and counts its calls."""

    def __init__(self, scores: np.ndarray, **attributes):
        self.scores = scores
        self.calls: list[int] = []
        for name, value in attributes.items():
            setattr(self, name, value)

    def score_indices(self, users: np.ndarray) -> np.ndarray:
        self.calls.append(len(users))
        return self.scores[users]


# --------------------------------------------------------- brute-force reference
def ranked_list_metrics(relevant: np.ndarray, k: int) -> dict[str, float]:
    """Metrics of one fixed ranking; ``relevant`` is in rank order."""
    n_positives = int(relevant.sum())
    top = relevant[:k]
    hits = int(top.sum())
    positions = np.arange(1, len(top) + 1)
    dcg = float(np.sum(top / np.log2(positions + 1)))
    ideal = float(np.sum(1.0 / np.log2(np.arange(1, min(k, n_positives) + 1) + 1)))
    running_hits = np.cumsum(top)
    precision_sum = float(np.sum((running_hits / positions)[top]))
    first = int(np.flatnonzero(relevant)[0]) + 1
    return {
        "precision": hits / k,
        "recall": hits / n_positives,
        "ndcg": dcg / ideal,
        "map": precision_sum / min(k, n_positives),
        "hit_rate": float(hits > 0),
        "mrr": 1.0 / first,
    }


def brute_force_user(row, positive, candidate, k):
    """Every metric of one user, averaged over every order of tied candidates.

    Also returns, per item, the probability of being in the user's top k.
    AUC is counted pair by pair.
    """
    items = np.flatnonzero(candidate)
    scores = row[items]
    groups = [items[scores == value] for value in np.unique(scores)[::-1]]
    totals: dict[str, float] = {}
    in_top = np.zeros(len(row))
    n_orders = 0
    for orders in itertools.product(*(itertools.permutations(group) for group in groups)):
        ranking = np.concatenate([np.asarray(order, dtype=np.int64) for order in orders])
        for name, value in ranked_list_metrics(positive[ranking], k).items():
            totals[name] = totals.get(name, 0.0) + value
        in_top[ranking[:k]] += 1
        n_orders += 1
    result = {name: value / n_orders for name, value in totals.items()}
    positive_scores = row[positive & candidate]
    negative_scores = row[~positive & candidate]
    if len(negative_scores):
        wins = (positive_scores[:, None] > negative_scores[None, :]).sum()
        ties = (positive_scores[:, None] == negative_scores[None, :]).sum()
        result["auc"] = (wins + 0.5 * ties) / (len(positive_scores) * len(negative_scores))
    else:
        result["auc"] = float("nan")
    return result, in_top / n_orders


def brute_force(scores, test_mask, train_mask, k):
    """(per-user metrics of users with a positive, expected coverage)."""
    candidates = ~train_mask
    positives = test_mask & candidates
    per_user = {}
    miss = np.ones(scores.shape[1])
    for user in np.flatnonzero(positives.any(axis=1)):
        values, in_top = brute_force_user(scores[user], positives[user], candidates[user], k)
        per_user[user] = values
        miss *= 1.0 - in_top
    return per_user, float(np.mean(1.0 - miss))


# ------------------------------------------------------------- hand-computed
@pytest.mark.usefixtures("path")
class TestKnownAnswers:
    # Six items ranked in index order; positives at ranks 2 and 4.
    SCORES = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])

    def test_no_ties_k3(self):
        result = evaluate(self.SCORES, interactions([[1, 3]], 6), k=3)
        # Positive at 0.8 beats negatives 0.7, 0.5, 0.4; at 0.6 beats 0.5, 0.4.
        assert result["auc"] == pytest.approx(5 / 8)
        assert result["precision@3"] == pytest.approx(1 / 3)
        assert result["recall@3"] == pytest.approx(1 / 2)
        assert result["ndcg@3"] == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
        # One hit at rank 2 (precision 1/2), divided by min(k, 2) = 2.
        assert result["map@3"] == pytest.approx(1 / 4)
        assert result["hit_rate@3"] == 1.0
        assert result["mrr"] == pytest.approx(1 / 2)
        # One user's top 3 covers items 0, 1, 2 of 6.
        assert result["coverage@3"] == pytest.approx(1 / 2)

    def test_fewer_positives_than_k(self):
        result = evaluate(self.SCORES, interactions([[1, 3]], 6), k=4)
        # Both positives in the top 4: precision keeps the denominator k.
        assert result["precision@4"] == pytest.approx(2 / 4)
        assert result["recall@4"] == pytest.approx(1.0)
        assert result["map@4"] == pytest.approx((1 / 2 + 2 / 4) / 2)
        assert result["ndcg@4"] == pytest.approx((1 / LOG2_3 + 1 / math.log2(5)) / (1 + 1 / LOG2_3))

    def test_train_removed_from_candidates(self):
        train = interactions([[0]], 6)
        result = evaluate(self.SCORES, interactions([[1, 3]], 6), train, k=3)
        # Candidates 1..5: positives now at ranks 1 and 3 among 5.
        assert result["auc"] == pytest.approx(5 / 6)
        assert result["precision@3"] == pytest.approx(2 / 3)
        assert result["recall@3"] == pytest.approx(1.0)
        assert result["map@3"] == pytest.approx((1 + 2 / 3) / 2)
        assert result["mrr"] == pytest.approx(1.0)
        assert result["coverage@3"] == pytest.approx(3 / 6)

    def test_without_train_training_items_are_negatives(self):
        test = interactions([[1, 3]], 6)
        assert auc(self.SCORES, test)[0] == pytest.approx(5 / 8)
        assert auc(self.SCORES, test, interactions([[0]], 6))[0] == pytest.approx(5 / 6)

    def test_test_pair_in_train_is_not_a_positive(self):
        result = evaluate(self.SCORES, interactions([[0, 3]], 6), interactions([[0]], 6), k=2)
        # Only item 3 is a positive: rank 3 among items 1..5.
        assert result["recall@2"] == 0.0
        assert result["mrr"] == pytest.approx(1 / 3)
        assert result["auc"] == pytest.approx(2 / 4)

    def test_fewer_candidates_than_k(self):
        scores = np.array([[0.0, 1.0, 2.0]])
        result = evaluate(scores, interactions([[1]], 3), interactions([[0]], 3), k=3)
        # Candidates 2, 1: a two-item list; precision still divides by k = 3.
        assert result["precision@3"] == pytest.approx(1 / 3)
        assert result["recall@3"] == pytest.approx(1.0)
        assert result["ndcg@3"] == pytest.approx(1 / LOG2_3)
        assert result["map@3"] == pytest.approx(1 / 2)
        assert result["coverage@3"] == pytest.approx(2 / 3)

    def test_all_scores_tied(self):
        scores = np.ones((1, 4))
        result = evaluate(scores, interactions([[2]], 4), k=2)
        assert result["auc"] == pytest.approx(0.5)
        # Each of the 2 places holds the positive with probability 1/4.
        assert result["precision@2"] == pytest.approx(2 * (1 / 4) / 2)
        assert result["recall@2"] == pytest.approx(1 / 2)
        assert result["ndcg@2"] == pytest.approx((1 + 1 / LOG2_3) / 4)
        # Rank 1 w.p. 1/4 (AP 1), rank 2 w.p. 1/4 (AP 1/2).
        assert result["map@2"] == pytest.approx(1 / 4 + 1 / 8)
        assert result["hit_rate@2"] == pytest.approx(1 / 2)
        assert result["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
        # Each item is in the top 2 with probability 1/2.
        assert result["coverage@2"] == pytest.approx(1 / 2)

    def test_tie_group_straddling_the_cut(self):
        # Item 0 first, then items 1, 2 (positives) and 3 tied, then item 4.
        scores = np.array([[5.0, 3.0, 3.0, 3.0, 1.0]])
        test = interactions([[1, 2]], 5)
        at_2 = evaluate(scores, test, k=2)
        # Each positive: beats item 4, ties item 3, loses to item 0.
        assert at_2["auc"] == pytest.approx((1.5 + 1.5) / 6)
        # One place left for a group of 3 holding 2 positives.
        assert at_2["precision@2"] == pytest.approx((2 / 3) / 2)
        assert at_2["recall@2"] == pytest.approx((2 / 3) / 2)
        assert at_2["ndcg@2"] == pytest.approx((2 / 3) / LOG2_3 / (1 + 1 / LOG2_3))
        assert at_2["map@2"] == pytest.approx((2 / 3) * (1 / 2) / 2)
        assert at_2["hit_rate@2"] == pytest.approx(2 / 3)
        # First positive at rank 2 w.p. 2/3, at rank 3 w.p. 1/3.
        assert at_2["mrr"] == pytest.approx(2 / 3 * 1 / 2 + 1 / 3 * 1 / 3)
        # Item 0 surely; items 1, 2, 3 each w.p. 1/3.
        assert at_2["coverage@2"] == pytest.approx((1 + 3 * (1 / 3)) / 5)
        at_3 = evaluate(scores, test, k=3)
        assert at_3["precision@3"] == pytest.approx((4 / 3) / 3)
        # Orders PPN, PNP, NPP at ranks 2-4: precision sums 1/2 + 2/3, 1/2, 1/3.
        assert at_3["map@3"] == pytest.approx(((1 / 2 + 2 / 3) + 1 / 2 + 1 / 3) / 3 / 2)
        assert at_3["hit_rate@3"] == 1.0

    def test_coverage_of_tied_cuts_over_users(self):
        scores = np.array([[4.0, 3.0, 2.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
        one_constant = coverage_at_k(scores[:2], interactions([[3], [3]], 4), k=1)
        # Item 0 surely (user 0); items 1-3 each w.p. 1/4 (user 1).
        assert one_constant == pytest.approx((1 + 3 / 4) / 4)
        two_constant = coverage_at_k(scores[1:], interactions([[3], [3]], 4), k=1)
        # Every item misses both users' top 1 w.p. (3/4)^2.
        assert two_constant == pytest.approx(1 - (3 / 4) ** 2)

    def test_auc_undefined_without_negatives(self):
        scores = np.array([[0.1, 0.2], [0.3, 0.4]])
        result = evaluate(scores, interactions([[0, 1], [1]], 2), k=1)
        assert np.isnan(result.per_user["auc"][0])
        assert result.per_user["auc"][1] == 1.0
        assert result["auc"] == 1.0

    def test_stored_zero_weight_is_a_positive(self):
        test = Interactions.from_indices([0], [1], [0.0], shape=(1, 3))
        assert recall_at_k(np.array([[0.0, 1.0, 0.5]]), test, k=1)[0] == 1.0

    def test_integer_scores_are_accepted(self):
        result = evaluate(np.array([[3, 2, 1]]), interactions([[0]], 3), k=1)
        assert result["precision@1"] == 1.0


# ----------------------------------------------------------- result structure
@pytest.mark.usefixtures("path")
def test_evaluation_structure():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.4], [0.1, 0.2, 0.3]])
    result = evaluate(scores, interactions([[1], [], [0, 2]], 3), k=2)
    assert isinstance(result, Evaluation)
    assert list(result.means) == [
        "auc",
        "precision@2",
        "recall@2",
        "ndcg@2",
        "map@2",
        "hit_rate@2",
        "mrr",
        "coverage@2",
    ]
    assert set(result.per_user) == set(result.means) - {"coverage@2"}
    assert result.users.tolist() == [0, 2]
    assert result.n_skipped == 1
    assert result.n_evaluated == 2
    for values in result.per_user.values():
        assert values.shape == (2,) and values.dtype == np.float64
    assert result["ndcg"] == result["ndcg@2"] == pytest.approx(result.per_user["ndcg@2"].mean())
    with pytest.raises(KeyError, match="no metric 'ndcg@5'"):
        result["ndcg@5"]
    assert "2 users evaluated, 1 skipped" in result.summary()


@pytest.mark.usefixtures("path")
def test_per_metric_functions_match_evaluate():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(8, 12))
    test = from_mask(rng.random((8, 12)) < 0.3)
    train = from_mask(rng.random((8, 12)) < 0.2)
    result = evaluate(scores, test, train, k=4)
    functions = {
        "auc": lambda: auc(scores, test, train),
        "precision@4": lambda: precision_at_k(scores, test, train, k=4),
        "recall@4": lambda: recall_at_k(scores, test, train, k=4),
        "ndcg@4": lambda: ndcg_at_k(scores, test, train, k=4),
        "map@4": lambda: map_at_k(scores, test, train, k=4),
        "hit_rate@4": lambda: hit_rate_at_k(scores, test, train, k=4),
        "mrr": lambda: mrr(scores, test, train),
    }
    skipped = np.setdiff1d(np.arange(8), result.users)
    for key, function in functions.items():
        values = function()
        assert values.shape == (8,)
        np.testing.assert_array_equal(values[result.users], result.per_user[key])
        assert np.isnan(values[skipped]).all()
    assert coverage_at_k(scores, test, train, k=4) == result["coverage@4"]


def test_metrics_subset_and_order():
    scores = np.array([[0.9, 0.1, 0.5]])
    result = evaluate(scores, interactions([[1]], 3), k=1, metrics=("mrr", "auc", "mrr"))
    assert list(result.means) == ["mrr", "auc"]
    assert list(evaluate(scores, interactions([[1]], 3), k=1, metrics="ndcg").means) == ["ndcg@1"]


# ------------------------------------------------------------ scikit-learn
def random_case(seed, n_users, n_items, n_levels, train_share):
    """Scores (tied when n_levels is small), test and train masks."""
    rng = np.random.default_rng(seed)
    if n_levels:
        scores = rng.integers(0, n_levels, (n_users, n_items)).astype(np.float64)
    else:
        scores = rng.normal(size=(n_users, n_items))
    test_mask = rng.random((n_users, n_items)) < 0.3
    train_mask = rng.random((n_users, n_items)) < train_share
    return scores, test_mask, train_mask


case_parameters = dict(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 6),
    n_items=st.integers(2, 25),
    n_levels=st.sampled_from([0, 2, 3, 5]),
    train_share=st.sampled_from([0.0, 0.2, 0.5]),
)


@settings(max_examples=60, deadline=None)
@given(**case_parameters, use_train=st.booleans())
def test_auc_agrees_with_sklearn(seed, n_users, n_items, n_levels, train_share, use_train):
    scores, test_mask, train_mask = random_case(seed, n_users, n_items, n_levels, train_share)
    if not test_mask.any() or (use_train and not (test_mask & ~train_mask).any()):
        return
    train = from_mask(train_mask) if use_train else None
    train_mask = train_mask if use_train else np.zeros_like(train_mask)
    for path in PATHS:
        with forced_path(path):
            check_auc_against_sklearn(auc(scores, from_mask(test_mask), train), scores, test_mask, train_mask)


def check_auc_against_sklearn(ours, scores, test_mask, train_mask):
    for user in range(len(scores)):
        candidates = ~train_mask[user]
        labels = test_mask[user][candidates]
        if not labels.any():
            assert np.isnan(ours[user])
        elif labels.all():
            assert np.isnan(ours[user])  # no negative: undefined
        else:
            expected = roc_auc_score(labels, scores[user][candidates])
            assert abs(ours[user] - expected) <= 1e-9


@settings(max_examples=60, deadline=None)
@given(**case_parameters, k=st.integers(1, 25))
def test_ndcg_agrees_with_sklearn_ties_included(seed, n_users, n_items, n_levels, train_share, k):
    scores, test_mask, train_mask = random_case(seed, n_users, n_items, n_levels, train_share)
    k = min(k, n_items)
    test_mask &= ~train_mask
    if not test_mask.any():
        return
    for path in PATHS:
        with forced_path(path):
            ours = ndcg_at_k(scores, from_mask(test_mask), from_mask(train_mask), k=k)
        for user in np.flatnonzero(test_mask.any(axis=1)):
            candidates = ~train_mask[user]
            if candidates.sum() < 2:
                continue  # scikit-learn refuses a one-item ranking
            # ndcg_score averages gains over tied scores (ignore_ties=False), as we do.
            expected = ndcg_score(
                test_mask[user][candidates][None, :].astype(float),
                scores[user][candidates][None, :],
                k=k,
            )
            assert abs(ours[user] - expected) <= 1e-9, path


@settings(max_examples=60, deadline=None)
@given(**{**case_parameters, "n_levels": st.just(0)})
def test_map_at_n_items_agrees_with_average_precision(seed, n_users, n_items, n_levels, train_share):
    # average_precision_score thresholds tied scores together, which is not an
    # expectation over tie orders: the definitions match only without ties.
    scores, test_mask, train_mask = random_case(seed, n_users, n_items, n_levels, train_share)
    test_mask &= ~train_mask
    if not test_mask.any():
        return
    for path in PATHS:
        with forced_path(path):
            ours = map_at_k(scores, from_mask(test_mask), from_mask(train_mask), k=n_items)
        for user in np.flatnonzero(test_mask.any(axis=1)):
            candidates = ~train_mask[user]
            expected = average_precision_score(test_mask[user][candidates], scores[user][candidates])
            assert abs(ours[user] - expected) <= 1e-9, path


# ------------------------------------------------- brute force over tie orders
@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 4),
    n_items=st.integers(1, 7),
    n_levels=st.sampled_from([1, 2, 3, 0]),
    train_share=st.sampled_from([0.0, 0.3]),
    k=st.integers(1, 7),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_every_metric_equals_the_average_over_tie_orders(seed, n_users, n_items, n_levels, train_share, k, dtype):
    rng = np.random.default_rng(seed)
    k = min(k, n_items)
    if n_levels:
        scores = rng.integers(0, n_levels, (n_users, n_items)).astype(dtype)
    else:
        scores = rng.normal(size=(n_users, n_items)).astype(dtype)
    test_mask = rng.random((n_users, n_items)) < 0.4
    train_mask = rng.random((n_users, n_items)) < train_share
    if not (test_mask & ~train_mask).any():
        return
    expected, expected_coverage = brute_force(scores, test_mask, train_mask, k)
    for path in PATHS:
        with forced_path(path):
            result = evaluate(scores, from_mask(test_mask), from_mask(train_mask), k=k)
        check_against_brute_force(result, expected, expected_coverage, k)


def check_against_brute_force(result, expected, expected_coverage, k):
    assert result.users.tolist() == sorted(expected)
    for name in METRIC_NAMES:
        if name == "auc_all":  # not a default metric; tests/test_metrics_auc_all.py checks it
            continue
        if name == "coverage":
            assert result[name] == pytest.approx(expected_coverage, abs=1e-12)
            continue
        key = f"{name}@{k}" if name not in ("auc", "mrr") else name
        for position, user in enumerate(result.users):
            np.testing.assert_allclose(
                result.per_user[key][position],
                expected[user][name],
                rtol=0,
                atol=1e-12,
                err_msg=f"{key} of user {user}",
            )


@pytest.mark.usefixtures("path")
def test_many_positives_use_the_histogram_path():
    # More positives than SMALL_POSITIVE_COUNT per user, with ties: the
    # compiled kernel's histogram path.
    rng = np.random.default_rng(11)
    scores = rng.integers(0, 6, (3, 60)).astype(np.float32)
    test_mask = rng.random((3, 60)) < 0.6
    train_mask = rng.random((3, 60)) < 0.1
    test_mask &= ~train_mask
    assert test_mask.sum(axis=1).min() > 16
    result = evaluate(scores, from_mask(test_mask), from_mask(train_mask), k=10)
    for position, user in enumerate(result.users):
        candidates = ~train_mask[user]
        labels = test_mask[user][candidates]
        row = scores[user][candidates]
        assert abs(result.per_user["auc"][position] - roc_auc_score(labels, row)) <= 1e-9
        expected_ndcg = ndcg_score(labels[None, :].astype(float), row[None, :], k=10)
        assert abs(result.per_user["ndcg@10"][position] - expected_ndcg) <= 1e-9


# -------------------------------------------------------------- blocks, models
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), block_size=st.integers(1, 12))
def test_block_size_does_not_change_the_result(seed, block_size):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (11, 9)).astype(np.float32)
    test = from_mask(rng.random((11, 9)) < 0.3)
    train = from_mask(rng.random((11, 9)) < 0.2)
    if not (test.matrix.toarray().astype(bool) & ~train.matrix.toarray().astype(bool)).any():
        return
    for path in PATHS:
        with forced_path(path):
            reference = evaluate(scores, test, train, k=3)
            model = MatrixModel(scores)
            blocked = evaluate(model, test, train, k=3, block_size=block_size)
        check_same_evaluation(blocked, reference, exact=True)
        assert max(model.calls) <= block_size
        assert sum(model.calls) == reference.n_evaluated


def check_same_evaluation(got, expected, exact=False):
    """Same users, metric names, means and per-user values (to float precision unless ``exact``)."""
    np.testing.assert_array_equal(got.users, expected.users)
    assert got.n_skipped == expected.n_skipped
    assert list(got.means) == list(expected.means)
    tolerance = {"rtol": 0, "atol": 0} if exact else {"rtol": 1e-12, "atol": 1e-15}
    for key, value in expected.means.items():
        np.testing.assert_allclose(got.means[key], value, **tolerance, err_msg=key)
    assert got.per_user.keys() == expected.per_user.keys()
    for key, values in expected.per_user.items():
        np.testing.assert_allclose(got.per_user[key], values, **tolerance, err_msg=key)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 8),
    n_items=st.integers(1, 40),
    n_levels=st.sampled_from([1, 2, 4, 0]),
    train_share=st.sampled_from([0.0, 0.3, 0.7]),
    test_share=st.sampled_from([0.1, 0.6]),
    k=st.integers(1, 40),
    use_train=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_numpy_and_compiled_paths_agree(seed, n_users, n_items, n_levels, train_share, test_share, k, use_train, dtype):
    # Every metric, auc_all and coverage included, with ties everywhere.
    rng = np.random.default_rng(seed)
    k = min(k, n_items)
    shape = (n_users, n_items)
    scores = (rng.integers(0, n_levels, shape) if n_levels else rng.normal(size=shape)).astype(dtype)
    test_mask = rng.random(shape) < test_share
    train_mask = rng.random(shape) < train_share
    train = from_mask(train_mask) if use_train else None
    positives = test_mask & ~train_mask if use_train else test_mask
    if not positives.any():
        return
    results = {}
    for path in PATHS:
        with forced_path(path):
            results[path] = evaluate(scores, from_mask(test_mask), train, k=k, metrics=METRIC_NAMES)
    check_same_evaluation(results["numpy"], results["compiled"])


def test_size_rule_picks_the_path(monkeypatch):
    # Users with a positive x items: up to _NUMPY_SCORES in numpy, above compiled.
    calls = []

    def spy(module):
        original = module.rank_block

        def rank_block(*arguments):
            calls.append(module)
            original(*arguments)

        monkeypatch.setattr(module, "rank_block", rank_block)

    spy(ranking)
    spy(ranking_numpy)
    scores = np.random.default_rng(0).normal(size=(5, 6))
    test = interactions([[0], [1], [], [2, 3], [4]], 6)  # 4 users with a positive
    monkeypatch.setattr(metrics_module, "_NUMPY_SCORES", 4 * 6)
    small = evaluate(scores, test, k=2)
    assert calls == [ranking_numpy]
    monkeypatch.setattr(metrics_module, "_NUMPY_SCORES", 4 * 6 - 1)
    large = evaluate(scores, test, k=2)
    assert calls == [ranking_numpy, ranking]
    check_same_evaluation(small, large)


def test_model_only_scores_users_with_positives():
    scores = np.arange(12, dtype=np.float32).reshape(4, 3)
    model = MatrixModel(scores, n_items=3, n_users=4)
    evaluate(model, interactions([[0], [], [], [2]], 3), k=1, block_size=10)
    assert model.calls == [2]


def test_default_block_size_bounds_model_calls(monkeypatch):
    import tripletrec.metrics as metrics_module

    monkeypatch.setattr(metrics_module, "_BLOCK_SCORES", 30)
    rng = np.random.default_rng(0)
    model = MatrixModel(rng.normal(size=(40, 10)))
    evaluate(model, from_mask(rng.random((40, 10)) < 0.3), k=2)
    assert max(model.calls) <= 3


@pytest.mark.usefixtures("path")
def test_nan_in_skipped_user_row_is_ignored():
    scores = np.array([[0.2, 0.1], [np.nan, 0.0]])
    result = evaluate(scores, interactions([[0], []], 2), k=1)
    assert result["precision@1"] == 1.0


# ---------------------------------------------------------------- validation
class TestValidation:
    SCORES = np.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]])
    TEST = interactions([[0], [1]], 3)

    def test_train_shape_differs(self):
        with pytest.raises(ValueError, match=r"train and test must have the same shape: train is 2 users x 4"):
            evaluate(self.SCORES, self.TEST, interactions([[0], [1]], 4))

    def test_train_id_maps_differ(self):
        other_users = Interactions.from_indices([0], [1], shape=(2, 3), user_ids=IdMap(["a", "b"]))
        with pytest.raises(ValueError, match="share id maps: their user_ids differ"):
            evaluate(self.SCORES, self.TEST, other_users)
        other_items = Interactions.from_indices([0], [1], shape=(2, 3), item_ids=IdMap([5, 6, 7]))
        with pytest.raises(ValueError, match="share id maps: their item_ids differ"):
            evaluate(self.SCORES, self.TEST, other_items)

    def test_empty_test_set(self):
        with pytest.raises(ValueError, match="test is empty: it has no interactions"):
            evaluate(self.SCORES, Interactions.from_indices([], [], shape=(2, 3)))

    def test_every_test_pair_in_train(self):
        with pytest.raises(ValueError, match="every test pair is also in train"):
            evaluate(self.SCORES, self.TEST, self.TEST, k=1)

    def test_test_not_interactions(self):
        with pytest.raises(ValueError, match="test must be an Interactions, got ndarray"):
            evaluate(self.SCORES, np.ones((2, 3)))

    @pytest.mark.parametrize("k", [0, -1, 4])
    def test_k_out_of_range(self, k):
        with pytest.raises(ValueError, match=rf"k must be an integer >= 1 and <= 3, got {k}"):
            evaluate(self.SCORES, self.TEST, k=k)

    def test_k_not_an_integer(self):
        with pytest.raises(ValueError, match="k must be an integer >= 1 and <= 3, got 2.5"):
            evaluate(self.SCORES, self.TEST, k=2.5)

    def test_unknown_metric(self):
        with pytest.raises(
            ValueError,
            match="unknown metric 'ndgc', 'precision@5'; valid metrics are auc, precision, recall, "
            "ndcg, map, hit_rate, mrr, coverage",
        ):
            evaluate(self.SCORES, self.TEST, k=1, metrics=("auc", "ndgc", "precision@5"))

    def test_no_metric(self):
        with pytest.raises(ValueError, match="metrics is empty"):
            evaluate(self.SCORES, self.TEST, k=1, metrics=())

    def test_score_matrix_wrong_shape(self):
        with pytest.raises(ValueError, match=r"scores has shape \(2, 4\) but test is 2 users x 3 items"):
            evaluate(np.zeros((2, 4)), self.TEST, k=1)

    def test_score_matrix_not_numbers(self):
        with pytest.raises(ValueError, match="scores must be real numbers"):
            evaluate(np.array([["a", "b", "c"], ["d", "e", "f"]]), self.TEST, k=1)

    def test_not_a_model(self):
        with pytest.raises(ValueError, match="must have a score_indices\\(user_indices\\) method or be a score matrix"):
            evaluate("model", self.TEST, k=1)

    def test_model_wrong_shape_attributes(self):
        with pytest.raises(ValueError, match="the model has n_items=4 but test has 3"):
            evaluate(MatrixModel(self.SCORES, n_items=4), self.TEST, k=1)
        with pytest.raises(ValueError, match="the model has n_users=5 but test has 2"):
            evaluate(MatrixModel(self.SCORES, n_users=5), self.TEST, k=1)

    def test_model_id_maps_differ(self):
        with pytest.raises(ValueError, match="the model's item_ids differ from test's item_ids"):
            evaluate(MatrixModel(self.SCORES, item_ids=IdMap([3, 4, 5])), self.TEST, k=1)
        with pytest.raises(ValueError, match="the model's user_ids differ from test's user_ids"):
            evaluate(MatrixModel(self.SCORES, user_ids=IdMap(["x", "y"])), self.TEST, k=1)
        same = MatrixModel(self.SCORES, user_ids=self.TEST.user_ids, item_ids=IdMap([0, 1, 2]))
        assert evaluate(same, self.TEST, k=1)["precision@1"] == 0.5

    def test_model_returns_wrong_shape(self):
        model = MatrixModel(np.zeros((2, 4)))
        with pytest.raises(
            ValueError, match=r"model.score_indices\(users\) returned shape \(2, 4\) for 2 users; expected \(2, 3\)"
        ):
            evaluate(model, self.TEST, k=1)

    @pytest.mark.parametrize("column", [0, 2])
    @pytest.mark.usefixtures("path")
    def test_nan_scores_name_the_user(self, column):
        scores = self.SCORES.copy()
        scores[1, column] = np.nan  # not user 1's positive (item 1)
        with pytest.raises(ValueError, match=r"scores contain NaN for user index 1 \(user id 1\)"):
            evaluate(scores, self.TEST, k=1)

    @pytest.mark.usefixtures("path")
    def test_nan_score_of_a_positive(self):
        scores = self.SCORES.astype(np.float32)
        scores[1, 1] = np.nan
        model = MatrixModel(scores)
        with pytest.raises(ValueError, match=r"scores contain NaN for user index 1 \(user id 1\)"):
            evaluate(model, self.TEST, k=1, block_size=1)

    def test_bad_block_size(self):
        with pytest.raises(ValueError, match="block_size must be an integer >= 1 or None, got 0"):
            evaluate(self.SCORES, self.TEST, k=1, block_size=0)

"""The loss catalogue: known values, finite-difference gradients, names."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec import losses

DIFFERENCES = np.array([-30.0, -3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.0, 30.0])


def finite_difference(function, x, step=1e-6):
    return (function(x + step) - function(x - step)) / (2 * step)


# ------------------------------------------------------------------ names
def test_loss_names_and_codes_are_the_catalogue():
    assert losses.LOSSES == ("bpr", "sigmoid", "hinge", "warp", "warp-kos", "logistic")
    assert [losses.loss_code(name) for name in losses.LOSSES] == list(range(6))
    assert losses.check_loss("warp-kos") == "warp-kos"


@pytest.mark.parametrize("name", ["BPR", "triplet", "", None, 3])
def test_unknown_loss_lists_the_valid_names(name):
    with pytest.raises(ValueError, match=r"loss must be one of bpr, sigmoid, hinge, warp, warp-kos, logistic"):
        losses.loss_code(name)


def test_pairwise_functions_reject_the_pointwise_loss():
    with pytest.raises(ValueError, match="pointwise"):
        losses.pairwise_loss("logistic", 0.0)
    with pytest.raises(ValueError, match="pointwise"):
        losses.pairwise_gradient("logistic", 0.0)


# -------------------------------------------------------- values by hand
def test_bpr_known_values():
    # -log sigmoid(0) = log 2; -log sigmoid(1) = log(1 + e^-1)
    assert losses.bpr_loss(0.0) == pytest.approx(math.log(2.0))
    assert losses.bpr_loss(1.0) == pytest.approx(math.log(1.0 + math.exp(-1.0)))
    assert losses.bpr_gradient(0.0) == pytest.approx(-0.5)
    # Far on the wrong side the loss grows like -d with slope -1, no overflow.
    assert losses.bpr_loss(-800.0) == pytest.approx(800.0)
    assert losses.bpr_gradient(-800.0) == pytest.approx(-1.0)
    assert losses.bpr_loss(800.0) == pytest.approx(0.0)


def test_sigmoid_is_the_seed_loss_not_bpr():
    # 1 - sigmoid(d): 0.5 at 0, and its gradient vanishes far on the wrong
    # side, unlike BPR's.
    assert losses.sigmoid_loss(0.0) == pytest.approx(0.5)
    assert losses.sigmoid_loss(2.0) == pytest.approx(1.0 - 1.0 / (1.0 + math.exp(-2.0)))
    assert losses.sigmoid_gradient(0.0) == pytest.approx(-0.25)
    assert abs(losses.sigmoid_gradient(-40.0)) < 1e-15
    assert losses.bpr_gradient(-40.0) == pytest.approx(-1.0)


def test_hinge_known_values():
    assert losses.hinge_loss(0.25, margin=1.0) == pytest.approx(0.75)
    assert losses.hinge_loss(3.0, margin=1.0) == 0.0
    assert losses.hinge_loss(0.0, margin=0.5) == pytest.approx(0.5)
    assert losses.hinge_gradient(0.25, margin=1.0) == -1.0
    assert losses.hinge_gradient(1.0, margin=1.0) == 0.0  # the kink counts as satisfied
    assert losses.hinge_gradient(1.5, margin=1.0) == 0.0


def test_warp_rank_weight_known_values():
    # 1682 items: 1681 other items; one draw -> rank 1681.
    assert losses.warp_rank_weight(1, 1682) == pytest.approx(math.log(1681))
    assert losses.warp_rank_weight(10, 1682) == pytest.approx(math.log(168))
    assert losses.warp_rank_weight(1681, 1682) == 0.0  # rank 1: no weight
    assert losses.warp_rank_weight(5000, 1682) == 0.0  # more draws than items: rank clamped to 1
    np.testing.assert_allclose(losses.warp_rank_weight([1, 2, 3], 11), np.log([10, 5, 3]))
    with pytest.raises(ValueError, match="draws must be at least 1"):
        losses.warp_rank_weight(0, 10)


def test_warp_loss_is_weighted_hinge():
    assert losses.warp_loss(0.5, 2, 11, margin=1.0) == pytest.approx(math.log(5) * 0.5)
    assert losses.warp_gradient(0.5, 2, 11) == pytest.approx(-math.log(5))
    assert losses.warp_gradient(1.5, 2, 11) == 0.0


def test_kos_positive_picks_the_kth_best():
    scores = [0.1, 0.9, 0.5, 0.7]
    assert losses.kos_positive(scores, 1) == 1
    assert losses.kos_positive(scores, 2) == 3
    assert losses.kos_positive(scores, 4) == 0
    assert losses.kos_positive(scores, 10) == 0  # k beyond n: the worst
    # Ties keep draw order.
    assert losses.kos_positive([0.5, 0.5, 0.5], 2) == 1
    with pytest.raises(ValueError, match="k must be at least 1"):
        losses.kos_positive(scores, 0)
    with pytest.raises(ValueError, match="at least one score"):
        losses.kos_positive([], 1)


def test_logistic_known_values():
    assert losses.logistic_loss(0.0, 1) == pytest.approx(math.log(2.0))
    assert losses.logistic_loss(2.0, -1) == pytest.approx(math.log(1.0 + math.exp(2.0)))
    assert losses.logistic_gradient(0.0, 1) == pytest.approx(-0.5)
    assert losses.logistic_gradient(0.0, -1) == pytest.approx(0.5)
    assert losses.logistic_loss(-900.0, 1) == pytest.approx(900.0)


# -------------------------------------------------- finite differences
@pytest.mark.parametrize("name", ["bpr", "sigmoid"])
def test_smooth_pairwise_gradients_match_finite_differences(name):
    numeric = finite_difference(lambda d: losses.pairwise_loss(name, d), DIFFERENCES)
    np.testing.assert_allclose(losses.pairwise_gradient(name, DIFFERENCES), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["hinge", "warp", "warp-kos"])
def test_hinge_family_gradients_match_finite_differences_off_the_kink(name):
    margin = 0.7
    away_from_kink = DIFFERENCES[np.abs(DIFFERENCES - margin) > 1e-3]
    numeric = finite_difference(lambda d: losses.pairwise_loss(name, d, margin), away_from_kink)
    np.testing.assert_allclose(losses.pairwise_gradient(name, away_from_kink, margin), numeric, atol=1e-8)


def test_warp_gradient_matches_finite_differences():
    away_from_kink = DIFFERENCES[DIFFERENCES != 1.0]
    numeric = finite_difference(lambda d: losses.warp_loss(d, 3, 100, margin=1.0), away_from_kink)
    np.testing.assert_allclose(losses.warp_gradient(away_from_kink, 3, 100, margin=1.0), numeric, atol=1e-7)


@pytest.mark.parametrize("label", [1, -1])
def test_logistic_gradient_matches_finite_differences(label):
    numeric = finite_difference(lambda s: losses.logistic_loss(s, label), DIFFERENCES)
    np.testing.assert_allclose(losses.logistic_gradient(DIFFERENCES, label), numeric, rtol=1e-6, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-50, max_value=50))
def test_bpr_is_the_log_of_the_sigmoid(difference):
    expected = -math.log(1.0 / (1.0 + math.exp(-difference)))
    assert losses.bpr_loss(difference) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert losses.sigmoid_loss(difference) == pytest.approx(1.0 - 1.0 / (1.0 + math.exp(-difference)), abs=1e-12)

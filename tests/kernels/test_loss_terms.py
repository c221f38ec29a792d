"""The float32 loss terms of the training loop against the float64 references."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec import losses
from tripletrec.kernels import loss_terms

PAIRWISE = ["bpr", "sigmoid", "hinge", "warp", "warp-kos"]


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-80, max_value=80), st.sampled_from(PAIRWISE), st.floats(min_value=0, max_value=3))
def test_float32_gradient_and_value_match_the_reference(difference, name, margin):
    difference32, margin32 = np.float32(difference), np.float32(margin)
    gradient, linear, log1p_argument = loss_terms.pair_gradient32(losses.loss_code(name), difference32, margin32)
    # The reference at the float32 inputs: what is left is float32 rounding.
    expected_gradient = float(losses.pairwise_gradient(name, float(difference32), float(margin32)))
    expected_value = float(losses.pairwise_loss(name, float(difference32), float(margin32)))
    value = float(linear) + math.log1p(float(log1p_argument))
    assert gradient == pytest.approx(expected_gradient, rel=2e-6, abs=1e-37)
    assert value == pytest.approx(expected_value, rel=2e-6, abs=1e-37)
    assert 0.0 <= log1p_argument <= 1.0
    if name != "bpr":
        assert log1p_argument == 0.0


def test_float32_bpr_gradient_stays_finite_at_extreme_differences():
    for difference in (-1e30, -1e4, 1e4, 1e30):
        gradient, linear, log1p_argument = loss_terms.pair_gradient32(
            losses.loss_code("bpr"), np.float32(difference), np.float32(1.0)
        )
        assert np.isfinite(gradient) and np.isfinite(linear)
        assert gradient == (-1.0 if difference < 0 else 0.0)
        assert linear == max(-np.float32(difference), 0.0)


@pytest.mark.parametrize("argument", [1.0, 0.25, 1e-9])
def test_log1p_product_folds_before_overflow_and_sums_exactly(argument):
    # 5,000 factors of 2 would be 2**5000: the product must fold into the sum.
    product, total = 1.0, 0.0
    for _ in range(5000):
        product, total = loss_terms.accumulate_log1p(product, total, np.float32(argument))
        assert product <= loss_terms.LOG_PRODUCT_LIMIT * 2.0
    expected = 5000 * math.log1p(float(np.float32(argument)))
    assert total + math.log(product) == pytest.approx(expected, rel=1e-12)

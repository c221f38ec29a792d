"""The torch losses agree with the numpy references of tripletrec.losses, in value and gradient."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed (pip install 'tripletrec[torch]')")

from tripletrec import losses  # noqa: E402
from tripletrec.torch import losses as torch_losses  # noqa: E402

DIFFERENCES = np.array([-30.0, -3.0, -1.0, -0.2, 0.0, 0.3, 0.999, 1.0, 1.5, 4.0, 30.0])


@pytest.mark.parametrize("name", ["bpr", "sigmoid", "hinge"])
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_pairwise_value_and_gradient_match_numpy(name, margin):
    difference = torch.tensor(DIFFERENCES, dtype=torch.float64, requires_grad=True)
    value = torch_losses.pairwise(name, difference, margin)
    value.sum().backward()
    np.testing.assert_allclose(value.detach().numpy(), losses.pairwise_loss(name, DIFFERENCES, margin), rtol=1e-12)
    expected = losses.pairwise_gradient(name, DIFFERENCES, margin)
    # The hinge's kink at d == margin: torch's subgradient there may be either side's.
    smooth = DIFFERENCES != margin
    np.testing.assert_allclose(difference.grad.numpy()[smooth], expected[smooth], rtol=1e-12, atol=1e-15)


def test_logistic_value_and_gradient_match_numpy():
    rng = np.random.default_rng(0)
    positive_np = rng.normal(size=8) * 3
    negatives_np = rng.normal(size=(8, 3)) * 3
    positive = torch.tensor(positive_np, requires_grad=True)
    negatives = torch.tensor(negatives_np, requires_grad=True)
    value = torch_losses.logistic(positive, negatives)
    value.sum().backward()
    expected = losses.logistic_loss(positive_np, 1) + losses.logistic_loss(negatives_np, -1).mean(axis=1)
    np.testing.assert_allclose(value.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(positive.grad.numpy(), losses.logistic_gradient(positive_np, 1), rtol=1e-12)
    np.testing.assert_allclose(negatives.grad.numpy(), losses.logistic_gradient(negatives_np, -1) / 3, rtol=1e-12)


def test_warp_steps_on_the_first_violator_with_the_sequential_rank_weight():
    n_items = 1000
    rng = np.random.default_rng(1)
    positive_np = rng.normal(size=64) * 2
    positive_np[:16] += 20.0  # well ranked: no violator among their draws
    negatives_np = rng.normal(size=(64, 10)) * 2
    positive = torch.tensor(positive_np, requires_grad=True)
    negatives = torch.tensor(negatives_np, requires_grad=True)
    value = torch_losses.warp(positive, negatives, n_items, margin=1.0)
    value.sum().backward()
    expected_value = np.zeros(64)
    expected_positive_grad = np.zeros(64)
    expected_negative_grad = np.zeros((64, 10))
    # The numpy reference of the sequential search: draw by draw until one violates.
    for row in range(64):
        for draw in range(10):
            difference = positive_np[row] - negatives_np[row, draw]
            if difference < 1.0:
                expected_value[row] = losses.warp_loss(difference, draw + 1, n_items)
                gradient = losses.warp_gradient(difference, draw + 1, n_items)
                expected_positive_grad[row] = gradient
                expected_negative_grad[row, draw] = -gradient
                break
    assert (expected_value > 0).any() and (expected_value == 0).any()  # both cases occur
    np.testing.assert_allclose(value.detach().numpy(), expected_value, rtol=1e-12)
    np.testing.assert_allclose(positive.grad.numpy(), expected_positive_grad, rtol=1e-12)
    np.testing.assert_allclose(negatives.grad.numpy(), expected_negative_grad, rtol=1e-12)


def test_batch_loss_averages_pairwise_losses_over_negatives():
    positive = torch.tensor([0.5, -1.0], dtype=torch.float64)
    negatives = torch.tensor([[0.0, 1.0], [2.0, -2.0]], dtype=torch.float64)
    value = torch_losses.batch_loss("bpr", positive, negatives, n_items=10)
    expected = losses.bpr_loss(np.array([[0.5, -0.5], [-3.0, 1.0]])).mean(axis=1)
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-12)


def test_unknown_pairwise_loss_is_named():
    with pytest.raises(ValueError, match="unknown loss 'softmax'"):
        torch_losses.pairwise("softmax", torch.zeros(2))


@pytest.mark.parametrize("with_mask", [False, True])
def test_sampled_softmax_value_and_gradient_match_numpy(with_mask):
    rng = np.random.default_rng(2)
    logits_np = rng.normal(size=(6, 6)) * 3
    log_q_np = np.log(rng.dirichlet(np.ones(6)))
    targets_np = np.arange(6)
    mask_np = np.zeros((6, 6), dtype=bool)
    if with_mask:
        mask_np[0, 3] = mask_np[3, 0] = True  # rows 0 and 3 share their positive
    logits = torch.tensor(logits_np, requires_grad=True)
    value = torch_losses.sampled_softmax(
        logits, torch.tensor(log_q_np), torch.tensor(targets_np), torch.tensor(mask_np) if with_mask else None
    )
    value.sum().backward()
    mask = mask_np if with_mask else None
    np.testing.assert_allclose(
        value.detach().numpy(), losses.sampled_softmax_loss(logits_np, log_q_np, targets_np, mask), rtol=1e-12
    )
    expected = losses.sampled_softmax_gradient(logits_np, log_q_np, targets_np, mask)
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-10, atol=1e-14)
    if with_mask:
        assert logits.grad[0, 3] == 0 and logits.grad[3, 0] == 0


def test_sampled_softmax_reference_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 5))
    log_q = np.log(rng.dirichlet(np.ones(5)))
    targets = np.array([4, 0, 2])
    analytic = losses.sampled_softmax_gradient(logits, log_q, targets)
    numeric = np.zeros_like(logits)
    step = 1e-6
    for row in range(3):
        for column in range(5):
            up, down = logits.copy(), logits.copy()
            up[row, column] += step
            down[row, column] -= step
            difference = losses.sampled_softmax_loss(up, log_q, targets) - losses.sampled_softmax_loss(
                down, log_q, targets
            )
            numeric[row, column] = difference.sum() / (2 * step)
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)

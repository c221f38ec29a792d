"""The fold-in kernel against numpy references: one step, and a whole user's fit."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from tripletrec import losses
from tripletrec.kernels import fold_in
from tripletrec.kernels.training import (
    ADAGRAD_INITIAL_ACCUMULATOR,
    ADAM_BETA1,
    ADAM_BETA2,
    ADAM_EPSILON,
    OPTIMIZER_CODES,
    random_below,
)
from tripletrec.losses import LOSS_CODES
from tripletrec.sampling import SAMPLER_CODES, UNSEEN_MAX_DRAWS

OPTIMIZERS = ("sgd", "adagrad", "adam", "rowwise-adagrad")


# ------------------------------------------------------------ references
def reference_update(user, first, second, adam_steps, direction, gradient, optimizer, learning_rate, l2, anchor=0.0):
    """The optimizer step on ``gradient * direction + l2 * (user - anchor)``, float64, in place."""
    step_gradient = gradient * direction.astype(np.float64) + l2 * (user.astype(np.float64) - anchor)
    if optimizer == "sgd":
        user[:] = user - learning_rate * step_gradient
    elif optimizer == "adagrad":
        second[:] = second + step_gradient**2
        user[:] = user - learning_rate * step_gradient / np.sqrt(second.astype(np.float64))
    elif optimizer == "rowwise-adagrad":
        # One sum for the row, held in second[0] (the rest of the array unused).
        second[0] = second[0] + np.mean(step_gradient**2)
        user[:] = user - learning_rate * step_gradient / np.sqrt(np.float64(second[0]))
    else:
        adam_steps += 1
        rate = learning_rate * math.sqrt(1 - ADAM_BETA2**adam_steps) / (1 - ADAM_BETA1**adam_steps)
        first[:] = ADAM_BETA1 * first + (1 - ADAM_BETA1) * step_gradient
        second[:] = ADAM_BETA2 * second + (1 - ADAM_BETA2) * step_gradient**2
        user[:] = user - rate * first / (np.sqrt(second.astype(np.float64)) + ADAM_EPSILON)
    return adam_steps


def reference_pair_step(
    user,
    first,
    second,
    adam_steps,
    positive,
    positive_bias,
    negative,
    negative_bias,
    weight,
    rank_weight,
    loss,
    margin,
    optimizer,
    learning_rate,
    l2,
    anchor=0.0,
):
    """One fold-in step of a pairwise loss, from :mod:`tripletrec.losses`' formulas."""
    direction = positive.astype(np.float64) - negative
    difference = float(user.astype(np.float64) @ direction) + positive_bias - negative_bias
    value = float(losses.pairwise_loss(loss, difference, margin))
    gradient = float(losses.pairwise_gradient(loss, difference, margin))
    scale = weight * rank_weight
    if gradient != 0.0:
        adam_steps = reference_update(
            user, first, second, adam_steps, direction, scale * gradient, optimizer, learning_rate, l2, anchor
        )
    return scale * value, adam_steps


def reference_point_step(
    user, first, second, adam_steps, item, item_bias, label, weight, optimizer, learning_rate, l2, anchor=0.0
):
    score = float(user.astype(np.float64) @ item) + item_bias
    value = float(losses.logistic_loss(score, label))
    gradient = float(losses.logistic_gradient(score, label))
    adam_steps = reference_update(
        user, first, second, adam_steps, item, weight * gradient, optimizer, learning_rate, l2, anchor
    )
    return weight * value, adam_steps


def step_inputs(seed, dim=6):
    random = np.random.default_rng(seed)
    vectors = random.normal(0, 0.5, (3, dim)).astype(np.float32)
    biases = random.normal(0, 0.3, 2).astype(np.float32)
    first = random.normal(0, 0.1, dim).astype(np.float32)
    second = random.uniform(0.05, 0.5, dim).astype(np.float32)
    return vectors, biases, first, second


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss, rank_weight", [("bpr", 1.0), ("sigmoid", 1.0), ("hinge", 1.0), ("warp", 2.3)])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("anchored", [False, True])
def test_pair_step_matches_the_numpy_reference(optimizer, loss, rank_weight, seed, anchored):
    (user, positive, negative), (positive_bias, negative_bias), first, second = step_inputs(seed)
    # L2 pulls the user towards its anchor (a hybrid's feature vector; zeros otherwise).
    anchor = (positive * 0.7 if anchored else np.zeros_like(user)).astype(np.float32)
    arguments = (
        np.float32(1.7),
        rank_weight,
        LOSS_CODES["hinge" if loss == "warp" else loss],
        1.0,
        fold_in.StepRule(OPTIMIZER_CODES[optimizer], np.float32(0.1), np.float32(0.03)),
    )
    kernel_state = [user.copy(), first.copy(), second.copy()]
    value, steps = fold_in.pair_step(
        fold_in.UserState(*kernel_state, anchor),
        np.int64(4),
        positive,
        positive_bias,
        negative,
        negative_bias,
        *arguments,
    )
    reference_state = [array.astype(np.float64) for array in (user, first, second)]
    expected_value, expected_steps = reference_pair_step(
        *reference_state,
        4,
        positive,
        float(positive_bias),
        negative,
        float(negative_bias),
        1.7,
        rank_weight,
        "hinge" if loss == "warp" else loss,
        1.0,
        optimizer,
        0.1,
        0.03,
        anchor.astype(np.float64),
    )
    assert steps == expected_steps
    np.testing.assert_allclose(value, expected_value, rtol=1e-5)
    for found, expected in zip(kernel_state, reference_state):
        np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(kernel_state[0], user)  # the step moved the user


def test_pair_step_without_gradient_changes_nothing():
    user = np.array([1.0, 0.0], dtype=np.float32)
    positive = np.array([3.0, 0.0], dtype=np.float32)
    negative = np.zeros(2, dtype=np.float32)
    first, second = np.zeros(2, dtype=np.float32), np.ones(2, dtype=np.float32)
    # hinge with d = 3 > margin 1: zero loss, zero gradient, no L2 either.
    value, steps = fold_in.pair_step(
        fold_in.UserState(user, first, second, np.zeros(2, dtype=np.float32)),
        np.int64(0),
        positive,
        np.float32(0),
        negative,
        np.float32(0),
        np.float32(1),
        1.0,
        LOSS_CODES["hinge"],
        1.0,
        fold_in.StepRule(OPTIMIZER_CODES["adam"], np.float32(0.1), np.float32(0.5)),
    )
    assert value == 0.0 and steps == 0
    assert user.tolist() == [1.0, 0.0] and second.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("label", [1.0, -1.0])
@pytest.mark.parametrize("anchored", [False, True])
def test_point_step_matches_the_numpy_reference(optimizer, label, anchored):
    (user, item, anchor), (item_bias, _), first, second = step_inputs(7)
    anchor = anchor if anchored else np.zeros_like(anchor)
    kernel_state = [user.copy(), first.copy(), second.copy()]
    value, steps = fold_in.point_step(
        fold_in.UserState(*kernel_state, anchor),
        np.int64(0),
        item,
        item_bias,
        label,
        np.float32(0.8),
        fold_in.StepRule(OPTIMIZER_CODES[optimizer], np.float32(0.2), np.float32(0.01)),
    )
    reference_state = [array.astype(np.float64) for array in (user, first, second)]
    expected_value, expected_steps = reference_point_step(
        *reference_state, 0, item, float(item_bias), label, 0.8, optimizer, 0.2, 0.01, anchor.astype(np.float64)
    )
    assert steps == expected_steps
    np.testing.assert_allclose(value, expected_value, rtol=1e-5)
    for found, expected in zip(kernel_state, reference_state):
        np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------- whole fold-in
def below(state, bound):
    """The kernel's ``random_below``, keeping the state a numpy uint64 between calls."""
    state, value = random_below(np.uint64(state), np.uint64(bound))
    return np.uint64(state), int(value)


def reference_fold_in_user(
    user,
    indptr,
    indices,
    weights,
    item_factors,
    item_biases,
    seed,
    loss,
    sampler,
    optimizer,
    n_negatives,
    max_sampled,
    kos_k,
    kos_n,
    epochs,
    learning_rate,
    l2,
    margin,
    use_weights,
):
    """Fold in one user in plain numpy, drawing the kernel's random numbers.

    The same algorithm as :func:`tripletrec.kernels.fold_in.fold_in_users`
    (shuffle, draws, warp's search, kos choice, suffix averaging), with the
    steps of the references above in float64.
    """
    start, stop = int(indptr[user]), int(indptr[user + 1])
    count = stop - start
    dim = item_factors.shape[1]
    vector = np.zeros(dim)
    if count == 0:
        return vector
    first = np.zeros(dim)
    second = np.full(dim, ADAGRAD_INITIAL_ACCUMULATOR) if "adagrad" in optimizer else np.zeros(dim)
    adam_steps = 0
    n_items = len(item_factors)
    state = np.uint64(fold_in.user_random_state(np.uint64(seed), np.uint64(user)))
    visit = list(range(start, stop))
    user_items = set(indices[start:stop].tolist())
    vector_sum = np.zeros(dim)

    def draw():
        nonlocal state
        state, item = below(state, n_items)
        draws = 1
        while sampler == "unseen" and draws < UNSEEN_MAX_DRAWS and int(item) in user_items:
            state, item = below(state, n_items)
            draws += 1
        return int(item)

    def score(item):
        return float(vector @ item_factors[item]) + float(item_biases[item])

    for epoch in range(epochs):
        for slot in range(count - 1, 0, -1):
            state, other = below(state, slot + 1)
            visit[slot], visit[other] = visit[other], visit[slot]
        for position in visit:
            weight = float(weights[position]) if use_weights else 1.0
            if weight == 0.0:
                continue
            positive = int(indices[position])
            if loss in ("warp", "warp-kos"):
                if loss == "warp-kos":
                    drawn = []
                    for _ in range(min(kos_n, count)):
                        state, offset = below(state, count)
                        drawn.append(start + int(offset))
                    chosen = drawn[losses.kos_positive([score(indices[p]) for p in drawn], kos_k)]
                    positive = int(indices[chosen])
                    weight = float(weights[chosen]) if use_weights else 1.0
                    if weight == 0.0:
                        continue
                for draws in range(1, max_sampled + 1):
                    negative = draw()
                    if score(positive) - score(negative) < margin:
                        rank_weight = float(losses.warp_rank_weight(draws, n_items))
                        _, adam_steps = reference_pair_step(
                            vector,
                            first,
                            second,
                            adam_steps,
                            item_factors[positive],
                            float(item_biases[positive]),
                            item_factors[negative],
                            float(item_biases[negative]),
                            weight,
                            rank_weight,
                            "hinge",
                            margin,
                            optimizer,
                            learning_rate,
                            l2,
                        )
                        break
            elif loss == "logistic":
                _, adam_steps = reference_point_step(
                    vector,
                    first,
                    second,
                    adam_steps,
                    item_factors[positive],
                    float(item_biases[positive]),
                    1.0,
                    weight,
                    optimizer,
                    learning_rate,
                    l2,
                )
                for _ in range(n_negatives):
                    negative = draw()
                    _, adam_steps = reference_point_step(
                        vector,
                        first,
                        second,
                        adam_steps,
                        item_factors[negative],
                        float(item_biases[negative]),
                        -1.0,
                        weight,
                        optimizer,
                        learning_rate,
                        l2,
                    )
            else:
                for _ in range(n_negatives):
                    negative = draw()
                    _, adam_steps = reference_pair_step(
                        vector,
                        first,
                        second,
                        adam_steps,
                        item_factors[positive],
                        float(item_biases[positive]),
                        item_factors[negative],
                        float(item_biases[negative]),
                        weight,
                        1.0,
                        loss,
                        margin,
                        optimizer,
                        learning_rate,
                        l2,
                    )
        if epoch >= epochs // 2:
            vector_sum += vector
    return vector_sum / (epochs - epochs // 2)


def small_problem(seed=0, n_new=4, n_items=30, dim=5):
    random = np.random.default_rng(seed)
    item_factors = random.normal(0, 0.4, (n_items, dim)).astype(np.float32)
    item_biases = random.normal(0, 0.2, n_items).astype(np.float32)
    counts = np.array([6, 0, 3, 9][:n_new])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate([np.sort(random.choice(n_items, count, replace=False)) for count in counts])
    weights = random.choice([0.0, 0.5, 1.0, 2.0], size=len(indices), p=[0.15, 0.25, 0.4, 0.2]).astype(np.float32)
    return indptr, indices.astype(np.int32), weights, item_factors, item_biases


def run_kernel(
    indptr,
    indices,
    weights,
    item_factors,
    item_biases,
    *,
    seed,
    loss,
    sampler,
    optimizer,
    n_negatives=2,
    max_sampled=10,
    kos_k=2,
    kos_n=3,
    epochs=4,
    learning_rate=0.1,
    l2=0.02,
    margin=1.0,
    use_weights=True,
):
    n_new, dim = len(indptr) - 1, item_factors.shape[1]
    user_factors = np.zeros((n_new, dim), dtype=np.float32)
    epoch_losses = np.zeros((n_new, epochs))
    with np.errstate(over="ignore"):
        fold_in.fold_in_users(
            # Keys 0, 1, ...: the numpy twin starts user u's generator from key u.
            fold_in.NewUsers(
                indptr, indices, weights, np.zeros((n_new, dim), dtype=np.float32), np.arange(n_new, dtype=np.uint64)
            ),
            fold_in.FrozenItems(item_factors, item_biases),
            user_factors,
            fold_in.FoldInScratch(
                np.zeros((n_new, dim), dtype=np.float32),
                np.zeros((n_new, dim), dtype=np.float32),
                np.zeros((n_new, dim)),
                np.empty(len(indices), dtype=np.int64),
                np.zeros((n_new, kos_n), dtype=np.float32),
                np.zeros((n_new, kos_n), dtype=np.int64),
            ),
            epoch_losses,
            fold_in.FoldInSettings(
                np.uint64(seed),
                LOSS_CODES[loss],
                SAMPLER_CODES[sampler],
                OPTIMIZER_CODES[optimizer],
                n_negatives,
                max_sampled,
                UNSEEN_MAX_DRAWS,
                kos_k,
                kos_n,
                epochs,
                np.float32(learning_rate),
                np.float32(l2),
                np.float64(margin),
                use_weights,
            ),
        )
    return user_factors, epoch_losses


@pytest.mark.parametrize(
    "loss, sampler, optimizer",
    [(loss, "uniform", "adagrad") for loss in losses.LOSSES]
    + [
        ("bpr", "unseen", "sgd"),
        ("warp", "unseen", "adam"),
        ("logistic", "uniform", "adam"),
        ("hinge", "unseen", "sgd"),
    ],
)
def test_fold_in_users_matches_the_numpy_reference(loss, sampler, optimizer):
    problem = small_problem()
    found, _ = run_kernel(*problem, seed=11, loss=loss, sampler=sampler, optimizer=optimizer)
    indptr, indices, weights, item_factors, item_biases = problem
    with np.errstate(over="ignore"):
        expected = np.array(
            [
                reference_fold_in_user(
                    user,
                    indptr,
                    indices,
                    weights,
                    item_factors,
                    item_biases,
                    11,
                    loss,
                    sampler,
                    optimizer,
                    2,
                    10,
                    2,
                    3,
                    4,
                    0.1,
                    0.02,
                    1.0,
                    True,
                )
                for user in range(len(indptr) - 1)
            ]
        )
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)
    assert not found[1].any() and found[0].any()  # the user without items keeps its zero start


def test_results_do_not_depend_on_the_number_of_threads():
    problem = small_problem(seed=3)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one, one_losses = run_kernel(*problem, seed=2, loss="warp", sampler="uniform", optimizer="adagrad")
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many, many_losses = run_kernel(*problem, seed=2, loss="warp", sampler="uniform", optimizer="adagrad")
    finally:
        numba.set_num_threads(previous)
    assert np.array_equal(one, many) and np.array_equal(one_losses, many_losses)


def test_item_parameters_are_only_read():
    indptr, indices, weights, item_factors, item_biases = small_problem()
    before = item_factors.copy(), item_biases.copy()
    run_kernel(
        indptr, indices, weights, item_factors, item_biases, seed=0, loss="bpr", sampler="uniform", optimizer="sgd"
    )
    assert np.array_equal(item_factors, before[0]) and np.array_equal(item_biases, before[1])


def test_the_epoch_loss_goes_down():
    indptr, indices, weights, item_factors, item_biases = small_problem(seed=5)
    _, epoch_losses = run_kernel(
        indptr,
        indices,
        weights,
        item_factors,
        item_biases,
        seed=0,
        loss="bpr",
        sampler="uniform",
        optimizer="adagrad",
        epochs=30,
        n_negatives=5,
    )
    trained = np.diff(indptr) > 0
    assert np.all(epoch_losses[trained, -5:].mean(axis=1) < epoch_losses[trained, :5].mean(axis=1))
    assert not epoch_losses[~trained].any()


def test_user_random_states_are_distinct_non_zero_and_reproducible():
    with np.errstate(over="ignore"):
        states = [int(fold_in.user_random_state(np.uint64(9), np.uint64(position))) for position in range(1000)]
        again = int(fold_in.user_random_state(np.uint64(9), np.uint64(17)))
        other_seed = int(fold_in.user_random_state(np.uint64(10), np.uint64(17)))
    assert len(set(states)) == 1000 and 0 not in states
    assert again == states[17] and other_seed != states[17]

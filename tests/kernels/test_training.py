"""The training kernel against numpy references: RNG, losses, one update per loss x optimizer."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec import losses, sampling
from tripletrec.kernels import training

MASK64 = (1 << 64) - 1
PAIRWISE = ["bpr", "sigmoid", "hinge", "warp", "warp-kos"]


# ------------------------------------------------------------ generator
def reference_xorshift64star(state):
    state ^= state >> 12
    state ^= (state << 25) & MASK64
    state ^= state >> 27
    return state, (state * 0x2545F4914F6CDD1D) & MASK64


@pytest.mark.parametrize("seed", [1, 0x9E3779B97F4A7C15, MASK64])
def test_xorshift64star_matches_integer_reference(seed):
    state = np.uint64(seed)
    expected_state = seed
    with np.errstate(over="ignore"):
        for _ in range(5):
            state, output = training.xorshift64star(np.uint64(state))
            expected_state, expected_output = reference_xorshift64star(expected_state)
            assert int(state) == expected_state
            assert int(output) == expected_output


def test_random_below_is_multiply_shift_of_the_high_bits():
    with np.errstate(over="ignore"):
        state = np.uint64(42)
        _, bits = reference_xorshift64star(42)
        new_state, value = training.random_below(state, np.uint64(1682))
    assert value == ((bits >> 32) * 1682) >> 32
    assert 0 <= value < 1682
    assert int(new_state) == reference_xorshift64star(42)[0]


# ------------------------------------------------ compiled loss twins
@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=-60, max_value=60), st.sampled_from(PAIRWISE), st.floats(min_value=0, max_value=3))
def test_compiled_pair_loss_matches_reference(difference, name, margin):
    value, gradient = training.pair_loss_and_gradient(losses.loss_code(name), difference, margin)
    assert value == pytest.approx(float(losses.pairwise_loss(name, difference, margin)), rel=1e-12, abs=1e-12)
    assert gradient == pytest.approx(float(losses.pairwise_gradient(name, difference, margin)), rel=1e-12, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=-60, max_value=60), st.sampled_from([1.0, -1.0]))
def test_compiled_point_loss_matches_reference(score, label):
    value, gradient = training.point_loss_and_gradient(score, label)
    assert value == pytest.approx(float(losses.logistic_loss(score, label)), rel=1e-12, abs=1e-12)
    assert gradient == pytest.approx(float(losses.logistic_gradient(score, label)), rel=1e-12, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=15),
)
def test_compiled_kos_rule_matches_reference(scores, k):
    values = np.asarray(scores, dtype=np.float32)
    padded = np.concatenate([values, np.full(4, 99.0, dtype=np.float32)])  # must be ignored
    assert training.kth_best(padded, len(values), k) == losses.kos_positive(values, k)


# -------------------------------------------------- numpy reference step
class ReferenceModel:
    """A float64 numpy twin of the kernel's parameter updates."""

    def __init__(self, user_factors, item_factors, item_biases, optimizer, learning_rate, l2, bias_l2, use_biases):
        self.user = user_factors.astype(np.float64)
        self.item = item_factors.astype(np.float64)
        self.bias = item_biases.astype(np.float64)
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.l2 = l2
        self.bias_l2 = bias_l2
        self.use_biases = use_biases
        start = training.ADAGRAD_INITIAL_ACCUMULATOR if "adagrad" in optimizer else 0.0
        self.second = {
            "user": np.full_like(self.user, start),
            "item": np.full_like(self.item, start),
            "bias": np.full_like(self.bias, start),
        }
        self.first = {name: np.zeros_like(array) for name, array in self.second.items()}
        self.steps = {"user": np.zeros(len(self.user), int), "item": np.zeros(len(self.item), int)}

    def score(self, user, item):
        return self.user[user] @ self.item[item] + self.bias[item]

    def _apply(self, table, values, row, gradient, rate):
        if self.optimizer == "sgd":
            values[row] -= self.learning_rate * gradient
        elif self.optimizer == "adagrad":
            self.second[table][row] += gradient**2
            values[row] -= self.learning_rate * gradient / np.sqrt(self.second[table][row])
        elif self.optimizer == "rowwise-adagrad":
            # Every entry of a row holds the row's one sum (a bias is a row of one value).
            self.second[table][row] += np.mean(gradient**2)
            values[row] -= self.learning_rate * gradient / np.sqrt(self.second[table][row])
        else:
            b1, b2 = training.ADAM_BETA1, training.ADAM_BETA2
            self.first[table][row] = b1 * self.first[table][row] + (1 - b1) * gradient
            self.second[table][row] = b2 * self.second[table][row] + (1 - b2) * gradient**2
            values[row] -= rate * self.first[table][row] / (np.sqrt(self.second[table][row]) + training.ADAM_EPSILON)

    def _rate(self, table, row):
        self.steps[table][row] += 1
        t = self.steps[table][row]
        b1, b2 = training.ADAM_BETA1, training.ADAM_BETA2
        return self.learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t)

    def pair_step(self, user, positive, negative, gradient):
        """Step on gradient * d(s+ - s-) / d(parameters), plus L2, from the old values."""
        u, p, n = self.user[user].copy(), self.item[positive].copy(), self.item[negative].copy()
        rates = (
            [self._rate("user", user), self._rate("item", positive), self._rate("item", negative)]
            if self.optimizer == "adam"
            else [None] * 3
        )
        self._apply("user", self.user, user, gradient * (p - n) + self.l2 * u, rates[0])
        self._apply("item", self.item, positive, gradient * u + self.l2 * p, rates[1])
        self._apply("item", self.item, negative, -gradient * u + self.l2 * n, rates[2])
        if self.use_biases:
            bias_p, bias_n = self.bias[positive], self.bias[negative]
            self._apply("bias", self.bias, positive, gradient + self.bias_l2 * bias_p, rates[1])
            self._apply("bias", self.bias, negative, -gradient + self.bias_l2 * bias_n, rates[2])

    def point_step(self, user, item, gradient):
        u, v = self.user[user].copy(), self.item[item].copy()
        rates = [self._rate("user", user), self._rate("item", item)] if self.optimizer == "adam" else [None] * 2
        self._apply("user", self.user, user, gradient * v + self.l2 * u, rates[0])
        self._apply("item", self.item, item, gradient * u + self.l2 * v, rates[1])
        if self.use_biases:
            self._apply("bias", self.bias, item, gradient + self.bias_l2 * self.bias[item], rates[1])

    def train_example(self, loss, user, positive, negative, weight, n_items, margin, n_negatives):
        """One example with every negative draw equal to ``negative`` (the forced sampler)."""
        if loss == "logistic":
            self.point_step(user, positive, weight * float(losses.logistic_gradient(self.score(user, positive), 1)))
            for _ in range(n_negatives):
                self.point_step(
                    user, negative, weight * float(losses.logistic_gradient(self.score(user, negative), -1))
                )
            return
        if loss in ("warp", "warp-kos"):
            difference = self.score(user, positive) - self.score(user, negative)
            if difference < margin:  # the first draw violates: draws = 1
                gradient = float(losses.warp_gradient(difference, 1, n_items, margin))
                self.pair_step(user, positive, negative, weight * gradient)
            return
        for _ in range(n_negatives):
            difference = self.score(user, positive) - self.score(user, negative)
            gradient = float(losses.pairwise_gradient(loss, difference, margin))
            if gradient != 0.0:
                self.pair_step(user, positive, negative, weight * gradient)


def run_kernel(
    interactions,
    user_factors,
    item_factors,
    item_biases,
    *,
    loss,
    optimizer,
    forced_negative=None,
    learning_rate=0.1,
    l2=0.0,
    bias_l2=0.0,
    margin=1.0,
    n_negatives=1,
    max_sampled=10,
    use_biases=True,
    use_weights=True,
    random_order=False,
    sampler="uniform",
    n_chunks=1,
    seed=7,
    kos_k=2,
    kos_n=5,
):
    """Call train_epoch directly; a ``forced_negative`` makes every negative draw that item."""
    matrix = interactions.tocsr()
    n_users, n_items = matrix.shape
    dim = user_factors.shape[1]
    indptr = matrix.indptr.astype(np.int64)
    indices = matrix.indices.astype(np.int32)
    weights = matrix.data.astype(np.float32)
    counts = np.diff(indptr)
    if forced_negative is not None:
        sampler = "popularity"
        threshold = np.zeros(n_items, dtype=np.float32)  # never keep the bucket...
        alias = np.full(n_items, forced_negative, dtype=np.int32)  # ...always take its alias
    else:
        threshold, alias = np.zeros(0, np.float32), np.zeros(0, np.int32)
    active = np.flatnonzero(counts > 0).astype(np.int64)
    cumulative = np.concatenate([[0], np.cumsum(counts[active])])
    chunk_starts = np.linspace(0, len(active), n_chunks + 1).astype(np.int64)
    chunk_offsets = cumulative[chunk_starts].astype(np.int64)
    state_shape = {"sgd": 0, "adagrad": 0, "adam": 1, "rowwise-adagrad": 0}
    width = 1 if optimizer == "rowwise-adagrad" else dim
    rows_user = n_users if optimizer != "sgd" else 0
    rows_item = n_items if optimizer != "sgd" else 0
    first_rows_user = n_users * state_shape[optimizer]
    first_rows_item = n_items * state_shape[optimizer]
    start = training.ADAGRAD_INITIAL_ACCUMULATOR if "adagrad" in optimizer else 0.0
    state = dict(
        user_moment1=np.zeros((first_rows_user, dim), np.float32),
        user_moment2=np.full((rows_user, width), start, np.float32),
        item_moment1=np.zeros((first_rows_item, dim), np.float32),
        item_moment2=np.full((rows_item, width), start, np.float32),
        bias_moment1=np.zeros(first_rows_item, np.float32),
        bias_moment2=np.full(rows_item, start, np.float32),
        user_steps=np.zeros(first_rows_user, np.int64),
        item_steps=np.zeros(first_rows_item, np.int64),
    )
    positions = np.empty(len(indices), dtype=np.int32)  # as the model passes it
    chunk_losses = np.zeros(n_chunks)
    chunk_weights = np.zeros(n_chunks)
    with np.errstate(over="ignore"):
        training.train_epoch(
            training.EpochPlan(
                active,
                chunk_starts,
                chunk_offsets,
                np.full(n_chunks, seed, dtype=np.uint64),
                chunk_losses,
                chunk_weights,
            ),
            training.TrainingData(
                indptr, indices, weights, np.repeat(np.arange(n_users, dtype=np.int32), counts), threshold, alias
            ),
            training.Model(user_factors, item_factors, item_biases),
            training.OptimizerState(**state),
            training.Scratch(
                positions,
                np.zeros((n_chunks, kos_n + training.SCRATCH_PADDING), np.float32),
                np.zeros((n_chunks, kos_n + training.SCRATCH_PADDING), np.int64),
                np.zeros(
                    (n_chunks, training.PREFETCH_DISTANCE + training.WARP_LOOKAHEAD + training.SCRATCH_PADDING),
                    np.int64,
                ),
            ),
            training.Settings(
                losses.loss_code(loss),
                sampling.sampler_code(sampler),
                training.OPTIMIZER_CODES[optimizer],
                n_negatives,
                max_sampled,
                sampling.UNSEEN_MAX_DRAWS,
                kos_k,
                kos_n,
                np.float32(learning_rate),
                np.float32(l2),
                np.float32(bias_l2),
                np.float64(margin),
                use_biases,
                use_weights,
                random_order,
            ),
        )
    return positions, chunk_losses, chunk_weights


def tiny_model(n_users=1, n_items=5, dim=4, seed=0):
    random = np.random.default_rng(seed)
    user_factors = (random.standard_normal((n_users, dim)) * 0.3).astype(np.float32)
    item_factors = (random.standard_normal((n_items, dim)) * 0.3).astype(np.float32)
    item_biases = (random.standard_normal(n_items) * 0.1).astype(np.float32)
    return user_factors, item_factors, item_biases


@pytest.mark.parametrize("optimizer", training.OPTIMIZERS)
@pytest.mark.parametrize("loss", losses.LOSSES)
def test_one_kernel_update_equals_the_numpy_reference(loss, optimizer):
    import scipy.sparse as sp

    user_factors, item_factors, item_biases = tiny_model()
    # One user, one positive (item 1) of weight 2; every negative is item 3.
    interactions = sp.csr_matrix((np.array([2.0]), (np.array([0]), np.array([1]))), shape=(1, 5))
    settings = dict(learning_rate=0.05, l2=0.02, bias_l2=0.03, margin=1.0)
    reference = ReferenceModel(
        user_factors,
        item_factors,
        item_biases,
        optimizer,
        settings["learning_rate"],
        settings["l2"],
        settings["bias_l2"],
        True,
    )
    reference.train_example(loss, 0, 1, 3, 2.0, 5, settings["margin"], n_negatives=1)
    _, chunk_losses, chunk_weights = run_kernel(
        interactions,
        user_factors,
        item_factors,
        item_biases,
        loss=loss,
        optimizer=optimizer,
        forced_negative=3,
        **settings,
    )
    np.testing.assert_allclose(user_factors, reference.user, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(item_factors, reference.item, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(item_biases, reference.bias, rtol=2e-5, atol=2e-6)
    assert not np.allclose(item_factors[3], tiny_model()[1][3])  # the negative moved
    np.testing.assert_array_equal(item_factors[[0, 2, 4]], tiny_model()[1][[0, 2, 4]])  # nothing else did
    assert chunk_weights[0] == pytest.approx(2.0 * (2 if loss == "logistic" else 1))
    assert chunk_losses[0] > 0


@pytest.mark.parametrize("optimizer", training.OPTIMIZERS)
@pytest.mark.parametrize("loss", ["bpr", "logistic"])
def test_several_negatives_are_successive_steps(loss, optimizer):
    import scipy.sparse as sp

    user_factors, item_factors, item_biases = tiny_model()
    interactions = sp.csr_matrix((np.array([1.0]), (np.array([0]), np.array([2]))), shape=(1, 5))
    reference = ReferenceModel(user_factors, item_factors, item_biases, optimizer, 0.1, 0.0, 0.0, False)
    reference.train_example(loss, 0, 2, 4, 1.0, 5, 1.0, n_negatives=3)
    run_kernel(
        interactions,
        user_factors,
        item_factors,
        item_biases,
        loss=loss,
        optimizer=optimizer,
        forced_negative=4,
        n_negatives=3,
        use_biases=False,
    )
    np.testing.assert_allclose(user_factors, reference.user, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(item_factors, reference.item, rtol=2e-5, atol=2e-6)
    np.testing.assert_array_equal(item_biases, tiny_model()[2])  # biases off: untouched


@pytest.mark.parametrize("use_weights", [True, False])
@pytest.mark.parametrize("loss", ["bpr", "sigmoid", "hinge"])
def test_reported_loss_is_the_reference_loss(loss, use_weights):
    import scipy.sparse as sp

    # Three users with two positives each (weights 1, 2, 3 ... when used); every
    # negative is item 4. The kernel sums bpr's log1p terms as the log of a
    # product when unweighted, and computes in float32: the float64
    # reference of the same steps must agree to float32 precision.
    user_factors, item_factors, item_biases = tiny_model(n_users=3, n_items=5)
    rows, columns = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 2, 0, 3])
    weights = np.arange(1.0, 7.0)
    interactions = sp.csr_matrix((weights, (rows, columns)), shape=(3, 5))
    reference = ReferenceModel(user_factors, item_factors, item_biases, "sgd", 0.05, 0.0, 0.0, True)
    positions, chunk_losses, chunk_weights = run_kernel(
        interactions,
        user_factors,
        item_factors,
        item_biases,
        loss=loss,
        optimizer="sgd",
        forced_negative=4,
        learning_rate=0.05,
        use_weights=use_weights,
    )
    expected_loss = expected_weight = 0.0
    users = np.repeat(np.arange(3), 2)
    for position in positions:  # the kernel's visiting order
        weight = weights[position] if use_weights else 1.0
        user, positive = users[position], columns[position]
        difference = reference.score(user, positive) - reference.score(user, 4)
        expected_loss += weight * float(losses.pairwise_loss(loss, difference, 1.0))
        expected_weight += weight
        reference.train_example(loss, user, positive, 4, weight, 5, 1.0, n_negatives=1)
    assert chunk_weights[0] == expected_weight
    assert chunk_losses[0] == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(user_factors, reference.user, rtol=2e-5, atol=2e-6)


def test_ignored_weights_count_one():
    import scipy.sparse as sp

    user_factors, item_factors, item_biases = tiny_model()
    interactions = sp.csr_matrix((np.array([5.0]), (np.array([0]), np.array([1]))), shape=(1, 5))
    reference = ReferenceModel(user_factors, item_factors, item_biases, "sgd", 0.1, 0.0, 0.0, True)
    reference.train_example("bpr", 0, 1, 3, 1.0, 5, 1.0, n_negatives=1)
    _, _, chunk_weights = run_kernel(
        interactions,
        user_factors,
        item_factors,
        item_biases,
        loss="bpr",
        optimizer="sgd",
        forced_negative=3,
        use_weights=False,
    )
    np.testing.assert_allclose(user_factors, reference.user, rtol=2e-5, atol=2e-6)
    assert chunk_weights[0] == 1.0


def test_warp_without_a_violating_negative_makes_no_step():
    import scipy.sparse as sp

    user_factors, item_factors, item_biases = tiny_model()
    before = [array.copy() for array in (user_factors, item_factors, item_biases)]
    interactions = sp.csr_matrix((np.array([1.0]), (np.array([0]), np.array([1]))), shape=(1, 5))
    # A margin of -100 is met by every pair: all max_sampled draws pass.
    _, chunk_losses, chunk_weights = run_kernel(
        interactions,
        user_factors,
        item_factors,
        item_biases,
        loss="warp",
        optimizer="adagrad",
        forced_negative=3,
        margin=-100.0,
        max_sampled=7,
    )
    for array, original in zip((user_factors, item_factors, item_biases), before):
        np.testing.assert_array_equal(array, original)
    assert chunk_losses[0] == 0.0 and chunk_weights[0] == 1.0


def test_warp_rank_weight_scales_the_step():
    import scipy.sparse as sp

    # With SGD and no L2 the step is linear in the rank weight log(floor(10 / 1)).
    user_factors, item_factors, item_biases = tiny_model(n_items=11)
    start_user = user_factors.copy()
    interactions = sp.csr_matrix((np.array([1.0]), (np.array([0]), np.array([1]))), shape=(1, 11))
    run_kernel(
        interactions,
        user_factors,
        item_factors,
        item_biases,
        loss="warp",
        optimizer="sgd",
        forced_negative=3,
        learning_rate=0.01,
    )
    start_items = tiny_model(n_items=11)[1]
    expected = start_user + 0.01 * math.log(10) * (start_items[1] - start_items[3])
    np.testing.assert_allclose(user_factors, expected, rtol=1e-5)


# ------------------------------------------------------------ visiting order
def random_interactions(n_users=12, n_items=30, density=0.3, seed=0):
    import scipy.sparse as sp

    random = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=density, random_state=random, format="csr", dtype=np.float64)
    matrix.data[:] = random.integers(1, 4, size=matrix.nnz)
    return matrix


@pytest.mark.parametrize("n_chunks", [1, 3])
@pytest.mark.parametrize("random_order", [False, True])
def test_every_interaction_is_visited_once_per_epoch(random_order, n_chunks):
    matrix = random_interactions()
    user_factors, item_factors, item_biases = tiny_model(12, 30, 8)
    positions, _, chunk_weights = run_kernel(
        matrix,
        user_factors,
        item_factors,
        item_biases,
        loss="bpr",
        optimizer="adagrad",
        random_order=random_order,
        n_chunks=n_chunks,
    )
    np.testing.assert_array_equal(np.sort(positions), np.arange(matrix.nnz))
    assert chunk_weights.sum() == pytest.approx(matrix.data.sum())
    users = np.repeat(np.arange(12), np.diff(matrix.indptr))[positions]
    runs = 1 + np.count_nonzero(users[1:] != users[:-1])
    if random_order:
        assert runs > 12 + 5  # users interleave
    else:
        assert runs == np.count_nonzero(np.diff(matrix.indptr))  # each user's positives together


def test_one_chunk_is_deterministic_and_seed_dependent():
    matrix = random_interactions()
    results = []
    for seed in (7, 7, 8):
        user_factors, item_factors, item_biases = tiny_model(12, 30, 8)
        run_kernel(
            matrix, user_factors, item_factors, item_biases, loss="warp", optimizer="adam", sampler="unseen", seed=seed
        )
        results.append(item_factors)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])

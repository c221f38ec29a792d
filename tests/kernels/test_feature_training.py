"""The side-feature training kernel against a float64 numpy twin, per loss x optimizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from tripletrec import losses, sampling
from tripletrec.kernels import feature_training, training

# One user and five items. The user has an identity column and two shared
# ones; items 1 (the positive) and 3 (the forced negative) share column 2,
# so the twin also checks that rows are stepped one after the other.
USER_FEATURES = sp.csr_matrix(np.array([[1.0, 0.5, 0.0, 2.0]], dtype=np.float32))
ITEM_FEATURES = sp.csr_matrix(
    np.array(
        [
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.7, 0.0, 0.0, 0.3],
            [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.5, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        ],
        dtype=np.float32,
    )
)


class ReferenceHybrid:
    """A float64 numpy twin of the feature kernel's updates (same row order)."""

    def __init__(
        self, user_table, item_table, item_biases, optimizer, learning_rate, l2, bias_l2, feature_l2=None, starts=None
    ):
        self.tables = {"user": user_table.astype(np.float64), "item": item_table.astype(np.float64)}
        self.bias = item_biases.astype(np.float64)
        self.features = {"user": USER_FEATURES.toarray().astype(np.float64), "item": ITEM_FEATURES.toarray()}
        self.optimizer = optimizer
        self.learning_rate, self.l2, self.bias_l2 = learning_rate, l2, bias_l2
        # Columns from starts[side] on are identities (l2); the others take feature_l2.
        self.feature_l2 = l2 if feature_l2 is None else feature_l2
        self.starts = starts or {"user": USER_FEATURES.shape[1], "item": ITEM_FEATURES.shape[1]}
        start = training.ADAGRAD_INITIAL_ACCUMULATOR if "adagrad" in optimizer else 0.0
        self.second = {name: np.full_like(table, start) for name, table in self.tables.items()}
        self.second["bias"] = np.full_like(self.bias, start)
        self.first = {name: np.zeros_like(array) for name, array in self.second.items()}
        self.steps = {name: np.zeros(len(table), int) for name, table in self.tables.items()}

    def vector(self, side, row):
        return self.features[side][row] @ self.tables[side]

    def score(self, user, item):
        return self.vector("user", user) @ self.vector("item", item) + self.features["item"][item] @ self.bias

    def _step(self, state, values, column, gradient, t):
        """The optimizer on ``values[column]`` (a row, or one bias) with gradient ``gradient``."""
        if self.optimizer == "sgd":
            values[column] -= self.learning_rate * gradient
        elif self.optimizer == "adagrad" or (self.optimizer == "rowwise-adagrad" and state == "bias"):
            self.second[state][column] += gradient**2
            values[column] -= self.learning_rate * gradient / np.sqrt(self.second[state][column])
        elif self.optimizer == "rowwise-adagrad":
            self.second[state][column] += np.mean(gradient**2)
            values[column] -= self.learning_rate * gradient / np.sqrt(self.second[state][column])
        else:
            b1, b2 = training.ADAM_BETA1, training.ADAM_BETA2
            rate = self.learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t)
            self.first[state][column] = b1 * self.first[state][column] + (1 - b1) * gradient
            self.second[state][column] = b2 * self.second[state][column] + (1 - b2) * gradient**2
            values[column] -= rate * self.first[state][column] / (np.sqrt(self.second[state][column]) + 1e-8)

    def _update(self, side, row, direction, scale, with_biases):
        columns = np.flatnonzero(self.features[side][row])
        table = self.tables[side]
        for column in columns:
            weight = self.features[side][row, column]
            self.steps[side][column] += 1
            l2 = self.l2 if column >= self.starts[side] else self.feature_l2
            gradient = weight * scale * direction + l2 * table[column]
            self._step(side, table, column, gradient, self.steps[side][column])
        if with_biases:
            for column in columns:
                weight = self.features[side][row, column]
                gradient = weight * scale + self.bias_l2 * self.bias[column]
                self._step("bias", self.bias, column, gradient, self.steps["item"][column])

    def pair_step(self, user, positive, negative, gradient):
        u = self.vector("user", user)
        direction = self.vector("item", positive) - self.vector("item", negative)
        self._update("item", positive, u, gradient, True)
        self._update("item", negative, u, -gradient, True)
        self._update("user", user, direction, gradient, False)

    def point_step(self, user, item, gradient):
        u, v = self.vector("user", user), self.vector("item", item)
        self._update("item", item, u, gradient, True)
        self._update("user", user, v, gradient, False)

    def train_example(self, loss, positive, negative, weight, margin, n_negatives):
        """User 0's one example, every negative draw being ``negative``."""
        n_items = ITEM_FEATURES.shape[0]
        if loss == "logistic":
            self.point_step(0, positive, weight * float(losses.logistic_gradient(self.score(0, positive), 1)))
            for _ in range(n_negatives):
                self.point_step(0, negative, weight * float(losses.logistic_gradient(self.score(0, negative), -1)))
            return
        if loss in ("warp", "warp-kos"):
            difference = self.score(0, positive) - self.score(0, negative)
            if difference < margin:
                self.pair_step(
                    0, positive, negative, weight * float(losses.warp_gradient(difference, 1, n_items, margin))
                )
            return
        for _ in range(n_negatives):
            difference = self.score(0, positive) - self.score(0, negative)
            gradient = float(losses.pairwise_gradient(loss, difference, margin))
            if gradient != 0.0:
                self.pair_step(0, positive, negative, weight * gradient)


def feature_rows(matrix):
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    return feature_training.FeatureRows(
        matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data.astype(np.float32)
    )


def run_feature_kernel(
    tables,
    *,
    loss,
    optimizer,
    negative,
    n_negatives,
    settings,
    use_biases=True,
    snapshot=None,
    identity_dropout=0.0,
    identity_start=6,
    user_identity_start=4,
    feature_l2=None,
):
    """One epoch over user 0's single positive (item 1, weight 2), every negative forced to ``negative``.

    ``snapshot`` (item vectors, item biases) is what WARP screens draws with;
    default: the exact representations at the start.
    """
    user_table, item_table, item_biases = tables
    if snapshot is None:
        snapshot = (ITEM_FEATURES @ item_table, ITEM_FEATURES @ item_biases)
    snapshot = tuple(np.ascontiguousarray(array, dtype=np.float32) for array in snapshot)
    dim = user_table.shape[1]
    n_items = ITEM_FEATURES.shape[0]
    indptr = np.array([0, 1], dtype=np.int64)
    indices = np.array([1], dtype=np.int32)
    weights = np.array([2.0], dtype=np.float32)
    adagrad = "adagrad" in optimizer
    start = training.ADAGRAD_INITIAL_ACCUMULATOR if adagrad else 0.0
    width = 1 if optimizer == "rowwise-adagrad" else dim
    adam = optimizer == "adam"

    def second(rows, columns):
        return np.full((rows, columns), start, np.float32) if optimizer != "sgd" else np.zeros((0, columns), np.float32)

    state = training.OptimizerState(
        user_moment1=np.zeros((len(user_table) * adam, dim), np.float32),
        user_moment2=second(len(user_table), width),
        item_moment1=np.zeros((len(item_table) * adam, dim), np.float32),
        item_moment2=second(len(item_table), width),
        bias_moment1=np.zeros(len(item_table) * adam, np.float32),
        bias_moment2=second(len(item_table), 1)[:, 0].copy(),
        user_steps=np.zeros(len(user_table) * adam, np.int64),
        item_steps=np.zeros(len(item_table) * adam, np.int64),
    )
    kos_n = 3
    feature_training.train_feature_epoch(
        training.EpochPlan(
            np.array([0], np.int64),
            np.array([0, 1], np.int64),
            np.array([0, 1], np.int64),
            np.array([7], np.uint64),
            np.zeros(1),
            np.zeros(1),
        ),
        training.TrainingData(
            indptr,
            indices,
            weights,
            np.zeros(1, np.int32),
            np.zeros(n_items, np.float32),  # the alias table that always answers `negative`
            np.full(n_items, negative, np.int32),
        ),
        feature_training.FeatureData(
            feature_rows(USER_FEATURES),
            feature_rows(ITEM_FEATURES),
            *snapshot,
            np.float32(identity_dropout),
            np.int64(user_identity_start),
            np.int64(identity_start),
            np.float32(settings["l2"] if feature_l2 is None else feature_l2),
        ),
        training.Model(user_table, item_table, item_biases),
        state,
        feature_training.FeatureScratch(
            np.empty(1, np.int32),
            np.zeros((1, kos_n + training.SCRATCH_PADDING), np.float32),
            np.zeros((1, kos_n + training.SCRATCH_PADDING), np.int64),
            np.zeros((1, feature_training.VECTORS_PER_CHUNK * dim + training.SCRATCH_PADDING), np.float32),
        ),
        training.Settings(
            losses.loss_code(loss),
            sampling.sampler_code("popularity"),
            training.OPTIMIZER_CODES[optimizer],
            n_negatives,
            10,
            sampling.UNSEEN_MAX_DRAWS,
            1,
            kos_n,
            np.float32(settings["learning_rate"]),
            np.float32(settings["l2"]),
            np.float32(settings["bias_l2"]),
            np.float64(settings["margin"]),
            use_biases,
            True,
            False,
        ),
    )
    return snapshot


def start_tables(dim=4, seed=0):
    random = np.random.default_rng(seed)
    return (
        (random.standard_normal((USER_FEATURES.shape[1], dim)) * 0.3).astype(np.float32),
        (random.standard_normal((ITEM_FEATURES.shape[1], dim)) * 0.3).astype(np.float32),
        (random.standard_normal(ITEM_FEATURES.shape[1]) * 0.1).astype(np.float32),
    )


# warp and warp-kos make one step whatever n_negatives: one negative suffices for them.
CASES = [
    (loss, n_negatives) for loss in losses.LOSSES for n_negatives in ((1,) if loss in ("warp", "warp-kos") else (1, 3))
]


@pytest.mark.parametrize("optimizer", training.OPTIMIZERS)
@pytest.mark.parametrize(("loss", "n_negatives"), CASES)
def test_one_feature_kernel_example_equals_the_numpy_twin(loss, optimizer, n_negatives):
    tables = start_tables()
    settings = dict(learning_rate=0.05, l2=0.02, bias_l2=0.03, margin=1.0)
    reference = ReferenceHybrid(*tables, optimizer, settings["learning_rate"], settings["l2"], settings["bias_l2"])
    reference.train_example(loss, 1, 3, 2.0, settings["margin"], n_negatives)
    run_feature_kernel(tables, loss=loss, optimizer=optimizer, negative=3, n_negatives=n_negatives, settings=settings)
    user_table, item_table, item_biases = tables
    assert not np.allclose(user_table, start_tables()[0]), "the example took no step"
    np.testing.assert_allclose(user_table, reference.tables["user"], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(item_table, reference.tables["item"], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(item_biases, reference.bias, rtol=2e-5, atol=2e-6)


def test_without_biases_the_feature_biases_stay():
    tables = start_tables()
    biases_before = tables[2].copy()
    settings = dict(learning_rate=0.05, l2=0.0, bias_l2=0.0, margin=1.0)
    run_feature_kernel(
        tables, loss="bpr", optimizer="sgd", negative=3, n_negatives=1, settings=settings, use_biases=False
    )
    np.testing.assert_array_equal(tables[2], biases_before)
    assert not np.allclose(tables[1], start_tables()[1])


def test_columns_outside_the_example_are_never_touched():
    tables = start_tables()
    before = [table.copy() for table in tables]
    settings = dict(learning_rate=0.05, l2=0.02, bias_l2=0.03, margin=1.0)
    run_feature_kernel(tables, loss="bpr", optimizer="adagrad", negative=3, n_negatives=1, settings=settings)
    # Item columns 0 and 3 belong to items 0 and 2 only; user column 2 has weight 0.
    for column in (0, 3):
        np.testing.assert_array_equal(tables[1][column], before[1][column])
        assert tables[2][column] == before[2][column]
    np.testing.assert_array_equal(tables[0][2], before[0][2])


@pytest.mark.parametrize("loss", ["warp", "warp-kos"])
def test_warp_screens_draws_with_the_snapshot_and_refreshes_it(loss):
    settings = dict(learning_rate=0.05, l2=0.0, bias_l2=0.0, margin=1.0)
    # A snapshot that scores the negative far below the positive: the draw is screened out, no step.
    tables = start_tables()
    exact = (ITEM_FEATURES @ tables[1], ITEM_FEATURES @ tables[2])
    stale = (exact[0], exact[1].copy())
    stale[1][3] = -100.0
    run_feature_kernel(tables, loss=loss, optimizer="sgd", negative=3, n_negatives=1, settings=settings, snapshot=stale)
    for table, start in zip(tables, start_tables()):
        np.testing.assert_array_equal(table, start)
    # A snapshot that lets the draw through: the exact check decides, and the positive's and
    # the negative's snapshot rows are refreshed with their exact (pre-step) values.
    tables = start_tables()
    exact = (np.asarray(ITEM_FEATURES @ tables[1]), ITEM_FEATURES @ tables[2])
    wrong = (np.zeros((ITEM_FEATURES.shape[0], 4)), np.zeros(ITEM_FEATURES.shape[0]))
    wrong[1][3] = 100.0
    snapshot = run_feature_kernel(
        tables, loss=loss, optimizer="sgd", negative=3, n_negatives=1, settings=settings, snapshot=wrong
    )
    for item in (1, 3):
        np.testing.assert_allclose(snapshot[0][item], exact[0][item], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(snapshot[1][item], exact[1][item], rtol=1e-5, atol=1e-7)
    assert not np.allclose(tables[1], start_tables()[1])


@pytest.mark.parametrize("loss", ["bpr", "warp", "logistic"])
def test_identity_dropout_leaves_the_identity_columns_out(loss):
    """Columns from ``identity_start`` on are the identities: with dropout ~1 no step touches them."""
    settings = dict(learning_rate=0.05, l2=0.02, bias_l2=0.03, margin=1.0)
    kept, dropped = start_tables(), start_tables()
    # Item 1 (the positive) has column 5; call it its identity.
    run_feature_kernel(kept, loss=loss, optimizer="adagrad", negative=3, n_negatives=1, settings=settings)
    run_feature_kernel(
        dropped,
        loss=loss,
        optimizer="adagrad",
        negative=3,
        n_negatives=1,
        settings=settings,
        identity_dropout=0.9999,
        identity_start=5,
    )
    start = start_tables()
    assert not np.array_equal(kept[1][5], start[1][5])
    np.testing.assert_array_equal(dropped[1][5], start[1][5])
    assert dropped[2][5] == start[2][5]
    # The other columns of the positive still learn.
    assert not np.array_equal(dropped[1][1], start[1][1])


@pytest.mark.parametrize("optimizer", training.OPTIMIZERS)
def test_feature_columns_take_feature_l2_and_identities_l2(optimizer):
    tables = start_tables()
    settings = dict(learning_rate=0.05, l2=0.2, bias_l2=0.03, margin=1.0)
    # Users: columns 0-2 are features, 3 the identity; items: 0-4 features, 5 an identity.
    starts = {"user": 3, "item": 5}
    reference = ReferenceHybrid(*tables, optimizer, 0.05, 0.2, 0.03, feature_l2=0.01, starts=starts)
    reference.train_example("bpr", 1, 3, 2.0, 1.0, 1)
    run_feature_kernel(
        tables,
        loss="bpr",
        optimizer=optimizer,
        negative=3,
        n_negatives=1,
        settings=settings,
        identity_start=5,
        user_identity_start=3,
        feature_l2=0.01,
    )
    np.testing.assert_allclose(tables[0], reference.tables["user"], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(tables[1], reference.tables["item"], rtol=2e-5, atol=2e-6)
    # The same example with one l2 everywhere moves the feature rows differently.
    uniform = ReferenceHybrid(*start_tables(), optimizer, 0.05, 0.2, 0.03)
    uniform.train_example("bpr", 1, 3, 2.0, 1.0, 1)
    assert not np.allclose(uniform.tables["item"][2], reference.tables["item"][2])

"""MatrixFactorization: estimator rules, validation, training loop, recovery of a planted model."""

import inspect

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from tripletrec import Interactions
from tripletrec.metrics import evaluate
from tripletrec.models import MatrixFactorization, NotFittedError, clone
from tripletrec.models import load as tripletrec_load
from tripletrec.testing import ModelSuite

from .conftest import SMALL as SUITE_PARAMS

SMALL = dict(dim=8, epochs=3, threads=1, seed=0)


def random_interactions(n_users=40, n_items=30, density=0.25, seed=0, weights=False):
    random = np.random.default_rng(seed)
    mask = random.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    values = random.integers(1, 6, size=len(users)).astype(float) if weights else None
    return Interactions.from_indices(users, items, values, shape=(n_users, n_items))


@pytest.fixture(scope="module")
def data():
    return random_interactions()


@pytest.fixture(scope="module")
def planted():
    """A planted rank-2 model; each user picks 15 of 80 items by softmax of its affinity.

    Picking the top 15 of ``affinity + Gumbel noise`` draws without
    replacement with probability proportional to ``exp(affinity)``. A fifth
    of the pairs is held out.
    """
    random = np.random.default_rng(0)
    n_users, n_items, per_user = 200, 80, 15
    affinity = random.standard_normal((n_users, 2)) @ random.standard_normal((n_items, 2)).T
    affinity *= 10.0 / affinity.std()
    chosen = np.argsort(-(affinity + random.gumbel(size=affinity.shape)), axis=1)[:, :per_user]
    interactions = Interactions.from_indices(
        np.repeat(np.arange(n_users), per_user), chosen.ravel(), shape=(n_users, n_items)
    )
    held_out = random.random(len(interactions)) < 0.2
    return interactions.select(~held_out), interactions.select(held_out), affinity


# ------------------------------------------------------------ estimator rules
def test_get_params_lists_every_constructor_argument():
    model = MatrixFactorization()
    names = [name for name in inspect.signature(MatrixFactorization.__init__).parameters if name != "self"]
    params = model.get_params()
    assert sorted(params) == sorted(names)
    assert params["dim"] == 64 and params["loss"] == "bpr" and params["optimizer"] == "rowwise-adagrad"
    assert params["negatives"] == "uniform" and params["seed"] is None and params["threads"] is None


def test_constructor_only_stores():
    model = MatrixFactorization(dim=-3, loss="nonsense", learning_rate=-1)
    assert model.dim == -3 and model.loss == "nonsense" and model.learning_rate == -1
    assert not hasattr(model, "user_factors_")


def test_set_params_and_unknown_names():
    model = MatrixFactorization()
    assert model.set_params(dim=16, loss="warp") is model
    assert model.dim == 16 and model.loss == "warp"
    with pytest.raises(ValueError, match=r"MatrixFactorization has no parameter 'size'; valid parameters are .*dim"):
        model.set_params(size=3)


def test_clone_is_unfitted_with_equal_params(data):
    model = MatrixFactorization(**SMALL).fit(data, progress=False)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "item_factors_")
    assert copy is not model


def test_clone_rejects_what_is_not_a_model():
    with pytest.raises(ValueError, match="model must have get_params\\(\\), got object"):
        clone(object())


def test_sklearn_clone_works():
    sklearn_base = pytest.importorskip("sklearn.base")
    model = MatrixFactorization(dim=12, loss="hinge", margin=0.5)
    copy = sklearn_base.clone(model)
    assert isinstance(copy, MatrixFactorization)
    assert copy.get_params() == model.get_params()


def test_repr_shows_changed_parameters():
    assert repr(MatrixFactorization()) == "MatrixFactorization()"
    assert repr(MatrixFactorization(dim=8, loss="warp")) == "MatrixFactorization(dim=8, loss='warp')"


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "params, message",
    [
        (
            dict(loss="triplet"),
            "loss must be one of 'bpr', 'sigmoid', 'hinge', 'warp', 'warp-kos', 'logistic', got 'triplet'",
        ),
        (
            dict(optimizer="rmsprop"),
            "optimizer must be one of 'sgd', 'adagrad', 'adam', 'rowwise-adagrad', got 'rmsprop'",
        ),
        (dict(negatives="hard"), "negatives must be one of 'uniform', 'unseen', 'popularity', got 'hard'"),
        (dict(dim=0), "dim must be an integer >= 1, got 0"),
        (dict(dim=-4), "dim must be an integer >= 1, got -4"),
        (dict(dim=2.5), "dim must be an integer >= 1, got 2.5"),
        (dict(dim=8.0), "dim must be an integer >= 1, got 8.0"),
        (dict(dim=True), "dim must be an integer >= 1, got True"),
        (dict(learning_rate=0), r"learning_rate must be a finite number > 0, got 0"),
        (dict(learning_rate=-0.1), r"learning_rate must be a finite number > 0, got -0.1"),
        (dict(learning_rate=float("nan")), r"learning_rate must be a finite number > 0, got nan"),
        (dict(l2=-1.0), r"l2 must be a finite number >= 0"),
        (dict(bias_l2=float("inf")), r"bias_l2 must be a finite number >= 0"),
        (dict(epochs=0), "epochs must be an integer >= 1 and <= 100000, got 0"),
        (dict(n_negatives=0), "n_negatives must be an integer >= 1, got 0"),
        (dict(max_sampled=0), "max_sampled must be an integer >= 1, got 0"),
        (dict(kos_k=0), "kos_k must be an integer >= 1, got 0"),
        (dict(threads=0), "threads must be None or an integer >= 1, got 0"),
        (dict(patience=0), "patience must be an integer >= 1, got 0"),
        (dict(seed=-1), "seed must be None or an integer >= 0, got -1"),
        (dict(popularity_alpha=-1), r"popularity_alpha must be a finite number >= 0"),
        (dict(biases="yes"), "biases must be True or False, got 'yes'"),
        (dict(early_stopping="accuracy"), "early_stopping must be None or a ranking metric name"),
        (dict(early_stopping="auc@x"), "early_stopping must be None or a ranking metric name"),
    ],
)
def test_bad_parameters_are_named(data, params, message):
    with pytest.raises(ValueError, match=f"^MatrixFactorization: {message}"):
        MatrixFactorization(**{**SMALL, **params}).fit(data, progress=False)


def test_every_bad_parameter_is_reported_at_once(data):
    model = MatrixFactorization(dim=0, loss="foo", learning_rate=-1, seed=0)
    expected = (
        "MatrixFactorization has 3 invalid parameters: dim must be an integer >= 1, got 0; "
        "loss must be one of 'bpr', 'sigmoid', 'hinge', 'warp', 'warp-kos', 'logistic', got 'foo'; "
        "learning_rate must be a finite number > 0, got -1"
    )
    with pytest.raises(ValueError) as error:
        model._validate_params()
    assert str(error.value) == expected
    with pytest.raises(ValueError) as error:
        model.fit(data, progress=False)
    assert str(error.value) == expected


def test_train_none_points_at_the_split(data):
    with pytest.raises(ValueError, match=r"train is None; .*load it with split="):
        MatrixFactorization(**SMALL).fit(None, progress=False)


def test_empty_matrix_is_rejected():
    empty = Interactions.from_indices([], [], shape=(5, 4))
    with pytest.raises(ValueError, match=r"train is empty: it has no interactions \(5 users x 4 items\)"):
        MatrixFactorization(**SMALL).fit(empty, progress=False)


def test_a_single_item_is_rejected():
    one_item = Interactions.from_indices([0, 1], [0, 0], shape=(2, 1))
    with pytest.raises(ValueError, match="train has 1 item; ranking needs at least 2 items"):
        MatrixFactorization(**SMALL).fit(one_item, progress=False)


def test_train_of_the_wrong_type_is_rejected():
    with pytest.raises(ValueError, match="train must be an Interactions or a scipy sparse matrix, got list"):
        MatrixFactorization(**SMALL).fit([[1, 0], [0, 1]], progress=False)


def test_all_zero_weights_are_rejected_unless_weights_are_ignored():
    zero = Interactions.from_indices([0, 1], [0, 1], [0.0, 0.0], shape=(2, 3))
    with pytest.raises(ValueError, match="train has no interaction with a positive weight"):
        MatrixFactorization(**SMALL).fit(zero, progress=False)
    model = MatrixFactorization(**SMALL, use_weights=False).fit(zero, progress=False)
    assert np.isfinite(model.user_factors_).all()


def test_weights_are_scaled_to_mean_one_and_equal_weights_count_as_none():
    users, items = [0, 0, 1, 2, 2, 3], [0, 3, 1, 2, 4, 0]
    ones = Interactions.from_indices(users, items, shape=(4, 5))
    threes = Interactions.from_indices(users, items, [3.0] * 6, shape=(4, 5))
    varied = Interactions.from_indices(users, items, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0], shape=(4, 5))
    halved = Interactions.from_indices(users, items, [0.5, 1.0, 1.5, 0.5, 1.0, 1.5], shape=(4, 5))

    def factors(train):
        model = MatrixFactorization(**SMALL).fit(train, progress=False)
        return model.user_factors_, model.item_factors_

    for left, right in zip(factors(ones), factors(threes)):
        np.testing.assert_array_equal(left, right)
    for left, right in zip(factors(varied), factors(halved)):
        np.testing.assert_allclose(left, right, rtol=1e-6, atol=1e-7)
    assert not np.allclose(factors(varied)[1], factors(ones)[1])


def test_validation_of_another_shape_is_rejected(data):
    other = random_interactions(n_users=41)
    with pytest.raises(
        ValueError, match=r"validation is 41 users x 30 items and must share the id maps of train \(40 x 30\)"
    ):
        MatrixFactorization(**SMALL).fit(data, other, progress=False)


def test_unknown_validation_metric_is_rejected_before_training(data):
    with pytest.raises(ValueError, match="metrics: unknown metric 'accuracy'; valid metrics are auc, precision"):
        MatrixFactorization(**SMALL).fit(data, data, metrics=("auc", "accuracy"), progress=False)


def test_early_stopping_cut_must_match_k(data):
    validation = random_interactions(seed=1)
    model = MatrixFactorization(**SMALL, early_stopping="ndcg@5")
    with pytest.raises(ValueError, match=r"early_stopping='ndcg@5' asks for k=5 but the validation metrics use k=10"):
        model.fit(data, validation, progress=False)
    model.fit(data, validation, k=5, progress=False)
    assert "ndcg@5" in model.history_[-1]


def test_early_stopping_needs_validation(data):
    with pytest.raises(ValueError, match="early_stopping='auc' needs validation data"):
        MatrixFactorization(**SMALL, early_stopping="auc").fit(data, progress=False)


def test_absurd_learning_rate_diverges_with_a_clear_error(data):
    model = MatrixFactorization(**{**SMALL, "optimizer": "sgd", "learning_rate": 1e30, "init_scale": 10.0})
    with pytest.raises(
        FloatingPointError, match=r"training diverged in epoch 1: .* try a lower learning_rate than 1e\+30"
    ):
        model.fit(data, progress=False)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="trains on ml-100k: slow without the JIT")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_blow_up_is_caught_before_it_overflows(data_dir, optimizer):
    # The example that came back as a normal fit, parameters near 1e10 and test AUC 0.507.
    from tripletrec.data import movielens

    train = movielens("ml-100k", split="ua", min_rating=4, path=data_dir, progress=False).train
    model = MatrixFactorization(loss="sigmoid", optimizer=optimizer, learning_rate=1e3, epochs=3, seed=0)
    with pytest.raises(
        FloatingPointError,
        match=r"diverged in epoch \d: the parameters grew to .*past the bound 1000\); "
        r"try a lower learning_rate than 1000",
    ):
        model.fit(train, progress=False)


@pytest.mark.parametrize("name", ["l2", "bias_l2"])
def test_an_overshooting_penalty_is_blamed_not_the_learning_rate(data, name):
    model = MatrixFactorization(**{**SMALL, "optimizer": "sgd", "learning_rate": 0.1, name: 50.0, "epochs": 3})
    with pytest.raises(FloatingPointError) as error:
        model.fit(data, progress=False)
    assert f"{name}=50 with learning_rate=0.1 overshoots" in str(error.value)
    assert "lower learning_rate" not in str(error.value)


def test_a_huge_init_scale_is_refused_before_training(data):
    model = MatrixFactorization(**{**SMALL, "init_scale": 1e18})
    with pytest.raises(ValueError, match=r"init_scale=1e\+18 would start vector entries at up to .* use about 0.1"):
        model.fit(data, progress=False)
    assert not hasattr(model, "item_factors_")


def test_a_dim_no_machine_can_hold_is_refused_before_allocating(data):
    model = MatrixFactorization(**{**SMALL, "dim": 2**40})
    with pytest.raises(ValueError, match=r"the model's parameters would need .* GiB but this machine has .* lower dim"):
        model.fit(data, progress=False)
    assert not hasattr(model, "user_ids_")


# ----------------------------------------------------------------- fitting
def test_fit_returns_self_with_learned_attributes(data):
    model = MatrixFactorization(**SMALL)
    assert model.fit(data, progress=False) is model
    assert model.user_factors_.shape == (40, 8) and model.user_factors_.dtype == np.float32
    assert model.item_factors_.shape == (30, 8) and model.item_factors_.dtype == np.float32
    assert model.item_biases_.shape == (30,) and model.item_biases_.dtype == np.float32
    assert (model.n_users_, model.n_items_) == (40, 30)
    assert model.user_ids_ is data.user_ids and model.item_ids_ is data.item_ids
    assert [record["epoch"] for record in model.history_] == [1, 2, 3]
    assert all(record["seconds"] > 0 and np.isfinite(record["loss"]) for record in model.history_)


FEATURE_ATTRIBUTES = (
    "user_feature_embeddings_",
    "item_feature_embeddings_",
    "item_feature_biases_",
    "user_features_",
    "item_features_",
    "user_feature_names_",
    "item_feature_names_",
)


def test_learned_attributes_hold_no_optimizer_state(data):
    model = MatrixFactorization(**SMALL, optimizer="adam").fit(data, progress=False)
    public = {name for name in vars(model) if name.endswith("_") and not name.startswith("_")}
    assert public == {
        "user_factors_",
        "item_factors_",
        "item_biases_",
        "n_users_",
        "n_items_",
        "user_ids_",
        "item_ids_",
        "history_",
        "best_epoch_",
        *FEATURE_ATTRIBUTES,
    }
    # Fitted without side features, the hybrid attributes are None.
    assert all(getattr(model, name) is None for name in FEATURE_ATTRIBUTES)
    assert model._optimizer_state["item_moment1"].shape == (30, 8)


def test_scipy_matrix_is_accepted(data):
    model = MatrixFactorization(**SMALL).fit(sp.csr_matrix(data.matrix), progress=False)
    assert model.item_factors_.shape == (30, 8)


def test_loss_goes_down(data):
    model = MatrixFactorization(dim=8, epochs=15, threads=1, seed=0).fit(data, progress=False)
    losses = [record["loss"] for record in model.history_]
    assert losses[-1] < 0.8 * losses[0]


def test_threads_one_is_bit_reproducible(data):
    first = MatrixFactorization(**SMALL, loss="warp", negatives="unseen").fit(data, progress=False)
    second = MatrixFactorization(**SMALL, loss="warp", negatives="unseen").fit(data, progress=False)
    other_seed = MatrixFactorization(**{**SMALL, "seed": 1}, loss="warp", negatives="unseen").fit(data, progress=False)
    for name in ("user_factors_", "item_factors_", "item_biases_"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert not np.array_equal(first.item_factors_, other_seed.item_factors_)
    assert [r["loss"] for r in first.history_] == [r["loss"] for r in second.history_]


def test_fit_partial_continues_exactly_where_fit_stopped(data):
    whole = MatrixFactorization(**{**SMALL, "epochs": 5}).fit(data, progress=False)
    split = MatrixFactorization(**{**SMALL, "epochs": 2}).fit(data, progress=False)
    split.fit_partial(data, epochs=3, progress=False)
    assert [record["epoch"] for record in split.history_] == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(whole.item_factors_, split.item_factors_)
    np.testing.assert_array_equal(whole.user_factors_, split.user_factors_)


def test_fit_partial_on_an_unfitted_model_initialises(data):
    model = MatrixFactorization(**SMALL).fit_partial(data, epochs=2, progress=False)
    assert len(model.history_) == 2


def test_fit_partial_grows_to_new_ids_and_checks_dim(data):
    model = MatrixFactorization(**SMALL).fit(data, progress=False)
    before = model.item_factors_.copy()
    # Item id 30 is new: the model grows by one item and keeps the others' rows.
    model.fit_partial(random_interactions(n_items=31), epochs=1, progress=False)
    assert model.item_factors_.shape == (31, 8) and model.n_items_ == 31
    assert model.item_ids_.to_index([30])[0] == 30
    assert np.abs(model.item_factors_[:30] - before).max() < 1.0
    # A subset of the known users and items is mapped onto the model's rows.
    subset = random_interactions(n_users=5, n_items=10, density=0.5)
    model.fit_partial(subset, epochs=1, progress=False)
    assert model.item_factors_.shape == (31, 8) and model.user_factors_.shape == (40, 8)
    model.set_params(dim=9)
    with pytest.raises(ValueError, match="dim is 9 but the model was fitted with dim 8"):
        model.fit_partial(data, progress=False)


def test_fit_partial_accepts_new_threads_and_optimizer(data):
    model = MatrixFactorization(**SMALL).fit(data, progress=False)
    model.set_params(threads=2, optimizer="sgd")
    model.fit_partial(data, epochs=1, progress=False)
    assert len(model.history_) == 4 and np.isfinite(model.item_factors_).all()


def test_refit_starts_over(data):
    model = MatrixFactorization(**SMALL).fit(data, progress=False)
    first = model.item_factors_.copy()
    model.fit(data, progress=False)
    assert len(model.history_) == 3
    np.testing.assert_array_equal(model.item_factors_, first)


@pytest.mark.parametrize(
    "loss, negatives, optimizer",
    [
        ("bpr", "uniform", "adagrad"),
        ("sigmoid", "popularity", "adagrad"),
        ("hinge", "unseen", "sgd"),
        ("bpr", "popularity", "rowwise-adagrad"),
        ("logistic", "unseen", "rowwise-adagrad"),
        ("warp", "unseen", "adam"),
        ("warp-kos", "uniform", "adagrad"),
        ("logistic", "popularity", "adam"),
    ],
)
def test_every_loss_sampler_and_optimizer_learns(planted, loss, negatives, optimizer):
    train, test, _ = planted
    rates = {"adagrad": 0.1, "sgd": 0.1, "adam": 0.01, "rowwise-adagrad": 0.1}
    model = MatrixFactorization(
        dim=8,
        epochs=4,
        threads=2,
        seed=0,
        loss=loss,
        negatives=negatives,
        optimizer=optimizer,
        learning_rate=rates[optimizer],
        n_negatives=2,
    )
    model.fit(train, progress=False)
    assert evaluate(model, test, train=train, metrics=("auc",)).means["auc"] > 0.8


def test_recovers_a_planted_model(planted):
    train, test, affinity = planted
    model = MatrixFactorization(dim=8, epochs=10, threads=1, seed=0).fit(train, progress=False)
    learned = evaluate(model, test, train=train, metrics=("auc",)).means["auc"]
    planted_auc = evaluate(affinity, test, train=train, metrics=("auc",)).means["auc"]
    assert learned > 0.95
    assert learned > planted_auc - 0.03


# ------------------------------------------------- validation and stopping
def test_history_records_validation_metrics(planted):
    train, test, _ = planted
    model = MatrixFactorization(**SMALL).fit(train, test, metrics=("auc", "precision"), k=5, progress=False)
    record = model.history_[-1]
    assert set(record) == {"epoch", "loss", "seconds", "auc", "precision@5"}
    assert record["auc"] == pytest.approx(evaluate(model, test, train=train, metrics=("auc",)).means["auc"])


def test_early_stopping_restores_the_best_epoch(planted):
    train, test, _ = planted
    snapshots = {}

    def keep(model, record):
        snapshots[record["epoch"]] = model.item_factors_.copy()

    model = MatrixFactorization(
        dim=8, epochs=25, threads=1, seed=0, learning_rate=0.5, early_stopping="auc", patience=2
    )
    model.fit(train, test, callbacks=[keep], progress=False)
    values = [record["auc"] for record in model.history_]
    best = int(np.argmax(values)) + 1
    assert model.best_epoch_ == best
    assert len(model.history_) == min(25, best + 2)
    np.testing.assert_array_equal(model.item_factors_, snapshots[best])


def test_a_callback_returning_true_stops_training(data):
    model = MatrixFactorization(**{**SMALL, "epochs": 10})
    model.fit(data, callbacks=[lambda model, record: record["epoch"] == 4], progress=False)
    assert len(model.history_) == 4


def test_callbacks_may_add_to_the_record(data):
    def add(model, record):
        record["norm"] = float(np.linalg.norm(model.item_factors_))

    model = MatrixFactorization(**SMALL).fit(data, callbacks=[add], progress=False)
    assert all("norm" in record for record in model.history_)


def test_progress_bar_runs(data, capsys):
    MatrixFactorization(**SMALL).fit(data, progress=True)
    assert "epoch" in capsys.readouterr().err


# ------------------------------------------------------- empty rows, scoring
def test_users_and_items_without_interactions():
    # User 3 and item 5 have no interactions at all.
    users = [0, 0, 1, 1, 2, 2, 0, 1, 2]
    items = [0, 1, 1, 2, 3, 4, 3, 4, 0]
    train = Interactions.from_indices(users, items, shape=(4, 6))
    model = MatrixFactorization(dim=4, epochs=30, threads=1, seed=0, negatives="uniform").fit(train, progress=False)
    np.testing.assert_array_equal(model.user_factors_[3], 0.0)
    np.testing.assert_allclose(model.score(3), model.item_biases_)
    # Item 5 was only ever a negative: it ends below every item someone liked.
    assert model.item_biases_[5] < model.item_biases_[:5].min()
    assert np.isfinite(model.item_factors_[5]).all()


def test_score_is_dot_plus_bias(data):
    model = MatrixFactorization(**SMALL).fit(data, progress=False)
    scores = model.score_indices(np.array([0, 5, 7]))
    assert scores.shape == (3, 30) and scores.dtype == np.float32
    expected = model.user_factors_[[0, 5, 7]] @ model.item_factors_.T + model.item_biases_
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    np.testing.assert_allclose(model.score_indices([5], [2, 9]), expected[1:2, [2, 9]], rtol=1e-6)


def test_score_rejects_bad_indices_and_unfitted_models(data):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        MatrixFactorization().score([0])
    model = MatrixFactorization(**SMALL).fit(data, progress=False)
    with pytest.raises(ValueError, match=r"user_indices: 1 of 2 indices are outside 0..39 \(first at position 1: 40\)"):
        model.score_indices([0, 40])
    with pytest.raises(ValueError, match="item_indices must hold integer dense indices"):
        model.score_indices([0], [0.5])
    with pytest.raises(ValueError, match=r"users: 1 of 2 ids are not in the model's user id map: 40"):
        model.score([0, 40])


def test_public_methods_take_external_ids_not_row_numbers():
    # External ids 100, 200, 300 sit at rows 0, 1, 2: score(100) is row 0.
    train = Interactions.from_arrays([300, 100, 200, 100, 300], ["b", "a", "c", "c", "a"])
    model = MatrixFactorization(dim=4, epochs=5, threads=1, seed=0).fit(train, progress=False)
    assert model.user_ids_.ids.tolist() == [100, 200, 300]
    np.testing.assert_array_equal(model.score(100), model.score_indices([0])[0])
    np.testing.assert_array_equal(model.score([300, 100]), model.score_indices([2, 0]))
    np.testing.assert_array_equal(model.score(200, ["c", "a"]), model.score_indices([1], [2, 0])[0])
    with pytest.raises(ValueError, match="users: 1 of 1 ids are not in the model's user id map: 0"):
        model.score(0)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="trains on ml-100k: slow without the JIT")
def test_on_ml100k_the_best_scored_item_is_recommended_first_and_predict_agrees(data_dir):
    from tripletrec.data import movielens

    data = movielens("ml-100k", split="ua", min_rating=4, path=data_dir, progress=False)
    model = MatrixFactorization(dim=16, epochs=3, seed=0).fit(data.train, progress=False)
    users = data.train.user_ids.ids[[0, 1, 41, 500, 942]]  # MovieLens ids 1, 2, 42, 501, 943
    assert users.tolist() == [1, 2, 42, 501, 943]
    scores = model.score(users)
    best = model.item_ids_.ids[np.argmax(scores, axis=1)]
    ids, top = model.recommend(users, k=1)
    assert ids[:, 0].tolist() == best.tolist()
    np.testing.assert_array_equal(top[:, 0], scores.max(axis=1))
    items = data.train.item_ids.ids[[0, 49, 180, 1681]]
    for row, user in enumerate(users):
        columns = model.item_ids_.to_index(items)
        np.testing.assert_allclose(model.predict(user, items), scores[row, columns], rtol=1e-5, atol=1e-6)


def test_vectors_start_uniform_with_the_documented_spread(data):
    # A learning rate of 1e-12 leaves the starting vectors as they were drawn.
    model = MatrixFactorization(
        dim=16, epochs=1, threads=1, seed=0, optimizer="sgd", learning_rate=1e-12, init_scale=0.4
    ).fit(data, progress=False)
    values = np.concatenate([model.user_factors_.ravel(), model.item_factors_.ravel()])
    half_width = np.sqrt(3.0) * 0.4 / np.sqrt(16)
    assert np.abs(values).max() <= half_width * (1 + 1e-6)
    assert np.abs(values).max() > 0.95 * half_width
    assert values.std() == pytest.approx(0.4 / np.sqrt(16), rel=0.05)


# --------------------------------------------------- the shared model suite
class TestMatrixFactorizationSuite(ModelSuite):
    """``tripletrec.testing.ModelSuite`` through the public module."""

    def make_model(self):
        return MatrixFactorization(**SUITE_PARAMS)

    def fit_model(self, model, train):
        return model.fit(train, progress=False)


def test_threads_beyond_the_cores_are_capped(data):
    model = MatrixFactorization(**{**SMALL, "threads": 10**9, "epochs": 2}).fit(data, progress=False)
    assert model._settings().n_chunks == numba.config.NUMBA_NUM_THREADS
    assert len(model._rng_states) == numba.config.NUMBA_NUM_THREADS


def test_an_impossible_epoch_count_is_refused(data):
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1 and <= 100000, got 1000000000000"):
        MatrixFactorization(**{**SMALL, "epochs": 10**12}).fit(data, progress=False)
    model = MatrixFactorization(**SMALL).fit(data, progress=False)
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1 and <= 100000"):
        model.fit_partial(data, epochs=10**12, progress=False)


def test_hashed_uint64_ids_are_kept_exactly_and_padding_works(tmp_path):
    from tripletrec.models.ids import PAD_UINT_ID

    users = np.array([2**64 - 1, 5, 2**63 + 7, 5, 2**64 - 1], dtype=np.uint64)
    items = np.array([2**63, 1, 2, 2**63, 1], dtype=np.uint64)
    train = Interactions.from_arrays(users, items)
    model = MatrixFactorization(dim=4, epochs=3, threads=1, seed=0).fit(train, progress=False)
    ids, scores = model.recommend(np.uint64(2**64 - 1), k=3, exclude=train)
    assert ids.dtype == np.uint64 and ids[0] == 2
    assert ids[1:].tolist() == [PAD_UINT_ID] * 2 and np.isneginf(scores[1:]).all()
    loaded = tripletrec_load(model.save(tmp_path / "hashed.npz"))
    assert loaded.user_ids_.ids.tolist() == [5, 2**63 + 7, 2**64 - 1]
    np.testing.assert_array_equal(loaded.score(2**64 - 1), model.score(2**64 - 1))

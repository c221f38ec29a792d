"""Fold-in: new users' vectors from their items, the model frozen."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from tripletrec import Interactions
from tripletrec.metrics import evaluate
from tripletrec.models import MatrixFactorization
from tripletrec.models.fold_in import FOLD_IN_LOSSES
from tripletrec.testing import GROUP_SIZE, ITEM_IDS

from .conftest import SMALL

GROUP_A = ITEM_IDS[: GROUP_SIZE - 1].tolist()  # group A without its last item
GROUP_B = ITEM_IDS[GROUP_SIZE + 1 :].tolist()  # group B without its first item
MISSING = [int(ITEM_IDS[GROUP_SIZE - 1]), int(ITEM_IDS[GROUP_SIZE])]


# ------------------------------------------------------------------ fold-in
@pytest.mark.parametrize("loss", FOLD_IN_LOSSES)
def test_fold_in_with_every_loss_finds_the_groups_missing_item(model, loss):
    model.set_params(loss=loss)
    try:
        ids, _ = model.recommend_new([GROUP_A, GROUP_B], k=1)
    finally:
        model.set_params(loss=SMALL["loss"])
    assert ids[:, 0].tolist() == MISSING


@pytest.mark.parametrize(
    "optimizer, learning_rate", [("sgd", 0.1), ("adagrad", 0.15), ("adam", 0.02), ("rowwise-adagrad", 0.15)]
)
@pytest.mark.parametrize("negatives", ["uniform", "unseen", "popularity"])
def test_fold_in_with_every_optimizer_and_sampler_finds_the_missing_item(model, optimizer, learning_rate, negatives):
    model.set_params(optimizer=optimizer, learning_rate=learning_rate, negatives=negatives)
    try:
        ids, _ = model.recommend_new([GROUP_A, GROUP_B], k=1)
    finally:
        model.set_params(**SMALL, negatives="uniform")
    assert ids[:, 0].tolist() == MISSING


def test_fold_in_is_reproducible_and_independent_of_threads_batch_and_position(model):
    users = [GROUP_A, GROUP_B, GROUP_A[:3] + GROUP_B[:2], []]
    one_thread = model.fold_in(users, seed=5, threads=1)
    if numba.config.NUMBA_NUM_THREADS >= 2:
        assert np.array_equal(model.fold_in(users, seed=5, threads=2), one_thread)
    assert np.array_equal(model.fold_in(users, seed=5), one_thread)
    # A user's vector depends on (seed, items) only: the same alone, first, or anywhere in a batch.
    assert np.array_equal(model.fold_in(users[:2], seed=5), one_thread[:2])
    mixed = users[2]
    alone = model.fold_in([mixed], seed=5)
    for batch in ([mixed, GROUP_A], [GROUP_B, GROUP_A, mixed], [mixed, mixed]):
        vectors = model.fold_in(batch, seed=5)
        for row in [position for position, items in enumerate(batch) if items is mixed]:
            assert np.array_equal(vectors[row], alone[0])
    # The order in which a user's items are given does not matter either.
    assert np.array_equal(model.fold_in([mixed[::-1]], seed=5), alone)
    assert not np.array_equal(model.fold_in(users, seed=6), one_thread)
    # No seed: the model's own seed.
    assert np.array_equal(model.fold_in(users), model.fold_in(users, seed=SMALL["seed"]))


def test_fold_in_leaves_the_model_unchanged(model):
    before = {name: getattr(model, name).copy() for name in ("user_factors_", "item_factors_", "item_biases_")}
    model.fold_in([GROUP_A, GROUP_B], epochs=3)
    for name, value in before.items():
        assert np.array_equal(getattr(model, name), value)


def test_a_new_user_without_items_gets_a_zero_vector_and_the_popularity_ranking(model):
    vectors = model.fold_in([[], GROUP_A])
    assert not vectors[0].any() and vectors[1].any()
    ids, scores = model.recommend_new([[]], k=3)
    popular, popular_scores = model.recommend("nobody", k=3, unknown="popular")
    assert ids[0].tolist() == popular.tolist() and np.array_equal(scores[0], popular_scores)


def test_weights_are_scaled_per_user_and_zero_weights_take_no_step(model):
    plain = model.fold_in([GROUP_A[:4]], seed=1)
    # Weight 0 drops an item from training; equal weights mean weight 1.
    weighted = model.fold_in([GROUP_A[:4] + [1015]], weights=[[3, 3, 3, 3, 0]], seed=1)
    assert np.array_equal(weighted, plain)
    uneven = model.fold_in([GROUP_A[:4]], weights=[[1, 1, 1, 5]], seed=1)
    assert not np.array_equal(uneven, plain)
    model.set_params(use_weights=False)
    try:
        ignored = model.fold_in([GROUP_A[:4]], weights=[[1, 1, 1, 5]], seed=1)
    finally:
        model.set_params(use_weights=True)
    assert np.array_equal(ignored, plain)


def test_repeated_items_count_once_with_summed_weight(model):
    repeated = model.fold_in([GROUP_A[:3] + [GROUP_A[0]]], seed=2)
    summed = model.fold_in([GROUP_A[:3]], weights=[[2, 1, 1]], seed=2)
    assert np.array_equal(repeated, summed)


def test_interactions_input_equals_lists(model):
    lists = [GROUP_A[:5], [], GROUP_B]
    users = np.repeat(np.arange(3), [len(items) for items in lists])
    flat = np.concatenate([np.asarray(items, dtype=np.int64) for items in lists])
    given = Interactions.from_indices(
        users, model.item_ids_.to_index(flat), shape=(3, model.item_factors_.shape[0]), item_ids=model.item_ids_
    )
    assert np.array_equal(model.fold_in(given, seed=3), model.fold_in(lists, seed=3))


def test_recommend_new_excludes_given_items_and_honours_candidates(model):
    ids, scores = model.recommend_new([GROUP_A], k=15)
    assert not set(ids[0].tolist()) & set(GROUP_A)
    assert ids[0, 11:].tolist() == [-1] * 4 and np.isneginf(scores[0, 11:]).all()
    kept, _ = model.recommend_new([GROUP_A], k=3, exclude_given=False)
    assert set(kept[0].tolist()) <= set(ITEM_IDS[:GROUP_SIZE].tolist())
    chosen, _ = model.recommend_new([GROUP_A], k=2, candidates=[1015, GROUP_A[0], MISSING[0]])
    assert chosen[0].tolist() == [MISSING[0], 1015]


def test_more_epochs_fit_the_given_items_better(model):
    short = model.fold_in([GROUP_A], epochs=1, seed=0)[0]
    long = model.fold_in([GROUP_A], epochs=30, seed=0)[0]
    scores = lambda vector: vector @ model.item_factors_.T + model.item_biases_  # noqa: E731
    given = model.item_ids_.to_index(GROUP_A)
    others = np.setdiff1d(np.arange(len(ITEM_IDS)), given)
    margin = lambda vector: scores(vector)[given].mean() - scores(vector)[others].mean()  # noqa: E731
    assert margin(long) > margin(short) > 0


@pytest.mark.parametrize(
    "items, weights, message",
    [
        (
            [1000, [1001]],
            None,
            r"items must be a list of item ids or a list of item-id lists, one per new user; "
            r"items\[0\] is 1000",
        ),
        ([[[1000]]], None, r"items\[0\] is \[\[1000\]\]"),
        (
            "abc",
            None,
            r"items must be a list of item ids \(one new user\), a list of item-id lists \(one per new user\) or an Interactions, got str",
        ),
        (5, None, r"items must be a list of item ids .* got int"),
        (
            [[1000], [1001, 77, 78]],
            None,
            r"items: 2 of 4 ids are not in the model's item id map: 77, 78 \(first in items\[1\]\)",
        ),
        ([["1000"]], None, r"items: 1 of 1 ids are not in the model's item id map: '1000'"),
        (
            [[1000, 1001]],
            [[1.0]],
            r"weights must be None or one weight per given item, with the nesting of items \(item counts \[2\]\)",
        ),
        ([[1000, 1001]], [[1.0, 1.0], [1.0]], r"weights must be None or one weight per given item"),
        ([[1000, 1001]], [[1.0, -1.0]], r"weights: 1 of 2 rows are negative"),
    ],
)
def test_bad_fold_in_items_are_named(model, items, weights, message):
    with pytest.raises(ValueError, match=message):
        model.fold_in(items, weights)


def test_bad_fold_in_arguments_are_named(model):
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1 and <= 100000, got 0"):
        model.fold_in([GROUP_A], epochs=0)
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0, got -0.1"):
        model.fold_in([GROUP_A], learning_rate=-0.1)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -1"):
        model.fold_in([GROUP_A], seed=-1)
    with pytest.raises(ValueError, match=r"threads must be an integer >= 1 and <= \d+ or None, got 0"):
        model.fold_in([GROUP_A], threads=0)
    with pytest.raises(ValueError, match=r"candidates: 1 of 1 ids are not in the model's item id map: 5"):
        model.recommend_new([GROUP_A], candidates=[5])
    other = Interactions.from_indices([0], [0], shape=(1, len(ITEM_IDS)))
    with pytest.raises(ValueError, match=r"items is an Interactions over 20 items whose item ids differ"):
        model.fold_in(other)
    same = Interactions.from_indices([0], [0], shape=(1, len(ITEM_IDS)), item_ids=model.item_ids_)
    with pytest.raises(ValueError, match=r"weights must be None when items is an Interactions"):
        model.fold_in(same, weights=[[1.0]])


@pytest.mark.parametrize(
    "params, message",
    [
        (
            dict(loss="softmax"),
            r"fold_in supports models trained with loss bpr, .*logistic; this MatrixFactorization has loss='softmax'",
        ),
        (
            dict(optimizer="lbfgs"),
            r"fold_in supports the optimizers sgd, adagrad, adam, rowwise-adagrad; this MatrixFactorization has optimizer='lbfgs'",
        ),
        (dict(n_negatives=0), r"n_negatives must be an integer >= 1, got 0"),
        (dict(l2=float("nan")), r"l2 must be a finite number >= 0, got nan"),
    ],
)
def test_settings_fold_in_cannot_use_are_named(model, params, message):
    model.set_params(**params)
    try:
        with pytest.raises(ValueError, match=message):
            model.fold_in([GROUP_A])
    finally:
        model.set_params(**SMALL, n_negatives=1)


def test_divergent_fold_in_raises(model):
    model.set_params(optimizer="sgd")
    try:
        with pytest.raises(FloatingPointError, match="fold-in diverged: .* lower learning_rate than 1e\\+30"):
            model.fold_in([GROUP_A], learning_rate=1e30)
    finally:
        model.set_params(**SMALL)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="trains on ml-100k: minutes without the JIT")
@pytest.mark.parametrize("loss", ["bpr", "warp"])
def test_folded_in_users_rank_about_as_well_as_trained_users_on_ml100k(data_dir, loss):
    """Held-out precision@10 of folded-in users vs the same users trained.

    ml-100k ``ua``, ratings >= 4. 100 users (drawn with seed 0 among those
    with a test positive) lose their training rows; a model is trained on
    everybody else, and those users are folded in from their training items.
    Their precision@10 on ``ua.test`` (training items excluded) is compared
    with the same users' in a model trained on all of ``ua.base`` with the
    same settings. Measured over 8 draws of the 100 users (seeds 0-7), the
    ratio fold-in / trained was 0.93-1.08 for bpr (mean 1.01; trained
    0.121-0.147) and 0.94-1.20 for warp (mean 1.04); the popularity
    ranking a zero vector gives reached 0.066-0.094. Stated margin: fold-in
    is at least 85% of trained, and recovers at least half of the trained
    model's gain over popularity.
    """
    from tripletrec import data as datasets

    data = datasets.movielens("ml-100k", split="ua", min_rating=4, path=data_dir, progress=False)
    train, test = data.train, data.test
    eligible = np.flatnonzero(np.diff(test.indptr) > 0)
    held_out = np.sort(np.random.default_rng(0).choice(eligible, 100, replace=False))
    is_held_out = np.zeros(train.n_users, dtype=bool)
    is_held_out[held_out] = True
    params = dict(dim=32, loss=loss, optimizer="adagrad", learning_rate=0.1, l2=0.02, epochs=20, threads=1, seed=0)
    trained = MatrixFactorization(**params).fit(train, progress=False)
    without = MatrixFactorization(**params).fit(train.select(~is_held_out[train.user_index()]), progress=False)
    vectors = without.fold_in([train.item_ids.ids[train.item_indices_of(user)] for user in held_out])

    test_held_out = test.select(is_held_out[test.user_index()])

    def precision(user_factors):
        scores = user_factors @ without.item_factors_.T + without.item_biases_
        return evaluate(scores, test_held_out, train=train, metrics=("precision",)).means["precision@10"]

    trained_precision = evaluate(trained, test_held_out, train=train, metrics=("precision",)).means["precision@10"]
    folded = without.user_factors_.copy()
    folded[held_out] = vectors
    fold_in_precision = precision(folded)
    folded[held_out] = 0.0
    popularity_precision = precision(folded)
    assert fold_in_precision >= 0.85 * trained_precision
    assert fold_in_precision - popularity_precision >= 0.5 * (trained_precision - popularity_precision)


def test_an_impossible_epoch_count_is_refused_before_allocating(model):
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1 and <= 100000, got 1000000000000"):
        model.fold_in([GROUP_A], epochs=10**12)


def test_user_keys_depend_on_items_and_weights_not_on_order_or_neighbours():
    from tripletrec.models.fold_in import user_keys

    indptr = np.array([0, 3, 6, 9, 9, 11])
    indices = np.array([4, 7, 9, 9, 4, 7, 4, 7, 9, 1, 2])
    weights = np.array([1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1], dtype=np.float32)
    keys = user_keys(indptr, indices, weights)
    assert keys.dtype == np.uint64 and keys.shape == (5,)
    assert keys[0] == keys[1]  # same items and weights, in another order
    assert keys[0] != keys[2]  # one weight differs
    assert len(set(keys.tolist())) == 4  # the empty row and the others are distinct
    # A row's key is the same computed alone.
    assert user_keys(np.array([0, 2]), indices[9:], weights[9:])[0] == keys[4]

"""The test suite every tripletrec model must pass, shipped with the package.

A model's test class (pytest) inherits :class:`ModelSuite` and provides
``make_model(self)``, returning an unfitted model with small settings and a
fixed seed (and overrides ``fit_model`` if its ``fit`` needs arguments)::

    from tripletrec.testing import ModelSuite

    class TestMyModel(ModelSuite):
        def make_model(self):
            return MyModel(dim=8, epochs=20, seed=0)

The suite needs pytest (the ``test`` extra). It checks, through the public
API only (external ids in and out):

1. a known answer: on a checkerboard (two groups of users, each liking all
   items of its own group but one held-out diagonal item), every user's
   held-out item ranks first once the training items are excluded;
2. batch recommendations equal one-user-at-a-time recommendations;
3. a save / load round trip keeps scores, recommendations and parameters;
4. unknown user and item ids raise errors naming them, and
   ``unknown="popular"`` ranks by item bias;
5. filters are honoured: excluded items never come back, ``items=`` limits
   the answer, and rows are padded when fewer than k items remain;
6. similar items and users exclude the query and agree with a numpy cosine;
7. one id space: ``score``, ``predict``, ``recommend`` and the index-level
   ``score_indices`` agree; ``evaluate`` works on the model;
8. estimator rules: ``get_params`` / ``set_params`` / ``clone`` round-trip,
   and every constructor argument has a validation constraint.
"""

from __future__ import annotations

import numpy as np
import pytest

from .data.interactions import IdMap, Interactions
from .io import ModelFileError
from .models.estimator import clone
from .models.ids import PAD_INT_ID, PAD_STR_ID
from .models.persistence import load

__all__ = ["GROUP_SIZE", "ITEM_IDS", "N_ITEMS", "N_USERS", "USER_IDS", "ModelSuite", "checkerboard"]

GROUP_SIZE = 10
N_USERS = N_ITEMS = 2 * GROUP_SIZE
USER_IDS = np.array([f"user-{user:02d}" for user in range(N_USERS)])
ITEM_IDS = 1000 + np.arange(N_ITEMS, dtype=np.int64)


def checkerboard() -> tuple[Interactions, Interactions]:
    """Train and test of the two-group checkerboard.

    User ``j`` of group ``g`` (dense index ``g * GROUP_SIZE + j``) likes the
    ``GROUP_SIZE`` items of group ``g`` except item ``j`` of the group,
    which is its only test item. Users have string ids ``"user-00"`` ...,
    items integer ids 1000 ...: dense indices and external ids differ.
    """
    train_users, train_items, test_users, test_items = [], [], [], []
    for group in range(2):
        for member in range(GROUP_SIZE):
            user = group * GROUP_SIZE + member
            for offset in range(GROUP_SIZE):
                item = group * GROUP_SIZE + offset
                if offset == member:
                    test_users.append(user)
                    test_items.append(item)
                else:
                    train_users.append(user)
                    train_items.append(item)
    user_ids, item_ids = IdMap(USER_IDS), IdMap(ITEM_IDS)
    shape = (N_USERS, N_ITEMS)
    train = Interactions.from_indices(train_users, train_items, shape=shape, user_ids=user_ids, item_ids=item_ids)
    test = Interactions.from_indices(test_users, test_items, shape=shape, user_ids=user_ids, item_ids=item_ids)
    return train, test


def numpy_scores(model) -> np.ndarray:
    """Reference scores of every (user, item), float64."""
    return model.user_factors_.astype(np.float64) @ model.item_factors_.T.astype(np.float64) + model.item_biases_


def numpy_cosine(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    return unit @ unit.T


class ModelSuite:
    """Mixin of shared tests; subclasses provide :meth:`make_model`."""

    def make_model(self):
        raise NotImplementedError("a ModelSuite test class must define make_model(self)")

    def fit_model(self, model, train: Interactions):
        return model.fit(train)

    @pytest.fixture(scope="class")
    def board(self) -> tuple[Interactions, Interactions]:
        return checkerboard()

    @pytest.fixture(scope="class")
    def fitted(self, board):
        return self.fit_model(self.make_model(), board[0])

    # ------------------------------------------------ 1. known answer
    def test_checkerboard_held_out_item_ranks_first(self, board, fitted):
        train, test = board
        ids, scores = fitted.recommend(USER_IDS, k=1, exclude=train)
        held_out = ITEM_IDS[test.indices]  # one test item per user, in user order
        assert ids.shape == (N_USERS, 1) and scores.shape == (N_USERS, 1)
        assert ids[:, 0].tolist() == held_out.tolist()

    def test_scores_are_dot_plus_bias_sorted_best_first(self, fitted):
        ids, scores = fitted.recommend(USER_IDS, k=N_ITEMS)
        reference = numpy_scores(fitted)
        rows = np.arange(N_USERS)[:, None]
        np.testing.assert_allclose(scores, reference[rows, ids - 1000], rtol=1e-5, atol=1e-5)
        assert scores.dtype == np.float32 and ids.dtype == ITEM_IDS.dtype
        assert np.all(np.diff(scores, axis=1) <= 0)
        # Every item exactly once per row: a ranking, not a sample.
        assert np.array_equal(np.sort(ids, axis=1), np.tile(ITEM_IDS, (N_USERS, 1)))

    # --------------------------------------------- 2. batch == single
    def test_batch_results_equal_single_user_results(self, board, fitted):
        train = board[0]
        users = USER_IDS[[3, 17, 3, 0]]  # a repeat too
        ids, scores = fitted.recommend(users, k=5, exclude=train)
        for row, user in enumerate(users):
            single_ids, single_scores = fitted.recommend(user, k=5, exclude=train)
            assert single_ids.shape == (5,) and single_scores.shape == (5,)
            assert single_ids.tolist() == ids[row].tolist()
            np.testing.assert_allclose(single_scores, scores[row], rtol=1e-6)

    def test_empty_batch_gives_empty_rows(self, fitted):
        ids, scores = fitted.recommend(USER_IDS[:0], k=3)
        assert ids.shape == (0, 3) and scores.shape == (0, 3)

    # ------------------------------------------------ 3. save / load
    def test_save_load_round_trip_is_identical(self, board, fitted, tmp_path):
        train = board[0]
        path = fitted.save(tmp_path / "model", metadata={"dataset": "checkerboard"})
        assert path == tmp_path / "model.npz"
        loaded = load(path)
        assert type(loaded) is type(fitted)
        assert loaded.get_params() == fitted.get_params()
        assert loaded.history_ == fitted.history_
        assert loaded.metadata_ == {"dataset": "checkerboard"}
        assert loaded.user_ids_ == fitted.user_ids_ and loaded.item_ids_ == fitted.item_ids_
        for name in ("user_factors_", "item_factors_", "item_biases_"):
            assert np.array_equal(getattr(loaded, name), getattr(fitted, name))
            assert getattr(loaded, name).dtype == np.float32
        assert np.array_equal(loaded.score(USER_IDS), fitted.score(USER_IDS))
        for exclude in (None, train):
            expected = fitted.recommend(USER_IDS, k=7, exclude=exclude)
            found = loaded.recommend(USER_IDS, k=7, exclude=exclude)
            assert np.array_equal(found[0], expected[0]) and np.array_equal(found[1], expected[1])
        expected = fitted.similar_items(ITEM_IDS, k=4)
        found = loaded.similar_items(ITEM_IDS, k=4)
        assert np.array_equal(found[0], expected[0]) and np.array_equal(found[1], expected[1])

    def test_loaded_model_can_be_saved_again_keeping_metadata(self, fitted, tmp_path):
        first = load(fitted.save(tmp_path / "first.npz", metadata={"split": "ua"}))
        second = load(first.save(tmp_path / "second.npz"))
        assert second.metadata_ == {"split": "ua"}
        assert np.array_equal(second.item_factors_, fitted.item_factors_)

    def test_tampered_model_file_is_rejected(self, fitted, tmp_path):
        path = fitted.save(tmp_path / "model.npz")
        content = bytearray(path.read_bytes())
        offset = content.find(fitted.item_factors_.tobytes())
        assert offset > 0
        content[offset + 3] ^= 0x20
        path.write_bytes(bytes(content))
        with pytest.raises(ModelFileError, match="is corrupted"):
            load(path)

    # ----------------------------------------------- 4. unknown ids
    def test_unknown_users_raise_naming_them(self, fitted):
        message = r"users: 2 of 3 ids are not in the model's user id map: 'nobody', 'ghost'; pass unknown='popular'"
        with pytest.raises(ValueError, match=message):
            fitted.recommend(["user-01", "nobody", "ghost"])
        with pytest.raises(ValueError, match=r"users: 1 of 1 ids .*: 7"):
            fitted.recommend(7)  # an int never matches string ids

    def test_unknown_popular_ranks_by_item_bias(self, board, fitted):
        train = board[0]
        ids, scores = fitted.recommend(["nobody", "user-04"], k=N_ITEMS, exclude=train, unknown="popular")
        order = np.argsort(-fitted.item_biases_.astype(np.float64), kind="stable")
        assert ids[0].tolist() == ITEM_IDS[order].tolist()
        np.testing.assert_array_equal(scores[0], fitted.item_biases_[order])
        known_ids, known_scores = fitted.recommend("user-04", k=N_ITEMS, exclude=train)
        assert ids[1].tolist() == known_ids.tolist()

    def test_unknown_candidate_or_query_items_raise_naming_them(self, fitted):
        with pytest.raises(ValueError, match=r"items: 1 of 2 ids are not in the model's item id map: 5"):
            fitted.recommend("user-00", items=[1000, 5])
        with pytest.raises(ValueError, match=r"items: 1 of 1 ids are not in the model's item id map: 'x'"):
            fitted.similar_items("x")
        with pytest.raises(ValueError, match=r"users: 1 of 1 ids are not in the model's user id map: 'x'"):
            fitted.similar_users(["x"])

    def test_bad_arguments_are_named(self, board, fitted):
        with pytest.raises(ValueError, match=r"k must be an integer >= 1, got 0"):
            fitted.recommend("user-00", k=0)
        with pytest.raises(ValueError, match=r"k must be an integer >= 1, got 2.5"):
            fitted.similar_items(1000, k=2.5)
        with pytest.raises(ValueError, match=r"unknown must be one of 'error', 'popular', got 'skip'"):
            fitted.recommend("user-00", unknown="skip")
        with pytest.raises(ValueError, match=r"exclude must be None, an Interactions"):
            fitted.recommend("user-00", exclude=[[1000]])
        other = Interactions.from_indices([0], [0], shape=(N_USERS, N_ITEMS))
        with pytest.raises(ValueError, match=r"exclude holds 20 users the model does not know"):
            fitted.recommend("user-00", exclude=other)
        smaller = Interactions.from_indices([0], [0], shape=(2, 2))
        with pytest.raises(ValueError, match=r"exclude holds 2 users the model does not know"):
            fitted.recommend("user-00", exclude=smaller)
        with pytest.raises(ValueError, match=r"users must be a single id or a 1-dimensional sequence of ids"):
            fitted.recommend([["user-00"]])
        with pytest.raises(ValueError, match=r"items must be a single id or a 1-dimensional sequence of ids"):
            fitted.similar_items([[1000, 1001]])

    def test_unfitted_model_raises(self):
        model = self.make_model()
        with pytest.raises(ValueError, match="is not fitted yet; call fit"):
            model.recommend("user-00")
        with pytest.raises(ValueError, match="is not fitted yet; call fit"):
            model.save("never.npz")

    # ---------------------------------------------------- 5. filters
    def test_excluded_items_are_never_returned(self, board, fitted):
        train = board[0]
        ids, _ = fitted.recommend(USER_IDS, k=N_ITEMS - (GROUP_SIZE - 1), exclude=train)
        for row, user_items in enumerate(train.user_items()):
            assert not set(ids[row].tolist()) & set(ITEM_IDS[user_items].tolist())
        # A sparse matrix in dense indices works the same.
        sparse_ids, _ = fitted.recommend(USER_IDS, k=N_ITEMS - (GROUP_SIZE - 1), exclude=train.matrix)
        assert np.array_equal(sparse_ids, ids)

    def test_candidates_restrict_the_answer(self, fitted):
        candidates = [1019, 1003, 1003, 1011]
        ids, scores = fitted.recommend(USER_IDS, k=3, items=candidates)
        assert set(ids.ravel().tolist()) <= {1019, 1003, 1011}
        reference = numpy_scores(fitted)[:, [3, 11, 19]]
        best = np.array([1003, 1011, 1019])[np.argsort(-reference, axis=1, kind="stable")[:, :3]]
        assert ids.tolist() == best.tolist()

    def test_rows_are_padded_when_fewer_than_k_items_remain(self, board, fitted):
        train = board[0]
        ids, scores = fitted.recommend(["user-00", "user-15"], k=15, exclude=train)
        remaining = N_ITEMS - (GROUP_SIZE - 1)
        assert ids.shape == (2, 15)
        assert np.all(np.isfinite(scores[:, :remaining]))
        assert np.all(np.isneginf(scores[:, remaining:]))
        assert np.all(ids[:, remaining:] == PAD_INT_ID)
        # Candidates: two items and k = 4.
        ids, scores = fitted.recommend("user-00", k=4, items=[1000, 1010])
        assert ids[2:].tolist() == [PAD_INT_ID] * 2 and np.isneginf(scores[2:]).all()
        # Similar users pad with the string sentinel: k = 25 is capped at the 20 users,
        # of which 19 are others.
        user_ids, similarities = fitted.similar_users("user-00", k=25)
        assert user_ids.shape == (N_USERS,)
        assert user_ids[19:].tolist() == [PAD_STR_ID] and np.isneginf(similarities[19:]).all()

    def test_k_larger_than_the_catalogue_is_capped_without_allocating_it(self, fitted):
        ids, scores = fitted.recommend(USER_IDS[:2], k=10**12)
        assert ids.shape == scores.shape == (2, N_ITEMS)
        assert np.isfinite(scores).all()
        similar, _ = fitted.similar_items(ITEM_IDS[0], k=10**12)
        assert similar.shape == (N_ITEMS,) and similar[-1] == PAD_INT_ID

    # --------------------------------------------------- 6. similar
    def test_similar_items_exclude_the_query_and_match_numpy_cosine(self, fitted):
        ids, similarities = fitted.similar_items(ITEM_IDS, k=N_ITEMS - 1)
        cosine = numpy_cosine(fitted.item_factors_)
        for row in range(N_ITEMS):
            assert ITEM_IDS[row] not in ids[row]
            np.testing.assert_allclose(similarities[row], cosine[row, ids[row] - 1000], atol=1e-5)
            expected = np.delete(np.sort(cosine[row])[::-1], 0)  # the query's own 1.0 dropped
            np.testing.assert_allclose(similarities[row], expected, atol=1e-5)
        single_ids, single_similarities = fitted.similar_items(1004, k=3)
        assert single_ids.shape == (3,) and single_ids.tolist() == ids[4, :3].tolist()

    def test_similar_items_of_the_checkerboard_stay_in_their_group(self, fitted):
        ids, _ = fitted.similar_items([1000, 1015], k=GROUP_SIZE - 1)
        assert set(ids[0].tolist()) == set(range(1001, 1010))
        assert set(ids[1].tolist()) == set(range(1010, 1020)) - {1015}

    def test_similar_users_exclude_the_query_and_match_numpy_cosine(self, fitted):
        ids, similarities = fitted.similar_users(USER_IDS[[2, 12]], k=5)
        cosine = numpy_cosine(fitted.user_factors_)
        for row, query in enumerate((2, 12)):
            assert USER_IDS[query] not in ids[row]
            dense = fitted.user_ids_.to_index(ids[row])
            np.testing.assert_allclose(similarities[row], cosine[query, dense], atol=1e-5)
            assert np.all(np.diff(similarities[row]) <= 0)

    # ---------------------------------------------------- fold-in
    def test_a_folded_in_user_of_a_group_gets_the_groups_missing_item(self, fitted):
        new_users = [ITEM_IDS[: GROUP_SIZE - 1], ITEM_IDS[GROUP_SIZE + 1 :]]
        ids, scores = fitted.recommend_new(new_users, k=1)
        assert ids[:, 0].tolist() == [ITEM_IDS[GROUP_SIZE - 1], ITEM_IDS[GROUP_SIZE]]
        items_before = fitted.item_factors_.copy()
        vectors = fitted.fold_in(new_users)
        assert vectors.shape == (2, fitted.item_factors_.shape[1]) and vectors.dtype == np.float32
        assert np.array_equal(fitted.item_factors_, items_before)

    def test_a_flat_list_is_one_new_user(self, fitted):
        items = ITEM_IDS[: GROUP_SIZE - 1]
        ids, scores = fitted.recommend_new(items, k=3, seed=0)
        batch_ids, batch_scores = fitted.recommend_new([items], k=3, seed=0)
        assert ids.shape == (3,) and ids.tolist() == batch_ids[0].tolist()
        np.testing.assert_array_equal(scores, batch_scores[0])
        assert fitted.fold_in(items, seed=0).shape == (fitted.item_factors_.shape[1],)

    # ------------------------------------------------ 7. one id space
    def test_score_columns_follow_item_ids_and_the_best_is_recommended_first(self, fitted):
        scores = fitted.score(USER_IDS)
        assert scores.shape == (N_USERS, N_ITEMS) and scores.dtype == np.float32
        np.testing.assert_allclose(scores, numpy_scores(fitted), rtol=1e-5, atol=1e-5)
        best_by_score = fitted.item_ids_.ids[np.argmax(scores, axis=1)]
        ids, _ = fitted.recommend(USER_IDS, k=1)
        assert ids[:, 0].tolist() == best_by_score.tolist()
        single = fitted.score(USER_IDS[5])
        assert single.shape == (N_ITEMS,)
        np.testing.assert_array_equal(single, fitted.score_indices([5])[0])

    def test_predict_equals_the_score_of_each_pair(self, fitted):
        users = USER_IDS[[0, 3, 3, 19]]
        items = ITEM_IDS[[7, 0, 19, 12]]
        predicted = fitted.predict(users, items)
        columns = fitted.item_ids_.to_index(items)
        from_score = fitted.score(users)[np.arange(4), columns]
        assert predicted.shape == (4,) and predicted.dtype == np.float32
        # BLAS sums a matrix product in another order than a row-wise dot.
        np.testing.assert_allclose(predicted, from_score, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fitted.score(users[0], items), fitted.predict(users[0], items), rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match="users and items must pair up: got 4 users and 2 items"):
            fitted.predict(users, items[:2])
        with pytest.raises(ValueError, match="items: 1 of 1 ids are not in the model's item id map: 5"):
            fitted.predict(USER_IDS[0], [5])

    def test_index_level_methods_take_dense_indices(self, board, fitted):
        train = board[0]
        indices, scores = fitted.recommend_indices([0, 12], k=4, exclude=train)
        ids, id_scores = fitted.recommend(USER_IDS[[0, 12]], k=4, exclude=train)
        assert fitted.item_ids_.ids[indices].tolist() == ids.tolist()
        np.testing.assert_array_equal(scores, id_scores)
        with pytest.raises(ValueError, match=r"user_indices: 1 of 1 indices are outside 0..19"):
            fitted.score_indices([N_USERS])

    def test_evaluate_ranks_the_held_out_items_first(self, board, fitted):
        from .metrics import evaluate

        train, test = board
        result = evaluate(fitted, test, train=train, k=1, metrics=("auc", "precision"))
        assert result["auc"] == 1.0 and result["precision@1"] == 1.0

    # ------------------------------------------------ 8. estimator rules
    def test_params_round_trip_through_clone_and_set_params(self, fitted):
        copy = clone(fitted)
        assert type(copy) is type(fitted) and copy.get_params() == fitted.get_params()
        assert not hasattr(copy, "item_factors_")
        assert copy.set_params(**fitted.get_params()) is copy
        with pytest.raises(ValueError, match="has no parameter 'no_such_parameter'"):
            copy.set_params(no_such_parameter=1)

    def test_every_parameter_has_a_constraint(self):
        model = self.make_model()
        assert set(type(model)._parameter_constraints) == set(model.get_params())
        model._validate_params()  # the suite's settings are valid

"""MatrixFactorization with side features: known answers, new items, growing, model files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tripletrec.data import Features, IdMap, Interactions
from tripletrec.models import MatrixFactorization, load
from tripletrec.testing import GROUP_SIZE, ITEM_IDS, USER_IDS, ModelSuite

from .conftest import SMALL as SUITE_PARAMS

HYBRID = dict(dim=16, epochs=30, learning_rate=0.1, threads=1, seed=0, negatives="uniform")
N_TAGS = 2
WARM_PER_TAG = 30
COLD_PER_TAG = 10
USERS_PER_TAG = 30


def tagged_data(seed=0):
    """Users of tag ``g`` like 10 random warm items of tag ``g``; the cold items have no interaction.

    Items ``0 .. N_TAGS * WARM_PER_TAG - 1`` are warm, the rest cold; item
    ``i`` has tag ``tag_of[i]``. Only the tag can tell which cold items a
    user likes.
    """
    random = np.random.default_rng(seed)
    warm_tags = np.repeat(np.arange(N_TAGS), WARM_PER_TAG)
    cold_tags = np.repeat(np.arange(N_TAGS), COLD_PER_TAG)
    tag_of = np.concatenate([warm_tags, cold_tags])
    users, items = [], []
    for user in range(N_TAGS * USERS_PER_TAG):
        tag = user // USERS_PER_TAG
        liked = random.choice(np.flatnonzero(warm_tags == tag), size=10, replace=False)
        users += [user] * len(liked)
        items += liked.tolist()
    n_items = len(tag_of)
    item_ids = IdMap(np.array([f"item-{item}" for item in range(n_items)]))
    user_ids = IdMap(np.arange(N_TAGS * USERS_PER_TAG) + 500)
    train = Interactions.from_indices(
        users, items, shape=(len(user_ids), n_items), user_ids=user_ids, item_ids=item_ids
    )
    features = Features.one_hot([f"t{tag}" for tag in tag_of], item_ids, "tag")
    return train, features, tag_of


def cold_item_auc(model, tag_of, cold_ids):
    """Mean over users of the AUC of their tag's cold items against the other tags' cold items."""
    scores = model.score(model.user_ids_.ids, cold_ids)
    cold_tags = tag_of[-len(cold_ids) :]
    aucs = []
    for row, user_tag in enumerate(np.arange(scores.shape[0]) // USERS_PER_TAG):
        positive = scores[row, cold_tags == user_tag]
        negative = scores[row, cold_tags != user_tag]
        aucs.append(np.mean(positive[:, None] > negative[None, :]))
    return float(np.mean(aucs))


@pytest.fixture(scope="module")
def tagged():
    return tagged_data()


@pytest.fixture(scope="module")
def hybrid(tagged):
    train, features, _ = tagged
    return MatrixFactorization(**HYBRID).fit(train, item_features=features, progress=False)


def test_only_features_explain_the_cold_items(tagged, hybrid):
    """Known answer: the tag ranks a user's cold items; identity-only MF ranks them at random."""
    train, _, tag_of = tagged
    cold_ids = train.item_ids.ids[N_TAGS * WARM_PER_TAG :]
    plain = MatrixFactorization(**HYBRID).fit(train, progress=False)
    assert cold_item_auc(hybrid, tag_of, cold_ids) > 0.95
    assert cold_item_auc(plain, tag_of, cold_ids) < 0.7


def test_learned_arrays_have_the_feature_layout(tagged, hybrid):
    train, features, _ = tagged
    n_users, n_items = train.shape
    assert hybrid.has_features_
    # Items: the tag columns, then one identity column per item; users: identity only.
    assert hybrid.item_features_.shape == (n_items, N_TAGS + n_items)
    assert hybrid.user_features_.shape == (n_users, n_users)
    assert hybrid.item_feature_embeddings_.shape == (N_TAGS + n_items, HYBRID["dim"])
    assert hybrid.item_feature_biases_.shape == (N_TAGS + n_items,)
    np.testing.assert_array_equal(hybrid.item_feature_names_, features.columns)
    # The representations are the feature sums.
    np.testing.assert_allclose(
        hybrid.item_factors_, hybrid.item_features_.toarray() @ hybrid.item_feature_embeddings_, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        hybrid.item_biases_, hybrid.item_features_.toarray() @ hybrid.item_feature_biases_, rtol=1e-5, atol=1e-6
    )


def test_a_new_item_from_features_is_recommended_and_similar_without_retraining(tagged, hybrid):
    train, features, tag_of = tagged
    model = MatrixFactorization(**HYBRID).fit(train, item_features=features, progress=False)
    before = model.item_factors_.copy()
    new_features = Features.one_hot(["t0", "t1"], IdMap(np.array(["new-a", "new-b"])), "tag")
    model.add_items(["new-a", "new-b"], new_features)
    assert model.n_items_ == train.n_items + 2
    np.testing.assert_array_equal(model.item_factors_[: train.n_items], before)
    user_of_tag0 = train.user_ids.ids[0]
    ids, _ = model.recommend([user_of_tag0], k=model.n_items_, exclude=train)
    ranked = ids[0].tolist()
    assert "new-a" in ranked
    # The tag-0 user ranks the new tag-0 item above every warm tag-1 item.
    tag1_items = [f"item-{item}" for item in np.flatnonzero(tag_of[: N_TAGS * WARM_PER_TAG] == 1)]
    assert ranked.index("new-a") < min(ranked.index(item) for item in tag1_items)
    assert ranked.index("new-a") < ranked.index("new-b")
    similar, _ = model.similar_items(["new-a"], k=5)
    similar_tags = [tag_of[int(item.split("-")[1])] for item in similar[0] if item.startswith("item-")]
    assert similar_tags and all(tag == 0 for tag in similar_tags)


def test_add_items_refuses_known_ids_and_plain_models(tagged, hybrid):
    train, features, _ = tagged
    known = Features.one_hot(["t0"], IdMap(np.array(["item-0"])), "tag")
    with pytest.raises(ValueError, match="already knows"):
        MatrixFactorization(**HYBRID).fit(train, item_features=features, progress=False).add_items(["item-0"], known)
    plain = MatrixFactorization(**{**HYBRID, "epochs": 1}).fit(train, progress=False)
    with pytest.raises(ValueError, match="fitted with item_features"):
        plain.add_items(["x"], known)
    unknown_columns = Features.one_hot(["zzz"], IdMap(np.array(["x"])), "colour")
    with pytest.raises(ValueError, match="none of the 1 columns"):
        MatrixFactorization(**HYBRID).fit(train, item_features=features, progress=False).add_items(
            ["x"], unknown_columns
        )


def test_fit_partial_with_new_users_and_items_grows_and_keeps_old_scores(tagged):
    train, features, tag_of = tagged
    first_users = np.arange(train.n_users) % USERS_PER_TAG < USERS_PER_TAG - 5
    first = train.select(first_users[train.user_index()])
    # The first fit knows neither the last 5 users of each tag nor the cold items.
    users, items, _ = first.to_coo()
    kept_users = np.unique(users)
    warm = N_TAGS * WARM_PER_TAG
    old = Interactions.from_indices(
        np.searchsorted(kept_users, users),
        items,
        shape=(len(kept_users), warm),
        user_ids=IdMap(train.user_ids.ids[kept_users]),
        item_ids=IdMap(train.item_ids.ids[:warm]),
    )
    model = MatrixFactorization(**HYBRID).fit(old, item_features=features, progress=False)
    scores_before = model.score(old.user_ids.ids)
    # New data: every user (new ones included), and one interaction with each cold item.
    cold = np.arange(warm, train.n_items)
    grown_users, grown_items, _ = train.to_coo()
    extra_users = (cold - warm) % train.n_users
    grown = Interactions.from_indices(
        np.concatenate([grown_users, extra_users]),
        np.concatenate([grown_items, cold]),
        shape=train.shape,
        user_ids=train.user_ids,
        item_ids=train.item_ids,
    )
    model.fit_partial(grown, epochs=2, item_features=features, progress=False)
    assert model.n_users_ == train.n_users and model.n_items_ == train.n_items
    assert set(model.item_ids_.ids.tolist()) == set(train.item_ids.ids.tolist())
    # Old users and items keep their places; their scores move little in two epochs.
    np.testing.assert_array_equal(model.user_ids_.ids[: len(kept_users)], old.user_ids.ids)
    scores_after = model.score(old.user_ids.ids, old.item_ids.ids)
    correlation = np.corrcoef(scores_before.ravel(), scores_after.ravel())[0, 1]
    assert correlation > 0.9
    # The new cold items were appended with their tag features.
    new_rows = model.item_ids_.to_index(train.item_ids.ids[cold])
    tag_columns = model.item_features_[new_rows][:, :N_TAGS].toarray()
    np.testing.assert_array_equal(tag_columns.argmax(axis=1), tag_of[cold])
    assert model.item_feature_embeddings_.shape[0] == N_TAGS + train.n_items


def test_fit_partial_grows_a_plain_model_too(tagged):
    train, _, _ = tagged
    half = Interactions.from_indices(
        *train.to_coo()[:2], shape=train.shape, user_ids=train.user_ids, item_ids=train.item_ids
    )
    keep = half.user_index() < 10
    small = half.select(keep)
    users, items, _ = small.to_coo()
    small = Interactions.from_indices(
        users, items, shape=(10, train.n_items), user_ids=IdMap(train.user_ids.ids[:10]), item_ids=train.item_ids
    )
    model = MatrixFactorization(**{**HYBRID, "epochs": 2}).fit(small, progress=False)
    model.fit_partial(train, epochs=1, progress=False)
    assert model.user_factors_.shape == (train.n_users, HYBRID["dim"])
    assert np.isfinite(model.user_factors_).all()
    ids, _ = model.recommend(train.user_ids.ids[-1:], k=3)
    assert ids.shape == (1, 3)


def test_save_load_keeps_feature_embeddings_and_column_names(tagged, hybrid, tmp_path):
    train, features, _ = tagged
    path = hybrid.save(tmp_path / "hybrid")
    loaded = load(path)
    for name in ("user_feature_embeddings_", "item_feature_embeddings_", "item_feature_biases_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(hybrid, name))
    np.testing.assert_array_equal(loaded.item_feature_names_, features.columns)
    assert (loaded.item_features_ != hybrid.item_features_).nnz == 0
    np.testing.assert_array_equal(loaded.score(train.user_ids.ids[:3]), hybrid.score(train.user_ids.ids[:3]))
    # A loaded hybrid still takes new items by their column names.
    loaded.add_items(["new"], Features.one_hot(["t1"], IdMap(np.array(["new"])), "tag"))
    assert "new" in loaded.item_ids_


def test_identity_only_features_train_like_plain_factorization(tagged):
    """With no given column the hybrid is plain MF: same accuracy on held-out pairs."""
    train, _, _ = tagged
    identity = sp.csr_matrix((train.n_items, 0))
    plain = MatrixFactorization(**{**HYBRID, "epochs": 10}).fit(train, progress=False)
    hybrid = MatrixFactorization(**{**HYBRID, "epochs": 10}).fit(train, item_features=identity, progress=False)
    warm = N_TAGS * WARM_PER_TAG
    for model in (plain, hybrid):
        scores = model.score(train.user_ids.ids)[:, :warm]
        own_tag = (np.arange(warm) // WARM_PER_TAG)[None, :] == (np.arange(train.n_users) // USERS_PER_TAG)[:, None]
        assert scores[own_tag].mean() > scores[~own_tag].mean() + 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(item_features=np.ones((3, 2))), "item_features has 3 rows but there are"),
        (dict(item_features=np.full((80, 1), np.nan)), "NaN or infinite"),
        (dict(item_features="tags"), "must be a tripletrec.data.Features"),
        (dict(item_features=np.ones(80)), "two-dimensional"),
    ],
)
def test_bad_features_are_named(tagged, kwargs, message):
    train, _, _ = tagged
    with pytest.raises(ValueError, match=message):
        MatrixFactorization(**HYBRID).fit(train, progress=False, **kwargs)


def test_no_identity_and_no_features_is_refused(tagged):
    train, features, _ = tagged
    model = MatrixFactorization(**{**HYBRID, "user_identity_features": False})
    with pytest.raises(ValueError, match="user_identity_features=False needs user_features"):
        model.fit(train, item_features=features, progress=False)


def test_normalizing_a_row_without_features_is_refused(tagged):
    train, _, _ = tagged
    empty = sp.csr_matrix((train.n_items, 2))
    model = MatrixFactorization(**{**HYBRID, "item_identity_features": False, "normalize_features": True})
    with pytest.raises(ValueError, match="no feature .*cannot be normalised"):
        model.fit(train, item_features=empty, progress=False)


def test_normalized_rows_sum_to_one(tagged):
    train, features, _ = tagged
    model = MatrixFactorization(**{**HYBRID, "epochs": 1, "normalize_features": True})
    model.fit(train, item_features=features, progress=False)
    np.testing.assert_allclose(np.asarray(model.item_features_.sum(axis=1)).ravel(), 1.0, rtol=1e-6)


def board_features(ids, groups):
    return Features.one_hot([f"g{group}" for group in groups], IdMap(ids), "group")


class TestHybridSuite(ModelSuite):
    """The shared suite for a model fitted with user and item features."""

    def make_model(self):
        return MatrixFactorization(**SUITE_PARAMS)

    def fit_model(self, model, train):
        groups = np.arange(len(USER_IDS)) // GROUP_SIZE
        return model.fit(
            train,
            user_features=board_features(USER_IDS, groups),
            item_features=board_features(ITEM_IDS, groups),
            progress=False,
        )


def test_a_new_user_is_served_from_features_items_or_both(tagged):
    train, item_features, tag_of = tagged
    user_tags = [f"t{user // USERS_PER_TAG}" for user in range(train.n_users)]
    user_features = Features.one_hot(user_tags, train.user_ids, "likes")
    model = MatrixFactorization(**HYBRID).fit(
        train, user_features=user_features, item_features=item_features, progress=False
    )
    newcomers = Features.one_hot(["t0", "t1"], IdMap(np.array(["a", "b"])), "likes")
    warm = N_TAGS * WARM_PER_TAG
    for vectors in (
        model.user_representations(newcomers),
        model.fold_in(user_features=newcomers),
    ):
        scores = vectors @ model.item_factors_[:warm].T + model.item_biases_[:warm]
        warm_tags = tag_of[:warm]
        assert scores[0, warm_tags == 0].mean() > scores[0, warm_tags == 1].mean()
        assert scores[1, warm_tags == 1].mean() > scores[1, warm_tags == 0].mean()
    ids, _ = model.recommend_new(user_features=newcomers, k=5, candidates=train.item_ids.ids[:warm])
    assert all(tag_of[int(item.split("-")[1])] == 0 for item in ids[0])
    assert all(tag_of[int(item.split("-")[1])] == 1 for item in ids[1])
    # Items and features together: the given items are excluded, the rest follow the tag.
    given = [["item-0", "item-1"], ["item-30"]]
    ids, _ = model.recommend_new(given, k=5, user_features=newcomers, candidates=train.item_ids.ids[:warm])
    assert not {"item-0", "item-1"} & set(ids[0].tolist())
    assert all(tag_of[int(item.split("-")[1])] == 1 for item in ids[1])


def test_new_user_features_need_a_model_with_user_features(tagged, hybrid):
    newcomer = Features.one_hot(["t0"], IdMap(np.array(["a"])), "likes")
    with pytest.raises(ValueError, match="user_features needs a model fitted with user_features"):
        hybrid.recommend_new(user_features=newcomer)
    train, _, _ = tagged
    plain = MatrixFactorization(**{**HYBRID, "epochs": 1}).fit(train, progress=False)
    with pytest.raises(ValueError, match="user_features needs a model fitted with user_features"):
        plain.recommend_new(user_features=newcomer)
    with pytest.raises(ValueError, match="pass the new users' items, their user_features, or both"):
        plain.recommend_new()


def test_item_representations_are_the_feature_sums(hybrid):
    rows = Features.one_hot(["t1", "t0"], IdMap(np.array(["x", "y"])), "tag")
    vectors, biases = hybrid.item_representations(rows)
    np.testing.assert_allclose(vectors[0], hybrid.item_feature_embeddings_[1], rtol=1e-6)
    np.testing.assert_allclose(vectors[1], hybrid.item_feature_embeddings_[0], rtol=1e-6)
    np.testing.assert_allclose(biases, hybrid.item_feature_biases_[[1, 0]], rtol=1e-6)


def cold_pairs(train, tag_of):
    """Each user likes 3 cold items of its tag: the held-out pairs of the cold-item protocol."""
    random = np.random.default_rng(1)
    warm = N_TAGS * WARM_PER_TAG
    users, items = [], []
    for user in range(train.n_users):
        tag = user // USERS_PER_TAG
        cold = warm + np.flatnonzero(tag_of[warm:] == tag)
        users += [user] * 3
        items += random.choice(cold, size=3, replace=False).tolist()
    return Interactions.from_indices(users, items, shape=train.shape, user_ids=train.user_ids, item_ids=train.item_ids)


def test_evaluate_cold_start_items_among_cold_and_all(tagged):
    from tripletrec import evaluate_cold_start

    train, features, tag_of = tagged
    warm = N_TAGS * WARM_PER_TAG
    users, items, _ = train.to_coo()
    warm_only = Interactions.from_indices(
        users, items, shape=(train.n_users, warm), user_ids=train.user_ids, item_ids=IdMap(train.item_ids.ids[:warm])
    )
    model = MatrixFactorization(**HYBRID).fit(warm_only, item_features=features, progress=False)
    test = cold_pairs(train, tag_of)
    among_cold = evaluate_cold_start(model, test, item_features=features, among="cold", metrics=["auc", "precision"])
    among_all = evaluate_cold_start(
        model, test, train=train, item_features=features, among="all", metrics=["auc", "precision"]
    )
    # The reference: each user's AUC of its test items against the other cold items, from the features
    # (same-tag cold items share one representation: ties count a half).
    cold_ids = train.item_ids.ids[warm:]
    vectors, biases = model.item_representations(Features(features.matrix[warm:], features.columns, IdMap(cold_ids)))
    scores = model.user_factors_ @ vectors.T + biases
    expected = []
    for user in range(train.n_users):
        liked = np.isin(np.arange(warm, train.n_items), test.item_indices_of(user))
        positive, negative = scores[user, liked][:, None], scores[user, ~liked][None, :]
        expected.append(np.mean((positive > negative) + 0.5 * (positive == negative)))
    assert among_cold["auc"] == pytest.approx(np.mean(expected), abs=1e-6)
    assert among_cold["auc"] > 0.75
    # Among every item the cold ones compete with the unseen warm items of the user's tag.
    assert 0.5 < among_all["auc"] < among_cold["auc"]
    with pytest.raises(ValueError, match="pass item_features"):
        evaluate_cold_start(model, test, among="cold")
    with pytest.raises(ValueError, match="among must be one of 'cold', 'all'"):
        evaluate_cold_start(model, test, item_features=features, among="some")


def test_evaluate_cold_start_users_from_features(tagged):
    from tripletrec import evaluate_cold_start
    from tripletrec.data import cold_start_users

    train, item_features, _ = tagged
    user_tags = [f"t{user // USERS_PER_TAG}" for user in range(train.n_users)]
    user_features = Features.one_hot(user_tags, train.user_ids, "likes")
    fit_part, test = cold_start_users(train, 0.2, seed=0)
    kept = np.unique(fit_part.user_index())
    users, items, _ = fit_part.to_coo()
    known = Interactions.from_indices(
        np.searchsorted(kept, users),
        items,
        shape=(len(kept), train.n_items),
        user_ids=IdMap(train.user_ids.ids[kept]),
        item_ids=train.item_ids,
    )
    model = MatrixFactorization(**HYBRID).fit(
        known, user_features=user_features, item_features=item_features, progress=False
    )
    result = evaluate_cold_start(model, test, user_features=user_features, among="all", metrics=["auc"])
    assert result["auc"] > 0.8

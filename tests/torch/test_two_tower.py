"""TwoTower: the shared suite, features that alone explain cold items, MLP towers, model files."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed (pip install 'tripletrec[torch]')")

from tripletrec.data import IdMap  # noqa: E402
from tripletrec.models import load  # noqa: E402
from tripletrec.models.feature_matrices import rows_for_ids  # noqa: E402
from tripletrec.testing import ITEM_IDS, USER_IDS, ModelSuite, checkerboard  # noqa: E402
from tripletrec.torch import TwoTower  # noqa: E402

from ..models.test_hybrid import N_TAGS, USERS_PER_TAG, WARM_PER_TAG, cold_item_auc, tagged_data  # noqa: E402

SUITE_PARAMS = dict(dim=8, learning_rate=0.05, batch_size=16, epochs=60, device="cpu", threads=1, seed=0)
TAGGED_PARAMS = dict(dim=8, learning_rate=0.05, batch_size=64, epochs=40, device="cpu", threads=1, seed=0)


class TestTwoTowerSuite(ModelSuite):
    """``tripletrec.testing.ModelSuite`` for TwoTower (softmax with in-batch negatives, identity columns only)."""

    def make_model(self):
        return TwoTower(**SUITE_PARAMS)

    def fit_model(self, model, train):
        return model.fit(train, progress=False)


@pytest.fixture(scope="module")
def board():
    return checkerboard()


@pytest.fixture(scope="module")
def tagged():
    return tagged_data()


@pytest.mark.parametrize(
    "params", [{"hidden": (16,)}, {"loss": "bpr"}, {"hidden": (16,), "loss": "warp", "n_negatives": 4}]
)
def test_towers_and_losses_learn_the_checkerboard(board, params):
    train, test = board
    model = TwoTower(**{**SUITE_PARAMS, **params}).fit(train, progress=False)
    ids, _ = model.recommend(USER_IDS, k=1, exclude=train)
    assert ids[:, 0].tolist() == ITEM_IDS[test.indices].tolist()


@pytest.mark.parametrize("hidden", [(), (16,)])
def test_only_features_explain_the_cold_items(tagged, hidden):
    """Known answer: items sharing a tag are liked together; cold items are ranked by their tag alone."""
    train, features, tag_of = tagged
    cold_ids = train.item_ids.ids[N_TAGS * WARM_PER_TAG :]
    model = TwoTower(**TAGGED_PARAMS, hidden=hidden).fit(train, item_features=features, progress=False)
    assert cold_item_auc(model, tag_of, cold_ids) > 0.95
    plain = TwoTower(**TAGGED_PARAMS, hidden=hidden).fit(train, progress=False)
    assert cold_item_auc(plain, tag_of, cold_ids) < 0.75
    # From the feature rows alone (no identity column): the users' own tag first, as a new item would be.
    vectors, biases = model.item_representations(rows_for_ids(features, IdMap(cold_ids), "item_features"))
    scores = model.user_factors_ @ vectors.T + biases
    cold_tags = tag_of[-len(cold_ids) :]
    user_tags = np.arange(scores.shape[0]) // USERS_PER_TAG
    own = cold_tags[None, :] == user_tags[:, None]
    assert (
        scores[own].reshape(len(user_tags), -1).min(axis=1) > scores[~own].reshape(len(user_tags), -1).max(axis=1)
    ).mean() > 0.9


def test_save_load_keeps_the_towers_and_feature_columns(tagged, tmp_path):
    train, features, _ = tagged
    model = TwoTower(**TAGGED_PARAMS, hidden=(16,)).fit(train, item_features=features, progress=False)
    loaded = load(model.save(tmp_path / "towers.npz"))
    assert loaded.item_feature_names_.tolist() == model.item_feature_names_.tolist()
    for name, value in model.tower_parameters_.items():
        assert np.array_equal(loaded.tower_parameters_[name], value)
    expected = model.item_representations(features)
    found = loaded.item_representations(features)
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])
    assert np.array_equal(loaded.score(train.user_ids.ids[:3]), model.score(train.user_ids.ids[:3]))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden": (0,)}, r"hidden must be a tuple of positive layer widths, got \(0,\)"),
        ({"embedding_dim": 16}, r"embedding_dim=16 differs from dim=8, which needs hidden layers"),
        ({"item_identity_features": False}, r"item_identity_features=False needs item_features"),
        ({"loss": "warp-kos"}, r"loss must be one of 'softmax', 'bpr', 'sigmoid', 'hinge', 'warp', 'logistic'"),
    ],
)
def test_bad_settings_are_named(board, params, message):
    with pytest.raises(ValueError, match=message):
        TwoTower(**{**SUITE_PARAMS, **params}).fit(board[0], progress=False)

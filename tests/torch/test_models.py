"""TripletNetwork on the common base: the shared suite, reproducibility, bad input, torch-free serving."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed (pip install 'tripletrec[torch]')")

from tripletrec.testing import ITEM_IDS, USER_IDS, ModelSuite, checkerboard  # noqa: E402
from tripletrec.torch import TripletNetwork, TwoTower  # noqa: E402

# Small and quick: the checkerboard has 20 users x 20 items.
SUITE_PARAMS = dict(
    dim=8, loss="bpr", learning_rate=0.05, batch_size=16, epochs=60, biases=True, device="cpu", threads=1, seed=0
)


class TestTripletNetworkSuite(ModelSuite):
    """``tripletrec.testing.ModelSuite`` for the torch engine."""

    def make_model(self):
        return TripletNetwork(**SUITE_PARAMS)

    def fit_model(self, model, train):
        return model.fit(train, progress=False)


@pytest.fixture(scope="module")
def board():
    return checkerboard()


def test_a_seeded_single_thread_fit_is_reproducible(board):
    first = TripletNetwork(**{**SUITE_PARAMS, "epochs": 3}).fit(board[0], progress=False)
    second = TripletNetwork(**{**SUITE_PARAMS, "epochs": 3}).fit(board[0], progress=False)
    assert np.array_equal(first.user_factors_, second.user_factors_)
    assert np.array_equal(first.item_factors_, second.item_factors_)
    other = TripletNetwork(**{**SUITE_PARAMS, "epochs": 3, "seed": 1}).fit(board[0], progress=False)
    assert not np.array_equal(first.item_factors_, other.item_factors_)


@pytest.mark.parametrize("loss", ["sigmoid", "hinge", "warp", "logistic"])
def test_every_loss_learns_the_checkerboard(board, loss):
    train, test = board
    params = {**SUITE_PARAMS, "loss": loss, "n_negatives": 4 if loss == "warp" else 1}
    if loss != "bpr":
        # Their gradients vanish (sigmoid) or stop (hinge, warp) on well ranked pairs: smaller, longer steps
        # from a larger start, so that every group's held-out item comes out on top.
        params.update(learning_rate=0.02, epochs=200, init_scale=1.0)
    model = TripletNetwork(**params).fit(train, progress=False)
    ids, _ = model.recommend(USER_IDS, k=1, exclude=train)
    assert ids[:, 0].tolist() == ITEM_IDS[test.indices].tolist()


def test_the_defaults_are_the_notebooks_configuration():
    params = TripletNetwork().get_params()
    assert {key: params[key] for key in ("dim", "loss", "optimizer", "learning_rate", "batch_size", "biases")} == {
        "dim": 100,
        "loss": "sigmoid",
        "optimizer": "adam",
        "learning_rate": 0.001,
        "batch_size": 64,
        "biases": False,
    }


def test_history_records_loss_and_validation(board):
    train, test = board
    model = TripletNetwork(**{**SUITE_PARAMS, "epochs": 2}).fit(train, test, metrics=("auc",), progress=False)
    assert [record["epoch"] for record in model.history_] == [1, 2]
    assert all(np.isfinite(record["loss"]) and 0.0 <= record["auc"] <= 1.0 for record in model.history_)
    assert model.device_ == "cpu"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"loss": "softmax"}, r"loss must be one of 'bpr', 'sigmoid', 'hinge', 'warp', 'logistic', got 'softmax'"),
        ({"device": "tpu"}, r"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'tpu'"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
    ],
)
def test_bad_parameters_are_named(board, params, message):
    with pytest.raises(ValueError, match=message):
        TripletNetwork(**{**SUITE_PARAMS, **params}).fit(board[0], progress=False)


def test_a_device_this_machine_lacks_is_named(board):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match=r"device='cuda' but torch sees no CUDA device here"):
        TripletNetwork(**{**SUITE_PARAMS, "device": "cuda"}).fit(board[0], progress=False)


@pytest.mark.parametrize("model_class", [TripletNetwork, TwoTower])
def test_a_saved_model_serves_in_a_process_without_torch(board, tmp_path, model_class):
    train = board[0]
    params = SUITE_PARAMS if model_class is TripletNetwork else {**SUITE_PARAMS, "hidden": (16,), "loss": "softmax"}
    model = model_class(**params).fit(train, progress=False)
    path = model.save(tmp_path / "network.npz")
    expected_ids, expected_scores = model.recommend(USER_IDS[:3], k=5, exclude=train)
    script = textwrap.dedent(
        f"""
        import sys
        # Make torch unimportable, as on a machine without the extra.
        sys.modules["torch"] = None
        import json, numpy as np
        import tripletrec
        # Not imported beforehand: load finds tripletrec's own torch model classes by itself.
        model = tripletrec.load({str(path)!r})
        from tripletrec.torch import TripletNetwork, TwoTower
        assert type(model) is {model_class.__name__}
        ids, scores = model.recommend({USER_IDS[:3].tolist()!r}, k=5)
        print(json.dumps({{"ids": ids.tolist(), "scores": scores.tolist(), "torch": "torch" in sys.modules and sys.modules["torch"] is not None}}))
        try:
            TripletNetwork().fit(np.eye(3))
        except ImportError as error:
            print(error)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    import json

    served = json.loads(lines[0])
    assert served["torch"] is False
    unexcluded_ids, unexcluded_scores = model.recommend(USER_IDS[:3], k=5)
    assert served["ids"] == unexcluded_ids.tolist()
    np.testing.assert_allclose(served["scores"], unexcluded_scores, rtol=1e-6)
    assert lines[1] == "the torch engine needs PyTorch: pip install 'tripletrec[torch]'"
    assert expected_ids.shape == (3, 5) and expected_scores.shape == (3, 5)

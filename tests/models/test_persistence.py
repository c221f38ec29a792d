"""The model file: save, load, and every way a file can be refused."""

from __future__ import annotations

import json
import os
import sys
import zipfile

import numpy as np
import pytest

import tripletrec.io as io
from tripletrec.io import ModelFileError, save_arrays
from tripletrec.models import MatrixFactorization
from tripletrec.models.persistence import known_model_classes, load
from tripletrec.testing import ITEM_IDS

from .conftest import SMALL

MODEL_NAME = MatrixFactorization.__qualname__


# --------------------------------------------------------------- model file
def test_registry_knows_the_stand_in_and_load_rebuilds_it(model, tmp_path):
    assert known_model_classes()[f"{MatrixFactorization.__module__}.{MODEL_NAME}"] is MatrixFactorization
    loaded = load(model.save(tmp_path / "model.npz"))
    assert type(loaded) is MatrixFactorization and loaded.item_names_ is None and loaded.metadata_ == {}


def test_item_names_history_and_best_epoch_round_trip(board, tmp_path):
    model = MatrixFactorization(**SMALL).fit(board[0], board[1], metrics=("auc",), progress=False)
    model.item_names_ = np.array([f"Movie {index} (1977)" for index in range(len(ITEM_IDS))], dtype=object)
    model.best_epoch_ = 7
    loaded = load(model.save(tmp_path / "named.npz"))
    assert loaded.item_names_.tolist() == model.item_names_.tolist()
    assert loaded.history_ == model.history_ and "auc" in loaded.history_[0]
    assert loaded.best_epoch_ == 7
    model.item_names_ = np.array(["too", "few"])
    with pytest.raises(ValueError, match=r"item_names_ has shape \(2,\) but the model has 20 items"):
        model.save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_bad_metadata_is_refused_and_nothing_written(model, tmp_path):
    with pytest.raises(ValueError, match=r"metadata must be a dict, got list"):
        model.save(tmp_path / "m.npz", metadata=["ml-100k"])
    with pytest.raises(ValueError, match=r"header\['metadata'\] cannot be stored as JSON"):
        model.save(tmp_path / "m.npz", metadata={"when": object()})
    assert list(tmp_path.iterdir()) == []


def test_loaded_model_does_not_carry_training_state(model, tmp_path):
    loaded = load(model.save(tmp_path / "model.npz"))
    assert not [name for name in vars(loaded) if name.startswith("_") and not name.startswith("__")]
    with zipfile.ZipFile(tmp_path / "model.npz") as archive:
        names = sorted(name[:-4] for name in archive.namelist())
    assert names == ["__header__", "item_biases", "item_factors", "item_ids", "user_factors", "user_ids"]


def test_flipped_byte_is_rejected(model, tmp_path):
    path = model.save(tmp_path / "model.npz")
    content = bytearray(path.read_bytes())
    offset = content.find(model.user_factors_.tobytes())
    content[offset + 11] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ModelFileError, match=r"is corrupted: the zip archive is damaged \(Bad CRC-32"):
        load(path)


def test_truncated_file_is_rejected(model, tmp_path):
    path = model.save(tmp_path / "model.npz")
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ModelFileError, match="truncated|corrupted"):
        load(path)


def test_wrong_format_version_is_rejected(model, tmp_path, monkeypatch):
    monkeypatch.setattr(io, "FORMAT_VERSION", io.FORMAT_VERSION + 1)
    path = model.save(tmp_path / "future.npz")
    monkeypatch.undo()
    with pytest.raises(ModelFileError, match=r"has model file format version 2 .* upgrade tripletrec"):
        load(path)


def test_npz_holding_a_pickled_object_is_rejected_without_running_it(tmp_path):
    path = tmp_path / "evil.npz"
    marker = tmp_path / "pwned"

    class Explodes:
        def __reduce__(self):
            return (os.system, (f"echo pwned > {marker}",))

    header = json.dumps({"format": "tripletrec-model", "format_version": 1, "model_class": "_Model"})
    np.savez(
        path,
        __header__=np.frombuffer(header.encode(), dtype=np.uint8),
        user_factors=np.array([Explodes()], dtype=object),
    )
    with pytest.raises(ModelFileError, match=r"array 'user_factors' holds pickled Python objects"):
        load(path)
    assert not marker.exists()


def test_npz_that_is_not_a_model_is_rejected(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, user_factors=np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ModelFileError, match=r"is an .npz archive but not a tripletrec model file"):
        load(path)
    with pytest.raises(FileNotFoundError, match=r"no model file at .*missing.npz"):
        load(tmp_path / "missing.npz")


def valid_arrays(model):
    return {
        "user_factors": model.user_factors_,
        "item_factors": model.item_factors_,
        "item_biases": model.item_biases_,
        "user_ids": model.user_ids_.ids,
        "item_ids": model.item_ids_.ids,
    }


def valid_header(model, **changes):
    header = {
        "model_class": MODEL_NAME,
        "model_module": MatrixFactorization.__module__,
        "params": model.get_params(),
        "history": [],
    }
    header.update(changes)
    return header


def test_unknown_model_class_is_rejected_and_nothing_imported(model, tmp_path):
    module = "tripletrec_test_module_that_must_never_be_imported"
    path = save_arrays(
        tmp_path / "m.npz", valid_header(model, model_class="Evil", model_module=module), valid_arrays(model)
    )
    with pytest.raises(
        ModelFileError,
        match=r"holds a model of class 'Evil' .* which is not a known tripletrec "
        rf"model class \(known: .*{MODEL_NAME}.*\); import the module",
    ):
        load(path)
    assert module not in sys.modules
    path = save_arrays(
        tmp_path / "os.npz", valid_header(model, model_class="system", model_module="os"), valid_arrays(model)
    )
    with pytest.raises(ModelFileError, match=r"class 'system' \(module 'os'\), which is not a known"):
        load(path)
    path = save_arrays(tmp_path / "none.npz", {"params": {}}, valid_arrays(model))
    with pytest.raises(ModelFileError, match=r"the header names no model class"):
        load(path)


def test_a_class_found_by_name_in_another_module_is_used(model, tmp_path):
    path = save_arrays(tmp_path / "moved.npz", valid_header(model, model_module="old.place"), valid_arrays(model))
    assert type(load(path)) is MatrixFactorization


def test_unknown_parameters_are_rejected_naming_them(model, tmp_path):
    params = {**model.get_params(), "temperature": 2.0, "heads": 4}
    path = save_arrays(tmp_path / "m.npz", valid_header(model, params=params), valid_arrays(model))
    with pytest.raises(
        ModelFileError, match=rf"sets parameters 'heads', 'temperature' that {MODEL_NAME} does not have"
    ):
        load(path)


@pytest.mark.parametrize(
    "replaced, message",
    [
        (dict(item_biases=None), r"lacks the model arrays item_biases"),
        (dict(optimizer_state=np.zeros(3)), r"holds arrays this tripletrec does not know: optimizer_state"),
        (dict(item_factors=np.zeros((20, 8))), r"item_factors is float64, not float32"),
        (dict(item_factors=np.zeros((20, 3), dtype=np.float32)), r"are not two matrices of the same dim"),
        (
            dict(item_biases=np.zeros(5, dtype=np.float32)),
            r"item_biases has shape \(5,\) but the factors describe 20 users and 20 items",
        ),
        (dict(user_ids=np.arange(19)), r"user_ids has shape \(19,\)"),
        (dict(item_ids=np.zeros(20, dtype=np.int64)), r"the saved id maps are invalid \(ids must be unique"),
        (dict(item_names=np.arange(20)), r"item_names is int64, not strings"),
        (dict(user_factors=np.full((20, 8), np.nan, dtype=np.float32)), r"user_factors holds NaN or infinite values"),
    ],
)
def test_inconsistent_model_arrays_are_rejected(model, tmp_path, replaced, message):
    arrays = {**valid_arrays(model), **replaced}
    arrays = {name: array for name, array in arrays.items() if array is not None}
    path = save_arrays(tmp_path / "m.npz", valid_header(model), arrays)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_header_fields_of_the_wrong_type_are_rejected(model, tmp_path):
    path = save_arrays(tmp_path / "m.npz", valid_header(model, history={"loss": 1}), valid_arrays(model))
    with pytest.raises(ModelFileError, match=r"the header's params, history or metadata have the wrong type"):
        load(path)


def test_fit_partial_continues_a_loaded_model(tmp_path):
    from tripletrec import Interactions, MatrixFactorization, load

    rng = np.random.default_rng(0)
    train = Interactions.from_indices(rng.integers(0, 30, 400), rng.integers(0, 20, 400), shape=(30, 20))
    model = MatrixFactorization(dim=8, epochs=2, seed=1, threads=1).fit(train, progress=False)
    loaded = load(model.save(tmp_path / "model.npz"))
    loaded.fit_partial(train, epochs=1, progress=False)
    assert [record["epoch"] for record in loaded.history_] == [1, 2, 3]
    assert not np.array_equal(loaded.item_factors_, model.item_factors_)


# ------------------------------------------- valid checksum, impossible content
@pytest.mark.parametrize(
    "replaced, message",
    [
        (
            dict(
                item_factors=np.zeros((0, 8), dtype=np.float32),
                item_biases=np.zeros(0, dtype=np.float32),
                item_ids=np.zeros(0, dtype=np.int64),
            ),
            r"the factors describe 0 items of dim 8; a model needs at least 1 item and dim >= 1",
        ),
        (
            dict(user_factors=np.zeros((20, 0), dtype=np.float32), item_factors=np.zeros((20, 0), dtype=np.float32)),
            r"the factors describe 20 items of dim 0; a model needs at least 1 item and dim >= 1",
        ),
    ],
)
def test_a_model_without_items_or_dimensions_is_rejected(model, tmp_path, replaced, message):
    path = save_arrays(tmp_path / "m.npz", valid_header(model), {**valid_arrays(model), **replaced})
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_a_model_without_users_loads_and_serves_new_users(model, tmp_path):
    arrays = {
        **valid_arrays(model),
        "user_factors": np.zeros((0, 8), dtype=np.float32),
        "user_ids": np.zeros(0, dtype=np.int64),
    }
    loaded = load(save_arrays(tmp_path / "m.npz", valid_header(model), arrays))
    assert loaded.n_users_ == 0 and loaded.n_items_ == 20
    recommended, scores = loaded.recommend_new(ITEM_IDS[:3], k=5, seed=0)
    assert recommended.shape == (5,) and np.isfinite(scores).all()
    assert not set(recommended.tolist()) & set(ITEM_IDS[:3].tolist())


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            dict(dim=-5),
            r"the saved parameters are invalid \(MatrixFactorization: dim must be an integer >= 1, got -5\)",
        ),
        (
            dict(learning_rate=0.0, loss="nonsense"),
            r"the saved parameters are invalid \(MatrixFactorization has 2 "
            r"invalid parameters: loss must be one of .*learning_rate must be",
        ),
        (
            dict(epochs=10**12),
            r"the saved parameters are invalid \(MatrixFactorization: epochs must be an integer >= 1 and <= 100000, "
            r"got 1000000000000\)",
        ),
        (
            dict(kos_n=10**9),
            r"the saved parameters are invalid \(MatrixFactorization: kos_n must be an integer >= 1 "
            r"and <= 100000, got 1000000000\)",
        ),
    ],
)
def test_saved_parameters_breaking_the_constraints_are_rejected(model, tmp_path, changes, message):
    params = {**model.get_params(), **changes}
    path = save_arrays(tmp_path / "m.npz", valid_header(model, params=params), valid_arrays(model))
    with pytest.raises(ModelFileError, match=rf"m\.npz: {message}"):
        load(path)


def test_parameters_at_the_ceiling_load(model, tmp_path):
    params = {**model.get_params(), "epochs": 100_000}
    loaded = load(save_arrays(tmp_path / "m.npz", valid_header(model, params=params), valid_arrays(model)))
    assert loaded.epochs == 100_000

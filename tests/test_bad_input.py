"""Bad input across the library: each case ends in a documented error naming what is wrong.

Every case is a call that must fail, the exception type it must raise (one
of the documented ones: ValueError and its subclasses ModelFileError,
NotFittedError and CorruptArchiveError, TypeError, FileNotFoundError and
its subclass DatasetNotFoundError, PermissionError, FloatingPointError) and a pattern its message must contain, which names the
argument and, where there is one, the bad value. A case that raises
anything else (IndexError, MemoryError, KeyError, ...) or nothing fails.
The command-line cases must exit with status 2 and print exactly one line on
stderr.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp

from tripletrec import Features, IdMap, Interactions, MatrixFactorization, evaluate, evaluate_cold_start, load
from tripletrec.cli import main
from tripletrec.data import (
    CorruptArchiveError,
    DatasetNotFoundError,
    leave_k_out,
    movielens,
    random_split,
    synthetic,
    temporal_split,
)
from tripletrec.io import ModelFileError
from tripletrec.testing import ITEM_IDS, USER_IDS, checkerboard

SMALL = dict(dim=8, epochs=5, threads=1, seed=0)


@pytest.fixture(scope="module")
def board():
    return checkerboard()


@pytest.fixture(scope="module")
def fitted(board):
    return MatrixFactorization(**SMALL).fit(board[0], progress=False)


def mf(**params):
    return MatrixFactorization(**{**SMALL, **params})


# (id, function of (fitted, board), exception type, message pattern)
MODEL_CASES = [
    # constructor arguments, validated by fit
    ("dim zero", lambda m, b: mf(dim=0).fit(b[0]), ValueError, r"dim must be an integer >= 1, got 0"),
    ("dim float", lambda m, b: mf(dim=8.0).fit(b[0]), ValueError, r"dim must be an integer >= 1, got 8.0"),
    ("dim bool", lambda m, b: mf(dim=True).fit(b[0]), ValueError, r"dim must be an integer >= 1, got True"),
    ("dim string", lambda m, b: mf(dim="8").fit(b[0]), ValueError, r"dim must be an integer >= 1, got '8'"),
    ("dim huge", lambda m, b: mf(dim=2**40).fit(b[0]), ValueError, r"would need .* GiB .* lower dim"),
    ("loss unknown", lambda m, b: mf(loss="softmax").fit(b[0]), ValueError, r"loss must be one of .*got 'softmax'"),
    ("loss None", lambda m, b: mf(loss=None).fit(b[0]), ValueError, r"loss must be one of .*got None"),
    ("optimizer unknown", lambda m, b: mf(optimizer="lbfgs").fit(b[0]), ValueError, r"optimizer must be one of"),
    ("negatives unknown", lambda m, b: mf(negatives="hard").fit(b[0]), ValueError, r"negatives must be one of"),
    (
        "learning rate zero",
        lambda m, b: mf(learning_rate=0).fit(b[0]),
        ValueError,
        r"learning_rate must be a finite number > 0, got 0",
    ),
    (
        "learning rate nan",
        lambda m, b: mf(learning_rate=float("nan")).fit(b[0]),
        ValueError,
        r"learning_rate must be a finite number > 0, got nan",
    ),
    (
        "learning rate inf",
        lambda m, b: mf(learning_rate=float("inf")).fit(b[0]),
        ValueError,
        r"learning_rate must be a finite number > 0, got inf",
    ),
    ("l2 negative", lambda m, b: mf(l2=-1).fit(b[0]), ValueError, r"l2 must be a finite number >= 0, got -1"),
    (
        "bias_l2 string",
        lambda m, b: mf(bias_l2="0").fit(b[0]),
        ValueError,
        r"bias_l2 must be a finite number >= 0, got '0'",
    ),
    (
        "epochs zero",
        lambda m, b: mf(epochs=0).fit(b[0]),
        ValueError,
        r"epochs must be an integer >= 1 and <= 100000, got 0",
    ),
    (
        "epochs huge",
        lambda m, b: mf(epochs=10**12).fit(b[0]),
        ValueError,
        r"epochs must be an integer >= 1 and <= 100000, got 1000000000000",
    ),
    ("biases int", lambda m, b: mf(biases=1).fit(b[0]), ValueError, r"biases must be True or False, got 1"),
    (
        "margin negative",
        lambda m, b: mf(margin=-1.0).fit(b[0]),
        ValueError,
        r"margin must be a finite number >= 0, got -1.0",
    ),
    (
        "max_sampled zero",
        lambda m, b: mf(max_sampled=0).fit(b[0]),
        ValueError,
        r"max_sampled must be an integer >= 1, got 0",
    ),
    (
        "kos_n float",
        lambda m, b: mf(kos_n=2.5).fit(b[0]),
        ValueError,
        r"kos_n must be an integer >= 1 and <= 100000, got 2.5",
    ),
    (
        "init_scale huge",
        lambda m, b: mf(init_scale=1e18).fit(b[0]),
        ValueError,
        r"init_scale=1e\+18 would start vector entries",
    ),
    (
        "init_scale negative",
        lambda m, b: mf(init_scale=-0.1).fit(b[0]),
        ValueError,
        r"init_scale must be a finite number >= 0, got -0.1",
    ),
    (
        "early stopping unknown",
        lambda m, b: mf(early_stopping="accuracy").fit(b[0]),
        ValueError,
        r"early_stopping must be None or a ranking metric name",
    ),
    (
        "early stopping without validation",
        lambda m, b: mf(early_stopping="auc").fit(b[0]),
        ValueError,
        r"early_stopping='auc' needs validation data",
    ),
    ("patience zero", lambda m, b: mf(patience=0).fit(b[0]), ValueError, r"patience must be an integer >= 1, got 0"),
    (
        "threads zero",
        lambda m, b: mf(threads=0).fit(b[0]),
        ValueError,
        r"threads must be None or an integer >= 1, got 0",
    ),
    ("seed negative", lambda m, b: mf(seed=-1).fit(b[0]), ValueError, r"seed must be None or an integer >= 0, got -1"),
    (
        "several at once",
        lambda m, b: mf(dim=0, loss="x").fit(b[0]),
        ValueError,
        r"has 2 invalid parameters: dim must .*; loss must",
    ),
    ("unknown set_params", lambda m, b: mf().set_params(dims=3), ValueError, r"has no parameter 'dims'"),
    # fit's data
    ("train None", lambda m, b: mf().fit(None), ValueError, r"train is None"),
    (
        "train list",
        lambda m, b: mf().fit([[1, 0]]),
        ValueError,
        r"train must be an Interactions or a scipy sparse matrix, got list",
    ),
    (
        "train dense array",
        lambda m, b: mf().fit(np.ones((3, 3))),
        ValueError,
        r"train must be an Interactions or a scipy sparse matrix, got ndarray",
    ),
    (
        "train empty",
        lambda m, b: mf().fit(Interactions.from_indices([], [], shape=(3, 3))),
        ValueError,
        r"train is empty",
    ),
    (
        "train one item",
        lambda m, b: mf().fit(sp.csr_matrix(np.ones((3, 1)))),
        ValueError,
        r"ranking needs at least 2 items",
    ),
    (
        "validation other shape",
        lambda m, b: mf().fit(b[0], Interactions.from_indices([0], [0], shape=(2, 2))),
        ValueError,
        r"validation is 2 users x 2 items and must share the id maps",
    ),
    (
        "validation not interactions",
        lambda m, b: mf().fit(b[0], np.ones((20, 20))),
        ValueError,
        r"validation must be an Interactions or None, got ndarray",
    ),
    (
        "unknown metric",
        lambda m, b: mf().fit(b[0], b[1], metrics=("accuracy",)),
        ValueError,
        r"metrics: unknown metric 'accuracy'",
    ),
    (
        "callback not callable",
        lambda m, b: mf().fit(b[0], callbacks=[1]),
        ValueError,
        r"callbacks must be callables, got int",
    ),
    (
        "fit_partial other id kind",
        lambda m, b: mf().fit(b[0]).fit_partial(Interactions.from_indices([0], [0], shape=(2, 2))),
        ValueError,
        r"train's user ids are integers but the model's are strings; fit_partial needs the same kind of ids",
    ),
    (
        "fit_partial epochs float",
        lambda m, b: m.fit_partial(b[0], epochs=1.5),
        ValueError,
        r"epochs must be an integer >= 1 and <= 100000, got 1.5",
    ),
    # recommend and scoring
    ("recommend unfitted", lambda m, b: mf().recommend(USER_IDS[0]), ValueError, r"not fitted yet; call fit"),
    (
        "recommend unknown user",
        lambda m, b: m.recommend("nobody"),
        ValueError,
        r"users: 1 of 1 ids are not in the model's user id map: 'nobody'",
    ),
    ("recommend k zero", lambda m, b: m.recommend(USER_IDS[0], k=0), ValueError, r"k must be an integer >= 1, got 0"),
    (
        "recommend k float",
        lambda m, b: m.recommend(USER_IDS[0], k=2.0),
        ValueError,
        r"k must be an integer >= 1, got 2.0",
    ),
    (
        "recommend k string",
        lambda m, b: m.recommend(USER_IDS[0], k="5"),
        ValueError,
        r"k must be an integer >= 1, got '5'",
    ),
    (
        "recommend unknown rule",
        lambda m, b: m.recommend(USER_IDS[0], unknown="skip"),
        ValueError,
        r"unknown must be one of 'error', 'popular', got 'skip'",
    ),
    (
        "recommend 2-d users",
        lambda m, b: m.recommend([USER_IDS[:2]]),
        ValueError,
        r"users must be a single id or a 1-dimensional sequence",
    ),
    (
        "recommend unknown candidate",
        lambda m, b: m.recommend(USER_IDS[0], items=[5]),
        ValueError,
        r"items: 1 of 1 ids are not in the model's item id map: 5",
    ),
    (
        "recommend exclude list",
        lambda m, b: m.recommend(USER_IDS[0], exclude=[[1000]]),
        ValueError,
        r"exclude must be None, an Interactions",
    ),
    (
        "recommend exclude shape",
        lambda m, b: m.recommend(USER_IDS[0], exclude=sp.csr_matrix((2, 2))),
        ValueError,
        r"exclude has shape \(2, 2\) but the model has 20 users x 20 items",
    ),
    (
        "recommend threads zero",
        lambda m, b: m.recommend(USER_IDS[0], threads=0),
        ValueError,
        r"threads must be an integer >= 1 and <= \d+ or None, got 0",
    ),
    (
        "recommend threads huge",
        lambda m, b: m.recommend(USER_IDS[0], threads=10**9),
        ValueError,
        r"threads must be an integer >= 1 and <= \d+ or None, got 1000000000",
    ),
    (
        "recommend_indices outside",
        lambda m, b: m.recommend_indices([20]),
        ValueError,
        r"user_indices: 1 of 1 indices are outside 0..19",
    ),
    (
        "score unknown user",
        lambda m, b: m.score(["user-00", "x"]),
        ValueError,
        r"users: 1 of 2 ids are not in the model's user id map: 'x'",
    ),
    (
        "score unknown item",
        lambda m, b: m.score(USER_IDS[0], [1000, 9]),
        ValueError,
        r"items: 1 of 2 ids are not in the model's item id map: 9",
    ),
    (
        "score_indices float",
        lambda m, b: m.score_indices([0.5]),
        ValueError,
        r"user_indices must hold integer dense indices, got dtype float64",
    ),
    (
        "score_indices negative",
        lambda m, b: m.score_indices([-1]),
        ValueError,
        r"user_indices: 1 of 1 indices are outside 0..19 \(first at position 0: -1\)",
    ),
    (
        "predict lengths",
        lambda m, b: m.predict(USER_IDS[:3], ITEM_IDS[:2]),
        ValueError,
        r"users and items must pair up: got 3 users and 2 items",
    ),
    (
        "predict unknown",
        lambda m, b: m.predict(USER_IDS[0], [3]),
        ValueError,
        r"items: 1 of 1 ids are not in the model's item id map: 3",
    ),
    (
        "similar unknown item",
        lambda m, b: m.similar_items("x"),
        ValueError,
        r"items: 1 of 1 ids are not in the model's item id map: 'x'",
    ),
    (
        "similar k negative",
        lambda m, b: m.similar_items(ITEM_IDS[0], k=-1),
        ValueError,
        r"k must be an integer >= 1, got -1",
    ),
    (
        "similar users unknown",
        lambda m, b: m.similar_users([7]),
        ValueError,
        r"users: 1 of 1 ids are not in the model's user id map: 7",
    ),
    # fold-in
    (
        "fold_in unknown item",
        lambda m, b: m.fold_in([[1000, 4]]),
        ValueError,
        r"items: 1 of 2 ids are not in the model's item id map: 4 \(first in items\[0\]\)",
    ),
    ("fold_in string", lambda m, b: m.fold_in("abc"), ValueError, r"items must be a list of item ids .* got str"),
    ("fold_in int", lambda m, b: m.fold_in(5), ValueError, r"items must be a list of item ids .* got int"),
    ("fold_in mixed nesting", lambda m, b: m.fold_in([1000, [1001]]), ValueError, r"items\[0\] is 1000"),
    (
        "fold_in weights length",
        lambda m, b: m.fold_in([[1000, 1001]], [[1.0]]),
        ValueError,
        r"weights must be None or one weight per given item",
    ),
    (
        "fold_in epochs huge",
        lambda m, b: m.fold_in([[1000]], epochs=10**12),
        ValueError,
        r"epochs must be an integer >= 1 and <= 100000, got 1000000000000",
    ),
    (
        "fold_in learning rate",
        lambda m, b: m.fold_in([[1000]], learning_rate=0),
        ValueError,
        r"learning_rate must be a finite number > 0, got 0",
    ),
    ("fold_in seed", lambda m, b: m.fold_in([[1000]], seed=-3), ValueError, r"seed must be an integer >= 0, got -3"),
    (
        "fold_in weights with interactions",
        lambda m, b: m.fold_in(b[0], weights=[[1.0]]),
        ValueError,
        r"weights must be None when items is an Interactions",
    ),
    ("recommend_new k", lambda m, b: m.recommend_new([1000], k=0), ValueError, r"k must be an integer >= 1, got 0"),
    (
        "recommend_new exclude_given",
        lambda m, b: m.recommend_new([1000], exclude_given="yes"),
        ValueError,
        r"exclude_given must be True or False, got 'yes'",
    ),
    (
        "recommend_new unknown candidate",
        lambda m, b: m.recommend_new([1000], candidates=["x"]),
        ValueError,
        r"candidates: 1 of 1 ids are not in the model's item id map: 'x'",
    ),
    # evaluate
    (
        "evaluate not a model",
        lambda m, b: evaluate("model", b[1]),
        ValueError,
        r"must have a score_indices\(user_indices\) method or be a score matrix",
    ),
    (
        "evaluate k too large",
        lambda m, b: evaluate(m, b[1], k=21),
        ValueError,
        r"k must be an integer >= 1 and <= 20, got 21",
    ),
    (
        "evaluate unknown metric",
        lambda m, b: evaluate(m, b[1], metrics=("accuracy",)),
        ValueError,
        r"unknown metric|accuracy",
    ),
    (
        "evaluate test not interactions",
        lambda m, b: evaluate(m, np.ones((20, 20))),
        ValueError,
        r"test must be an Interactions, got ndarray",
    ),
    (
        "evaluate other id maps",
        lambda m, b: evaluate(m, Interactions.from_indices([0], [0], shape=(20, 20))),
        ValueError,
        r"differ from test's",
    ),
    (
        "evaluate block size",
        lambda m, b: evaluate(m, b[1], block_size=0),
        ValueError,
        r"block_size must be an integer >= 1 or None, got 0",
    ),
    # interactions
    ("items_of unknown", lambda m, b: b[0].items_of("nobody"), ValueError, r"user: 1 of 1|not in the id map"),
    ("item_indices_of outside", lambda m, b: b[0].item_indices_of(20), ValueError, r"user_index 20 is outside 0..19"),
    (
        "item_indices_of float",
        lambda m, b: b[0].item_indices_of(1.0),
        ValueError,
        r"user_index must be an integer dense index, got 1.0",
    ),
    ("id map duplicates", lambda m, b: IdMap([1, 1]), ValueError, r"duplicate|unique"),
    # side features
    (
        "features rows",
        lambda m, b: mf().fit(b[0], item_features=np.ones((3, 2))),
        ValueError,
        r"item_features has 3 rows but there are 20 ids",
    ),
    (
        "features nan",
        lambda m, b: mf().fit(b[0], user_features=np.full((20, 2), np.nan)),
        ValueError,
        r"user_features holds a NaN or infinite value \(row 0\)",
    ),
    (
        "features type",
        lambda m, b: mf().fit(b[0], item_features=[[1.0]] * 20),
        ValueError,
        r"item_features must be a tripletrec.data.Features, a scipy sparse matrix or a 2-d ndarray, got list",
    ),
    (
        "features repeated names",
        lambda m, b: mf().fit(
            b[0], item_features=Features(sp.csr_matrix((20, 2)), np.array(["a", "a"]), b[0].item_ids)
        ),
        ValueError,
        r"item_features repeats a column name",
    ),
    (
        "features none of the ids",
        lambda m, b: mf().fit(b[0], item_features=Features.one_hot(["x"], IdMap([5]), "tag")),
        ValueError,
        r"item_features describes none of the 20 ids",
    ),
    (
        "identity off without features",
        lambda m, b: mf(item_identity_features=False).fit(b[0], user_features=np.ones((20, 1))),
        ValueError,
        r"item_identity_features=False needs item_features",
    ),
    (
        "normalize empty row",
        lambda m, b: mf(item_identity_features=False, normalize_features=True).fit(
            b[0], item_features=sp.csr_matrix((20, 1))
        ),
        ValueError,
        r"item_features: 20 row\(s\) have no feature .*cannot be normalised",
    ),
    ("identity dropout 1", lambda m, b: mf(identity_dropout=1.0).fit(b[0]), ValueError, r"identity_dropout must be"),
    (
        "add_items plain model",
        lambda m, b: m.add_items([5], Features.one_hot(["x"], IdMap([5]), "tag")),
        ValueError,
        r"add_items needs a model fitted with item_features",
    ),
    (
        "add_items features lack an id",
        lambda m, b: (
            mf()
            .fit(b[0], item_features=Features.one_hot(["x"] * 20, b[0].item_ids, "tag"))
            .add_items([5, 6], Features.one_hot(["x"], IdMap([5]), "tag"))
        ),
        ValueError,
        r"item_features has no row for 1 of the 2 ids asked for \(first: 6\)",
    ),
    (
        "add_items matrix width",
        lambda m, b: (
            mf()
            .fit(b[0], item_features=Features.one_hot(["x"] * 20, b[0].item_ids, "tag"))
            .add_items([5], np.ones((1, 3)))
        ),
        ValueError,
        r"item_features must have one row per new id and the model's 1 feature columns, got shape \(1, 3\)",
    ),
    (
        "add_items matrix rows",
        lambda m, b: (
            mf()
            .fit(b[0], item_features=Features.one_hot(["x"] * 20, b[0].item_ids, "tag"))
            .add_items([5], np.ones((2, 1)))
        ),
        ValueError,
        r"item_features has 2 rows but there are 1 ids",
    ),
    (
        "recommend_new nothing",
        lambda m, b: m.recommend_new(),
        ValueError,
        r"pass the new users' items, their user_features, or both",
    ),
    (
        "user_features on a plain model",
        lambda m, b: m.recommend_new(user_features=np.ones((1, 1))),
        ValueError,
        r"user_features needs a model fitted with user_features",
    ),
    (
        "evaluate_cold_start among",
        lambda m, b: evaluate_cold_start(m, b[1], among="warm"),
        ValueError,
        r"among must be one of 'cold', 'all', got 'warm'",
    ),
    (
        "evaluate_cold_start features type",
        lambda m, b: evaluate_cold_start(
            m,
            Interactions.from_indices([0], [0], shape=(1, 1), user_ids=IdMap([USER_IDS[0]]), item_ids=IdMap([5])),
            item_features=[[1.0]],
        ),
        ValueError,
        r"item_features must be a tripletrec.data.Features, a scipy sparse matrix or a 2-d ndarray, got list",
    ),
    (
        "evaluate_cold_start no cold items",
        lambda m, b: evaluate_cold_start(m, b[1], among="cold"),
        ValueError,
        r'among="cold" ranks among the cold items, but the model knows every item of test',
    ),
]


@pytest.mark.parametrize("case, call, error, message", MODEL_CASES, ids=[case[0] for case in MODEL_CASES])
def test_bad_python_input_raises_the_documented_error(fitted, board, case, call, error, message):
    with pytest.raises(error) as raised:
        call(fitted, board)
    # Exactly the documented type family, never an internal error that happens to subclass it.
    assert type(raised.value).__module__.split(".")[0] in ("builtins", "tripletrec"), type(raised.value)
    assert re.search(message, str(raised.value)), f"{case}: {raised.value}"


def _read_only_model(fitted, folder):
    path = fitted.save(folder / "read-only.npz")
    path.chmod(0o444)
    return path


def _plain_npz(folder):
    np.savez(folder / "plain.npz", a=np.ones(3))
    return folder / "plain.npz"


# (id, function of (fitted, tmp_path), exception type, message pattern)
FILE_CASES = [
    ("load missing", lambda m, d: load(d / "missing.npz"), FileNotFoundError, r"no model file at .*missing.npz"),
    ("load text", lambda m, d: load(_write(d / "x.npz", b"hello")), ModelFileError, r"is not a tripletrec model file"),
    ("load folder", lambda m, d: load(d), ModelFileError, r"is not a regular file"),
    (
        "load plain npz",
        lambda m, d: load(_plain_npz(d)),
        ModelFileError,
        r"is an .npz archive but not a tripletrec model file",
    ),
    (
        "load empty file",
        lambda m, d: load(_write(d / "empty.npz", b"")),
        ModelFileError,
        r"is not a tripletrec model file",
    ),
    (
        "save metadata list",
        lambda m, d: m.save(d / "m.npz", metadata=[1]),
        ValueError,
        r"metadata must be a dict, got list",
    ),
    (
        "save metadata not json",
        lambda m, d: m.save(d / "m.npz", metadata={"x": object()}),
        ValueError,
        r"metadata|JSON",
    ),
    (
        "save missing folder",
        lambda m, d: m.save(d / "no" / "m.npz"),
        FileNotFoundError,
        r"the folder .*no does not exist",
    ),
    (
        "save over read-only",
        lambda m, d: m.save(_read_only_model(m, d)),
        PermissionError,
        r"read-only.npz is read-only",
    ),
    ("save unfitted", lambda m, d: mf().save(d / "m.npz"), ValueError, r"not fitted yet"),
]


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case, call, error, message", FILE_CASES, ids=[case[0] for case in FILE_CASES])
def test_bad_model_files_raise_the_documented_error(fitted, tmp_path, case, call, error, message):
    before = sorted(path.name for path in tmp_path.iterdir())
    with pytest.raises(error) as raised:
        call(fitted, tmp_path)
    assert re.search(message, str(raised.value)), f"{case}: {raised.value}"
    # Nothing half-written: no temporary file and no new model beside what the case made.
    left = sorted(path.name for path in tmp_path.iterdir())
    assert not [name for name in left if name.endswith(".tmp")], left
    assert "m.npz" not in set(left) - set(before)


def _one_pair():
    return Interactions.from_indices([0], [0], shape=(1, 1))


# (id, function of the data folder, exception type, message pattern)
DATA_CASES = [
    (
        "movielens unknown variant",
        lambda d: movielens("ml-99k", path=d, download=False),
        ValueError,
        r"variant must be one of ml-100k, .*got 'ml-99k'",
    ),
    (
        "movielens unknown split",
        lambda d: movielens("ml-100k", split="u9", path=d, download=False),
        ValueError,
        r"split must be one of ua, ub, u1, .* for ml-100k; got 'u9'",
    ),
    (
        "movielens min_rating string",
        lambda d: movielens("ml-100k", split="ua", min_rating="4", path=d, download=False),
        ValueError,
        r"min_rating must be a finite number or None, got '4'",
    ),
    (
        "movielens missing path",
        lambda d: movielens("ml-100k", path="/nonexistent/ml-100k.zip", download=False),
        DatasetNotFoundError,
        r"path='/nonexistent/ml-100k.zip' does not exist",
    ),
    (
        "movielens wrong archive",
        lambda d: movielens("ml-1m", path=d / "ml-100k.zip", download=False),
        CorruptArchiveError,
        r"holds no ratings.dat: it is not a MovieLens ml-1m archive",
    ),
    ("synthetic huge", lambda d: synthetic(n_users=10**12), ValueError, r"n_users must be at most 2,147,483,647"),
    ("synthetic no users", lambda d: synthetic(n_users=0), ValueError, r"n_users must be an integer >= 1, got 0"),
    ("synthetic dim zero", lambda d: synthetic(dim=0), ValueError, r"dim must be an integer >= 1, got 0"),
    (
        "synthetic nan exponent",
        lambda d: synthetic(popularity_exponent=float("nan")),
        ValueError,
        r"popularity_exponent must be a finite number >= 0, got nan",
    ),
    (
        "split not interactions",
        lambda d: random_split("data"),
        ValueError,
        r"data must be a tripletrec.Interactions, got str",
    ),
    (
        "split fraction",
        lambda d: random_split(_one_pair(), test_fraction=1.5),
        ValueError,
        r"test_fraction must be a finite number > 0 and < 1, got 1.5",
    ),
    ("leave_k_out k", lambda d: leave_k_out(_one_pair(), k=0), ValueError, r"k must be an integer >= 1, got 0"),
    (
        "leave_k_out by",
        lambda d: leave_k_out(_one_pair(), by="latest"),
        ValueError,
        r"by must be one of 'random', 'time'; got 'latest'",
    ),
    (
        "temporal without timestamps",
        lambda d: temporal_split(_one_pair(), cutoff=2),
        ValueError,
        r"temporal_split needs timestamps",
    ),
    (
        "mixed id kinds",
        lambda d: Interactions.from_arrays(["1", 1, "a"], [1, 2, 3]),
        ValueError,
        r"users mix integers and strings: 1 at position 1",
    ),
    ("missing id", lambda d: Interactions.from_arrays([None, 1], [1, 2]), ValueError, r"users: 1 of 2 ids are missing"),
    (
        "id beyond uint64",
        lambda d: Interactions.from_arrays([2**70, 1], [1, 2]),
        ValueError,
        r"outside the range of 64-bit integers",
    ),
    (
        "weight beyond float32",
        lambda d: Interactions.from_arrays([1, 2], [1, 2], weights=[1e39, 1]),
        ValueError,
        r"weights: 1 of 2 rows are above .* the largest float32",
    ),
    (
        "timestamp beyond int64",
        lambda d: Interactions.from_arrays([1, 2], [1, 2], timestamps=[1e30, 1]),
        ValueError,
        r"timestamps: 1 of 2 rows are outside int64's range",
    ),
    (
        "fractional shape",
        lambda d: Interactions.from_indices([0], [0], shape=(2.7, 2)),
        ValueError,
        r"shape\[0\] \(n_users\) must be an integer >= 0, got 2.7",
    ),
    (
        "one-element shape",
        lambda d: Interactions.from_indices([0], [0], shape=(2,)),
        ValueError,
        r"shape must be two non-negative integers",
    ),
    (
        "huge shape",
        lambda d: Interactions.from_indices([0], [0], shape=(10**12, 2)),
        ValueError,
        r"above the largest supported 2,147,483,647",
    ),
]


@pytest.mark.parametrize("case, call, error, message", DATA_CASES, ids=[case[0] for case in DATA_CASES])
def test_bad_data_raises_the_documented_error(data_dir, case, call, error, message):
    with pytest.raises(error) as raised:
        call(data_dir)
    assert re.search(message, str(raised.value)), f"{case}: {raised.value}"


CLI_CASES = [
    (["fit", "--dataset", "synthetic", "--dim", "0"], r"--dim must be an integer >= 1, got 0"),
    (["fit", "--dataset", "synthetic", "--dim", "abc"], r"--dim: invalid int value: 'abc'"),
    (["fit", "--dataset", "synthetic", "--loss", "softmax"], r"--loss must be one of"),
    (["fit", "--dataset", "synthetic", "--learning-rate", "-1"], r"--learning-rate must be a finite number > 0"),
    (
        ["fit", "--dataset", "synthetic", "--learning-rate", "nan"],
        r"--learning-rate must be a finite number > 0, got nan",
    ),
    (["fit", "--dataset", "synthetic", "--epochs", "0"], r"--epochs must be an integer >= 1 and <= 100000, got 0"),
    (["fit", "--dataset", "synthetic", "--epochs", "1000000000000"], r"--epochs must be an integer >= 1 and <= 100000"),
    (["fit", "--dataset", "synthetic", "--dim", "1099511627776"], r"lower --dim"),
    (
        ["fit", "--dataset", "synthetic", "--learning-rate", "1e30", "--optimizer", "sgd"],
        r"diverged in epoch 1: .*--learning-rate",
    ),
    (["fit", "--dataset", "synthetic", "--threads", "0"], r"--threads must be None or an integer >= 1, got 0"),
    (["fit", "--dataset", "synthetic", "--split", "ua"], r"--split 'ua' is not a split of synthetic"),
    (["fit", "--dataset", "ml-99m"], r"--dataset 'ml-99m' is unknown"),
    (["fit", "--dataset", "synthetic", "--seed", "-1"], r"--seed"),
    (["fit", "--data", "/nonexistent/clicks.csv", "--user-col", "u", "--item-col", "i"], r"clicks.csv"),
    (["fit", "--user-col", "u"], r"--user-col needs --data FILE"),
    (["fit", "--frobnicate"], r"unrecognized arguments: --frobnicate"),
    (["recommend", "/nonexistent/model.npz", "--user", "1"], r"model.npz"),
    (["similar", "/nonexistent/model.npz", "--item", "1"], r"model.npz"),
    (["evaluate", "/nonexistent/model.npz"], r"model.npz"),
    (["nonsense"], r"invalid choice: 'nonsense'"),
]


@pytest.mark.parametrize("argv, message", CLI_CASES, ids=[" ".join(case[0]) for case in CLI_CASES])
def test_bad_command_lines_exit_2_with_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path))  # nothing to find: no case may reach the network
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status = main([*argv, "--no-download"] if argv[0] == "fit" and "--frobnicate" not in argv else argv)
    captured = capsys.readouterr()
    assert status == 2, captured
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    assert re.search(message, captured.err), captured.err


def test_there_are_at_least_100_cases():
    assert len(MODEL_CASES) + len(FILE_CASES) + len(DATA_CASES) + len(CLI_CASES) >= 100

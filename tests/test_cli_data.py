"""The CLI's data options: own files, generic splits, and options checked before data is read."""

import json
import sys

import numpy as np
import pytest

from tripletrec import _cli_data
from tripletrec.cli import build_parser, main


def run_cli(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write_clicks(path, n_rows=600, seed=0):
    """A small CSV of string users, integer items, weights 1..5 and integer times."""
    rng = np.random.default_rng(seed)
    lines = ["u,i,w,t"] + [
        f"user{rng.integers(40)},{rng.integers(60)},{rng.integers(1, 6)},{row}" for row in range(n_rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


OWN = ["--user-col", "u", "--item-col", "i", "--weight-col", "w", "--time-col", "t"]


def test_fit_on_own_csv_then_recommend_and_evaluate_reload_it(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_clicks(tmp_path / "clicks.csv")
    status, out, err = run_cli(
        capsys,
        "fit",
        "--data",
        "clicks.csv",
        *OWN,
        "--split",
        "leave-one-out",
        "--dim",
        "8",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--out",
        "m.npz",
        "--json",
    )
    assert status == 0, err
    document = json.loads(out)
    assert document["dataset"] == "clicks.csv" and document["test_pairs"] == 40
    assert document["train_pairs"] + document["test_pairs"] <= 600  # repeated pairs are summed
    # The model records the file and its columns, so these need no --data.
    status, out, err = run_cli(capsys, "recommend", "m.npz", "--user", "user7", "-k", "3", "--json")
    assert status == 0, err
    (recommended,) = json.loads(out)
    assert recommended["user"] == "user7" and len(recommended["items"]) == 3
    status, out, err = run_cli(capsys, "evaluate", "m.npz", "--json")
    assert status == 0, err
    evaluated = json.loads(out)
    assert evaluated["metrics"]["auc"] == pytest.approx(document["evaluation"]["metrics"]["auc"], abs=1e-12)


def test_min_rating_and_random_split_on_own_csv(capsys, tmp_path):
    path = write_clicks(tmp_path / "clicks.csv")
    status, out, err = run_cli(
        capsys,
        "info",
        "--data",
        str(path),
        *OWN,
        "--min-rating",
        "4",
        "--split",
        "random",
        "--test-fraction",
        "0.25",
        "--json",
    )
    assert status == 0, err
    document = json.loads(out)
    assert document["weights"]["min"] >= 4
    assert document["test"] == round(0.25 * document["interactions"])


def test_csv_reads_the_same_without_pandas(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    path = write_clicks(tmp_path / "clicks.csv")
    parser = build_parser()
    args = _cli_data.with_defaults(parser.parse_args(["info", "--data", str(path), *OWN]))
    with_pandas = _cli_data.read_interactions_file(args).interactions
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    without_pandas = _cli_data.read_interactions_file(args).interactions
    assert with_pandas.user_ids == without_pandas.user_ids
    assert with_pandas.item_ids == without_pandas.item_ids
    assert (with_pandas.matrix != without_pandas.matrix).nnz == 0
    np.testing.assert_array_equal(with_pandas.timestamps, without_pandas.timestamps)


def test_wrong_column_names_the_flag_and_the_columns_found(capsys, tmp_path):
    path = write_clicks(tmp_path / "clicks.csv")
    status, out, err = run_cli(capsys, "fit", "--data", str(path), "--user-col", "uid", "--item-col", "i")
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert "--user-col 'uid'" in err and "its columns are u, i, w, t" in err


def test_parquet_without_pyarrow_names_the_install_command(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    status, out, err = run_cli(
        capsys, "fit", "--data", str(tmp_path / "clicks.parquet"), "--user-col", "u", "--item-col", "i"
    )
    assert status == 2 and err.count("\n") == 1
    assert "pip install pandas pyarrow" in err


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--loss", "foo"], "--loss must be one of"),
        (["--dim", "0"], "--dim must be an integer >= 1, got 0"),
        (["--learning-rate", "-1"], "--learning-rate must be a finite number > 0"),
        (["--n-negatives", "0"], "--n-negatives must be an integer >= 1, got 0"),
        (["--split", "u9"], "--split 'u9' is not a split of ml-100k"),
        (["--test-fraction", "1.5", "--split", "random"], "--test-fraction must be between 0 and 1"),
        (["-k", "0"], "-k must be a positive integer"),
        (["--user-col", "u"], "--user-col needs --data FILE"),
        (["--loss", "foo", "--dim", "0"], "2 invalid parameters: --dim must be an integer >= 1, got 0; --loss must be"),
    ],
)
def test_options_are_checked_before_any_data_is_read(capsys, tmp_path, monkeypatch, options, fragment):
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path))  # empty: loading would fail
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status, out, err = run_cli(capsys, "fit", "--no-download", *options)
    assert status == 2 and err.count("\n") == 1
    assert fragment in err, err
    assert "not found" not in err


def test_missing_data_names_the_flag_and_the_variable_not_python(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status, out, err = run_cli(capsys, "info", "--no-download")
    assert status == 2 and err.count("\n") == 1
    assert "TRIPLETREC_DATA" in err and "--data-path" in err and "--no-download" in err
    assert "path=" not in err and "download=" not in err
    status, out, err = run_cli(capsys, "info", "--data-path", str(tmp_path))
    assert status == 2 and err.count("\n") == 1
    assert "--data-path" in err and "path=" not in err


def test_split_help_and_errors_list_the_splits_per_dataset(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "ml-100k: ua, ub, u1, u2, u3, u4, u5" in help_text
    assert "none, random, leave-one-out, leave-k-out, temporal" in help_text
    status, out, err = run_cli(capsys, "info", "--dataset", "ml-1m", "--split", "ua")
    assert status == 2
    assert "valid splits are none, random, leave-one-out, leave-k-out, temporal" in err
    assert "ml-100k: ua, ub" in err


def test_datasets_lists_splits_as_text_and_json(capsys):
    status, out, err = run_cli(capsys, "datasets")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["dataset", "official", "splits"]
    assert any(line.startswith("ml-100k") and "ua, ub, u1" in line for line in lines)
    assert "--split none, random, leave-one-out, leave-k-out, temporal" in lines[-1]
    status, out, err = run_cli(capsys, "datasets", "--json")
    rows = {row["dataset"]: row for row in json.loads(out)}
    assert rows["ml-100k"]["splits"][:2] == ["ua", "ub"]
    assert "temporal" in rows["synthetic"]["splits"] and "ua" not in rows["ml-1m"]["splits"]


def test_model_whose_training_file_is_gone_asks_for_data_then_uses_it(capsys, tmp_path):
    original = write_clicks(tmp_path / "clicks.csv")
    model = tmp_path / "m.npz"
    status, out, err = run_cli(
        capsys,
        "fit",
        "--data",
        str(original),
        *OWN,
        "--epochs",
        "1",
        "--dim",
        "4",
        "--threads",
        "1",
        "--out",
        str(model),
    )
    assert status == 0, err
    moved = original.rename(tmp_path / "moved.csv")
    status, out, err = run_cli(capsys, "recommend", str(model), "--user", "user1")
    assert status == 2 and err.count("\n") == 1
    assert "give --data FILE" in err
    status, out, err = run_cli(capsys, "recommend", str(model), "--user", "user1", "--data", str(moved), *OWN, "--json")
    assert status == 0, err
    assert json.loads(out)[0]["user"] == "user1"

import json
import os
import subprocess
import sys

import pytest

from tripletrec import __version__
from tripletrec.cli import main


def run_cli(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tripletrec {__version__}"
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("info", "datasets"):
        assert command in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["info", "--min-rating", "four"], "argument --min-rating: invalid float value: 'four'"),
        (["info", "--dataset", "ml-99k"], "ml-99k"),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, argv, fragment):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1, err
    assert fragment in err
    assert "Traceback" not in err


def test_console_script_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "tripletrec.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"tripletrec {__version__}"


def test_fit_prints_one_row_per_epoch_and_a_summary(capsys, data_dir):
    status, out, err = run_cli(
        capsys,
        "fit",
        "--dataset",
        "ml-100k",
        "--split",
        "ua",
        "--min-rating",
        "4",
        "--dim",
        "16",
        "--epochs",
        "3",
        "--threads",
        "1",
    )
    assert status == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("ml-100k: 943 users x 1,682 items, 49,906 training pairs, 5,469 test pairs")
    assert lines[1].split() == ["epoch", "loss", "seconds", "auc", "auc_all", "precision@10"]
    rows = [line.split() for line in lines[2:5]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    auc_values = [float(row[3]) for row in rows]
    assert all(0.5 < value <= 1.0 for value in auc_values)
    assert lines[5].startswith("trained 3 epochs in ")
    assert "test auc " in lines[5] and "auc_all " in lines[5]


def test_fit_synthetic_json_needs_no_download(capsys, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path))
    status, out, err = run_cli(
        capsys,
        "fit",
        "--dataset",
        "synthetic",
        "--users",
        "200",
        "--items",
        "100",
        "--interactions",
        "3000",
        "--split",
        "leave-one-out",
        "--epochs",
        "2",
        "--json",
    )
    assert status == 0, err
    document = json.loads(out)
    assert [record["epoch"] for record in document["history"]] == [1, 2]
    assert 0.0 <= document["history"][-1]["auc"] <= 1.0
    assert 0.0 <= document["history"][-1]["auc_all"] <= 1.0
    assert document["params"]["loss"] == "bpr"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["fit", "--dataset", "synthetic", "--loss", "softmax"], "--loss must be one of"),
        (["fit", "--dataset", "synthetic", "--dim", "0"], "--dim must be an integer >= 1, got 0"),
        (["fit", "--dataset", "synthetic", "--split", "ua"], "--split 'ua' is not a split of synthetic"),
        # Divergence and sizes no machine holds: one line naming the flag, never a traceback.
        (
            ["fit", "--dataset", "synthetic", "--learning-rate", "1e30", "--optimizer", "sgd", "--epochs", "2"],
            "training diverged in epoch 1",
        ),
        (["fit", "--dataset", "synthetic", "--dim", "1099511627776"], "lower --dim"),
        (
            ["fit", "--dataset", "synthetic", "--epochs", "1000000000000"],
            "--epochs must be an integer >= 1 and <= 100000",
        ),
    ],
)
def test_fit_user_errors(capsys, argv, fragment):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1 and fragment in err, err


def test_bare_command_prints_usage_on_stderr_and_exits_2(capsys):
    status, out, err = run_cli(capsys)
    assert status == 2
    assert out == ""
    assert err.startswith("usage: tripletrec")


def test_divergence_names_the_learning_rate_flag_and_not_the_loss(capsys):
    status, _, err = run_cli(capsys, "fit", "--dataset", "synthetic", "--learning-rate", "1e30", "--optimizer", "sgd")
    assert status == 2 and err.count("\n") == 1
    assert "try a lower --learning-rate than 1e+30" in err and "--loss" not in err


def test_recommend_caps_an_impossible_k_at_the_catalogue(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert (
        run_cli(capsys, "fit", "--dataset", "synthetic", "--items", "50", "--epochs", "1", "--out", str(model))[0] == 0
    )
    status, out, err = run_cli(capsys, "recommend", str(model), "--user", "0", "-k", "1000000000000", "--json")
    assert status == 0, err
    document = json.loads(out)
    assert len(document[0]["items"]) <= 50


def test_an_output_path_that_is_not_utf8_is_written_and_printed(tmp_path):
    # A POSIX file name may hold any bytes; Python hands them to main() as surrogates.
    folder = os.fsencode(tmp_path)
    target = folder + b"/model-\xff.npz"
    env = {**os.environ, "TRIPLETREC_QUIET": "1", "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tripletrec.cli",
            "fit",
            "--dataset",
            "synthetic",
            "--users",
            "200",
            "--items",
            "50",
            "--interactions",
            "2000",
            "--epochs",
            "1",
            "--out",
            target,
        ],
        capture_output=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Traceback" not in result.stderr
    assert os.path.exists(target)
    assert b"model saved to" in result.stdout


def test_fit_with_features_trains_the_hybrid(capsys, data_dir):
    status, out, err = run_cli(
        capsys, "fit", "--dataset", "ml-100k", "--split", "ua", "--features", "--dim", "8", "--epochs", "2", "--json"
    )
    assert status == 0, err
    document = json.loads(out)
    # ml-100k: age groups, genders, occupations and zip regions; genres, decades and title words.
    assert document["features"]["user"] > 20 and document["features"]["item"] > 100
    assert 0.5 < document["evaluation"]["metrics"]["auc"] <= 1.0
    status, out, err = run_cli(capsys, "fit", "--dataset", "ml-100k", "--split", "ua", "--features", "--epochs", "1")
    assert status == 0, err
    assert "side features: " in out.splitlines()[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "--dataset", "synthetic", "--features"],
        ["fit", "--data", "clicks.csv", "--user-col", "u", "--item-col", "i", "--features"],
    ],
)
def test_fit_features_need_movielens(capsys, argv):
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and err.count("\n") == 1
    assert "--features needs a MovieLens dataset with side features" in err

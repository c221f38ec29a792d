"""Every subcommand's --json prints one JSON document, and the CLI's AUCs are evaluate's."""

import json

import pytest

from tripletrec.cli import build_parser, main
from tripletrec.models import load

SYNTHETIC = ["--dataset", "synthetic", "--users", "200", "--items", "100", "--interactions", "3000"]


def run_json(capsys, *argv):
    status = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def subcommand_names() -> list[str]:
    """The subcommands that print a result (serve runs a server; its JSON is the HTTP API's)."""
    parser = build_parser()
    (commands,) = [action for action in parser._actions if action.dest == "command"]
    return sorted(name for name in commands.choices if name != "serve")


@pytest.fixture(scope="module")
def synthetic_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "synthetic.npz"
    status = main(
        [
            "fit",
            *SYNTHETIC,
            "--split",
            "leave-one-out",
            "--dim",
            "8",
            "--epochs",
            "2",
            "--threads",
            "1",
            "--out",
            str(path),
        ]
    )
    assert status == 0
    return path


def test_every_subcommand_prints_one_json_document(capsys, synthetic_model, monkeypatch, tmp_path):
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path))  # nothing is read from MovieLens
    model = load(synthetic_model)
    user, item = model.user_ids_.ids[0].item(), model.item_ids_.ids[0].item()
    argv_of = {
        "datasets": ["datasets"],
        "info": ["info", *SYNTHETIC, "--split", "leave-one-out"],
        "fit": ["fit", *SYNTHETIC, "--split", "leave-one-out", "--dim", "8", "--epochs", "1", "--threads", "1"],
        "evaluate": ["evaluate", str(synthetic_model)],
        "recommend": ["recommend", str(synthetic_model), "--user", str(user), "-k", "3"],
        "similar": ["similar", str(synthetic_model), "--item", str(item), "-k", "3"],
    }
    names = subcommand_names()
    assert set(names) <= set(argv_of), f"add a --json case for {sorted(set(names) - set(argv_of))}"
    documents = {name: run_json(capsys, *argv_of[name]) for name in names}

    assert {row["dataset"] for row in documents["datasets"]} >= {"ml-100k", "synthetic"}
    assert documents["info"]["interactions"] == documents["info"]["train"] + documents["info"]["test"]
    assert set(documents["fit"]) >= {"history", "evaluation", "model", "params"}
    assert documents["fit"]["model"] is None
    assert set(documents["evaluate"]["metrics"]) >= {"auc", "auc_all", "precision@10"}
    (recommended,) = documents["recommend"]
    assert recommended["user"] == user and len(recommended["items"]) == 3
    assert set(recommended["items"][0]) == {"id", "score"}  # synthetic items have no titles
    (similar,) = documents["similar"]
    assert similar["item"] == item and item not in [entry["id"] for entry in similar["items"]]


def test_fit_json_auc_and_auc_all_equal_python_evaluate(capsys, data_dir, tmp_path):
    from tripletrec import data as datasets
    from tripletrec.metrics import evaluate

    out = tmp_path / "ml100k.npz"
    document = run_json(
        capsys,
        "fit",
        "--dataset",
        "ml-100k",
        "--split",
        "ua",
        "--dim",
        "8",
        "--epochs",
        "2",
        "--seed",
        "3",
        "--threads",
        "1",
        "--out",
        str(out),
    )
    assert document["model"] == str(out)
    data = datasets.movielens("ml-100k", split="ua", path=data_dir, download=False, progress=False)
    expected = evaluate(load(out), data.test, train=data.train, metrics=("auc", "auc_all")).means
    reported = document["evaluation"]["metrics"]
    assert reported["auc"] == pytest.approx(expected["auc"], abs=1e-12)
    assert reported["auc_all"] == pytest.approx(expected["auc_all"], abs=1e-12)
    assert reported["auc"] != pytest.approx(reported["auc_all"], abs=1e-6)  # training items matter here
    last = document["history"][-1]
    assert last["auc"] == pytest.approx(expected["auc"], abs=1e-12)
    assert last["auc_all"] == pytest.approx(expected["auc_all"], abs=1e-12)
    evaluated = run_json(capsys, "evaluate", str(out))
    assert evaluated["metrics"]["auc"] == pytest.approx(expected["auc"], abs=1e-12)
    assert evaluated["metrics"]["auc_all"] == pytest.approx(expected["auc_all"], abs=1e-12)


def test_recommend_json_has_titles_and_text_has_headers(capsys, data_dir, tmp_path):
    out = tmp_path / "m.npz"
    assert main(["fit", "--split", "ua", "--dim", "8", "--epochs", "1", "--threads", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    (recommended,) = run_json(capsys, "recommend", str(out), "--user", "42", "-k", "2")
    assert recommended["user"] == 42
    assert [set(entry) for entry in recommended["items"]] == [{"id", "score", "title"}] * 2
    assert main(["recommend", str(out), "--user", "42", "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "top 2 for user 42:" and lines[1].split() == ["rank", "item", "score", "title"]
    assert main(["evaluate", str(out), "-k", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["metric", "value"] and lines[2].split()[0] == "auc"

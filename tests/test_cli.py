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

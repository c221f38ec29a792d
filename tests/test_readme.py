"""The README's tutorial runs as written: every python block, then every `$ tripletrec` line."""

import re
import shlex
from pathlib import Path

import pytest

from tripletrec.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_a_two_command_quick_start():
    quick_start = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line for line in _blocks("bash")[0].splitlines() if line.strip()]
    assert len(commands) == 2 and "```bash" in quick_start
    assert "tripletrec fit" in commands[0] and "pytest" in commands[1]


@pytest.mark.slow
def test_readme_tutorial_runs(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    python_blocks = _blocks("python")
    assert python_blocks, "the README has no python tutorial"
    namespace: dict = {}
    for block in python_blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    console_lines = [
        line[2:] for block in _blocks("console") for line in block.splitlines() if line.startswith("$ tripletrec ")
    ]
    assert console_lines, "the README has no command-line tutorial"
    for line in console_lines:
        status = main(shlex.split(line)[1:])
        captured = capsys.readouterr()
        assert status == 0, f"{line!r} failed: {captured.err}"
        assert captured.out.strip(), f"{line!r} printed nothing"

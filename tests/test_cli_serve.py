"""``tripletrec serve``: option errors in one line, and the real server started by the command."""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tripletrec.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    # A model whose file records its data (synthetic), so serve finds the training items itself.
    path = tmp_path_factory.mktemp("serve") / "model.npz"
    argv = ["fit", "--dataset", "synthetic", "--users", "60", "--items", "40", "--interactions", "900"]
    assert main([*argv, "--dim", "8", "--epochs", "2", "--threads", "1", "--out", str(path), "--json"]) == 0
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--port", "70000"], "--port must be at most 65535"),
        (["--max-k", "0"], "--max-k must be an integer >= 1"),
        (["--api-key-env", "TRIPLETREC_TEST_NO_SUCH_KEY"], "TRIPLETREC_TEST_NO_SUCH_KEY is not set"),
        (["--train", "ml-100k", "--dataset", "ml-100k"], "not both"),
    ],
)
def test_option_errors_are_one_line(model_file, capsys, extra, message):
    assert main(["serve", str(model_file), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_model_and_missing_extra(tmp_path, capsys, monkeypatch, model_file):
    assert main(["serve", str(tmp_path / "none.npz")]) == 2
    assert "no model file" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import fails as if not installed
    assert main(["serve", str(model_file)]) == 2
    assert "pip install 'tripletrec[serve]'" in capsys.readouterr().err


def test_serve_freezes_what_is_loaded_and_shortens_the_switch_interval(model_file, monkeypatch):
    pytest.importorskip("fastapi", reason="the server needs fastapi (pip install 'tripletrec[serve]')")
    uvicorn = pytest.importorskip("uvicorn", reason="the server needs uvicorn (pip install 'tripletrec[serve]')")
    seen = []

    def run(server, sockets):
        seen.append((gc.get_freeze_count(), sys.getswitchinterval()))
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    interval = sys.getswitchinterval()
    try:
        assert main(["serve", str(model_file), "--port", "0"]) == 0
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
    # Full collections skip the libraries and the model (they paused requests for up to 150 ms),
    # and the batcher's thread gets the GIL back sooner than Python's default 5 ms.
    ((frozen, switch),) = seen
    assert frozen > 10_000 and switch < 0.001


def test_serve_runs_until_terminated(model_file):
    pytest.importorskip("fastapi", reason="the server needs fastapi (pip install 'tripletrec[serve]')")
    pytest.importorskip("uvicorn", reason="the server needs uvicorn (pip install 'tripletrec[serve]')")
    httpx = pytest.importorskip("httpx", reason="the test calls the server with httpx")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TRIPLETREC_TEST_KEY": "k3y"}
    command = [sys.executable, "-m", "tripletrec.cli", "serve", str(model_file), "--port", "0"]
    process = subprocess.Popen(
        [*command, "--api-key-env", "TRIPLETREC_TEST_KEY"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        line = process.stderr.readline()  # "serving ... on http://127.0.0.1:PORT", printed before listening
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        url = match.group(0)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the server did not become ready"
            time.sleep(0.1)
        headers = {"X-API-Key": "k3y"}
        info = httpx.get(f"{url}/v1/model", headers=headers).json()
        assert info["exclude_seen_available"] and info["training_data"].startswith("synthetic")
        user = httpx.get(f"{url}/v1/users/0/recommendations?k=3", headers=headers)
        assert user.status_code == 200 and len(user.json()["items"]) == 3
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -SIGTERM).
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in process.stderr.read()

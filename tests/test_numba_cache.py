"""Where numba caches the kernels, and the notice printed while they compile.

The subprocess tests start fresh interpreters on purpose: numba chooses a
function's cache folder when its decorator runs, and the compile notice is
about what happens in the first process that uses a kernel.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
NOTICE = "tripletrec: compiling"

# Calls one kernel of the small "text" group twice, with two signatures: the
# second call compiles again (a cache miss) but must not print a second line.
PARSE_TWICE = textwrap.dedent(
    """
    import numpy as np
    from tripletrec.kernels.text import parse_rating_rows as kernel

    text = np.frombuffer(b"1,2,3.5,10\\n", dtype=np.uint8)
    separator = np.frombuffer(b",", dtype=np.uint8)
    ids = [np.zeros(4, np.int64) for _ in range(3)]
    for dtype in (np.float32, np.float64):
        assert kernel(text, 0, separator, ids[0], ids[1], np.zeros(4, dtype), ids[2])[0] == 1
    print("misses", len(kernel.stats.cache_misses), "hits", len(kernel.stats.cache_hits))
    """
)


def _environment(**changes: str | None) -> dict[str, str]:
    """This process's environment with ``changes`` applied (None removes a name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "TRIPLETREC_QUIET"))}
    env["PYTHONPATH"] = str(SOURCE)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(code: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


# ------------------------------------------------------------------ cache folder
def test_top_level_import_does_not_load_numba():
    """The fallback lives under ``tripletrec.kernels``, not in ``import tripletrec``."""
    result = _run("import sys, tripletrec; print('numba' in sys.modules)", _environment())
    assert result.stdout.strip() == "False"


def test_explicit_numba_cache_dir_is_used(tmp_path):
    """A writable ``NUMBA_CACHE_DIR`` keeps precedence over every other place."""
    explicit = tmp_path / "explicit"
    code = textwrap.dedent(
        """
        from tripletrec.kernels import text, topk
        print(text.parse_rating_rows._cache.cache_path)
        print(topk._select_rows._cache.cache_path)
        """
    )
    result = _run(code, _environment(NUMBA_CACHE_DIR=str(explicit)))
    paths = result.stdout.split()
    assert len(paths) == 2
    assert all(Path(p).is_relative_to(explicit) for p in paths), paths


def _block_writes(root: Path) -> None:
    """Make every ``__pycache__`` under ``root`` impossible to create, then chmod it read-only.

    ``chmod -R a-w`` alone makes numba's in-tree cache unusable for an
    ordinary user, but not for root, who may write anyway. A regular file
    named ``__pycache__`` stops even root: numba's ``os.makedirs`` on it
    raises, which is the same ``OSError`` path as a read-only folder.
    """
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("not a folder\n")
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _allow_writes(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.mark.slow
def test_read_only_install_without_home_falls_back_to_temporary_cache(tmp_path):
    """A read-only copy of the package, no usable home, no NUMBA_CACHE_DIR: it still fits.

    What this proves: when numba's own locators (in-tree ``__pycache__`` and
    the user-wide ``~/.cache/numba``) both fail, importing the models, fitting
    and recommending work, and the kernels are cached in the per-user
    temporary folder. The child checks that numba's own locators really did
    fail for a kernel file, so the test cannot pass by using them. The
    read-only installation is simulated: the copy is chmod'ed read-only *and*
    every ``__pycache__`` name is taken by a file (which also stops root), and
    ``HOME`` lies under a regular file, so no one can create it.
    """
    site = tmp_path / "site"
    shutil.copytree(SOURCE / "tripletrec", site / "tripletrec", ignore=shutil.ignore_patterns("__pycache__"))
    blocker = tmp_path / "a-file"
    blocker.write_text("HOME lies below this file, so it can never be created\n")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    code = textwrap.dedent(
        """
        import os, stat, sys
        import numpy as np
        import scipy.sparse
        from numba.core.caching import InTreeCacheLocator, UserWideCacheLocator
        from tripletrec.models import MatrixFactorization
        from tripletrec.kernels import training

        function = next(
            value for value in vars(training).values()
            if getattr(value, "_cache", None) is not None and hasattr(value, "py_func")
        )
        source = function.py_func.__code__.co_filename
        assert InTreeCacheLocator.from_function(function.py_func, source) is None, "in-tree cache usable"
        assert UserWideCacheLocator.from_function(function.py_func, source) is None, "user cache usable"

        rng = np.random.default_rng(0)
        matrix = scipy.sparse.csr_matrix((rng.random((30, 20)) < 0.3).astype(np.float32))
        model = MatrixFactorization(epochs=2, seed=0).fit(matrix, progress=False)
        items, scores = model.recommend([0, 1], k=3)
        assert items.shape == (2, 3), items.shape
        path = function._cache.cache_path
        print(path)
        print(oct(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)))
        """
    )
    env = _environment(
        PYTHONPATH=str(site),
        HOME=str(blocker / "home"),
        XDG_CACHE_HOME=None,
        NUMBA_CACHE_DIR=None,
        TMPDIR=str(temporary),
        PYTHONDONTWRITEBYTECODE="1",
        TRIPLETREC_QUIET="1",
    )
    _block_writes(site)
    try:
        result = _run(code, env)
    finally:
        _allow_writes(site)  # so that pytest can remove tmp_path
    path, mode = result.stdout.split()
    assert Path(path).is_relative_to(temporary / f"tripletrec-numba-cache-{os.getuid()}"), path
    assert mode == "0o700"
    assert any(Path(path).glob("*.nbi")), "nothing was cached"


def test_temporary_root_is_private_and_refuses_a_shared_folder(tmp_path, monkeypatch):
    """The per-user folder is made 0700; one that others can write is not used."""
    from tripletrec import _numba_cache

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(_numba_cache, "_private_root", None)
    shared = tmp_path / f"tripletrec-numba-cache-{os.getuid()}"

    assert Path(_numba_cache.temporary_cache_root()) == shared
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700

    shared.chmod(0o777)  # as if someone else had prepared it for us
    fallback = Path(_numba_cache.temporary_cache_root())
    assert fallback != shared
    assert fallback.parent == tmp_path
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700
    assert Path(_numba_cache.temporary_cache_root()) == fallback  # one per process


def _not_tripletrec():
    pass


def test_temporary_locator_takes_only_tripletrec_functions():
    """Other libraries' numba functions keep numba's own behaviour."""
    from tripletrec import _numba_cache

    assert _numba_cache.TemporaryCacheLocator.from_function(_not_tripletrec, __file__) is None
    from numba.core.caching import CacheImpl

    assert CacheImpl._locator_classes[-1] is _numba_cache.TemporaryCacheLocator


# ------------------------------------------------------------------ compile notice
def test_notice_once_when_compiling_and_silent_when_cached(tmp_path):
    """A cold cache prints one line for two compilations; the warm cache prints none."""
    env = _environment(NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    cold = _run(PARSE_TWICE, env)
    assert cold.stdout.split() == ["misses", "2", "hits", "0"]
    assert cold.stderr.count(NOTICE) == 1, cold.stderr
    assert "MovieLens parser" in cold.stderr

    warm = _run(PARSE_TWICE, env)
    assert warm.stdout.split() == ["misses", "0", "hits", "2"]
    assert NOTICE not in warm.stderr, warm.stderr


def test_no_notice_without_the_jit(tmp_path):
    env = _environment(NUMBA_CACHE_DIR=str(tmp_path / "cache"), NUMBA_DISABLE_JIT="1")
    code = PARSE_TWICE.replace("print(", "0 and print(") + "\nfrom tripletrec import _compile_notice\n"
    code += "assert _compile_notice.install() is None\n"
    result = _run(code, env)
    assert NOTICE not in result.stderr, result.stderr


def _event(status: str, module: str):
    from numba.core import event

    dispatcher = SimpleNamespace(py_func=SimpleNamespace(__module__=module))
    return event.Event("numba:compile", event.EventStatus[status], data={"dispatcher": dispatcher})


def _compile(listener, *modules: str) -> None:
    """Feed ``listener`` the events of nested compilations of ``modules``, outermost first."""
    for module in modules:
        listener.notify(_event("START", module))
    for module in reversed(modules):
        listener.notify(_event("END", module))


def test_notice_names_the_outermost_group_once(monkeypatch):
    """Nested callees are part of their caller's group; other libraries are ignored."""
    from tripletrec._compile_notice import CompileNotice

    monkeypatch.delenv("TRIPLETREC_QUIET", raising=False)
    stream = io.StringIO()
    listener = CompileNotice(stream)
    _compile(listener, "somebody_else.kernels")
    _compile(listener, "tripletrec.kernels.fold_in", "tripletrec.kernels.training")
    _compile(listener, "tripletrec.kernels.fold_in")
    _compile(listener, "tripletrec.kernels.training")
    _compile(listener, "tripletrec.kernels.new_group")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert "fold-in" in lines[0] and "training" in lines[1] and "new_group" in lines[2]


def test_quiet_silences_the_notice(monkeypatch):
    from tripletrec._compile_notice import CompileNotice

    monkeypatch.setenv("TRIPLETREC_QUIET", "1")
    stream = io.StringIO()
    _compile(CompileNotice(stream), "tripletrec.kernels.training")
    assert stream.getvalue() == ""

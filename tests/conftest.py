"""Shared test setup: where the MovieLens copy lives; no compile notices; numpy or compiled paths."""

import contextlib
import os
from pathlib import Path

import pytest

import tripletrec.metrics as metrics_module
import tripletrec.serving.exact as exact_module

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRIPLETREC_DATA", str((REPO / ".." / "shared" / "datasets").resolve()))
# The "compiling kernels" notice would add a stderr line wherever a test happens
# to be the first to use a kernel group (on a cold cache, e.g. in CI), and some
# tests count stderr lines. tests/test_numba_cache.py tests the notice with the
# variable removed.
os.environ.setdefault("TRIPLETREC_QUIET", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding ml-100k.zip (``TRIPLETREC_DATA``)."""
    path = Path(os.environ["TRIPLETREC_DATA"])
    if not (path / "ml-100k.zip").exists():
        pytest.skip(f"MovieLens 100k not found in TRIPLETREC_DATA={path}")
    return path


# evaluate and top_k compute small workloads in numpy and large ones in
# compiled kernels, with the same results; test inputs are small, so without
# this every test would take the numpy path.
PATHS = ("numpy", "compiled")


@contextlib.contextmanager
def forced_path(path: str):
    """Inside the block, evaluate and top_k take ``path`` ("numpy" or "compiled") whatever the size."""
    limit = 2**62 if path == "numpy" else -1
    saved = metrics_module._NUMPY_SCORES, exact_module.NUMPY_SELECTION_MAX_SCORES
    metrics_module._NUMPY_SCORES = exact_module.NUMPY_SELECTION_MAX_SCORES = limit
    try:
        yield path
    finally:
        metrics_module._NUMPY_SCORES, exact_module.NUMPY_SELECTION_MAX_SCORES = saved


@pytest.fixture(params=PATHS)
def path(request):
    """Run the test once on each path (see :func:`forced_path`)."""
    with forced_path(request.param):
        yield request.param

"""Shared test setup: where the MovieLens copy lives; no compile notices."""

import os
from pathlib import Path

import pytest

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

"""Shared test setup: where the MovieLens copy lives."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRIPLETREC_DATA", str((REPO / ".." / "shared" / "datasets").resolve()))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding ml-100k.zip (``TRIPLETREC_DATA``)."""
    path = Path(os.environ["TRIPLETREC_DATA"])
    if not (path / "ml-100k.zip").exists():
        pytest.skip(f"MovieLens 100k not found in TRIPLETREC_DATA={path}")
    return path

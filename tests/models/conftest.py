"""Fixtures shared by the model tests: a small model fitted on the checkerboard."""

from __future__ import annotations

import pytest

from tripletrec.models import MatrixFactorization
from tripletrec.testing import checkerboard

SMALL = dict(dim=8, loss="bpr", optimizer="adagrad", learning_rate=0.15, l2=0.02, epochs=20, threads=1, seed=0)


@pytest.fixture(scope="module")
def board():
    return checkerboard()


@pytest.fixture(scope="module")
def model(board):
    return MatrixFactorization(**SMALL).fit(board[0], progress=False)

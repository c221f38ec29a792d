"""Recommendation models."""

from .base import BaseModel, NotFittedError, clone
from .matrix_factorization import MatrixFactorization
from .serving import load

__all__ = ["BaseModel", "MatrixFactorization", "NotFittedError", "clone", "load"]

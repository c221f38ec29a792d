"""Recommendation models on one base (:class:`BaseModel`) and one trainer."""

from .base import BaseModel, NotFittedError
from .estimator import clone
from .matrix_factorization import MatrixFactorization
from .persistence import known_model_classes, load

__all__ = ["BaseModel", "MatrixFactorization", "NotFittedError", "clone", "known_model_classes", "load"]

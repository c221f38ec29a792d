"""What :func:`tripletrec.metrics.evaluate` is given, checked and served in blocks.

The test and training pairs are checked against each other
(:func:`check_evaluation_pairs`), the scores come from a model's
``score_indices`` or a dense matrix, a block of users at a time
(:class:`ScoreSource`), and the positives are the test pairs that are not
training pairs (:func:`positive_csr`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .data.interactions import IdMap, Interactions

__all__ = ["ScoreSource", "check_evaluation_pairs", "positive_csr"]


def check_evaluation_pairs(test: Any, train: Any) -> None:
    if not isinstance(test, Interactions):
        raise ValueError(f"test must be an Interactions, got {type(test).__name__}")
    if len(test) == 0:
        raise ValueError(f"test is empty: it has no interactions ({test.n_users} users x {test.n_items} items)")
    if train is None:
        return
    if not isinstance(train, Interactions):
        raise ValueError(f"train must be an Interactions or None, got {type(train).__name__}")
    if train.shape != test.shape:
        raise ValueError(
            f"train and test must have the same shape: train is {train.n_users} users x "
            f"{train.n_items} items, test is {test.n_users} x {test.n_items}"
        )
    if train.user_ids != test.user_ids:
        raise ValueError("train and test must share id maps: their user_ids differ")
    if train.item_ids != test.item_ids:
        raise ValueError("train and test must share id maps: their item_ids differ")


def _as_score_array(values: Any, what: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "biu":
        values = values.astype(np.float64)
    elif values.dtype == np.float16:
        values = values.astype(np.float32)
    elif values.dtype.kind != "f" or values.dtype.itemsize > 8:
        raise ValueError(f"{what} must be real numbers (float32 or float64), got dtype {values.dtype}")
    return np.ascontiguousarray(values)


def _same_ids(found: Any, expected: IdMap) -> bool:
    if not isinstance(found, IdMap):
        try:
            found = IdMap(found)
        except (ValueError, TypeError):
            return False
    return found == expected


class ScoreSource:
    """Hands out score rows for blocks of users, from a model or a matrix."""

    def __init__(self, model_or_scores: Any, test: Interactions):
        self.n_users, self.n_items = test.shape
        score = getattr(model_or_scores, "score_indices", None)
        if callable(score):
            self.model = model_or_scores
            self.matrix = None
            self._check_model(test)
            return
        if not isinstance(model_or_scores, (np.ndarray, list, tuple)):
            raise ValueError(
                "model_or_scores must have a score_indices(user_indices) method or be a score matrix "
                f"(ndarray of shape (n_users, n_items)), got {type(model_or_scores).__name__}"
            )
        self.model = None
        matrix = np.asarray(model_or_scores)
        if matrix.shape != test.shape:
            raise ValueError(
                f"scores has shape {matrix.shape} but test is {self.n_users} users x "
                f"{self.n_items} items; expected shape {test.shape}"
            )
        self.matrix = _as_score_array(matrix, "scores")

    def _check_model(self, test: Interactions) -> None:
        model = self.model

        def learned(attribute: str):
            # Fitted estimators name these with a trailing underscore (n_items_).
            found = getattr(model, attribute, None)
            return getattr(model, f"{attribute}_", None) if found is None else found

        for attribute, expected in (("n_users", self.n_users), ("n_items", self.n_items)):
            found = learned(attribute)
            if found is not None and int(found) != expected:
                raise ValueError(
                    f"the model has {attribute}={int(found)} but test has {expected}; "
                    "evaluate a model on interactions of the same shape"
                )
        for attribute, expected in (("user_ids", test.user_ids), ("item_ids", test.item_ids)):
            found = learned(attribute)
            if found is not None and not _same_ids(found, expected):
                raise ValueError(
                    f"the model's {attribute} differ from test's {attribute}; evaluate "
                    "a model on interactions that share its id maps"
                )

    def block(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows): the score matrix and each user's row in it."""
        if self.matrix is not None:
            return self.matrix, users
        scores = _as_score_array(self.model.score_indices(users), "model.score_indices(users)")
        if scores.shape != (len(users), self.n_items):
            raise ValueError(
                f"model.score_indices(users) returned shape {scores.shape} for {len(users)} users; "
                f"expected ({len(users)}, {self.n_items})"
            )
        return scores, np.arange(len(users), dtype=np.int64)


def positive_csr(test: Interactions, train: Interactions | None) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of the test pairs that are not training pairs."""
    if train is None or len(train) == 0:
        return test.indptr, test.indices
    n_items = np.int64(test.n_items)
    # Both CSRs are sorted by (user, item), so their keys are ascending.
    test_keys = test.user_index() * n_items + test.indices
    train_keys = train.user_index() * n_items + train.indices
    position = np.minimum(np.searchsorted(train_keys, test_keys), len(train_keys) - 1)
    keep = train_keys[position] != test_keys
    counts = np.bincount(test.user_index()[keep], minlength=test.n_users)
    indptr = np.zeros(test.n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, np.ascontiguousarray(test.indices[keep])

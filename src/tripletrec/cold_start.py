"""Evaluating new users and items scored from their side features alone.

The cold-start protocols of LightFM's paper [1]_: hold out whole items
(:func:`tripletrec.data.cold_start_items`) or whole users
(:func:`tripletrec.data.cold_start_users`), fit a hybrid model on the rest,
then rank with the held-out ones represented by their features only.
:func:`evaluate_cold_start` scores such a test set and ranks either among
the cold items only (the paper's protocol) or among every item.

References
----------
.. [1] M. Kula, "Metadata embeddings for user and item cold-start
   recommendations", CBRecSys workshop at RecSys 2015, arXiv:1507.08439.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._validation import check_option
from .data.dataset import Features
from .data.id_map import IdMap
from .data.interactions import Interactions
from .metrics import DEFAULT_METRICS, Evaluation, evaluate
from .models.feature_matrices import feature_input, rows_for_ids

__all__ = ["evaluate_cold_start"]

_AMONG = ("cold", "all")


def evaluate_cold_start(
    model: Any,
    test: Interactions,
    *,
    train: Interactions | None = None,
    user_features: Any = None,
    item_features: Any = None,
    among: str = "cold",
    k: int = 10,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
) -> Evaluation:
    """Rank metrics of held-out users or items that the model scores from their features.

    Parameters
    ----------
    model : fitted hybrid model
        With ``user_representations`` / ``item_representations`` (e.g. a
        :class:`~tripletrec.models.MatrixFactorization` fitted with side
        features). Test users (items) it knows are scored with their learned
        vectors; the others are *cold* and scored from their feature rows.
    test : Interactions
        The held-out pairs, over the whole data's id maps (known and cold ids).
    train : Interactions, optional
        Pairs removed from each user's candidates (e.g. the training data
        when ranking ``among="all"``), with ``test``'s shape and id maps.
    user_features, item_features : Features or matrix, optional
        Needed when ``test`` has cold users (items): a
        :class:`~tripletrec.data.Features` holding a row for each cold id,
        or a matrix with one row per id of ``test``'s map and the model's
        given columns.
    among : {"cold", "all"}
        Rank among the cold items only (LightFM's cold-start protocol;
        needs cold items), or among every item of ``test``.
    k : int
    metrics : str or sequence of str
        As for :func:`tripletrec.metrics.evaluate`.

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        Cold ids without the features to score them, ``among="cold"``
        without cold items, or the errors of :func:`~tripletrec.metrics.evaluate`.

    Notes
    -----
    Scores are computed for every test user and candidate item at once:
    memory is ``4 * n_users * n_candidates`` bytes.
    """
    check_option(among, "among", _AMONG)
    model._require_fitted()
    user_rows = model.user_ids_.to_index(test.user_ids.ids, missing="ignore")
    item_rows = model.item_ids_.to_index(test.item_ids.ids, missing="ignore")
    cold_users, cold_items = user_rows < 0, item_rows < 0
    user_vectors = model.user_factors_[np.maximum(user_rows, 0)]
    if cold_users.any():
        if user_features is None:
            raise ValueError(f"test has {int(cold_users.sum())} users the model does not know: pass user_features")
        rows = _cold_rows(user_features, test.user_ids, cold_users, "user_features")
        user_vectors[cold_users] = model.user_representations(rows)
    columns = np.flatnonzero(cold_items) if among == "cold" else np.arange(test.n_items)
    if among == "cold" and len(columns) == 0:
        raise ValueError('among="cold" ranks among the cold items, but the model knows every item of test')
    item_vectors = model.item_factors_[np.maximum(item_rows[columns], 0)]
    item_biases = model.item_biases_[np.maximum(item_rows[columns], 0)]
    cold_columns = cold_items[columns]
    if cold_columns.any():
        if item_features is None:
            raise ValueError(f"test has {int(cold_items.sum())} items the model does not know: pass item_features")
        rows = _cold_rows(item_features, IdMap(test.item_ids.ids[columns]), cold_columns, "item_features")
        item_vectors[cold_columns], item_biases[cold_columns] = model.item_representations(rows)
    scores = user_vectors @ item_vectors.T + item_biases
    return evaluate(
        scores, _columns(test, columns), train=None if train is None else _columns(train, columns), k=k, metrics=metrics
    )


def _cold_rows(features: Any, ids: IdMap, cold: np.ndarray, name: str) -> Any:
    """The feature rows of the cold entries of ``ids`` (a Features by id, a matrix by position)."""
    if isinstance(features, Features):
        return rows_for_ids(features, IdMap(ids.ids[cold]), name)
    return feature_input(features, ids, name).matrix[np.flatnonzero(cold)]


def _columns(data: Interactions, columns: np.ndarray) -> Interactions:
    """``data`` restricted to ``columns`` (its item id map cut to them)."""
    position = np.full(data.n_items, -1, dtype=np.int64)
    position[columns] = np.arange(len(columns))
    users, items, weights = data.to_coo()
    keep = position[items] >= 0
    return Interactions.from_indices(
        users[keep],
        position[items[keep]],
        weights[keep],
        shape=(data.n_users, len(columns)),
        user_ids=data.user_ids,
        item_ids=IdMap(data.item_ids.ids[columns]),
    )

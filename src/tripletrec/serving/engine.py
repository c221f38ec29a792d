"""What the server computes: external ids in, batched ranking, external ids out.

A request becomes one or more :class:`Row` (a query vector's recipe, its
``k``, exclusions and candidates) on the snapshot the request took. The
batcher hands lists of such jobs to :meth:`Engine.process`, which folds in
every new user of the batch with one ``fold_in`` call per model (its vectors
do not depend on the batch: each user's draws are seeded by its own items),
then ranks rows that share a model and candidates with one
:func:`~tripletrec.serving.ranking.rank_rows` call (whose answers do not
depend on the batch either).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .ranking import rank_rows
from .store import Snapshot

__all__ = ["Engine", "Row", "lookup", "parse_id"]

_INTEGER = re.compile(r"^[+-]?\d+$")


def parse_id(value: Any, ids: np.ndarray) -> Any:
    """``value`` as an id of the type of ``ids``, or None when it cannot be one.

    A model with integer ids takes integers and strings of digits (path and
    query parameters are strings); a model with string ids takes strings and
    integers (as their decimal text).
    """
    if isinstance(value, bool):
        return None
    if ids.dtype.kind in "iu":
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            return int(value)
        return None
    if isinstance(value, (str, int)):
        return str(value)
    return None


def lookup(values: Sequence[Any], id_map) -> tuple[np.ndarray, list]:
    """Dense indices of external ids (-1 for unknown ones) and the unknown values."""
    ids = id_map.ids
    parsed = [parse_id(value, ids) for value in values]
    if len(values) == 1:  # every single-user request: a scalar search, a fraction of the array path's cost
        index = -1 if parsed[0] is None else _one(id_map, parsed[0])
        return np.array([index], dtype=np.int64), [] if index >= 0 else list(values)
    indices = np.full(len(values), -1, dtype=np.int64)
    known = [position for position, value in enumerate(parsed) if value is not None]
    if known:
        try:
            found = id_map.to_index([parsed[position] for position in known], missing="ignore")
        except (ValueError, OverflowError, TypeError):  # e.g. an integer past the id dtype's range
            found = np.array([_one(id_map, parsed[position]) for position in known], dtype=np.int64)
        indices[known] = found
    return indices, [value for value, index in zip(values, indices) if index < 0]


def _one(id_map, value: Any) -> int:
    try:
        return id_map.index_of(value)
    except (ValueError, OverflowError, TypeError):
        return -1


@dataclass
class Row:
    """One ranked list to compute.

    Attributes
    ----------
    snapshot : Snapshot
        The model the request took.
    k : int
    user_index : int
        Dense index of a known user; -1 for a zero vector (popularity) or a
        folded-in user.
    fold_in : (list, list or None), optional
        A new user's external item ids and their weights.
    excluded : ndarray of int64, optional
        Dense item indices never to return.
    candidates : ndarray of int64, optional
        Sorted unique dense item indices to choose from.
    """

    snapshot: Snapshot
    k: int
    user_index: int = -1
    fold_in: tuple[list, list | None] | None = None
    excluded: np.ndarray | None = None
    candidates: np.ndarray | None = None


class Engine:
    """Computes batches of jobs (each a list of rows) for :class:`~tripletrec.serving.batcher.MicroBatcher`.

    Parameters
    ----------
    approximate : bool
        Rank with each model's HNSW index (:meth:`tripletrec.models.BaseModel.approximate_index`,
        built once per loaded model) instead of exactly.
    """

    def __init__(self, *, approximate: bool = False):
        self.approximate = approximate

    def process(self, jobs: Sequence[list[Row]]) -> list[Any]:
        """Per job, a list of ``(item ids, scores)`` per row, or the exception that job raised."""
        results: list[Any] = [None] * len(jobs)
        vectors: dict[tuple[int, int], np.ndarray] = {}
        self._fold_in(jobs, vectors, results)
        groups: dict[tuple, list[tuple[int, int]]] = {}
        for number, job in enumerate(jobs):
            if results[number] is not None:
                continue
            results[number] = [None] * len(job)
            for position, row in enumerate(job):
                key = (row.snapshot.version, None if row.candidates is None else row.candidates.tobytes())
                groups.setdefault(key, []).append((number, position))
        for members in groups.values():
            first = jobs[members[0][0]][members[0][1]]
            snapshot = first.snapshot
            rows = [jobs[number][position] for number, position in members]
            stacked = np.zeros((len(rows), snapshot.table.factors.shape[1]), dtype=np.float32)
            for place, (member, row) in enumerate(zip(members, rows)):
                if member in vectors:
                    stacked[place] = vectors[member]
                elif row.user_index >= 0:
                    stacked[place] = snapshot.model.user_factors_[row.user_index]
            try:
                answers = rank_rows(
                    stacked,
                    snapshot.table,
                    [row.k for row in rows],
                    [row.excluded for row in rows],
                    first.candidates,
                    approximate=self.approximate,
                    index=snapshot.model.approximate_index() if self.approximate else None,
                )
            except Exception as error:
                for number, _ in members:
                    results[number] = error
                continue
            item_ids = snapshot.model.item_ids_.ids
            for (number, position), (indices, scores) in zip(members, answers):
                if isinstance(results[number], list):
                    # float32 like every score the library returns.
                    results[number][position] = (item_ids[indices].tolist(), scores.astype(np.float32).tolist())
        return results

    @staticmethod
    def _fold_in(jobs: Sequence[list[Row]], vectors: dict, results: list) -> None:
        """Fold in every new user of the batch, one ``fold_in`` call per model; a failing job fails alone."""
        by_model: dict[int, list[tuple[int, int]]] = {}
        for number, job in enumerate(jobs):
            for position, row in enumerate(job):
                if row.fold_in is not None:
                    by_model.setdefault(row.snapshot.version, []).append((number, position))
        for members in by_model.values():
            model = jobs[members[0][0]][members[0][1]].snapshot.model
            try:
                folded = _fold(model, [jobs[number][position].fold_in for number, position in members])
            except (ValueError, FloatingPointError):
                # Find the job at fault: each alone gives the same vector as in the batch.
                folded = []
                for number, position in members:
                    try:
                        folded.extend(_fold(model, [jobs[number][position].fold_in]))
                    except (ValueError, FloatingPointError) as error:
                        results[number] = error
                        folded.append(None)
            for member, vector in zip(members, folded):
                if vector is not None:
                    vectors[member] = vector


def _fold(model, requests: list[tuple[list, list | None]]) -> list[np.ndarray]:
    items = [list(request_items) for request_items, _ in requests]
    weights = None
    if any(request_weights is not None for _, request_weights in requests):
        weights = [
            [1.0] * len(request_items) if request_weights is None else list(request_weights)
            for request_items, request_weights in requests
        ]
    # A fixed seed (the model's, else 0): the same items always give the same list.
    seed = model.get_params().get("seed")
    return list(model.fold_in(items, weights, seed=0 if seed is None else seed))

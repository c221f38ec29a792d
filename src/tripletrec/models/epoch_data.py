"""The training arrays of a fit in the layout the training kernels read."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.interactions import Interactions
from ..kernels import training
from ..sampling import POPULARITY, alias_table, popularity_probabilities

__all__ = ["EpochData"]


class EpochData:
    """The training arrays in the kernel's layout, built once per fit call."""

    def __init__(self, train: Interactions, settings: Any):
        self.indptr = np.ascontiguousarray(train.indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(train.indices, dtype=np.int32)
        weights = np.asarray(train.weights, dtype=np.float32)
        lowest, highest = (weights.min(), weights.max()) if len(weights) > 0 else (1.0, 1.0)
        if settings.use_weights and highest <= 0:
            raise ValueError(
                "train has no interaction with a positive weight; pass use_weights=False to count every stored pair"
            )
        # Equal weights are the same as no weights: the kernel then skips them.
        self.use_weights = settings.use_weights and lowest != highest
        if self.use_weights:
            positive = weights[weights > 0] if lowest <= 0 else weights
            # Mean 1 over the weighted pairs: the learning rate then means the
            # same whether weights are counts, ratings or already in 0..1.
            self.weights = weights * np.float32(1.0 / positive.mean(dtype=np.float64))
        else:
            self.weights = np.ones(0, dtype=np.float32)
        self.counts = np.diff(self.indptr)
        self.interaction_users = np.repeat(np.arange(train.n_users, dtype=np.int32), self.counts)
        self.active_users = np.flatnonzero(self.counts > 0).astype(np.int64)
        scratch_width = settings.kos_n + training.SCRATCH_PADDING
        self.scratch = training.Scratch(
            # The visiting order: int32 halves the largest scratch array (and
            # its memory traffic) wherever the stored pairs fit.
            positions=np.empty(len(self.indices), dtype=np.int32 if len(self.indices) < 2**31 else np.int64),
            kos_scores=np.zeros((settings.n_chunks, scratch_width), dtype=np.float32),
            kos_positions=np.zeros((settings.n_chunks, scratch_width), dtype=np.int64),
            upcoming_negatives=np.zeros(
                (settings.n_chunks, training.PREFETCH_DISTANCE + training.WARP_LOOKAHEAD + training.SCRATCH_PADDING),
                dtype=np.int64,
            ),
        )
        if settings.sampler == POPULARITY:
            item_counts = np.bincount(self.indices, minlength=train.n_items)
            probabilities = popularity_probabilities(item_counts, settings.popularity_alpha)
            alias_threshold, alias = alias_table(probabilities)
        else:
            alias_threshold = np.zeros(0, dtype=np.float32)
            alias = np.zeros(0, dtype=np.int32)
        # The feature kernel's work vectors (hybrid models), made on first use.
        self.feature_vectors: np.ndarray | None = None
        self.training_data = training.TrainingData(
            self.indptr, self.indices, self.weights, self.interaction_users, alias_threshold, alias
        )

    def chunks(self, order: np.ndarray, n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
        """Cut ``order`` into ``n_chunks`` runs of about equal interaction counts.

        Returns
        -------
        starts : ndarray, shape (n_chunks + 1,), int64
            Chunk ``c`` is ``order[starts[c]:starts[c + 1]]``.
        offsets : ndarray, shape (n_chunks + 1,), int64
            Interactions of the users before each chunk.
        """
        cumulative = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(self.counts[order], out=cumulative[1:])
        targets = cumulative[-1] * np.arange(1, n_chunks, dtype=np.float64) / n_chunks
        starts = np.empty(n_chunks + 1, dtype=np.int64)
        starts[0] = 0
        starts[1:-1] = np.searchsorted(cumulative, targets, side="left")
        starts[-1] = len(order)
        return starts, cumulative[starts]

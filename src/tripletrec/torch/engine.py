"""The torch training engine: devices, batches built on the device, one optimizer step per batch.

This module imports torch; the model classes of :mod:`tripletrec.torch.models`
import it only inside ``fit``.

Batches never pass through Python objects: the training pairs are two int64
tensors on the device (the CSR's row of each stored pair and its column),
shuffled once per epoch by ``torch.randperm``; a batch is a slice of the
permutation, its negatives one ``torch.randint`` call, all with the model's
own ``torch.Generator`` (seeded: with ``threads=1`` on the CPU, a fit is a
deterministic function of its inputs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .losses import batch_loss, sampled_softmax

__all__ = [
    "resolve_device",
    "torch_threads",
    "PairBatches",
    "EmbeddingNetwork",
    "make_optimizer",
    "pair_scores",
    "train_epoch",
    "train_softmax_epoch",
]


def resolve_device(device: str) -> torch.device:
    """The torch device for ``device``: ``"auto"`` picks CUDA, then Apple MPS, then the CPU.

    Raises
    ------
    ValueError
        A device torch does not know, or one this machine does not have.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device: {device!r} is not a torch device ({error})") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA device here; use device='auto' or 'cpu'")
    if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r} but Apple MPS is not available here; use device='auto' or 'cpu'")
    return chosen


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the body with torch's intra-op thread count set to ``threads`` (None: unchanged)."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class PairBatches:
    """The training pairs of a CSR matrix on a device, served in shuffled batches.

    Parameters
    ----------
    indptr, indices : ndarray
        The CSR structure of the training interactions (users x items).
    device : torch.device
    generator : torch.Generator
        On ``device``; drives the shuffles and the negatives.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, device: torch.device, generator: torch.Generator):
        counts = np.diff(indptr)
        users = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
        self.users = torch.from_numpy(users).to(device)
        self.items = torch.from_numpy(np.asarray(indices, dtype=np.int64)).to(device)
        self.device = device
        self.generator = generator

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def epoch(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(users, positives) batches of one epoch, in a fresh random order."""
        order = torch.randperm(len(self), generator=self.generator, device=self.device)
        for start in range(0, len(self), batch_size):
            chosen = order[start : start + batch_size]
            yield self.users[chosen], self.items[chosen]

    def negatives(self, batch: int, n_negatives: int, n_items: int) -> torch.Tensor:
        """Uniform negatives, shape (batch, n_negatives), int64 item indices."""
        return torch.randint(0, n_items, (batch, n_negatives), generator=self.generator, device=self.device)


def pair_scores(user_vectors, positive_vectors, positive_biases, negative_vectors, negative_biases):
    """Scores ``u . v + b`` of the positives (batch,) and of the negatives (batch, n)."""
    positive = (user_vectors * positive_vectors).sum(-1) + positive_biases
    negative = torch.einsum("bd,bnd->bn", user_vectors, negative_vectors) + negative_biases
    return positive, negative


class EmbeddingNetwork(torch.nn.Module):
    """User and item embeddings (and optional item biases); the score is ``u . v + b``.

    Parameters
    ----------
    n_users, n_items, dim : int
    biases : bool
        Learn an item bias (otherwise the bias is a constant 0).
    init_scale : float
        Embeddings start as ``N(0, init_scale ** 2 / dim)`` (unit expected norm times ``init_scale``).
    generator : torch.Generator
    """

    def __init__(self, n_users: int, n_items: int, dim: int, biases: bool, init_scale: float, generator):
        super().__init__()
        self.users = torch.nn.Embedding(n_users, dim)
        self.items = torch.nn.Embedding(n_items, dim)
        std = init_scale / dim**0.5
        with torch.no_grad():
            for table in (self.users, self.items):
                table.weight.copy_(torch.randn(table.weight.shape, generator=generator) * std)
        self.biases = torch.nn.Embedding(n_items, 1) if biases else None
        if self.biases is not None:
            torch.nn.init.zeros_(self.biases.weight)

    def item_bias(self, items: torch.Tensor) -> torch.Tensor:
        if self.biases is None:
            return torch.zeros(items.shape, device=items.device)
        return self.biases(items)[..., 0]

    def forward(self, users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor):
        """Scores of the positives (batch,) and of the negatives (batch, n)."""
        return pair_scores(
            self.users(users),
            self.items(positives),
            self.item_bias(positives),
            self.items(negatives),
            self.item_bias(negatives),
        )

    def exported(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """User vectors, item vectors and item biases as float32 numpy copies."""
        with torch.no_grad():
            users = self.users.weight.detach().float().cpu().numpy().copy()
            items = self.items.weight.detach().float().cpu().numpy().copy()
            if self.biases is None:
                biases = np.zeros(items.shape[0], dtype=np.float32)
            else:
                biases = self.biases.weight.detach().float().cpu().numpy()[:, 0].copy()
        return users, items, biases

    def restore(self, users: np.ndarray, items: np.ndarray, biases: np.ndarray) -> None:
        """Set the parameters from exported arrays (the trainer's best-epoch copy)."""
        with torch.no_grad():
            self.users.weight.copy_(torch.from_numpy(users))
            self.items.weight.copy_(torch.from_numpy(items))
            if self.biases is not None:
                self.biases.weight.copy_(torch.from_numpy(biases)[:, None])


def make_optimizer(name: str, parameters, learning_rate: float, l2: float) -> torch.optim.Optimizer:
    """``adam`` (dense, as Keras' Adam of the notebook), ``adagrad`` or ``sgd``, with L2 as weight decay."""
    parameters = list(parameters)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate, weight_decay=l2, fused=True)
    if name == "adagrad":
        return torch.optim.Adagrad(parameters, lr=learning_rate, weight_decay=l2, initial_accumulator_value=0.1)
    return torch.optim.SGD(parameters, lr=learning_rate, weight_decay=l2)


def _run_epoch(optimizer, batches: PairBatches, settings: dict, batch_losses) -> float:
    """One pass over the batches, one optimizer step each; returns the mean training loss.

    ``batch_losses(users, positives, autocast)`` gives the batch's per-positive
    losses (float32), computing its scores under ``autocast`` (bfloat16 on
    CUDA when ``mixed_precision``, a no-op elsewhere).
    """
    total = torch.zeros((), dtype=torch.float64, device=batches.device)
    count = 0
    use_autocast = batches.device.type == "cuda" and settings.get("mixed_precision", True)

    def autocast():
        return torch.autocast(device_type=batches.device.type, dtype=torch.bfloat16, enabled=use_autocast)

    for users, positives in batches.epoch(settings["batch_size"]):
        loss = batch_losses(users, positives, autocast)
        optimizer.zero_grad(set_to_none=True)
        loss.mean().backward()
        optimizer.step()
        # Accumulated on the device: no host synchronisation per batch.
        total += loss.detach().sum().double()
        count += users.shape[0]
    return float(total) / max(count, 1)


def train_epoch(network, optimizer, batches: PairBatches, settings: dict) -> float:
    """One epoch of a pairwise or pointwise loss on sampled negatives; returns the mean training loss."""
    n_items = settings["n_items"]

    def batch_losses(users, positives, autocast):
        negatives = batches.negatives(users.shape[0], settings["n_negatives"], n_items)
        with autocast():
            positive, negative = network(users, positives, negatives)
        return batch_loss(settings["loss"], positive.float(), negative.float(), n_items, settings["margin"])

    return _run_epoch(optimizer, batches, settings, batch_losses)


def train_softmax_epoch(network, optimizer, batches: PairBatches, settings: dict, log_q: torch.Tensor) -> float:
    """One epoch of sampled softmax with in-batch negatives and the log-Q correction.

    Each batch's positives are the other rows' negatives; ``log_q`` (n_items,)
    holds the log of each item's share of the training pairs (how likely it
    is to appear in a batch), subtracted from its column's score. Other rows
    holding a row's own positive are masked out of that row's softmax.
    """

    def batch_losses(users, positives, autocast):
        with autocast():
            user_vectors = network.users(users)
            item_vectors, item_biases = network.items(positives)
            logits = user_vectors @ item_vectors.T + item_biases[None, :]
        duplicates = positives[None, :] == positives[:, None]
        duplicates.fill_diagonal_(False)
        targets = torch.arange(users.shape[0], device=batches.device)
        return sampled_softmax(logits.float(), log_q[positives], targets, duplicates)

    return _run_epoch(optimizer, batches, settings, batch_losses)

"""The loss catalogue of :mod:`tripletrec.losses`, in torch.

Each function maps score tensors to per-example losses (no reduction), with
the formula of the numpy reference of the same name, so that the numba and
torch engines optimise the same objective for the same ``loss=`` name; the
tests compare values and autograd gradients with the numpy references.

=============  ====================================================  ===========================
name           loss of one example                                   numpy reference
=============  ====================================================  ===========================
``bpr``        ``-log sigmoid(d)``, ``d = s+ - s-``                  ``losses.bpr_loss``
``sigmoid``    ``1 - sigmoid(d)`` (the Keras notebook's)             ``losses.sigmoid_loss``
``hinge``      ``max(0, margin - d)``                                ``losses.hinge_loss``
``warp``       ``log(floor((n_items - 1) / draws)) * hinge``         ``losses.warp_loss``
``logistic``   ``-log sigmoid(s+) - log sigmoid(-s-)``               ``losses.logistic_loss``
``softmax``    ``-log softmax(s - log q)[positive]``, in-batch       ``losses.sampled_softmax_loss``
=============  ====================================================  ===========================

``warp`` here is WARP [1]_ with the draws scored at once: of the ``n``
negatives sampled for a positive, the first (in draw order) that violates
the margin is the one WARP's sequential search would have stopped at, and
``draws`` is its position (1-based); a positive with no violator among its
``n`` negatives contributes nothing, as when the search gives up after
``max_sampled`` draws. The pairwise losses with several negatives per
positive average over the negatives.

This module imports torch; :mod:`tripletrec` never imports it.

References
----------
.. [1] J. Weston, S. Bengio and N. Usunier, "WSABIE: Scaling up to large
   vocabulary image annotation", IJCAI 2011.
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional

__all__ = ["TORCH_LOSSES", "pairwise", "warp", "logistic", "batch_loss", "sampled_softmax"]

#: The pairwise and pointwise losses of the torch engine (names of
#: :data:`tripletrec.losses.LOSSES`); ``softmax`` is batch-level (:func:`sampled_softmax`).
TORCH_LOSSES = ("bpr", "sigmoid", "hinge", "warp", "logistic")


def pairwise(name: str, difference: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Per-pair loss ``name`` of score differences ``d = s+ - s-`` (any shape)."""
    if name == "bpr":
        # -log sigmoid(d) = softplus(-d), stable for large |d|.
        return functional.softplus(-difference)
    if name == "sigmoid":
        # 1 - sigmoid(d) == sigmoid(-d), without the cancellation for large d.
        return torch.sigmoid(-difference)
    if name == "hinge":
        return torch.clamp(margin - difference, min=0.0)
    raise ValueError(f"pairwise: unknown loss {name!r}")


def warp(positive: torch.Tensor, negatives: torch.Tensor, n_items: int, margin: float = 1.0) -> torch.Tensor:
    """WARP of each positive against its first violating negative.

    Parameters
    ----------
    positive : Tensor, shape (batch,)
        Scores of the positives.
    negatives : Tensor, shape (batch, n)
        Scores of the negatives, in draw order.
    n_items : int
        Catalogue size, for the rank estimate.
    margin : float

    Returns
    -------
    Tensor, shape (batch,)
        ``log(max(floor((n_items - 1) / draws), 1)) * (margin - d)`` at the
        first violator, 0 where none of the ``n`` violates.
    """
    difference = positive[:, None] - negatives
    violates = difference < margin
    has_violator = violates.any(dim=1)
    # argmax of a bool tensor: the first True (0 where there is none, masked below).
    first = violates.to(torch.int8).argmax(dim=1)
    draws = first + 1
    rank = torch.clamp(torch.div(n_items - 1, draws, rounding_mode="floor"), min=1)
    weight = torch.log(rank.to(positive.dtype))
    chosen = difference.gather(1, first[:, None])[:, 0]
    return torch.where(has_violator, weight * (margin - chosen), torch.zeros_like(chosen))


def logistic(positive: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """``-log sigmoid(s+)`` plus the mean over negatives of ``-log sigmoid(-s-)``, per positive."""
    return functional.softplus(-positive) + functional.softplus(negatives).mean(dim=1)


def batch_loss(name: str, positive: torch.Tensor, negatives: torch.Tensor, n_items: int, margin: float = 1.0):
    """Per-positive loss of a batch: ``positive`` (batch,), ``negatives`` (batch, n) scores."""
    if name == "warp":
        return warp(positive, negatives, n_items, margin)
    if name == "logistic":
        return logistic(positive, negatives)
    return pairwise(name, positive[:, None] - negatives, margin).mean(dim=1)


def sampled_softmax(
    logits: torch.Tensor, log_q: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Sampled softmax with the log-Q correction, one value per row.

    The torch twin of :func:`tripletrec.losses.sampled_softmax_loss`:
    ``-log softmax(logits[r] - log_q)[targets[r]]``, masked columns left out.

    Parameters
    ----------
    logits : Tensor, shape (n_rows, n_columns)
    log_q : Tensor, shape (n_columns,)
    targets : Tensor of int64, shape (n_rows,)
    mask : Tensor of bool, shape (n_rows, n_columns), optional
    """
    corrected = logits - log_q[None, :]
    if mask is not None:
        corrected = corrected.masked_fill(mask, float("-inf"))
    return functional.cross_entropy(corrected, targets, reduction="none")

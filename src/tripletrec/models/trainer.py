"""The shared trainer: the epoch loop every model's training goes through.

A model supplies one function that trains one epoch and returns its mean
loss (for :class:`~tripletrec.MatrixFactorization`: one kernel call; for a
torch model: its batches); :class:`EpochTrainer` does the rest, the same way
for every model:

* a tqdm progress bar with the latest record;
* ``history_``: one record per epoch (``epoch`` counting on across
  ``fit_partial`` calls, ``loss``, ``seconds`` of training, and the
  validation metrics);
* validation after each epoch with :func:`tripletrec.evaluate` (training
  pairs excluded from the ranking);
* callbacks ``callback(model, record)``, any of which may stop training by
  returning ``True``;
* early stopping on a validation metric, restoring the best epoch's
  parameters (``best_epoch_``);
* a divergence stop: a non-finite loss, or a parameter whose magnitude
  passes :data:`DIVERGENCE_BOUND` (a blow-up caught before it overflows),
  raises ``FloatingPointError`` naming the epoch and the likely cause.

The model gives the trainer ``history_`` and ``best_epoch_`` attributes,
``_learned_arrays()`` (a dict of its learned arrays, which the trainer
copies to keep the best epoch and checks for divergence),
``_restore_arrays(arrays)`` and optionally ``_divergence_advice()``, a
sentence naming the setting to change (default: the learning rate).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_integer
from ..data.interactions import Interactions
from ..metrics import METRIC_NAMES, evaluate

__all__ = ["DEFAULT_METRICS", "DIVERGENCE_BOUND", "MAX_EPOCHS", "EpochTrainer", "largest_magnitude"]

#: Most epochs one call trains (fit, fit_partial, fold-in): a bound that no
#: real run meets, so that a typo (epochs=10**12) is an error, not a hang.
MAX_EPOCHS = 100_000

#: A learned value whose magnitude passes this has blown up. Scores are dot
#: products of such values: past 1e3 a single product term reaches 1e6, where
#: every ranking loss is saturated (sigmoid(17) is already 1 in float32), so
#: training no longer learns, long before float32 overflows (3.4e38), which is
#: when a check for NaN and infinity alone would notice. Measured on ml-100k
#: (dim 64, 30 epochs, defaults otherwise), every loss with every optimizer
#: kept its largest value below 42.
DIVERGENCE_BOUND = 1e3

#: Validation metrics recorded by default.
DEFAULT_METRICS = ("auc", "precision", "recall", "ndcg")


class EpochTrainer:
    """Runs epochs of a model's training with validation, callbacks and stops.

    Parameters
    ----------
    model : BaseModel
        The model being trained (its ``history_`` list is extended).
    train : Interactions
        The training interactions (excluded from the validation ranking).
    validation : Interactions, optional
        Held-out interactions with the same shape and id maps.
    metrics : sequence of str
        Validation metric names (:data:`tripletrec.metrics.METRIC_NAMES`).
    k : int
        Cut of the @k validation metrics.
    callbacks : sequence of callable
        Called as ``callback(model, record)`` after every epoch; returning
        ``True`` stops training.
    early_stopping : str, optional
        Validation metric (``"auc"``, ``"precision@10"``, ...) to stop on.
    patience : int
        Epochs without improvement before early stopping.
    progress : bool
        Show a progress bar.

    Raises
    ------
    ValueError
        Unknown metrics, a ``validation`` of another shape or id maps,
        ``early_stopping`` without validation data or with another ``k``.
    """

    def __init__(
        self,
        model: Any,
        train: Any,
        validation: Any = None,
        *,
        metrics: str | Iterable[str] = DEFAULT_METRICS,
        k: int = 10,
        callbacks: Iterable[Callable[[Any, dict], Any]] = (),
        early_stopping: str | None = None,
        patience: int = 3,
        progress: bool = True,
    ):
        metric_names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        unknown = [name for name in metric_names if name not in METRIC_NAMES]
        if unknown:
            raise ValueError(
                f"metrics: unknown metric {', '.join(repr(name) for name in unknown)}; valid metrics "
                f"are {', '.join(METRIC_NAMES)}"
            )
        self.k = check_integer(k, "k", low=1)
        if validation is not None:
            if not isinstance(validation, Interactions):
                raise ValueError(f"validation must be an Interactions or None, got {type(validation).__name__}")
            if validation.shape != train.shape or not validation.same_ids(train):
                raise ValueError(
                    f"validation is {validation.n_users} users x {validation.n_items} items and must "
                    f"share the id maps of train ({train.n_users} x {train.n_items})"
                )
            if early_stopping is not None:
                base, _, cut = early_stopping.partition("@")
                if cut and cut != str(self.k):
                    raise ValueError(
                        f"early_stopping={early_stopping!r} asks for k={cut} but the "
                        f"validation metrics use k={self.k}; pass k={cut} to fit"
                    )
                if base not in metric_names:
                    metric_names = metric_names + (base,)
        elif early_stopping is not None:
            raise ValueError(f"early_stopping={early_stopping!r} needs validation data: call fit(train, validation)")
        self.callbacks = tuple(callbacks)
        for callback in self.callbacks:
            if not callable(callback):
                raise ValueError(f"callbacks must be callables, got {type(callback).__name__}")
        self.model = model
        self.train = train
        self.validation = validation
        self.metrics = metric_names
        self.early_stopping = early_stopping
        self.patience = patience
        self.progress = progress

    def run(self, n_epochs: int, run_epoch: Callable[[], float]) -> None:
        """Train ``n_epochs`` epochs, each by calling ``run_epoch()`` (returns the mean loss)."""
        model = self.model
        # Training moves the item vectors in place: an approximate top-k index built on them is stale.
        model.__dict__.pop("_approximate", None)
        best_value = -math.inf
        best_arrays = None
        epochs_without_gain = 0
        first_epoch = len(model.history_) + 1
        bar = tqdm(total=n_epochs, disable=not self.progress, desc="fit", unit="epoch", leave=False)
        try:
            for epoch in range(first_epoch, first_epoch + n_epochs):
                started = time.perf_counter()
                loss = float(run_epoch())
                self._check_finite(epoch, loss)
                record: dict[str, Any] = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - started}
                if self.validation is not None:
                    evaluation = evaluate(model, self.validation, train=self.train, k=self.k, metrics=self.metrics)
                    record.update(evaluation.means)
                model.history_.append(record)
                stop = False
                for callback in self.callbacks:
                    if callback(model, record) is True:
                        stop = True
                if self.early_stopping is not None:
                    value = float(evaluation[self.early_stopping])
                    if value > best_value:
                        best_value = value
                        model.best_epoch_ = epoch
                        best_arrays = {name: array.copy() for name, array in model._learned_arrays().items()}
                        epochs_without_gain = 0
                    else:
                        epochs_without_gain += 1
                        if epochs_without_gain >= self.patience:
                            stop = True
                bar.update(1)
                bar.set_postfix(
                    {key: f"{value:.4f}" for key, value in record.items() if key not in ("epoch", "seconds")}
                )
                if stop:
                    break
        finally:
            bar.close()
        if best_arrays is not None:
            model._restore_arrays(best_arrays)

    def _check_finite(self, epoch: int, loss: float) -> None:
        magnitude = largest_magnitude(self.model._learned_arrays().values())
        if math.isfinite(loss) and magnitude <= DIVERGENCE_BOUND:
            return
        if not math.isfinite(loss):
            what = f"the training loss became {loss!r}"
        elif not math.isfinite(magnitude):
            what = "the parameters became NaN or infinite"
        else:
            what = f"the parameters grew to {magnitude:.3g} (past the bound {DIVERGENCE_BOUND:g})"
        advice = getattr(self.model, "_divergence_advice", None)
        advice = advice() if callable(advice) else "try a lower learning_rate"
        raise FloatingPointError(f"training diverged in epoch {epoch}: {what}; {advice}")


def largest_magnitude(arrays: Iterable[np.ndarray]) -> float:
    """The largest absolute value in ``arrays`` (NaN if any value is NaN)."""
    largest = 0.0
    for array in arrays:
        if array.size:
            # max and min instead of abs(): no temporary copy of the array.
            high, low = float(np.max(array)), float(np.min(array))
            if math.isnan(high) or math.isnan(low):
                return math.nan
            largest = max(largest, abs(high), abs(low))
    return largest

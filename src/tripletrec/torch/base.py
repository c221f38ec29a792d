"""What the torch models share: the engine import, devices and seeds, the trainer hooks, fold-in.

Nothing here imports torch at module level: a saved torch model loads and
serves from its exported vectors in a process without torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .._validation import Flag, Integer, Options, Real, Satisfies
from ..data.interactions import Interactions
from ..models.base import BaseModel
from ..models.fold_in import FOLD_IN_LOSSES
from ..models.trainer import MAX_EPOCHS, EpochTrainer

__all__ = ["TorchModel", "TORCH_MISSING", "TORCH_OPTIMIZERS", "COMMON_CONSTRAINTS", "batch_settings", "is_device"]

#: The message when torch is not installed.
TORCH_MISSING = "the torch engine needs PyTorch: pip install 'tripletrec[torch]'"

#: What a fold-in trains new users with (the numba fold-in kernel, items
#: frozen): the network's own optimizer and learning rate suit its batches,
#: not a single user's few steps.
FOLD_IN_DEFAULTS = {"optimizer": "adagrad", "learning_rate": 0.05, "epochs": 20}


def is_device(value: Any) -> bool:
    """Whether ``value`` names a device kind the engine knows (checked against the machine in ``fit``)."""
    return isinstance(value, str) and value.split(":")[0] in ("auto", "cpu", "cuda", "mps")


#: Optimizers of the torch models (dense updates of every row at each step, as Keras did).
TORCH_OPTIMIZERS = ("adam", "adagrad", "sgd")


#: Constraints of the parameters every torch model has (each class adds its own).
COMMON_CONSTRAINTS = {
    "optimizer": (Options(TORCH_OPTIMIZERS),),
    "learning_rate": (Real(0.0, low_open=True),),
    "n_negatives": (Integer(1),),
    "epochs": (Integer(1, MAX_EPOCHS),),
    "l2": (Real(0.0),),
    "margin": (Real(0.0),),
    "init_scale": (Real(0.0),),
    "device": (Satisfies(is_device, "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),),
    "mixed_precision": (Flag(),),
    "threads": (None, Integer(1)),
    "seed": (None, Integer(0)),
}


def batch_settings(params: dict, n_items: int) -> dict:
    """What the engine's epoch functions read: the loss and its batch settings."""
    return {
        "loss": params["loss"],
        "batch_size": params["batch_size"],
        "n_negatives": params["n_negatives"],
        "margin": params["margin"],
        "n_items": n_items,
        "mixed_precision": params["mixed_precision"],
    }


def engine():
    """The torch engine module, or ``ImportError`` naming the extra when torch is missing."""
    try:
        from . import engine as module
    except ImportError as error:
        if "torch" in str(error):
            raise ImportError(TORCH_MISSING) from None
        raise
    return module


class TorchModel(BaseModel):
    """Base of the models trained by the torch engine (abstract: no ``fit``).

    A subclass's ``fit`` builds a network, then calls :meth:`_train_network`;
    the network exports ``user_factors_``, ``item_factors_`` and
    ``item_biases_`` after every epoch, which is all the base serves from.
    """

    def _check_train(self, train: Any) -> Interactions:
        train = self._as_interactions(train, "train")
        if len(train) == 0:
            raise ValueError("train has no interactions")
        if train.n_items < 2:
            raise ValueError(f"train has {train.n_items} item(s); a ranking needs at least 2")
        return train

    @staticmethod
    def _generators(params: dict, device: Any) -> tuple[Any, Any, int]:
        """(device generator, CPU generator for initialisation, seed) from ``params['seed']``."""
        import torch

        seed = params["seed"]
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        on_device = torch.Generator(device=device)
        on_device.manual_seed(seed)
        on_cpu = torch.Generator()
        on_cpu.manual_seed(seed)
        return on_device, on_cpu, seed

    def _train_network(
        self,
        network: Any,
        run_epoch: Callable[[], float],
        train: Interactions,
        validation: Interactions | None,
        epochs: int,
        metrics: Iterable[str],
        k: int,
        callbacks: Iterable[Callable],
        progress: bool,
    ) -> None:
        """Run ``epochs`` epochs through the shared trainer, exporting the vectors after each."""
        self._network = network
        self.history_ = []
        self.best_epoch_ = None
        self._export()

        def epoch() -> float:
            loss = run_epoch()
            self._export()
            return loss

        trainer = EpochTrainer(self, train, validation, metrics=metrics, k=k, callbacks=callbacks, progress=progress)
        try:
            trainer.run(epochs, epoch)
        finally:
            self._network = None

    # ------------------------------------------------------- trainer hooks
    def _export(self) -> None:
        self.user_factors_, self.item_factors_, self.item_biases_ = self._network.exported()

    def _learned_arrays(self) -> dict[str, np.ndarray]:
        return {
            "user_factors_": self.user_factors_,
            "item_factors_": self.item_factors_,
            "item_biases_": self.item_biases_,
        }

    def _restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name, array in arrays.items():
            setattr(self, name, array)

    def _fold_in_params(self) -> dict[str, Any]:
        params = self.get_params()
        loss = params.get("loss")
        return {
            **params,
            **FOLD_IN_DEFAULTS,
            "loss": loss if loss in FOLD_IN_LOSSES else "bpr",
            "seed": params.get("seed"),
        }

"""The Keras triplet notebook's network, trained by the torch engine."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._validation import Flag, Integer, Options
from ..data.interactions import Interactions
from ..models.trainer import DEFAULT_METRICS
from .base import COMMON_CONSTRAINTS, TorchModel, batch_settings, engine

__all__ = ["TripletNetwork"]

_TORCH_LOSSES = ("bpr", "sigmoid", "hinge", "warp", "logistic")


class TripletNetwork(TorchModel):
    """The Keras triplet notebook's network, trained by torch on the CPU or a GPU.

    User and item embeddings whose dot product (plus an optional item bias)
    is the score, trained on (user, positive, sampled negative) triplets. The
    defaults are the notebook's configuration [1]_: dim 100, the ``sigmoid``
    loss ``1 - sigmoid(s+ - s-)``, Adam at learning rate 0.001, batches of 64,
    one uniform negative per positive, no biases, 10 epochs.

    Parameters
    ----------
    dim : int
    loss : {"sigmoid", "bpr", "hinge", "warp", "logistic"}
        Formulas of :mod:`tripletrec.losses` (see :mod:`tripletrec.torch.losses`).
    optimizer : {"adam", "adagrad", "sgd"}
        Dense updates of every row at each step, as Keras did.
    learning_rate : float
    batch_size : int
        Positives per optimizer step.
    n_negatives : int
        Uniform negatives per positive (``warp`` scores them at once and
        steps on the first violator).
    epochs : int
    biases : bool
        Learn an item bias.
    l2 : float
        Weight decay of the optimizer.
    margin : float
        Of ``hinge`` and ``warp``.
    init_scale : float
        Embeddings start as ``N(0, init_scale ** 2 / dim)``.
    device : str
        ``"auto"`` (CUDA, then Apple MPS, then the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    mixed_precision : bool
        bfloat16 autocast of the forward pass on CUDA (ignored elsewhere).
    threads : int, optional
        torch's CPU threads during ``fit`` (None: torch's default).
    seed : int, optional
        Seeds initialisation, shuffles and negatives; with ``threads=1`` on
        the CPU a fit is reproducible.

    Attributes
    ----------
    user_factors_, item_factors_, item_biases_ : ndarray, float32
        The exported embeddings (what recommend, save and serving use).
    history_ : list of dict
        Per-epoch loss, seconds and validation metrics.
    device_ : str
        The device the last fit ran on.

    References
    ----------
    .. [1] M. Kula, "Recommendations in Keras using triplet loss",
       https://github.com/maciejkula/triplet_recommendations_keras, 2016.
    """

    _parameter_constraints = {
        **COMMON_CONSTRAINTS,
        "dim": (Integer(1),),
        "loss": (Options(_TORCH_LOSSES),),
        "batch_size": (Integer(1),),
        "biases": (Flag(),),
    }

    def __init__(
        self,
        dim: int = 100,
        loss: str = "sigmoid",
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        batch_size: int = 64,
        n_negatives: int = 1,
        epochs: int = 10,
        biases: bool = False,
        l2: float = 0.0,
        margin: float = 1.0,
        init_scale: float = 0.3,
        device: str = "auto",
        mixed_precision: bool = True,
        threads: int | None = None,
        seed: int | None = None,
    ):
        self.dim = dim
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_negatives = n_negatives
        self.epochs = epochs
        self.biases = biases
        self.l2 = l2
        self.margin = margin
        self.init_scale = init_scale
        self.device = device
        self.mixed_precision = mixed_precision
        self.threads = threads
        self.seed = seed

    def fit(
        self,
        train: Any,
        validation: Interactions | None = None,
        *,
        metrics: Iterable[str] = DEFAULT_METRICS,
        k: int = 10,
        callbacks: Iterable[Callable[[TripletNetwork, dict], Any]] = (),
        progress: bool = True,
    ) -> TripletNetwork:
        """Learn the embeddings from scratch.

        Parameters
        ----------
        train : Interactions or scipy.sparse matrix, shape (n_users, n_items)
            Training interactions (every stored pair is a positive; weights are ignored).
        validation : Interactions, optional
            Evaluated after every epoch into :attr:`history_`.
        metrics, k, callbacks, progress
            As :meth:`tripletrec.MatrixFactorization.fit`.

        Returns
        -------
        self

        Raises
        ------
        ImportError
            torch is not installed.
        ValueError
            An invalid parameter (named), an empty ``train``, a catalogue of
            fewer than 2 items, or a device this machine does not have.
        FloatingPointError
            When training diverges.
        """
        params = self._validate_params()
        module = engine()
        train = self._check_train(train)
        device = module.resolve_device(params["device"])
        generator, init_generator, _ = self._generators(params, device)
        self._set_id_maps(train)
        self.device_ = str(device)
        settings = batch_settings(params, train.n_items)
        with module.torch_threads(params["threads"]):
            network = module.EmbeddingNetwork(
                train.n_users, train.n_items, params["dim"], params["biases"], params["init_scale"], init_generator
            ).to(device)
            optimizer = module.make_optimizer(
                params["optimizer"], network.parameters(), params["learning_rate"], params["l2"]
            )
            batches = module.PairBatches(train.matrix.indptr, train.matrix.indices, device, generator)
            self._train_network(
                network,
                lambda: module.train_epoch(network, optimizer, batches, settings),
                train,
                validation,
                params["epochs"],
                metrics,
                k,
                callbacks,
                progress,
            )
        return self

"""TwoTower: a user tower and an item tower over ids and side features, trained by the torch engine."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import Flag, Integer, Options, Real, Satisfies
from ..data.interactions import Interactions
from ..models.feature_matrices import feature_input, model_matrix, new_rows
from ..models.trainer import DEFAULT_METRICS
from .base import COMMON_CONSTRAINTS, TorchModel, batch_settings, engine

__all__ = ["TwoTower"]

_LOSSES = ("softmax", "bpr", "sigmoid", "hinge", "warp", "logistic")
_MATRIX_PARTS = ("data", "indices", "indptr")


def _is_widths(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(
        isinstance(width, (int, np.integer)) and not isinstance(width, bool) and width >= 1 for width in value
    )


class TwoTower(TorchModel):
    """Two towers, users' and items', each from id and feature embeddings through an MLP.

    A row's input is its feature row (the given side features, weighted, and
    its identity column when ``*_identity_features`` is on); the tower sums
    the embeddings of its features by those weights and passes the sum
    through ReLU layers of the ``hidden`` widths and a linear layer to
    ``dim`` (with no hidden layer the sum itself: LightFM's hybrid model).
    The score is ``user_tower(u) . item_tower(i) + item_bias(i)``, the item
    bias being the sum of the item's features' biases, so recommend, top-k
    and serving stay exact inner products over the exported vectors.

    The defaults (softmax over batches of 256, Adam at 0.003, 5 epochs, no
    hidden layer) were chosen on MovieLens 100k ``ua``, where they peak at
    AUC 0.938 / precision@10 0.14 with genres, year and title words
    (``benchmarks/torch_engine.py``); more epochs overfit there.

    Parameters
    ----------
    dim : int
        Output width of both towers.
    embedding_dim : int, optional
        Width of the feature embeddings (None: ``dim``; must be ``dim``
        without hidden layers).
    hidden : tuple of int
        Hidden layer widths of both towers.
    loss : {"softmax", "bpr", "sigmoid", "hinge", "warp", "logistic"}
        ``softmax``: sampled softmax over the batch's other positives, with
        the log-Q correction of their sampling frequency [1]_; the others
        with ``n_negatives`` uniform negatives, as :class:`TripletNetwork`.
    optimizer : {"adam", "adagrad", "sgd"}
    learning_rate : float
    batch_size : int
    n_negatives : int
    epochs : int
    l2 : float
        Weight decay.
    dropout : float
        After each hidden layer, in training.
    biases : bool
        Learn the item side's feature biases.
    user_identity_features, item_identity_features : bool
        An identity column (an embedding of its own) per known user / item.
    margin : float
    init_scale : float
    device : str
        ``"auto"`` (CUDA, then Apple MPS, then the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
    mixed_precision : bool
        bfloat16 autocast on CUDA.
    threads : int, optional
    seed : int, optional

    Attributes
    ----------
    user_factors_, item_factors_, item_biases_ : ndarray, float32
        Every known row's tower output (what recommend, save and serving use).
    user_feature_names_, item_feature_names_ : ndarray of str
        The given feature columns (identity columns not included).
    history_ : list of dict
    device_ : str

    References
    ----------
    .. [1] X. Yi et al., "Sampling-bias-corrected neural modeling for large
       corpus item recommendations", RecSys 2019.
    """

    _parameter_constraints = {
        **COMMON_CONSTRAINTS,
        "dim": (Integer(1),),
        "embedding_dim": (None, Integer(1)),
        "hidden": (Satisfies(_is_widths, "a tuple of positive layer widths"),),
        "loss": (Options(_LOSSES),),
        "batch_size": (Integer(2),),
        "dropout": (Real(0.0, 1.0, high_open=True),),
        "biases": (Flag(),),
        "user_identity_features": (Flag(),),
        "item_identity_features": (Flag(),),
    }

    def __init__(
        self,
        dim: int = 64,
        embedding_dim: int | None = None,
        hidden: tuple[int, ...] = (),
        loss: str = "softmax",
        optimizer: str = "adam",
        learning_rate: float = 0.003,
        batch_size: int = 256,
        n_negatives: int = 1,
        epochs: int = 5,
        l2: float = 0.0,
        dropout: float = 0.0,
        biases: bool = True,
        user_identity_features: bool = True,
        item_identity_features: bool = True,
        margin: float = 1.0,
        init_scale: float = 0.1,
        device: str = "auto",
        mixed_precision: bool = True,
        threads: int | None = None,
        seed: int | None = None,
    ):
        self.dim = dim
        self.embedding_dim = embedding_dim
        self.hidden = hidden
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_negatives = n_negatives
        self.epochs = epochs
        self.l2 = l2
        self.dropout = dropout
        self.biases = biases
        self.user_identity_features = user_identity_features
        self.item_identity_features = item_identity_features
        self.margin = margin
        self.init_scale = init_scale
        self.device = device
        self.mixed_precision = mixed_precision
        self.threads = threads
        self.seed = seed

    def _validated(self) -> dict[str, Any]:
        params = self._validate_params()
        params["hidden"] = tuple(int(width) for width in params["hidden"])
        if params["embedding_dim"] is None:
            params["embedding_dim"] = params["dim"]
        if not params["hidden"] and params["embedding_dim"] != params["dim"]:
            raise ValueError(
                f"embedding_dim={params['embedding_dim']} differs from dim={params['dim']}, which needs "
                "hidden layers (hidden=(...)) to map one to the other"
            )
        return params

    def fit(
        self,
        train: Any,
        validation: Interactions | None = None,
        *,
        user_features: Any = None,
        item_features: Any = None,
        metrics: Iterable[str] = DEFAULT_METRICS,
        k: int = 10,
        callbacks: Iterable[Callable[[TwoTower, dict], Any]] = (),
        progress: bool = True,
    ) -> TwoTower:
        """Learn both towers from scratch.

        Parameters
        ----------
        train : Interactions or scipy.sparse matrix, shape (n_users, n_items)
            Every stored pair is a positive (weights are ignored).
        validation : Interactions, optional
        user_features, item_features : Features or scipy sparse matrix or ndarray, optional
            As :meth:`tripletrec.MatrixFactorization.fit`'s (aligned by id).
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
            An invalid parameter or feature input (named), an empty
            ``train``, a side with neither features nor identity columns.
        """
        params = self._validated()
        module = engine()
        train = self._check_train(train)
        matrices = {}
        for side, ids, given, n_rows in (
            ("user", train.user_ids, user_features, train.n_users),
            ("item", train.item_ids, item_features, train.n_items),
        ):
            name = f"{side}_features"
            found = feature_input(given, ids, name)
            identity = params[f"{side}_identity_features"]
            if found is None and not identity:
                raise ValueError(
                    f"{side}_identity_features=False needs {side}_features: without either, "
                    f"the {side}s have no representation"
                )
            names = np.array([], dtype=str) if found is None else np.asarray(found.names).astype(str)
            setattr(self, f"{side}_feature_names_", names)
            matrices[side] = model_matrix(None if found is None else found.matrix, n_rows, identity, False, name)
        device = module.resolve_device(params["device"])
        generator, init_generator, _ = self._generators(params, device)
        self._set_id_maps(train)
        self.device_ = str(device)
        self._matrices = matrices
        with module.torch_threads(params["threads"]):
            network = self._build(params, matrices, device, init_generator)
            optimizer = module.make_optimizer(
                params["optimizer"], network.parameters(), params["learning_rate"], params["l2"]
            )
            batches = module.PairBatches(train.matrix.indptr, train.matrix.indices, device, generator)
            settings = batch_settings(params, train.n_items)
            if params["loss"] == "softmax":
                import torch

                counts = np.bincount(train.matrix.indices, minlength=train.n_items).astype(np.float64)
                # Items never in a batch need no correction; keep their log finite.
                log_q = torch.from_numpy(np.log(np.maximum(counts, 1.0) / counts.sum()).astype(np.float32))
                log_q = log_q.to(device)

                def run_epoch() -> float:
                    return module.train_softmax_epoch(network, optimizer, batches, settings, log_q)

            else:

                def run_epoch() -> float:
                    return module.train_epoch(network, optimizer, batches, settings)

            self._train_network(
                network, run_epoch, train, validation, params["epochs"], metrics, k, callbacks, progress
            )
        return self

    # ------------------------------------------------------------ networks
    def _build(self, params: dict, matrices: dict, device: Any, generator: Any):
        from . import towers

        built = {}
        for side in ("user", "item"):
            built[side] = towers.Tower(
                matrices[side].shape[1],
                params["embedding_dim"],
                params["dim"],
                params["hidden"],
                params["biases"] and side == "item",
                params["init_scale"],
                params["dropout"],
                generator,
            )
        return towers.TwoTowerNetwork(
            towers.PaddedRows(matrices["user"], device),
            towers.PaddedRows(matrices["item"], device),
            built["user"],
            built["item"],
        ).to(device)

    def _export(self) -> None:
        super()._export()
        state = self._network.state_dict()
        self.tower_parameters_ = {name: value.detach().float().cpu().numpy().copy() for name, value in state.items()}

    def _learned_arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._learned_arrays()
        arrays.update({f"tower::{name}": value for name, value in self.tower_parameters_.items()})
        return arrays

    def _restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name, array in arrays.items():
            if name.startswith("tower::"):
                self.tower_parameters_[name[len("tower::") :]] = array
            else:
                setattr(self, name, array)

    def _network_for_new_rows(self):
        """The trained network rebuilt on the CPU from the learned parameters (needs torch)."""
        engine()  # an ImportError naming the extra when torch is missing
        import torch

        params = self._validated()
        network = self._build(params, self._matrices, torch.device("cpu"), torch.Generator())
        network.load_state_dict({name: torch.from_numpy(value) for name, value in self.tower_parameters_.items()})
        return network

    # ------------------------------------------------------------ new rows
    def _represent(self, side: str, features: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        given = new_rows(features, getattr(self, f"{side}_feature_names_"), False, False, name)
        # New rows have no identity column of their own: zeros where the known rows' are.
        width = self._matrices[side].shape[1]
        padded = sp.hstack([given, sp.csr_matrix((given.shape[0], width - given.shape[1]), dtype=np.float32)])
        return self._network_for_new_rows().represent(side, sp.csr_matrix(padded, dtype=np.float32))

    def user_representations(self, user_features: Any) -> np.ndarray:
        """User tower outputs of new users from their feature rows alone (needs torch).

        Parameters
        ----------
        user_features : Features or scipy sparse matrix or ndarray, shape (n, ...)
            A Features' columns are matched by name; a matrix has the given columns, in order.

        Returns
        -------
        ndarray, shape (n, dim), float32
        """
        return self._represent("user", user_features, "user_features")[0]

    def item_representations(self, item_features: Any) -> tuple[np.ndarray, np.ndarray]:
        """Item tower outputs and biases of new items from their feature rows alone (needs torch).

        Returns
        -------
        vectors : ndarray, shape (n, dim), float32
        biases : ndarray, shape (n,), float32
        """
        return self._represent("item", item_features, "item_features")

    def _new_user_start(self, user_features: Any) -> np.ndarray | None:
        return None if user_features is None else self.user_representations(user_features)

    # ----------------------------------------------------------- model file
    def _extra_arrays(self) -> dict[str, np.ndarray]:
        names = sorted(self.tower_parameters_)
        arrays = {
            "tower_parameters": np.concatenate([self.tower_parameters_[name].ravel() for name in names]).astype(
                np.float32
            ),
            "tower_parameter_names": np.array(
                [f"{name}:{'x'.join(map(str, self.tower_parameters_[name].shape))}" for name in names]
            ).astype(str),
        }
        for side in ("user", "item"):
            for part in _MATRIX_PARTS:
                arrays[f"{side}_features_{part}"] = getattr(self._matrices[side], part)
            arrays[f"{side}_feature_names"] = np.asarray(getattr(self, f"{side}_feature_names_")).astype(str)
        return arrays

    @staticmethod
    def extra_array_names() -> tuple[str, ...]:
        """Names of the arrays :meth:`_extra_arrays` writes."""
        names = ["tower_parameters", "tower_parameter_names"]
        for side in ("user", "item"):
            names += [f"{side}_features_{part}" for part in _MATRIX_PARTS] + [f"{side}_feature_names"]
        return tuple(names)

    def _restore_extra_arrays(self, arrays: dict[str, np.ndarray], where: str) -> None:
        missing = [name for name in self.extra_array_names() if name not in arrays]
        if missing:
            raise ValueError(f"{where} holds a TwoTower without {', '.join(missing)}")
        flat = arrays["tower_parameters"]
        parameters, offset = {}, 0
        for entry in arrays["tower_parameter_names"]:
            name, _, shape_text = str(entry).rpartition(":")
            shape = tuple(int(size) for size in shape_text.split("x") if size)
            size = int(np.prod(shape, dtype=np.int64))
            if not name or offset + size > flat.shape[0]:
                raise ValueError(f"{where}: the tower parameters do not fit their names and shapes")
            parameters[name] = flat[offset : offset + size].reshape(shape)
            offset += size
        if offset != flat.shape[0]:
            raise ValueError(f"{where}: the tower parameters do not fit their names and shapes")
        self.tower_parameters_ = parameters
        self._matrices = {}
        for side, n_rows in (("user", self.user_factors_.shape[0]), ("item", self.item_factors_.shape[0])):
            parts = [arrays[f"{side}_features_{part}"] for part in _MATRIX_PARTS]
            try:
                matrix = sp.csr_matrix(tuple(parts), dtype=np.float32)
            except ValueError as error:
                raise ValueError(f"{where}: the {side} feature matrix is invalid ({error})") from None
            if matrix.shape[0] != n_rows:
                raise ValueError(f"{where}: the {side} feature matrix has {matrix.shape[0]} rows, not {n_rows}")
            self._matrices[side] = matrix
            setattr(self, f"{side}_feature_names_", arrays[f"{side}_feature_names"])

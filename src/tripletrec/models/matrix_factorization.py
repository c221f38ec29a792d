"""Matrix factorization trained on ranking triplets by compiled lock-free SGD."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from .._parallel import kernel_threads
from .._validation import Flag, Integer, Options, Real, Satisfies, check_integer, check_memory
from ..data.interactions import Interactions
from ..kernels import steps, training
from ..losses import LOSSES, loss_code
from ..sampling import (
    NEGATIVE_SAMPLERS,
    UNSEEN_MAX_DRAWS,
    sampler_code,
)
from .base import BaseModel
from .epoch_data import EpochData
from .hybrid import FeatureSupport, uniform_rows
from .trainer import DEFAULT_METRICS, DIVERGENCE_BOUND, MAX_EPOCHS, EpochTrainer

__all__ = ["MatrixFactorization"]


def _parameter_bytes(n_users: int, n_items: int, settings: _Settings) -> int:
    """Bytes of the factors, biases and optimizer state a fit allocates."""
    rows = n_users + n_items
    values = rows * settings.dim + n_items
    state = {"sgd": 0, "rowwise-adagrad": rows + n_items, "adagrad": values, "adam": 2 * values}
    return 4 * (values + state[settings.optimizer_name])


def _is_ranking_metric(name: Any) -> bool:
    """Whether ``name`` is a validation metric to stop on: ``"auc"``, ``"ndcg@10"``, ..."""
    from ..metrics import METRIC_NAMES

    base, _, cut = name.partition("@")
    return base in METRIC_NAMES and base != "coverage" and (not cut or cut.isdigit())


@dataclass(frozen=True)
class _Settings:
    """The validated constructor arguments, as the kernel wants them."""

    dim: int
    loss: int
    sampler: int
    optimizer: int
    optimizer_name: str
    n_negatives: int
    learning_rate: float
    l2: float
    bias_l2: float
    epochs: int
    biases: bool
    margin: float
    max_sampled: int
    popularity_alpha: float
    kos_k: int
    kos_n: int
    use_weights: bool
    random_order: bool
    init_scale: float
    early_stopping: str | None
    patience: int
    user_identity_features: bool
    item_identity_features: bool
    normalize_features: bool
    identity_dropout: float
    feature_l2: float
    n_chunks: int
    seed: int | None


class MatrixFactorization(FeatureSupport, BaseModel):
    """Users and items as vectors, trained to rank positives above negatives.

    The score of item ``i`` for user ``u`` is ``user_factors_[u] @
    item_factors_[i] + item_biases_[i]``. Fitted with side features
    (``fit(train, user_features=..., item_features=...)``), the model is
    LightFM's hybrid [1]_: those vectors and biases are the weighted sums of
    the embeddings of each user's (item's) features, which new items
    (:meth:`add_items`) and new users (:meth:`recommend_new` with
    ``user_features``) get from their features alone. Training visits every interaction
    once per epoch, pairs it with sampled negative items and takes a
    stochastic gradient step on one of the losses of
    :mod:`tripletrec.losses`; see :mod:`tripletrec.kernels.training` for the
    parallel engine and the optimizers' exact update rules.

    Parameters
    ----------
    dim : int
        Length of the user and item vectors.
    loss : {"bpr", "sigmoid", "hinge", "warp", "warp-kos", "logistic"}
        The ranking loss (formulas in :mod:`tripletrec.losses`). ``"sigmoid"``
        is the seed Keras notebook's ``1 - sigmoid(s+ - s-)``.
    negatives : {"uniform", "unseen", "popularity"}
        How negatives are drawn (:mod:`tripletrec.sampling`).
    n_negatives : int
        Negatives per positive, each its own step, for ``bpr``, ``sigmoid``,
        ``hinge`` and ``logistic``. ``warp`` and ``warp-kos`` draw until a
        negative violates the margin, at most ``max_sampled``.
    optimizer : {"sgd", "adagrad", "rowwise-adagrad", "adam"}
        ``adagrad`` keeps a squared-gradient sum per value;
        ``rowwise-adagrad`` one per row (the mean over the row's values),
        which is as accurate here and much faster on large catalogues, its
        state being ``dim`` times smaller. ``adam`` is the lazy (sparse)
        variant: only touched rows update their moments, with per-row bias
        correction.
    learning_rate : float
        Step size, > 0.
    l2 : float
        L2 penalty ``l2 / 2 * |x|^2`` on every user and item vector a step
        touches (added to that step's gradient).
    bias_l2 : float
        The same for the item biases.
    epochs : int
        Passes over the training interactions made by :meth:`fit` (and by
        :meth:`fit_partial` unless told otherwise).
    biases : bool
        Learn a bias per item; with ``False`` ``item_biases_`` stays zero.
    margin : float
        Margin of ``hinge``, ``warp`` and ``warp-kos``.
    max_sampled : int
        Most negatives ``warp`` and ``warp-kos`` draw for one positive. No
        violating negative among them means no step.
    popularity_alpha : float
        Exponent of the ``popularity`` sampler: items are drawn with
        probability proportional to ``count ** popularity_alpha``.
    kos_k, kos_n : int
        ``warp-kos`` draws ``kos_n`` of the user's positives and trains on
        the one ranked ``kos_k``-th by the current scores.
    use_weights : bool
        Use interaction weights as sample weights: a step's gradient is
        multiplied by the pair's weight divided by the mean weight of the
        pairs with a positive weight (so ratings 4 and 5 weigh about 0.9 and
        1.1, and the learning rate keeps its meaning); weight-0 pairs are
        skipped. With ``False`` every stored pair counts 1.
    random_order : bool
        Visit a thread's interactions in a fully random order instead of
        user by user (each user's positives together, in random order).
        Slower, because user rows fall out of cache; kept for comparison.
    init_scale : float
        Vectors start uniform on ``[-w, w]`` per entry, ``w = sqrt(3) *
        init_scale / sqrt(dim)``: standard deviation ``init_scale / sqrt(dim)``.
    early_stopping : str, optional
        A validation metric (``"auc"``, ``"precision@10"``, ``"ndcg"``, ...,
        higher is better) to stop on: training stops once it has not
        improved for ``patience`` epochs, and the parameters of the best
        epoch are restored. Needs ``fit(train, validation)``.
    patience : int
        Epochs without improvement before early stopping.
    user_identity_features, item_identity_features : bool
        With side features: add one identity column per user (item), so that
        each also learns a vector of its own on top of its features' (as
        LightFM's ``Dataset`` does by default; without them, users (items)
        with the same features are the same). Ignored without features.
    normalize_features : bool
        With side features: divide each feature row (identity included) by
        the sum of its absolute values, so every user's (item's) vector is a
        weighted mean of its features' (LightFM's ``Dataset`` default); a row
        with no feature is then refused. Off by default: on ml-100k ``ua``
        with genre features it cost 0.027 AUC of warm accuracy (0.906
        against 0.933 unnormalised, 10 epochs), the identity column's share
        of each row shrinking to a fraction. Ignored without features.
    identity_dropout : float
        With item features and identity columns: the probability, per item
        and training step, of leaving the item's identity out of its
        representation, so that its features learn to stand for it alone,
        as they must for a new item (DropoutNet's idea, see
        :mod:`tripletrec.kernels.feature_training`). In ``[0, 1)``.
    feature_l2 : float
        With side features: the ``l2`` of the given feature columns' vectors
        (``l2`` stays that of the identity columns). A feature shared by many
        users or items is touched by many steps, and the penalty is applied
        at each: on ml-100k cold items, ``l2=0.02`` on the features cost
        0.027 AUC against none (0.750 against 0.777, features weighted 0.25).
    threads : int, optional
        Parallel chunks of users per epoch (default, and at most: the cores
        numba may use, ``numba.config.NUMBA_NUM_THREADS``; a larger value is
        capped). At most that many run at once. ``threads=1`` with a ``seed`` makes
        training bit-reproducible; with more threads item updates race
        (Hogwild) and results vary slightly from run to run.
    seed : int, optional
        Seeds initialisation, user shuffling and negative sampling.

    Attributes
    ----------
    user_factors_ : ndarray, shape (n_users_, dim), float32
    item_factors_ : ndarray, shape (n_items_, dim), float32
    item_biases_ : ndarray, shape (n_items_,), float32
    n_users_, n_items_ : int
    user_ids_, item_ids_ : IdMap
        The training interactions' id maps.
    history_ : list of dict
        One record per epoch trained: ``"epoch"`` (counting from 1 across
        :meth:`fit_partial` calls), ``"loss"`` (mean weighted training loss
        of the epoch's loss terms), ``"seconds"`` (training time of the
        epoch, validation excluded) and each validation metric, keyed as in
        :attr:`tripletrec.metrics.Evaluation.means` (training pairs excluded
        from the validation ranking).
    best_epoch_ : int or None
        With early stopping, the epoch whose parameters were kept.
    user_feature_embeddings_ : ndarray, shape (n_user_columns, dim), float32, or None
    item_feature_embeddings_ : ndarray, shape (n_item_columns, dim), float32, or None
    item_feature_biases_ : ndarray, shape (n_item_columns,), float32, or None
        With side features: one vector (bias) per feature column, the given
        columns first, then the identity columns.
    user_features_, item_features_ : scipy.sparse.csr_matrix, float32, or None
        With side features: the feature rows trained on, shape (n_users_,
        n_user_columns) and (n_items_, n_item_columns), identity columns
        included, normalised if asked.
    user_feature_names_, item_feature_names_ : ndarray of str, or None
        With side features: the names of the given columns (those of a
        :class:`~tripletrec.data.Features`, else ``"feature_0"``, ...).

    Notes
    -----
    Users without any training interaction keep all-zero vectors, so they
    score items by ``item_biases_`` alone (a popularity ranking). Items
    without any training interaction keep their random start except for
    what they learn as sampled negatives (they are valid negatives for the
    ``uniform`` and ``unseen`` samplers, never drawn by ``popularity``).

    The optimizer state (Adagrad sums, Adam moments and step counts) and the
    random generators live in private attributes: :meth:`fit_partial`
    continues from them, but they are not part of the learned model.

    References
    ----------
    .. [1] M. Kula, "Metadata embeddings for user and item cold-start
       recommendations", CBRecSys workshop at RecSys 2015, arXiv:1507.08439.

    Examples
    --------
    >>> from tripletrec.data import movielens  # doctest: +SKIP
    >>> data = movielens("ml-100k", split="ua", min_rating=4)  # doctest: +SKIP
    >>> model = MatrixFactorization(seed=0).fit(data.train)  # doctest: +SKIP
    >>> scores = model.score([1, 2])  # MovieLens user ids 1 and 2  # doctest: +SKIP
    """

    def __init__(
        self,
        dim: int = 64,
        loss: str = "bpr",
        negatives: str = "uniform",
        n_negatives: int = 1,
        optimizer: str = "rowwise-adagrad",
        learning_rate: float = 0.15,
        l2: float = 0.02,
        bias_l2: float = 0.0,
        epochs: int = 10,
        biases: bool = True,
        margin: float = 1.0,
        max_sampled: int = 100,
        popularity_alpha: float = 0.75,
        kos_k: int = 5,
        kos_n: int = 10,
        use_weights: bool = True,
        random_order: bool = False,
        init_scale: float = 0.1,
        early_stopping: str | None = None,
        patience: int = 3,
        user_identity_features: bool = True,
        item_identity_features: bool = True,
        normalize_features: bool = False,
        identity_dropout: float = 0.0,
        feature_l2: float = 0.0,
        threads: int | None = None,
        seed: int | None = None,
    ):
        self.dim = dim
        self.loss = loss
        self.negatives = negatives
        self.n_negatives = n_negatives
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.l2 = l2
        self.bias_l2 = bias_l2
        self.epochs = epochs
        self.biases = biases
        self.margin = margin
        self.max_sampled = max_sampled
        self.popularity_alpha = popularity_alpha
        self.kos_k = kos_k
        self.kos_n = kos_n
        self.use_weights = use_weights
        self.random_order = random_order
        self.init_scale = init_scale
        self.early_stopping = early_stopping
        self.patience = patience
        self.user_identity_features = user_identity_features
        self.item_identity_features = item_identity_features
        self.normalize_features = normalize_features
        self.identity_dropout = identity_dropout
        self.feature_l2 = feature_l2
        self.threads = threads
        self.seed = seed

    _parameter_constraints = {
        "dim": (Integer(1),),
        "loss": (Options(LOSSES),),
        "negatives": (Options(NEGATIVE_SAMPLERS),),
        "n_negatives": (Integer(1),),
        "optimizer": (Options(steps.OPTIMIZERS),),
        "learning_rate": (Real(0.0, low_open=True),),
        "l2": (Real(0.0),),
        "bias_l2": (Real(0.0),),
        "epochs": (Integer(1, MAX_EPOCHS),),
        "biases": (Flag(),),
        "margin": (Real(0.0),),
        "max_sampled": (Integer(1),),
        "popularity_alpha": (Real(0.0),),
        "kos_k": (Integer(1),),
        # Each training chunk and each folded-in user keeps kos_n scratch slots.
        "kos_n": (Integer(1, 100_000),),
        "use_weights": (Flag(),),
        "random_order": (Flag(),),
        "init_scale": (Real(0.0),),
        "early_stopping": (
            None,
            Satisfies(_is_ranking_metric, "a ranking metric name such as 'auc' or 'precision@10'"),
        ),
        "patience": (Integer(1),),
        "user_identity_features": (Flag(),),
        "item_identity_features": (Flag(),),
        "normalize_features": (Flag(),),
        "identity_dropout": (Real(0.0, 1.0, high_open=True),),
        "feature_l2": (Real(0.0),),
        "threads": (None, Integer(1)),
        "seed": (None, Integer(0)),
    }

    # ------------------------------------------------------------ validation
    def _settings(self) -> _Settings:
        params = self._validate_params()
        threads = params.pop("threads")
        return _Settings(
            **{name: value for name, value in params.items() if name not in ("loss", "negatives", "optimizer")},
            loss=loss_code(params["loss"]),
            sampler=sampler_code(params["negatives"]),
            optimizer=steps.OPTIMIZER_CODES[params["optimizer"]],
            optimizer_name=params["optimizer"],
            # More chunks than cores buys nothing and each costs scratch memory and a
            # generator: a larger count is capped at the cores numba may use.
            n_chunks=min(threads or numba.config.NUMBA_NUM_THREADS, numba.config.NUMBA_NUM_THREADS),
        )

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        train: Any,
        validation: Interactions | None = None,
        *,
        user_features: Any = None,
        item_features: Any = None,
        metrics: Iterable[str] = DEFAULT_METRICS,
        k: int = 10,
        callbacks: Iterable[Callable[[MatrixFactorization, dict], Any]] = (),
        progress: bool = True,
    ) -> MatrixFactorization:
        """Learn the factors from scratch.

        Parameters
        ----------
        train : Interactions or scipy.sparse matrix, shape (n_users, n_items)
            Training interactions; weights are sample weights (see
            ``use_weights``).
        validation : Interactions, optional
            Held-out interactions with the same shape and id maps; evaluated
            after every epoch (training pairs excluded from the ranking) into
            :attr:`history_`, and used by ``early_stopping``.
        user_features, item_features : Features or scipy sparse matrix or ndarray, optional
            Side features, which make the model a hybrid (see the class
            notes). A :class:`~tripletrec.data.Features` is aligned to
            ``train``'s id maps by id (ids it lacks get no given feature);
            a matrix must have one row per user (item) of ``train``, in
            its id map's order. Values must be finite. With only one side
            given, the other is described by identity columns alone.
        metrics : sequence of str
            Validation metrics (names of :func:`tripletrec.metrics.evaluate`).
        k : int
            Cut of the validation @k metrics.
        callbacks : sequence of callable
            Each is called as ``callback(model, record)`` after every epoch,
            ``record`` being the epoch's :attr:`history_` entry (callbacks may
            add keys to it). A callback returning ``True`` stops training.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For an invalid parameter (named in the message), an empty
            ``train`` or a ``validation`` of another shape.
        FloatingPointError
            When the loss or the parameters stop being finite (divergence):
            the message names the epoch; lower ``learning_rate``.
        """
        settings = self._settings()
        train = self._as_interactions(train, "train")
        features = self._feature_inputs(train, user_features, item_features, settings)
        self._initialize(train, settings, features)
        return self._train(train, validation, settings, settings.epochs, metrics, k, callbacks, progress)

    def fit_partial(
        self,
        train: Any,
        validation: Interactions | None = None,
        *,
        epochs: int | None = None,
        user_features: Any = None,
        item_features: Any = None,
        metrics: Iterable[str] = DEFAULT_METRICS,
        k: int = 10,
        callbacks: Iterable[Callable[[MatrixFactorization, dict], Any]] = (),
        progress: bool = True,
    ) -> MatrixFactorization:
        """Train more epochs, continuing from the current factors.

        An unfitted model is initialised first, as by :meth:`fit`. ``train``
        may hold new interactions and new users and items: the model's id
        maps grow to hold them (new ones appended in the order of
        ``train``'s id maps). A new user or item starts from its features
        (a hybrid model; its identity vector at zero) or from the usual
        random start. Known users and items keep their vectors, optimizer
        state and stored features.

        Pass each user's *whole* history, not only what is new: an epoch
        trains on ``train`` alone, and negatives are drawn among the items
        a user has not interacted with *in* ``train``, so a user given only
        recent items has the older ones drawn as negatives and pushed down.

        Parameter changes made with :meth:`set_params` apply, except
        ``dim``, ``seed`` and the feature options; a new ``optimizer``
        starts its state afresh.

        Parameters
        ----------
        epochs : int, optional
            How many epochs to add (default ``self.epochs``).
        user_features, item_features : optional
            As for :meth:`fit`, describing ``train``'s users (items); only
            the rows of *new* ids are used (hybrid models).

        Other parameters are those of :meth:`fit`.

        Returns
        -------
        self
        """
        settings = self._settings()
        train = self._as_interactions(train, "train")
        if not hasattr(self, "item_factors_"):
            self._initialize(train, settings, self._feature_inputs(train, user_features, item_features, settings))
        else:
            if self.user_factors_.shape[1] != settings.dim:
                raise ValueError(
                    f"dim is {settings.dim} but the model was fitted with dim "
                    f"{self.user_factors_.shape[1]}; call fit to start again"
                )
            if not hasattr(self, "_rng_states"):
                # A loaded model carries no optimizer or generator state: start them afresh,
                # seeded apart from the first fit's streams by the epochs already trained.
                _, shuffle_sequence, kernel_sequence = np.random.SeedSequence(
                    [settings.seed or 0, len(self.history_)]
                ).spawn(3)
                self._start_random_state(shuffle_sequence, kernel_sequence, settings)
            else:
                self._prepare_state(settings)
            train = self._grow_to(train, user_features, item_features)
        n_epochs = settings.epochs if epochs is None else check_integer(epochs, "epochs", low=1, high=MAX_EPOCHS)
        return self._train(train, validation, settings, n_epochs, metrics, k, callbacks, progress)

    def _initialize(self, train: Interactions, settings: _Settings, features: tuple) -> None:
        # Everything that can refuse the settings runs before anything is allocated or set.
        check_memory(_parameter_bytes(train.n_users, train.n_items, settings), "the model's parameters", "dim")
        half_width = np.float32(math.sqrt(3.0) * settings.init_scale / math.sqrt(settings.dim))
        if half_width > DIVERGENCE_BOUND:
            raise ValueError(
                f"init_scale={settings.init_scale:g} would start vector entries at up to {half_width:.3g}, "
                f"past the divergence bound {DIVERGENCE_BOUND:g}; use about 0.1"
            )
        self._set_id_maps(train)
        root = np.random.SeedSequence(settings.seed)
        init_sequence, shuffle_sequence, kernel_sequence = root.spawn(3)
        init_random = np.random.default_rng(init_sequence)
        user_inputs, item_inputs = features
        if user_inputs is None and item_inputs is None:
            # Uniform on [-w, w] with standard deviation init_scale / sqrt(dim):
            # four times cheaper to draw than normal values, which on large
            # catalogues was a tenth of a three-epoch fit.
            user_factors = uniform_rows(init_random, self.n_users_, settings.dim, half_width)
            self.item_factors_ = uniform_rows(init_random, self.n_items_, settings.dim, half_width)
            user_factors[train.user_counts() == 0] = 0.0
            self.user_factors_ = user_factors
            self.item_biases_ = np.zeros(self.n_items_, dtype=np.float32)
            self._clear_features()
        else:
            self._initialize_features(train, settings, user_inputs, item_inputs, init_random, half_width)
        self.history_: list[dict] = []
        self.best_epoch_: int | None = None
        self._start_random_state(shuffle_sequence, kernel_sequence, settings)

    def _start_random_state(self, shuffle_sequence, kernel_sequence, settings: _Settings) -> None:
        """Fresh generators and optimizer state (also for a model read from a file, which has none)."""
        self._shuffle_random = np.random.default_rng(shuffle_sequence)
        self._rng_states = self._new_rng_states(kernel_sequence.generate_state(settings.n_chunks, dtype=np.uint64))
        self._optimizer_name: str | None = None
        self._prepare_state(settings)

    @staticmethod
    def _new_rng_states(states: np.ndarray) -> np.ndarray:
        states = np.asarray(states, dtype=np.uint64).copy()
        states[states == 0] = np.uint64(0x9E3779B97F4A7C15)  # xorshift needs a non-zero state
        return states

    def _prepare_state(self, settings: _Settings) -> None:
        """Create the optimizer state and RNG states the settings need, if missing."""
        if len(self._rng_states) != settings.n_chunks:
            self._rng_states = self._new_rng_states(
                self._shuffle_random.integers(1, 2**63, settings.n_chunks, dtype=np.uint64)
            )
        if self._optimizer_name == settings.optimizer_name:
            return
        dim = settings.dim
        n_users, n_items = self._table_rows()

        def empty(*shape: int) -> np.ndarray:
            return np.zeros(shape, dtype=np.float32)

        state = {
            "user_moment1": empty(0, dim),
            "user_moment2": empty(0, dim),
            "item_moment1": empty(0, dim),
            "item_moment2": empty(0, dim),
            "bias_moment1": empty(0),
            "bias_moment2": empty(0),
            "user_steps": np.zeros(0, dtype=np.int64),
            "item_steps": np.zeros(0, dtype=np.int64),
        }
        if settings.optimizer in (steps.ADAGRAD, steps.ROWWISE_ADAGRAD):
            start = np.float32(steps.ADAGRAD_INITIAL_ACCUMULATOR)
            # Row-wise Adagrad keeps one sum per row: the mean over the row's coordinates.
            width = dim if settings.optimizer == steps.ADAGRAD else 1
            state["user_moment2"] = np.full((n_users, width), start, dtype=np.float32)
            state["item_moment2"] = np.full((n_items, width), start, dtype=np.float32)
            state["bias_moment2"] = np.full(n_items, start, dtype=np.float32)
        elif settings.optimizer == steps.ADAM:
            for name, rows in (("user", n_users), ("item", n_items)):
                state[f"{name}_moment1"] = empty(rows, dim)
                state[f"{name}_moment2"] = empty(rows, dim)
                state[f"{name}_steps"] = np.zeros(rows, dtype=np.int64)
            state["bias_moment1"] = empty(n_items)
            state["bias_moment2"] = empty(n_items)
        self._optimizer_state = state
        self._optimizer_name = settings.optimizer_name

    def _train(
        self,
        train: Interactions,
        validation: Interactions | None,
        settings: _Settings,
        n_epochs: int,
        metrics: Iterable[str],
        k: int,
        callbacks: Iterable[Callable],
        progress: bool,
    ) -> MatrixFactorization:
        trainer = EpochTrainer(
            self,
            train,
            validation,
            metrics=metrics,
            k=k,
            callbacks=callbacks,
            early_stopping=settings.early_stopping,
            patience=settings.patience,
            progress=progress,
        )
        epoch_data = EpochData(train, settings)
        trainer.run(n_epochs, lambda: self._run_epoch(epoch_data, settings))
        return self

    def _learned_arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays, for the trainer's best-epoch copy and divergence check."""
        return {
            "user_factors_": self.user_factors_,
            "item_factors_": self.item_factors_,
            "item_biases_": self.item_biases_,
            **self._feature_arrays(),
        }

    def _divergence_advice(self) -> str:
        """Which setting most likely made training diverge, for the trainer's error."""
        settings = self._settings()
        if settings.optimizer_name == "sgd":
            # An SGD step multiplies x by (1 - learning_rate * l2) before the loss
            # gradient: at learning_rate * l2 >= 2 that factor's magnitude is >= 1
            # and the penalty itself makes x oscillate and grow.
            for name, penalty in (("l2", settings.l2), ("bias_l2", settings.bias_l2)):
                # A learning rate above 1 is the cause whatever the penalty.
                if settings.learning_rate * penalty >= 1.0 and settings.learning_rate <= 1.0:
                    return (
                        f"{name}={penalty:g} with learning_rate={settings.learning_rate:g} overshoots "
                        f"(learning_rate * {name} >= 1); lower {name}"
                    )
        return f"try a lower learning_rate than {settings.learning_rate:g}"

    def _restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name, array in arrays.items():
            setattr(self, name, array)

    def _run_epoch(self, data: EpochData, settings: _Settings) -> float:
        order = data.active_users[self._shuffle_random.permutation(len(data.active_users))]
        chunk_starts, chunk_offsets = data.chunks(order, settings.n_chunks)
        chunk_losses = np.zeros(settings.n_chunks, dtype=np.float64)
        chunk_weights = np.zeros(settings.n_chunks, dtype=np.float64)
        # Only the uncompiled (NUMBA_DISABLE_JIT) kernel warns: uint64 products
        # wrap by design, and divergence is reported by the trainer.
        plan = training.EpochPlan(order, chunk_starts, chunk_offsets, self._rng_states, chunk_losses, chunk_weights)
        with kernel_threads(settings.n_chunks), np.errstate(over="ignore", invalid="ignore"):
            kernel_settings = training.Settings(
                loss=settings.loss,
                sampler=settings.sampler,
                optimizer=settings.optimizer,
                n_negatives=settings.n_negatives,
                max_sampled=settings.max_sampled,
                unseen_max_draws=UNSEEN_MAX_DRAWS,
                kos_k=settings.kos_k,
                kos_n=settings.kos_n,
                learning_rate=np.float32(settings.learning_rate),
                l2=np.float32(settings.l2),
                bias_l2=np.float32(settings.bias_l2),
                margin=np.float64(settings.margin),
                use_biases=settings.biases,
                use_weights=data.use_weights,
                random_order=settings.random_order,
            )
            if self.has_features_:
                self._run_feature_epoch(plan, data, settings, kernel_settings)
            else:
                training.train_epoch(
                    plan,
                    data.training_data,
                    training.Model(self.user_factors_, self.item_factors_, self.item_biases_),
                    training.OptimizerState(**self._optimizer_state),
                    data.scratch,
                    kernel_settings,
                )
        total_weight = chunk_weights.sum()
        return float(chunk_losses.sum() / total_weight) if total_weight > 0 else 0.0

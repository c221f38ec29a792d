"""Side features for the factor models: the LightFM representation, new items, growing id maps.

:class:`FeatureSupport` is mixed into a factor model (see
:class:`~tripletrec.models.MatrixFactorization`). A model fitted with
``user_features`` or ``item_features`` learns one vector per feature column
(:mod:`tripletrec.kernels.feature_training`); its ``user_factors_``,
``item_factors_`` and ``item_biases_`` are then the *representations*
``F @ embeddings`` of the known users and items, recomputed after every
epoch, so scoring, ``recommend``, ``similar_*``, ``evaluate`` and the model
file work as for any factor model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import check_memory
from ..data.dataset import Features
from ..data.id_map import IdMap, id_array
from ..data.interactions import Interactions
from ..kernels import feature_training, steps, training
from .feature_matrices import FeatureInput, feature_input, model_matrix, new_rows, rows_for_ids

__all__ = ["FeatureSupport"]

# The learned arrays a hybrid model adds (saved and restored with the model).
FEATURE_ARRAYS = ("user_feature_embeddings_", "item_feature_embeddings_", "item_feature_biases_")
# The feature matrices as CSR parts, in the model file.
_MATRIX_PARTS = ("indptr", "indices", "data")


def uniform_rows(random: np.random.Generator, n_rows: int, dim: int, half_width: np.float32) -> np.ndarray:
    """Rows uniform on ``[-half_width, half_width]``, float32."""
    rows = random.random((n_rows, dim), dtype=np.float32)
    rows -= np.float32(0.5)
    rows *= 2 * half_width
    return rows


class FeatureSupport:
    """Training and serving through user and item features (a mixin of factor models).

    Adds the learned attributes ``user_feature_embeddings_`` (n_user_columns,
    dim), ``item_feature_embeddings_`` (n_item_columns, dim),
    ``item_feature_biases_`` (n_item_columns,), ``user_features_`` and
    ``item_features_`` (the CSR matrices trained on, identity columns
    included), ``user_feature_names_`` and ``item_feature_names_`` (the given
    columns' names); all None for a model fitted without features.

    The host model provides what :class:`~tripletrec.models.BaseModel`
    does, ``_settings()`` (an object with ``dim``, ``init_scale``, ``seed``,
    ``n_chunks``, ``user_identity_features``, ``item_identity_features``,
    ``normalize_features`` and ``identity_dropout``) and, once trained,
    ``_optimizer_state`` (the arrays of
    :class:`~tripletrec.kernels.training.OptimizerState`, rows following
    :meth:`_table_rows`) and ``_optimizer_name``.
    """

    # ---------------------------------------------------------------- state
    @property
    def has_features_(self) -> bool:
        """Whether the model was fitted with side features."""
        return getattr(self, "user_features_", None) is not None

    def _clear_features(self) -> None:
        for name in (*FEATURE_ARRAYS, "user_features_", "item_features_", "user_feature_names_", "item_feature_names_"):
            setattr(self, name, None)

    def _table_rows(self) -> tuple[int, int]:
        """Rows of the user and item tables the optimizer state follows."""
        if self.has_features_:
            return self.user_feature_embeddings_.shape[0], self.item_feature_embeddings_.shape[0]
        return self.n_users_, self.n_items_

    def _feature_inputs(
        self, train: Interactions, user_features: Any, item_features: Any, settings: Any
    ) -> tuple[FeatureInput | None, FeatureInput | None]:
        """Check both sides' features against ``train``'s id maps and the identity settings."""
        users = feature_input(user_features, train.user_ids, "user_features")
        items = feature_input(item_features, train.item_ids, "item_features")
        if users is None and items is None:
            return None, None
        for side, given, identity in (
            ("user", users, settings.user_identity_features),
            ("item", items, settings.item_identity_features),
        ):
            if given is None and not identity:
                raise ValueError(
                    f"{side}_identity_features=False needs {side}_features: without either, "
                    f"the {side}s have no representation"
                )
        return users, items

    def _initialize_features(
        self,
        train: Interactions,
        settings: Any,
        users: FeatureInput | None,
        items: FeatureInput | None,
        random: np.random.Generator,
        half_width: np.float32,
    ) -> None:
        """Build the feature matrices and start the embeddings (the hybrid part of ``fit``)."""
        user_matrix = model_matrix(
            None if users is None else users.matrix,
            train.n_users,
            settings.user_identity_features,
            settings.normalize_features,
            "user_features",
        )
        item_matrix = model_matrix(
            None if items is None else items.matrix,
            train.n_items,
            settings.item_identity_features,
            settings.normalize_features,
            "item_features",
        )
        dim = settings.dim
        rows = user_matrix.shape[1] + item_matrix.shape[1] + train.n_users + train.n_items
        check_memory(4 * rows * (dim + 2), "the model's feature embeddings", "dim")
        user_embeddings = uniform_rows(random, user_matrix.shape[1], dim, half_width)
        item_embeddings = uniform_rows(random, item_matrix.shape[1], dim, half_width)
        # Identity columns of users and items without training interactions
        # start at zero: their representation is their features alone, not noise.
        n_user_given = 0 if users is None else users.matrix.shape[1]
        n_item_given = 0 if items is None else items.matrix.shape[1]
        if settings.user_identity_features:
            user_embeddings[n_user_given:][train.user_counts() == 0] = 0.0
        if settings.item_identity_features:
            item_embeddings[n_item_given:][train.item_counts() == 0] = 0.0
        self.user_features_ = user_matrix
        self.item_features_ = item_matrix
        self.user_feature_names_ = np.zeros(0, dtype=str) if users is None else users.names
        self.item_feature_names_ = np.zeros(0, dtype=str) if items is None else items.names
        self.user_feature_embeddings_ = user_embeddings
        self.item_feature_embeddings_ = item_embeddings
        self.item_feature_biases_ = np.zeros(item_matrix.shape[1], dtype=np.float32)
        self._refresh_representations()

    def _refresh_representations(self) -> None:
        """``user_factors_``, ``item_factors_`` and ``item_biases_`` from the features."""
        self.user_factors_ = np.ascontiguousarray(self.user_features_ @ self.user_feature_embeddings_, np.float32)
        self.item_factors_ = np.ascontiguousarray(self.item_features_ @ self.item_feature_embeddings_, np.float32)
        self.item_biases_ = np.ascontiguousarray(self.item_features_ @ self.item_feature_biases_, np.float32)

    # ----------------------------------------------------------------- epochs
    def _run_feature_epoch(self, plan: Any, data: Any, settings: Any, kernel_settings: Any) -> None:
        """One epoch of the feature kernel, then fresh representations."""

        def rows(matrix: sp.csr_matrix) -> feature_training.FeatureRows:
            return feature_training.FeatureRows(matrix.indptr, matrix.indices, matrix.data)

        dim = self.user_feature_embeddings_.shape[1]
        if data.feature_vectors is None:
            data.feature_vectors = np.zeros(
                (settings.n_chunks, feature_training.VECTORS_PER_CHUNK * dim + training.SCRATCH_PADDING),
                dtype=np.float32,
            )
        feature_training.train_feature_epoch(
            plan,
            data.training_data,
            # item_factors_ and item_biases_ hold the representations of the epoch's start.
            feature_training.FeatureData(
                rows(self.user_features_),
                rows(self.item_features_),
                self.item_factors_,
                self.item_biases_,
                np.float32(settings.identity_dropout if settings.item_identity_features else 0.0),
                np.int64(len(self.user_feature_names_)),
                np.int64(len(self.item_feature_names_)),
                np.float32(settings.feature_l2),
            ),
            training.Model(self.user_feature_embeddings_, self.item_feature_embeddings_, self.item_feature_biases_),
            training.OptimizerState(**self._optimizer_state),
            feature_training.FeatureScratch(
                data.scratch.positions, data.scratch.kos_scores, data.scratch.kos_positions, data.feature_vectors
            ),
            kernel_settings,
        )
        self._refresh_representations()

    def _feature_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in FEATURE_ARRAYS} if self.has_features_ else {}

    # ------------------------------------------------- new users and items
    def _new_feature_rows(self, side: str, features: Any, name: str) -> sp.csr_matrix:
        self._require_fitted()
        names = getattr(self, f"{side}_feature_names_", None)
        if not self.has_features_ or len(names) == 0:
            raise ValueError(
                f"{name} needs a model fitted with {side}_features; this {type(self).__name__} has no {side} feature"
            )
        settings = self._settings()
        identity = settings.user_identity_features if side == "user" else settings.item_identity_features
        return new_rows(features, names, identity, settings.normalize_features, name)

    def user_representations(self, user_features: Any) -> np.ndarray:
        """Vectors of users from feature rows alone (LightFM's ``get_user_representations``).

        Parameters
        ----------
        user_features : Features or scipy sparse matrix or ndarray, shape (n, ...)
            One row per user: a Features (columns matched to
            ``user_feature_names_`` by name, unknown ones ignored) or a
            matrix with the model's given columns, in order. Rows are
            normalised as in training when ``normalize_features`` is on.

        Returns
        -------
        ndarray, shape (n, dim), float32
            What a user with these features and no interactions gets (its
            identity vector, if any, being zero); score items with
            ``vectors @ item_factors_.T + item_biases_``.
        """
        rows = self._new_feature_rows("user", user_features, "user_features")
        n_given = len(self.user_feature_names_)
        return np.asarray(rows @ self.user_feature_embeddings_[:n_given], dtype=np.float32)

    def item_representations(self, item_features: Any) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and biases of items from feature rows alone (LightFM's ``get_item_representations``).

        Parameters
        ----------
        item_features : Features or scipy sparse matrix or ndarray, shape (n, ...)
            As in :meth:`user_representations`, against ``item_feature_names_``.

        Returns
        -------
        vectors : ndarray, shape (n, dim), float32
        biases : ndarray, shape (n,), float32
        """
        rows = self._new_feature_rows("item", item_features, "item_features")
        n_given = len(self.item_feature_names_)
        vectors = np.asarray(rows @ self.item_feature_embeddings_[:n_given], dtype=np.float32)
        return vectors, np.asarray(rows @ self.item_feature_biases_[:n_given], dtype=np.float32)

    def _new_user_start(self, user_features: Any) -> np.ndarray | None:
        return None if user_features is None else self.user_representations(user_features)

    # -------------------------------------------------------------- new items
    def add_items(self, ids: Any, item_features: Any) -> FeatureSupport:
        """Give new items vectors from their features, without retraining.

        The items join ``item_ids_`` (after the known ones) with the
        representation of their feature rows, so :meth:`recommend`,
        :meth:`score` and :meth:`similar_items` return them at once. With
        identity features on, each new item also gets an identity column
        whose vector starts at zero (a later :meth:`fit_partial` on data
        holding the item learns it).

        Parameters
        ----------
        ids : array_like, shape (n_new,)
            External ids of the new items; none may be known to the model.
        item_features : Features or scipy sparse matrix or ndarray
            A :class:`~tripletrec.data.Features` holding a row for every
            new id (aligned by id; its columns are matched to the model's
            by name, columns the model never saw are ignored), or a matrix
            with one row per new id and the model's given columns
            (``item_feature_names_``), in order.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            A model fitted without item features, ids already known or
            repeated, features that lack a new id, or a matrix of the
            wrong width.
        """
        self._require_fitted()
        if not self.has_features_ or len(self.item_feature_names_) == 0:
            raise ValueError(
                "add_items needs a model fitted with item_features (new items are represented by their features)"
            )
        new_ids = id_array(ids, "ids")
        new_map = IdMap(new_ids, name="ids")
        known = self.item_ids_.to_index(new_ids, missing="ignore") >= 0
        if known.any():
            raise ValueError(
                f"ids holds {int(known.sum())} item(s) the model already knows (first: {new_ids[known][:1].tolist()[0]!r}); "
                "add_items only adds new items"
            )
        given = self._aligned_new_rows(item_features, new_map, self.item_feature_names_, "item_features")
        self._append_rows("item", given, new_map)
        return self

    def _aligned_new_rows(self, features: Any, ids: IdMap, names: np.ndarray, name: str) -> sp.csr_matrix:
        """New rows' given features in the model's column order, one row per entry of ``ids``.

        A Features is aligned by id, a matrix must have one row per entry of ``ids``.
        """
        if isinstance(features, Features):
            features = rows_for_ids(features, ids, name)
        else:
            features = feature_input(features, ids, name).matrix
        return new_rows(features, names, False, False, name)

    def _append_rows(self, side: str, given: sp.csr_matrix, new_map: IdMap) -> None:
        """Append rows to one side: feature rows (with fresh identity columns) and state."""
        settings = self._settings()
        identity = settings.user_identity_features if side == "user" else settings.item_identity_features
        old = getattr(self, f"{side}_features_")
        n_old, n_new = old.shape[0], given.shape[0]
        n_given = len(getattr(self, f"{side}_feature_names_"))
        embeddings = getattr(self, f"{side}_feature_embeddings_")
        n_columns = old.shape[1]
        dim = embeddings.shape[1]
        blocks = [given]
        if identity:
            # The old identity columns, then one new column per new row.
            blocks = [given, sp.csr_matrix((n_new, n_columns - n_given)), sp.identity(n_new, format="csr")]
            n_columns += n_new
        new_rows = model_matrix(sp.hstack(blocks, format="csr"), n_new, False, settings.normalize_features, side)
        if old.shape[1] < n_columns:
            old = sp.hstack([old, sp.csr_matrix((n_old, n_columns - old.shape[1]))], format="csr")
        matrix = model_matrix(sp.vstack([old, new_rows], format="csr"), n_old + n_new, False, False, side)
        added_columns = n_columns - embeddings.shape[0]
        setattr(self, f"{side}_features_", matrix)
        setattr(
            self, f"{side}_feature_embeddings_", np.vstack([embeddings, np.zeros((added_columns, dim), np.float32)])
        )
        if side == "item":
            self.item_feature_biases_ = np.concatenate([self.item_feature_biases_, np.zeros(added_columns, np.float32)])
        ids = getattr(self, f"{side}_ids_")
        setattr(self, f"{side}_ids_", IdMap(np.concatenate([ids.ids, new_map.ids]), name=f"{side}_ids"))
        setattr(self, f"n_{side}s_", n_old + n_new)
        if side == "item" and getattr(self, "item_names_", None) is not None:
            self.item_names_ = np.concatenate([np.asarray(self.item_names_), np.full(n_new, "", dtype=str)])
        self._grow_optimizer_state(side, added_columns)
        self._refresh_representations()

    def _grow_optimizer_state(self, side: str, added_rows: int) -> None:
        """Append optimizer-state rows for ``added_rows`` new table rows of one side."""
        state = getattr(self, "_optimizer_state", None)
        if state is None or added_rows == 0:
            return
        start = np.float32(steps.ADAGRAD_INITIAL_ACCUMULATOR)
        names = [f"{side}_moment1", f"{side}_moment2", f"{side}_steps"]
        if side == "item":
            names += ["bias_moment1", "bias_moment2"]
        for name in names:
            array = state[name]
            if array.shape[0] == 0:
                continue
            adagrad = name.endswith("moment2") and self._optimizer_name in ("adagrad", "rowwise-adagrad")
            fill = start if adagrad else 0
            state[name] = np.concatenate([array, np.full((added_rows, *array.shape[1:]), fill, dtype=array.dtype)])

    # -------------------------------------------------------------- growing
    def _grow_to(self, train: Interactions, user_features: Any, item_features: Any) -> Interactions:
        """Grow the id maps to hold ``train``'s new users and items; ``train`` re-indexed to them.

        Known users and items keep their rows (and their stored features); new
        ones are appended in the order of ``train``'s id maps, starting from
        their features (hybrid models; identity vectors at zero) or from the
        usual random start (plain models; zero for users).
        """
        if train.user_ids == self.user_ids_ and train.item_ids == self.item_ids_:
            return train
        settings = self._settings()
        # Every check first, so that a refused call leaves the model as it was.
        additions = {}
        for side, ids, features in (
            ("user", train.user_ids, user_features),
            ("item", train.item_ids, item_features),
        ):
            model_ids = getattr(self, f"{side}_ids_")
            if len(ids) and len(model_ids) and (ids.ids.dtype.kind == "U") != (model_ids.ids.dtype.kind == "U"):
                kinds = {True: "strings", False: "integers"}
                raise ValueError(
                    f"train's {side} ids are {kinds[ids.ids.dtype.kind == 'U']} but the model's are "
                    f"{kinds[model_ids.ids.dtype.kind == 'U']}; fit_partial needs the same kind of ids"
                )
            new = model_ids.to_index(ids.ids, missing="ignore") < 0
            if not new.any():
                continue
            new_map = IdMap(ids.ids[new], name=f"{side}_ids")
            given = None
            if self.has_features_:
                names = getattr(self, f"{side}_feature_names_")
                if features is None or len(names) == 0:
                    given = sp.csr_matrix((int(new.sum()), len(names)), dtype=np.float32)
                else:
                    if not isinstance(features, Features):
                        # A matrix follows train's id map: its rows of the new ids.
                        features = feature_input(features, ids, f"{side}_features").matrix[np.flatnonzero(new)]
                    given = self._aligned_new_rows(features, new_map, names, f"{side}_features")
            additions[side] = (new_map, given, np.flatnonzero(new))
        for side, (new_map, given, train_rows) in additions.items():
            if self.has_features_:
                self._append_rows(side, given, new_map)
            else:
                self._append_plain_rows(side, new_map, train, train_rows, settings)
        users, items, weights = train.to_coo()
        user_rows = self.user_ids_.to_index(train.user_ids.ids)
        item_rows = self.item_ids_.to_index(train.item_ids.ids)
        return Interactions.from_indices(
            user_rows[users],
            item_rows[items],
            weights,
            train.timestamps,
            shape=(self.n_users_, self.n_items_),
            user_ids=self.user_ids_,
            item_ids=self.item_ids_,
        )

    def _append_plain_rows(
        self, side: str, new_map: IdMap, train: Interactions, train_rows: np.ndarray, settings: Any
    ) -> None:
        """New rows of a model without features: the usual random start (zero for users without data)."""
        dim = settings.dim
        half_width = np.float32(math.sqrt(3.0) * settings.init_scale / math.sqrt(dim))
        random = np.random.default_rng([settings.seed or 0, len(self.history_), len(getattr(self, f"{side}_ids_"))])
        rows = uniform_rows(random, len(train_rows), dim, half_width)
        if side == "user":
            rows[train.user_counts()[train_rows] == 0] = 0.0
            self.user_factors_ = np.vstack([self.user_factors_, rows])
        else:
            self.item_factors_ = np.vstack([self.item_factors_, rows])
            self.item_biases_ = np.concatenate([self.item_biases_, np.zeros(len(train_rows), np.float32)])
            if getattr(self, "item_names_", None) is not None:
                self.item_names_ = np.concatenate([np.asarray(self.item_names_), np.full(len(train_rows), "", str)])
        ids = getattr(self, f"{side}_ids_")
        setattr(self, f"{side}_ids_", IdMap(np.concatenate([ids.ids, new_map.ids]), name=f"{side}_ids"))
        setattr(self, f"n_{side}s_", len(ids) + len(new_map))
        self._grow_optimizer_state(side, len(train_rows))

    # ------------------------------------------------------------ model file
    def _extra_arrays(self) -> dict[str, np.ndarray]:
        """The hybrid part of the model file (empty for a plain model)."""
        if not self.has_features_:
            return {}
        arrays = {name.rstrip("_"): getattr(self, name) for name in FEATURE_ARRAYS}
        for side in ("user", "item"):
            matrix = getattr(self, f"{side}_features_")
            for part in _MATRIX_PARTS:
                arrays[f"{side}_features_{part}"] = getattr(matrix, part)
            arrays[f"{side}_feature_names"] = np.asarray(getattr(self, f"{side}_feature_names_")).astype(str)
        return arrays

    @staticmethod
    def extra_array_names() -> tuple[str, ...]:
        """Names of the arrays :meth:`_extra_arrays` may write."""
        names = [name.rstrip("_") for name in FEATURE_ARRAYS]
        for side in ("user", "item"):
            names += [f"{side}_features_{part}" for part in _MATRIX_PARTS] + [f"{side}_feature_names"]
        return tuple(names)

    def _restore_extra_arrays(self, arrays: dict[str, np.ndarray], where: str) -> None:
        """Rebuild the hybrid part from a model file's arrays (checked: shapes must fit together)."""
        names = self.extra_array_names()
        present = [name for name in names if name in arrays]
        if not present:
            self._clear_features()
            return
        missing = [name for name in names if name not in arrays]
        if missing:
            raise ValueError(f"{where} holds part of a hybrid model; it lacks {', '.join(missing)}")
        for side, n_rows in (("user", self.user_factors_.shape[0]), ("item", self.item_factors_.shape[0])):
            embeddings = arrays[f"{side}_feature_embeddings"]
            indptr = arrays[f"{side}_features_indptr"].astype(np.int64)
            indices = arrays[f"{side}_features_indices"].astype(np.int32)
            data = arrays[f"{side}_features_data"]
            if (
                embeddings.dtype != np.float32
                or data.dtype != np.float32
                or embeddings.ndim != 2
                or embeddings.shape[1] != self.user_factors_.shape[1]
                or indptr.shape != (n_rows + 1,)
                or indptr[0] != 0
                or indptr[-1] != len(indices)
                or len(data) != len(indices)
                or np.any(np.diff(indptr) < 0)
                or (len(indices) and (indices.min() < 0 or indices.max() >= embeddings.shape[0]))
                or not np.isfinite(embeddings).all()
                or not np.isfinite(data).all()
            ):
                raise ValueError(f"{where}: the {side} feature arrays do not fit together")
            matrix = sp.csr_matrix((data, indices, indptr), shape=(n_rows, embeddings.shape[0]))
            setattr(self, f"{side}_features_", model_matrix(matrix, n_rows, False, False, f"{side}_features"))
            setattr(self, f"{side}_feature_embeddings_", np.ascontiguousarray(embeddings))
            setattr(self, f"{side}_feature_names_", arrays[f"{side}_feature_names"].astype(str))
        biases = arrays["item_feature_biases"]
        if biases.shape != (self.item_feature_embeddings_.shape[0],) or biases.dtype != np.float32:
            raise ValueError(f"{where}: item_feature_biases does not match the item feature embeddings")
        self.item_feature_biases_ = np.ascontiguousarray(biases)

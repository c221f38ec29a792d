"""The served model: one immutable snapshot at a time, swapped when its file is replaced.

A :class:`Snapshot` bundles everything a request reads (the model, its item
table, the users' training items, the facts ``/v1/model`` reports). A request
takes :attr:`ModelStore.current` once and uses that snapshot to the end, so a
reload never changes a request half-way; the old snapshot is freed when its
last request is done.

:meth:`ModelStore.check` compares the file's identity (device, inode, size,
modification time) with the loaded one's; a polling thread calls it every
``poll_interval`` seconds. ``model.save`` replaces the file atomically
(``os.replace``), so the new identity always names a complete file. A file
that fails to load (a truncated copy, a foreign file) leaves the old model
serving; the error is reported by ``/v1/model`` and ``/readyz`` until a file
loads again.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..data.interactions import Interactions
from ..io import _read_header
from ..models import load
from ..models.ids import exclusion_rows
from .ranking import ItemTable

__all__ = ["ModelStore", "Snapshot", "TrainingSource", "file_identity", "load_snapshot"]

logger = logging.getLogger("tripletrec.serving")

#: Interactions, or a function from the loaded model to (interactions or None, description).
TrainingSource = Interactions | Callable[[Any], tuple[Interactions | None, str | None]] | None

# A file replaced while it was being read is read again, at most this often.
_LOAD_ATTEMPTS = 5


def file_identity(path: Path) -> tuple[int, int, int, int] | None:
    """(device, inode, size, mtime in ns) of ``path``, None when there is no file."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return _identity(status)


def _identity(status: os.stat_result) -> tuple[int, int, int, int]:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Snapshot:
    """One loaded model and what serving it needs; never changed once built.

    Attributes
    ----------
    model : BaseModel
    table : ItemTable
    seen : (indptr, indices) or None
        Each user's training items as CSR rows over the model's dense
        indices; None when the server has no training interactions.
    info : dict
        What ``GET /v1/model`` reports.
    identity : tuple
        :func:`file_identity` of the file loaded.
    version : int
        1 for the first model, +1 at each reload.
    """

    model: Any
    table: ItemTable
    seen: tuple[np.ndarray, np.ndarray] | None
    info: dict
    identity: tuple
    version: int

    def seen_items(self, user_index: int) -> np.ndarray:
        """Dense indices of a user's training items (requires ``seen``)."""
        indptr, indices = self.seen
        return indices[indptr[user_index] : indptr[user_index + 1]]


def _read_file(path: Path) -> tuple[tuple, str, dict]:
    """Identity, sha256 and header of the file now at ``path``, all from one open file."""
    with open(path, "rb") as handle:
        identity = _identity(os.fstat(handle.fileno()))
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                header = _read_header(archive, path)
        except zipfile.BadZipFile:
            header = {}  # load() below reports what is wrong with the file
    return identity, digest.hexdigest(), header


def _training(source: TrainingSource, model) -> tuple[Interactions | None, str | None]:
    if source is None:
        return None, None
    if isinstance(source, Interactions):
        return source, "given interactions"
    return source(model)


def _id_kind(ids: np.ndarray) -> str:
    return "int" if ids.dtype.kind in "iu" else "str"


def load_snapshot(path: str | os.PathLike, training: TrainingSource = None, version: int = 1) -> Snapshot:
    """Load the model file at ``path`` and what serving it needs.

    Parameters
    ----------
    path : str or os.PathLike
    training : Interactions or callable, optional
        The training interactions whose items ``exclude_seen`` removes, or
        a function of the loaded model returning ``(interactions or None,
        description)``. Their ids must all be known to the model.
    version : int

    Raises
    ------
    FileNotFoundError, tripletrec.io.ModelFileError
        As :func:`tripletrec.load`.
    ValueError
        Training interactions that do not fit the model (named).
    """
    path = Path(path)
    if not path.is_file():
        load(path)  # raises load's own message: no such file (with a hint), not a regular file
    for _ in range(_LOAD_ATTEMPTS):
        identity, sha256, header = _read_file(path)
        model = load(path)
        # Same identity after loading: load() read the file that was hashed.
        if file_identity(path) == identity:
            break
    else:
        raise ValueError(f"{path} kept changing while it was being loaded")
    interactions, description = _training(training, model)
    seen = None
    if interactions is not None:
        try:
            every_user = np.arange(model.n_users_, dtype=np.int64)
            seen = exclusion_rows(interactions, every_user, model.user_ids_, model.item_ids_)
        except ValueError as error:
            raise ValueError(f"the training interactions do not fit the model {path}: {error}") from None
    metadata = getattr(model, "metadata_", None) or {}
    mtime = _timestamp(identity[3] / 1e9)
    info = {
        "path": str(path.resolve()),
        "class": type(model).__name__,
        "module": type(model).__module__,
        "format": header.get("format"),
        "format_version": header.get("format_version"),
        "library_version": header.get("library_version"),
        "server_library_version": __version__,
        "dim": int(model.item_factors_.shape[1]),
        "n_users": int(model.n_users_),
        "n_items": int(model.n_items_),
        "user_id_type": _id_kind(model.user_ids_.ids),
        "item_id_type": _id_kind(model.item_ids_.ids),
        "sha256": sha256,
        "checksum": header.get("checksum"),
        "file_size": identity[2],
        "file_mtime": mtime,
        # Model files record no training time unless the caller's metadata does.
        "trained_at": metadata.get("trained_at", mtime),
        "params": model.get_params(),
        "metadata": metadata,
        "exclude_seen_available": seen is not None,
        "training_data": description,
        "loaded_at": _timestamp(datetime.datetime.now().timestamp()),
        "version": version,
    }
    return Snapshot(model, ItemTable.of(model), seen, info, identity, version)


class ModelStore:
    """The current :class:`Snapshot`, reloaded when the model file is replaced.

    Parameters
    ----------
    path : str or os.PathLike
        The model file; loaded at once (errors propagate).
    training : Interactions or callable, optional
        See :func:`load_snapshot`; called again at each reload.
    poll_interval : float
        Seconds between two checks of the file by :meth:`start`'s thread.
    """

    def __init__(self, path: str | os.PathLike, *, training: TrainingSource = None, poll_interval: float = 0.5):
        self.path = Path(path)
        self.training = training
        self.poll_interval = float(poll_interval)
        self.reload_error: str | None = None
        self._current = load_snapshot(self.path, training, version=1)
        self._failed_identity: tuple | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Snapshot:
        """The snapshot new requests use (one attribute read: atomic)."""
        return self._current

    def check(self) -> bool:
        """Reload if the file changed since it was loaded; True when a new model was swapped in."""
        with self._lock:  # one reload at a time (the poller, or a test calling check)
            identity = file_identity(self.path)
            if identity is None:
                self.reload_error = f"{self.path} is gone; still serving the model loaded before"
                return False
            if identity == self._current.identity or identity == self._failed_identity:
                return False
            try:
                snapshot = load_snapshot(self.path, self.training, version=self._current.version + 1)
            except Exception as error:  # any failure keeps the old model serving
                self._failed_identity = identity
                self.reload_error = (
                    f"reloading {self.path} failed, still serving version {self._current.version}: {error}"
                )
                logger.warning("%s", self.reload_error)
                return False
            self._current = snapshot
            self._failed_identity = None
            self.reload_error = None
            logger.info("reloaded %s (version %d, sha256 %s)", self.path, snapshot.version, snapshot.info["sha256"])
            return True

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            self.check()

    def start(self) -> None:
        """Start the polling thread (a daemon; :meth:`stop` ends it)."""
        if self._thread is None and self.poll_interval > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, name="tripletrec-model-reload", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the polling thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

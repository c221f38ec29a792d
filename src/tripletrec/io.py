"""The model file: one ``.npz`` of plain arrays plus a JSON header.

A model file is a zip archive that :func:`numpy.load` reads with
``allow_pickle=False``: one ``.npy`` entry per array (parameters, id maps as
integer or fixed-width unicode arrays) and one entry ``__header__``, a uint8
array holding UTF-8 JSON. The header carries

* ``format``: ``"tripletrec-model"``;
* ``format_version``: :data:`FORMAT_VERSION` of the writer;
* ``library_version``: the tripletrec version that wrote the file;
* ``arrays``: the names of the stored arrays;
* ``checksum``: ``"sha256:<hex>"`` over the rest of the header and every
  array's name, dtype, shape and bytes;
* whatever the caller adds (model class, hyperparameters, training history).

Nothing in a model file is ever unpickled or executed: object arrays are
refused on save, and a file holding one is refused on load. Saving writes a
temporary file in the destination folder, flushes it to disk and renames it
over the destination, so a crash leaves either the old file or the new one,
never half of one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._version import __version__

__all__ = ["FORMAT_VERSION", "ModelFileError", "load_arrays", "save_arrays"]

#: Version of the layout written by :func:`save_arrays`; :func:`load_arrays`
#: reads exactly this version.
FORMAT_VERSION = 1

FORMAT_NAME = "tripletrec-model"
HEADER_ENTRY = "__header__"
RESERVED_HEADER_KEYS = ("format", "format_version", "library_version", "arrays", "checksum")
_ARRAY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ModelFileError(ValueError):
    """A file cannot be read as a tripletrec model: corrupt, foreign or too new."""


def _json_default(value: Any) -> Any:
    # Hyperparameters and histories often hold numpy scalars; store them as
    # the plain numbers they are.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _canonical_json(header: Mapping[str, Any]) -> str:
    return json.dumps(header, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=_json_default)


def _checksum(header_without_checksum: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    digest.update(_canonical_json(header_without_checksum).encode("utf-8"))
    for name in sorted(arrays):
        array = arrays[name]
        described = json.dumps(
            [name, np.lib.format.dtype_to_descr(array.dtype), list(array.shape)]
        )
        digest.update(b"\0" + described.encode("utf-8") + b"\0")
        digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return "sha256:" + digest.hexdigest()


def _model_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        # The same rule as numpy.savez, so that save("model") and
        # numpy.load("model.npz") agree on the name.
        path = path.with_name(path.name + ".npz")
    return path


def _check_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping):
        raise ValueError(f"arrays must be a dict of name -> array, got {type(arrays).__name__}")
    checked = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not _ARRAY_NAME.match(name) or name == HEADER_ENTRY:
            raise ValueError(
                f"array name {name!r} is not allowed: use letters, digits, '_', '.', '-' "
                f"(not starting with '.' or '-') and not {HEADER_ENTRY!r}"
            )
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise ValueError(
                f"array {name!r} has dtype {array.dtype}, which holds Python objects and "
                "would need pickle; store strings as a fixed-width unicode array "
                "(e.g. values.astype(str)) and numbers as a numeric dtype"
            )
        checked[name] = array
    return checked


def _build_header(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict:
    if not isinstance(header, Mapping):
        raise ValueError(f"header must be a dict, got {type(header).__name__}")
    reserved = sorted(key for key in header if key in RESERVED_HEADER_KEYS)
    if reserved:
        raise ValueError(
            f"header key {reserved[0]!r} is reserved (the file format sets "
            f"{', '.join(RESERVED_HEADER_KEYS)})"
        )
    for key, value in header.items():
        if not isinstance(key, str):
            raise ValueError(f"header keys must be strings, got {key!r}")
        try:
            _canonical_json({key: value})
        except (TypeError, ValueError) as error:
            raise ValueError(f"header[{key!r}] cannot be stored as JSON: {error}") from None
    full = {
        **header,
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "arrays": sorted(arrays),
    }
    # Store what JSON gives back (tuples become lists, numpy scalars numbers)
    # so the checksum is computed over exactly what a reader will see.
    full = json.loads(_canonical_json(full))
    full["checksum"] = _checksum(full, arrays)
    return full


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def save_arrays(
    path: str | os.PathLike, header: Mapping[str, Any], arrays: Mapping[str, Any]
) -> Path:
    """Write ``arrays`` and a JSON ``header`` to one ``.npz`` model file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. A name that does not end in ``.npz`` gets ``.npz``
        appended (as :func:`numpy.savez` does); the returned path is the file
        actually written. An existing file is replaced atomically.
    header : dict
        JSON-serialisable metadata (numpy scalars and numeric arrays are
        converted to numbers and lists; NaN and infinities are written as
        the ``NaN`` / ``Infinity`` tokens Python's :mod:`json` reads back). The keys ``format``,
        ``format_version``, ``library_version``, ``arrays`` and ``checksum``
        are reserved.
    arrays : dict of str -> ndarray
        Any dtype except object (strings as fixed-width unicode). Names use
        letters, digits, ``_``, ``.`` and ``-``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        For an object array (the message names it), a bad name or a header
        value JSON cannot hold; nothing is written.
    OSError
        When the folder cannot be written; no temporary file is left.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> written = save_arrays(folder + "/model", {"model_class": "Demo"},
    ...                       {"item_ids": np.array(["a", "b"])})
    >>> written.name
    'model.npz'
    >>> header, arrays = load_arrays(written)
    >>> header["model_class"], arrays["item_ids"].tolist()
    ('Demo', ['a', 'b'])
    """
    path = _model_path(path)
    arrays = _check_arrays(arrays)
    full_header = _build_header(header, arrays)
    header_bytes = np.frombuffer(
        json.dumps(full_header, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        dtype=np.uint8,
    )
    folder = path.parent if str(path.parent) else Path(".")
    temporary = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
    # O_EXCL: never write through somebody else's file; 0o666 lets the umask
    # decide the final permissions, as for any new file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED,
                                 allowZip64=True) as archive:
                for name, array in [(HEADER_ENTRY, header_bytes), *sorted(arrays.items())]:
                    with archive.open(name + ".npy", mode="w", force_zip64=True) as entry:
                        np.lib.format.write_array(entry, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)
    return path


def _read_header(archive: np.lib.npyio.NpzFile, path: Path) -> dict:
    try:
        raw = archive[HEADER_ENTRY]
    except Exception as error:
        raise ModelFileError(f"{path}: the header entry cannot be read ({error})") from error
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(
            f"{path}: the header entry is {raw.dtype} of shape {raw.shape}, not UTF-8 bytes; "
            "the file is corrupted or not a tripletrec model"
        )
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelFileError(
            f"{path}: the header is not valid UTF-8 JSON ({error}); the file is corrupted"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: the header does not describe a tripletrec model")
    return header


def _check_version(header: dict, path: Path) -> None:
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{path}: the header has no valid format_version ({version!r})")
    if version == FORMAT_VERSION:
        return
    written_by = header.get("library_version", "an unknown version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model file format version {version} (written by tripletrec "
            f"{written_by}), but this tripletrec {__version__} reads format version "
            f"{FORMAT_VERSION} only; upgrade tripletrec to load it"
        )
    raise ModelFileError(
        f"{path} has unknown model file format version {version}; this tripletrec "
        f"{__version__} reads format version {FORMAT_VERSION} only"
    )


def _check_entry_sizes(path: Path) -> None:
    """Refuse object arrays and size lies before numpy allocates anything.

    A tampered ``.npy`` header could claim a shape of terabytes; checking it
    against the entry's stored size keeps a bad file from exhausting memory.
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            with archive.open(info) as entry:
                version = np.lib.format.read_magic(entry)
                if version == (1, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(entry)
                else:
                    shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(entry)
                header_length = entry.tell()
            if dtype.hasobject:
                raise ModelFileError(
                    f"{path}: array {name!r} holds pickled Python objects (dtype {dtype}); "
                    "tripletrec never unpickles, so this file was not written by tripletrec "
                    "or was tampered with"
                )
            expected = math.prod(shape) * dtype.itemsize
            if info.file_size - header_length != expected:
                raise ModelFileError(
                    f"{path}: array {name!r} claims shape {shape} of {dtype} "
                    f"({expected} bytes) but its entry holds "
                    f"{info.file_size - header_length} bytes; the file is corrupted"
                )


def load_arrays(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a model file written by :func:`save_arrays`, verifying everything.

    Parameters
    ----------
    path : str or os.PathLike
        The file exactly as named (no suffix is added).

    Returns
    -------
    header : dict
        The caller's header plus ``format``, ``format_version``,
        ``library_version``, ``arrays`` and ``checksum``.
    arrays : dict of str -> ndarray

    Raises
    ------
    FileNotFoundError
        No file at ``path`` (the message names it).
    ModelFileError
        The file is not a zip archive, is truncated, fails the zip CRC or the
        sha256 checksum, holds a pickled object array, has no tripletrec
        header, or has a format version other than :data:`FORMAT_VERSION`.
        Nothing from the file is ever executed.
    """
    path = Path(path)
    if not path.is_file():
        hint = ""
        if path.suffix != ".npz" and _model_path(path).is_file():
            hint = f" (did you mean {_model_path(path)}?)"
        if path.exists():
            raise ModelFileError(f"{path} is not a regular file")
        raise FileNotFoundError(f"no model file at {path}{hint}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a tripletrec model file: it is not an .npz (zip) archive, "
            "or it is truncated"
        )
    try:
        _check_entry_sizes(path)
        with np.load(path, allow_pickle=False) as archive:
            names = [name for name in archive.files if name != HEADER_ENTRY]
            if HEADER_ENTRY not in archive.files:
                raise ModelFileError(
                    f"{path} is an .npz archive but not a tripletrec model file "
                    f"(it has no {HEADER_ENTRY!r} entry; it holds {sorted(names)[:5]})"
                )
            header = _read_header(archive, path)
            _check_version(header, path)
            listed = header.get("arrays")
            if not isinstance(listed, list) or sorted(listed) != sorted(names):
                raise ModelFileError(
                    f"{path}: the header lists arrays {listed!r} but the file holds "
                    f"{sorted(names)!r}; the file is corrupted or was modified"
                )
            arrays = {name: archive[name] for name in names}
    except ModelFileError:
        raise
    except zipfile.BadZipFile as error:
        raise ModelFileError(
            f"{path} is corrupted: the zip archive is damaged ({error})"
        ) from error
    except Exception as error:
        # Anything numpy or zipfile trips over in a damaged file; with
        # allow_pickle=False none of it can run code from the file.
        raise ModelFileError(
            f"{path} is corrupted or not a tripletrec model file "
            f"({type(error).__name__}: {error})"
        ) from error
    stored = header.get("checksum")
    without_checksum = {key: value for key, value in header.items() if key != "checksum"}
    if stored != _checksum(without_checksum, arrays):
        raise ModelFileError(
            f"{path} failed its checksum: the arrays or header were modified after "
            "saving, or the file is corrupted"
        )
    return header, arrays

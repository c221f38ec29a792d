"""The model file: one ``.npz`` of plain arrays plus a JSON header.

A model file is a zip archive that :func:`numpy.load` reads with
``allow_pickle=False``: one ``.npy`` entry per array (parameters, id maps as
integer or fixed-width unicode arrays) and one entry ``__header__``, a uint8
array holding UTF-8 JSON. The header carries

* ``format``: ``"tripletrec-model"``;
* ``format_version``: :data:`FORMAT_VERSION` of the writer;
* ``library_version``: the tripletrec version that wrote the file;
* ``arrays``: the names of the stored arrays;
* ``array_layout``: each array's ``dtype`` (as :func:`numpy.lib.format.dtype_to_descr`
  writes it) and ``shape``, so that a reader knows how many bytes every entry
  must inflate to before it inflates any (see :func:`load_arrays`);
* ``checksum``: ``"sha256:<hex>"`` over the rest of the header and every
  array's name, dtype, shape and bytes;
* whatever the caller adds (model class, hyperparameters, training history).

Nothing in a model file is ever unpickled or executed: object arrays are
refused on save, and a file holding one is refused on load. Saving writes a
temporary file in the destination folder, flushes it to disk and renames it
over the destination, so a crash leaves either the old file or the new one,
never half of one; it refuses to replace a read-only file, keeps the
permission bits of a file it replaces, and removes the temporary files that
earlier saves to the same destination left behind when they were killed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import stat
import sys
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from ._version import __version__

__all__ = ["FORMAT_VERSION", "ModelFileError", "load_arrays", "save_arrays"]

#: Version of the layout written by :func:`save_arrays`; :func:`load_arrays`
#: reads exactly this version.
FORMAT_VERSION = 1

FORMAT_NAME = "tripletrec-model"
HEADER_ENTRY = "__header__"
RESERVED_HEADER_KEYS = ("format", "format_version", "library_version", "arrays", "array_layout", "checksum")
_ARRAY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

#: The most array bytes one model file may declare, all arrays together
#: (1 TiB). :func:`load_arrays` refuses a header declaring more before it
#: allocates anything, and :func:`save_arrays` refuses to write such a file.
MAX_MODEL_BYTES = 1 << 40

#: The largest ``__header__`` entry :func:`load_arrays` reads (64 MiB of
#: JSON: hyperparameters, a training history, metadata).
MAX_HEADER_BYTES = 64 << 20

# A .npy entry is its array's bytes after a preamble: 6 magic bytes, 2
# version bytes, a 2- or 4-byte length and the header dict (numpy reads at
# most 10,000 bytes of it, and pads the whole preamble to 64 bytes). An entry
# whose declared size is not within these bounds of what the JSON header's
# layout implies is refused before it is opened.
_NPY_PREAMBLE_MIN = 10
_NPY_PREAMBLE_MAX = 6 + 2 + 4 + 10_000 + 64

# numpy refuses more dimensions than this.
_MAX_DIMENSIONS = 64

#: A temporary file of an earlier save to the same destination is removed by
#: the next save once it has not been written to for this many seconds
#: (15 minutes): a live save writes its temporary file continuously.
STALE_TEMPORARY_SECONDS = 15 * 60


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
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _checksum(header_without_checksum: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    digest.update(_canonical_json(header_without_checksum).encode("utf-8"))
    for name in sorted(arrays):
        array = arrays[name]
        described = json.dumps([name, np.lib.format.dtype_to_descr(array.dtype), list(array.shape)])
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
    total = sum(array.nbytes for array in checked.values())
    if total > MAX_MODEL_BYTES:
        raise ValueError(
            f"the arrays hold {total} bytes, more than the {MAX_MODEL_BYTES} bytes "
            "(MAX_MODEL_BYTES) a model file may hold"
        )
    return checked


def _build_header(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict:
    if not isinstance(header, Mapping):
        raise ValueError(f"header must be a dict, got {type(header).__name__}")
    reserved = sorted(key for key in header if key in RESERVED_HEADER_KEYS)
    if reserved:
        raise ValueError(
            f"header key {reserved[0]!r} is reserved (the file format sets {', '.join(RESERVED_HEADER_KEYS)})"
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
        "array_layout": {
            name: {"dtype": np.lib.format.dtype_to_descr(array.dtype), "shape": list(array.shape)}
            for name, array in arrays.items()
        },
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


def _temporary_name(target: Path) -> str:
    return f".{target.name}.{secrets.token_hex(8)}.tmp"


def _remove_stale_temporaries(folder: Path, target: Path) -> None:
    """Remove temporary files that killed saves to ``target`` left behind.

    Only names :func:`_temporary_name` makes for this very target, only
    regular files, and only those untouched for
    :data:`STALE_TEMPORARY_SECONDS` (a save in progress keeps writing its
    file, so it is never that old). Best effort: a file that vanishes or
    cannot be removed is left to the next save.
    """
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9a-f]{{16}}\.tmp$")
    stale_before = time.time() - STALE_TEMPORARY_SECONDS
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not pattern.match(name):
            continue
        candidate = folder / name
        try:
            status = os.lstat(candidate)
            if stat.S_ISREG(status.st_mode) and status.st_mtime < stale_before:
                os.unlink(candidate)
        except OSError:
            continue


def _replaced_mode(path: Path) -> int | None:
    """The permission bits of the file ``path`` replaces (None if there is none).

    Raises ``PermissionError`` when the file is read-only for us, judged by
    its mode bits alone (owner bits if we own it, group bits if we are in its
    group, other bits otherwise), so that root is refused as everyone else
    is: ``os.access`` always says yes to root.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        # os.replace reports a folder in the way; nothing to keep.
        return None
    if hasattr(os, "geteuid"):
        if status.st_uid == os.geteuid():
            write_bit = stat.S_IWUSR
        elif status.st_gid == os.getegid() or status.st_gid in os.getgroups():
            write_bit = stat.S_IWGRP
        else:
            write_bit = stat.S_IWOTH
        writable = bool(status.st_mode & write_bit)
    else:
        writable = bool(status.st_mode & stat.S_IWRITE)
    if not writable:
        raise PermissionError(
            f"{path} is read-only (mode {stat.filemode(status.st_mode)}); tripletrec does not "
            "replace a read-only file: make it writable or remove it first"
        )
    return stat.S_IMODE(status.st_mode) & 0o777


def save_arrays(path: str | os.PathLike, header: Mapping[str, Any], arrays: Mapping[str, Any]) -> Path:
    """Write ``arrays`` and a JSON ``header`` to one ``.npz`` model file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. A name that does not end in ``.npz`` gets ``.npz``
        appended (as :func:`numpy.savez` does); the returned path is the file
        actually written. An existing file is replaced atomically and keeps
        its permission bits; a read-only one is refused (see Raises).
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
    PermissionError
        When ``path`` exists and is read-only for us, as ``cp`` refuses it.
        Only the mode bits decide (the owner bits if we own the file, the
        group bits if we are in its group, the other bits otherwise), so root
        is refused like anyone else. The file is left untouched.
    OSError
        When the folder cannot be written; no temporary file is left.

    Notes
    -----
    The file is written to a hidden temporary file
    ``.<name>.<16 hex digits>.tmp`` in the same folder, flushed to disk and
    renamed over ``path``; every failure removes it. A save killed outright
    (``SIGKILL``, power loss) cannot, so each save first removes the
    temporary files of earlier saves to the same ``path``: only names of that
    exact pattern for that name, only regular files, and only those not
    modified for :data:`STALE_TEMPORARY_SECONDS` (15 minutes), since a save
    still running keeps writing to its own. Temporary files of other
    destinations are never touched.

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
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save {path}: the folder {folder} does not exist")
    kept_mode = _replaced_mode(path)
    _remove_stale_temporaries(folder, path)
    temporary = folder / _temporary_name(path)
    # O_EXCL: never write through somebody else's file; 0o666 lets the umask
    # decide the permissions of a new file, as for any new file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, array in [(HEADER_ENTRY, header_bytes), *sorted(arrays.items())]:
                    with archive.open(name + ".npy", mode="w", force_zip64=True) as entry:
                        np.lib.format.write_array(entry, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        if kept_mode is not None:
            # Replacing must not widen or narrow who may read the model.
            os.chmod(temporary, kept_mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)
    return path


class _Declared(NamedTuple):
    """One array as the header's ``array_layout`` declares it."""

    dtype: np.dtype
    shape: tuple[int, ...]
    nbytes: int


def _read_preamble(entry: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    """The shape and dtype of an open ``.npy`` entry and its preamble's length.

    Reads the preamble only (numpy reads at most 10,000 bytes of header), never
    the array's data.
    """
    version = np.lib.format.read_magic(entry)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(entry)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(entry)
    return shape, dtype, entry.tell()


def _read_header(archive: zipfile.ZipFile, path: Path) -> dict:
    try:
        info = archive.getinfo(HEADER_ENTRY + ".npy")
    except KeyError:
        held = sorted(name[:-4] if name.endswith(".npy") else name for name in archive.namelist())
        raise ModelFileError(
            f"{path} is an .npz archive but not a tripletrec model file "
            f"(it has no {HEADER_ENTRY!r} entry; it holds {held[:5]})"
        ) from None
    too_large = ModelFileError(
        f"{path}: the header entry would inflate to {info.file_size} bytes, more than the "
        f"{MAX_HEADER_BYTES} bytes (MAX_HEADER_BYTES) of a tripletrec header; the file is "
        "corrupted or not a tripletrec model"
    )
    # Bounded before inflating: the header is the one entry no layout describes.
    if info.file_size > MAX_HEADER_BYTES + _NPY_PREAMBLE_MAX:
        raise too_large
    with archive.open(info) as entry:
        shape, dtype, preamble = _read_preamble(entry)
        if dtype != np.uint8 or len(shape) != 1 or info.file_size - preamble != shape[0]:
            raise ModelFileError(
                f"{path}: the header entry is {dtype} of shape {shape}, not UTF-8 bytes; "
                "the file is corrupted or not a tripletrec model"
            )
        if shape[0] > MAX_HEADER_BYTES:
            raise too_large
        raw = entry.read(shape[0])
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelFileError(f"{path}: the header is not valid UTF-8 JSON ({error}); the file is corrupted") from None
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


def _as_descr(value: Any) -> Any:
    # JSON turns the tuples of a structured dtype's descr into lists.
    if isinstance(value, list):
        return [tuple(_as_descr(part) for part in field) if isinstance(field, list) else field for field in value]
    return value


def _declared_layout(header: dict, path: Path) -> dict[str, _Declared] | None:
    """The arrays the header declares, checked for sense; None for a file without a layout.

    Refuses a shape whose element count does not fit an index (the product
    overflows) and a layout of more than :data:`MAX_MODEL_BYTES` in all,
    before anything is allocated.
    """
    layout = header.get("array_layout")
    if layout is None:
        return None
    listed = header.get("arrays")
    if (
        not isinstance(layout, dict)
        or not isinstance(listed, list)
        or not all(isinstance(name, str) for name in listed)
        or sorted(layout) != sorted(listed)
    ):
        raise ModelFileError(
            f"{path}: the header's array_layout does not describe exactly the arrays it lists "
            f"({sorted(listed)!r}); the file is corrupted or was modified"
        )
    declared = {}
    total = 0
    for name, spec in layout.items():
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if (
            not isinstance(shape, list)
            or len(shape) > _MAX_DIMENSIONS
            or not all(isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape)
        ):
            raise ModelFileError(
                f"{path}: the header declares array {name!r} with an invalid shape "
                f"{shape!r}; the file is corrupted or was modified"
            )
        try:
            dtype = np.lib.format.descr_to_dtype(_as_descr(spec.get("dtype")))
        except (TypeError, ValueError, KeyError) as error:
            raise ModelFileError(
                f"{path}: the header declares array {name!r} with an invalid dtype {spec.get('dtype')!r} ({error})"
            ) from None
        if dtype.hasobject:
            raise ModelFileError(
                f"{path}: the header declares array {name!r} of dtype {dtype}, which "
                "holds pickled Python objects; tripletrec never unpickles"
            )
        count = math.prod(shape)
        if count > sys.maxsize:
            raise ModelFileError(
                f"{path}: the header declares array {name!r} of shape {tuple(shape)}, "
                f"whose {count} elements overflow an index; the file is corrupted or "
                "was modified"
            )
        nbytes = count * dtype.itemsize
        total += nbytes
        if total > MAX_MODEL_BYTES:
            raise ModelFileError(
                f"{path}: the header declares array {name!r} of shape {tuple(shape)} of {dtype} "
                f"({nbytes} bytes), which brings the file past the {MAX_MODEL_BYTES} bytes "
                "(MAX_MODEL_BYTES) a tripletrec model file may hold; refused before allocating"
            )
        declared[name] = _Declared(dtype, tuple(shape), nbytes)
    return declared


def _check_entry_sizes(archive: zipfile.ZipFile, header: dict, path: Path) -> None:
    """Refuse object arrays and size lies before numpy allocates or inflates anything.

    Every entry must be a ``.npy`` array the header declares, and its size as
    the zip directory states it (``ZipInfo.file_size``, what it would inflate
    to) must be the declared array's bytes plus a bounded ``.npy`` preamble:
    a compressed entry that would inflate to gigabytes of zeros is refused
    from the directory alone, without inflating any of it. The preamble is
    then read (never the data) and must state exactly the declared dtype and
    shape. A file without ``array_layout`` may only hold uncompressed
    entries, whose bytes are really in the file.
    """
    layout = _declared_layout(header, path)
    file_size = path.stat().st_size
    seen: set[str] = set()
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise ModelFileError(
                f"{path}: entry {info.filename!r} is not a .npy array; the file is "
                "not a tripletrec model or was modified"
            )
        # An uncompressed entry's bytes must really be in the file, so that
        # what it declares bounds what reading it allocates.
        if info.compress_size > file_size or (
            info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size
        ):
            raise ModelFileError(
                f"{path}: entry {info.filename!r} declares {info.compress_size} stored and "
                f"{info.file_size} inflated bytes in a file of {file_size}; the zip directory is "
                "corrupted"
            )
        name = info.filename[:-4]
        if name in seen:
            raise ModelFileError(f"{path}: entry {info.filename!r} appears twice; the file was modified")
        seen.add(name)
        declared = None
        if name != HEADER_ENTRY and layout is not None:
            if name not in layout:
                raise ModelFileError(
                    f"{path}: entry {info.filename!r} is not declared by the header (it declares "
                    f"{sorted(layout)!r}); the file was modified"
                )
            declared = layout[name]
            if not (declared.nbytes + _NPY_PREAMBLE_MIN <= info.file_size <= declared.nbytes + _NPY_PREAMBLE_MAX):
                raise ModelFileError(
                    f"{path}: entry {info.filename!r} would inflate to {info.file_size} bytes but "
                    f"the header declares array {name!r} as shape {declared.shape} of "
                    f"{declared.dtype} ({declared.nbytes} bytes); refused without inflating it: "
                    "the file is corrupted or was modified"
                )
        elif name != HEADER_ENTRY and info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(
                f"{path}: entry {info.filename!r} is compressed but the header declares no "
                "array_layout to check its size against; tripletrec writes uncompressed entries, "
                "so the file was modified"
            )
        with archive.open(info) as entry:
            shape, dtype, preamble = _read_preamble(entry)
        if dtype.hasobject:
            raise ModelFileError(
                f"{path}: array {name!r} holds pickled Python objects (dtype {dtype}); "
                "tripletrec never unpickles, so this file was not written by tripletrec "
                "or was tampered with"
            )
        expected = math.prod(shape) * dtype.itemsize
        if info.file_size - preamble != expected:
            raise ModelFileError(
                f"{path}: array {name!r} claims shape {shape} of {dtype} "
                f"({expected} bytes) but its entry holds "
                f"{info.file_size - preamble} bytes; the file is corrupted"
            )
        if declared is not None and (dtype != declared.dtype or shape != declared.shape):
            raise ModelFileError(
                f"{path}: array {name!r} claims shape {shape} of {dtype} but the header declares "
                f"shape {declared.shape} of {declared.dtype}; the file is corrupted or was modified"
            )
    held = sorted(seen - {HEADER_ENTRY})
    listed = header.get("arrays")
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed) or sorted(listed) != held:
        raise ModelFileError(
            f"{path}: the header lists arrays {listed!r} but the file holds "
            f"{held!r}; the file is corrupted or was modified"
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
        ``library_version``, ``arrays``, ``array_layout`` and ``checksum``.
    arrays : dict of str -> ndarray

    Raises
    ------
    FileNotFoundError
        No file at ``path`` (the message names it).
    ModelFileError
        The file is not a zip archive, is truncated, fails the zip CRC or the
        sha256 checksum, holds a pickled object array, has no tripletrec
        header, or has a format version other than :data:`FORMAT_VERSION`.
        Before any array is read or inflated: an entry the header does not
        declare, an entry whose size in the zip directory is not what the
        header's ``array_layout`` implies (the message names the entry; a
        compressed "zip bomb" is refused without inflating it), a layout
        whose shapes overflow or that adds up to more than
        :data:`MAX_MODEL_BYTES`, or a header entry over
        :data:`MAX_HEADER_BYTES`. Nothing from the file is ever executed.

    Notes
    -----
    An entry's stated size may exceed its array's bytes by the ``.npy``
    preamble only: at least 10 and at most 10,076 bytes (magic, version,
    length and the at most 10,000-byte header numpy reads, padded to 64
    bytes); the preamble is then read and must state exactly the declared
    dtype and shape. A file whose header has no ``array_layout`` (written
    before layouts were recorded) is read only if every entry is stored
    uncompressed, as :func:`save_arrays` writes them.
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
            f"{path} is not a tripletrec model file: it is not an .npz (zip) archive, or it is truncated"
        )
    try:
        # The header and every entry's size are checked from the zip
        # directory and the .npy preambles before numpy reads any array.
        with zipfile.ZipFile(path) as zip_archive:
            header = _read_header(zip_archive, path)
            _check_version(header, path)
            _check_entry_sizes(zip_archive, header, path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in header["arrays"]}
    except ModelFileError:
        raise
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"{path} is corrupted: the zip archive is damaged ({error})") from error
    except Exception as error:
        # Anything numpy or zipfile trips over in a damaged file; with
        # allow_pickle=False none of it can run code from the file.
        raise ModelFileError(
            f"{path} is corrupted or not a tripletrec model file ({type(error).__name__}: {error})"
        ) from error
    stored = header.get("checksum")
    without_checksum = {key: value for key, value in header.items() if key != "checksum"}
    if stored != _checksum(without_checksum, arrays):
        raise ModelFileError(
            f"{path} failed its checksum: the arrays or header were modified after saving, or the file is corrupted"
        )
    return header, arrays

"""Where MovieLens archives come from: the registry, the search and the downloader.

A variant's files are looked for, in this order:

1. an explicit ``path`` given by the caller (a zip archive, an extracted
   folder, or a folder holding either); when given, nothing else is searched
   and nothing is downloaded;
2. the folder(s) in the environment variable ``TRIPLETREC_DATA``
   (several folders may be joined with :data:`os.pathsep`);
3. the user cache, ``$XDG_CACHE_HOME/tripletrec`` or else
   ``~/.cache/tripletrec``;
4. a download of the GroupLens archive into the cache (base URL overridable
   with ``base_url=`` or ``TRIPLETREC_MIRROR``), written to a temporary file
   in the cache folder, verified against the archive's published checksum and
   only then moved into place with :func:`os.replace`.

An archive the user supplies (steps 1 and 2, or a copy put into the cache by
hand) is checked for structure -- the files a variant needs are present; the
loader then checks that every row parses and, with ``strict=True``, that the
row counts are the variant's -- but not for the download checksum, since
rebuilt copies of the same data differ byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import IO

from .variants import VARIANTS, Variant, get_variant

__all__ = [
    "DATA_ENV",
    "MIRROR_ENV",
    "DEFAULT_BASE_URL",
    "DatasetNotFoundError",
    "CorruptArchiveError",
    "DownloadError",
    "Variant",
    "VARIANTS",
    "ArchiveLocation",
    "SourceInfo",
    "get_variant",
    "default_cache_dir",
    "archive_url",
    "locate",
    "fetch",
    "describe_sources",
]

DATA_ENV = "TRIPLETREC_DATA"
MIRROR_ENV = "TRIPLETREC_MIRROR"
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens/"

_CHUNK_BYTES = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """No copy of a dataset was found and none could be downloaded.

    The message names the archive wanted, every place searched and, when a
    download was tried, why it failed.
    """


class CorruptArchiveError(ValueError):
    """An archive or extracted folder is damaged or is not the expected data.

    Raised for a download whose checksum differs from the published one, a
    file that is not a zip archive or is truncated, missing member files, a
    row that does not parse, or (with ``strict=True``) row counts that differ
    from the variant's. Nothing half-written is left in the cache.
    """


def default_cache_dir() -> Path:
    """The user cache: ``$XDG_CACHE_HOME/tripletrec``, else ``~/.cache/tripletrec``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "tripletrec"


def archive_url(variant: str | Variant, base_url: str | None = None) -> str:
    """URL of the variant's archive under ``base_url``.

    Parameters
    ----------
    variant : str or Variant
    base_url : str, optional
        Defaults to ``$TRIPLETREC_MIRROR``, else :data:`DEFAULT_BASE_URL`.
        Any scheme :func:`urllib.request.urlopen` reads works, ``file://``
        included.
    """
    entry = get_variant(variant)
    base = base_url or os.environ.get(MIRROR_ENV) or DEFAULT_BASE_URL
    return base.rstrip("/") + "/" + entry.archive


# ---------------------------------------------------------------- locations
@dataclass(frozen=True)
class ArchiveLocation:
    """Where a variant's files were found.

    Attributes
    ----------
    variant : Variant
    path : Path
        The zip archive, or the folder holding the files.
    is_zip : bool
    member_prefix : str
        Inside a zip archive, the folder the files sit in (``"ml-100k/"``).
    origin : {"path", "TRIPLETREC_DATA", "cache", "download"}
        Which step of the search found it.
    """

    variant: Variant
    path: Path
    is_zip: bool
    member_prefix: str
    origin: str

    def where(self, name: str) -> str:
        """Human-readable place of file ``name`` (for messages)."""
        if self.is_zip:
            return f"{self.path}:{self.member_prefix}{name}"
        return str(self.path / name)

    def has(self, name: str) -> bool:
        """True when file ``name`` is present."""
        if self.is_zip:
            with _open_zip(self.path) as archive:
                return _has_member(archive, self.member_prefix + name)
        return (self.path / name).is_file()

    def _require(self, name: str) -> None:
        if not self.has(name):
            raise CorruptArchiveError(
                f"{self.where(name)} is missing: the {self.variant.name} data at {self.path} has no {name}"
            )

    def size(self, name: str) -> int:
        """Uncompressed size of file ``name`` in bytes."""
        self._require(name)
        if self.is_zip:
            with _open_zip(self.path) as archive:
                return archive.getinfo(self.member_prefix + name).file_size
        return (self.path / name).stat().st_size

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """Binary stream of file ``name``.

        Raises
        ------
        CorruptArchiveError
            When the file is missing, or the archive turns out damaged or
            truncated while it is read.
        """
        self._require(name)
        if not self.is_zip:
            with open(self.path / name, "rb") as stream:
                yield stream
            return
        try:
            with zipfile.ZipFile(self.path) as archive:
                with archive.open(self.member_prefix + name) as stream:
                    yield stream
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise CorruptArchiveError(
                f"{self.where(name)} cannot be read ({error}): the archive is damaged "
                "or truncated; delete it and fetch it again"
            ) from error

    def read(self, name: str) -> bytes:
        """The whole content of file ``name``."""
        with self.open(name) as stream:
            return stream.read()


@contextmanager
def _open_zip(path: Path, label: str | None = None) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError) as error:
        raise CorruptArchiveError(
            f"{label or path} is not a readable zip archive ({error}): it is truncated, damaged or another kind of file"
        ) from error
    with archive:
        yield archive


def _has_member(archive: zipfile.ZipFile, member: str) -> bool:
    try:
        archive.getinfo(member)
    except KeyError:
        return False
    return True


def _zip_location(path: Path, entry: Variant, origin: str, label: str | None = None) -> ArchiveLocation:
    """Check a zip archive's structure; find the folder its files sit in.

    ``label`` names the archive in messages (a URL for a download).
    """
    label = label or str(path)
    with _open_zip(path, label) as archive:
        names = archive.namelist()
    ratings = entry.ratings_file
    prefixes = sorted(
        (name[: -len(ratings)] for name in names if name == ratings or name.endswith("/" + ratings)),
        key=len,
    )
    if not prefixes:
        raise CorruptArchiveError(
            f"{label} holds no {ratings}: it is not a MovieLens {entry.name} archive "
            f"(that needs {', '.join(entry.required_files)})"
        )
    prefix = prefixes[0]
    missing = [name for name in entry.required_files if prefix + name not in names]
    if missing:
        raise CorruptArchiveError(
            f"{label} lacks {', '.join(prefix + name for name in missing)}: a "
            f"{entry.name} archive needs {', '.join(entry.required_files)}"
        )
    return ArchiveLocation(entry, path, True, prefix, origin)


def _folder_location(folder: Path, entry: Variant, origin: str) -> ArchiveLocation:
    """Check an extracted folder's structure."""
    missing = [name for name in entry.required_files if not (folder / name).is_file()]
    if missing:
        raise CorruptArchiveError(
            f"{folder} lacks {', '.join(missing)}: an extracted {entry.name} folder "
            f"needs {', '.join(entry.required_files)}"
        )
    return ArchiveLocation(entry, folder, False, "", origin)


def _candidates(folder: Path, entry: Variant) -> list[Path]:
    """Where, inside ``folder``, a copy of ``entry`` may sit (for messages too)."""
    names = [entry.archive, entry.folder]
    if entry.name != entry.folder:
        names.append(entry.name)
    return [folder / name for name in names]


def _look_in(folder: Path, entry: Variant, origin: str) -> ArchiveLocation | None:
    for candidate in _candidates(folder, entry):
        if candidate.suffix == ".zip" and candidate.is_file():
            return _zip_location(candidate, entry, origin)
        if candidate.suffix != ".zip" and candidate.is_dir():
            return _folder_location(candidate, entry, origin)
    return None


def _from_explicit_path(path: Path, entry: Variant) -> ArchiveLocation:
    if path.is_file():
        return _zip_location(path, entry, "path")
    if path.is_dir():
        if (path / entry.ratings_file).is_file():
            return _folder_location(path, entry, "path")
        found = _look_in(path, entry, "path")
        if found is not None:
            return found
        looked = ", ".join(str(p) for p in [path / entry.ratings_file, *_candidates(path, entry)])
        raise DatasetNotFoundError(f"MovieLens {entry.name} not found in path={str(path)!r}: looked for {looked}")
    raise DatasetNotFoundError(
        f"MovieLens {entry.name}: path={str(path)!r} does not exist (give a "
        f"{entry.archive} file, an extracted {entry.folder} folder or a folder holding one)"
    )


def _search_folders(cache_dir: Path | None) -> list[tuple[str, Path]]:
    folders = []
    for part in os.environ.get(DATA_ENV, "").split(os.pathsep):
        if part.strip():
            folders.append((DATA_ENV, Path(part).expanduser()))
    folders.append(("cache", Path(cache_dir) if cache_dir is not None else default_cache_dir()))
    return folders


def _search(entry: Variant, cache_dir: Path | None) -> tuple[ArchiveLocation | None, list[str]]:
    """Search TRIPLETREC_DATA and the cache; also return what was looked at."""
    looked: list[str] = []
    if not os.environ.get(DATA_ENV, "").strip():
        looked.append(f"{DATA_ENV} (not set)")
    for origin, folder in _search_folders(cache_dir):
        label = f"{DATA_ENV}={folder}" if origin == DATA_ENV else f"cache {folder}"
        found = _look_in(folder, entry, origin)
        if found is not None:
            return found, looked
        names = ", ".join(p.name + ("" if p.suffix == ".zip" else "/") for p in _candidates(folder, entry))
        looked.append(f"{label} (no {names})")
    return None, looked


def locate(
    variant: str | Variant,
    path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
) -> ArchiveLocation:
    """Find a variant's files, downloading the archive when needed.

    Parameters
    ----------
    variant : str or Variant
        E.g. ``"ml-100k"``.
    path : str or PathLike, optional
        A zip archive, an extracted folder, or a folder holding either. When
        given it is the only place looked at and nothing is downloaded.
    download : bool
        Download into the cache when no copy is found.
    progress : bool
        Show a tqdm progress bar while downloading.
    cache_dir : str or PathLike, optional
        Overrides :func:`default_cache_dir`.
    base_url : str, optional
        Where to download from; see :func:`archive_url`.

    Returns
    -------
    ArchiveLocation

    Raises
    ------
    ValueError
        Unknown variant.
    DatasetNotFoundError
        Nothing found (and the download, if tried, failed): one message naming
        the archive wanted and every place searched.
    CorruptArchiveError
        A copy was found but lacks files or is not a zip archive, or the
        download failed verification.
    """
    entry = get_variant(variant)
    if path is not None:
        return _from_explicit_path(Path(path).expanduser(), entry)
    found, looked = _search(entry, None if cache_dir is None else Path(cache_dir))
    if found is not None:
        return found
    url = archive_url(entry, base_url)
    places = "".join(f"\n  - {place}" for place in looked)
    wanted = f"MovieLens {entry.name} ({entry.archive} or an extracted {entry.folder}/ folder)"
    if not download:
        raise DatasetNotFoundError(
            f"{wanted} not found. Searched:{places}\nDownloading is off (download=False): "
            f"pass download=True to fetch {url}, or put {entry.archive} in {DATA_ENV} "
            "or pass path="
        )
    try:
        archive = fetch(entry, cache_dir=cache_dir, base_url=base_url, progress=progress)
    except DownloadError as error:
        raise DatasetNotFoundError(
            f"{wanted} not found. Searched:{places}\n  - download from {url} failed: "
            f"{error}\nPut {entry.archive} in {DATA_ENV}, pass path=, or set "
            f"{MIRROR_ENV} to a reachable mirror."
        ) from error
    return _zip_location(archive, entry, "download")


# --------------------------------------------------------------- download
class DownloadError(OSError):
    """The archive could not be fetched (network, HTTP status, missing file).

    :func:`locate` turns it into a :class:`DatasetNotFoundError` that also
    lists the places searched.
    """


def _expected_digest(entry: Variant, sha256: str | None) -> tuple[str, str]:
    if sha256 is not None:
        return "sha256", sha256.lower()
    if entry.sha256:
        return "sha256", entry.sha256
    if entry.md5:
        return "md5", entry.md5
    raise CorruptArchiveError(
        f"{entry.name}: no published checksum is known, so a download cannot be "
        "verified; pass sha256= or supply the archive yourself"
    )


def fetch(
    variant: str | Variant,
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download a variant's archive into the cache and verify it.

    The bytes go to a temporary file in the cache folder; only once their
    checksum matches and the zip holds the variant's files is the file moved
    to ``<cache_dir>/<archive>`` with :func:`os.replace`. On any failure the
    temporary file is removed, so the cache never holds a half-written entry.

    Parameters
    ----------
    variant : str or Variant
    cache_dir : str or PathLike, optional
        Defaults to :func:`default_cache_dir`.
    base_url : str, optional
        See :func:`archive_url`.
    sha256 : str, optional
        Expected sha256 of the archive; defaults to the registry's published
        checksum (sha256, or md5 where only that is published).
    progress : bool
        Show a tqdm progress bar (on stderr).
    timeout : float
        Seconds to wait for the server.

    Returns
    -------
    Path
        The verified archive in the cache.

    Raises
    ------
    DownloadError
        The server could not be reached or refused the file.
    CorruptArchiveError
        Checksum mismatch, truncated transfer, or not a zip archive of the
        variant.
    """
    import urllib.request

    from tqdm import tqdm

    entry = get_variant(variant)
    algorithm, expected = _expected_digest(entry, sha256)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    url = archive_url(entry, base_url)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / entry.archive
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{entry.archive}.", suffix=".part", delete=False)
    temporary = Path(handle.name)
    try:
        digest = hashlib.new(algorithm)
        received = 0
        with handle:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except (urllib.error.URLError, HTTPException, OSError, ValueError) as error:
                raise DownloadError(_reason(error)) from error
            with response:
                length_header = response.headers.get("Content-Length")
                expected_length = int(length_header) if length_header else None
                with tqdm(
                    total=expected_length,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=f"Downloading {entry.archive}",
                    disable=not progress,
                ) as bar:
                    while True:
                        try:
                            block = response.read(_CHUNK_BYTES)
                        except (HTTPException, OSError) as error:
                            raise CorruptArchiveError(
                                f"download of {url} broke off after {received:,} bytes "
                                f"({_reason(error)}); nothing was saved"
                            ) from error
                        if not block:
                            break
                        handle.write(block)
                        digest.update(block)
                        received += len(block)
                        bar.update(len(block))
        if expected_length is not None and received != expected_length:
            raise CorruptArchiveError(
                f"download of {url} is truncated: got {received:,} of {expected_length:,} bytes; nothing was saved"
            )
        actual = digest.hexdigest()
        if actual != expected:
            raise CorruptArchiveError(
                f"download of {url} has {algorithm} {actual}, expected {expected}: the "
                "file is corrupt or is not the official archive; nothing was saved"
            )
        _zip_location(temporary, entry, "download", label=f"download of {url}")
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()
    return target


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error) or type(error).__name__


# --------------------------------------------------------------- describe
@dataclass(frozen=True)
class SourceInfo:
    """Where a variant would be read from (for ``tripletrec datasets``).

    Attributes
    ----------
    variant : str
    status : {"found", "download", "broken"}
        Found locally, would be downloaded, or found but unreadable.
    origin : str
        ``"TRIPLETREC_DATA"`` or ``"cache"`` (where the copy is), or
        ``"download"``.
    location : str
        The archive or folder found, or the cache file a download would write.
    url : str
        Where a download would come from.
    detail : str
        For ``"broken"``: what is wrong.
    """

    variant: str
    status: str
    origin: str
    location: str
    url: str
    detail: str = ""

    def __str__(self) -> str:
        if self.status == "found":
            return f"{self.variant}: found in {self.origin}: {self.location}"
        if self.status == "broken":
            return f"{self.variant}: unreadable copy at {self.location}: {self.detail}"
        return f"{self.variant}: not found; would download {self.url} to {self.location}"


def describe_sources(
    variants: Sequence[str] | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
) -> list[SourceInfo]:
    """For each variant, where it was found or where it would be downloaded to.

    Searches ``TRIPLETREC_DATA`` and the cache as :func:`locate` does (reading
    only zip directories, not the data); downloads nothing.

    Parameters
    ----------
    variants : sequence of str, optional
        Default: every variant in :data:`VARIANTS`.
    cache_dir : str or PathLike, optional
    base_url : str, optional

    Returns
    -------
    list of SourceInfo
    """
    names = list(VARIANTS) if variants is None else list(variants)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    report = []
    for name in names:
        entry = get_variant(name)
        url = archive_url(entry, base_url)
        try:
            found, _ = _search(entry, cache)
        except CorruptArchiveError as error:
            origin, broken = _first_existing(entry, cache)
            report.append(SourceInfo(entry.name, "broken", origin, broken, url, str(error)))
            continue
        if found is not None:
            report.append(SourceInfo(entry.name, "found", found.origin, str(found.path), url))
        else:
            report.append(SourceInfo(entry.name, "download", "download", str(cache / entry.archive), url))
    return report


def _first_existing(entry: Variant, cache: Path) -> tuple[str, str]:
    """(origin, path) of the first copy the search would try to read."""
    for origin, folder in _search_folders(cache):
        for candidate in _candidates(folder, entry):
            if candidate.exists():
                return origin, str(candidate)
    return "", ""

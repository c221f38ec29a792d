"""A last-resort place for numba's on-disk cache of tripletrec's kernels.

Every kernel is decorated ``@numba.njit(cache=True)``. Numba picks where a
function's cache lives when the decorator runs (``Dispatcher.enable_caching``
builds a ``FunctionCache``, whose ``CacheImpl`` tries each class of
``CacheImpl._locator_classes`` in turn and keeps the first whose directory it
can create and write a file in):

1. ``UserProvidedCacheLocator``: ``$NUMBA_CACHE_DIR`` (``numba.config.CACHE_DIR``),
   only if set;
2. ``InTreeCacheLocator``: the ``__pycache__`` folder next to the source file;
3. ``UserWideCacheLocator``: the user's cache folder (``$XDG_CACHE_HOME/numba``
   or ``~/.cache/numba`` on Linux);
4. ``IPythonCacheLocator`` and ``ZipCacheLocator``, for notebook cells and
   zipped sources.

If none works, for instance a read-only installation used by an account
without a writable home (a container, a service user), the decorator raises
``RuntimeError: cannot cache function ...: no locator available`` and
importing the models fails. :func:`install` appends one more locator,
:class:`TemporaryCacheLocator`, which numba tries only after all of its own
failed and which takes only tripletrec's own source files: a per-user folder
under :func:`tempfile.gettempdir`. The kernels then still load, and are
compiled once per boot of the machine (or per clearing of the temporary
folder) instead of once per installation.

A ``NUMBA_CACHE_DIR`` the user set still wins, since its locator comes first;
the list is left alone if ``NUMBA_CACHE_LOCATOR_CLASSES`` names the locators
explicitly. This module must be imported before any kernel module, which
``tripletrec.kernels`` (the kernels' package) does first thing.
"""

from __future__ import annotations

import os
import stat
import tempfile

from numba.core import caching

__all__ = ["TemporaryCacheLocator", "install", "temporary_cache_root"]

_PACKAGE_ROOT = os.path.dirname(os.path.abspath(__file__))
_private_root: str | None = None


def _user_tag() -> str:
    """A name for the current account that is safe in a path."""
    if hasattr(os, "getuid"):
        return str(os.getuid())
    import getpass  # Windows: no uid; the temporary folder is per user already

    try:
        return "".join(c if c.isalnum() else "_" for c in getpass.getuser())
    except (KeyError, OSError):  # no user name available at all
        return "user"


def _is_private_folder(path: str) -> bool:
    """Whether ``path`` is a real folder that only the current user can write.

    The cache holds pickles that numba loads, so a folder someone else could
    have created, or could write to, would let them run code in this process.
    """
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):  # a symlink or a file squatting the name
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return os.name == "nt" or info.st_mode & 0o022 == 0


def temporary_cache_root() -> str:
    """The folder :class:`TemporaryCacheLocator` caches under, created if needed.

    ``<tempdir>/tripletrec-numba-cache-<uid>``, mode 0700, shared by this
    user's processes so the kernels compile once rather than once per process.
    If that name is taken by something this user does not own alone, a fresh
    private folder for this process is used instead (compiled kernels are
    then not shared between processes).

    Returns
    -------
    str
        An existing folder that only the current user can write.

    Raises
    ------
    OSError
        If no folder can be created in the temporary folder.
    """
    global _private_root
    shared = os.path.join(tempfile.gettempdir(), f"tripletrec-numba-cache-{_user_tag()}")
    try:
        os.mkdir(shared, 0o700)
    except FileExistsError:
        pass
    except OSError:
        shared = ""
    if shared and _is_private_folder(shared):
        return shared
    if _private_root is None or not os.path.isdir(_private_root):
        _private_root = tempfile.mkdtemp(prefix="tripletrec-numba-cache-")
    return _private_root


# numba's locator bases are private; if a later numba renames them, the
# fallback is skipped (install() does nothing) instead of breaking the import.
_BASES = tuple(
    base
    for base in (getattr(caching, "_SourceFileBackedLocatorMixin", None), getattr(caching, "_CacheLocator", None))
    if base is not None
)
if len(_BASES) != 2:  # pragma: no cover - only on an unknown numba
    _BASES = (object,)


class TemporaryCacheLocator(*_BASES):
    """Cache tripletrec's kernels in a per-user temporary folder.

    Numba tries this locator only when its own ones cannot write, and it
    accepts only functions defined in tripletrec's source files, so other
    libraries' numba functions keep numba's behaviour.
    """

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        # The same sub-path scheme as numba's user-wide cache: one folder per
        # source folder, so two installations of tripletrec never collide.
        self._cache_path = os.path.join(temporary_cache_root(), self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        """Return the folder this function's cache files go in."""
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        """Return a locator for ``py_func``, or None if it is not tripletrec's or nothing is writable."""
        try:
            inside = os.path.commonpath([os.path.abspath(py_file), _PACKAGE_ROOT]) == _PACKAGE_ROOT
        except ValueError:  # on different Windows drives
            inside = False
        if not inside:
            return None
        try:
            return super().from_function(py_func, py_file)
        except OSError:  # temporary_cache_root() could not create a folder
            return None


def install() -> None:
    """Append :class:`TemporaryCacheLocator` to numba's locators, once.

    It goes last, so it only ever catches what numba's own locators (and an
    explicit ``NUMBA_CACHE_DIR``) could not. The list is numba's class
    attribute, shared by every cache implementation, and is changed in place.
    """
    # Private numba API (numba 0.68's numba/core/caching.py); if a later numba
    # moves it, skip the fallback rather than break the import.
    locators = getattr(getattr(caching, "CacheImpl", None), "_locator_classes", None)
    if _BASES != (object,) and isinstance(locators, list) and TemporaryCacheLocator not in locators:
        locators.append(TemporaryCacheLocator)


install()

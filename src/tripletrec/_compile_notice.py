"""One line on stderr while a group of kernels is being compiled.

The first fit after installing waits many seconds while numba compiles the
kernels, with nothing on screen. This module listens to numba's
``"numba:compile"`` event, which ``Dispatcher.compile`` triggers only after
the on-disk cache had nothing for the signature (a cache hit returns before
it), and prints, the first time a kernel of a group compiles in this
process::

    tripletrec: compiling the training kernels, once per installation (about 7 s on 2 cores)

A *group* is a module of :mod:`tripletrec.kernels` (``training``, ``ranking``,
``topk``, ``fold_in``, ...). Only the outermost compilation counts: kernels
that another group's kernel calls are compiled inside that compilation and
are announced as part of it. No call site needs to know about this; the
listener is registered when :mod:`tripletrec.kernels` is imported.

Set ``TRIPLETREC_QUIET=1`` to silence it; nothing is printed under
``NUMBA_DISABLE_JIT=1`` (nothing compiles then). The time given is what
``benchmarks/first_run.py`` measured for the group's first use on a 2-core
machine (AMD EPYC, numba 0.68): a guide, not a promise; remeasure when the
kernels change. The ranking (``evaluate``) and top-k (``recommend``) groups
compile only for workloads above their numpy size rules
(:func:`tripletrec.metrics.evaluate`,
:data:`tripletrec.serving.exact.NUMPY_SELECTION_MAX_SCORES`), which
MovieLens 100k is not: their times were measured on a synthetic 2,100 users x
2,048 items instead.
"""

from __future__ import annotations

import os
import sys

import numba
from numba.core import event

__all__ = ["CompileNotice", "install", "quiet"]

_KERNELS_PACKAGE = "tripletrec.kernels."

# What each group serves, in the user's words (a module not listed is named as
# is), and the seconds its first use compiled for on 2 cores (first_run.py;
# ranking and topk above their numpy size rules, see the module docstring).
_LABELS = {
    "training": ("training", 7),
    "feature_training": ("side-feature training", 7),
    "fold_in": ("fold-in (recommend_new)", 10),
    "ranking": ("evaluation", 7),
    "topk": ("top-k (recommend)", 3),
    "planted_sampling": ("synthetic data", None),
    "text": ("MovieLens parser", 2),
}


def quiet() -> bool:
    """Whether the notice is switched off (``TRIPLETREC_QUIET`` set to anything but ``""``/``0``)."""
    return os.environ.get("TRIPLETREC_QUIET", "").strip() not in ("", "0")


def _group_of(data) -> str | None:
    """The kernels' module a ``numba:compile`` event is about, or None if not tripletrec's."""
    dispatcher = data.get("dispatcher") if isinstance(data, dict) else None
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
    if not module.startswith(_KERNELS_PACKAGE):
        return None
    return module[len(_KERNELS_PACKAGE) :]


class CompileNotice(event.Listener):
    """Print a line when a kernel group starts compiling, once per group.

    Parameters
    ----------
    stream : file-like, optional
        Where to write; ``sys.stderr`` at the time of writing by default (so
        that redirections, e.g. pytest's capture, are honoured).
    """

    def __init__(self, stream=None):
        self._stream = stream
        self.announced: set[str] = set()
        # Compilations nest (a kernel's callees compile while it is typed); they
        # all run under numba's global compiler lock, so one counter suffices.
        self._depth = 0

    def on_start(self, event):
        """Announce ``event``'s group if this is its first outermost compilation."""
        group = _group_of(event.data)
        if group is None:
            return
        self._depth += 1
        if self._depth > 1 or group in self.announced:
            return
        self.announced.add(group)
        if quiet():
            return
        stream = self._stream if self._stream is not None else sys.stderr
        label, seconds = _LABELS.get(group, (group, None))
        estimate = "" if seconds is None else f" (about {seconds} s on 2 cores)"
        try:
            stream.write(f"tripletrec: compiling the {label} kernels, once per installation{estimate}\n")
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed or missing stderr: never break a fit
            pass

    def on_end(self, event):
        """Leave a compilation of one of tripletrec's kernels."""
        if _group_of(event.data) is not None:
            self._depth -= 1


_listener: CompileNotice | None = None


def install() -> CompileNotice | None:
    """Register the process's one :class:`CompileNotice`; return it (None without the JIT)."""
    global _listener
    if numba.config.DISABLE_JIT:
        return None
    if _listener is None:
        _listener = CompileNotice()
        event.register("numba:compile", _listener)
    return _listener


install()

"""Thread counts for the kernels, and safe entry into numba's parallel ones.

Most kernels run serial ``nogil`` code on Python threads
(:mod:`tripletrec.kernels.threads`), as many as ``numba.get_num_threads()``
says for the calling thread: :func:`kernel_threads` sets that for one call.
They may be called from several Python threads at once.

The synthetic-data sampler still uses numba's ``parallel=True``, which runs
on a threading layer. TBB and OpenMP accept calls from several Python threads
at once; ``workqueue``, numba's fallback when neither library is installed,
does not: a second concurrent call aborts the whole process ("Concurrent
access has been detected"). :func:`parallel_section` serialises entry into
such kernels while the layer is not known to be thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numba

__all__ = ["THREAD_SAFE_LAYERS", "kernel_threads", "parallel_section"]

#: numba threading layers that accept concurrent calls from Python threads.
THREAD_SAFE_LAYERS = ("tbb", "omp")

_ENTRY = threading.Lock()


@contextmanager
def kernel_threads(threads: int) -> Iterator[None]:
    """Run the body with numba's thread count of the calling thread set to ``threads``.

    Parameters
    ----------
    threads : int
        At most ``numba.config.NUMBA_NUM_THREADS``.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _layer_is_thread_safe() -> bool:
    try:
        return numba.threading_layer() in THREAD_SAFE_LAYERS
    except ValueError:
        # No parallel kernel has run yet, so no layer is chosen: the first
        # call (which chooses it) is serialised, whatever it turns out to be.
        return False


@contextmanager
def parallel_section(threads: int) -> Iterator[None]:
    """Run the body (one call of a ``parallel=True`` kernel) with ``threads`` threads, safely.

    Parameters
    ----------
    threads : int
        Threads for the kernel, at most ``numba.config.NUMBA_NUM_THREADS``.
    """
    serialise = not _layer_is_thread_safe()
    if serialise:
        _ENTRY.acquire()
    try:
        with kernel_threads(threads):
            yield
    finally:
        if serialise:
            _ENTRY.release()

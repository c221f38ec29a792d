"""Entering numba's parallel kernels safely from several Python threads.

numba runs ``parallel=True`` kernels on one of three threading layers. TBB
and OpenMP accept calls from several Python threads at once; ``workqueue``,
numba's fallback when neither library is installed, does not: a second
concurrent call aborts the whole process ("Concurrent access has been
detected"). A server answers requests from threads, so every call of a
parallel kernel goes through :func:`parallel_section`, which serialises
entry while the layer is not known to be thread-safe, and sets the kernel's
thread count (numba's setting is per calling thread) for the call.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import numba

__all__ = ["THREAD_SAFE_LAYERS", "parallel_section"]

#: numba threading layers that accept concurrent calls from Python threads.
THREAD_SAFE_LAYERS = ("tbb", "omp")

_ENTRY = threading.Lock()


def _layer_is_thread_safe() -> bool:
    try:
        return numba.threading_layer() in THREAD_SAFE_LAYERS
    except ValueError:
        # No parallel kernel has run yet, so no layer is chosen: the first
        # call (which chooses it) is serialised, whatever it turns out to be.
        return False


@contextmanager
def parallel_section(threads: int) -> Iterator[None]:
    """Run the body (one parallel kernel call) with ``threads`` threads, safely.

    Parameters
    ----------
    threads : int
        Threads for the kernel, at most ``numba.config.NUMBA_NUM_THREADS``.
    """
    serialise = not _layer_is_thread_safe()
    if serialise:
        _ENTRY.acquire()
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(threads)
        yield
    finally:
        numba.set_num_threads(previous)
        if serialise:
            _ENTRY.release()

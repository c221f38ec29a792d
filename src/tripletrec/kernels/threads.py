"""Running a serial ``nogil`` kernel over ranges of work on Python threads.

The kernels are compiled serial, with ``nogil=True``, and each parallel
entry point splits its work (users, chunks, rows, item ranges) into
disjoint ranges that threads run at once, instead of numba's
``parallel=True``:

* numba's parallel transform doubled the cold compile time of the kernels
  a first fit, evaluate and recommend use (measured on ml-100k with an empty
  cache: 32.9 s with ``parallel=True``, 20.3 s serial);
* it needs a threading layer, and ``workqueue`` (numba's fallback when
  neither TBB nor OpenMP is installed) aborts the process when two Python
  threads call a parallel kernel at once. Plain threads have no such layer:
  a server may call the kernels from many threads.

Ranges are handed out dynamically (more tasks than threads), so that a
thread the OS pauses does not hold up the whole call.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

__all__ = ["run_in_ranges"]


def run_in_ranges(kernel: Callable, n: int, arguments: tuple, tasks_per_thread: int = 4) -> None:
    """Call ``kernel(first, last, *arguments)`` over ranges covering ``0 .. n - 1``.

    Parameters
    ----------
    kernel : numba dispatcher compiled with ``nogil=True``
        Serial; must only write what its range owns.
    n : int
        The number of work items.
    arguments : tuple
        The kernel's other arguments, the same for every range.
    tasks_per_thread : int
        Ranges per thread (1: one contiguous range per thread, for kernels
        whose work items are already balanced, such as training chunks).

    Notes
    -----
    Uses ``numba.get_num_threads()`` threads (the caller sets it, per calling
    thread, with ``numba.set_num_threads``). With one thread the kernel runs
    once over everything, in the calling thread.
    """
    threads = max(1, min(numba.get_num_threads(), n))
    if threads == 1:
        kernel(np.int64(0), np.int64(n), *arguments)
        return
    n_tasks = min(n, threads * tasks_per_thread)
    bounds = np.linspace(0, n, n_tasks + 1).astype(np.int64)

    def run(task: int) -> Any:
        return kernel(bounds[task], bounds[task + 1], *arguments)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tripletrec-kernel") as pool:
        # list() waits for every range and re-raises the first error.
        list(pool.map(run, range(n_tasks)))

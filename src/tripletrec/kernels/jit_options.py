"""The numba options and float32 constants the compiled kernels share.

* ``FASTMATH``: reassociation lets LLVM vectorise the dot products (2.2x
  faster fold-in at dim 64); no ``nnan``/``ninf``, so that the Python layer
  still sees a NaN when training diverges.
* ``KERNEL_OPTIONS``: cached on disk, numpy's error model, and no
  reference-counting runtime (``_nrt=False``): the training kernels touch
  only arrays their caller allocated, and the hot loop pays no atomic
  reference-count updates (which cost more than a step's arithmetic and
  contend between threads).
* ``INTERNAL``: for functions only other kernels call: no Python entry point,
  so numba skips building and compiling its wrapper (a fifth of a first
  fit's compile time).
"""

from __future__ import annotations

import numpy as np

__all__ = ["FASTMATH", "KERNEL_OPTIONS", "NO_WRAPPER", "INTERNAL", "ZERO32", "ONE32"]

FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}
KERNEL_OPTIONS = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy", "_nrt": False}
NO_WRAPPER = {"no_cpython_wrapper": True}
INTERNAL = {**KERNEL_OPTIONS, **NO_WRAPPER}

ZERO32 = np.float32(0.0)
ONE32 = np.float32(1.0)

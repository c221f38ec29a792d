"""Compiled numba kernels: the inner loops the Python layer calls."""

# Before any kernel module runs its @njit(cache=True) decorators: numba picks
# the cache folder at decoration time, so the fallback must already be there.
from .. import _numba_cache  # noqa: F401  (isort: skip)
from .. import _compile_notice  # noqa: F401  (isort: skip)

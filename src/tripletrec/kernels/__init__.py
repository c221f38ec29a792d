"""Compiled numba kernels: the inner loops the Python layer calls."""

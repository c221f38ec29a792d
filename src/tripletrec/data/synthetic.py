"""Planted low-rank synthetic data (being written)."""


def synthetic(*args, **kwargs):
    raise NotImplementedError("synthetic() is being written")

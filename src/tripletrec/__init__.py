"""tripletrec: recommendations from implicit feedback with triplet ranking losses."""

from ._version import __version__
from .data import Dataset, Features, IdMap, Interactions, PlantedModel

__all__ = [
    "__version__",
    "Dataset",
    "Features",
    "IdMap",
    "Interactions",
    "PlantedModel",
]

_LAZY = {
    "evaluate": ".metrics",
    "Evaluation": ".metrics",
    "MatrixFactorization": ".models",
    "clone": ".models",
    "load": ".models",
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    # Submodules that pull in numba load on first use, keeping `import tripletrec` quick.
    import importlib

    if name in ("datasets", "split", "metrics", "models"):
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'tripletrec' has no attribute {name!r}")

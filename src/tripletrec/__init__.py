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


def __getattr__(name: str):
    # Submodules that pull in numba load on first use, keeping `import tripletrec` quick.
    if name in ("datasets", "split", "metrics"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tripletrec' has no attribute {name!r}")

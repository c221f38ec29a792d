"""tripletrec: recommendations from implicit feedback with triplet ranking losses.

The public names load on first use, so that ``import tripletrec`` stays
quick (the models and metrics compile numba kernels):

* data: :class:`Interactions`, :class:`IdMap`, :class:`Features`,
  :class:`Dataset`, and :mod:`tripletrec.data` (MovieLens, synthetic data,
  splits);
* models: :class:`MatrixFactorization`, :func:`load`, :func:`clone`;
* evaluation: :func:`evaluate`, :class:`Evaluation` (:mod:`tripletrec.metrics`),
  :func:`evaluate_cold_start` (:mod:`tripletrec.cold_start`).
"""

from ._version import __version__
from .data import Dataset, Features, IdMap, Interactions, PlantedModel

# Public name -> submodule that defines it, imported on first access.
_LAZY = {
    "evaluate": ".metrics",
    "Evaluation": ".metrics",
    "evaluate_cold_start": ".cold_start",
    "MatrixFactorization": ".models",
    "clone": ".models",
    "load": ".models",
}
_SUBMODULES = ("data", "cold_start", "metrics", "models", "serving", "testing", "io", "losses", "sampling")

__all__ = [
    "__version__",
    "Dataset",
    "Features",
    "IdMap",
    "Interactions",
    "PlantedModel",
    *_LAZY,
]


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tripletrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))

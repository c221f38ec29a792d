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

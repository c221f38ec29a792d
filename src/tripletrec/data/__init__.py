"""Data layer: the interaction container, datasets and splits."""

from .dataset import Dataset, Features, PlantedModel
from .interactions import IdMap, Interactions

__all__ = ["Dataset", "Features", "IdMap", "Interactions", "PlantedModel"]

"""The torch engine: neural models on tripletrec's common base (``pip install 'tripletrec[torch]'``).

Importing this package does not import torch: the models do, inside
``fit`` (an ``ImportError`` naming the extra when it is missing). A saved
model serves from its exported vectors without torch. The torch-only
modules are :mod:`tripletrec.torch.engine` and :mod:`tripletrec.torch.losses`.
"""

from .triplet_network import TripletNetwork
from .two_tower import TwoTower

__all__ = ["TripletNetwork", "TwoTower"]

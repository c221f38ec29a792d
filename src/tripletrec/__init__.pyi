# Type stub of the lazily loaded top-level names, for type checkers and editors.
from . import cold_start as cold_start
from . import data as data
from . import io as io
from . import losses as losses
from . import metrics as metrics
from . import models as models
from . import sampling as sampling
from . import serving as serving
from ._version import __version__ as __version__
from .cold_start import evaluate_cold_start as evaluate_cold_start
from .data import Dataset as Dataset
from .data import Features as Features
from .data import IdMap as IdMap
from .data import Interactions as Interactions
from .data import PlantedModel as PlantedModel
from .metrics import Evaluation as Evaluation
from .metrics import evaluate as evaluate
from .models import MatrixFactorization as MatrixFactorization
from .models import clone as clone
from .models import load as load

__all__ = [
    "__version__",
    "Dataset",
    "Features",
    "IdMap",
    "Interactions",
    "PlantedModel",
    "evaluate",
    "Evaluation",
    "evaluate_cold_start",
    "MatrixFactorization",
    "clone",
    "load",
]

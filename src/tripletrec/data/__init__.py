"""Data: the interaction container, side features, datasets and splits.

>>> from tripletrec.data import movielens, leave_k_out  # doctest: +SKIP
>>> data = movielens("ml-100k", split="ua", min_rating=4)  # doctest: +SKIP

The containers (:class:`Interactions`, :class:`IdMap`, :class:`Features`,
:class:`Dataset`) and the splits load at once; the dataset loaders
(MovieLens, synthetic data, archive sources), which compile numba kernels,
load on first use.

MovieLens archives are read from an explicit ``path``, else from the folder
in ``TRIPLETREC_DATA``, else from the user cache, else downloaded from
GroupLens into the cache (verified against the published checksum);
:func:`describe_sources` tells where each variant is or would come from.
The submodules: :mod:`.interactions`, :mod:`.dataset` (containers),
:mod:`.split`, :mod:`.movielens_reader`, :mod:`.sources` (archives and
downloads), :mod:`.planted` (synthetic data from a planted low-rank model),
:mod:`.features` (side features from raw values: :func:`categorical`,
:func:`tags`, :func:`bucketed`, :func:`text_tokens`; stacked with
:meth:`Features.concat`) and :mod:`.feature_sources` (:func:`from_dataframe`
for the columns of a table, :func:`movielens_features` for a hybrid model on
MovieLens).
"""

from .dataset import Dataset, Features, PlantedModel
from .interactions import IdMap, Interactions
from .split import cold_start_items, cold_start_users, leave_k_out, random_split, temporal_split

# Public name -> submodule that defines it, imported on first access.
_LAZY = {
    "movielens": ".movielens_reader",
    "read_movielens": ".movielens_reader",
    "GENRES_100K": ".movielens_reader",
    "OCCUPATIONS_1M": ".movielens_reader",
    "synthetic": ".planted",
    "categorical": ".features",
    "tags": ".features",
    "bucketed": ".features",
    "text_tokens": ".features",
    "TOKEN_PATTERN": ".features",
    "from_dataframe": ".feature_sources",
    "movielens_features": ".feature_sources",
    "MOVIELENS_AGE_EDGES": ".feature_sources",
    "MOVIELENS_TITLE_STOP_WORDS": ".feature_sources",
    "DATA_ENV": ".sources",
    "DEFAULT_BASE_URL": ".sources",
    "MIRROR_ENV": ".sources",
    "VARIANTS": ".sources",
    "ArchiveLocation": ".sources",
    "CorruptArchiveError": ".sources",
    "DatasetNotFoundError": ".sources",
    "DownloadError": ".sources",
    "SourceInfo": ".sources",
    "Variant": ".sources",
    "archive_url": ".sources",
    "default_cache_dir": ".sources",
    "describe_sources": ".sources",
    "fetch": ".sources",
    "get_variant": ".sources",
    "locate": ".sources",
}

__all__ = [
    "Dataset",
    "Features",
    "IdMap",
    "Interactions",
    "PlantedModel",
    "cold_start_items",
    "cold_start_users",
    "leave_k_out",
    "random_split",
    "temporal_split",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tripletrec.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

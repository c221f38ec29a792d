"""Datasets: MovieLens (every release, with its official splits) and synthetic data.

>>> from tripletrec import datasets
>>> data = datasets.movielens("ml-100k", split="ua", min_rating=4)  # doctest: +SKIP
>>> print(data.summary())  # doctest: +SKIP

MovieLens archives are read from an explicit ``path``, else from the folder
in ``TRIPLETREC_DATA``, else from the user cache, else downloaded from
GroupLens into the cache (verified against the published checksum);
:func:`describe_sources` tells where each variant is or would come from.
"""

from .data.movielens import GENRES_100K, OCCUPATIONS_1M, movielens, read_movielens
from .data.sources import (
    DATA_ENV,
    DEFAULT_BASE_URL,
    MIRROR_ENV,
    VARIANTS,
    ArchiveLocation,
    CorruptArchiveError,
    DatasetNotFoundError,
    DownloadError,
    SourceInfo,
    Variant,
    archive_url,
    default_cache_dir,
    describe_sources,
    fetch,
    get_variant,
    locate,
)
from .data.synthetic import synthetic

__all__ = [
    "movielens",
    "read_movielens",
    "synthetic",
    "VARIANTS",
    "Variant",
    "get_variant",
    "locate",
    "fetch",
    "describe_sources",
    "archive_url",
    "default_cache_dir",
    "ArchiveLocation",
    "SourceInfo",
    "DatasetNotFoundError",
    "CorruptArchiveError",
    "DownloadError",
    "DATA_ENV",
    "MIRROR_ENV",
    "DEFAULT_BASE_URL",
    "GENRES_100K",
    "OCCUPATIONS_1M",
]

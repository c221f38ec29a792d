"""The MovieLens registry: each release's archive, layout, sizes and checksum.

:data:`VARIANTS` maps a name (``"ml-100k"``, ``"ml-1m"``, ...) to its
:class:`Variant`; :mod:`tripletrec.data.sources` finds or downloads the
archive a variant names, and :mod:`tripletrec.data.movielens_reader` reads it
by the variant's layout.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Variant", "VARIANTS", "get_variant"]


@dataclass(frozen=True)
class Variant:
    """One MovieLens release: where it is served and what it holds.

    Attributes
    ----------
    name : str
        E.g. ``"ml-100k"``.
    archive : str
        File name of the GroupLens archive, e.g. ``"ml-100k.zip"``.
    folder : str
        The folder inside the archive, e.g. ``"ml-10M100K"`` for ml-10m.
    layout : {"100k", "dat", "csv"}
        File format: ml-100k's tab/pipe files, the ``::``-separated ``.dat``
        files of ml-1m and ml-10m, or the CSV files of later releases.
    ratings_file, movies_file : str
        Names of the ratings and movie files inside ``folder``.
    users_file : str or None
        Name of the demographics file, None where the variant has none.
    sha256, md5 : str or None
        Published checksum of the official archive; downloads are verified
        with ``sha256`` when known, else ``md5``.
    n_ratings : int
        Rows of ``ratings_file``, as the variant's README states.
    n_users : int
        Users, as the README states.
    n_movies : int
        Rows of ``movies_file``.
    users_check : {"users_file", "raters", None}
        How ``n_users`` is checked with ``strict=True``: rows of
        ``users_file``, distinct users in the ratings, or not at all (ml-10m's
        README counts 71,567 users, including users with tags but no rating).
    splits : tuple of str
        Official train/test splits (files ``<split>.base`` / ``<split>.test``).
    rating_scale : (float, float, float)
        ``(lowest, highest, step)`` of the star ratings, from the variant's
        README: whole stars 1 to 5 for ml-100k and ml-1m, half stars 0.5 to 5
        for ml-10m and later. A rating off the scale is refused as corrupt.
    """

    name: str
    archive: str
    folder: str
    layout: str
    ratings_file: str
    movies_file: str
    users_file: str | None
    sha256: str | None
    md5: str | None
    n_ratings: int
    n_users: int
    n_movies: int
    users_check: str | None
    splits: tuple[str, ...] = ()
    rating_scale: tuple[float, float, float] = (1.0, 5.0, 1.0)

    @property
    def required_files(self) -> tuple[str, ...]:
        """Files that must be present for the variant to load."""
        files = (self.ratings_file, self.movies_file)
        return files + ((self.users_file,) if self.users_file else ())

    def split_files(self, split: str) -> tuple[str, str]:
        """``(train file, test file)`` of an official split."""
        return f"{split}.base", f"{split}.test"


# Checksums of the GroupLens archives, each from a public source:
# - sha256 of ml-100k, ml-1m, ml-20m, ml-25m, ml-latest-small: TensorFlow
#   Datasets, tensorflow/datasets tensorflow_datasets/url_checksums/movielens.txt
#   (commit 1c076ac3c19c8ea83e1d1a75e0623c9a699e0d7c).
# - ml-10m has no sha256 in any source found; its md5 is the one in
#   eli-osherovich/papers_with_code datasets/movielens/dl_config.py (the same
#   file lists md5s for the other archives; GroupLens serves <archive>.md5).
# Row counts are the README's (ml-1m's movies.dat count, "approximately 3,900"
# in its README, is the file's 3,883 rows).
# ml-10m and later rate in half stars (their READMEs: "0.5 stars - 5.0 stars").
_HALF_STARS = (0.5, 5.0, 0.5)

VARIANTS: dict[str, Variant] = {
    "ml-100k": Variant(
        name="ml-100k",
        archive="ml-100k.zip",
        folder="ml-100k",
        layout="100k",
        ratings_file="u.data",
        movies_file="u.item",
        users_file="u.user",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        md5=None,
        n_ratings=100_000,
        n_users=943,
        n_movies=1_682,
        users_check="users_file",
        splits=("ua", "ub", "u1", "u2", "u3", "u4", "u5"),
    ),
    "ml-1m": Variant(
        name="ml-1m",
        archive="ml-1m.zip",
        folder="ml-1m",
        layout="dat",
        ratings_file="ratings.dat",
        movies_file="movies.dat",
        users_file="users.dat",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        md5=None,
        n_ratings=1_000_209,
        n_users=6_040,
        n_movies=3_883,
        users_check="users_file",
    ),
    "ml-10m": Variant(
        name="ml-10m",
        archive="ml-10m.zip",
        folder="ml-10M100K",
        layout="dat",
        ratings_file="ratings.dat",
        movies_file="movies.dat",
        users_file=None,
        sha256=None,
        md5="ce571fd55effeba0271552578f2648bd",
        n_ratings=10_000_054,
        n_users=71_567,
        n_movies=10_681,
        users_check=None,
        rating_scale=_HALF_STARS,
    ),
    "ml-20m": Variant(
        name="ml-20m",
        archive="ml-20m.zip",
        folder="ml-20m",
        layout="csv",
        ratings_file="ratings.csv",
        movies_file="movies.csv",
        users_file=None,
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        md5=None,
        n_ratings=20_000_263,
        n_users=138_493,
        n_movies=27_278,
        users_check="raters",
        rating_scale=_HALF_STARS,
    ),
    "ml-25m": Variant(
        name="ml-25m",
        archive="ml-25m.zip",
        folder="ml-25m",
        layout="csv",
        ratings_file="ratings.csv",
        movies_file="movies.csv",
        users_file=None,
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
        md5=None,
        n_ratings=25_000_095,
        n_users=162_541,
        n_movies=62_423,
        users_check="raters",
        rating_scale=_HALF_STARS,
    ),
    "ml-latest-small": Variant(
        name="ml-latest-small",
        archive="ml-latest-small.zip",
        folder="ml-latest-small",
        layout="csv",
        ratings_file="ratings.csv",
        movies_file="movies.csv",
        users_file=None,
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        md5=None,
        n_ratings=100_836,
        n_users=610,
        n_movies=9_742,
        users_check="raters",
        rating_scale=_HALF_STARS,
    ),
}


def get_variant(variant: str | Variant) -> Variant:
    """The registry entry of ``variant``.

    Raises
    ------
    ValueError
        If ``variant`` is not a known name; the message lists the valid ones.
    """
    if isinstance(variant, Variant):
        return variant
    try:
        return VARIANTS[variant]
    except (KeyError, TypeError):
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}") from None

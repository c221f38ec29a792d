"""MovieLens metadata: movie titles, years and genres, user demographics, as features.

The small movie and user files of every layout (see
:mod:`tripletrec.data.movielens_reader`) are read line by line here, and
their columns become :class:`~tripletrec.data.Features`; the ratings, which
need the compiled parser, stay in the reader.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from .dataset import Features
from .interactions import IdMap
from .sources import ArchiveLocation, CorruptArchiveError

__all__ = [
    "GENRES_100K",
    "OCCUPATIONS_1M",
    "NO_GENRE",
    "YEAR_IN_TITLE",
    "read_movies",
    "read_users",
    "numeric_features",
    "categorical_features",
]

# The 19 genre flags of u.item, in column order (ml-100k README and u.genre).
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

# Occupation codes of ml-1m's users.dat, from the ml-1m README.
OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care",
    "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

# Genre markers meaning "no genre": they get no column.
NO_GENRE = frozenset({"unknown", "(no genres listed)"})

_CSV_MOVIES_HEADER = ["movieId", "title", "genres"]
YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")


# ------------------------------------------------------ movies and users
def _decode(data: bytes) -> str:
    """UTF-8, else latin-1 (ml-100k and ml-1m are latin-1)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _lines(location: ArchiveLocation, name: str) -> list[tuple[int, str]]:
    text = _decode(location.read(name)).lstrip("\ufeff")
    return [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _bad_row(location: ArchiveLocation, name: str, number: int, line: str, expected: str):
    return CorruptArchiveError(f"{location.where(name)} line {number:,} does not parse: {line!r}; expected {expected}")


def read_movies(location: ArchiveLocation) -> tuple[np.ndarray, list[str], list[list[str]]]:
    """(movie ids int64, titles, genre names per movie)."""
    entry = location.variant
    name = entry.movies_file
    ids: list[int] = []
    titles: list[str] = []
    genres: list[list[str]] = []
    if entry.layout == "csv":
        text = _decode(location.read(name)).lstrip("\ufeff")
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header != _CSV_MOVIES_HEADER:
            raise CorruptArchiveError(
                f"{location.where(name)} line 1 is {header!r}; expected the header {','.join(_CSV_MOVIES_HEADER)!r}"
            )
        for row in reader:
            if not row:
                continue
            try:
                movie_id, title, genre_text = row
                ids.append(int(movie_id))
            except ValueError:
                raise _bad_row(location, name, reader.line_num, ",".join(row), "movieId,title,genres") from None
            titles.append(title)
            genres.append(genre_text.split("|") if genre_text else [])
        return np.array(ids, dtype=np.int64), titles, genres

    for number, line in _lines(location, name):
        if entry.layout == "100k":
            fields = line.split("|")
            flags = fields[5:]
            if len(fields) != 5 + len(GENRES_100K) or any(f not in ("0", "1") for f in flags):
                expected = f"id|title|release date|video release date|URL|{len(GENRES_100K)} genre flags of 0 or 1"
                raise _bad_row(location, name, number, line, expected)
            movie_genres = [genre for genre, flag in zip(GENRES_100K, flags) if flag == "1"]
        else:
            fields = line.split("::")
            if len(fields) != 3:
                raise _bad_row(location, name, number, line, "MovieID::Title::Genres")
            movie_genres = fields[2].split("|") if fields[2] else []
        try:
            ids.append(int(fields[0]))
        except ValueError:
            raise _bad_row(location, name, number, line, "an integer movie id first") from None
        titles.append(fields[1])
        genres.append(movie_genres)
    return np.array(ids, dtype=np.int64), titles, genres


def read_users(
    location: ArchiveLocation,
) -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[str]]:
    """(user ids int64, ages float64, genders, occupation names, zip codes)."""
    entry = location.variant
    name = entry.users_file
    assert name is not None
    ids: list[int] = []
    ages: list[float] = []
    genders: list[str] = []
    occupations: list[str] = []
    zips: list[str] = []
    for number, line in _lines(location, name):
        try:
            if entry.layout == "100k":
                expected = "user id|age|gender|occupation|zip code"
                user, age, gender, occupation, zip_code = line.split("|")
            else:
                expected = "UserID::Gender::Age::Occupation::Zip-code (occupation code 0..20)"
                user, gender, age, code, zip_code = line.split("::")
                if not 0 <= int(code) < len(OCCUPATIONS_1M):
                    raise ValueError
                occupation = OCCUPATIONS_1M[int(code)]
            ids.append(int(user))
            ages.append(float(int(age)))
        except ValueError:
            raise _bad_row(location, name, number, line, expected) from None
        genders.append(gender)
        occupations.append(occupation)
        zips.append(zip_code.strip())
    return np.array(ids, dtype=np.int64), np.array(ages), genders, occupations, zips


# ------------------------------------------------------------- features
def numeric_features(values: np.ndarray, rows: np.ndarray, ids: IdMap, name: str) -> Features:
    """One column; rows not in ``ids`` and NaN values leave no entry."""
    keep = (rows >= 0) & np.isfinite(values)
    matrix = sp.csr_matrix(
        (values[keep].astype(np.float32), (rows[keep], np.zeros(int(keep.sum()), dtype=np.int64))),
        shape=(len(ids), 1),
        dtype=np.float32,
    )
    matrix.eliminate_zeros()
    return Features(matrix, np.array([name]), ids)


def categorical_features(
    labels: Sequence[Sequence[str]],
    rows: np.ndarray,
    ids: IdMap,
    prefix: str,
    skip: frozenset[str] = frozenset(),
) -> Features:
    """Multi-hot (one-hot when each row has one label); columns sorted by label."""
    pairs = [
        (row, label)
        for row, row_labels in zip(rows.tolist(), labels)
        if row >= 0
        for label in row_labels
        if label not in skip
    ]
    levels = sorted({label for _, label in pairs})
    column_of = {label: column for column, label in enumerate(levels)}
    row_index = np.array([row for row, _ in pairs], dtype=np.int64)
    column_index = np.array([column_of[label] for _, label in pairs], dtype=np.int64)
    matrix = sp.csr_matrix(
        (np.ones(len(pairs), dtype=np.float32), (row_index, column_index)),
        shape=(len(ids), len(levels)),
        dtype=np.float32,
    )
    # A label listed twice for one movie is still one genre.
    matrix.data[:] = 1.0
    columns = np.array([f"{prefix}={level}" for level in levels], dtype=str)
    return Features(matrix, columns, ids)

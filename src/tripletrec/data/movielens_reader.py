"""MovieLens loaders: ratings, official splits, titles, genres, demographics.

One reader per file layout:

- ``ml-100k``: tab-separated ``u.data`` (user, item, rating, timestamp),
  pipe-separated ``u.item`` (latin-1; id, title, dates, URL, 19 genre flags)
  and ``u.user`` (id, age, gender, occupation, zip), official splits
  ``ua``/``ub``/``u1``..``u5`` in ``<split>.base`` / ``<split>.test``;
- ``ml-1m`` and ``ml-10m``: ``::``-separated ``ratings.dat``, ``movies.dat``
  (id, title, pipe-separated genres) and, for ml-1m, ``users.dat`` (id,
  gender, age code, occupation code, zip); ml-10m has half-star ratings;
- ``ml-20m``, ``ml-25m``, ``ml-latest-small``: ``ratings.csv`` with header
  ``userId,movieId,rating,timestamp`` and ``movies.csv`` (quoted titles that
  may hold commas; genres pipe-separated, ``(no genres listed)`` for none).

Ratings are parsed in blocks by a compiled row parser
(:func:`parse_rating_rows`), so even ml-25m's 25 million rows never go
through a Python loop; the small movie and user files are read line by line.
Text is decoded as UTF-8, or as latin-1 where it is not valid UTF-8 (ml-100k
and ml-1m are latin-1).

References
----------
.. [1] F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets:
   History and Context. ACM Transactions on Interactive Intelligent Systems
   5, 4, Article 19.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from numbers import Real

import numpy as np
import scipy.sparse as sp

from ..kernels.text import parse_rating_rows
from .dataset import Dataset, Features
from .interactions import IdMap, Interactions
from .movielens_metadata import (
    GENRES_100K,
    NO_GENRE,
    OCCUPATIONS_1M,
    YEAR_IN_TITLE,
    categorical_features,
    numeric_features,
    read_movies,
    read_users,
)
from .sources import (
    VARIANTS,
    ArchiveLocation,
    CorruptArchiveError,
    Variant,
    get_variant,
    locate,
)

__all__ = ["movielens", "read_movielens", "parse_rating_rows", "GENRES_100K", "OCCUPATIONS_1M"]

_CSV_RATINGS_HEADER = "userId,movieId,rating,timestamp"

# Big enough that the per-block Python work vanishes next to the parsing,
# small enough that one block of ml-25m's 680 MB of text stays modest.
_BLOCK_BYTES = 16 << 20


@dataclass(frozen=True)
class _Ratings:
    users: np.ndarray  # int64, external ids
    items: np.ndarray  # int64, external ids
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64
    where: str

    def __len__(self) -> int:
        return len(self.users)


# ------------------------------------------------------------------ public
def movielens(
    variant: str = "ml-100k",
    split: str | None = None,
    min_rating: float | None = None,
    path: str | os.PathLike | None = None,
    download: bool = True,
    progress: bool = True,
    *,
    strict: bool = True,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
) -> Dataset:
    """Load a MovieLens dataset [1]_ with titles, genres and demographics.

    Parameters
    ----------
    variant : {"ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-latest-small"}
        Which release.
    split : str, optional
        An official train/test split: ml-100k has ``"ua"``, ``"ub"`` (10
        ratings per user in test) and ``"u1"`` .. ``"u5"`` (5 folds of 20%).
        None leaves ``train`` and ``test`` as None.
    min_rating : float, optional
        Keep only ratings >= ``min_rating`` in ``interactions``, ``train`` and
        ``test`` (e.g. 4 to count 4 and 5 stars as positives). Shapes and id
        maps are unchanged.
    path : str or PathLike, optional
        A zip archive, an extracted folder, or a folder holding either. When
        given, it is the only place read. Otherwise the data is looked for in
        ``TRIPLETREC_DATA``, then the user cache, then downloaded (see
        :func:`tripletrec.data.locate`).
    download : bool
        Download into the cache when no local copy is found.
    progress : bool
        Show a progress bar while downloading.
    strict : bool
        Check that the row counts of the ratings, movie and user files (and of
        a split's two files together) are the variant's published ones, and
        refuse a ratings file whose last line, without a final newline, looks
        cut short (fewer than 4 fields, or a timestamp with fewer digits than
        every other row's). Pass False to load a modified or partial copy:
        such a cut line is then dropped.
    cache_dir : str or PathLike, optional
        Overrides the user cache folder.
    base_url : str, optional
        Download from this mirror instead of GroupLens (also settable with the
        ``TRIPLETREC_MIRROR`` environment variable).

    Returns
    -------
    Dataset
        - ``interactions``: every rating; weights are the ratings (float32,
          half stars for ml-10m and later), timestamps in Unix seconds. Users
          and items are those of the ratings file, external ids sorted
          ascending as integers; ``train`` and ``test`` share these id maps
          and shape.
        - ``item_titles``: ndarray, shape (n_items,), str (``""`` for an item
          missing from the movie file).
        - ``item_features``: ``"genre"``, multi-hot, columns
          ``"genre=Action"``, ... for the genres of rated movies, sorted by
          name (no column for "unknown" or "(no genres listed)"); ``"year"``,
          one numeric column with the year in parentheses at the end of the
          title (no stored entry where there is none).
        - ``user_features`` (ml-100k, ml-1m): ``"age"`` numeric (ml-1m stores
          an age-group code -- 1: under 18, 18: 18-24, 25, 35, 45, 50: 50-55,
          56: 56+ -- kept as that number), ``"gender"`` and ``"occupation"``
          one-hot (ml-1m occupation codes mapped to the README's names),
          ``"zip"`` one-hot of the zip code's first character, upper-cased
          (``"zip=9"``; a Canadian postal code gives its letter, e.g.
          ``"zip=V"``; an empty zip code leaves the row empty).
        - ``source``: the archive or folder read.

    Raises
    ------
    ValueError
        Unknown ``variant`` or ``split``, a split on a variant that has none,
        or a ``min_rating`` that is not a finite number.
    tripletrec.data.DatasetNotFoundError
        No copy found and none could be downloaded.
    tripletrec.data.CorruptArchiveError
        Missing files, a row that does not parse, a ratings file with no
        rating, a rating off the variant's star scale (whole stars 1 to 5 for
        ml-100k and ml-1m, half stars 0.5 to 5 later; see
        ``Variant.rating_scale``), a repeated (user, item) pair, a split whose
        test file repeats a pair of its train file, or (``strict``) wrong
        counts or a cut final line.

    Examples
    --------
    >>> data = movielens("ml-100k", split="ua", min_rating=4)  # doctest: +SKIP
    >>> data.train.shape, len(data.train), len(data.test)  # doctest: +SKIP
    ((943, 1682), 49906, 5469)
    """
    entry = get_variant(variant)
    _check_split(entry, split)
    _check_min_rating(min_rating)
    location = locate(entry, path, download=download, progress=progress, cache_dir=cache_dir, base_url=base_url)
    return read_movielens(location, split=split, min_rating=min_rating, strict=strict)


def read_movielens(
    location: ArchiveLocation,
    split: str | None = None,
    min_rating: float | None = None,
    strict: bool = True,
) -> Dataset:
    """Load the MovieLens files at an already located archive or folder.

    Parameters
    ----------
    location : ArchiveLocation
        From :func:`tripletrec.data.locate`.
    split, min_rating, strict
        As in :func:`movielens`.

    Returns
    -------
    Dataset
    """
    entry = location.variant
    _check_split(entry, split)
    _check_min_rating(min_rating)

    ratings = _read_ratings(location, entry.ratings_file, strict)
    if strict:
        _check_count(entry, ratings.where, len(ratings), entry.n_ratings, "ratings")
    user_ids, user_index = _dense_ids(ratings.users)
    item_ids, item_index = _dense_ids(ratings.items)
    shape = (len(user_ids), len(item_ids))
    if strict and entry.users_check == "raters":
        _check_count(entry, ratings.where, shape[0], entry.n_users, "distinct users")
    interactions = _build(ratings, user_index, item_index, shape, user_ids, item_ids)

    train = test = None
    if split is not None:
        train, test = _read_split(location, split, user_ids, item_ids, strict)

    movie_ids, titles, genres = read_movies(location)
    if strict:
        movies_where = location.where(entry.movies_file)
        _check_count(entry, movies_where, len(movie_ids), entry.n_movies, "movies")
    movie_rows = item_ids.to_index(movie_ids, missing="ignore")
    item_titles = np.full(len(item_ids), "", dtype=object)
    known = movie_rows >= 0
    item_titles[movie_rows[known]] = np.asarray(titles, dtype=object)[known]
    item_titles = item_titles.astype(str)
    years = np.array([float(m.group(1)) if (m := YEAR_IN_TITLE.search(t)) else math.nan for t in titles])
    item_features = {
        "genre": categorical_features(genres, movie_rows, item_ids, "genre", skip=NO_GENRE),
        "year": numeric_features(years, movie_rows, item_ids, "year"),
    }

    user_features: dict[str, Features] = {}
    if entry.users_file is not None:
        people, ages, genders, occupations, zips = read_users(location)
        if strict and entry.users_check == "users_file":
            users_where = location.where(entry.users_file)
            _check_count(entry, users_where, len(people), entry.n_users, "users")
        people_rows = user_ids.to_index(people, missing="ignore")
        user_features = {
            "age": numeric_features(ages, people_rows, user_ids, "age"),
            "gender": categorical_features([[g] for g in genders], people_rows, user_ids, "gender"),
            "occupation": categorical_features([[o] for o in occupations], people_rows, user_ids, "occupation"),
            # The first character is a coarse region (US zips start with
            # 0..9 by area; Canadian postal codes with a province letter).
            "zip": categorical_features([[z[:1].upper()] if z else [] for z in zips], people_rows, user_ids, "zip"),
        }

    if min_rating is not None:
        interactions = interactions.threshold(min_rating)
        if train is not None:
            train = train.threshold(min_rating)
            test = test.threshold(min_rating)
    return Dataset(
        name=entry.name,
        interactions=interactions,
        train=train,
        test=test,
        item_titles=item_titles,
        user_features=user_features,
        item_features=item_features,
        source=str(location.path),
    )


# -------------------------------------------------------------- arguments
def _check_split(entry: Variant, split: str | None) -> None:
    if split is None:
        return
    if not entry.splits:
        with_splits = [name for name, v in VARIANTS.items() if v.splits]
        raise ValueError(
            f"split={split!r}: {entry.name} has no official splits (only "
            f"{', '.join(with_splits)} do); pass split=None and use tripletrec.data.split"
        )
    if split not in entry.splits:
        raise ValueError(f"split must be one of {', '.join(entry.splits)} for {entry.name}; got {split!r}")


def _check_min_rating(min_rating: float | None) -> None:
    if min_rating is None:
        return
    if isinstance(min_rating, bool) or not isinstance(min_rating, Real) or not math.isfinite(min_rating):
        raise ValueError(f"min_rating must be a finite number or None, got {min_rating!r}")


def _check_count(entry: Variant, where: str, count: int, expected: int, what: str) -> None:
    if count != expected:
        raise CorruptArchiveError(
            f"{where} has {count:,} {what} but MovieLens {entry.name} has {expected:,}: "
            "this copy is incomplete or modified (pass strict=False to load it anyway)"
        )


# ---------------------------------------------------------------- ratings
def _ratings_format(entry: Variant) -> tuple[bytes, str | None]:
    """(field separator, expected header line or None)."""
    if entry.layout == "100k":
        return b"\t", None
    if entry.layout == "dat":
        return b"::", None
    return b",", _CSV_RATINGS_HEADER


class _RatingColumns:
    """Growable output arrays for the row parser."""

    def __init__(self, capacity: int):
        self.filled = 0
        self.users = np.empty(capacity, dtype=np.int64)
        self.items = np.empty(capacity, dtype=np.int64)
        self.ratings = np.empty(capacity, dtype=np.float32)
        self.timestamps = np.empty(capacity, dtype=np.int64)

    def grow(self) -> None:
        capacity = max(1024, int(len(self.users) * 1.5))
        for name in ("users", "items", "ratings", "timestamps"):
            old = getattr(self, name)
            grown = np.empty(capacity, dtype=old.dtype)
            grown[: self.filled] = old[: self.filled]
            setattr(self, name, grown)

    def result(self, where: str) -> _Ratings:
        n = self.filled
        return _Ratings(self.users[:n], self.items[:n], self.ratings[:n], self.timestamps[:n], where)


def _read_ratings(location: ArchiveLocation, name: str, strict: bool) -> _Ratings:
    """Parse a ratings file block by block with the compiled row parser.

    A final line without a newline that looks cut short (see
    :func:`_parse_final_line`) is refused when ``strict``, else dropped. A
    file with no rating row, or a rating off the variant's scale, is refused.
    """
    separator, header = _ratings_format(location.variant)
    separator_bytes = np.frombuffer(separator, dtype=np.uint8)
    where = location.where(name)
    total_bytes = location.size(name)
    columns: _RatingColumns | None = None
    line_number = 1
    pending = b""
    header_seen = header is None
    with location.open(name) as stream:
        while True:
            data = stream.read(_BLOCK_BYTES)
            at_end = not data
            block = pending + data
            if at_end:
                pending = b""
            else:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    pending = block
                    continue
                block, pending = block[:cut], block[cut:]
            if not header_seen:
                if at_end and not block.strip():
                    raise CorruptArchiveError(f"{where} is empty; expected the header {header!r}")
                first, _, block = block.partition(b"\n")
                found = first.decode("utf-8", "replace").strip().lstrip("\ufeff")
                if found != header:
                    raise CorruptArchiveError(f"{where} line 1 is {found!r}; expected the header {header!r}")
                header_seen = True
                line_number += 1
            if columns is None:
                # Size the output from the first block's bytes per row, so that
                # a big file is parsed into one allocation, not concatenated.
                newlines = max(1, block.count(b"\n"))
                estimate = int(total_bytes / max(1.0, len(block) / newlines) * 1.02) + 1024
                columns = _RatingColumns(estimate)
            if at_end and block.strip():
                # Only the last line can lack its newline: every earlier block
                # was cut after one.
                line_number = _parse_final_line(block, separator, separator_bytes, where, line_number, columns, strict)
            else:
                line_number = _parse_block(block, separator, separator_bytes, where, line_number, columns)
            if at_end:
                break
    ratings = (columns or _RatingColumns(0)).result(where)
    if len(ratings) == 0:
        raise CorruptArchiveError(f"{where} holds no ratings")
    _check_rating_scale(location, name, ratings)
    return ratings


def _parse_final_line(
    line: bytes,
    separator: bytes,
    separator_bytes: np.ndarray,
    where: str,
    line_number: int,
    columns: _RatingColumns,
    strict: bool,
) -> int:
    """Parse the last line of a file that does not end with a newline.

    Such a line may have been cut short (an interrupted copy or download):
    it is taken as cut when it has fewer than the 4 fields, or when its
    timestamp has fewer digits than every other row's (MovieLens timestamps
    are 9 or 10 digits, so ``8811`` after ``881171488`` is a cut, not a
    time). A cut line is refused when ``strict``, else dropped. Any other
    line parses, or fails to, like every other line.
    """
    # The parser allows spaces and carriage returns around a line, not tabs
    # (ml-100k's separator): strip only those.
    fields = line.strip(b" \r").split(separator)
    try:
        next_line = _parse_block(line, separator, separator_bytes, where, line_number, columns)
    except CorruptArchiveError:
        if len(fields) >= 4:
            raise
        reason = f"has only {len(fields)} of the 4 fields"
    else:
        earlier = columns.timestamps[: columns.filled - 1]
        shortest = len(str(int(earlier.min()))) if len(earlier) else 0
        if len(fields[-1]) >= shortest:
            return next_line
        columns.filled -= 1
        reason = f"has a timestamp of {len(fields[-1])} digits where every other row's has at least {shortest}"
    if strict:
        raise CorruptArchiveError(
            f"{where} line {line_number:,}, the last, has no final newline and {reason}: "
            f"{line!r}; the file looks cut short (pass strict=False to drop that line)"
        )
    return line_number + 1


def _line_of_row(location: ArchiveLocation, name: str, row: int) -> int:
    """The line number of data row ``row`` (0-based) of a ratings file.

    Only used to word an error, so it reads the file again rather than have
    the parser record a line number for every row.
    """
    _, header = _ratings_format(location.variant)
    rows_seen = -1
    with location.open(name) as stream:
        for number, line in enumerate(stream, 1):
            if header is not None and number == 1:
                continue
            if line.strip():
                rows_seen += 1
                if rows_seen == row:
                    return number
    raise AssertionError(f"{name} has no data row {row}")  # the rows came from this file


def _check_rating_scale(location: ArchiveLocation, name: str, ratings: _Ratings) -> None:
    """Refuse a rating off the variant's star scale, naming file, line and value."""
    entry = location.variant
    lowest, highest, step = entry.rating_scale
    values = ratings.ratings.astype(np.float64)
    off_scale = (values < lowest) | (values > highest) | (np.remainder(values, step) != 0)
    if not off_scale.any():
        return
    first = int(np.flatnonzero(off_scale)[0])
    stars = "whole stars" if step == 1 else "half stars"
    raise CorruptArchiveError(
        f"{ratings.where} line {_line_of_row(location, name, first):,} has rating "
        f"{values[first]:g}, off MovieLens {entry.name}'s scale of {stars} from {lowest:g} to "
        f"{highest:g} ({int(off_scale.sum()):,} of {len(values):,} rows are off it)"
    )


def _parse_block(
    block: bytes,
    separator: bytes,
    separator_bytes: np.ndarray,
    where: str,
    first_line: int,
    columns: _RatingColumns,
) -> int:
    """Parse whole lines into ``columns``; return the number of the next line."""
    text = np.frombuffer(block, dtype=np.uint8)
    position = 0
    line_number = first_line
    while True:
        start = columns.filled
        n_rows, position, n_lines, ok = parse_rating_rows(
            text,
            position,
            separator_bytes,
            columns.users[start:],
            columns.items[start:],
            columns.ratings[start:],
            columns.timestamps[start:],
        )
        columns.filled += n_rows
        line_number += n_lines
        if not ok:
            line = block[position:].split(b"\n", 1)[0]
            shown = separator.decode()
            raise CorruptArchiveError(
                f"{where} line {line_number:,} does not parse: {line!r}; expected "
                f"user{shown}item{shown}rating{shown}timestamp (non-negative integer ids, "
                "a decimal rating, an integer timestamp)"
            )
        if position >= len(block):
            return line_number
        columns.grow()


def _dense_ids(values: np.ndarray) -> tuple[IdMap, np.ndarray]:
    """Sorted distinct ids and each value's dense index, in linear time."""
    if len(values) == 0:
        return IdMap(np.empty(0, dtype=np.int64)), np.empty(0, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > max(4 * len(values), 1 << 20):
        unique, inverse = np.unique(values, return_inverse=True)
        return IdMap(unique.astype(np.int64)), inverse.reshape(-1).astype(np.int64)
    present = np.zeros(high + 1, dtype=bool)
    present[values] = True
    dense = np.cumsum(present, dtype=np.int64) - 1
    return IdMap(np.flatnonzero(present).astype(np.int64)), dense[values]


def _build(
    ratings: _Ratings,
    user_index: np.ndarray,
    item_index: np.ndarray,
    shape: tuple[int, int],
    user_ids: IdMap,
    item_ids: IdMap,
) -> Interactions:
    """CSR interactions straight from parsed rows.

    The indices are valid by construction and the ratings non-negative and
    finite (the parser reads no sign, NaN or infinity), so this skips the
    checks of :meth:`Interactions.from_indices`; and since most MovieLens
    files are already ordered by user (and item), the sort is skipped too when
    it would change nothing. A repeated (user, item) pair is an error: summing
    two ratings of one movie would be meaningless.
    """
    n_users, n_items = shape
    key = user_index * max(n_items, 1) + item_index
    order = None
    if len(key) > 1 and not bool(np.all(key[1:] > key[:-1])):
        order = np.argsort(key, kind="stable")
        key = key[order]
        repeated = np.flatnonzero(key[1:] == key[:-1])
        if len(repeated):
            first, second = sorted(int(order[i]) for i in (repeated[0], repeated[0] + 1))
            raise CorruptArchiveError(
                f"{ratings.where}: {len(repeated)} of {len(key)} rows repeat an earlier "
                f"(user, item) pair; first: data rows {first + 1:,} and {second + 1:,} both "
                f"rate item {int(ratings.items[first])} by user {int(ratings.users[first])}"
            )
    rows = key // max(n_items, 1)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_users), out=indptr[1:])
    columns = (key % max(n_items, 1)).astype(np.int32)
    weights = ratings.ratings if order is None else ratings.ratings[order]
    timestamps = ratings.timestamps if order is None else ratings.timestamps[order]
    matrix = sp.csr_matrix((weights, columns, indptr), shape=shape, copy=False)
    return Interactions(matrix, np.ascontiguousarray(timestamps), user_ids, item_ids)


def _read_split(
    location: ArchiveLocation, split: str, user_ids: IdMap, item_ids: IdMap, strict: bool
) -> tuple[Interactions, Interactions]:
    entry = location.variant
    parts = []
    for name in entry.split_files(split):
        ratings = _read_ratings(location, name, strict)
        try:
            users = user_ids.to_index(ratings.users, name=f"users of {ratings.where}")
            items = item_ids.to_index(ratings.items, name=f"items of {ratings.where}")
        except ValueError as error:
            raise CorruptArchiveError(
                f"{error}; a split must only hold ratings of {location.where(entry.ratings_file)}"
            ) from error
        shape = (len(user_ids), len(item_ids))
        parts.append(_build(ratings, users, items, shape, user_ids, item_ids))
    train, test = parts
    # users and items hold the rows of the test file, the second read.
    _check_disjoint(location, split, train, users, items)
    if strict:
        base, held = entry.split_files(split)
        _check_count(
            entry,
            f"{location.where(base)} + {held}",
            len(train) + len(test),
            entry.n_ratings,
            "ratings",
        )
    return train, test


def _check_disjoint(
    location: ArchiveLocation,
    split: str,
    train: Interactions,
    test_users: np.ndarray,
    test_items: np.ndarray,
) -> None:
    """Refuse a split whose test file rates a (user, item) pair of its train file.

    ``test_users`` and ``test_items`` are the dense indices of the test
    file's rows, in file order, to name the line.
    """
    n_items = max(train.n_items, 1)
    train_pairs = train.user_index() * n_items + train.indices
    test_pairs = test_users * n_items + test_items
    shared = np.isin(test_pairs, train_pairs)
    if not shared.any():
        return
    first = int(np.flatnonzero(shared)[0])
    base, held = location.variant.split_files(split)
    raise CorruptArchiveError(
        f"{location.where(held)} line {_line_of_row(location, held, first):,} rates item "
        f"{int(train.item_ids.ids[test_items[first]])} by user "
        f"{int(train.user_ids.ids[test_users[first]])}, a pair {base} rates too "
        f"({int(shared.sum()):,} of {len(shared):,} test rows repeat a train pair): the train "
        "and test files of an official split must be disjoint"
    )

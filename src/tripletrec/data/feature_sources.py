"""Features from tables and from MovieLens: :func:`from_dataframe`, :func:`movielens_features`.

Both build on the builders of :mod:`tripletrec.data.features`, which also
exports them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from . import features as builders
from .dataset import Dataset, Features
from .features import _as_list
from .id_map import IdMap, is_missing_id

__all__ = ["MOVIELENS_AGE_EDGES", "MOVIELENS_TITLE_STOP_WORDS", "from_dataframe", "movielens_features"]

#: The age groups of ml-1m's users.dat (under 18, 18-24, 25-34, 35-44,
#: 45-49, 50-55, 56 and over) as bucket edges; ml-1m stores each group's
#: lower bound (1 for under 18), so its codes and ml-100k's ages in years
#: fall in the same buckets.
MOVIELENS_AGE_EDGES = (18, 25, 35, 45, 50, 56)

#: English function words left out of title words: in most titles, they
#: would be the most common columns and say nothing about the movie.
#: ``s`` is the end of a possessive (``"Schindler's"``).
MOVIELENS_TITLE_STOP_WORDS = tuple("a an and at for from in is it of on s the to with".split())

# Words in fewer titles than this add no column: a word of one title only
# singles out that movie, which an item's own embedding already does.
_TITLE_MIN_COUNT = 2
_YEAR_AT_END = re.compile(r"\s*\(\d{4}\)\s*$")
_ITEM_PARTS = ("genre", "year", "title")
_USER_PARTS = ("age", "gender", "occupation", "zip")


def _column(frame: Any, column: Any, argument: str) -> list:
    """The values of one column of ``frame``, in row order."""
    try:
        values = frame[column]
    except (KeyError, IndexError, ValueError):
        raise ValueError(f"{argument}: frame has no column {column!r}") from None
    return _as_list(values, f"column {column!r}")


def _names(selection: Any, argument: str) -> list:
    """Column names from a name or a sequence of names."""
    if isinstance(selection, str):
        return [selection]
    if isinstance(selection, (Mapping, set, frozenset)) or not isinstance(selection, Iterable):
        raise TypeError(f"{argument} must be a column name or a sequence of names, got {selection!r}")
    return list(selection)


def _settings(selection: Any, argument: str) -> dict:
    """A mapping of column name to setting (None: no columns)."""
    if selection is None:
        return {}
    if not isinstance(selection, Mapping):
        raise TypeError(f"{argument} must map column names to settings, got {selection!r}")
    return dict(selection)


def _frame_rows(frame: Any, id_column: Any, ids: IdMap) -> np.ndarray:
    """The row of ``ids`` each row of ``frame`` fills, -1 for ids not in ``ids``."""
    frame_ids = _column(frame, id_column, "id_column")
    counts = Counter(value for value in frame_ids if not is_missing_id(value))
    repeated = [value for value, count in counts.items() if count > 1]
    if repeated:
        shown = ", ".join(repr(value) for value in repeated[:3])
        raise ValueError(
            f"id_column {id_column!r}: {len(repeated)} ids appear on more than one row (e.g. {shown}); "
            "give each id one row"
        )
    rows = ids.to_index(frame_ids, missing="ignore")
    if len(frame_ids) and len(ids) and not (rows >= 0).any():
        # Usually ids of another kind ("1" against 1), not a disjoint table.
        raise ValueError(
            f"id_column {id_column!r}: none of the frame's {len(frame_ids)} ids is in ids "
            f"(frame: {frame_ids[0]!r}, ...; ids: {ids.ids[0].item()!r}, ...); are they of the same kind?"
        )
    return rows


def from_dataframe(
    frame: Any,
    id_column: Any,
    ids: IdMap,
    *,
    categorical: Any = (),
    tags: Mapping[Any, str] | None = None,
    bucketed: Mapping[Any, Any] | None = None,
    text: Any = (),
) -> Features:
    """Features of the columns of a table, rows aligned to ``ids``.

    Parameters
    ----------
    frame : DataFrame-like
        A pandas DataFrame, or anything whose ``frame[column]`` gives a
        column (a dict of lists works too); pandas is not needed.
    id_column : column name
        The column holding each row's id. A row whose id is not in ``ids``
        is ignored; an id of ``ids`` with no row gets an empty row.
    ids : IdMap
        The ids the rows of the result follow.
    categorical : column name or sequence of names
        One-hot columns (:func:`categorical`), named ``column=value``.
    tags : mapping of column name to separator, optional
        Multi-valued columns (:func:`tags`).
    bucketed : mapping of column name to bins, optional
        Numeric columns cut into buckets (:func:`bucketed`).
    text : column name, sequence of names, or mapping of name to dict
        Text columns (:func:`text_tokens`), with its default settings or,
        in a mapping, the keyword arguments to pass it (e.g.
        ``{"title": {"min_count": 2}}``).

    Returns
    -------
    Features
        The blocks stacked in the order categorical, tags, bucketed, text
        (:meth:`Features.concat`); ``matrix`` of shape (len(ids), n_columns),
        float32.

    Raises
    ------
    ValueError
        A missing column, an id on more than one row of ``frame`` (naming
        it), no frame id in ``ids``, nothing selected, or a column name that
        two blocks share.
    TypeError
        A selection of the wrong type (``tags=["genres"]`` instead of a
        mapping), or a value the block refuses.

    Examples
    --------
    >>> frame = {"movie": [2, 1], "genres": ["Drama|War", "Comedy"], "year": [1957, 1994]}
    >>> part = from_dataframe(frame, "movie", IdMap([1, 2, 3]), tags={"genres": "|"}, bucketed={"year": [1980]})
    >>> part.columns.tolist()
    ['genres=Comedy', 'genres=Drama', 'genres=War', 'year<1980', 'year>=1980']
    >>> part.to_dense().astype(int).tolist()
    [[1, 0, 0, 0, 1], [0, 1, 1, 1, 0], [0, 0, 0, 0, 0]]
    """
    if not isinstance(ids, IdMap):
        raise TypeError(f"ids must be an IdMap, got {type(ids).__name__}")
    rows = _frame_rows(frame, id_column, ids)
    kept = np.flatnonzero(rows >= 0).tolist()

    def aligned(column: Any, argument: str) -> list:
        values = _column(frame, column, argument)
        if len(values) != len(rows):
            raise ValueError(
                f"{argument}: column {column!r} has {len(values)} rows but id_column {id_column!r} has {len(rows)}"
            )
        out: list = [None] * len(ids)
        for position in kept:
            out[rows[position]] = values[position]
        return out

    text_settings = _settings(text, "text") if isinstance(text, Mapping) else dict.fromkeys(_names(text, "text"), {})
    parts = [builders.categorical(aligned(c, "categorical"), ids, str(c)) for c in _names(categorical, "categorical")]
    for column, separator in _settings(tags, "tags").items():
        parts.append(builders.tags(aligned(column, "tags"), ids, str(column), separator))
    for column, bins in _settings(bucketed, "bucketed").items():
        parts.append(builders.bucketed(aligned(column, "bucketed"), ids, str(column), bins))
    for column, settings in text_settings.items():
        if not isinstance(settings, Mapping):
            raise TypeError(f"text: the settings of column {column!r} must be a dict of keywords, got {settings!r}")
        parts.append(builders.text_tokens(aligned(column, "text"), ids, str(column), **settings))
    if not parts:
        raise ValueError("from_dataframe: select at least one column (categorical, tags, bucketed or text)")
    return Features.concat(*parts)


# ---------------------------------------------------------------- MovieLens
def _selection(selection: Any, options: tuple[str, ...], argument: str) -> list[str]:
    if isinstance(selection, str) or not isinstance(selection, Iterable):
        raise TypeError(f"{argument} must be a sequence of feature names from {options}, got {selection!r}")
    chosen = list(selection)
    for name in chosen:
        if name not in options:
            raise ValueError(f"{argument}: unknown feature {name!r}; choose from {', '.join(options)}")
    if len(set(chosen)) < len(chosen):
        raise ValueError(f"{argument} names a feature twice: {chosen!r}")
    return chosen


def _stored(features: Mapping[str, Features], name: str, side: str) -> Features:
    if name not in features:
        raise ValueError(
            f"{side}={name!r}: the dataset has no {side} feature {name!r} (it has {', '.join(features) or 'none'}); "
            "load it with tripletrec.data.movielens"
        )
    return features[name]


def _numeric_column(feature: Features) -> np.ndarray:
    """float64 values of a one-column feature, NaN for rows with no entry."""
    matrix = feature.matrix.tocsr()
    values = np.full(matrix.shape[0], np.nan)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    values[rows] = matrix.data
    return values


def _decade_edges(years: np.ndarray) -> Any:
    """Edges at every decade start between the first and last decade present."""
    known = years[np.isfinite(years)]
    if len(known) == 0:
        return 1
    first, last = (int(value // 10 * 10) for value in (known.min(), known.max()))
    edges = list(range(first + 10, last + 1, 10))
    return edges or 1


def movielens_features(
    dataset: Dataset,
    *,
    item: Iterable[str] = _ITEM_PARTS,
    user: Iterable[str] = _USER_PARTS,
) -> tuple[Features | None, Features | None]:
    """User and item feature matrices of a MovieLens dataset, for a hybrid model.

    Parameters
    ----------
    dataset : Dataset
        From :func:`tripletrec.data.movielens`.
    item : sequence of {"genre", "year", "title"}
        The item blocks, stacked in this order:

        - ``"genre"``: the multi-hot genres, ``dataset.item_features["genre"]``;
        - ``"year"``: the release year (from the title) bucketed by decade,
          ``year<1930``, ``year=[1930,1940)``, ..., ``year>=1990`` (the first
          and last decades present open-ended; see :func:`bucketed`); a
          movie with no year gets no bucket;
        - ``"title"``: the words of the title without its ``(year)``
          (:func:`text_tokens`, columns ``title=word``), those in at least 2
          titles, less :data:`MOVIELENS_TITLE_STOP_WORDS`.
    user : sequence of {"age", "gender", "occupation", "zip"}
        The user blocks, stacked in this order:

        - ``"age"``: bucketed at :data:`MOVIELENS_AGE_EDGES`, ml-1m's age
          groups (``age<18``, ``age=[18,25)``, ..., ``age>=56``);
        - ``"gender"``, ``"occupation"``: one-hot, as loaded;
        - ``"zip"``: one-hot of the zip code's first character (``zip=9``;
          a Canadian postal code gives its letter, its own column).

    Returns
    -------
    user_features : Features or None
        Rows follow ``dataset.interactions.user_ids``; shape (n_users,
        n_columns), float32. None when ``user`` is empty or the variant has
        no users file (ml-10m and later).
    item_features : Features or None
        Rows follow ``dataset.interactions.item_ids``; None when ``item`` is
        empty.

    Raises
    ------
    ValueError
        An unknown or repeated block name, or a block the dataset lacks.

    Examples
    --------
    >>> users, items = movielens_features(movielens("ml-100k"))  # doctest: +SKIP
    >>> users.matrix.shape, items.matrix.shape  # doctest: +SKIP
    ((943, 49), (1682, 611))
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset (from tripletrec.data.movielens), got {type(dataset).__name__}")
    items = dataset.interactions.item_ids
    item_parts = []
    for name in _selection(item, _ITEM_PARTS, "item"):
        if name == "genre":
            item_parts.append(_stored(dataset.item_features, "genre", "item"))
        elif name == "year":
            years = _numeric_column(_stored(dataset.item_features, "year", "item"))
            item_parts.append(builders.bucketed(years, items, "year", bins=_decade_edges(years)))
        else:
            if dataset.item_titles is None:
                raise ValueError("item='title': the dataset has no item_titles")
            titles = [_YEAR_AT_END.sub("", title) for title in dataset.item_titles.tolist()]
            item_parts.append(
                builders.text_tokens(
                    titles, items, "title", min_count=_TITLE_MIN_COUNT, stop_words=MOVIELENS_TITLE_STOP_WORDS
                )
            )
    user_parts = []
    chosen = _selection(user, _USER_PARTS, "user")
    if dataset.user_features:
        for name in chosen:
            stored = _stored(dataset.user_features, name, "user")
            if name == "age":
                ages = _numeric_column(stored)
                stored = builders.bucketed(ages, stored.ids, "age", bins=MOVIELENS_AGE_EDGES)
            user_parts.append(stored)
    return (
        Features.concat(*user_parts) if user_parts else None,
        Features.concat(*item_parts) if item_parts else None,
    )

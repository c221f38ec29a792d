"""Side features from raw data: categories, tags, numeric buckets and text.

Every builder returns a :class:`~tripletrec.data.Features` whose rows follow
an :class:`~tripletrec.data.IdMap` ``ids``: ``values[r]`` describes the user
(item) with dense index ``r``, so ``len(values)`` must equal ``len(ids)``
(a pandas Series is read in order; its index is not used). The matrices are
0/1, float32 CSR with sorted int32 indices. A missing value -- None, NaN,
pandas ``NA`` or ``NaT``, or the empty string -- leaves its row empty.

Column names:

* :func:`categorical`, :func:`tags`: ``prefix=value`` (``"genre=Drama"``);
* :func:`bucketed`: ``name<e1``, ``name=[e1,e2)``, ..., ``name>=ek`` for
  the edges ``e1 < ... < ek`` (``"year=[1990,2000)"``);
* :func:`text_tokens`: ``prefix=word``, or ``prefix#b`` when hashing.

Stack blocks with :meth:`Features.concat`; :func:`from_dataframe` builds and
stacks them from the columns of a table, and :func:`movielens_features` from
a loaded MovieLens dataset.

Errors name the argument: ``TypeError`` for a value of the wrong type (a
string where a sequence of values belongs, a number among tags),
``ValueError`` for a wrong size or setting (see :mod:`tripletrec._validation`).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import check_integer, check_memory, is_integer, is_real
from .dataset import Features, canonical_csr
from .id_map import IdMap, is_missing_id

# Defined in feature_sources (which imports this module), loaded on first use.
_FROM_SOURCES = ("MOVIELENS_AGE_EDGES", "MOVIELENS_TITLE_STOP_WORDS", "from_dataframe", "movielens_features")

__all__ = ["TOKEN_PATTERN", "bucketed", "categorical", "tags", "text_tokens", *_FROM_SOURCES]

#: Word tokens of :func:`text_tokens`: runs of Unicode letters and digits
#: (``\w`` without the underscore), matched in the lower-cased text, so
#: ``"Children's"`` gives ``children`` and ``s``, and ``"sci-fi"`` two words.
TOKEN_PATTERN = r"[^\W_]+"
_TOKEN = re.compile(TOKEN_PATTERN)


# ------------------------------------------------------------------ inputs
def _as_list(values: Any, name: str) -> list:
    """``values`` as a Python list, refusing what is not an ordered 1-d sequence."""
    if isinstance(values, (str, bytes, Mapping, set, frozenset)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a sequence of values (list, array or Series), got {type(values).__name__}")
    if getattr(values, "ndim", 1) != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {getattr(values, 'shape', None)}")
    if isinstance(values, np.ndarray):
        return values.tolist()  # Python scalars: numpy's would print as np.str_('x')
    if hasattr(values, "to_numpy"):
        try:
            # As objects: a nullable Int64 column with NA would become floats.
            return values.to_numpy(dtype=object).tolist()
        except TypeError:  # a to_numpy without dtype (pyarrow's)
            return values.to_numpy().tolist()
    return [value.item() if isinstance(value, np.generic) else value for value in values]


def _check_rows(count: int, ids: Any, name: str) -> None:
    if not isinstance(ids, IdMap):
        raise TypeError(f"ids must be an IdMap, got {type(ids).__name__}")
    if count != len(ids):
        raise ValueError(f"{name} has {count} entries but ids has {len(ids)}; give one value per row of ids")


def _row_values(values: Any, ids: Any, name: str = "values") -> list:
    """One value per row of ``ids``, as a list."""
    listed = _as_list(values, name)
    _check_rows(len(listed), ids, name)
    return listed


def _check_name(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _is_missing(value: Any) -> bool:
    if isinstance(value, str):  # first: most values are strings
        return value == ""
    return is_missing_id(value)


def _binary(rows: list[int], columns: list[int], names: list[str], ids: IdMap) -> Features:
    """0/1 features with an entry at each (row, column); a repeated pair is one entry."""
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64))),
        shape=(len(ids), len(names)),
    )
    matrix = canonical_csr(matrix)
    matrix.data[:] = 1.0  # summed duplicates (a tag listed twice) count once
    return Features(matrix, np.array(names, dtype=str).reshape(-1), ids)


def _labelled(row_labels: list[tuple[int, Any]], prefix: str, ids: IdMap) -> Features:
    """Features with one column per distinct label, sorted, named ``prefix=label``."""
    levels = sorted({label for _, label in row_labels})
    column_of = {level: column for column, level in enumerate(levels)}
    rows = [row for row, _ in row_labels]
    columns = [column_of[label] for _, label in row_labels]
    return _binary(rows, columns, [f"{prefix}={level}" for level in levels], ids)


# ---------------------------------------------------------------- builders
def _kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if is_real(value):
        return "a number"
    return None


def categorical(values: Any, ids: IdMap, prefix: str) -> Features:
    """One-hot features: one column per distinct value.

    Parameters
    ----------
    values : array_like, shape (len(ids),), str, number or bool
        The value of each row; all of one kind (strings, numbers or bools).
        Missing values (None, NaN, NA, ``""``) leave the row empty.
    ids : IdMap
        The ids the rows follow.
    prefix : str
        Column names are ``prefix=value``, the values sorted.

    Returns
    -------
    Features
        ``matrix`` of shape (len(ids), n_distinct_values), float32, at most
        one 1 per row.

    Raises
    ------
    TypeError
        A value that is not a string, number or bool, or values of mixed kinds.
    ValueError
        ``values`` not one per row of ``ids``.

    Examples
    --------
    >>> part = categorical(["M", None, "F"], IdMap([1, 2, 3]), "gender")
    >>> part.columns.tolist(), part.to_dense().tolist()
    (['gender=F', 'gender=M'], [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    """
    listed = _row_values(values, ids)
    _check_name(prefix, "prefix")
    labels = []
    first = None
    for row, value in enumerate(listed):
        if _is_missing(value):
            continue
        kind = _kind(value)
        if kind is None:
            raise TypeError(
                f"values: {type(value).__name__} {value!r} at position {row} is not a string, number or bool"
            )
        if first is None:
            first = (row, value, kind)
        elif kind != first[2]:
            raise TypeError(
                f"values mix kinds: {value!r} at position {row} is {kind} but {first[1]!r} at position "
                f"{first[0]} is {first[2]}; a categorical column holds one kind"
            )
        labels.append((row, value))
    return _labelled(labels, prefix, ids)


def tags(values: Any, ids: IdMap, prefix: str, separator: str = "|") -> Features:
    """Multi-hot features: one column per distinct tag.

    Parameters
    ----------
    values : array_like, shape (len(ids),)
        The tags of each row: a string split on ``separator``, or a list,
        tuple, set or 1-d array of strings. Each tag is stripped of
        surrounding whitespace; empty and missing tags are dropped, and a
        missing value leaves the row empty.
    ids : IdMap
        The ids the rows follow.
    prefix : str
        Column names are ``prefix=tag``, the tags sorted.
    separator : str
        What separates the tags within a string.

    Returns
    -------
    Features
        ``matrix`` of shape (len(ids), n_distinct_tags), float32, 1 where a
        row has the tag (a tag repeated within a row counts once).

    Examples
    --------
    >>> part = tags(["Drama|Comedy", ["Drama"], None], IdMap([1, 2, 3]), "genre")
    >>> part.columns.tolist(), part.to_dense().tolist()
    (['genre=Comedy', 'genre=Drama'], [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    """
    listed = _row_values(values, ids)
    _check_name(prefix, "prefix")
    if not isinstance(separator, str) or not separator:
        raise ValueError(f"separator must be a non-empty string, got {separator!r}")
    labels = []
    split: dict[str, list[str]] = {}  # tag strings repeat: split each once
    for row, value in enumerate(listed):
        if isinstance(value, np.ndarray) and value.ndim == 1:
            value = value.tolist()
        if isinstance(value, str):
            if value not in split:
                split[value] = [tag.strip() for tag in value.split(separator) if tag.strip()]
            labels.extend((row, tag) for tag in split[value])
            continue
        if _is_missing(value):
            continue
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise TypeError(
                f"values: {type(value).__name__} {value!r} at position {row} is not a string of tags "
                "or a list of strings"
            )
        for tag in value:
            if isinstance(tag, str):
                if tag.strip():
                    labels.append((row, tag.strip()))
            elif not _is_missing(tag):
                raise TypeError(f"values: tag {tag!r} of row {row} is {type(tag).__name__}, not a string")
    return _labelled(labels, prefix, ids)


def _numbers(values: Any, ids: IdMap) -> np.ndarray:
    """float64 values, NaN where missing."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu" and values.ndim == 1:
        _check_rows(len(values), ids, "values")  # no list of a million floats
        return values.astype(np.float64)
    listed = _row_values(values, ids)
    numbers = np.full(len(listed), np.nan)
    for row, value in enumerate(listed):
        if is_real(value):
            numbers[row] = float(value)
        elif not is_missing_id(value):
            raise TypeError(f"values: {type(value).__name__} {value!r} at position {row} is not a number")
    return numbers


def _edges(bins: Any, numbers: np.ndarray) -> np.ndarray:
    """The increasing inner edges that ``bins`` asks for."""
    if is_integer(bins):
        count = check_integer(bins, "bins", low=1)
        finite = numbers[np.isfinite(numbers)]
        if count == 1 or len(finite) == 0:
            return np.empty(0)
        ordered = np.sort(finite)
        # The j/count quantile at sorted position ceil(j (n - 1) / count),
        # in integers: an exact position, and a value present, so that every
        # bucket [edge, next edge) holds at least its edge.
        last = len(ordered) - 1
        if count > last:  # then every position 1 .. last is some quantile's
            positions = np.arange(1, last + 1)
        else:
            positions = -(-last * np.arange(1, count) // count)
        edges = np.unique(ordered[positions])
        # An edge at the smallest value would only open an empty first bucket.
        return edges[edges > ordered[0]]
    wanted = "an integer >= 1 or a sequence of increasing finite edges"
    if isinstance(bins, (str, bytes, bool, np.bool_)) or is_real(bins):
        raise ValueError(f"bins must be {wanted}, got {bins!r}")
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"bins must be {wanted}, got {bins!r}") from None
    if edges.ndim != 1 or len(edges) == 0:
        raise ValueError(f"bins must be {wanted}, got {bins!r}")
    if not np.isfinite(edges).all():
        position = int(np.flatnonzero(~np.isfinite(edges))[0])
        raise ValueError(f"bins: edge {edges[position]} at position {position} is not finite")
    if len(edges) > 1 and (np.diff(edges) <= 0).any():
        position = int(np.flatnonzero(np.diff(edges) <= 0)[0]) + 1
        raise ValueError(
            f"bins must be strictly increasing: edge {_edge_text(edges[position])} at position {position} "
            f"is not above {_edge_text(edges[position - 1])}"
        )
    return edges


def _edge_text(edge: float) -> str:
    """An edge exactly, as briefly as it reads back: ``1990``, ``2.5``."""
    if float(edge).is_integer() and abs(edge) < 2**53:
        return str(int(edge))
    return repr(float(edge))


def bucketed(values: Any, ids: IdMap, name: str, bins: Any = 10) -> Features:
    """One-hot buckets of a numeric value.

    Parameters
    ----------
    values : array_like, shape (len(ids),), numbers
        NaN (or None, NA) leaves the row empty; infinities fall in the
        first or last bucket.
    ids : IdMap
        The ids the rows follow.
    name : str
        What the columns are called after.
    bins : int or sequence of float
        An int ``k >= 1``: edges at the ``1/k, ..., (k-1)/k`` quantiles of
        the finite values, each the value at sorted position
        ``ceil(j (n - 1) / k)`` (numpy's ``method="higher"``), so edges are
        values present and read as such; repeated edges are merged and one
        at the smallest value dropped: at most ``k`` buckets, none empty. On
        these values the buckets are those of linear interpolation
        (scikit-learn's ``KBinsDiscretizer(strategy="quantile",
        quantile_method="linear")``) less its empty ones. A sequence: the
        increasing inner edges ``e1 < ... < ek`` themselves, giving ``k + 1``
        buckets.

    Returns
    -------
    Features
        ``matrix`` of shape (len(ids), n_edges + 1), float32, one 1 per row
        with a value. Buckets hold their lower edge: the columns are
        ``name<e1``, ``name=[e1,e2)``, ..., ``name>=ek``, edges written
        exactly (``1990``, ``2.5``); with no edge the one column is
        ``name=(-inf,inf)``.

    Raises
    ------
    TypeError
        A value that is not a number.
    ValueError
        ``bins`` not an integer >= 1 nor an increasing sequence of finite
        numbers; ``values`` not one per row of ``ids``.

    Examples
    --------
    >>> part = bucketed([1985, 1999, 2000, None], IdMap([1, 2, 3, 4]), "year", bins=[1990, 2000])
    >>> part.columns.tolist()
    ['year<1990', 'year=[1990,2000)', 'year>=2000']
    >>> part.to_dense().argmax(axis=1).tolist(), part.matrix.getnnz(axis=1).tolist()
    ([0, 1, 2, 0], [1, 1, 1, 0])
    """
    numbers = _numbers(values, ids)
    _check_name(name, "name")
    edges = _edges(bins, numbers)
    texts = [_edge_text(edge) for edge in edges]
    if len(edges) == 0:
        names = [f"{name}=(-inf,inf)"]
    else:
        inner = [f"{name}=[{low},{high})" for low, high in zip(texts[:-1], texts[1:])]
        names = [f"{name}<{texts[0]}", *inner, f"{name}>={texts[-1]}"]
    rows = np.flatnonzero(~np.isnan(numbers))
    # side="right": a value equal to an edge opens the bucket above it.
    columns = np.searchsorted(edges, numbers[rows], side="right")
    return _binary(rows.tolist(), columns.tolist(), names, ids)


def text_tokens(
    texts: Any,
    ids: IdMap,
    prefix: str,
    *,
    min_count: int = 1,
    max_columns: int | None = None,
    hash_buckets: int | None = None,
    stop_words: Iterable[str] | None = None,
) -> Features:
    """Multi-hot word features of a text per row.

    The words of a text are the matches of :data:`TOKEN_PATTERN` (runs of
    Unicode letters and digits) in its lower-cased form, less ``stop_words``.

    Parameters
    ----------
    texts : array_like, shape (len(ids),), str
        A missing text (None, NaN, NA, ``""``) leaves the row empty.
    ids : IdMap
        The ids the rows follow.
    prefix : str
        Column names are ``prefix=word`` (vocabulary) or ``prefix#b`` (hashing).
    min_count : int
        Vocabulary mode: keep the words found in at least this many rows.
    max_columns : int, optional
        Vocabulary mode: then keep at most this many, those in the most rows
        (ties broken alphabetically).
    hash_buckets : int, optional
        Hashing mode: word ``w`` goes to column ``zlib.crc32(w.encode("utf-8"))
        % hash_buckets`` (stable across runs, processes and machines, unlike
        Python's salted ``hash``); every bucket gets a column, words that
        collide share it. ``min_count`` and ``max_columns`` do not apply.
    stop_words : iterable of str, optional
        Words to leave out (matched lower-cased).

    Returns
    -------
    Features
        ``matrix`` of shape (len(ids), n_words or hash_buckets), float32, 1
        where a row's text holds the word (once however often it appears);
        vocabulary columns sorted by word.

    Examples
    --------
    >>> part = text_tokens(["The Big Sleep", "Big Fish", None], IdMap([1, 2, 3]), "title")
    >>> part.columns.tolist()
    ['title=big', 'title=fish', 'title=sleep', 'title=the']
    >>> text_tokens(["Big Fish"], IdMap([1]), "t", hash_buckets=4).columns.tolist()
    ['t#0', 't#1', 't#2', 't#3']
    """
    listed = _row_values(texts, ids, "texts")
    _check_name(prefix, "prefix")
    min_count = check_integer(min_count, "min_count", low=1)
    max_columns = check_integer(max_columns, "max_columns", low=1, allow_none=True)
    hash_buckets = check_integer(hash_buckets, "hash_buckets", low=1, allow_none=True)
    if hash_buckets is not None and (min_count != 1 or max_columns is not None):
        raise ValueError(
            f"min_count={min_count} and max_columns={max_columns} choose a vocabulary; with "
            f"hash_buckets={hash_buckets} there is none: leave them at 1 and None"
        )
    if stop_words is None:
        stop = frozenset()
    elif isinstance(stop_words, str) or not isinstance(stop_words, Iterable):
        raise TypeError(f"stop_words must be a collection of words, got {stop_words!r}")
    else:
        stop = frozenset(_check_word(word).lower() for word in stop_words)
    words = []
    tokens: dict[str, list[str]] = {}  # texts may repeat: tokenize each once
    for row, text in enumerate(listed):
        if _is_missing(text):
            continue
        if not isinstance(text, str):
            raise TypeError(f"texts: {type(text).__name__} {text!r} at position {row} is not a string")
        if text not in tokens:
            tokens[text] = sorted(set(_TOKEN.findall(text.lower())) - stop)
        words.append((row, tokens[text]))
    if hash_buckets is not None:
        # Every bucket gets a name: refuse a count whose names alone would not fit.
        check_memory(hash_buckets * 4 * (len(prefix) + 12), "the names of the hashed columns", "hash_buckets")
        rows = [row for row, row_words in words for _ in row_words]
        columns = [zlib.crc32(word.encode("utf-8")) % hash_buckets for _, row_words in words for word in row_words]
        return _binary(rows, columns, [f"{prefix}#{bucket}" for bucket in range(hash_buckets)], ids)
    rows_with = Counter(word for _, row_words in words for word in row_words)
    kept = sorted((word for word, count in rows_with.items() if count >= min_count), key=lambda w: (-rows_with[w], w))
    vocabulary = set(kept[:max_columns])
    return _labelled([(row, word) for row, row_words in words for word in row_words if word in vocabulary], prefix, ids)


def _check_word(word: Any) -> str:
    if not isinstance(word, str):
        raise TypeError(f"stop_words must hold strings, got {type(word).__name__} {word!r}")
    return word


def __getattr__(name: str) -> Any:
    if name in _FROM_SOURCES:
        from . import feature_sources

        return getattr(feature_sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

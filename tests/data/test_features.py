"""Feature builders: known answers, agreement with pandas and scikit-learn, properties, bad input.

:func:`categorical`, :func:`tags`, :func:`bucketed`, :func:`text_tokens` and
:meth:`Features.concat` on small hand-made inputs (exact matrices and
column names), against ``pd.get_dummies``, ``str.get_dummies``,
``np.digitize``, ``KBinsDiscretizer`` and ``CountVectorizer`` on random
inputs, and with Hypothesis for the row rules. Tables and MovieLens are in
``test_feature_sources.py``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tripletrec.data import (
    TOKEN_PATTERN,
    Features,
    IdMap,
    bucketed,
    categorical,
    tags,
    text_tokens,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SRC = Path(__file__).resolve().parents[2] / "src"


def ids_of(n: int) -> IdMap:
    return IdMap([f"r{i}" for i in range(n)])


def assert_canonical(features: Features, binary: bool = True) -> None:
    """The form every builder promises: float32 CSR, sorted int32 indices, no duplicates, unique names."""
    matrix = features.matrix
    assert sp.isspmatrix_csr(matrix) and matrix.dtype == np.float32
    assert matrix.indices.dtype == np.int32 and matrix.indptr.dtype == np.int32
    assert matrix.has_canonical_format
    assert matrix.shape == (len(features.ids), len(features.columns))
    assert len(set(features.columns.tolist())) == len(features.columns)
    if binary:
        assert np.all(matrix.data == 1)


def dense(features: Features) -> list[list[int]]:
    return features.to_dense().astype(int).tolist()


# ------------------------------------------------------------- known answers
def test_categorical_by_hand():
    part = categorical(["red", "blue", None, "red", math.nan, pd.NA, ""], ids_of(7), "color")
    assert part.columns.tolist() == ["color=blue", "color=red"]
    assert dense(part) == [[0, 1], [1, 0], [0, 0], [0, 1], [0, 0], [0, 0], [0, 0]]
    assert_canonical(part)


def test_categorical_numbers_and_bools_sort_by_value():
    numbers = categorical(np.array([10, 2, 10, 33]), ids_of(4), "n")
    assert numbers.columns.tolist() == ["n=2", "n=10", "n=33"]  # numeric order, not "10" < "2"
    assert dense(numbers) == [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    floats = categorical([2.5, None, 0.5], ids_of(3), "x")
    assert floats.columns.tolist() == ["x=0.5", "x=2.5"]
    flags = categorical([True, False, None], ids_of(3), "adult")
    assert flags.columns.tolist() == ["adult=False", "adult=True"]
    assert dense(flags) == [[0, 1], [1, 0], [0, 0]]


def test_categorical_reads_a_series_in_order():
    series = pd.Series(["b", "a", None], index=[9, 7, 8])  # the index is not used
    part = categorical(series, ids_of(3), "c")
    assert dense(part) == [[0, 1], [1, 0], [0, 0]]


def test_tags_by_hand():
    values = ["Drama|Comedy", ["War", "Drama", "War"], None, " Comedy | | Drama ", (), "Noir", np.array(["War"])]
    part = tags(values, ids_of(7), "genre")
    assert part.columns.tolist() == ["genre=Comedy", "genre=Drama", "genre=Noir", "genre=War"]
    assert dense(part) == [
        [1, 1, 0, 0],
        [0, 1, 0, 1],  # War listed twice: one entry
        [0, 0, 0, 0],
        [1, 1, 0, 0],  # tags stripped, the empty one dropped
        [0, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
    ]
    assert_canonical(part)


def test_tags_other_separator():
    part = tags(["a, b", "b"], ids_of(2), "t", separator=",")
    assert part.columns.tolist() == ["t=a", "t=b"] and dense(part) == [[1, 1], [0, 1]]


def test_bucketed_explicit_edges_by_hand():
    values = [1985, 1990, 1999.5, 2000, 2021, None, math.nan, -math.inf, math.inf]
    part = bucketed(values, ids_of(9), "year", bins=[1990, 2000])
    assert part.columns.tolist() == ["year<1990", "year=[1990,2000)", "year>=2000"]
    assert dense(part) == [
        [1, 0, 0],
        [0, 1, 0],  # an edge opens the bucket above it
        [0, 1, 0],
        [0, 0, 1],
        [0, 0, 1],
        [0, 0, 0],
        [0, 0, 0],
        [1, 0, 0],  # infinities fall in the open-ended buckets
        [0, 0, 1],
    ]
    assert_canonical(part)


def test_bucketed_edge_names_are_exact():
    part = bucketed([0.0], ids_of(1), "x", bins=[-1.5, 0.1, 2, 1e20])
    assert part.columns.tolist() == ["x<-1.5", "x=[-1.5,0.1)", "x=[0.1,2)", "x=[2,1e+20)", "x>=1e+20"]


def test_bucketed_quantiles_by_hand():
    # Quartile positions 1.75, 3.5, 5.25 of 8 values, rounded up: the values 3, 5, 7.
    part = bucketed(np.arange(8, 0, -1), ids_of(8), "v", bins=4)
    assert part.columns.tolist() == ["v<3", "v=[3,5)", "v=[5,7)", "v>=7"]
    assert part.to_dense().argmax(axis=1).tolist() == [3, 3, 2, 2, 1, 1, 0, 0]


@pytest.mark.parametrize(
    ("bins", "names"),
    [
        (2, ["v<3", "v>=3"]),
        (3, ["v<3", "v=[3,4)", "v>=4"]),  # positions 4/3, 8/3 round up to 2, 3
        (4, ["v<2", "v=[2,3)", "v=[3,4)", "v>=4"]),
        (5, ["v<2", "v=[2,3)", "v=[3,4)", "v=[4,5)", "v>=5"]),
        (10**12, ["v<2", "v=[2,3)", "v=[3,4)", "v=[4,5)", "v>=5"]),  # no more buckets than values
    ],
)
def test_bucketed_quantile_count(bins, names):
    assert bucketed([5, 4, 3, 2, 1], ids_of(5), "v", bins=bins).columns.tolist() == names


def test_bucketed_quantiles_merge_repeated_edges():
    # Quartiles of [0]*6 + [1, 5] are 0, 0, 1: the edges at the minimum would
    # only open an empty bucket, so one edge is left.
    part = bucketed([0, 0, 0, 0, 0, 0, 1, 5], ids_of(8), "v", bins=4)
    assert part.columns.tolist() == ["v<1", "v>=1"]
    assert part.to_dense().argmax(axis=1).tolist() == [0] * 6 + [1, 1]
    constant = bucketed([3, 3, None], ids_of(3), "v", bins=5)
    assert constant.columns.tolist() == ["v=(-inf,inf)"] and dense(constant) == [[1], [1], [0]]
    assert bucketed([None, None], ids_of(2), "v").matrix.nnz == 0


def test_text_vocabulary_by_hand():
    texts = ["The Big Sleep", "big fish, BIG pond", None, "Sleep_less 2", ""]
    part = text_tokens(texts, ids_of(5), "t")
    assert part.columns.tolist() == ["t=2", "t=big", "t=fish", "t=less", "t=pond", "t=sleep", "t=the"]
    assert dense(part) == [
        [0, 1, 0, 0, 0, 1, 1],
        [0, 1, 1, 0, 1, 0, 0],  # "big" twice: one entry
        [0, 0, 0, 0, 0, 0, 0],
        [1, 0, 0, 1, 0, 1, 0],  # the underscore separates words
        [0, 0, 0, 0, 0, 0, 0],
    ]
    assert_canonical(part)


def test_text_min_count_max_columns_and_stop_words():
    texts = ["a b c", "b c d", "c d e", "e"]
    assert text_tokens(texts, ids_of(4), "t", min_count=2).columns.tolist() == ["t=b", "t=c", "t=d", "t=e"]
    # c is in 3 rows; b, d, e in 2: the tie goes to b, d (alphabetical).
    top = text_tokens(texts, ids_of(4), "t", min_count=2, max_columns=3)
    assert top.columns.tolist() == ["t=b", "t=c", "t=d"]
    assert dense(top) == [[1, 1, 0], [1, 1, 1], [0, 1, 1], [0, 0, 0]]
    stopped = text_tokens(texts, ids_of(4), "t", stop_words=["C", "e"])
    assert stopped.columns.tolist() == ["t=a", "t=b", "t=d"]


def test_text_hashing_by_hand():
    texts = ["Big Fish", None, "fish"]
    part = text_tokens(texts, ids_of(3), "h", hash_buckets=7)
    assert part.columns.tolist() == [f"h#{b}" for b in range(7)]
    big, fish = (zlib.crc32(word.encode()) % 7 for word in ("big", "fish"))
    expected = np.zeros((3, 7), dtype=int)
    expected[0, [big, fish]] = 1
    expected[2, fish] = 1
    assert dense(part) == expected.tolist()
    assert_canonical(part)
    one = text_tokens(["many different words here"], ids_of(1), "h", hash_buckets=1)
    assert dense(one) == [[1]]  # collisions share a column, still 0/1


def test_concat_by_hand():
    ids = ids_of(3)
    gender = categorical(["F", "M", None], ids, "gender")
    age = Features.numeric([31, 0, 25.5], IdMap(ids.ids), "age")  # an equal IdMap, another object
    both = Features.concat(gender, age)
    assert both.ids is ids
    assert both.columns.tolist() == ["gender=F", "gender=M", "age"]
    np.testing.assert_array_equal(both.to_dense(), [[1, 0, 31], [0, 1, 0], [0, 0, 25.5]])
    assert_canonical(both, binary=False)
    assert Features.concat(gender).columns.tolist() == gender.columns.tolist()


def test_concat_makes_a_non_canonical_part_canonical():
    ids = ids_of(2)
    # Row 0 lists column 1 before 0, and column 1 twice; int64 indices.
    raw = sp.csr_matrix(
        (np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1], dtype=np.int64), np.array([0, 3, 3], dtype=np.int64)),
        shape=(2, 2),
    )
    before = raw.indices.copy()
    part = Features(raw, np.array(["a", "b"]), ids)
    both = Features.concat(part, categorical(["x", "y"], ids, "c"))
    assert_canonical(both, binary=False)
    np.testing.assert_array_equal(both.to_dense(), [[2, 4, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(raw.indices, before)  # the part itself is untouched


def test_concat_refuses_other_ids_repeated_names_and_non_features():
    ids = ids_of(2)
    part = categorical(["x", "y"], ids, "c")
    with pytest.raises(ValueError, match=r"part 1 .* has other ids than part 0"):
        Features.concat(part, categorical(["x", "y"], IdMap(["r0", "r9"]), "d"))
    with pytest.raises(ValueError, match=r"1 column names appear more than once: 'c=x'"):
        Features.concat(part, categorical(["x", None], ids, "c"))
    with pytest.raises(TypeError, match=r"part 1 is csr_matrix, not Features"):
        Features.concat(part, part.matrix)
    with pytest.raises(ValueError, match=r"at least one"):
        Features.concat()


# ------------------------------------------------- agreement with libraries
labels = st.lists(st.one_of(st.sampled_from(["a", "b", "Zed", "é"]), st.none()), min_size=1, max_size=12)


@SETTINGS
@given(labels)
def test_categorical_matches_pandas_get_dummies(values):
    part = categorical(values, ids_of(len(values)), "c")
    expected = pd.get_dummies(pd.Series(values, dtype=object), prefix="c", prefix_sep="=", dtype=int)
    assert part.columns.tolist() == expected.columns.tolist()
    assert dense(part) == expected.to_numpy().tolist()
    assert np.all(part.matrix.getnnz(axis=1) <= 1)
    assert_canonical(part)


tag_strings = st.lists(st.sampled_from(["x", "y", "zz", "Q"]), max_size=4).map("|".join)


@SETTINGS
@given(st.lists(st.one_of(tag_strings, st.none()), min_size=1, max_size=10))
def test_tags_match_pandas_str_get_dummies(values):
    values = [value or None for value in values]  # "" is no tag at all for pandas either
    part = tags(values, ids_of(len(values)), "t")
    expected = pd.Series(values, dtype=object).str.get_dummies(sep="|").add_prefix("t=")
    assert part.columns.tolist() == expected.columns.tolist()
    assert dense(part) == expected.to_numpy().tolist()
    distinct = [len(set(value.split("|"))) if value else 0 for value in values]
    assert part.matrix.getnnz(axis=1).tolist() == distinct
    assert_canonical(part)


finite_floats = st.floats(-1e6, 1e6, allow_nan=False)


@SETTINGS
@given(
    st.lists(st.one_of(finite_floats, st.just(math.nan)), min_size=1, max_size=20),
    st.lists(finite_floats, min_size=1, max_size=5, unique=True).map(sorted),
)
def test_bucketed_edges_match_np_digitize(values, edges):
    part = bucketed(values, ids_of(len(values)), "v", bins=edges)
    array = np.array(values)
    known = ~np.isnan(array)
    assert len(part.columns) == len(edges) + 1
    assert part.matrix.getnnz(axis=1).tolist() == known.astype(int).tolist()
    np.testing.assert_array_equal(part.to_dense()[known].argmax(axis=1), np.digitize(array[known], edges))
    assert_canonical(part)


@SETTINGS
@given(st.lists(st.integers(-1000, 1000), min_size=2, max_size=60, unique=True), st.integers(2, 8))
def test_bucketed_quantiles_match_kbins_discretizer(values, bins):
    from sklearn.preprocessing import KBinsDiscretizer

    array = np.array(values, dtype=np.float64)
    ours = bucketed(array, ids_of(len(array)), "v", bins=bins).to_dense()
    # Where a quantile falls on a value, float rounding in sklearn's
    # percentiles may put its edge a hair either side: compare elsewhere.
    assume(all((len(array) - 1) * j % bins for j in range(1, bins)))
    theirs = KBinsDiscretizer(n_bins=bins, encode="onehot-dense", strategy="quantile", quantile_method="linear")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "bins whose width are too small ... are removed"
        expected = theirs.fit_transform(array.reshape(-1, 1))
    # Linear interpolation may leave a bucket empty (two edges between the
    # same two values); ours has no empty bucket.
    np.testing.assert_array_equal(ours, expected[:, expected.any(axis=0)])


words = st.text(alphabet="abcAB1é_-' ", max_size=12)


@SETTINGS
@given(st.lists(st.one_of(words, st.none()), min_size=1, max_size=10), st.integers(1, 3))
def test_text_matches_count_vectorizer(texts, min_count):
    from sklearn.feature_extraction.text import CountVectorizer

    part = text_tokens(texts, ids_of(len(texts)), "w", min_count=min_count, stop_words=["a"])
    # CountVectorizer's default pattern keeps 2+ letters and the underscore:
    # with ours, it makes the same words.
    vectorizer = CountVectorizer(binary=True, token_pattern=f"(?u){TOKEN_PATTERN}", min_df=min_count, stop_words=["a"])
    try:
        expected = vectorizer.fit_transform([text or "" for text in texts]).toarray()
    except ValueError:  # sklearn refuses an empty vocabulary
        assert part.columns.tolist() == []
        return
    assert part.columns.tolist() == [f"w={word}" for word in vectorizer.get_feature_names_out()]
    assert dense(part) == expected.tolist()
    assert_canonical(part)


@SETTINGS
@given(st.lists(st.one_of(words, st.none()), min_size=1, max_size=10), st.integers(1, 16))
def test_hashing_is_the_vocabulary_folded_by_crc32(texts, buckets):
    ids = ids_of(len(texts))
    vocabulary = text_tokens(texts, ids, "w")
    assume(len(vocabulary.columns))
    hashed = text_tokens(texts, ids, "h", hash_buckets=buckets)
    fold = np.zeros((len(vocabulary.columns), buckets))
    for column, name in enumerate(vocabulary.columns):
        fold[column, zlib.crc32(name[2:].encode("utf-8")) % buckets] = 1
    np.testing.assert_array_equal(hashed.to_dense(), np.minimum(vocabulary.to_dense() @ fold, 1))
    assert_canonical(hashed)


def test_hashing_is_the_same_in_another_process():
    texts = ["Toy Story", "Shawshank Redemption, The", "Cité des enfants perdus, La"]
    here = text_tokens(texts, ids_of(3), "h", hash_buckets=64).matrix.indices.tolist()
    script = (
        "from tripletrec.data import IdMap, text_tokens\n"
        f"texts = {texts!r}\n"
        "ids = IdMap([f'r{i}' for i in range(3)])\n"
        "print(text_tokens(texts, ids, 'h', hash_buckets=64).matrix.indices.tolist())\n"
    )
    for seed in ("0", "12345"):  # Python's hash() would differ between these
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(SRC), "PYTHONHASHSEED": seed, "TRIPLETREC_QUIET": "1"},
        )
        assert result.stdout.strip() == str(here)


# ------------------------------------------------------------ properties
@SETTINGS
@given(st.lists(st.one_of(st.integers(-3, 3), st.floats(-2, 2), st.none()), min_size=1, max_size=15))
def test_categorical_rows_hold_at_most_one_entry(values):
    part = categorical(values, ids_of(len(values)), "c")
    missing = [value is None or (isinstance(value, float) and math.isnan(value)) for value in values]
    assert part.matrix.getnnz(axis=1).tolist() == [0 if gone else 1 for gone in missing]
    assert len(part.columns) == len({value for value, gone in zip(values, missing) if not gone})
    assert_canonical(part)


@SETTINGS
@given(st.lists(st.lists(st.sampled_from(["p", "q", "r", " ", ""]), max_size=5), min_size=1, max_size=10))
def test_tags_rows_count_their_distinct_tags(values):
    part = tags(values, ids_of(len(values)), "t")
    assert part.matrix.getnnz(axis=1).tolist() == [len({tag for tag in row if tag.strip()}) for row in values]
    assert_canonical(part)


@SETTINGS
@given(st.lists(st.one_of(finite_floats, st.none()), min_size=1, max_size=30), st.integers(1, 8))
def test_bucketed_quantiles_are_one_hot_and_no_bucket_is_empty(values, bins):
    part = bucketed(values, ids_of(len(values)), "v", bins=bins)
    known = np.array([value is not None for value in values])
    assert part.matrix.getnnz(axis=1).tolist() == known.astype(int).tolist()
    assert len(part.columns) <= bins
    if known.any():
        assert np.all(part.matrix.getnnz(axis=0) > 0)
    assert_canonical(part)


# -------------------------------------------------------------- bad input
IDS3 = ids_of(3)
BAD = [
    ("categorical length", lambda: categorical(["a", "b"], IDS3, "c"), ValueError, r"values has 2 entries but ids has 3"),
    ("categorical string", lambda: categorical("abc", IDS3, "c"), TypeError, r"values must be a sequence .* got str"),
    ("categorical 2-d", lambda: categorical(np.zeros((3, 2)), IDS3, "c"), ValueError, r"values must be one-dimensional"),
    ("categorical ids", lambda: categorical(["a"] * 3, ["x", "y", "z"], "c"), TypeError, r"ids must be an IdMap, got list"),
    ("categorical prefix", lambda: categorical(["a"] * 3, IDS3, 5), TypeError, r"prefix must be a non-empty string, got 5"),
    ("categorical mixed", lambda: categorical(["a", 1, None], IDS3, "c"), TypeError, r"values mix kinds: 1 at position 1 is a number but 'a' at position 0 is a string"),
    ("categorical object", lambda: categorical(["a", ["b"], "c"], IDS3, "c"), TypeError, r"values: list \['b'\] at position 1 is not a string, number or bool"),
    ("tags number", lambda: tags(["a", 5, None], IDS3, "t"), TypeError, r"values: int 5 at position 1 is not a string of tags"),
    ("tags inner number", lambda: tags([["a", 2], [], []], IDS3, "t"), TypeError, r"values: tag 2 of row 0 is int, not a string"),
    ("tags separator", lambda: tags(["a"] * 3, IDS3, "t", separator=""), ValueError, r"separator must be a non-empty string, got ''"),
    ("bucketed length", lambda: bucketed(np.arange(4.0), IDS3, "v"), ValueError, r"values has 4 entries but ids has 3"),
    ("bucketed text", lambda: bucketed([1, "2", 3], IDS3, "v"), TypeError, r"values: str '2' at position 1 is not a number"),
    ("bucketed bool", lambda: bucketed([1, True, 3], IDS3, "v"), TypeError, r"values: bool True at position 1 is not a number"),
    ("bins zero", lambda: bucketed([1, 2, 3], IDS3, "v", bins=0), ValueError, r"bins must be an integer >= 1, got 0"),
    ("bins float", lambda: bucketed([1, 2, 3], IDS3, "v", bins=4.0), ValueError, r"bins must be an integer >= 1 or a sequence .*, got 4.0"),
    ("bins string", lambda: bucketed([1, 2, 3], IDS3, "v", bins="10"), ValueError, r"bins must be an integer >= 1 or a sequence .*, got '10'"),
    ("bins empty", lambda: bucketed([1, 2, 3], IDS3, "v", bins=[]), ValueError, r"bins must be .*, got \[\]"),
    ("bins decreasing", lambda: bucketed([1, 2, 3], IDS3, "v", bins=[1, 5, 5]), ValueError, r"bins must be strictly increasing: edge 5 at position 2 is not above 5"),
    ("bins nan", lambda: bucketed([1, 2, 3], IDS3, "v", bins=[1, math.nan]), ValueError, r"bins: edge nan at position 1 is not finite"),
    ("bucketed name", lambda: bucketed([1, 2, 3], IDS3, ""), TypeError, r"name must be a non-empty string, got ''"),
    ("texts length", lambda: text_tokens(["a"], IDS3, "t"), ValueError, r"texts has 1 entries but ids has 3"),
    ("texts number", lambda: text_tokens(["a", 3, "b"], IDS3, "t"), TypeError, r"texts: int 3 at position 1 is not a string"),
    ("hash zero", lambda: text_tokens(["a"] * 3, IDS3, "t", hash_buckets=0), ValueError, r"hash_buckets must be an integer >= 1 or None, got 0"),
    ("hash huge", lambda: text_tokens(["a"] * 3, IDS3, "t", hash_buckets=10**15), ValueError, r"the names of the hashed columns would need .* GiB .* lower hash_buckets"),
    ("hash float", lambda: text_tokens(["a"] * 3, IDS3, "t", hash_buckets=8.0), ValueError, r"hash_buckets must be an integer >= 1 or None, got 8.0"),
    ("hash with vocabulary", lambda: text_tokens(["a"] * 3, IDS3, "t", hash_buckets=8, min_count=2), ValueError, r"min_count=2 and max_columns=None choose a vocabulary; with hash_buckets=8"),
    ("min_count zero", lambda: text_tokens(["a"] * 3, IDS3, "t", min_count=0), ValueError, r"min_count must be an integer >= 1, got 0"),
    ("max_columns zero", lambda: text_tokens(["a"] * 3, IDS3, "t", max_columns=0), ValueError, r"max_columns must be an integer >= 1 or None, got 0"),
    ("stop_words string", lambda: text_tokens(["a"] * 3, IDS3, "t", stop_words="the"), TypeError, r"stop_words must be a collection of words, got 'the'"),
    ("stop_words number", lambda: text_tokens(["a"] * 3, IDS3, "t", stop_words=["a", 1]), TypeError, r"stop_words must hold strings, got int 1"),
]  # fmt: skip


@pytest.mark.parametrize(("function", "error", "pattern"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_names_the_argument(function, error, pattern):
    with pytest.raises(error, match=pattern):
        function()

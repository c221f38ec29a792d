"""Features from tables and from MovieLens: :func:`from_dataframe`, :func:`movielens_features`.

Tables: known answers with pandas and with a plain dict of lists, rows
aligned to the ids whatever the frame's order, and bad input. MovieLens: the
real ml-100k from ``TRIPLETREC_DATA`` (skipped when absent) and the small
fixture archives of ``test_movielens_reader``.
"""

from __future__ import annotations

import math
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tripletrec.data import (
    MOVIELENS_TITLE_STOP_WORDS,
    Features,
    IdMap,
    categorical,
    features,
    from_dataframe,
    movielens,
    movielens_features,
    tags,
)

from .test_features import SETTINGS, assert_canonical, dense
from .test_movielens_reader import write_fixture

MOVIES = IdMap([10, 20, 30, 40])


def movie_frame() -> pd.DataFrame:
    """Rows out of order, movie 30 absent, movie 99 not in MOVIES."""
    return pd.DataFrame(
        {
            "movie": [20, 99, 10, 40],
            "studio": ["Ghibli", "Pixar", "Pixar", None],
            "genres": ["Drama|War", "Comedy", "Comedy|Drama", math.nan],
            "year": [1988, 2001, 1995, math.nan],
            "title": ["Grave of the Fireflies", "Monsters Inc", "Toy Story", "A Story"],
        }
    )


# ------------------------------------------------------------------ tables
def test_from_dataframe_by_hand():
    part = from_dataframe(
        movie_frame(),
        "movie",
        MOVIES,
        categorical=["studio"],
        tags={"genres": "|"},
        bucketed={"year": [1990]},
        text={"title": {"min_count": 2}},
    )
    assert part.ids is MOVIES
    assert part.columns.tolist() == [
        "studio=Ghibli",
        "studio=Pixar",  # movie 10's; movie 99 (not in MOVIES) is ignored
        "genres=Comedy",
        "genres=Drama",
        "genres=War",
        "year<1990",
        "year>=1990",
        "title=story",  # in two titles of MOVIES (Monsters Inc is not one)
    ]
    assert dense(part) == [
        [0, 1, 1, 1, 0, 0, 1, 1],  # 10: Toy Story
        [1, 0, 0, 1, 1, 1, 0, 0],  # 20: Grave of the Fireflies
        [0, 0, 0, 0, 0, 0, 0, 0],  # 30: not in the frame
        [0, 0, 0, 0, 0, 0, 0, 1],  # 40: only a title
    ]
    assert_canonical(part)


def test_from_dataframe_takes_a_dict_of_lists_and_single_names():
    frame = movie_frame()
    plain = {column: frame[column].tolist() for column in frame.columns}
    with_pandas = from_dataframe(frame, "movie", MOVIES, categorical="studio", text="title")
    without = from_dataframe(plain, "movie", MOVIES, categorical=["studio"], text=["title"])
    assert with_pandas.columns.tolist() == without.columns.tolist()
    assert (with_pandas.matrix != without.matrix).nnz == 0
    assert "title=fireflies" in without.columns and "title=monsters" not in without.columns


def test_from_dataframe_reads_nullable_and_categorical_columns():
    frame = pd.DataFrame(
        {
            "user": pd.Series([3, 1, pd.NA], dtype="Int64"),
            "city": pd.Series(["Oslo", pd.NA, "Lima"], dtype="string"),
            "band": pd.Series(["b", "a", "a"], dtype="category"),
        }
    )
    part = from_dataframe(frame, "user", IdMap([1, 2, 3]), categorical=["city", "band"])
    assert part.columns.tolist() == ["city=Oslo", "band=a", "band=b"]  # the NA-id row is ignored
    assert dense(part) == [[0, 1, 0], [0, 0, 0], [1, 0, 1]]


@SETTINGS
@given(st.permutations(range(6)), st.lists(st.sampled_from(["x", "y", None]), min_size=6, max_size=6))
def test_from_dataframe_aligns_rows_to_ids(order, values):
    ids = IdMap([f"u{i}" for i in range(5)])  # u5 is only in the frame
    frame = pd.DataFrame({"id": [f"u{i}" for i in order], "v": [values[i] for i in order]})
    part = from_dataframe(frame, "id", ids, categorical=["v"])
    expected = categorical(values[:5], ids, "v")
    assert part.columns.tolist() == expected.columns.tolist()
    assert (part.matrix != expected.matrix).nnz == 0


BAD_TABLES = [
    ("repeated id", dict(frame={"id": [1, 2, 1], "v": ["a", "b", "c"]}, categorical=["v"]), ValueError, r"id_column 'id': 1 ids appear on more than one row \(e.g. 1\)"),
    ("repeated unknown id", dict(frame={"id": [1, 9, 9], "v": ["a", "b", "c"]}, categorical=["v"]), ValueError, r"more than one row \(e.g. 9\)"),
    ("missing id column", dict(frame={"v": ["a"]}, categorical=["v"]), ValueError, r"id_column: frame has no column 'id'"),
    ("short column", dict(frame={"id": [1, 2], "v": ["a"]}, categorical=["v"]), ValueError, r"categorical: column 'v' has 1 rows but id_column 'id' has 2"),
    ("missing column", dict(frame={"id": [1]}, tags={"genres": "|"}), ValueError, r"tags: frame has no column 'genres'"),
    ("nothing selected", dict(frame={"id": [1]}), ValueError, r"select at least one column"),
    ("no id matches", dict(frame={"id": ["1", "2"], "v": ["a", "b"]}, categorical=["v"]), ValueError, r"none of the frame's 2 ids is in ids \(frame: '1', ...; ids: 1, ...\)"),
    ("tags as list", dict(frame={"id": [1], "v": ["a"]}, tags=["v"]), TypeError, r"tags must map column names to settings, got \['v'\]"),
    ("categorical as dict", dict(frame={"id": [1], "v": ["a"]}, categorical={"v": 1}), TypeError, r"categorical must be a column name or a sequence of names"),
    ("text settings", dict(frame={"id": [1], "v": ["a"]}, text={"v": 2}), TypeError, r"text: the settings of column 'v' must be a dict of keywords, got 2"),
    ("bad bins", dict(frame={"id": [1], "v": [1.0]}, bucketed={"v": 0}), ValueError, r"bins must be an integer >= 1, got 0"),
    ("shared names", dict(frame={"id": [1], "v": ["a"]}, categorical=["v"], tags={"v": "|"}), ValueError, r"column names appear more than once: 'v=a'"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "error", "pattern"), [c[1:] for c in BAD_TABLES], ids=[c[0] for c in BAD_TABLES])
def test_from_dataframe_bad_input(arguments, error, pattern):
    arguments = dict(arguments)
    frame = arguments.pop("frame")
    with pytest.raises(error, match=pattern):
        from_dataframe(frame, "id", IdMap([1, 2, 3]), **arguments)


def test_from_dataframe_refuses_ids_that_are_not_an_id_map():
    with pytest.raises(TypeError, match=r"ids must be an IdMap, got list"):
        from_dataframe({"id": [1], "v": ["a"]}, "id", [1], categorical=["v"])


def test_builders_are_reachable_from_the_features_module():
    assert features.from_dataframe is from_dataframe and features.movielens_features is movielens_features
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        features.nope  # noqa: B018


# ---------------------------------------------------------------- MovieLens
def columns_starting(part: Features, prefix: str) -> np.ndarray:
    return np.array([name.startswith(prefix) for name in part.columns])


@pytest.fixture(scope="module")
def ml100k_features(data_dir):
    data = movielens("ml-100k", download=False)
    return data, *movielens_features(data)


def test_ml100k_features_shapes_and_names(ml100k_features):
    data, users, items = ml100k_features
    assert users.matrix.shape[0] == 943 and items.matrix.shape[0] == 1682
    assert users.ids is data.interactions.user_ids and items.ids is data.interactions.item_ids
    assert_canonical(users)
    assert_canonical(items)  # also: column names unique on each side
    # Every user has one age bucket, gender, occupation and zip prefix.
    assert np.all(users.matrix.getnnz(axis=1) == 4)
    for prefix in ("age", "gender=", "occupation=", "zip="):
        assert np.all(users.matrix[:, columns_starting(users, prefix)].getnnz(axis=1) == 1)
    first = users.to_dense()[data.interactions.user_ids.to_index(1)]  # 1|24|M|technician|85711
    assert set(users.columns[first == 1]) == {"age=[18,25)", "gender=M", "occupation=technician", "zip=8"}
    assert "zip=V" in users.columns  # Canadian postal codes keep their letter


def test_ml100k_every_movie_with_a_genre_has_one(ml100k_features, data_dir):
    _, _, items = ml100k_features
    with zipfile.ZipFile(data_dir / "ml-100k.zip") as archive:
        lines = archive.read("ml-100k/u.item").decode("latin-1").splitlines()
    # Flag 0 is "unknown", which has no column: movies 267 and 1373 have no other.
    known_genre = {int(line.split("|")[0]) for line in lines if "1" in line.split("|")[6:]}
    has_genre = items.matrix[:, columns_starting(items, "genre=")].getnnz(axis=1) > 0
    assert set(items.ids.ids[has_genre].tolist()) == known_genre
    assert sorted(set(items.ids.ids.tolist()) - known_genre) == [267, 1373]


def test_ml100k_year_buckets_are_decades_and_one_hot(ml100k_features):
    data, _, items = ml100k_features
    year_columns = columns_starting(items, "year")
    assert items.columns[year_columns].tolist() == [
        "year<1930",
        *(f"year=[{d},{d + 10})" for d in range(1930, 1990, 10)),
        "year>=1990",
    ]
    years = data.item_features["year"].to_dense()[:, 0]
    per_movie = items.matrix[:, year_columns]
    assert np.array_equal(per_movie.getnnz(axis=1), (years > 0).astype(int))  # one bucket iff a year
    toy_story = items.to_dense()[items.ids.to_index(1)]
    assert set(items.columns[toy_story == 1]) >= {"year>=1990", "genre=Animation", "title=story"}


def test_ml100k_title_words(ml100k_features):
    _, _, items = ml100k_features
    words = items.matrix[:, columns_starting(items, "title=")]
    assert words.shape[1] > 100
    assert np.all(words.getnnz(axis=0) >= 2)  # a word of one title only gets no column
    assert not {f"title={word}" for word in MOVIELENS_TITLE_STOP_WORDS} & set(items.columns)
    assert "title=1995" not in items.columns  # the (year) is not a title word


def test_ml100k_selection(ml100k_features):
    data = ml100k_features[0]
    users, items = movielens_features(data, item=("title", "genre"), user=("zip",))
    assert users.columns[0].startswith("zip=") and len(users.columns) == 19
    assert items.columns[0].startswith("title=") and items.columns[-1] == "genre=Western"
    assert movielens_features(data, item=(), user=()) == (None, None)


def test_fixture_variants(tmp_path):
    ml1m = movielens("ml-1m", path=write_fixture("ml-1m", tmp_path / "1m"), strict=False)
    users, items = movielens_features(ml1m)
    # users.dat: 1::F::1::10::48067, 2::M::56::16::70072, 10::F::35::1::95370 (age codes).
    rows = [set(users.columns[row == 1]) for row in users.to_dense()]
    assert rows == [
        {"age<18", "gender=F", "occupation=K-12 student", "zip=4"},
        {"age>=56", "gender=M", "occupation=self-employed", "zip=7"},
        {"age=[35,45)", "gender=F", "occupation=academic/educator", "zip=9"},
    ]
    assert items.matrix.shape[0] == 4
    # ml-10m has no users file; a movie without a year has no year bucket.
    for variant in ("ml-10m", "ml-latest-small"):
        data = movielens(variant, path=write_fixture(variant, tmp_path / variant), strict=False)
        users, items = movielens_features(data)
        assert users is None and items.ids is data.interactions.item_ids
        assert_canonical(items)
    no_year = items.to_dense()[items.ids.to_index(60)]  # "A Film Without Year"
    assert not any(name.startswith("year") for name in items.columns[no_year == 1])


@pytest.mark.parametrize(
    ("arguments", "error", "pattern"),
    [
        (dict(item=("genres",)), ValueError, r"item: unknown feature 'genres'; choose from genre, year, title"),
        (dict(user=("age", "age")), ValueError, r"user names a feature twice"),
        (dict(user="age"), TypeError, r"user must be a sequence of feature names"),
    ],
)
def test_movielens_features_bad_selection(tmp_path, arguments, error, pattern):
    data = movielens("ml-1m", path=write_fixture("ml-1m", tmp_path), strict=False)
    with pytest.raises(error, match=pattern):
        movielens_features(data, **arguments)


def test_movielens_features_needs_a_dataset():
    with pytest.raises(TypeError, match=r"dataset must be a Dataset"):
        movielens_features(tags(["a"], IdMap([1]), "t"))

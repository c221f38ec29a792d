"""MovieLens parsers: the real ml-100k, and fixture archives of every other layout.

The fixture archives are written into tmp_path by :func:`write_fixture` (a
few rows per file, a title with a comma and a non-ASCII character in each);
the real ml-100k is read from ``TRIPLETREC_DATA`` (never copied into the repo).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec import data as datasets
from tripletrec.data import CorruptArchiveError, movielens
from tripletrec.data import movielens_reader as movielens_module
from tripletrec.kernels.text import parse_rating_rows

# ------------------------------------------------------------------ fixtures
_CSV_RATINGS = (
    "userId,movieId,rating,timestamp\n"
    "1,1,4.0,964982703\n"
    "1,3,4.0,964981247\n"
    "2,29,3.5,1445714835\n"
    "2,60,2.0,1445714000\n"
    "7,1,0.5,1106635946\n"
    "7,50,5.0,1106635000\n"
)
_CSV_MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    "3,Grumpier Old Men (1995),Comedy|Romance\n"
    '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",'
    "Adventure|Drama|Fantasy|Mystery|Sci-Fi\n"
    '50,"""Great Performances"" Cats (1998)",(no genres listed)\n'
    "60,A Film Without Year,Drama\n"
    "99,Never Rated (2001),Horror\n"
)

#: The files of each fixture variant, as bytes (dat files are latin-1 or
#: utf-8 as noted; the loader accepts both).
FIXTURES: dict[str, dict[str, bytes]] = {
    "ml-1m": {
        "ratings.dat": (
            b"1::1193::5::978300760\n"
            b"1::661::3::978302109\n"
            b"2::1193::4::978298413\n"
            b"10::3::2::978224375\n"
            b"2::2000::5::978299000\n"
        ),
        "movies.dat": (
            "3::Grumpier Old Men (1995)::Comedy|Romance\n"
            "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
            "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
            "2000::Misérables, Les (1995)::Drama|Musical\n"
            "3952::Contender, The (2000)::Drama|Thriller\n"
        ).encode("latin-1"),
        "users.dat": (b"1::F::1::10::48067\n2::M::56::16::70072\n5::M::25::20::55455\n10::F::35::1::95370\n"),
    },
    "ml-10m": {
        "ratings.dat": (
            b"1::122::5::838985046\n1::185::4.5::838983525\n2::122::0.5::868245777\n2::300::3.5::868245000\n"
        ),
        "movies.dat": (
            "122::Boomerang (1992)::Comedy|Romance\n"
            "185::Net, The (1995)::Action|Crime|Thriller\n"
            "300::Cité des enfants perdus, La (1995)::(no genres listed)\n"
        ).encode(),
    },
    "ml-20m": {"ratings.csv": _CSV_RATINGS.encode(), "movies.csv": _CSV_MOVIES.encode()},
    "ml-25m": {"ratings.csv": _CSV_RATINGS.encode(), "movies.csv": _CSV_MOVIES.encode()},
    "ml-latest-small": {
        "ratings.csv": _CSV_RATINGS.encode(),
        "movies.csv": _CSV_MOVIES.encode(),
    },
}

#: What each fixture must load as: users, items (ascending ints), the rating
#: of each (user, item) pair, titles, genres per item, years per item.
EXPECTED = {
    "ml-1m": {
        "users": [1, 2, 10],
        "items": [3, 661, 1193, 2000],
        "ratings": {(1, 1193): 5, (1, 661): 3, (2, 1193): 4, (10, 3): 2, (2, 2000): 5},
        "timestamp": ((2, 2000), 978299000),
        "titles": [
            "Grumpier Old Men (1995)",
            "James and the Giant Peach (1996)",
            "One Flew Over the Cuckoo's Nest (1975)",
            "Misérables, Les (1995)",
        ],
        "genres": [
            {"Comedy", "Romance"},
            {"Animation", "Children's", "Musical"},
            {"Drama"},
            {"Drama", "Musical"},
        ],
        "years": [1995, 1996, 1975, 1995],
    },
    "ml-10m": {
        "users": [1, 2],
        "items": [122, 185, 300],
        "ratings": {(1, 122): 5, (1, 185): 4.5, (2, 122): 0.5, (2, 300): 3.5},
        "timestamp": ((1, 185), 838983525),
        "titles": ["Boomerang (1992)", "Net, The (1995)", "Cité des enfants perdus, La (1995)"],
        "genres": [{"Comedy", "Romance"}, {"Action", "Crime", "Thriller"}, set()],
        "years": [1992, 1995, 1995],
    },
}
EXPECTED["ml-20m"] = EXPECTED["ml-25m"] = EXPECTED["ml-latest-small"] = {
    "users": [1, 2, 7],
    "items": [1, 3, 29, 50, 60],
    "ratings": {(1, 1): 4, (1, 3): 4, (2, 29): 3.5, (2, 60): 2, (7, 1): 0.5, (7, 50): 5},
    "timestamp": ((2, 29), 1445714835),
    "titles": [
        "Toy Story (1995)",
        "Grumpier Old Men (1995)",
        "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
        '"Great Performances" Cats (1998)',
        "A Film Without Year",
    ],
    "genres": [
        {"Adventure", "Animation", "Children", "Comedy", "Fantasy"},
        {"Comedy", "Romance"},
        {"Adventure", "Drama", "Fantasy", "Mystery", "Sci-Fi"},
        set(),
        {"Drama"},
    ],
    "years": [1995, 1995, 1995, 1998, None],
}


def write_fixture(
    variant: str,
    root: Path,
    as_zip: bool = True,
    files: dict[str, bytes] | None = None,
    archive_name: str | None = None,
) -> Path:
    """Write a small archive (or extracted folder) of ``variant`` under ``root``.

    Returns the zip file, or the extracted folder.
    """
    entry = datasets.get_variant(variant)
    contents = FIXTURES[variant] if files is None else files
    root.mkdir(parents=True, exist_ok=True)
    if as_zip:
        target = root / (archive_name or entry.archive)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in contents.items():
                archive.writestr(f"{entry.folder}/{name}", data)
        return target
    folder = root / entry.folder
    folder.mkdir()
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return folder


def zip_bytes(variant: str, files: dict[str, bytes] | None = None) -> bytes:
    """A fixture archive of ``variant`` as bytes (to serve from a test server)."""
    entry = datasets.get_variant(variant)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (FIXTURES[variant] if files is None else files).items():
            archive.writestr(f"{entry.folder}/{name}", data)
    return buffer.getvalue()


def rating_of(interactions, user, item) -> float:
    row = interactions.user_ids.to_index([user])[0]
    column = interactions.item_ids.to_index([item])[0]
    return float(interactions.matrix[row, column])


# ------------------------------------------------------------- real ml-100k
def _reference_rows(data_dir: Path, name: str) -> np.ndarray:
    """Rows of an ml-100k file read with plain Python (independent of the loader)."""
    with zipfile.ZipFile(data_dir / "ml-100k.zip") as archive:
        text = archive.read(f"ml-100k/{name}").decode("ascii")
    return np.array([[int(x) for x in line.split("\t")] for line in text.splitlines()])


@pytest.fixture(scope="module")
def ml100k(data_dir):
    return movielens("ml-100k", download=False)


def test_ml100k_ua_positives_match_the_seed(data_dir):
    data = movielens("ml-100k", split="ua", min_rating=4, download=False)
    assert data.train.shape == (943, 1682)
    assert data.test.shape == (943, 1682)
    assert len(data.train) == 49_906
    assert len(data.test) == 5_469
    assert data.train.same_ids(data.test) and data.train.same_ids(data.interactions)
    assert data.train.weights.min() >= 4 and data.test.weights.min() >= 4


def test_ml100k_matches_a_plain_python_read(data_dir, ml100k):
    rows = _reference_rows(data_dir, "u.data")
    data = ml100k.interactions
    assert len(rows) == 100_000 and len(data) == 100_000
    assert data.shape == (943, 1682)
    # Ids are the distinct ids sorted as integers (1..943 and 1..1682 here).
    np.testing.assert_array_equal(data.user_ids.ids, np.unique(rows[:, 0]))
    np.testing.assert_array_equal(data.item_ids.ids, np.unique(rows[:, 1]))
    users = data.user_ids.to_index(rows[:, 0])
    items = data.item_ids.to_index(rows[:, 1])
    dense = data.matrix.toarray()
    np.testing.assert_array_equal(dense[users, items], rows[:, 2])
    stamps = np.zeros(data.shape, dtype=np.int64)
    stamps[data.user_index(), data.indices] = data.timestamps
    np.testing.assert_array_equal(stamps[users, items], rows[:, 3])
    # The first line of u.data, by hand: 196, 242, 3, 881250949.
    assert rating_of(data, 196, 242) == 3.0
    assert ml100k.source.endswith("ml-100k.zip")
    assert ml100k.train is None and ml100k.test is None


@pytest.mark.parametrize("split", ["ua", "ub", "u1", "u3", "u5"])
def test_ml100k_split_files_are_read_as_written(data_dir, split):
    data = movielens("ml-100k", split=split, download=False)
    for part, suffix in ((data.train, "base"), (data.test, "test")):
        rows = _reference_rows(data_dir, f"{split}.{suffix}")
        assert len(part) == len(rows)
        users = part.user_ids.to_index(rows[:, 0])
        items = part.item_ids.to_index(rows[:, 1])
        np.testing.assert_array_equal(part.matrix.toarray()[users, items], rows[:, 2])
    # Train and test never share a pair, and together they are all of u.data.
    assert data.train.matrix.multiply(data.test.matrix).nnz == 0
    together = data.train.matrix + data.test.matrix
    assert (together != data.interactions.matrix).nnz == 0


def test_ml100k_folds_partition_the_ratings(data_dir):
    held_out = sum(
        (movielens("ml-100k", split=f"u{k}", download=False).test.matrix != 0).astype(int) for k in range(1, 6)
    )
    assert held_out.nnz == 100_000 and held_out.max() == 1
    ua = movielens("ml-100k", split="ua", download=False)
    np.testing.assert_array_equal(ua.test.user_counts(), np.full(943, 10))


def test_ml100k_side_features(ml100k):
    items = ml100k.interactions.item_ids
    users = ml100k.interactions.user_ids
    titles = ml100k.item_titles
    assert titles.shape == (1682,)
    assert titles[items.to_index([1])[0]] == "Toy Story (1995)"
    # u.item is latin-1: "Misérables" has an e-acute byte 0xE9.
    assert titles[items.to_index([543])[0]] == "Misérables, Les (1995)"

    genre = ml100k.item_features["genre"]
    assert genre.ids is items
    assert "genre=Action" in genre.columns and "genre=unknown" not in genre.columns
    assert list(genre.columns) == sorted(genre.columns)
    toy_story = genre.to_dense()[items.to_index([1])[0]]
    assert set(genre.columns[toy_story == 1]) == {
        "genre=Animation",
        "genre=Children's",
        "genre=Comedy",
    }
    year = ml100k.item_features["year"].to_dense()[:, 0]
    assert year[items.to_index([1])[0]] == 1995
    assert year[items.to_index([267])[0]] == 0  # "unknown": no title year, no entry

    age = ml100k.user_features["age"].to_dense()[:, 0]
    gender = ml100k.user_features["gender"]
    occupation = ml100k.user_features["occupation"]
    first = users.to_index([1])[0]  # u.user line 1: 1|24|M|technician|85711
    assert age[first] == 24
    assert list(gender.columns) == ["gender=F", "gender=M"]
    assert gender.to_dense()[first].tolist() == [0, 1]
    assert len(occupation.columns) == 21
    assert occupation.columns[occupation.to_dense()[first] == 1].tolist() == ["occupation=technician"]
    assert np.all(occupation.matrix.sum(axis=1) == 1)
    zip_prefix = ml100k.user_features["zip"]
    assert zip_prefix.columns[zip_prefix.to_dense()[first] == 1].tolist() == ["zip=8"]  # 85711
    # Digits, and the letters of Canadian postal codes (e.g. V3N4P).
    assert set(zip_prefix.columns) == {f"zip={c}" for c in "0123456789EKLMNRTVY"}
    assert np.all(zip_prefix.matrix.sum(axis=1) == 1)


def test_ml100k_extracted_folder_loads_the_same(data_dir, tmp_path, ml100k):
    with zipfile.ZipFile(data_dir / "ml-100k.zip") as archive:
        archive.extractall(tmp_path)
    folder = movielens("ml-100k", path=tmp_path / "ml-100k", split="ub")
    assert folder.source == str(tmp_path / "ml-100k")
    assert (folder.interactions.matrix != ml100k.interactions.matrix).nnz == 0
    np.testing.assert_array_equal(folder.interactions.timestamps, ml100k.interactions.timestamps)
    np.testing.assert_array_equal(folder.item_titles, ml100k.item_titles)


def test_min_rating_keeps_shape_and_ids(ml100k, data_dir):
    data = movielens("ml-100k", min_rating=4.5, download=False)
    assert data.interactions.shape == (943, 1682)
    assert data.interactions.user_ids == ml100k.interactions.user_ids
    assert len(data.interactions) == int(np.sum(ml100k.interactions.weights >= 5))


# ------------------------------------------------------------ fixture layouts
@pytest.mark.parametrize("as_zip", [True, False], ids=["zip", "folder"])
@pytest.mark.parametrize("variant", list(FIXTURES))
def test_fixture_variants_load_by_hand_answer(tmp_path, variant, as_zip):
    path = write_fixture(variant, tmp_path, as_zip=as_zip)
    data = movielens(variant, path=path, strict=False)
    expected = EXPECTED[variant]
    interactions = data.interactions
    assert data.name == variant and data.source == str(path)
    assert interactions.user_ids.ids.tolist() == expected["users"]
    assert interactions.item_ids.ids.tolist() == expected["items"]
    assert len(interactions) == len(expected["ratings"])
    for (user, item), rating in expected["ratings"].items():
        assert rating_of(interactions, user, item) == rating
    (user, item), stamp = expected["timestamp"]
    row = interactions.user_ids.to_index([user])[0]
    column = interactions.item_ids.to_index([item])[0]
    position = interactions.indptr[row] + np.searchsorted(interactions.item_indices_of(row), column)
    assert interactions.timestamps[position] == stamp

    assert data.item_titles.tolist() == expected["titles"]
    genre = data.item_features["genre"]
    dense = genre.to_dense()
    for index, genres in enumerate(expected["genres"]):
        assert {c.removeprefix("genre=") for c in genre.columns[dense[index] == 1]} == genres
    # Columns only for genres of rated movies, never for "no genre" markers.
    assert set(genre.columns) == {f"genre={g}" for g in set().union(*expected["genres"])}
    years = data.item_features["year"].to_dense()[:, 0]
    assert years.tolist() == [y or 0 for y in expected["years"]]


def test_ml1m_demographics_map_codes(tmp_path):
    data = movielens("ml-1m", path=write_fixture("ml-1m", tmp_path), strict=False)
    users = data.interactions.user_ids
    assert users.ids.tolist() == [1, 2, 10]  # user 5 has no rating: no row
    age = data.user_features["age"].to_dense()[:, 0]
    assert age.tolist() == [1, 56, 35]  # the README's age-group codes, kept as numbers
    gender = data.user_features["gender"]
    assert gender.columns[gender.to_dense().argmax(axis=1)].tolist() == [
        "gender=F",
        "gender=M",
        "gender=F",
    ]
    occupation = data.user_features["occupation"]
    assert occupation.columns[occupation.to_dense().argmax(axis=1)].tolist() == [
        "occupation=K-12 student",  # code 10
        "occupation=self-employed",  # code 16
        "occupation=academic/educator",  # code 1
    ]
    zip_prefix = data.user_features["zip"]
    assert zip_prefix.columns[zip_prefix.to_dense().argmax(axis=1)].tolist() == ["zip=4", "zip=7", "zip=9"]


def test_variants_without_demographics_have_no_user_features(tmp_path):
    for variant in ("ml-10m", "ml-latest-small"):
        data = movielens(variant, path=write_fixture(variant, tmp_path / variant), strict=False)
        assert data.user_features == {}


def test_fixture_min_rating_applies_to_interactions(tmp_path):
    data = movielens("ml-10m", path=write_fixture("ml-10m", tmp_path), strict=False, min_rating=4)
    assert data.interactions.shape == (2, 3)
    assert sorted(data.interactions.weights.tolist()) == [4.5, 5.0]


def test_crlf_blank_lines_and_missing_final_newline(tmp_path):
    files = dict(FIXTURES["ml-latest-small"])
    files["ratings.csv"] = (
        b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n\r\n2,29,3.5,1445714835\r\n7,50,5,1106635000"
    )
    path = write_fixture("ml-latest-small", tmp_path, files=files)
    data = movielens("ml-latest-small", path=path, strict=False)
    assert len(data.interactions) == 3
    assert rating_of(data.interactions, 7, 50) == 5.0


def test_tiny_blocks_parse_the_same(tmp_path, monkeypatch):
    path = write_fixture("ml-20m", tmp_path)
    whole = movielens("ml-20m", path=path, strict=False)
    # Blocks smaller than a line, and output arrays that must grow.
    monkeypatch.setattr(movielens_module, "_BLOCK_BYTES", 7)
    pieces = movielens("ml-20m", path=path, strict=False)
    assert (pieces.interactions.matrix != whole.interactions.matrix).nnz == 0
    np.testing.assert_array_equal(pieces.interactions.timestamps, whole.interactions.timestamps)


# ---------------------------------------------------------------- the kernel
def _python_parse(lines: list[str], separator: str) -> list[tuple[int, int, float, int]]:
    rows = []
    for line in lines:
        if not line.strip():
            continue
        user, item, rating, stamp = line.strip().split(separator)
        rows.append((int(user), int(item), float(rating), int(stamp)))
    return rows


_row = st.tuples(
    st.integers(0, 10**9),
    st.integers(0, 10**6),
    st.one_of(
        st.sampled_from(["0.5", "1", "2.0", "3.5", "4", "4.5", "5.0"]),
        st.builds("{}.{}".format, st.integers(0, 10**6), st.from_regex(r"[0-9]{1,9}", fullmatch=True)),
    ),
    st.integers(0, 2 * 10**9),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.one_of(_row, st.just(None)), max_size=30),
    separator=st.sampled_from([",", "\t", "::"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    capacity_slack=st.integers(0, 3),
)
def test_row_parser_agrees_with_python(rows, separator, newline, capacity_slack):
    lines = ["" if r is None else separator.join(str(x) for x in r) for r in rows]
    text = newline.join(lines).encode()
    expected = _python_parse(lines, separator)
    capacity = len(expected) + capacity_slack
    users, items, stamps = (np.empty(capacity, np.int64) for _ in range(3))
    ratings = np.empty(capacity, np.float32)
    n_rows, position, n_lines, ok = parse_rating_rows(
        np.frombuffer(text, np.uint8), 0, np.frombuffer(separator.encode(), np.uint8),
        users, items, ratings, stamps,
    )  # fmt: skip
    assert ok and n_rows == len(expected) and position == len(text)
    assert n_lines == text.count(b"\n") + (1 if text.rsplit(b"\n", 1)[-1].strip() else 0)
    got = list(zip(*(column[:n_rows].tolist() for column in (users, items, ratings, stamps))))
    assert [(u, i, np.float32(r), t) for u, i, r, t in expected] == got


def _outputs(capacity: int) -> list[np.ndarray]:
    return [
        np.empty(capacity, np.int64),
        np.empty(capacity, np.int64),
        np.empty(capacity, np.float32),
        np.empty(capacity, np.int64),
    ]


def test_row_parser_stops_when_output_is_full():
    text = np.frombuffer(b"1,2,3,4\n5,6,7,8\n9,10,1.5,12\n", np.uint8)
    separator = np.frombuffer(b",", np.uint8)
    out = _outputs(2)
    n_rows, position, n_lines, ok = parse_rating_rows(text, 0, separator, *out)
    assert (n_rows, position, n_lines, ok) == (2, 16, 2, True)
    n_rows, position, n_lines, ok = parse_rating_rows(text, position, separator, *out)
    assert (n_rows, position, n_lines, ok) == (1, len(text), 1, True)
    assert out[0][0] == 9 and out[2][0] == 1.5


@pytest.mark.parametrize(
    "line",
    [
        b"1,2,3",
        b"1,2,x,4",
        b"-1,2,3,4",
        b"1,2,3,4,5",
        b"1;2;3;4",
        b"1,2,nan,4",
        b"1,,3,4",
        b"1,2,3.5.5,4",
        b"1,2,3,12345678901234567890",
    ],
)
def test_row_parser_reports_the_bad_line(line):
    text = np.frombuffer(b"1,2,3,4\n\n" + line + b"\n7,8,9,10\n", np.uint8)
    out = _outputs(4)
    n_rows, position, n_lines, ok = parse_rating_rows(text, 0, np.frombuffer(b",", np.uint8), *out)
    assert not ok and n_rows == 1 and n_lines == 2 and position == 9


# -------------------------------------------------------------------- errors
def test_unknown_variant_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"variant must be one of ml-100k, ml-1m, .*ml-latest-small; got 'ml-2m'"):
        movielens("ml-2m")


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"split must be one of ua, ub, u1, u2, u3, u4, u5 for ml-100k; got 'u6'"):
        movielens("ml-100k", split="u6")


def test_split_on_a_variant_without_splits(tmp_path):
    with pytest.raises(ValueError, match=r"split='ua': ml-1m has no official splits \(only ml-100k do\)"):
        movielens("ml-1m", split="ua", path=tmp_path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "4", True])
def test_min_rating_must_be_a_finite_number(bad):
    with pytest.raises(ValueError, match="min_rating must be a finite number or None"):
        movielens("ml-100k", min_rating=bad)


def test_strict_counts_name_the_file_and_the_counts(tmp_path):
    path = write_fixture("ml-20m", tmp_path)
    with pytest.raises(
        CorruptArchiveError,
        match=r"ml-20m\.zip:ml-20m/ratings\.csv has 6 ratings but MovieLens ml-20m has "
        r"20,000,263: .*pass strict=False",
    ):
        movielens("ml-20m", path=path)


def test_strict_counts_check_the_movie_file_too(tmp_path, monkeypatch):
    from dataclasses import replace

    from tripletrec.data import sources

    entry = replace(sources.VARIANTS["ml-1m"], n_ratings=5)
    monkeypatch.setitem(sources.VARIANTS, "ml-1m", entry)
    with pytest.raises(CorruptArchiveError, match=r"movies\.dat has 5 movies but MovieLens ml-1m has 3,883"):
        movielens("ml-1m", path=write_fixture("ml-1m", tmp_path))


def test_bad_rating_row_names_file_line_and_content(tmp_path):
    files = dict(FIXTURES["ml-1m"])
    files["ratings.dat"] = b"1::1193::5::978300760\n1::661::three::978302109\n"
    path = write_fixture("ml-1m", tmp_path, files=files)
    with pytest.raises(
        CorruptArchiveError,
        match=r"ml-1m/ratings\.dat line 2 does not parse: b'1::661::three::978302109'; "
        r"expected user::item::rating::timestamp",
    ):
        movielens("ml-1m", path=path, strict=False)


def test_bad_row_line_number_counts_across_blocks(tmp_path, monkeypatch):
    files = dict(FIXTURES["ml-latest-small"])
    files["ratings.csv"] = _CSV_RATINGS.encode() + b"8,9,oops,10\n"
    path = write_fixture("ml-latest-small", tmp_path, files=files)
    monkeypatch.setattr(movielens_module, "_BLOCK_BYTES", 10)
    with pytest.raises(CorruptArchiveError, match=r"ratings\.csv line 8 does not parse: b'8,9,oops,10'"):
        movielens("ml-latest-small", path=path, strict=False)


def test_wrong_csv_header(tmp_path):
    files = dict(FIXTURES["ml-25m"])
    files["ratings.csv"] = b"user,item,rating,time\n1,1,4.0,964982703\n"
    with pytest.raises(
        CorruptArchiveError,
        match=r"ratings\.csv line 1 is 'user,item,rating,time'; expected the header "
        r"'userId,movieId,rating,timestamp'",
    ):
        movielens("ml-25m", path=write_fixture("ml-25m", tmp_path, files=files), strict=False)


def test_empty_csv_ratings(tmp_path):
    files = dict(FIXTURES["ml-25m"], **{"ratings.csv": b""})
    with pytest.raises(CorruptArchiveError, match=r"ratings\.csv is empty; expected the header"):
        movielens("ml-25m", path=write_fixture("ml-25m", tmp_path, files=files), strict=False)


def test_wrong_movies_header_and_row(tmp_path):
    files = dict(FIXTURES["ml-25m"], **{"movies.csv": b"id,name\n1,Toy Story (1995)\n"})
    with pytest.raises(
        CorruptArchiveError,
        match=r"movies\.csv line 1 is \['id', 'name'\]; expected the header 'movieId,title,genres'",
    ):
        movielens("ml-25m", path=write_fixture("ml-25m", tmp_path / "a", files=files), strict=False)
    files = dict(FIXTURES["ml-25m"])
    files["movies.csv"] = b"movieId,title,genres\n1,Toy Story (1995)\n"
    with pytest.raises(
        CorruptArchiveError,
        match=r"movies\.csv line 2 does not parse: '1,Toy Story \(1995\)'; "
        r"expected movieId,title,genres",
    ):
        movielens("ml-25m", path=write_fixture("ml-25m", tmp_path / "b", files=files), strict=False)


def test_bad_dat_movie_and_user_rows(tmp_path):
    files = dict(FIXTURES["ml-1m"], **{"movies.dat": b"3::Grumpier Old Men (1995)\n"})
    with pytest.raises(
        CorruptArchiveError,
        match=r"movies\.dat line 1 does not parse: '3::Grumpier Old Men \(1995\)'; "
        r"expected MovieID::Title::Genres",
    ):
        movielens("ml-1m", path=write_fixture("ml-1m", tmp_path / "a", files=files), strict=False)
    files = dict(FIXTURES["ml-1m"], **{"users.dat": b"1::F::1::10::48067\n2::M::56::99::70072\n"})
    with pytest.raises(
        CorruptArchiveError,
        match=r"users\.dat line 2 does not parse: '2::M::56::99::70072'; "
        r"expected .*occupation code 0\.\.20",
    ):
        movielens("ml-1m", path=write_fixture("ml-1m", tmp_path / "b", files=files), strict=False)


def test_bad_100k_item_row(tmp_path):
    files = {
        "u.data": b"1\t1\t5\t874965758\n",
        "u.item": "1|Toy Story (1995)|01-Jan-1995||http://x|0|0\n".encode("latin-1"),
        "u.user": b"1|24|M|technician|85711\n",
    }
    with pytest.raises(
        CorruptArchiveError,
        match=r"u\.item line 1 does not parse: .*expected id\|title\|release date\|"
        r"video release date\|URL\|19 genre flags of 0 or 1",
    ):
        movielens("ml-100k", path=write_fixture_100k(tmp_path, files), strict=False)


def write_fixture_100k(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    target = root / "ml-100k.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"ml-100k/{name}", data)
    return target


def _tiny_100k_files() -> dict[str, bytes]:
    genres = "|".join(["0"] * 18 + ["1"])
    return {
        "u.data": b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n",
        "u.item": (
            f"1|Toy Story (1995)|01-Jan-1995||http://x|{genres}\n2|GoldenEye (1995)|01-Jan-1995||http://y|{genres}\n"
        ).encode("latin-1"),
        "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n",
        "ua.base": b"1\t1\t5\t874965758\n2\t1\t4\t888550871\n",
        "ua.test": b"1\t2\t3\t876893171\n",
    }


def test_tiny_100k_split_by_hand(tmp_path):
    path = write_fixture_100k(tmp_path, _tiny_100k_files())
    data = movielens("ml-100k", split="ua", path=path, strict=False)
    assert data.train.shape == data.test.shape == (2, 2)
    assert data.train.matrix.toarray().tolist() == [[5, 0], [4, 0]]
    assert data.test.matrix.toarray().tolist() == [[0, 3], [0, 0]]
    assert data.item_features["genre"].columns.tolist() == ["genre=Western"]


def test_split_with_unknown_ids(tmp_path):
    files = _tiny_100k_files()
    files["ua.test"] = b"3\t2\t3\t876893171\n"
    with pytest.raises(
        CorruptArchiveError,
        match=r"users of .*ua\.test: 1 of 1 rows are not in the id map .*a split must only "
        r"hold ratings of .*u\.data",
    ):
        movielens("ml-100k", split="ua", path=write_fixture_100k(tmp_path, files), strict=False)


def test_missing_split_file(tmp_path):
    files = _tiny_100k_files()
    del files["ua.test"]
    with pytest.raises(CorruptArchiveError, match=r"ml-100k\.zip:ml-100k/ua\.test is missing"):
        movielens("ml-100k", split="ua", path=write_fixture_100k(tmp_path, files), strict=False)


def test_strict_split_counts(tmp_path, monkeypatch):
    from dataclasses import replace

    from tripletrec.data import sources

    entry = replace(sources.VARIANTS["ml-100k"], n_ratings=3, n_users=2, n_movies=2)
    monkeypatch.setitem(sources.VARIANTS, "ml-100k", entry)
    files = _tiny_100k_files()
    path = write_fixture_100k(tmp_path, files)
    assert len(movielens("ml-100k", split="ua", path=path).train) == 2  # counts agree
    files["ua.base"] = b"1\t1\t5\t874965758\n"
    path = write_fixture_100k(tmp_path / "short", files)
    with pytest.raises(
        CorruptArchiveError,
        match=r"ml-100k/ua\.base \+ ua\.test has 2 ratings but MovieLens ml-100k has 3",
    ):
        movielens("ml-100k", split="ua", path=path)


def test_duplicate_rating_is_an_error(tmp_path):
    files = dict(FIXTURES["ml-10m"])
    files["ratings.dat"] = b"1::122::5::838985046\n2::122::1::838985046\n1::122::4::838985999\n"
    with pytest.raises(
        CorruptArchiveError,
        match=r"ratings\.dat: 1 of 3 rows repeat an earlier \(user, item\) pair; first: data "
        r"rows 1 and 3 both rate item 122 by user 1",
    ):
        movielens("ml-10m", path=write_fixture("ml-10m", tmp_path, files=files), strict=False)


# ------------------------------------------------- rating scale, cuts, splits
@pytest.mark.parametrize(
    "variant, ratings_file, row, line, shown, scale",
    [
        ("ml-1m", "ratings.dat", b"5::3::6::978300760\n", 6, "6", "whole stars from 1 to 5"),
        ("ml-1m", "ratings.dat", b"5::3::3.5::978300760\n", 6, "3.5", "whole stars from 1 to 5"),
        ("ml-10m", "ratings.dat", b"2::185::0.25::868245000\n", 5, "0.25", "half stars from 0.5 to 5"),
        ("ml-25m", "ratings.csv", b"9,1,0,964982703\n", 8, "0", "half stars from 0.5 to 5"),
        ("ml-latest-small", "ratings.csv", b"9,1,5.5,964982703\n", 8, "5.5", "half stars from 0.5 to 5"),
    ],
)
def test_rating_off_the_scale_names_file_line_and_value(tmp_path, variant, ratings_file, row, line, shown, scale):
    files = dict(FIXTURES[variant])
    files[ratings_file] = files[ratings_file] + row
    path = write_fixture(variant, tmp_path, files=files)
    with pytest.raises(
        CorruptArchiveError,
        match=rf"{re.escape(ratings_file)} line {line} has rating {re.escape(shown)}, off "
        rf"MovieLens {variant}'s scale of {scale} \(1 of \d rows are off it\)",
    ):
        movielens(variant, path=path, strict=False)


def test_100k_rating_off_the_scale_counts_blank_lines(tmp_path):
    files = _tiny_100k_files()
    files["u.data"] = b"1\t1\t5\t874965758\n\n1\t2\t0\t876893171\n2\t1\t4\t888550871\n"
    with pytest.raises(
        CorruptArchiveError,
        match=r"ml-100k/u\.data line 3 has rating 0, off MovieLens ml-100k's scale of whole stars "
        r"from 1 to 5 \(1 of 3 rows are off it\)",
    ):
        movielens("ml-100k", path=write_fixture_100k(tmp_path, files), strict=False)


_CUT_U_DATA = b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t8811"


@pytest.mark.parametrize(
    "last_line, reason",
    [
        (b"2\t1\t4\t8811", "has a timestamp of 4 digits where every other row's has at least 9"),
        (b"2\t1\t4", "has only 3 of the 4 fields"),
        (b"2\t1\t", "has only 3 of the 4 fields"),
    ],
)
def test_cut_final_line_is_dropped_or_refused(tmp_path, monkeypatch, last_line, reason):
    from dataclasses import replace

    from tripletrec.data import sources

    # Counts that the cut file meets, so that strict=True has only the cut to object to.
    entry = replace(sources.VARIANTS["ml-100k"], n_ratings=3, n_users=2, n_movies=2)
    monkeypatch.setitem(sources.VARIANTS, "ml-100k", entry)
    files = _tiny_100k_files()
    files["u.data"] = b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n" + last_line
    path = write_fixture_100k(tmp_path, files)
    loose = movielens("ml-100k", path=path, strict=False)
    assert loose.interactions.timestamps.tolist() == [874965758, 876893171]
    assert loose.interactions.shape == (1, 2)  # user 2 had only the dropped row
    with pytest.raises(
        CorruptArchiveError,
        match=rf"ml-100k/u\.data line 3, the last, has no final newline and {reason}: "
        rf"{re.escape(repr(last_line))}; the file looks cut short \(pass strict=False",
    ):
        movielens("ml-100k", path=path, strict=True)


def test_whole_final_line_without_newline_is_kept(tmp_path):
    files = _tiny_100k_files()
    files["u.data"] = b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871"
    data = movielens("ml-100k", path=write_fixture_100k(tmp_path, files), strict=False)
    assert data.interactions.timestamps.tolist() == [874965758, 876893171, 888550871]


def test_unparsable_final_line_with_all_fields_is_still_a_parse_error(tmp_path):
    files = _tiny_100k_files()
    files["u.data"] = b"1\t1\t5\t874965758\n2\tx\t4\t888550871"
    with pytest.raises(CorruptArchiveError, match=r"u\.data line 2 does not parse: b'2\\tx\\t4\\t888550871'"):
        movielens("ml-100k", path=write_fixture_100k(tmp_path, files), strict=False)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\r\n"])
def test_empty_ratings_file_holds_no_ratings(tmp_path, content):
    files = _tiny_100k_files()
    files["u.data"] = content
    with pytest.raises(CorruptArchiveError, match=r"ml-100k/u\.data holds no ratings$"):
        movielens("ml-100k", path=write_fixture_100k(tmp_path, files), strict=False)


def test_empty_split_file_holds_no_ratings(tmp_path):
    files = _tiny_100k_files()
    files["ua.test"] = b""
    with pytest.raises(CorruptArchiveError, match=r"ml-100k/ua\.test holds no ratings$"):
        movielens("ml-100k", split="ua", path=write_fixture_100k(tmp_path, files), strict=False)


def test_split_test_repeating_a_train_pair_is_refused(tmp_path):
    files = _tiny_100k_files()
    files["ua.test"] = b"1\t2\t3\t876893171\n2\t1\t4\t888550871\n"
    with pytest.raises(
        CorruptArchiveError,
        match=r"ml-100k/ua\.test line 2 rates item 1 by user 2, a pair ua\.base rates too \(1 of 2 "
        r"test rows repeat a train pair\): the train and test files of an official split must be disjoint",
    ):
        movielens("ml-100k", split="ua", path=write_fixture_100k(tmp_path, files), strict=False)

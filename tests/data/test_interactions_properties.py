"""Property tests: every way of building Interactions obeys the id, weight, timestamp and shape rules.

Hypothesis feeds random ids (integers up to the int64 / uint64 extremes and
beyond, strings, mixes, missing values, bools, floats), weights (0, negative,
NaN, infinite, beyond float32) and shapes. A plain-Python oracle says what
the rules of :class:`tripletrec.IdMap` and :class:`tripletrec.Interactions`
make of each input: either a ``ValueError`` (with a message) or a container
whose ids round-trip exactly and whose weights are the oracle's sums.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tripletrec import IdMap, Interactions
from tripletrec.data.interactions import MAX_DIMENSION

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ inputs
extreme_integers = st.sampled_from([0, 1, -1, INT64_MAX, INT64_MIN, 2**63, UINT64_MAX])
integer_ids = st.one_of(extreme_integers, st.integers(INT64_MIN, UINT64_MAX), st.integers(-5, 5))
too_big_integers = st.sampled_from([2**64, 2**70, INT64_MIN - 1, -(2**80)])
string_ids = st.text(alphabet="ab1 é", max_size=3)
missing_ids = st.sampled_from([None, math.nan])
odd_ids = st.sampled_from([True, False, 1.0, 2.5, b"x"])

# Mostly one kind (so that valid inputs are common), sometimes anything.
id_lists = st.one_of(
    st.lists(integer_ids, min_size=1, max_size=8),
    st.lists(st.integers(0, 3), min_size=1, max_size=8),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8),
    st.lists(string_ids, min_size=1, max_size=8),
    st.lists(st.one_of(integer_ids, string_ids, missing_ids, odd_ids, too_big_integers), min_size=1, max_size=8),
)

weight_values = st.one_of(
    st.sampled_from([0.0, 1.0, 2.5, -1.0, -0.0, math.nan, math.inf, -math.inf, 1e39, 3e38, FLOAT32_MAX]),
    st.floats(0, 1e3),
)


# ----------------------------------------------------------------- oracles
def id_rule(ids: list) -> str | None:
    """The kind an id list is stored as ("int64", "uint64", "str"), or None if it is refused."""
    kinds = set()
    for value in ids:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return None
        kinds.add(type(value))
    if len(kinds) > 1:
        return None
    if kinds == {str}:
        return "str"
    if min(ids) < INT64_MIN or max(ids) > UINT64_MAX:
        return None
    if max(ids) <= INT64_MAX:
        return "int64"
    return None if min(ids) < 0 else "uint64"


def weight_rule(users: list, items: list, weights: list | None) -> dict | None:
    """Summed weight of each (user, item) pair, or None if the weights are refused."""
    weights = [1.0] * len(users) if weights is None else weights
    if any(not math.isfinite(w) or w < 0 or w > FLOAT32_MAX for w in weights):
        return None
    sums: dict = {}
    for user, item, weight in zip(users, items, weights):
        sums[(user, item)] = sums.get((user, item), 0.0) + weight
    if any(total > FLOAT32_MAX for total in sums.values()):
        return None
    return sums


def assert_refused(error: pytest.ExceptionInfo) -> None:
    assert str(error.value), "an error must say what is wrong"


def assert_ids_round_trip(id_map: IdMap, given: list, kind: str) -> None:
    """``to_index`` then ``ids[...]`` gives back the given ids, exactly and of the same kind."""
    stored = id_map.ids
    if kind == "str":
        assert stored.dtype.kind == "U"
    else:
        assert stored.dtype == np.dtype(kind)
    back = stored[id_map.to_index(given)].tolist()
    assert back == given
    assert [type(value) for value in back] == [type(value) for value in given]
    assert id_map.to_index(stored).tolist() == list(range(len(stored)))


def assert_weights_are(data: Interactions, expected: dict, user_of, item_of) -> None:
    weights = data.weights
    assert weights.dtype == np.float32
    assert np.all(np.isfinite(weights)) and np.all(weights >= 0)
    users, items, stored = data.to_coo()
    got = {(user_of(u), item_of(i)): float(w) for u, i, w in zip(users, items, stored)}
    assert got.keys() == expected.keys()
    for pair, total in expected.items():
        assert got[pair] == pytest.approx(float(np.float32(total)), rel=1e-6)


# ------------------------------------------------------------------- IdMap
@SETTINGS
@given(id_lists)
def test_id_map_follows_the_id_rules(ids):
    kind = id_rule(ids)
    unique = kind is not None and len(set(ids)) == len(ids)
    if not unique:
        with pytest.raises(ValueError) as error:
            IdMap(ids)
        assert_refused(error)
        return
    assert_ids_round_trip(IdMap(ids), ids, kind)


@SETTINGS
@given(
    id_lists,
    st.lists(
        st.one_of(integer_ids, string_ids, too_big_integers, odd_ids, st.sampled_from(["a\x00", "\x00", ""])),
        max_size=6,
    ),
)
def test_index_of_one_id_agrees_with_to_index(ids, asked):
    if id_rule(ids) is None or len(set(ids)) != len(ids):
        return
    id_map = IdMap(ids)
    for value in [*ids, *asked]:
        assert id_map.index_of(value) == int(id_map.to_index([value], missing="ignore")[0]), value


@SETTINGS
@given(st.lists(st.integers(0, UINT64_MAX), min_size=1, max_size=8, unique=True))
def test_uint64_arrays_keep_every_id_exactly(ids):
    id_map = IdMap(np.array(ids, dtype=np.uint64))
    assert_ids_round_trip(id_map, ids, "uint64" if max(ids) > INT64_MAX else "int64")
    # A negative id or a string can never be one of them.
    assert id_map.to_index([-1, "1"], missing="ignore").tolist() == [-1, -1]


# -------------------------------------------------------------- from_arrays
@SETTINGS
@given(st.data())
def test_from_arrays_follows_the_rules(data):
    users = data.draw(id_lists, label="users")
    items = data.draw(st.lists(st.sampled_from([7, 8, 2**64 - 1]), min_size=len(users), max_size=len(users)))
    weights = data.draw(st.none() | st.lists(weight_values, min_size=len(users), max_size=len(users)), label="weights")
    kind = id_rule(users)
    sums = weight_rule(users, items, weights) if kind is not None else None
    if kind is None or sums is None:
        with pytest.raises(ValueError) as error:
            Interactions.from_arrays(users, items, weights)
        assert_refused(error)
        return
    result = Interactions.from_arrays(users, items, weights)
    assert_ids_round_trip(result.user_ids, users, kind)
    assert_ids_round_trip(result.item_ids, items, id_rule(items))
    assert_weights_are(result, sums, lambda u: result.user_ids.ids[u].item(), lambda i: result.item_ids.ids[i].item())


@SETTINGS
@given(id_lists, id_lists)
def test_from_arrays_with_given_maps_names_missing_and_mixed_ids(known, asked):
    kind = id_rule(known)
    if kind is None or len(set(known)) != len(known):
        return
    id_map = IdMap(known)
    items = [0] * len(asked)
    item_map = IdMap([0])
    if id_rule(asked) is None or not set(asked) <= set(known):
        with pytest.raises(ValueError) as error:
            Interactions.from_arrays(asked, items, user_ids=id_map, item_ids=item_map)
        assert_refused(error)
        return
    result = Interactions.from_arrays(asked, items, user_ids=id_map, item_ids=item_map)
    assert result.user_ids is id_map
    assert sorted(result.user_ids.ids[result.user_index()].tolist()) == sorted(set(asked))


# ------------------------------------------------------------- from_indices
shapes = st.one_of(
    st.tuples(st.integers(0, 4), st.integers(0, 4)),
    st.tuples(st.sampled_from([-1, 2.7, 2.0, True, None, "3", MAX_DIMENSION + 1, 10**12]), st.integers(0, 4)),
    st.tuples(st.integers(0, 4)),
    st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)),
)


def shape_rule(shape) -> bool:
    return len(shape) == 2 and all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_DIMENSION for n in shape
    )


@SETTINGS
@given(st.data())
def test_from_indices_follows_the_rules(data):
    shape = data.draw(shapes, label="shape")
    n = data.draw(st.integers(0, 6), label="n")
    users = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n), label="users")
    items = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n), label="items")
    weights = data.draw(st.none() | st.lists(weight_values, min_size=n, max_size=n), label="weights")
    in_range = shape_rule(shape) and all(u < shape[0] for u in users) and all(i < shape[1] for i in items)
    sums = weight_rule(users, items, weights) if in_range else None
    if sums is None:
        with pytest.raises(ValueError) as error:
            Interactions.from_indices(users, items, weights, shape=shape)
        assert_refused(error)
        return
    result = Interactions.from_indices(users, items, weights, shape=shape)
    assert result.shape == shape
    assert_weights_are(result, sums, int, int)


timestamp_values = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([2**63, UINT64_MAX, 1e30, -1e30, 1.5, math.nan, math.inf, 2.0**63, -(2.0**63), 7.0]),
)


def timestamp_rule(stamps: list) -> list | None:
    values = []
    for stamp in stamps:
        if isinstance(stamp, float):
            if not math.isfinite(stamp) or stamp != math.floor(stamp):
                return None
            stamp = int(stamp)
        if not INT64_MIN <= stamp <= INT64_MAX:
            return None
        values.append(stamp)
    return values


@SETTINGS
@given(st.lists(timestamp_values, min_size=1, max_size=5))
def test_timestamps_are_kept_exactly_or_refused(stamps):
    n = len(stamps)
    expected = timestamp_rule(stamps)
    users = list(range(n))
    if expected is None:
        with pytest.raises(ValueError) as error:
            Interactions.from_indices(users, [0] * n, timestamps=stamps, shape=(n, 1))
        assert_refused(error)
        return
    result = Interactions.from_indices(users, [0] * n, timestamps=stamps, shape=(n, 1))
    assert result.timestamps.dtype == np.int64
    assert result.timestamps.tolist() == expected


# -------------------------------------------------------------- constructor
@SETTINGS
@given(st.data())
def test_constructor_validates_a_csr_matrix(data):
    n_users = data.draw(st.integers(0, 3), label="n_users")
    n_items = data.draw(st.integers(1, 4), label="n_items")
    rows = [
        data.draw(st.lists(st.integers(0, n_items - 1), max_size=4), label=f"columns of row {row}")
        for row in range(n_users)
    ]
    indices = [column for columns in rows for column in columns]
    weights = data.draw(st.lists(weight_values, min_size=len(indices), max_size=len(indices)), label="weights")
    stamps = list(range(100, 100 + len(indices)))
    indptr = np.cumsum([0] + [len(columns) for columns in rows])
    matrix = sp.csr_matrix(
        (np.array(weights, dtype=np.float64), np.array(indices, dtype=np.int32), indptr), shape=(n_users, n_items)
    )
    repeated = any(len(set(columns)) != len(columns) for columns in rows)
    bad_weight = any(not math.isfinite(w) or w < 0 or w > FLOAT32_MAX for w in weights)
    if repeated or bad_weight:
        with pytest.raises(ValueError) as error:
            Interactions(matrix, stamps)
        assert_refused(error)
        return
    result = Interactions(matrix, stamps)
    assert result.weights.dtype == np.float32
    assert np.all(np.isfinite(result.weights)) and np.all(result.weights >= 0)
    # Entries (and their timestamps) are in column order within each row.
    entries = [
        (row, column, np.float32(weight), stamp)
        for row, columns in enumerate(rows)
        for column, weight, stamp in zip(
            columns,
            weights[int(indptr[row]) : int(indptr[row + 1])],
            stamps[int(indptr[row]) : int(indptr[row + 1])],
        )
    ]
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    users, items, stored = result.to_coo()
    assert list(zip(users.tolist(), items.tolist(), stored.tolist(), result.timestamps.tolist())) == [
        (row, column, float(weight), stamp) for row, column, weight, stamp in entries
    ]


# ----------------------------------------------------------- from_dataframe
@SETTINGS
@given(id_lists, st.data())
def test_from_dataframe_follows_the_rules(users, data):
    pd = pytest.importorskip("pandas")
    weights = data.draw(st.lists(weight_values, min_size=len(users), max_size=len(users)), label="weights")
    frame = pd.DataFrame({"user": pd.Series(users, dtype=object), "item": [5] * len(users), "w": weights})
    kind = id_rule(users)
    sums = weight_rule(users, [5] * len(users), weights) if kind is not None else None
    if sums is None:
        with pytest.raises(ValueError) as error:
            Interactions.from_dataframe(frame, "user", "item", weight_col="w")
        assert_refused(error)
        return
    result = Interactions.from_dataframe(frame, "user", "item", weight_col="w")
    assert_ids_round_trip(result.user_ids, users, kind)
    assert_weights_are(result, sums, lambda u: result.user_ids.ids[u].item(), lambda i: 5)


@pytest.mark.parametrize(
    "column, message",
    [
        ([1, None, 3], r"users: 1 of 3 ids are missing \(None, NaN or NA; first at position 1\)"),
        (["a", None, None], r"users: 2 of 3 ids are missing \(None, NaN or NA; first at position 1\)"),
    ],
)
def test_from_dataframe_with_inferred_dtypes_names_missing_ids(column, message):
    pd = pytest.importorskip("pandas")
    # pandas turns [1, None, 3] into floats with NaN, and None among strings into NaN.
    frame = pd.DataFrame({"user": column, "item": [1, 2, 3]})
    with pytest.raises(ValueError, match=message):
        Interactions.from_dataframe(frame, "user", "item")

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tripletrec import IdMap, Interactions


# ----------------------------------------------------------------- IdMap
def test_id_map_round_trip_strings_and_ints():
    names = IdMap(["carol", "alice", "bob"])
    assert names.to_index(["alice", "carol"]).tolist() == [1, 0]
    assert names.to_external([2, 0]).tolist() == ["bob", "carol"]
    assert "bob" in names and "dave" not in names
    numbers = IdMap(np.array([10, 5, 7], dtype=np.uint16))
    assert numbers.to_index([7, 10]).tolist() == [2, 0]
    assert numbers.to_index(np.int64(5)) == 1


def test_id_map_errors_name_the_problem():
    with pytest.raises(ValueError, match="ids must be unique: 1 of 3 ids are repeats"):
        IdMap([1, 2, 1])
    with pytest.raises(ValueError, match="integers or strings"):
        IdMap(np.array([0.5, 1.5]))
    names = IdMap(["a", "b"])
    with pytest.raises(ValueError, match=r"users: 2 of 3 rows are not in the id map \(e.g. 'x', 'y'\)"):
        names.to_index(["a", "x", "y"], name="users")
    with pytest.raises(ValueError, match=r"indices: 1 of 2 rows are outside 0..1"):
        names.to_external([0, 2])
    # An integer never matches a string id: it is unknown, not a crash.
    assert names.to_index([1], missing="ignore").tolist() == [-1]


def test_id_map_equality_is_by_content():
    assert IdMap([3, 1]) == IdMap(np.array([3, 1]))
    assert IdMap([3, 1]) != IdMap([1, 3])
    assert IdMap(["1"]) != IdMap([1])


# ------------------------------------------------------------ construction
def test_from_arrays_known_answer():
    data = Interactions.from_arrays(
        ["b", "a", "b", "c"], [20, 10, 30, 10], weights=[1.0, 2.0, 3.0, 4.0], timestamps=[5, 6, 7, 8]
    )
    assert data.shape == (3, 3)
    assert data.user_ids.ids.tolist() == ["a", "b", "c"]
    assert data.item_ids.ids.tolist() == [10, 20, 30]
    expected = np.array([[2, 0, 0], [0, 1, 3], [4, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(data.matrix.toarray(), expected)
    assert data.matrix.dtype == np.float32
    # timestamps follow the CSR order: (a,10) (b,20) (b,30) (c,10)
    assert data.timestamps.tolist() == [6, 5, 7, 8]
    assert len(data) == 4
    assert data.user_counts().tolist() == [1, 2, 1]
    assert data.item_counts().tolist() == [2, 1, 1]
    assert data.item_indices_of(1).tolist() == [1, 2]
    assert data.items_of(data.user_ids.ids[1]).tolist() == data.item_ids.ids[[1, 2]].tolist()
    assert [items.tolist() for items in data.user_items()] == [[0], [1, 2], [0]]


def test_duplicates_summed_keep_latest_timestamp_or_rejected():
    data = Interactions.from_arrays([1, 1, 2], [7, 7, 7], weights=[1.0, 2.5, 1.0], timestamps=[3, 9, 4])
    assert len(data) == 2
    assert data.matrix[0, 0] == pytest.approx(3.5)
    assert data.timestamps.tolist() == [9, 4]
    with pytest.raises(
        ValueError, match=r"duplicate \(user, item\) pairs: 1 of 3 rows repeat an earlier pair \(first at row 1"
    ):
        Interactions.from_arrays([1, 1, 2], [7, 7, 7], duplicates="error")
    with pytest.raises(ValueError, match="duplicates must be one of sum, error; got 'drop'"):
        Interactions.from_arrays([1], [7], duplicates="drop")


@pytest.mark.parametrize(
    "weights, message",
    [
        ([1.0, np.nan, np.inf], r"weights: 2 of 3 rows are NaN or infinite \(first at row 1: nan\)"),
        ([1.0, -2.0, 3.0], r"weights: 1 of 3 rows are negative \(first at row 1: -2.0\)"),
        ([1.0, 2.0], r"weights has 2 values but there are 3 \(user, item\) rows"),
        (["a", "b", "c"], "weights must be numeric"),
    ],
)
def test_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        Interactions.from_arrays([0, 1, 2], [0, 1, 2], weights=weights)


def test_length_mismatch_and_unknown_ids():
    with pytest.raises(ValueError, match="users has 3 rows but items has 2; arrays must have the same length"):
        Interactions.from_arrays([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=r"timestamps has 1 values but there are 2"):
        Interactions.from_arrays([0, 1], [0, 1], timestamps=[1])
    known = Interactions.from_arrays(["u1", "u2"], ["i1", "i2"])
    with pytest.raises(ValueError, match=r"items: 1 of 2 rows are not in the id map \(e.g. 'i9'\)"):
        Interactions.from_arrays(["u1", "u2"], ["i1", "i9"], user_ids=known.user_ids, item_ids=known.item_ids)


def test_from_indices_rejects_negative_and_out_of_range():
    with pytest.raises(ValueError, match=r"users: 1 of 3 indices are outside 0..1 \(first at position 2: -1\)"):
        Interactions.from_indices([0, 1, -1], [0, 0, 0], shape=(2, 2))
    with pytest.raises(ValueError, match=r"items: 2 of 2 indices are outside 0..1 \(first at position 0: 5\)"):
        Interactions.from_indices([0, 1], [5, 2], shape=(2, 2))
    with pytest.raises(ValueError, match="users must hold integer dense indices, got dtype float64"):
        Interactions.from_indices([0.5], [0], shape=(2, 2))
    # One rule everywhere: an integral float is not an index either.
    with pytest.raises(ValueError, match="users must hold integer dense indices, got dtype float64"):
        Interactions.from_indices([1.0], [0], shape=(2, 2))


def test_shared_id_maps_give_same_shape():
    train = Interactions.from_arrays([1, 2, 3], ["x", "y", "z"])
    test = Interactions.from_arrays([3], ["x"], user_ids=train.user_ids, item_ids=train.item_ids)
    assert test.shape == train.shape == (3, 3)
    assert test.same_ids(train)
    assert test.matrix[2, 0] == 1.0


def test_from_scipy_and_back():
    dense = np.array([[0, 2, 0], [1, 0, 0]], dtype=np.float64)
    data = Interactions.from_scipy(sp.csc_matrix(dense))
    np.testing.assert_array_equal(data.matrix.toarray(), dense.astype(np.float32))
    assert data.user_ids.ids.tolist() == [0, 1]
    with pytest.raises(ValueError, match="matrix must be a scipy sparse matrix, got ndarray"):
        Interactions.from_scipy(dense)
    bad = sp.csr_matrix(np.array([[0.0, -1.0]]))
    with pytest.raises(ValueError, match="weights: 1 of 1 rows are negative"):
        Interactions.from_scipy(bad)


def test_dataframe_round_trip():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"who": ["u2", "u1", "u2"], "what": ["b", "a", "a"], "stars": [4.0, 5.0, 3.0], "when": [30, 10, 20]}
    )
    data = Interactions.from_dataframe(frame, "who", "what", weight_col="stars", timestamp_col="when")
    back = data.to_dataframe()
    assert back.columns.tolist() == ["user", "item", "weight", "timestamp"]
    rows = sorted(zip(back.user, back.item, back.weight, back.timestamp))
    assert rows == [("u1", "a", 5.0, 10), ("u2", "a", 3.0, 20), ("u2", "b", 4.0, 30)]
    with pytest.raises(
        ValueError, match="frame has no column 'rating'; its columns are 'who', 'what', 'stars', 'when'"
    ):
        Interactions.from_dataframe(frame, "who", "what", weight_col="rating")


def test_datetime_timestamps_become_seconds():
    stamps = np.array(["1970-01-01T00:00:10", "1970-01-02"], dtype="datetime64[s]")
    data = Interactions.from_arrays([0, 1], [0, 0], timestamps=stamps)
    assert data.timestamps.tolist() == [10, 86400]


# -------------------------------------------------------------- transforms
def test_threshold_binarize_and_select_keep_shape_and_ids():
    data = Interactions.from_arrays([1, 1, 2, 3], [1, 2, 1, 3], weights=[5, 3, 4, 1], timestamps=[1, 2, 3, 4])
    positives = data.threshold(4)
    assert positives.shape == data.shape
    assert positives.user_ids is data.user_ids and positives.item_ids is data.item_ids
    assert len(positives) == 2
    assert positives.timestamps.tolist() == [1, 3]
    assert positives.weights.tolist() == [5.0, 4.0]
    assert positives.binarize().weights.tolist() == [1.0, 1.0]
    assert data.weights.tolist() == [5.0, 3.0, 4.0, 1.0]  # source untouched
    with pytest.raises(ValueError, match=r"keep must have shape \(4,\)"):
        data.select(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="user_index 7 is outside 0..2"):
        data.item_indices_of(7)
    with pytest.raises(ValueError, match="user_index must be an integer dense index, got 1.0"):
        data.item_indices_of(1.0)


def test_empty_interactions():
    data = Interactions.from_indices([], [], shape=(3, 4))
    assert len(data) == 0 and data.shape == (3, 4)
    assert data.user_counts().tolist() == [0, 0, 0]


pairs = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 5), st.floats(0, 10, allow_nan=False), st.integers(0, 1000)),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_matches_a_dict_reference(rows):
    """Summing duplicates equals a plain-Python accumulation (the reference)."""
    expected: dict[tuple[int, int], list] = {}
    for user, item, weight, stamp in rows:
        entry = expected.setdefault((user, item), [0.0, -1])
        entry[0] += weight
        entry[1] = max(entry[1], stamp)
    users = [r[0] for r in rows]
    items = [r[1] for r in rows]
    data = Interactions.from_indices(users, items, [r[2] for r in rows], [r[3] for r in rows], shape=(7, 6))
    assert len(data) == len(expected)
    got_users, got_items, got_weights = data.to_coo()
    for user, item, weight, stamp in zip(got_users, got_items, got_weights, data.timestamps):
        want_weight, want_stamp = expected[(int(user), int(item))]
        assert weight == pytest.approx(want_weight, rel=1e-6, abs=1e-5)
        assert stamp == want_stamp
    assert data.user_counts().sum() == len(expected)
    assert np.all(np.diff(data.indptr) >= 0)


# ------------------------------------------------------------- id rules
def test_uint64_ids_beyond_int64_are_kept_and_looked_up_exactly():
    hashed = np.array([5, 2**64 - 1, 2**63], dtype=np.uint64)
    data = Interactions.from_arrays(hashed, [1, 2, 3])
    assert data.user_ids.ids.dtype == np.uint64
    assert data.user_ids.ids.tolist() == [5, 2**63, 2**64 - 1]
    assert data.user_ids.to_index([2**64 - 1, 5, 2**63]).tolist() == [2, 0, 1]
    # 2**64 - 2 and 2**64 - 1 are the same float64: the lookup must not go through floats.
    assert data.user_ids.to_index([2**64 - 2, -1], missing="ignore").tolist() == [-1, -1]
    assert 2**64 - 1 in data.user_ids and 2**64 - 2 not in data.user_ids
    # uint64 ids that fit in int64 are stored as int64, like every other integer id.
    assert IdMap(np.array([3, 4], dtype=np.uint64)).ids.dtype == np.int64


def test_python_ints_beyond_int64_keep_integer_ids():
    data = Interactions.from_arrays([2**63, 1], [0, 0])
    assert data.user_ids.ids.tolist() == [1, 2**63]
    assert data.user_ids.to_index([1]).tolist() == [0]


@pytest.mark.parametrize(
    "users, message",
    [
        ([2**70, 1], r"users: id 1180591620717411303424 at position 0 is outside the range of 64-bit integers"),
        ([1, -(2**63) - 1], r"users: id -9223372036854775809 at position 1 is outside the range of 64-bit"),
        (
            [-1, 2**64 - 1],
            r"users: ids mix negative integers \(-1\) with integers above int64's largest "
            r"\(18446744073709551615\); no 64-bit integer type holds both",
        ),
        (
            ["1", 1, "a"],
            r"users mix integers and strings: 1 at position 1 is an integer but the first id, '1', is a "
            r"string; ids must be all integers or all strings",
        ),
        ([1, True], r"users must be integers or strings, got bool True at position 1"),
        ([1.0, 2.0], r"users must be integers or strings, got float 1.0 at position 0"),
        (np.array([1.0, 2.0]), r"users must be integers or strings, got dtype float64"),
        ([1, None, None], r"users: 2 of 3 ids are missing \(None, NaN or NA; first at position 1\)"),
        (["a", float("nan")], r"users: 1 of 2 ids are missing \(None, NaN or NA; first at position 1\)"),
        (np.array([1.0, np.nan]), r"users: 1 of 2 ids are missing \(None, NaN or NA; first at position 1\)"),
    ],
)
def test_ids_refused_with_the_first_offender(users, message):
    with pytest.raises(ValueError, match=message):
        Interactions.from_arrays(users, [0] * len(users))


def test_missing_ids_are_refused_even_with_a_given_map():
    known = IdMap([1, 2])
    with pytest.raises(ValueError, match=r"users: 1 of 2 ids are missing \(None, NaN or NA; first at position 0\)"):
        Interactions.from_arrays([None, 1], [0, 0], user_ids=known, item_ids=IdMap([0]))


def test_missing_ids_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"who": pd.Series([1, pd.NA, 3], dtype="Int64"), "what": ["a", "b", None]})
    with pytest.raises(ValueError, match=r"users: 1 of 3 ids are missing \(None, NaN or NA; first at position 1\)"):
        Interactions.from_dataframe(frame, "who", "what")
    frame["who"] = [1, 2, 3]
    with pytest.raises(ValueError, match=r"items: 1 of 3 ids are missing \(None, NaN or NA; first at position 2\)"):
        Interactions.from_dataframe(frame, "who", "what")


def test_id_map_built_from_bad_ids_names_them():
    with pytest.raises(ValueError, match=r"user_ids mix integers and strings: 'a' at position 1"):
        Interactions(sp.csr_matrix((2, 2), dtype=np.float32), user_ids=[1, "a"])


# ------------------------------------------------- weights and timestamps
@pytest.mark.parametrize(
    "weights, message",
    [
        (
            [1e39, 1.0],
            r"weights: 1 of 2 rows are above 3.4028235e\+38, the largest float32 \(the stored type\) "
            r"\(first at row 0: 1e\+39\)",
        ),
        (
            [1.0, -np.inf],
            r"weights: 1 of 2 rows are NaN or infinite \(first at row 1: -inf\)",
        ),
    ],
)
def test_weights_beyond_float32_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        Interactions.from_arrays([0, 1], [0, 0], weights=weights)


def test_summed_repeats_beyond_float32_are_refused():
    with pytest.raises(
        ValueError,
        match=r"weights: the repeats of \(user index 0, item index 1\) add up to 6e\+38, above "
        r"3.4028235e\+38, the largest float32 \(the stored type\)",
    ):
        Interactions.from_indices([0, 0, 0], [0, 1, 1], [1.0, 3e38, 3e38], shape=(1, 2))


@pytest.mark.parametrize(
    "timestamps, message",
    [
        ([1e30], r"timestamps: 1 of 1 rows are outside int64's range \(first at row 0: 1e\+30\)"),
        ([5, 2**63], r"timestamps: 1 of 2 rows are outside int64's range \(first at row 1: 9223372036854775808\)"),
        (np.array([2**63], dtype=np.uint64), r"timestamps: 1 of 1 rows are outside int64's range"),
        ([np.nan], r"timestamps: 1 of 1 rows are NaN or infinite \(first at row 0: nan\)"),
        ([1.5], r"timestamps: 1 of 1 rows are not whole numbers \(first at row 0: 1.5\)"),
        ([True], r"timestamps: 1 of 1 rows are not numbers \(first at row 0: True\)"),
        (np.array(["NaT"], dtype="datetime64[s]"), r"timestamps: 1 of 1 rows are NaT \(not a time\)"),
    ],
)
def test_timestamps_outside_int64_are_refused(timestamps, message):
    with pytest.raises(ValueError, match=message):
        Interactions.from_indices(
            [0] * len(timestamps), list(range(len(timestamps))), timestamps=timestamps, shape=(1, 2)
        )


def test_timestamps_are_kept_exactly():
    stamps = [2**62 + 1, 7.0]  # numpy alone would round the first to a float
    data = Interactions.from_indices([0, 0], [0, 1], timestamps=stamps, shape=(1, 2))
    assert data.timestamps.tolist() == [2**62 + 1, 7]


# ----------------------------------------------------------- constructor
def _csr(data, indices, indptr, shape):
    return sp.csr_matrix((np.asarray(data), np.asarray(indices), np.asarray(indptr)), shape=shape)


@pytest.mark.parametrize(
    "matrix, message",
    [
        (
            _csr([1.0, np.nan], [0, 1], [0, 2], (1, 2)),
            r"weights: 1 of 2 stored entries are NaN or infinite \(first at stored entry 1: nan\)",
        ),
        (
            _csr([1.0, -2.0], [0, 1], [0, 2], (1, 2)),
            r"weights: 1 of 2 stored entries are negative \(first at stored entry 1: -2.0\)",
        ),
        (
            _csr([1.0, 1e39], [0, 1], [0, 2], (1, 2)),
            r"weights: 1 of 2 stored entries are above 3.4028235e\+38",
        ),
        (
            _csr([1.0, 2.0, 3.0], [0, 1, 1], [0, 1, 3], (2, 2)),
            r"matrix stores a \(user, item\) pair more than once: 1 stored entries repeat an earlier column of "
            r"their row \(first: row 1, column 1\)",
        ),
        (
            _csr([1.0, 2.0, 3.0], [1, 0, 1], [0, 3], (1, 2)),
            r"matrix stores a \(user, item\) pair more than once: 1 stored entries .*\(first: row 0, column 1\)",
        ),
        (
            _csr(np.array([1 + 1j]), [0], [0, 1], (1, 2)),
            r"weights must be numeric, got dtype complex128",
        ),
    ],
)
def test_constructor_validates_like_from_arrays(matrix, message):
    with pytest.raises(ValueError, match=message):
        Interactions(matrix)


def test_constructor_sorts_columns_and_carries_timestamps():
    matrix = _csr([3.0, 1.0, 2.0], [2, 0, 1], [0, 2, 3], (2, 3))
    data = Interactions(matrix, timestamps=[30, 10, 20])
    assert data.indices.tolist() == [0, 2, 1]
    assert data.weights.tolist() == [1.0, 3.0, 2.0]
    assert data.timestamps.tolist() == [10, 30, 20]
    assert matrix.indices.tolist() == [2, 0, 1]  # the caller's matrix is left as it was


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    "shape, message",
    [
        ((2.7, 2), r"shape\[0\] \(n_users\) must be an integer >= 0, got 2.7"),
        ((2, -1), r"shape\[1\] \(n_items\) must be an integer >= 0, got -1"),
        ((2,), r"shape must be two non-negative integers \(n_users, n_items\), got \(2,\)"),
        ((1, 2, 3), r"shape must be two non-negative integers \(n_users, n_items\), got \(1, 2, 3\)"),
        (
            (10**12, 2),
            r"shape\[0\] \(n_users\) is 1,000,000,000,000, above the largest supported 2,147,483,647 "
            r"\(2\*\*31 - 1\): indices are stored as int32",
        ),
        ((2, 2**31), r"shape\[1\] \(n_items\) is 2,147,483,648, above the largest supported"),
    ],
)
def test_bad_shapes_are_refused_before_allocating(shape, message):
    with pytest.raises(ValueError, match=message):
        Interactions.from_indices([0], [0], shape=shape)


def test_empty_arrays_make_an_empty_set_every_method_handles():
    data = Interactions.from_arrays([], [])
    assert data.shape == (0, 0) and len(data) == 0
    assert data.user_ids.ids.dtype == np.int64 and data.item_ids.ids.dtype == np.int64
    assert data.user_items() == []
    assert data.user_counts().tolist() == [] and data.item_counts().tolist() == []
    assert len(data.threshold(1)) == 0 and len(data.binarize()) == 0
    assert [part.tolist() for part in data.to_coo()] == [[], [], []]
    assert data.user_ids.to_index([1], missing="ignore").tolist() == [-1]
    with pytest.raises(ValueError, match=r"user: 1 of 1 rows are not in the id map \(e.g. 1\)"):
        data.items_of(1)

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
    with pytest.raises(ValueError, match=r"duplicate \(user, item\) pairs: 1 of 3 rows repeat an earlier pair \(first at row 1"):
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
    with pytest.raises(ValueError, match=r"users: 1 of 3 rows are negative or out of range 0..1 \(first at row 2: -1\)"):
        Interactions.from_indices([0, 1, -1], [0, 0, 0], shape=(2, 2))
    with pytest.raises(ValueError, match=r"items: 2 of 2 rows are negative or out of range 0..1 \(first at row 0: 5\)"):
        Interactions.from_indices([0, 1], [5, 2], shape=(2, 2))
    with pytest.raises(ValueError, match="users must hold integer indices"):
        Interactions.from_indices([0.5], [0], shape=(2, 2))


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
    with pytest.raises(ValueError, match="frame has no column 'rating'; its columns are 'who', 'what', 'stars', 'when'"):
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
    data = Interactions.from_indices(
        users, items, [r[2] for r in rows], [r[3] for r in rows], shape=(7, 6)
    )
    assert len(data) == len(expected)
    got_users, got_items, got_weights = data.to_coo()
    for user, item, weight, stamp in zip(got_users, got_items, got_weights, data.timestamps):
        want_weight, want_stamp = expected[(int(user), int(item))]
        assert weight == pytest.approx(want_weight, rel=1e-6, abs=1e-5)
        assert stamp == want_stamp
    assert data.user_counts().sum() == len(expected)
    assert np.all(np.diff(data.indptr) >= 0)

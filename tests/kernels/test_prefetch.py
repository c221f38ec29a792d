import numba
import numpy as np
import pytest

from tripletrec.kernels.prefetch import prefetch, prefetch_write


@numba.njit
def _sum_with_hints(vector, matrix, rows):
    total = 0.0
    for row in rows:
        prefetch(matrix, row)
        prefetch(vector, row)
        total += matrix[row].sum() + vector[row]
    return total


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_prefetch_compiles_for_rows_and_elements_and_changes_nothing(dtype):
    matrix = np.arange(60, dtype=dtype).reshape(20, 3)
    vector = np.arange(20, dtype=dtype) * 2
    rows = np.array([19, 0, 7, 7], dtype=np.int64)
    before = (matrix.copy(), vector.copy())
    expected = float(matrix[rows].sum() + vector[rows].sum())
    assert _sum_with_hints(vector, matrix, rows) == expected
    np.testing.assert_array_equal(matrix, before[0])
    np.testing.assert_array_equal(vector, before[1])


def test_prefetch_rejects_what_is_not_an_array():
    @numba.njit
    def hint_a_number(value):
        prefetch(value, 0)

    if numba.config.DISABLE_JIT:
        pytest.skip("without the JIT the hint accepts anything")
    with pytest.raises(numba.core.errors.TypingError):
        hint_a_number(1.5)


@numba.njit
def _scale_with_write_hints(matrix, rows, factor):
    for row in rows:
        prefetch_write(matrix, row)
    for row in rows:
        matrix[row] *= factor


def test_write_hint_compiles_and_changes_nothing_but_the_writes():
    matrix = np.arange(60, dtype=np.float32).reshape(20, 3)
    expected = matrix.copy()
    rows = np.array([3, 19, 0], dtype=np.int64)
    expected[rows] *= 2.0
    _scale_with_write_hints(matrix, rows, np.float32(2.0))
    np.testing.assert_array_equal(matrix, expected)

"""The table (lookup) fast paths of ShiftExp and ShiftGELU, taken for large 8-bit inputs,
against the naive Python-int reference: exactly equal, including rows at the extremes."""

import ivit_ops_reference as ref
import numpy as np
import pytest

from ivit_hw.ops import shift_exp, shiftgelu, shiftmax


def _rows(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    x = rng.integers(-128, 128, (rows, width))
    x[0] = -128  # all-equal, all-negative
    x[1, :] = rng.integers(-128, -100, width)  # all-negative, narrow
    x[2, ::2], x[2, 1::2] = -128, 127  # extremes
    return x


@pytest.mark.parametrize("x0,coef", [(-12, "scale"), (-30, "scale"), (-3, "shift"), (-20, "shift")])
def test_shiftgelu_table_path_equals_reference(x0, coef):
    x = _rows(np.random.default_rng(-x0), 8, 1024)  # 8 rows x 256 table entries << 8192 elements
    assert np.array_equal(shiftgelu(x, x0, coef=coef), np.array(ref.shiftgelu(x.tolist(), x0, coef=coef)))


@pytest.mark.parametrize("x0", [-9, -26, -101])
def test_shift_exp_and_shiftmax_table_path_equals_reference(x0):
    x = _rows(np.random.default_rng(-x0), 4, 2048)
    d = x - x.max(axis=-1, keepdims=True)
    assert np.array_equal(shift_exp(d, x0, 15), np.array(ref.shift_exp(d.tolist(), x0, 15)))
    assert np.array_equal(shiftmax(x, x0), np.array(ref.shiftmax(x.tolist(), x0)))

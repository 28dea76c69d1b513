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


# ------------------------------------------------ overrides == spec path, property tests --
# Each case is built so the override is really taken (asserted): more than 4096 elements of
# 8-bit rows for the tables, K >= 64 for the float GEMMs; the spec path is the same kernel
# without the override (no table, numpy's int64 matmul).

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ivit_hw.ops import tables  # noqa: E402
from ivit_hw.ops.shiftmax import exp_table  # noqa: E402
from ivit_hw.ops.xp import NP  # noqa: E402

ROWS_8BIT = st.tuples(st.integers(5, 9), st.integers(1000, 1300), st.integers(0, 2**32 - 1))


def _rows8(rows: int, width: int, seed: int) -> np.ndarray:
    return _rows(np.random.default_rng(seed), rows, width)


def _assert_same(fast_out, fast_tr, spec_out, spec_tr):
    np.testing.assert_array_equal(fast_out, spec_out)
    assert fast_tr.keys() == spec_tr.keys()
    for key in spec_tr:
        np.testing.assert_array_equal(np.broadcast_to(fast_tr[key], np.shape(spec_tr[key])), spec_tr[key],
                                      err_msg=key)


@given(ROWS_8BIT, st.integers(-300, -2), st.integers(8, 16))
def test_shiftmax_table_override_equals_spec_path(shape, x0, out_bits):
    x = _rows8(*shape)
    assert x.size > tables.LUT_MIN_ELEMENTS
    table = exp_table(x0, 15, -255, 0)
    before = tables.HITS["shift_exp_table"]
    fast_tr, spec_tr = {}, {}
    fast = shiftmax(x, x0, 15, out_bits, trace=fast_tr, xp=NP, table=table)
    assert tables.HITS["shift_exp_table"] == before + 1
    spec = shiftmax(x, x0, 15, out_bits, trace=spec_tr, xp=NP)
    assert tables.HITS["shift_exp_table"] == before + 1
    _assert_same(fast, fast_tr, spec, spec_tr)


@given(ROWS_8BIT, st.integers(-300, -2), st.sampled_from(["scale", "shift"]))
def test_shiftgelu_table_override_equals_spec_path(shape, x0, coef):
    x = _rows8(*shape)
    lo = -255 if coef == "scale" else -431  # the d range of 8-bit inputs (z = 1.6875 x for "shift")
    table = exp_table(x0, 23, lo, 0)
    before = tables.HITS["shiftgelu_table"]
    fast_tr, spec_tr = {}, {}
    fast = shiftgelu(x, x0, 23, coef, fast_tr, xp=NP, table=table)
    assert tables.HITS["shiftgelu_table"] == before + 1
    spec = shiftgelu(x, x0, 23, coef, spec_tr, xp=NP)
    assert tables.HITS["shiftgelu_table"] == before + 1
    _assert_same(fast, fast_tr, spec, spec_tr)


GEMM_CASES = {  # path -> (a bits, b bits, K range)
    "float32": (8, 8, (64, 512)),
    "float32_chunked": (8, 8, (2048, 2600)),
    "float64": (16, 16, (64, 300)),
}


@pytest.mark.parametrize("path", sorted(GEMM_CASES))
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 9))
def test_float_gemm_overrides_equal_int64_matmul(path, seed, m, n):
    a_bits, b_bits, (k_lo, k_hi) = GEMM_CASES[path]
    rng = np.random.default_rng(seed)
    k = int(rng.integers(k_lo, k_hi))
    ra, rb = (-(2 ** (a_bits - 1)), 2 ** (a_bits - 1) - 1), (-(2 ** (b_bits - 1)), 2 ** (b_bits - 1) - 1)
    a = rng.integers(ra[0], ra[1] + 1, (m, k))
    b = rng.integers(rb[0], rb[1] + 1, (k, n))
    a[0, :] = ra[0]  # the extreme corner: every product at its largest
    b[:, 0] = rb[0]
    fast = NP.gemm(ra, rb, k, b)
    spec = NP.gemm(ra, rb, k, None, fast=False)
    assert fast.path == path and spec.path == "int64"
    np.testing.assert_array_equal(fast(a), spec(a, b))
    np.testing.assert_array_equal(fast(a), a.astype(object).dot(b.astype(object)).astype(np.int64))

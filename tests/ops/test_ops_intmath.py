"""Exact integer helpers used on hot paths, against numpy's integer arithmetic."""

import numpy as np
import pytest

from ivit_hw.ops.intmath import _mul_round_shift_split, _round_shift_object, floor_div


@pytest.mark.parametrize("d", [-1, -2, -3, -25, -101, -1176, -65537, -(2**31), 1, 3, 17, 2**31 - 1])
def test_floor_div_equals_integer_floor_division(d):
    rng = np.random.default_rng(abs(d))
    k = np.arange(-1000, 1000)
    p = np.concatenate([rng.integers(-(2**51), 2**51, 20000), np.arange(-3000, 3000),
                        d * k, d * k + 1, d * k - 1, rng.integers(-(2**62), 2**62, 500)])
    assert np.array_equal(floor_div(p, d), np.floor_divide(p, d))


@pytest.mark.parametrize("rounding", ["floor", "half_up", "half_even"])
def test_split_product_rounding_equals_python_ints(rounding):
    """Products up to ~2^77 rounded in int64 via the 16-bit split equal Python-int arithmetic,
    including exact ties (a power-of-two multiplier makes many)."""
    rng = np.random.default_rng(7)
    a = np.concatenate([rng.integers(-(2**45), 2**45, 3000), (rng.integers(-8, 8, 3000) << 30)])
    for m, e in [(rng.integers(-(2**31), 2**31, a.size), rng.integers(17, 62, a.size)),
                 (np.full(a.size, 1 << 30), np.full(a.size, 31)), (np.full(a.size, -(1 << 30)), np.full(a.size, 33))]:
        expected = _round_shift_object(a.astype(object) * m.astype(object), e, rounding).astype(np.int64)
        assert np.array_equal(_mul_round_shift_split(a, m, e, rounding), expected)


def test_floor_div_with_array_denominators_equals_integer_floor_division():
    rng = np.random.default_rng(3)
    den = np.concatenate([rng.integers(1, 2**31, 5000), -rng.integers(1, 2**31, 5000), np.array([1, -1, 2, 3])])
    for num in (2**31 - 1, 2**32, -(2**31), 0, 7):
        assert np.array_equal(floor_div(num, den), np.floor_divide(num, den))
    nums = rng.integers(-(2**51), 2**51, den.size)
    assert np.array_equal(floor_div(nums, den), np.floor_divide(nums, den))
    with pytest.raises(ZeroDivisionError):
        floor_div(5, np.array([1, 0]))


def test_value_hull_is_min_and_max_as_python_ints():
    from ivit_hw.ops.intmath import value_hull

    assert value_hull(np.array([3, -2, 7])) == (-2, 7)
    assert value_hull(np.array([[5]], dtype=np.int8)) == (5, 5)
    assert value_hull(np.array([], dtype=np.int64)) == (0, 0)
    lo, hi = value_hull(np.array([-(2**63), 2**63 - 1], dtype=np.int64))
    assert (lo, hi) == (-(2**63), 2**63 - 1) and type(lo) is int and type(hi) is int

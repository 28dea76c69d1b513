"""Known-answer tests for ShiftExp and Shiftmax (spec sections 4-5).

All cases use x0 = -10 (an input scale of about 0.1) unless stated, so the
arithmetic stays small enough to follow by hand:

    p = x + (x >> 1) - (x >> 4);  p = max(p, n*x0);  q = p // x0
    r = p - x0*q;  t = r - 2*x0 = r + 20;  s = n - q - 1;  e = t << s (or t >> -s)

With n = 15: shift_exp(0) = 20 << 14 = 327680 = |x0| * 2^15.
"""

import numpy as np
import pytest

from ivit_hw.ops import shift_exp, shiftmax

X0 = -10
INT32_MAX = 2**31 - 1


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        # 0: p = 0, q = 0, r = 0, t = 20, s = 14 -> 20 << 14 = 327680
        (0, 327680),
        # -1: -1>>1 = -1, -1>>4 = -1 -> p = -1 - 1 + 1 = -1; q = -1 // -10 = 0
        #     r = -1, t = 19, s = 14 -> 19 << 14 = 311296
        (-1, 311296),
        # -3: -3>>1 = -2, -3>>4 = -1 -> p = -4; q = 0, r = -4, t = 16 -> 16 << 14 = 262144
        (-3, 262144),
        # -7: -7>>1 = -4, -7>>4 = -1 -> p = -10; q = 1, r = 0, t = 20, s = 13
        #     -> 20 << 13 = 163840 (exactly half of e(0): p = x0 is one halving)
        (-7, 163840),
        # -16: -16>>1 = -8, -16>>4 = -1 -> p = -23; q = 2 (2.3 floored), r = -3
        #     t = 17, s = 12 -> 17 << 12 = 69632
        (-16, 69632),
        # -104: -52, -104>>4 = -7 (floor -6.5) -> p = -104 - 52 + 7 = -149 > -150
        #     q = 14, r = -149 + 140 = -9, t = 11, s = 0 -> 11 (shift by zero)
        (-104, 11),
        # -105: -53, -7 (floor -6.5625) -> p = -151, clamped to 15 * -10 = -150
        #     q = 15, r = 0, t = 20, s = -1 -> the s < 0 branch: 20 >> 1 = 10
        (-105, 10),
        # -1000: p = -1000 - 500 + 63 = -1437 -> clamp -150 -> 10 as above
        (-1000, 10),
    ],
)
def test_shift_exp_known_answers(x, expected):
    assert np.array_equal(shift_exp(np.array([x]), X0, 15), [expected])


def test_shift_exp_clamp_floor_is_abs_x0():
    # at the clamp p = n*x0: q = n, r = 0, t = -2*x0, s = -1 -> e = -x0 for any n
    # n = 2, x0 = -3: -100 -> p = -100 - 50 + 7 = -143 -> clamp -6 -> e = 6 >> 1 = 3
    assert np.array_equal(shift_exp(np.array([-100]), -3, 2), [3])
    # n = 23, x0 = -10: e = 10 at the clamp as well
    assert np.array_equal(shift_exp(np.array([-(10**6)]), X0, 23), [10])


def test_shift_exp_positive_input():
    # 5: 5>>1 = 2, 5>>4 = 0 -> p = 7; q = 7 // -10 = -1; r = 7 - 10 = -3
    #    t = 17, s = 15 - (-1) - 1 = 15 -> 17 << 15 = 557056 (above e(0))
    assert np.array_equal(shift_exp(np.array([5]), X0, 15), [557056])
    # 200: 100, 12 -> p = 288; q = floor(-28.8) = -29; r = 288 - 290 = -2
    #    t = 18, s = 15 + 29 - 1 = 43 -> 18 * 2^43 = 158329674399744 (fits int64)
    assert np.array_equal(shift_exp(np.array([200]), X0, 15), [158329674399744])


def test_shift_exp_saturate():
    # with saturate = 2^31 - 1: 5 -> 557056 (below the cap, unchanged);
    # 200 -> 18 * 2^43 capped to 2^31 - 1;
    # 1000: p = 1000 + 500 - 62 = 1438, q = floor(-143.8) = -144, r = -2, t = 18
    #       s = 15 + 144 - 1 = 158 -> 18 * 2^158, far beyond int64 -> the cap
    x = np.array([5, 200, 1000, 0])
    expected = [557056, INT32_MAX, INT32_MAX, 327680]
    assert np.array_equal(shift_exp(x, X0, 15, saturate=INT32_MAX), expected)


def test_shift_exp_overflow_without_saturate_raises():
    with pytest.raises(OverflowError, match="saturate"):
        shift_exp(np.array([1000]), X0, 15)


def test_shift_exp_trace_holds_the_intermediates():
    tr: dict = {}
    shift_exp(np.array([-16, -105]), X0, 15, trace=tr)
    # from the -16 and -105 rows of the table above
    assert np.array_equal(tr["p"], [-23, -150])
    assert np.array_equal(tr["q"], [2, 15])
    assert np.array_equal(tr["r"], [-3, 0])
    assert np.array_equal(tr["t"], [17, 20])
    assert np.array_equal(tr["s"], [12, -1])


# -------------------------------------------------------------- shiftmax --


def test_shiftmax_all_equal_row():
    # d = 0 everywhere -> e = 327680 x 4; sum = 1310720
    # f = (2^31 - 1) // 1310720 = 1638   (1638 * 1310720 = 2146959360 <= 2^31 - 1 < 1639 * 1310720)
    # y = 327680 * 1638 >> 16 = 536739840 / 65536 = 8190 exactly (ideal 8192 = 0.25 * 2^15)
    assert np.array_equal(shiftmax(np.array([[5, 5, 5, 5]]), X0), [[8190] * 4])
    # out_bits = 8: 536739840 >> 24 = 31 (31.99 floored; ideal 32 = 0.25 * 2^7)
    assert np.array_equal(shiftmax(np.array([[5, 5, 5, 5]]), X0, out_bits=8), [[31] * 4])


def test_shiftmax_single_element_row():
    # e = 327680 = sum; f = (2^31 - 1) // 327680 = 6553; 327680 * 6553 = 2147287040
    # >> 16 = 32765 (2147287040 = 65536 * 32765)
    assert np.array_equal(shiftmax(np.array([[42], [-128]]), X0), [[32765], [32765]])


def test_shiftmax_all_negative_row():
    # [-3, -1, -4]: max = -1 -> d = [-2, 0, -3]
    # e(-2): p = -2 - 1 + 1 = -2, q = 0, r = -2, t = 18 -> 18 << 14 = 294912
    # e(0) = 327680; e(-3) = 262144 (see the ShiftExp table)
    # sum = 294912 + 327680 + 262144 = 884736; f = (2^31 - 1) // 884736 = 2427
    # y = [294912 * 2427 >> 16, 327680 * 2427 >> 16, 262144 * 2427 >> 16]
    #   = [4.5 * 2427 = 10921.5 -> 10921, 5 * 2427 = 12135, 4 * 2427 = 9708]
    x = np.array([[-3, -1, -4], [97, 99, 96]])  # the second row is the first + 100
    assert np.array_equal(shiftmax(x, X0), [[10921, 12135, 9708]] * 2)


def test_shiftmax_extreme_values():
    # [-128, 127]: d = [-255, 0]; e(-255): p = -255 - 128 + 16 = -367 -> clamp
    # -150 -> e = 10; e(0) = 327680; sum = 327690; f = (2^31 - 1) // 327690 = 6553
    # y = [10 * 6553 >> 16 = 0, 327680 * 6553 >> 16 = 32765]
    assert np.array_equal(shiftmax(np.array([[-128, 127]]), X0), [[0, 32765]])


def test_shiftmax_masked_row():
    # mask drops position 2 (value 100): the max is over kept positions = 2
    # d = [-1, 0], e = [311296, 327680, 0], sum = 638976
    # f = (2^31 - 1) // 638976 = 3360
    # y = [311296 * 3360 >> 16 = 4.75 * 3360 = 15960, 5 * 3360 = 16800, 0]
    y = shiftmax(np.array([[1, 2, 100]]), X0, mask=np.array([[True, True, False]]))
    assert np.array_equal(y, [[15960, 16800, 0]])


def test_shiftmax_fully_masked_row_outputs_zeros():
    x = np.array([[1, 2, 3], [3, 3, 3]])
    mask = np.array([[False, False, False], [True, True, True]])
    # row 0: everything masked -> zeros; row 1: all equal over 3:
    # e = 327680 x 3, sum = 983040, f = (2^31 - 1) // 983040 = 2184
    # y = 327680 * 2184 >> 16 = 5 * 2184 = 10920
    assert np.array_equal(shiftmax(x, X0, mask=mask), [[0, 0, 0], [10920, 10920, 10920]])


def test_shiftmax_output_dtype_and_range():
    y = shiftmax(np.array([[0, -1, -2]], dtype=np.int8), X0)
    assert y.dtype == np.int64
    assert y.min() >= 0 and y.max() <= 2**15 - 1

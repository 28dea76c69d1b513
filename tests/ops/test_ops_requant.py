"""Known-answer tests for dyadic numbers, rounding shifts and requantize
(spec sections 0 and 2).

Every expected value below was worked out by hand from the spec text; the
arithmetic is in the comment next to it. None is computed by ivit_hw.ops.
"""

import numpy as np
import pytest

from ivit_hw.ops import dyadic, requantize, round_shift

TWO31 = 2**31

# ---------------------------------------------------------------- dyadic --


@pytest.mark.parametrize(
    ("ratio", "m", "e"),
    [
        # frexp(0.5) = (0.5, 0); m = 0.5 * 2^31 = 2^30; e = 31 - 0 = 31
        (0.5, 2**30, 31),
        # float64(0.1) = 0.8000000000000000444 * 2^-3; 0.8000...0444 * 2^31 =
        # 1717986918.4000001 -> half up 1717986918; e = 31 - (-3) = 34
        (0.1, 1717986918, 34),
        # frexp(3) = (0.75, 2); 0.75 * 2^31 = 1610612736; e = 31 - 2 = 29
        (3.0, 1610612736, 29),
        # |r| = 0.75 -> (0.75, 0): m = 1610612736, e = 31; m takes the sign of r
        (-0.75, -1610612736, 31),
        # 0.5 + 2^-32 = (0.5 + 2^-32) * 2^0; mant * 2^31 = 2^30 + 0.5, an exact
        # tie: half up gives 2^30 + 1 = 1073741825
        (0.5 + 2.0**-32, 1073741825, 31),
        # the sign is applied after rounding |r|, so the tie moves away from 0
        (-(0.5 + 2.0**-32), -1073741825, 31),
        # 1 - 2^-31: mant = 1 - 2^-31, ex = 0; mant * 2^31 = 2^31 - 1 (no carry)
        (1 - 2.0**-31, 2**31 - 1, 31),
        # 2^31 - 1: frexp = ((2^31-1)/2^31, 31); m = 2^31 - 1, e = 31 - 31 = 0
        (float(2**31 - 1), 2**31 - 1, 0),
    ],
)
def test_dyadic_known_answers(ratio, m, e):
    assert dyadic(ratio) == (m, e)


def test_dyadic_carry_case():
    # r = 1 - 2^-33: frexp = (1 - 2^-33, 0). mant * 2^31 = 2^31 - 0.25, rounded
    # half up = 2^31 -> step 3: m = 2^30, e = (31 - 0) - 1 = 30; 2^30 / 2^30 = 1
    assert dyadic(1 - 2.0**-33) == (2**30, 30)
    # r = 2^-5 * (1 - 2^-40): mant = 1 - 2^-40, ex = -5; m rounds to 2^31 ->
    # m = 2^30, e = 31 + 5 - 1 = 35; 2^30 / 2^35 = 2^-5
    assert dyadic(2.0**-5 * (1 - 2.0**-40)) == (2**30, 35)
    # negative ratio through the carry: same magnitude, sign on m
    assert dyadic(-(1 - 2.0**-33)) == (-(2**30), 30)


def test_dyadic_array_is_elementwise():
    # per-channel ratios [0.5, -0.75, 3.0] -> see the scalar cases above
    m, e = dyadic(np.array([0.5, -0.75, 3.0]))
    assert np.array_equal(m, [2**30, -1610612736, 1610612736])
    assert np.array_equal(e, [31, 31, 29])


@pytest.mark.parametrize(
    "ratio",
    [
        # 2^31 = 0.5 * 2^32: e = 31 - 32 = -1 < 0
        float(2**31),
        # 2^31 - 0.25: mant * 2^31 = 2^31 - 0.25 -> rounds to 2^31 -> carry makes
        # e = (31 - 31) - 1 = -1: the carry itself pushes it over
        2.0**31 - 0.25,
        1e10,
        -1e10,
    ],
)
def test_dyadic_too_large_is_an_error(ratio):
    with pytest.raises(ValueError, match="too large"):
        dyadic(ratio)


@pytest.mark.parametrize("ratio", [float("nan"), float("inf"), float("-inf")])
def test_dyadic_non_finite_is_an_error(ratio):
    with pytest.raises(ValueError, match="finite"):
        dyadic(ratio)
    with pytest.raises(ValueError, match="finite"):
        dyadic(np.array([0.5, ratio]))


def test_dyadic_error_in_one_channel_of_many():
    with pytest.raises(ValueError, match="too large"):
        dyadic(np.array([0.5, 2.0**31, 0.25]))


# ----------------------------------------------------------- round_shift --


def test_round_shift_modes_on_ties():
    # p / 2 for p = [1, 3, 5, -1, -3, -5] = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]
    p = np.array([1, 3, 5, -1, -3, -5], dtype=np.int64)
    # half_even: 0.5->0, 1.5->2, 2.5->2, -0.5->0, -1.5->-2, -2.5->-2
    assert np.array_equal(round_shift(p, 1, "half_even"), [0, 2, 2, 0, -2, -2])
    # half_up ((p + 1) >> 1): 1, 2, 3, 0, -1, -2
    assert np.array_equal(round_shift(p, 1, "half_up"), [1, 2, 3, 0, -1, -2])
    # floor (p >> 1): 0, 1, 2, -1, -2, -3
    assert np.array_equal(round_shift(p, 1, "floor"), [0, 1, 2, -1, -2, -3])
    # s == 0 returns the value itself in every mode
    for mode in ("half_even", "half_up", "floor"):
        assert np.array_equal(round_shift(p, 0, mode), p)


# ------------------------------------------------------------ requantize --

M_HALF = (2**30, 31)  # 2^30 / 2^31 = 0.5 exactly
M_QUARTER = (2**30, 32)  # 0.25 exactly


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        # acc * 0.5 for acc = [1, 3, 5, -1, -3, -5, 2, -2, 0]
        #               = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1, -1, 0]
        ("half_even", [0, 2, 2, 0, -2, -2, 1, -1, 0]),
        ("half_up", [1, 2, 3, 0, -1, -2, 1, -1, 0]),  # floor(v + 0.5)
        ("floor", [0, 1, 2, -1, -2, -3, 1, -1, 0]),  # floor(v)
    ],
)
def test_requantize_half_ties(rounding, expected):
    acc = np.array([1, 3, 5, -1, -3, -5, 2, -2, 0])
    assert np.array_equal(requantize(acc, *M_HALF, 16, rounding), expected)


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        # acc * 0.25 for acc = [2, 6, -2, -6, 1, 3, -1, -3]
        #   = [0.5, 1.5, -0.5, -1.5, 0.25, 0.75, -0.25, -0.75]
        ("half_even", [0, 2, 0, -2, 0, 1, 0, -1]),
        ("half_up", [1, 2, 0, -1, 0, 1, 0, -1]),
        ("floor", [0, 1, -1, -2, 0, 0, -1, -1]),
    ],
)
def test_requantize_quarter_ties_and_non_ties(rounding, expected):
    acc = np.array([2, 6, -2, -6, 1, 3, -1, -3])
    assert np.array_equal(requantize(acc, *M_QUARTER, 16, rounding), expected)


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        # negative multiplier -2^30 / 2^31 = -0.5: acc = [1, 3, -1] -> [-0.5, -1.5, 0.5]
        ("half_even", [0, -2, 0]),
        ("half_up", [0, -1, 1]),
        ("floor", [-1, -2, 0]),
    ],
)
def test_requantize_negative_multiplier(rounding, expected):
    assert np.array_equal(requantize(np.array([1, 3, -1]), -(2**30), 31, 16, rounding), expected)


def test_requantize_per_channel():
    # channels (last axis): m = [2^30, 3*2^29, -2^30], e = [31, 31, 30]
    #   -> ratios 0.5, 0.75, -1.0
    # row 0: [10*0.5, 10*0.75, 10*-1] = [5, 7.5, -10] -> half_even [5, 8, -10]
    # row 1: [-7*0.5, 4*0.75, 3*-1] = [-3.5, 3, -3] -> half_even [-4, 3, -3]
    acc = np.array([[10, 10, 10], [-7, 4, 3]])
    m = np.array([2**30, 3 * 2**29, -(2**30)])
    e = np.array([31, 31, 30])
    assert np.array_equal(requantize(acc, m, e, 16), [[5, 8, -10], [-4, 3, -3]])
    # floor: [5, 7, -10] and [-4, 3, -3]
    assert np.array_equal(requantize(acc, m, e, 16, "floor"), [[5, 7, -10], [-4, 3, -3]])


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        # branch: [100, -100] * 0.5 = [50, -50] (exact)
        # identity: [7, 9] * 1.5 (m_id = 3*2^29, e_id = 30) = [10.5, 13.5]
        ("half_even", [60, -36]),  # [10, 14]: 50 + 10, -50 + 14
        ("half_up", [61, -36]),  # [11, 14]
        ("floor", [60, -37]),  # [10, 13]
    ],
)
def test_requantize_identity_add(rounding, expected):
    y = requantize(np.array([100, -100]), *M_HALF, 16, rounding, identity=np.array([7, 9]), m_id=3 * 2**29, e_id=30)
    assert np.array_equal(y, expected)


def test_requantize_identity_is_rounded_on_its_own():
    # branch 1 * 0.5 = 0.5 and identity 1 * 0.5 = 0.5 are rounded separately:
    # half_even 0 + 0 = 0 (not round(1.0) = 1); half_up 1 + 1 = 2
    kw = {"identity": np.array([1]), "m_id": 2**30, "e_id": 31}
    assert np.array_equal(requantize(np.array([1]), *M_HALF, 8, "half_even", **kw), [0])
    assert np.array_equal(requantize(np.array([1]), *M_HALF, 8, "half_up", **kw), [2])


def test_requantize_clamps_at_out_bits():
    # acc * 0.5 = [150, -150, 127, 127.5, 128, -128, -128.5]
    # half_even -> [150, -150, 127, 128, 128, -128, -128]
    # clamp to 8 bits [-128, 127] -> [127, -128, 127, 127, 127, -128, -128]
    acc = np.array([300, -300, 254, 255, 256, -256, -257])
    assert np.array_equal(requantize(acc, *M_HALF, 8), [127, -128, 127, 127, 127, -128, -128])
    # 4 bits: range [-8, 7]; acc = [14, 15, 16, -16, -17] * 0.5 = [7, 7.5, 8, -8, -8.5]
    # half_even [7, 8, 8, -8, -8] -> clamp [7, 7, 7, -8, -8]
    assert np.array_equal(requantize(np.array([14, 15, 16, -16, -17]), *M_HALF, 4), [7, 7, 7, -8, -8])


def test_requantize_clamps_after_the_identity_add():
    # 200 * 0.5 = 100 and 100 * 0.5 = 50: each fits 8 bits, the sum 150 does
    # not -> 127 (the clamp comes after the add)
    y = requantize(np.array([200]), *M_HALF, 8, identity=np.array([100]), m_id=2**30, e_id=31)
    assert np.array_equal(y, [127])


def test_requantize_wide_products_are_exact():
    # acc = 2^40 + 1, m = 2^31 - 1, e = 31 (product ~2^71, beyond int64):
    # (2^40 + 1)(2^31 - 1) / 2^31 = 2^40 - 2^9 + 1 - 2^-31 = 2^40 - 511 - 2^-31
    acc = np.array([2**40 + 1])
    assert np.array_equal(requantize(acc, 2**31 - 1, 31, 64, "floor"), [2**40 - 512])
    assert np.array_equal(requantize(acc, 2**31 - 1, 31, 64, "half_even"), [2**40 - 511])
    assert np.array_equal(requantize(acc, 2**31 - 1, 31, 64, "half_up"), [2**40 - 511])
    # and clamped to 32 bits it saturates instead of wrapping
    assert np.array_equal(requantize(-acc, 2**31 - 1, 31, 32), [-(2**31)])


def test_requantize_returns_int64():
    y = requantize(np.array([1, 2], dtype=np.int8), *M_HALF, 8)
    assert y.dtype == np.int64

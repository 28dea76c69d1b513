"""Known-answer tests for ShiftGELU (spec section 6), worked by hand.

x0 = -10 and n = 23, so ShiftExp(0) = 20 << 22 = 83886080 (= 5 * 2^24).
Useful ShiftExp values (p = v + (v>>1) - (v>>4), t = r + 20, s = 22 - q):

    v = -2:  p = -2,  q = 0, r = -2, t = 18 -> 18 << 22 = 75497472
    v = -4:  p = -5,  q = 0, r = -5, t = 15 -> 15 << 22 = 62914560
    v = -6:  p = -8,  q = 0, r = -8, t = 12 -> 12 << 22 = 50331648
    v = -11: p = -16, q = 1, r = -6, t = 14 -> 14 << 21 = 29360128
    v = +3:  p = 4,   q = -1, r = -6, t = 14, s = 23 -> 14 << 23 = 117440512
"""

import numpy as np

from ivit_hw.ops import shiftgelu

X0 = -10
INT32_MAX = 2**31 - 1


def test_shiftgelu_scale_mode_small_row():
    # z = x = [4, -2, 0]; m = 4; z - m = [0, -6, -4]; em = ShiftExp(-4) = 62914560
    # sums: 83886080 + 62914560 = 146800640, 50331648 + 62914560 = 113246208,
    #       62914560 + 62914560 = 125829120
    # f = (2^31 - 1) // sum = [14, 18, 17]
    # g = e*f >> 24 = [5 * 14 = 70, 3 * 18 = 54, 3.75 * 17 = 63.75 -> 63]
    # y = x * g = [280, -108, 0]
    tr: dict = {}
    y = shiftgelu(np.array([[4, -2, 0]]), X0, coef="scale", trace=tr)
    assert np.array_equal(y, [[280, -108, 0]])
    assert np.array_equal(tr["g"], [[70, 54, 63]])
    assert np.array_equal(tr["f"], [[14, 18, 17]])


def test_shiftgelu_shift_mode_small_row():
    # z = x + (x>>1) + (x>>3) + (x>>4): 4 -> 4+2+0+0 = 6; -2 -> -2-1-1-1 = -5; 0 -> 0
    # m = 6; z - m = [0, -11, -6]; em = ShiftExp(-6) = 50331648
    # sums: 83886080 + 50331648 = 134217728 (= 2^27), 29360128 + 50331648 = 79691776,
    #       2 * 50331648 = 100663296
    # f = [(2^31-1) // 2^27 = 15, 26, 21]
    # g = [5 * 15 = 75, 1.75 * 26 = 45.5 -> 45, 3 * 21 = 63]
    # y = [4 * 75, -2 * 45, 0] = [300, -90, 0]
    tr: dict = {}
    y = shiftgelu(np.array([[4, -2, 0]]), X0, coef="shift", trace=tr)
    assert np.array_equal(tr["z"], [[6, -5, 0]])
    assert np.array_equal(y, [[300, -90, 0]])


def test_shiftgelu_all_negative_row():
    # x = [-3, -5]: m = -3; z - m = [0, -2]; em = ShiftExp(+3) = 117440512
    # sums: 83886080 + 117440512 = 201326592, 75497472 + 117440512 = 192937984
    # f = [10, 11]; g = [5 * 10 = 50, 4.5 * 11 = 49.5 -> 49]; y = [-150, -245]
    assert np.array_equal(shiftgelu(np.array([[-3, -5]]), X0), [[-150, -245]])


def test_shiftgelu_saturated_em_changes_nothing():
    # x = [-400, -500]: m = -400 and em = ShiftExp(400):
    # p = 400 + 200 - 25 = 575, q = floor(-57.5) = -58, r = -5, t = 15,
    # s = 23 + 58 - 1 = 80 -> 15 * 2^80: any sum is clamped to 2^31 - 1, f = 1
    # g = e >> 24: e(0) = 83886080 -> 5; e(-100): p = -100 - 50 + 7 = -143,
    # q = 14, r = -3, t = 17, s = 8 -> 4352 -> 0.  y = [-400 * 5, 0] = [-2000, 0]
    tr: dict = {}
    y = shiftgelu(np.array([[-400, -500]]), X0, trace=tr)
    assert np.array_equal(y, [[-2000, 0]])
    assert np.array_equal(tr["sum"], [[INT32_MAX, INT32_MAX]])
    assert np.array_equal(tr["em"], [[INT32_MAX]])


def test_shiftgelu_rows_are_independent():
    # each row has its own max: stacking the rows above changes nothing
    x = np.array([[4, -2, 0], [-3, -5, -5]])
    y = shiftgelu(x, X0)
    assert np.array_equal(y[0], [280, -108, 0])
    # [-3, -5, -5]: same e values as [-3, -5] plus another -5 -> [-150, -245, -245]
    assert np.array_equal(y[1], [-150, -245, -245])

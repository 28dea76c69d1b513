"""Known-answer tests for isqrt_iter and I-LayerNorm (spec section 7).

The Newton chains k <- (k + v // k) // 2 from k0 = 65536 are written out step
by step in the comments.
"""

import numpy as np
import pytest

from ivit_hw.ops import ilayernorm, isqrt_iter
from ivit_hw.ops.params import layernorm_params

INT32_MAX = 2**31 - 1


@pytest.mark.parametrize(
    ("v", "expected"),
    [
        # v // k = 0 at every step: k halves ten times, 65536 >> 10 = 64
        (0, 64),
        (1, 64),
        (100, 64),  # 100 // 128 = 0 even at the last step
        # 5000: 32768, 16384, 8192, 4096, (4096+1)//2 = 2048, (2048+2)//2 = 1025,
        #       (1025+4)//2 = 514, (514+9)//2 = 261, (261+19)//2 = 140,
        #       (140+35)//2 = 87   -- not converged: floor(sqrt(5000)) = 70
        (5000, 87),
        # 20000: 32768, 16384, (16384+1)//2 = 8192, (8192+2)//2 = 4097,
        #        (4097+4)//2 = 2050, (2050+9)//2 = 1029, (1029+19)//2 = 524,
        #        (524+38)//2 = 281, (281+71)//2 = 176, (176+113)//2 = 144
        (20000, 144),
        # 10^8: (65536+1525)//2 = 33530, (33530+2982)//2 = 18256,
        #       (18256+5477)//2 = 11866, (11866+8427)//2 = 10146,
        #       (10146+9856)//2 = 10001, (10001+9999)//2 = 10000, then fixed
        (10**8, 10000),
        # 2^40: (65536 + 2^24)//2 = 8421376, 4275968, 2266552, 1375827, 1087495,
        #       1049272, 1048576 (= 2^20 = sqrt(2^40)), then fixed
        (2**40, 2**20),
    ],
)
def test_isqrt_iter_known_answers(v, expected):
    assert np.array_equal(isqrt_iter(np.array([v])), [expected])


def test_isqrt_iter_options():
    # iters = 0 returns k0 itself
    assert np.array_equal(isqrt_iter(np.array([12345]), iters=0, k0=7), [7])
    # v = 15 = 4^2 - 1 never settles: from k0 = 4, (4 + 3)//2 = 3, then
    # (3 + 5)//2 = 4, (4 + 3)//2 = 3, ... (floor(sqrt(15)) = 3)
    assert np.array_equal(isqrt_iter(np.array([15]), iters=1, k0=4), [3])
    assert np.array_equal(isqrt_iter(np.array([15]), iters=2, k0=4), [4])
    # the shape is kept
    assert isqrt_iter(np.zeros((2, 3, 1), dtype=np.int64)).shape == (2, 3, 1)


def test_isqrt_iter_needs_positive_final_k():
    with pytest.raises(ValueError, match="k0 >> iters"):
        isqrt_iter(np.array([0]), iters=3, k0=4)  # 4 >> 3 = 0
    with pytest.raises(ValueError, match="k0 >> iters"):
        isqrt_iter(np.array([0]), iters=17)  # 65536 >> 17 = 0


def test_ilayernorm_zero_variance_row():
    # all equal: mean = 7, y = 0, v = 0 -> k = 64, f = (2^31-1) // 64 = 33554431,
    # z = 0 -> out = bias_int
    tr: dict = {}
    bias = np.array([1, -2, 3, 0])
    out = ilayernorm(np.array([[7, 7, 7, 7]]), bias, trace=tr)
    assert np.array_equal(out, [[1, -2, 3, 0]])
    assert np.array_equal(tr["k"], [[64]])
    assert np.array_equal(tr["f"], [[33554431]])
    # C = 1 is always a zero-variance row
    assert np.array_equal(ilayernorm(np.array([[-5], [9]]), np.array([4])), [[4], [4]])


@pytest.mark.parametrize(
    ("x", "mean"),
    [
        ([1, 2], 2),  # 3 / 2 = 1.5 -> tie to even 2
        ([2, 3], 2),  # 5 / 2 = 2.5 -> 2
        ([-1, -2], -2),  # -3 / 2 = -1.5 -> -2
        ([0, 0, 1, 1], 0),  # 2 / 4 = 0.5 -> 0
        ([1, 1, 1, 0], 1),  # 3 / 4 = 0.75 -> 1 (no tie)
        ([0, 0, 0, 1], 0),  # 1 / 4 = 0.25 -> 0
        ([3, 4, 4, 4], 4),  # 15 / 4 = 3.75 -> 4
    ],
)
def test_ilayernorm_mean_rounds_half_to_even(x, mean):
    tr: dict = {}
    ilayernorm(np.array([x]), np.zeros(len(x), dtype=np.int64), trace=tr)
    assert np.array_equal(tr["y"], [[v - mean for v in x]])


def test_ilayernorm_tie_row_full_output():
    # [1, 2]: mean 2 (tie to even), y = [-1, 0], v = 1 -> k = 64 (as v = 0)
    # f = 33554431; z = (-33554431) >> 1 = floor(-16777215.5) = -16777216; 0
    out = ilayernorm(np.array([[1, 2]]), np.array([5, 5]))
    assert np.array_equal(out, [[-16777216 + 5, 5]])


def test_ilayernorm_iterated_and_exact_sqrt():
    # [-100, 100]: mean 0, v = 20000
    # iter: k = 144 (chain above); f = (2^31-1) // 144 = 14913080
    #       z = (-100 * 14913080) >> 1 = -745654000 and +745654000
    # exact: k = floor(sqrt(20000)) = 141; f = (2^31-1) // 141 = 15230380
    #       z = -/+ 761519000
    x = np.array([[-100, 100]])
    bias = np.array([10, -10])
    assert np.array_equal(ilayernorm(x, bias), [[-745654000 + 10, 745654000 - 10]])
    assert np.array_equal(ilayernorm(x, bias, sqrt="exact"), [[-761519000 + 10, 761519000 - 10]])


def test_ilayernorm_exact_sqrt_of_zero_is_one():
    # sqrt="exact": k = max(floor(sqrt(0)), 1) = 1 -> f = 2^31 - 1; y = 0 -> out = bias
    tr: dict = {}
    out = ilayernorm(np.array([[3, 3]]), np.array([1, 2]), sqrt="exact", trace=tr)
    assert np.array_equal(out, [[1, 2]])
    assert np.array_equal(tr["k"], [[1]])


def test_layernorm_params_by_hand():
    # C = 4: sqrt(C) / 2^30 = 2 / 2^30 = 2^-29
    # S_out = gamma * 2^-29; bias_int = floor(beta / gamma * 2^29)
    # gamma = [1, -2, 0.5, 4], beta = [0.5, 1, -0.25, 0]
    #   bias: 0.5 * 2^29 = 268435456; 1 / -2 * 2^29 = -268435456;
    #         -0.25 / 0.5 * 2^29 = -268435456; 0
    s_out, bias = layernorm_params(np.array([1.0, -2.0, 0.5, 4.0]), np.array([0.5, 1.0, -0.25, 0.0]))
    assert np.array_equal(s_out, np.array([1.0, -2.0, 0.5, 4.0]) * 2.0**-29)
    assert np.array_equal(bias, [268435456, -268435456, -268435456, 0])

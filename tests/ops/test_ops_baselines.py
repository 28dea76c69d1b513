"""Known-answer tests for the spec section 9 baselines, worked by hand.

I-BERT exp constants at S = 0.1 (a = 0.35815147):
    x0 = floor(-ln2 / 0.1) = floor(-6.93) = -7
    b_int = floor((0.96963238 / a) / 0.1) = floor(27.07) = 27
    c_int = floor((1 / a) / 0.01) = floor(279.21) = 279
    max e = 279 << 30 (at d = 0); 279 has 9 bits -> 39 bits -> h = 39 - 16 = 23

I-BERT exp of d = [0, -7, -10] with n = 30:
    d = 0:   q = 0, r = 0,  z = 279                      -> e = 279 << 30
    d = -7:  q = 1, r = 0,  z = 279                      -> e = 279 << 29
    d = -10: q = 1, r = -3, z = (-3 + 27) * -3 + 279 = 207 -> e = 207 << 29
"""

import numpy as np
import pytest

from ivit_hw.ops import (
    LOG_CODE_MASKED,
    ibert_exp,
    ibert_gelu,
    ibert_layernorm,
    ibert_softmax,
    l1_layernorm,
    log_attn_v,
    log_int_softmax,
)
from ivit_hw.ops.params import ibert_exp_params, ibert_gelu_params, l1_layernorm_params

X0, B_INT, C_INT, H = -7, 27, 279, 23
INT32_MAX = 2**31 - 1


def test_ibert_exp_params_at_0_1():
    assert ibert_exp_params(0.1) == {"x0": X0, "b_int": B_INT, "c_int": C_INT, "n": 30, "h": H}


def test_ibert_exp_known_answers():
    e = ibert_exp(np.array([[0, -7, -10, -1000]]), X0, B_INT, C_INT)
    # d = -1000 is clamped to 30 * -7 = -210: q = 30, r = 0, z = 279 -> 279 << 0
    assert np.array_equal(e, [[279 << 30, 279 << 29, 207 << 29, 279]])


def test_ibert_softmax_known_answers():
    # e >> 23 = [279 << 7, 279 << 6, 207 << 6] = [35712, 17856, 13248]; sum = 66816
    # f = 2^32 // 66816 = 64280
    # y = e16 * f >> 16: 35712 * 64280 = 2295567360 -> 35027 (65536 * 35027 = 2295529472)
    #                    17856 * 64280 = 1147783680 -> 17513
    #                    13248 * 64280 =  851581440 -> 12994
    # the clamped d = -1000 gives e = 279 -> 279 >> 23 = 0 -> 0
    y = ibert_softmax(np.array([[0, -7, -10, -1000]]), X0, B_INT, C_INT, H)
    assert np.array_equal(y, [[35027, 17513, 12994, 0]])


def test_log_int_softmax_known_answers():
    # sum(e) = 2^29 * (558 + 279 + 207) = 1044 * 2^29
    # v = round_half_even(sum / e) = [1044/558 = 1.87 -> 2, 1044/279 = 3.74 -> 4, 1044/207 = 5.04 -> 5]
    # code: v = 2 -> kb = 1, bit below (2 >> 0) & 1 = 0 -> 1
    #       v = 4 -> kb = 2, (4 >> 1) & 1 = 0 -> 2;  v = 5 -> kb = 2, (5 >> 1) & 1 = 0 -> 2
    codes = log_int_softmax(np.array([[0, -7, -10]]), X0, B_INT, C_INT)
    assert np.array_equal(codes, [[1, 2, 2]])


def test_log_int_softmax_tiny_weight_is_masked():
    # [0, -1000]: e = [279 << 30, 279]; sum = 279 * (2^30 + 1)
    # v0 = round((2^30 + 1) / 2^30) = 1 -> kb = 0 -> code 0
    # v1 = 2^30 + 1 -> kb = 30, bit 29 is 0 -> code 30 >= 16 -> masked (16)
    codes = log_int_softmax(np.array([[0, -1000]]), X0, B_INT, C_INT)
    assert np.array_equal(codes, [[0, LOG_CODE_MASKED]])


def test_log_int_softmax_mask():
    # position 1 masked: e = [279 << 30, 0, 207 << 29]; sum = 765 * 2^29
    # v0 = 765/558 = 1.37 -> 1 -> code 0; v2 = 765/207 = 3.70 -> 4 -> code 2
    codes = log_int_softmax(np.array([[0, -7, -10]]), X0, B_INT, C_INT, mask=np.array([[True, False, True]]))
    assert np.array_equal(codes, [[0, 16, 2]])


def test_log_attn_v_known_answers():
    # weights 1 << (15 - code), 0 for code 16:
    # row 0 codes [1, 2, 2] -> [16384, 8192, 8192]
    #   col 0: 16384*1 + 8192*3 + 8192*(-5) = 16384 + 24576 - 40960 = 0
    #   col 1: 16384*(-2) + 8192*4 + 8192*6 = -32768 + 32768 + 49152 = 49152
    # row 1 codes [0, 16, 2] -> [32768, 0, 8192]
    #   col 0: 32768 - 40960 = -8192;  col 1: -65536 + 49152 = -16384
    codes = np.array([[1, 2, 2], [0, 16, 2]])
    v = np.array([[1, -2], [3, 4], [-5, 6]])
    assert np.array_equal(log_attn_v(codes, v), [[0, 49152], [-8192, -16384]])


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        # hand-picked constants b_int = -5004, c_int = -27700300, one = -1691
        # 0: sign(0) = 0 -> u = 0 -> y = 0
        (0, 0),
        # 5004: t = 5004, (5004 - 5004)^2 + c = -27700300 -> >> 14 = floor(-1690.69) = -1691
        #       y = 5004 * (-1691 - 1691) = -16923528
        (5004, -16923528),
        # -5004: u = -1 * -27700300 = 27700300 >> 14 = 1690 -> y = -5004 * (1690 - 1691) = 5004
        (-5004, 5004),
        # 1000: (1000 - 5004)^2 = 16032016; + c = -11668284 -> >> 14 = floor(-712.2) = -713
        #       y = 1000 * (-713 - 1691) = -2404000
        (1000, -2404000),
        # 8000: t = min(8000, 5004) = 5004 -> as 5004: y = 8000 * -3382 = -27056000
        (8000, -27056000),
    ],
)
def test_ibert_gelu_known_answers(x, expected):
    assert np.array_equal(ibert_gelu(np.array([x]), -5004, -27700300, -1691), [expected])


def test_ibert_gelu_params_at_5e_4():
    # S_e = 5e-4 / 1.4142 = 3.535568e-4
    # b_int = floor(-1.769 / S_e) = floor(-5003.44) = -5004
    # c_int = floor((1 / -0.2888) / S_e^2) = floor(-27700299.72) = -27700300
    # S_u = S_e^2 * -0.2888 * 2^14; one = floor(1 / S_u) = floor(-1690.69) = -1691
    p = ibert_gelu_params(5e-4)
    assert (p["b_int"], p["c_int"], p["one"]) == (-5004, -27700300, -1691)
    # out scale S * S_u / 2 = 5e-4 * (1 / -1690.69...) / 2 ~= -1.4787e-7
    assert p["out_scale"] == pytest.approx(5e-4 / -1690.6921217646293 / 2, rel=1e-12)


def test_ibert_layernorm_known_answers():
    # [-100, 100]: v = 20000, k = floor(sqrt(20000)) = 141, f = 2^31 // 141 = 15230380
    # z = (-100 * 15230380) >> 1 = -761519000
    assert np.array_equal(ibert_layernorm(np.array([[-100, 100]]), np.array([0, 1])), [[-761519000, 761519001]])
    # v = 0 -> k = 1 -> f = 2^31; y = 0 -> bias only
    assert np.array_equal(ibert_layernorm(np.array([[4, 4]]), np.array([3, -3])), [[3, -3]])
    # [1, 2]: mean 2 (tie to even), y = [-1, 0], v = 1, k = 1, f = 2^31
    # z = (-2^31) >> 1 = -2^30
    assert np.array_equal(ibert_layernorm(np.array([[1, 2]]), np.array([0, 0])), [[-(2**30), 0]])


def test_l1_layernorm_known_answers():
    # [-100, 100]: a = 200, f = (2^31 - 1) // 200 = 10737418
    # z = (-100 * 10737418) >> 1 = -536870900
    assert np.array_equal(l1_layernorm(np.array([[-100, 100]]), np.array([0, 0])), [[-536870900, 536870900]])
    # [1, 2, 6]: sum 9, mean 3, y = [-2, -1, 3], a = 6, f = (2^31-1) // 6 = 357913941
    # z = [(-715827882) >> 1, (-357913941) >> 1, 1073741823 >> 1]
    #   = [-357913941, floor(-178956970.5) = -178956971, 536870911]
    out = l1_layernorm(np.array([[1, 2, 6]]), np.array([0, 0, 0]))
    assert np.array_equal(out, [[-357913941, -178956971, 536870911]])
    # zero spread: a = 0 -> at least 1; y = 0 -> bias only
    assert np.array_equal(l1_layernorm(np.array([[2, 2]]), np.array([7, 8])), [[7, 8]])


def test_l1_layernorm_params_by_hand():
    # C = 2: unit = 2 * sqrt(2/pi) / 2^30; gamma = 1, beta = 0 -> bias 0
    s_out, bias = l1_layernorm_params(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    unit = 2 * (2 / np.pi) ** 0.5 / 2**30
    assert np.allclose(s_out, [unit, 2 * unit], rtol=1e-15, atol=0)
    assert np.array_equal(bias, [0, 0])

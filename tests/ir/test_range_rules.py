"""Range rules on small cases worked out by hand (the arithmetic is in the comments).

Every expected interval here was computed on paper from the rule's reasoning
and, where it is claimed to be attained, by running the kernel on the row
that attains it. Notation: M = 2^31 - 1, rhe = round half to even.
"""

from __future__ import annotations

import numpy as np
import pytest

from ivit_hw import ops
from ivit_hw.ir import Interval, IRError, get_op
from ivit_hw.ir.registry import RangeInputs

M = 2**31 - 1
I = Interval  # noqa: E741


def rule(op: str, intervals: dict, shapes: dict, attrs: dict | None = None, consts: dict | None = None) -> dict:
    """Call op's registered range rule with defaults filled in, as infer_ranges does."""
    opdef = get_op(op)
    full = opdef.check_attrs(attrs or {}, f"test {op}")
    ri = RangeInputs("node", intervals, {k: np.asarray(v) for k, v in (consts or {}).items()},
                     {k: tuple(v) for k, v in shapes.items()}, full)
    res = opdef.ranges(ri)
    assert set(res) == {"out", *opdef.internals}
    return res


# ------------------------------------------------------- linear-ish rules --


@pytest.mark.parametrize("rounding,expected", [
    # acc in [-7, 5], m = [3, -3], e = 1, i.e. x1.5 and x-1.5 per channel.
    # ch0: -10.5 -> half_even -10, 7.5 -> 8;  ch1: 10.5 -> 10, -7.5 -> -8: hull [-10, 10]
    ("half_even", I(-10, 10)),
    # floor: ch0 -21>>1 = -11, 15>>1 = 7; ch1 21>>1 = 10, -15>>1 = -8: [-11, 10]
    ("floor", I(-11, 10)),
    # half_up: ch0 (-21+1)>>1 = -10, (15+1)>>1 = 8; ch1 (21+1)>>1 = 11, (-15+1)>>1 = -7: [-10, 11]
    ("half_up", I(-10, 11)),
])
def test_requantize_negative_per_channel_multiplier(rounding, expected):
    res = rule("requantize", {"acc": I(-7, 5)}, {"acc": (4, 2), "m": (2,), "e": (2,)},
               {"out_bits": 16, "rounding": rounding}, {"m": [3, -3], "e": [1, 1]})
    assert res["out"] == expected


def test_requantize_identity_and_clamp():
    # acc in [0, 100] x 1/2^0 -> [0, 100]; identity in [-50, 50] x 1/2^1 -> rhe(-25) .. rhe(25) = [-25, 25];
    # the sum [-25, 125] fits 8 bits; at 7 bits it is clamped to [-25, 63].
    ins = {"acc": I(0, 100), "identity": I(-50, 50)}
    shapes = {"acc": (3,), "identity": (3,), "m": (), "e": (), "m_id": (), "e_id": ()}
    consts = {"m": 1, "e": 0, "m_id": 1, "e_id": 1}
    assert rule("requantize", ins, shapes, {"out_bits": 8}, consts)["out"] == I(-25, 125)
    assert rule("requantize", ins, shapes, {"out_bits": 7}, consts)["out"] == I(-25, 63)


def test_linear_uses_real_weights():
    # x in [-3, 5]; w = [[1, -2, 0], [4, 4, -1]], b = [10, -10].
    # ch0: max 10 + 1*5 + (-2)(-3) = 21, min 10 + 1*(-3) + (-2)*5 = -3
    # ch1: max -10 + 8*5 + (-1)(-3) = 33, min -10 + 8*(-3) + (-1)*5 = -39   -> hull [-39, 33]
    w = np.array([[1, -2, 0], [4, 4, -1]])
    shapes = {"x": (7, 3), "weight": (2, 3), "bias": (2,)}
    assert rule("linear", {"x": I(-3, 5)}, shapes, consts={"weight": w, "bias": [10, -10]})["out"] == I(-39, 33)
    # without bias: ch0 [-13, 11], ch1 [-29, 43] -> [-29, 43] (a naive K*max|x|*max|w| would give [-60, 60])
    shapes.pop("bias")
    assert rule("linear", {"x": I(-3, 5)}, shapes, consts={"weight": w})["out"] == I(-29, 43)


def test_patch_embed_uses_real_weights():
    # uint8 pixels [0, 255]; o0 weights {1, -1, 2, 0}: sum+ = 3, sum- = -1 -> [-255, 765];
    # o1 weights {-3, 0, 0, 1}: [-765, 255]. Hull [-765, 765].
    w = np.array([[[[1, -1], [2, 0]]], [[[-3, 0], [0, 1]]]])
    res = rule("patch_embed", {"x": I(0, 255)}, {"x": (1, 4, 4), "weight": w.shape}, {"patch": 2}, {"weight": w})
    assert res["out"] == I(-765, 765)


def test_matmul_add_concat_reduce_argmax_passthrough():
    # int8 x int8: corner products 16384, -16256, -16256, 16129; K = 64: [-1040384, 1048576]
    i8 = I(-128, 127)
    assert rule("matmul", {"a": i8, "b": i8}, {"a": (4, 64), "b": (64, 8)})["out"] == I(-1040384, 1048576)
    assert rule("add", {"a": I(-3, 4), "b": I(10, 20)}, {"a": (2,), "b": (2,)})["out"] == I(7, 24)
    assert rule("concat", {"a": I(-3, 4), "b": I(10, 20)}, {"a": (1, 2), "b": (3, 2)}, {"axis": 0})["out"] == I(-3, 20)
    # sum of 7 (last axis) or 5 (axis 0) values in [-2, 3]
    assert rule("reduce_sum", {"x": I(-2, 3)}, {"x": (5, 7)}, {"axis": -1})["out"] == I(-14, 21)
    assert rule("reduce_sum", {"x": I(-2, 3)}, {"x": (5, 7)}, {"axis": 0})["out"] == I(-10, 15)
    assert rule("argmax", {"x": i8}, {"x": (10,)})["out"] == I(0, 9)
    assert rule("reshape", {"x": I(-5, 6)}, {"x": (2, 3)}, {"shape": [6]})["out"] == I(-5, 6)


def test_log_attn_v_reads_the_code_interval():
    shapes = {"code": (3, 4), "v": (4, 2)}
    v = I(-128, 127)
    # codes 0..16: weight 0..2^15, term [-128*2^15, 127*2^15], N = 4: [-16777216, 16646144]
    assert rule("log_attn_v", {"code": I(0, 16), "v": v}, shapes)["out"] == I(-16777216, 16646144)
    # codes 3..10: weight 2^5..2^12, term [-128*4096, 127*4096] = [-524288, 520192], x4
    assert rule("log_attn_v", {"code": I(3, 10), "v": v}, shapes)["out"] == I(-2097152, 2080768)
    # only the masked code: every weight is 0
    assert rule("log_attn_v", {"code": I(16, 16), "v": v}, shapes)["out"] == I(0, 0)
    # a negative code shifts by more than 15: code -1 gives 2^16 (the old rule assumed 0..16)
    assert rule("log_attn_v", {"code": I(-1, 16), "v": I(0, 1)}, shapes)["out"] == I(0, 4 * 2**16)
    with pytest.raises(IRError, match="node: code range"):
        rule("log_attn_v", {"code": I(-100, 16), "v": v}, shapes)


# --------------------------------------------------------------- Shiftmax --


def test_shiftmax_hand_worked():
    # x0 = -10, n = 15, rows of 4 in [-20, 10]: d in [-30, 0].
    # p(-30) = -30 + (-15) - (-2) = -43 (above n*x0 = -150); p(0) = 0.
    # q: 0 // -10 = 0, -43 // -10 = 4; r spans blocks: [x0+1, 0] = [-9, 0]; t = r + 20: [11, 20];
    # s = 14 - q: [10, 14]. e(-30): r = -43 + 40 = -3, t = 17, 17 << 10 = 17408; e(0) = 20 << 14 = 327680.
    # sum: [327680 + 3*17408, 4*327680] = [379904, 1310720];
    # f = M // sum: [1638, 5652]   (1310720*1638 = 2146959360; 379904*5652 = 2147217408)
    # prod: lo 17408*1638 = 28514304; hi min(327680*5652 = 1852047360, M*327680//379904 ~ 1.8523e9)
    # out = prod >> 16: [435, 28260]
    res = rule("shiftmax", {"x": I(-20, 10)}, {"x": (4,)}, {"x0": -10})
    assert res["d"] == I(-30, 0) and res["p"] == I(-43, 0) and res["q"] == I(0, 4)
    assert res["r"] == I(-9, 0) and res["t"] == I(11, 20) and res["s"] == I(10, 14)
    assert res["e"] == I(17408, 327680) and res["sum"] == I(379904, 1310720) and res["f"] == I(1638, 5652)
    assert res["prod"] == I(28514304, 1852047360) and res["out"] == I(435, 28260)
    # the naive product e_max * f_max is what bounds prod here; check it is attained: row [10, -20, -20, -20]
    tr: dict = {}
    y = ops.shiftmax(np.array([[10, -20, -20, -20]]), -10, trace=tr)
    assert int(tr["prod"].max()) == 1852047360 and int(y.max()) == 28260


def test_shiftmax_single_element_rows():
    # C = 1: d = 0, e = 327680, f = M // 327680 = 6553, prod = 2147287040, out = prod >> 16 = 32765
    res = rule("shiftmax", {"x": I(-20, 10)}, {"x": (1,)}, {"x0": -10})
    assert res["d"] == I(0, 0) and res["sum"] == I(327680, 327680) and res["f"] == I(6553, 6553)
    assert res["prod"] == I(2147287040, 2147287040) and res["out"] == I(32765, 32765)


def test_shiftmax_masked():
    # rows [keep all 4] and [keep only the first]: k_min = 1, k_max = 4, masked positions give e = 0.
    # sum: [e0 = 327680, 1310720]; f: [1638, M // 327680 = 6553]; prod hi: row of one kept element,
    # e*f = 327680*6553 = 2147287040 (<= M*e0/(e0 + 0)); out hi 32765.
    mask = np.array([[1, 1, 1, 1], [1, 0, 0, 0]])
    res = rule("shiftmax", {"x": I(-20, 10)}, {"x": (2, 4), "mask": (2, 4)}, {"x0": -10}, {"mask": mask})
    assert res["e"] == I(0, 327680) and res["sum"] == I(327680, 1310720) and res["f"] == I(1638, 6553)
    assert res["prod"] == I(0, 2147287040) and res["out"] == I(0, 32765)
    # a row with nothing kept sums to 0, taken as 1: f up to M, and e*f <= M (e <= its own sum)
    mask[1, 0] = 0
    res = rule("shiftmax", {"x": I(-20, 10)}, {"x": (2, 4), "mask": (2, 4)}, {"x0": -10}, {"mask": mask})
    assert res["sum"] == I(1, 1310720) and res["f"] == I(1638, M) and res["prod"] == I(0, M)
    with pytest.raises(IRError, match="node: mask shape"):
        rule("shiftmax", {"x": I(-20, 10)}, {"x": (2, 4), "mask": (3,)}, {"x0": -10}, {"mask": [1, 0, 1]})


def test_shiftmax_clamped_sum():
    # x0 = -1000, rows of 100 in [-5, 0]: e0 = 1000*2^15 = 32768000 and 100*e0 > M, so the sum can clamp.
    # p(-5) = -5 - 3 + 1 = -7, q = 0, r in [-7, 0], t = r + 2000 in [1993, 2000], s = 14;
    # e in [1993 << 14, 2000 << 14] = [32653312, 32768000]. Even the smallest sum
    # 32768000 + 99*32653312 = 3265445888 > M, so sum = M, f = 1, prod = e, out = e >> 16 = [498, 500].
    res = rule("shiftmax", {"x": I(-5, 0)}, {"x": (100,)}, {"x0": -1000})
    assert res["e"] == I(32653312, 32768000) and res["sum"] == I(M, M) and res["f"] == I(1, 1)
    assert res["prod"] == I(32653312, 32768000) and res["out"] == I(498, 500)


def test_shiftmax_bad_x0_names_node():
    with pytest.raises(IRError, match="node: attribute 'x0' must be negative"):
        rule("shiftmax", {"x": I(-5, 0)}, {"x": (4,)}, {"x0": 3})


# -------------------------------------------------------------- ShiftGELU --


def test_shiftgelu_hand_worked():
    # x0 = -4, n = 6, coef "scale" (z = x), rows of 2 in [-3, 2]: z, m in [-3, 2], z - m in [-5, 0].
    # e = ShiftExp(z - m): p(-5) = -5 - 3 + 1 = -7, q = -7 // -4 = 1, r = -3, t = 5, s = 4: e = 80;
    #   p(0) = 0: t = 8, s = 5: e0 = 256.   p in [-7, 0], q [0, 1], r [-3, 0], s [4, 5].
    # em = ShiftExp(-m), -m in [-2, 3]: p(-2) = -2 - 1 + 1 = -2, q 0, r -2, t 6, s 5: 192;
    #   p(3) = 3 + 1 - 0 = 4, q = 4 // -4 = -1, r = 0, t = 8, s = 6: 512.  p in [-2, 4], q [-1, 0], s [5, 6].
    # hulls of both calls: p [-7, 4], q [-1, 1], r [-3, 0], t [5, 8], s [4, 6].
    # sum = e + em in [80 + 192, 256 + 512] = [272, 768]; f = M // sum: [2796202, 7895160].
    # prod: lo 80*2796202 = 223696160; hi M*e0/(e0 + em_min) = M*256 // 448 = 1227133512
    #   (< 256*7895160 = 2021160960, the plain product).
    # g = prod >> 24: [13, 73]; out = x*g: corners of [-3, 2] x [13, 73] -> [-219, 146].
    res = rule("shiftgelu", {"x": I(-3, 2)}, {"x": (2,)}, {"x0": -4, "n": 6})
    assert res["z"] == I(-3, 2) and res["m"] == I(-3, 2)
    assert res["p"] == I(-7, 4) and res["q"] == I(-1, 1) and res["r"] == I(-3, 0)
    assert res["t"] == I(5, 8) and res["s"] == I(4, 6)
    assert res["e"] == I(80, 256) and res["em"] == I(192, 512)
    assert res["sum"] == I(272, 768) and res["f"] == I(2796202, 7895160)
    assert res["prod"] == I(223696160, 1227133512) and res["g"] == I(13, 73) and res["out"] == I(-219, 146)
    # prod's upper end is attained by the row [2, 2]: e = 256, em = 192, f = M // 448 = 4793490
    tr: dict = {}
    ops.shiftgelu(np.array([[2, 2]]), -4, n=6, trace=tr)
    assert int(tr["prod"].max()) == 256 * 4793490 == 1227133440  # within 72 of the bound (the floor of f)


def test_shiftgelu_shift_coef_and_saturation():
    # coef "shift": z = x + (x>>1) + (x>>3) + (x>>4): z(-128) = -128 - 64 - 16 - 8 = -216, z(127) = 127+63+15+7 = 212
    # x0 = -1000, n = 23: at m = -216, -m = 216 gives p = 216 + 108 - 14 = 310 (q = -1, s = 23),
    # em = (310 + 1000 + 2000) << 23 = 3310 << 23 > M: saturated to M, so some sums clamp to M, f = 1 and
    # prod = e <= e0 = 1000 << 23 = 8388608000: g up to 8388608000 >> 24 = 500 (> 127).
    res = rule("shiftgelu", {"x": I(-128, 127)}, {"x": (8,)}, {"x0": -1000, "coef": "shift"})
    assert res["z"] == I(-216, 212) and res["em"].hi == M
    assert res["sum"].hi == M and res["f"].lo == 1
    assert res["e"].hi == 8388608000 and res["prod"].hi == 8388608000 and res["g"].hi == 500


# ------------------------------------------------------------- LayerNorms --


BIAS = np.array([5, -5, 0, 3])


def test_ilayernorm_iter_hand_worked():
    # rows of 4 in [-10, 10]. y_max = 10 - rhe((10 - 30)/4) = 10 + 5 = 15, y_min = -15.
    # v <= floor(floor(16/4)*20^2/4 + 4/4) = 401 (the half/half row gives 400).
    # k: at least k0 >> 10 = 64. Upper: U_{i+1} = ceil((U_i^2 + 401)/(2 U_i)) from 65536:
    #   32769, 16385, 8193, 4097, 2049, 1025, 513, 257, 130, 67  -> k in [64, 67]
    #   (the real iteration gives 65 at v = 401: ..., 256, 128, (128 + 3)//2 = 65).
    # f = M // k: [M // 67, M // 64] = [32051994, 33554431].
    # |y*f|: isqrt(v) <= 20 < 64, so the small-v plateau: U(20) = min(20, max|y| = 15, ...) = 15,
    #   times M // 64: 503316465 (same as the plain product here).  z = yf >> 1: [-251658233, 251658232]
    # out = z + bias in [-5, 5]: [-251658238, 251658237]
    res = rule("ilayernorm", {"x": I(-10, 10)}, {"x": (4,), "bias_int": (4,)}, {}, {"bias_int": BIAS})
    assert res["y"] == I(-15, 15) and res["v"] == I(0, 401) and res["k"] == I(64, 67)
    assert res["f"] == I(32051994, 33554431) and res["z"] == I(-251658233, 251658232)
    assert res["out"] == I(-251658238, 251658237)
    trace: dict = {}
    ops.ilayernorm(np.array([[10, 10, -10, -10]]), BIAS, trace=trace)
    assert int(trace["v"].max()) == 400 and int(trace["k"].max()) == 65


def test_ilayernorm_exact_relational_bound():
    # rows of 4 in [-1000, 1000]: y in [-1500, 1500], v <= (4*4e6 + 16)//16 = 4000001, exact k in [1, 2000],
    # f in [M // 2000 = 1073741, M]. The plain product y*f reaches 1500*M; but |y_i| <= isqrt(v) <= k gives
    # |y*f| <= k*(M // k) <= M, so z = [(-M) >> 1, M >> 1] = [-2^30, 2^30 - 1]; out adds the bias [-5, 5].
    res = rule("ilayernorm", {"x": I(-1000, 1000)}, {"x": (4,), "bias_int": (4,)}, {"sqrt": "exact"},
               {"bias_int": BIAS})
    assert res["y"] == I(-1500, 1500) and res["v"] == I(0, 4000001) and res["k"] == I(1, 2000)
    assert res["f"] == I(1073741, M) and res["z"] == I(-(2**30), 2**30 - 1)
    assert res["out"] == I(-(2**30) - 5, 2**30 - 1 + 5)


def test_ilayernorm_zero_iterations_and_bad_k0():
    # iters = 0 leaves k = k0: no relation between y and k, only the plain product.
    # x in [-10, 10]: y in [-15, 15], f = M // 256 = 8388607, y*f in [-125829105, 125829105], z = >> 1.
    res = rule("ilayernorm", {"x": I(-10, 10)}, {"x": (4,), "bias_int": (4,)}, {"iters": 0, "k0": 256},
               {"bias_int": np.zeros(4, dtype=np.int64)})
    assert res["k"] == I(256, 256) and res["f"] == I(8388607, 8388607) and res["z"] == I(-62914553, 62914552)
    with pytest.raises(IRError, match="node: isqrt_iter needs k0 >> iters >= 1"):
        rule("ilayernorm", {"x": I(-10, 10)}, {"x": (4,), "bias_int": (4,)}, {"iters": 10, "k0": 512},
             {"bias_int": BIAS})


def test_ibert_layernorm_reaches_2_pow_31():
    # rows of 2 in [-1, 1]: y in [-1, 1] (row (1, 0) has mean rhe(1/2) = 0), v <= (4*1*4 + 4)//8 = 2,
    # k = max(isqrt(v), 1) = 1, f = 2^31 // 1 = 2^31, |y*f| <= k*f = 2^31: z in [-2^30, 2^30], 32 bits.
    res = rule("ibert_layernorm", {"x": I(-1, 1)}, {"x": (2,), "bias_int": (2,)}, {}, {"bias_int": [0, 0]})
    assert res["y"] == I(-1, 1) and res["v"] == I(0, 2) and res["k"] == I(1, 1)
    assert res["f"] == I(2**31, 2**31) and res["z"] == I(-(2**30), 2**30)
    tr: dict = {}
    ops.ibert_layernorm(np.array([[1, 0]]), np.zeros(2, dtype=np.int64), trace=tr)
    assert int(tr["z"].max()) == 2**30


def test_l1_layernorm_hand_worked():
    # rows of 2 in [-128, 127]: y_max = 127 - rhe(-0.5) = 127, y_min = -128 - rhe(-0.5) = -128.
    # a = |x1 - x2| for two values (the rounded mean lies between them): at most 255; the rule's bound
    #   max over k = |p - q| in {0, 2} of (255*(4 - k^2) + 2k)//4 = 255.
    # k = max(a, 1) in [1, 255]; f in [M // 255, M] = [8421504, M]; |y| <= a = k: |y*f| <= M,
    # z in [-2^30, 2^30 - 1]; bias [7, -7]: out in [-2^30 - 7, 2^30 + 6].
    res = rule("l1_layernorm", {"x": I(-128, 127)}, {"x": (2,), "bias_int": (2,)}, {}, {"bias_int": [7, -7]})
    assert res["y"] == I(-128, 127) and res["a"] == I(0, 255) and res["k"] == I(1, 255)
    assert res["f"] == I(8421504, M) and res["z"] == I(-(2**30), 2**30 - 1)
    assert res["out"] == I(-(2**30) - 7, 2**30 + 6)


# -------------------------------------------------------------- baselines --


EXP = {"x0": -4, "b_int": 3, "c_int": 2, "n": 2}


def test_ibert_softmax_hand_worked():
    # x0 = -4, z = (r + 3) r + 2, n = 2, h = 1; rows of 3 in [-6, 0]: d in [-6, 0], p = d (above n*x0 = -8).
    # q: 0 // -4 = 0, -6 // -4 = 1.
    # block q = 0: p in [-3, 0], r = p in [-3, 0]; z: r = -3 -> 2, -2 -> 0, -1 -> 0, 0 -> 2: [0, 2]; e = z << 2: [0, 8]
    # block q = 1: p in [-6, -4], r = p + 4 in [-2, 0]; z [0, 2]; e = z << 1: [0, 4]
    # r [-3, 0], z [0, 2], e [0, 8], e(0) = 2 << 2 = 8.  e16 = e >> 1: [0, 4], e16(0) = 4.
    # sum in [4 + 2*0, 4 + 2*4] = [4, 12]; f = 2^32 // sum: [357913941, 1073741824].
    # prod <= 2^32 * e16/(e16 + 2*0) = 2^32 (row [0, -6, -6]: e16 = 4, 0, 0, f = 2^30, prod = 2^32).
    # out = prod >> 16: [0, 65536].
    res = rule("ibert_softmax", {"x": I(-6, 0)}, {"x": (3,)}, {**EXP, "h": 1})
    assert res["d"] == I(-6, 0) and res["q"] == I(0, 1) and res["r"] == I(-3, 0) and res["z"] == I(0, 2)
    assert res["e"] == I(0, 8) and res["e16"] == I(0, 4) and res["sum"] == I(4, 12)
    assert res["f"] == I(357913941, 1073741824) and res["prod"] == I(0, 2**32) and res["out"] == I(0, 65536)
    y = ops.ibert_softmax(np.array([[0, -6, -6]]), -4, 3, 2, 1, n=2)
    assert int(y.max()) == 65536


def test_log_int_softmax_hand_worked():
    # Same exp as above: e in [0, 8], e(0) = 8; rows of 3, no mask: sum in [8 + 0, 8 + 2*8] = [8, 24].
    # e can be 0 (z = 0), so dead elements exist. A live e is at least 1 << (n - q_max) = 2.
    # live v = rhe(1 + others/e): <= rhe((2 + 2*8)/2) = 9, >= rhe((8 + 2*0)/8) = 1.
    # kb live: [0, 3]; code(1) = 0, code(9 = 0b1001) = 3 + bit 2 (0) = 3.
    # dead: v traced as 0, kb = bit_length(sum) - 1 in [3, 4], code 16.
    # v [0, 9], kb [0, 4], out [0, 16].
    res = rule("log_int_softmax", {"x": I(-6, 0)}, {"x": (3,)}, EXP)
    assert res["e"] == I(0, 8) and res["sum"] == I(8, 24)
    assert res["v"] == I(0, 9) and res["kb"] == I(0, 4) and res["out"] == I(0, 16)


def test_log_int_softmax_masked_row():
    # An all-masked row: sum 0, kb = bit_length(0) - 1 = -1 for its elements.
    mask = np.array([[1, 1, 1], [0, 0, 0]])
    res = rule("log_int_softmax", {"x": I(-6, 0)}, {"x": (2, 3), "mask": (2, 3)}, EXP, {"mask": mask})
    assert res["sum"] == I(0, 24) and res["kb"].lo == -1 and res["v"].lo == 0 and res["out"].hi == 16
    tr: dict = {}
    ops.log_int_softmax(np.array([[[0, -1, -6], [0, 0, 0]]]), **EXP, mask=mask, trace=tr)
    assert int(tr["kb"].min()) == -1


def test_ibert_gelu_hand_worked():
    # b_int = -200, c_int = -50000, one = 10, x in [-300, 300]; t = min(|x|, 200) in [0, 200].
    # Q = (t - 200)^2 - 50000. |x| in [1, 199]: Q in [1 - 50000, 199^2 - 50000] = [-49999, -10399].
    #   x > 0: u = Q >> 14 in [-4, -1];  x < 0: u = (-Q) >> 14 in [0, 3].
    #   |x| >= 200: Q = -50000: u = -4 (x > 0) or 50000 >> 14 = 3 (x < 0).   u in [-4, 3].
    # y = x (u + 10), evaluated piece by piece:
    #   x in [1, 199]: u = -1 up to x = 16 ((200-x)^2 >= 33616), -2 to 68, -3 to 170, -4 after:
    #     y = 9x, 8x, 7x, 6x: max 6*199 = 1194, min 9;   x in [200, 300]: y = 6x in [1200, 1800].
    #   x in [-199, -1]: u = 0, 1, 2, 3 on |x| in [1,16], [17,68], [69,170], [171,199]:
    #     y = 10x .. 13x: min 13*(-199) = -2587;         x in [-300, -200]: y = 13x in [-3900, -2600].
    # out in [-3900, 1800].
    res = rule("ibert_gelu", {"x": I(-300, 300)}, {"x": (5,)}, {"b_int": -200, "c_int": -50000, "one": 10})
    assert res["t"] == I(0, 200) and res["u"] == I(-4, 3) and res["out"] == I(-3900, 1800)
    # only the middle: x in [-199, 199] -> [-2587, 1194]
    res = rule("ibert_gelu", {"x": I(-199, 199)}, {"x": (5,)}, {"b_int": -200, "c_int": -50000, "one": 10})
    assert res["out"] == I(-2587, 1194)
    y = ops.ibert_gelu(np.arange(-199, 200), -200, -50000, 10)
    assert (int(y.min()), int(y.max())) == (-2587, 1194)


# ----------------------------------------------- soundness on odd parameters --


def _rows(rng: np.random.Generator, lo: int, hi: int, c: int) -> np.ndarray:
    """Random and adversarial rows of c values in [lo, hi]."""
    rows = [np.full((1, c), lo), np.full((1, c), hi), rng.integers(lo, hi + 1, (150, c)),
            rng.choice([lo, hi], (150, c))]
    for v, w in ((lo, hi), (hi, lo)):
        row = np.full(c, w)
        row[0] = v
        rows.append(row[None])
    return np.concatenate(rows)


def _kernels(rng: np.random.Generator, c: int):
    """(op, attrs, consts, kernel(x, trace)) with random, not necessarily realistic, parameters."""
    x0, n, ob = -int(rng.integers(1, 60)), int(rng.integers(0, 24)), int(rng.integers(1, 33))
    exp = {"x0": -int(rng.integers(1, 30)), "b_int": int(rng.integers(-20, 60)), "c_int": int(rng.integers(-50, 400)),
           "n": int(rng.integers(0, 12))}
    h = int(rng.integers(0, 8))
    gelu = {"b_int": -int(rng.integers(-5, 200)), "c_int": int(rng.integers(-60000, 60000)),
            "one": int(rng.integers(-100, 100))}
    bias = rng.integers(-1000, 1000, c)
    iters = int(rng.integers(1, 12))
    k0 = int(rng.integers(1 << iters, 1 << 17))
    coef = ("scale", "shift")[int(rng.integers(0, 2))]
    return [
        ("shiftmax", {"x0": x0, "n": n, "out_bits": ob}, {}, lambda x, t: ops.shiftmax(x, x0, n, ob, trace=t)),
        ("shiftgelu", {"x0": x0, "n": n, "coef": coef}, {}, lambda x, t: ops.shiftgelu(x, x0, n, coef, trace=t)),
        ("ibert_softmax", {**exp, "h": h, "out_bits": ob}, {},
         lambda x, t: ops.ibert_softmax(x, exp["x0"], exp["b_int"], exp["c_int"], h, exp["n"], ob, t)),
        ("log_int_softmax", exp, {}, lambda x, t: ops.log_int_softmax(x, **exp, trace=t)),
        ("ibert_gelu", gelu, {}, lambda x, t: ops.ibert_gelu(x, **gelu, trace=t)),
        ("ilayernorm", {"iters": iters, "k0": k0}, {"bias_int": bias},
         lambda x, t: ops.ilayernorm(x, bias, iters, k0, trace=t)),
        ("ilayernorm", {"sqrt": "exact"}, {"bias_int": bias},
         lambda x, t: ops.ilayernorm(x, bias, sqrt="exact", trace=t)),
        ("ibert_layernorm", {}, {"bias_int": bias}, lambda x, t: ops.ibert_layernorm(x, bias, t)),
        ("l1_layernorm", {}, {"bias_int": bias}, lambda x, t: ops.l1_layernorm(x, bias, t)),
    ]


@pytest.mark.parametrize("seed", range(40))
def test_rules_sound_on_random_parameters(seed):
    """Random intervals, row lengths and op parameters; every traced value must lie inside its interval."""
    rng = np.random.default_rng(seed)
    lo = int(rng.integers(-300, 50))
    hi = int(rng.integers(lo, lo + 400))
    c = int(rng.choice([1, 2, 3, 5, 17]))
    x = _rows(rng, lo, hi, c)
    for op, attrs, consts, kernel in _kernels(rng, c):
        shapes = {"x": (c,), **{k: np.shape(v) for k, v in consts.items()}}
        res = rule(op, {"x": I(lo, hi)}, shapes, attrs, consts)
        trace: dict = {}
        trace["out"] = kernel(x, trace)
        if op == "shiftgelu":  # the rule's p..s also cover ShiftExp(-m)
            side: dict = {}
            ops.shift_exp(-trace["m"], attrs["x0"], attrs["n"], saturate=M, trace=side)
            for k in "pqrts":
                trace[k] = np.concatenate([trace[k].ravel(), side[k].ravel()])
        for key, iv in res.items():
            seen = I(int(np.min(trace[key])), int(np.max(trace[key])))
            assert iv.lo <= seen.lo and seen.hi <= iv.hi, f"{op} {attrs} [{lo}, {hi}] C={c}: {key} {seen} not in {iv}"

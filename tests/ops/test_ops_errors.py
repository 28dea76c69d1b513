"""Invalid inputs raise one clear error instead of a silently wrong integer."""

import numpy as np
import pytest

import ivit_hw.ops as ops
from ivit_hw.ops import params

X8 = np.array([[1, -2, 3]], dtype=np.int64)


# ---------------------------------------------- floats are not integers --

FLOAT_CALLS = {
    "requantize": lambda x: ops.requantize(x, 2**30, 31, 8),
    "shift_exp": lambda x: ops.shift_exp(x, -10, 15),
    "shiftmax": lambda x: ops.shiftmax(x, -10),
    "shiftgelu": lambda x: ops.shiftgelu(x, -10),
    "ilayernorm": lambda x: ops.ilayernorm(x, np.zeros(3, dtype=np.int64)),
    "isqrt_iter": lambda x: ops.isqrt_iter(x),
    "ibert_softmax": lambda x: ops.ibert_softmax(x, -7, 27, 279, 23),
    "ibert_gelu": lambda x: ops.ibert_gelu(x, -5004, -27700300, -1691),
    "ibert_layernorm": lambda x: ops.ibert_layernorm(x, np.zeros(3, dtype=np.int64)),
    "l1_layernorm": lambda x: ops.l1_layernorm(x, np.zeros(3, dtype=np.int64)),
    "log_int_softmax": lambda x: ops.log_int_softmax(x, -7, 27, 279),
    "linear": lambda x: ops.linear(x, np.ones((2, 3), dtype=np.int64)),
    "int_matmul": lambda x: ops.int_matmul(x, np.ones((3, 2), dtype=np.int64)),
}


@pytest.mark.parametrize("name", sorted(FLOAT_CALLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_inputs_are_refused(name, dtype):
    with pytest.raises(TypeError, match="integer"):
        FLOAT_CALLS[name](X8.astype(dtype))


def test_float_weights_and_biases_are_refused():
    with pytest.raises(TypeError, match="weight"):
        ops.linear(X8, np.ones((2, 3)))
    with pytest.raises(TypeError, match="bias"):
        ops.linear(X8, np.ones((2, 3), dtype=np.int64), np.ones(2))
    with pytest.raises(TypeError, match="bias_int"):
        ops.ilayernorm(X8, np.zeros(3))


def test_object_arrays_of_floats_are_refused():
    # an object array may carry wide Python ints, but never floats: int(1.7)
    # would silently truncate
    with pytest.raises(TypeError, match="non-integer"):
        ops.requantize(np.array([1.7, 2.0], dtype=object), 2**30, 31, 8)


def test_object_arrays_of_python_ints_are_accepted():
    y = ops.requantize(np.array([3, -3], dtype=object), 2**30, 31, 8)
    # 3 * 0.5 = 1.5 -> 2; -1.5 -> -2 (half to even)
    assert np.array_equal(y, [2, -2])


def test_uint64_beyond_int64_is_refused():
    with pytest.raises(OverflowError, match="int64"):
        ops.requantize(np.array([2**63], dtype=np.uint64), 2**30, 31, 64)


def test_int64_minimum_is_not_wrapped_by_abs():
    # |-2^63| does not fit int64; the product with m must take the wide path
    # -2^63 * 2^30 / 2^31 = -2^62 exactly
    y = ops.requantize(np.array([-(2**63)], dtype=np.int64), 2**30, 31, 64)
    assert np.array_equal(y, [-(2**62)])


# ----------------------------------------------------------- bad options --


@pytest.mark.parametrize("mode", ["nearest", "HALF_EVEN", "", "round"])
def test_unknown_rounding_mode_is_named(mode):
    with pytest.raises(ValueError, match="unknown rounding mode"):
        ops.requantize(X8, 2**30, 31, 8, rounding=mode)
    with pytest.raises(ValueError, match=repr(mode)):
        ops.round_shift(X8, 1, mode)


def test_bad_requantize_arguments():
    with pytest.raises(ValueError, match="out_bits"):
        ops.requantize(X8, 2**30, 31, 1)
    with pytest.raises(ValueError, match="out_bits"):
        ops.requantize(X8, 2**30, 31, 65)
    with pytest.raises(ValueError, match="m_id and e_id"):
        ops.requantize(X8, 2**30, 31, 8, identity=X8)
    with pytest.raises(ValueError, match="shift must lie"):
        ops.requantize(X8, 2**30, 63, 8)
    with pytest.raises(ValueError, match="shift must lie"):
        ops.requantize(X8, 2**30, -1, 8)


def test_bad_kernel_options():
    with pytest.raises(ValueError, match="coef"):
        ops.shiftgelu(X8, -10, coef="tanh")
    with pytest.raises(ValueError, match="sqrt"):
        ops.ilayernorm(X8, np.zeros(3, dtype=np.int64), sqrt="newton")
    with pytest.raises(ValueError, match="out_bits"):
        ops.shiftmax(X8, -10, out_bits=33)
    with pytest.raises(ValueError, match="x0 must be negative"):
        ops.shift_exp(X8, 0, 15)
    with pytest.raises(ValueError, match="x0 must be negative"):
        ops.ibert_exp(X8, 3, 27, 279)
    with pytest.raises(ValueError, match="coef"):
        params.gelu_x0(0.1, coef="tanh")


def test_isqrt_iter_final_k_must_stay_positive():
    with pytest.raises(ValueError, match="k0 >> iters"):
        ops.isqrt_iter(np.array([5]), iters=11, k0=1024)  # 1024 >> 11 = 0
    with pytest.raises(ValueError, match="k0 >> iters"):
        ops.ilayernorm(X8, np.zeros(3, dtype=np.int64), iters=17)  # 65536 >> 17 = 0
    with pytest.raises(ValueError, match="k0 >> iters"):
        ops.isqrt_iter(np.array([5]), iters=-1)


# -------------------------------------------------------------- overflow --


def test_shift_exp_overflow_without_saturate():
    # 1000 with x0 = -10: shift by 158 bits (see test_ops_shiftmax)
    with pytest.raises(OverflowError, match="saturate"):
        ops.shift_exp(np.array([0, 1000]), -10, 15)


def test_ibert_exp_overflow_is_an_error():
    # S = 1e-5: c_int = floor(2.79 / 1e-10) ~ 2.8e10 (35 bits); << 30 needs 65 bits
    p = params.ibert_exp_params(1e-5)
    with pytest.raises(OverflowError, match="ibert_exp"):
        ops.ibert_exp(np.array([[0, -1]]), p["x0"], p["b_int"], p["c_int"])
    with pytest.raises(OverflowError, match="ibert_exp"):
        ops.ibert_softmax(np.array([[0, -1]]), p["x0"], p["b_int"], p["c_int"], p["h"])


# ------------------------------------------------- compile-time checking --


def test_gamma_zero_names_the_channel():
    gamma = np.array([1.0, 0.5, 0.0, 2.0])
    beta = np.zeros(4)
    with pytest.raises(ValueError, match="channel 2"):
        params.layernorm_params(gamma, beta)
    with pytest.raises(ValueError, match="channel 2"):
        params.l1_layernorm_params(gamma, beta)


def test_non_finite_gamma_or_beta():
    with pytest.raises(ValueError, match="gamma must be finite"):
        params.layernorm_params(np.array([1.0, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match="beta"):
        params.layernorm_params(np.array([1.0, 1.0]), np.array([0.0, np.inf]))


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), float("-inf"), 0.0, -0.1])
def test_bad_scales_are_refused(scale):
    for fn in (params.exp_x0, params.gelu_x0, params.ibert_exp_params, params.ibert_gelu_params):
        with pytest.raises(ValueError, match="scale"):
            fn(scale)
    with pytest.raises(ValueError):
        params.quantize(np.array([1.0]), scale, 8)


@pytest.mark.parametrize("ratio", [float("nan"), float("inf")])
def test_dyadic_refuses_non_finite(ratio):
    with pytest.raises(ValueError, match="finite"):
        ops.dyadic(ratio)


def test_dyadic_refuses_ratios_needing_huge_shifts():
    # 2^-40 would need e = 71 > 62, beyond the 64-bit product budget
    with pytest.raises(ValueError, match="too small"):
        ops.dyadic(2.0**-40)


def test_symmetric_scale_refuses_non_finite_ranges():
    with pytest.raises(ValueError, match="finite"):
        params.symmetric_scale(float("nan"), 1.0, 8)

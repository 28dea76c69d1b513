"""Every fused kernel (Triton, under TRITON_INTERPRET=1 on CPU, and its torch twin) equals the
numpy golden ops exactly: random rows and edge rows (all-equal, all-negative, extreme values,
masked, row lengths 1 and 197), every rounding mode, both Shiftmax widths and both GELU forms."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton decorates the kernels

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ivit_hw import ops  # noqa: E402
from ivit_hw.runtime.fused import executor as X  # noqa: E402
from ivit_hw.runtime.fused import torch_kernels as T  # noqa: E402
from ivit_hw.runtime.fused import triton_kernels as K  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
BACKENDS = ("torch", "triton")
ROUNDINGS = ("half_even", "half_up", "floor")


def _t(a, dtype=torch.int64):
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=DEV)


def _np(t):
    return t.to(torch.int64).cpu().numpy()


# ----------------------------------------------------------------------------- GEMM + requantize
def _gemm(backend, x, w, b, m, e, bits, rounding, ident=None, m_id=None, e_id=None, split=False, offset=0):
    xt = _t(x, torch.int16 if offset else torch.int8)
    w8 = _t(w, torch.int8)
    bias = _t(b) + offset * _t(w).sum(dim=1)
    if backend == "triton":
        rows = (xt - offset).to(torch.int8)
        return _np(K.gemm_requant(rows, w8, bias, _t(m), _t(e), bits, rounding,
                                  None if ident is None else _t(ident, torch.int16),
                                  None if m_id is None else _t(m_id), None if e_id is None else _t(e_id), split))
    wp = torch.nn.functional.pad(w8, (0, 0, 0, (-w.shape[0]) % 8))
    return _np(X.gemm_step(xt, wp, bias, _t(m), _t(e), None if ident is None else _t(ident), None if m_id is None
                           else _t(m_id), None if e_id is None else _t(e_id), bits, rounding, split, False,
                           offset, w.shape[0]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_gemm_requant_random_with_residual(backend, rounding):
    rng = np.random.default_rng(1)
    x, w = rng.integers(-128, 128, (37, 40)), rng.integers(-128, 128, (10, 40))
    b = rng.integers(-2**20, 2**20, 10)
    m, e = rng.integers(2**30, 2**31 + 1, 10), rng.integers(18, 40, 10)
    ident, m_id, e_id = rng.integers(-2**15, 2**15, (37, 10)), 1518500250, 31
    ref = ops.requantize(ops.linear(x, w, b), m, e, 16, rounding, ident, m_id, e_id)
    assert np.array_equal(_gemm(backend, x, w, b, m, e, 16, rounding, ident, m_id, e_id), ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gemm_requant_extremes_ties_split_and_uint8(backend):
    """Saturating accumulators, exact ties (m = 2^30, e = 31 halves), the split product, uint8 pixels."""
    x = np.full((20, 64), -128)
    x[1::2] = 127
    w = np.full((16, 64), -128)
    w[:, ::3] = 127
    b = np.zeros(16, dtype=np.int64)
    b[0] = 2**24
    for m, e in ((np.int64(2**30), np.int64(31)), (np.int64(2**31), np.int64(40))):
        ref = ops.requantize(ops.linear(x, w, b), m, e, 8)
        assert np.array_equal(_gemm(backend, x, w, b, m, e, 8, "half_even", split=True), ref)
        assert np.array_equal(_gemm(backend, x, w, b, m, e, 8, "half_even"), ref)
    # K = 2100: -128 * -128 * K is beyond float32's exact range in one piece (chunked on CPU)
    xl, wl = np.full((17, 2100), -128), np.full((8, 2100), -128)
    wl[1, ::2] = 127
    ref = ops.requantize(ops.linear(xl, wl, np.zeros(8, dtype=np.int64)), 2**30 + 1, 45, 16)
    assert np.array_equal(_gemm(backend, xl, wl, np.zeros(8, dtype=np.int64), 2**30 + 1, 45, 16, "half_even"), ref)
    pix = np.random.default_rng(2).integers(0, 256, (20, 64))
    pix[0] = 255
    ref = ops.requantize(ops.linear(pix, w, b), 2**30 + 12345, 36, 16)
    assert np.array_equal(_gemm(backend, pix, w, b, 2**30 + 12345, 36, 16, "half_even", offset=128), ref)


# ----------------------------------------------------------------------------- attention
def _attention_ref(q, k, v, p, mask=None):
    sc = ops.requantize(ops.matmul(q, k, True), p["sm"], p["se"], 8, p["rounding"])
    y = ops.shiftmax(sc, p["x0"], 15, p["out_bits"], mask)
    return ops.requantize(ops.matmul(y, v), p["om"], p["oe"], 8, p["rounding"])


def _attention(backend, q, k, v, p, mask=None, wide=None):
    q8, k8, v8 = (_t(a, torch.int8) for a in (q, k, v))
    if backend == "triton":
        return _np(K.attention(q8, k8, v8, p["sm"], p["se"], 8, p["x0"], 15, p["out_bits"], p["om"], p["oe"], 8,
                               p["rounding"], None if mask is None else _t(mask, torch.bool), wide))
    assert mask is None
    return _np(X.attention_step(q8, k8, v8, _t(p["sm"]), _t(p["se"]), _t(p["x0"]), _t(p["om"]), _t(p["oe"]), 8, 15,
                                p["out_bits"], 8, p["rounding"]))


def _qkv(rng, b, h, length, d, kind):
    q, k, v = (rng.integers(-128, 128, (b, h, length, d)) for _ in range(3))
    if kind == "all_equal":  # every score equal: q = 0
        q[:] = 0
    elif kind == "all_negative":  # every raw score strongly negative
        q[:] = 127
        k[:] = -128
    elif kind == "extreme":  # scores saturate both ways, v at its limits
        q[..., ::2, :] = 127
        k[..., ::2, :] = -128
        k[..., 1::2, :] = 127
        v[..., ::2, :] = -128
        v[..., 1::2, :] = 127
    return q, k, v


PARAMS = {"sm": 1518500250, "se": 30, "x0": -443, "om": 1318500250, "oe": 30, "rounding": "half_even"}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("out_bits", (16, 8))
@pytest.mark.parametrize("kind", ("random", "all_equal", "all_negative", "extreme"))
def test_attention_rows_of_197(backend, out_bits, kind):
    rng = np.random.default_rng(3)
    q, k, v = _qkv(rng, 1, 2, 197, 64, kind)
    p = dict(PARAMS, out_bits=out_bits, se=37 if kind == "random" else 30)
    ref = _attention_ref(q, k, v, p)
    assert np.array_equal(_attention(backend, q, k, v, p), ref)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("length", (1, 16))
def test_attention_short_rows_and_roundings(backend, length):
    rng = np.random.default_rng(4)
    q, k, v = _qkv(rng, 2, 3, length, 16, "random")
    for rounding in ROUNDINGS:
        p = dict(PARAMS, out_bits=16, se=33, oe=27, rounding=rounding)
        assert np.array_equal(_attention(backend, q, k, v, p), _attention_ref(q, k, v, p))


def test_attention_int32_chain_equals_int64_and_golden():
    """The int32 Shiftmax formulation (chosen when 2|x0| * 2^(n-1) < 2^31) equals the int64 one."""
    assert K.shiftmax_fits_int32(-443, 15) and not K.shiftmax_fits_int32(-70000, 15)
    rng = np.random.default_rng(5)
    q, k, v = _qkv(rng, 1, 2, 197, 32, "random")
    for x0 in (-443, -65535):
        p = dict(PARAMS, out_bits=16, x0=x0, se=36)
        ref = _attention_ref(q, k, v, p)
        for wide in (False, True):
            assert np.array_equal(_attention("triton", q, k, v, p, wide=wide), ref)


def test_attention_masked_rows():
    """Masked positions output 0 and take no part; a fully masked row outputs zeros (then requantized)."""
    rng = np.random.default_rng(6)
    q, k, v = _qkv(rng, 2, 2, 40, 16, "random")
    mask = rng.random((1, 1, 40, 40)) < 0.7
    mask[..., 3, :] = False
    mask[..., 5, :] = False
    mask[..., 5, 7] = True
    p = dict(PARAMS, out_bits=16, se=33, oe=24)
    assert np.array_equal(_attention("triton", q, k, v, p, mask=mask), _attention_ref(q, k, v, p, mask))


def test_attention_split_is_exact_for_the_largest_outputs():
    """y near 2^15 (one dominating score): the 16-bit split must still be exact."""
    y = np.array([[[32767, 0, 1, 255, 256, 32640, 128, 127]]])
    v = np.random.default_rng(7).integers(-128, 128, (1, 8, 16))
    v[0, 0] = -128
    assert np.array_equal(T.attn_v_split(_t(y), _t(v)).cpu().numpy(), ops.matmul(y, v))


# ----------------------------------------------------------------------------- I-LayerNorm
def _ln_rows(rng, c):
    x = rng.integers(-2**15, 2**15, (12, c))
    x[0] = 77  # all equal: v = 0, k = 64
    x[1] = -2**15  # all at the minimum
    x[2, ::2], x[2, 1::2] = -2**15, 2**15 - 1  # extreme spread
    x[3] = rng.integers(-3, 0, c)  # small, all negative
    x[4, 0] = 2**15 - 1
    x[4, 1:] = -2**15  # one outlier
    return x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("c", (1, 197))
def test_layernorm_requant(backend, c):
    rng = np.random.default_rng(8)
    x = _ln_rows(rng, c)
    bias = rng.integers(-2**20, 2**20, c)
    m, e = rng.integers(2**30, 2**31, c), rng.integers(36, 44, c)
    for rounding in ROUNDINGS:
        ref = ops.requantize(ops.ilayernorm(x, bias), m, e, 8, rounding)
        for split in (False, True):
            if backend == "triton":
                got = K.layernorm_requant(_t(x, torch.int16), _t(bias), _t(m), _t(e), 8, rounding=rounding,
                                          split=split)
            else:
                got = X.layernorm_step(_t(x, torch.int16), _t(bias), _t(m), _t(e), 10, 65536, 8, rounding, split)
            assert np.array_equal(_np(got), ref), (rounding, split)


# ----------------------------------------------------------------------------- ShiftGELU
def _gelu_rows(rng, c):
    x = rng.integers(-128, 128, (10, c))
    x[0] = 5  # all equal
    x[1] = -128  # all negative, |max| large: em shifts by far more than 64 bits
    x[2] = rng.integers(-128, -100, c)
    x[3, ::2], x[3, 1::2] = -128, 127
    x[4] = 127
    return x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("coef", ("scale", "shift"))
@pytest.mark.parametrize("c", (1, 197))
def test_gelu_requant(backend, coef, c):
    """Includes x0 = -1 (em saturates at the first shift) and the reference x0."""
    rng = np.random.default_rng(9)
    x = _gelu_rows(rng, c)
    for x0, rounding in ((-68, "half_even"), (-1, "half_up"), (-300, "floor")):
        ref = ops.requantize(ops.shiftgelu(x, x0, 23, coef), 1518500250, 38, 8, rounding)
        if backend == "triton":
            got = K.gelu_requant(_t(x, torch.int8), x0, 23, coef, 1518500250, 38, 8, rounding)
            assert np.array_equal(_np(got), ref), (x0, rounding)
        else:
            span = 255 if coef == "scale" else 430  # the proven spread of z for 8-bit x (the plan's table size)
            for sp in (0, span):
                got = X.gelu_step(_t(x, torch.int8), _t(x0), _t(1518500250), _t(38), 23, coef, 8, rounding, sp)
                assert np.array_equal(_np(got), ref), (x0, rounding, sp)


def test_saturating_em_equals_min_of_exact_value():
    """shift_exp(saturate=True) == min(exact shift_exp, 2^31 - 1), checked with Python ints."""
    x = np.arange(-3000, 3000, 7)
    for x0 in (-1, -5, -68, -443):
        got = T.shift_exp(_t(x), x0, 23, saturate=True).cpu().numpy()
        for xi, gi in zip(x.tolist(), got.tolist(), strict=True):
            p = max(xi + (xi >> 1) - (xi >> 4), 23 * x0)
            q = p // x0
            t = p - x0 * q - 2 * x0
            s = 23 - q - 1
            exact = max(t << s if s >= 0 else t >> -s, 0)
            assert gi == min(exact, 2**31 - 1)

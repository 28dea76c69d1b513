"""Property tests: every vectorised kernel in ``ivit_hw.ops`` equals the naive
pure-Python reference (``reference.py``) bit for bit (``np.array_equal``) over
random shapes, scales and widths.

Shapes stay tiny so the pure-Python side is cheap; the interesting variety is
in the values (widths up to 16 bits, shifts, scales, rounding modes, masks).
"""

import math

import ivit_ops_reference as ref
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import ivit_hw.ops as ops
from ivit_hw.ops import params

INT32_MAX = 2**31 - 1
MODES = st.sampled_from(["half_even", "half_up", "floor"])


def signed(bits: int):
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


@st.composite
def int_matrix(draw, max_rows=3, max_cols=10, bits=None, min_cols=1):
    """A [rows, cols] int64 array of signed ``bits``-bit values (bits drawn if None)."""
    b = draw(st.integers(2, 16)) if bits is None else bits
    rows = draw(st.integers(1, max_rows))
    cols = draw(st.integers(min_cols, max_cols))
    vals = draw(st.lists(signed(b), min_size=rows * cols, max_size=rows * cols))
    return np.array(vals, dtype=np.int64).reshape(rows, cols)


def as_array(nested) -> np.ndarray:
    return np.array(nested, dtype=np.int64)


# ------------------------------------------------------ dyadic, rounding --


@given(
    mag=st.floats(min_value=2.0**-30, max_value=2.0**30, allow_nan=False, allow_infinity=False),
    neg=st.booleans(),
)
def test_dyadic_matches_reference(mag, neg):
    r = -mag if neg else mag
    m, e = ops.dyadic(r)
    assert (m, e) == ref.dyadic(r)
    assert 2**30 <= abs(m) < 2**31  # step 3 folds m == 2^31 back to 2^30
    # |m / 2^e - r| <= 2^-31 |r|: half an LSB of a 31-bit mantissa >= 2^30
    assert abs(m / 2.0**e - r) <= abs(r) * 2.0**-31


@given(st.lists(st.floats(min_value=2.0**-20, max_value=2.0**20), min_size=1, max_size=6))
def test_dyadic_array_matches_scalars(ratios):
    m, e = ops.dyadic(np.array(ratios))
    assert [(int(a), int(b)) for a, b in zip(m, e, strict=True)] == [ref.dyadic(r) for r in ratios]


@given(p=st.lists(st.integers(-(2**61), 2**61), min_size=1, max_size=8), s=st.integers(0, 62), mode=MODES)
def test_round_shift_matches_reference(p, s, mode):
    got = ops.round_shift(np.array(p, dtype=np.int64), s, mode)
    assert np.array_equal(got, [ref.round_shift(v, s, mode) for v in p])


@given(num=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=8), den=st.integers(1, 2**20))
def test_div_round_half_even_matches_fraction(num, den):
    got = ops.div_round_half_even(np.array(num, dtype=np.int64), den)
    assert np.array_equal(got, [ref.round_half_even_fraction(v, den) for v in num])


@given(st.lists(st.integers(0, 2**62 - 1), min_size=1, max_size=8))
def test_bit_length_and_isqrt_match_python(vals):
    v = np.array(vals, dtype=np.int64)
    assert np.array_equal(ops.bit_length(v), [x.bit_length() for x in vals])
    assert np.array_equal(ops.isqrt(v), [math.isqrt(x) for x in vals])


# ------------------------------------------------------------ requantize --


@st.composite
def requant_case(draw):
    acc = draw(int_matrix(bits=draw(st.sampled_from([8, 16, 32, 40]))))
    cols = acc.shape[1]
    per_channel = draw(st.booleans())
    n_par = cols if per_channel else 1
    ms = draw(st.lists(st.integers(2**30, 2**31), min_size=n_par, max_size=n_par))
    signs = draw(st.lists(st.sampled_from([1, -1]), min_size=n_par, max_size=n_par))
    es = draw(st.lists(st.integers(0, 62), min_size=n_par, max_size=n_par))
    ms = [a * b for a, b in zip(ms, signs, strict=True)]
    m, e = (ms, es) if per_channel else (ms[0], es[0])
    return acc, m, e


@given(case=requant_case(), out_bits=st.integers(2, 32), mode=MODES, with_id=st.booleans(), data=st.data())
def test_requantize_matches_reference(case, out_bits, mode, with_id, data):
    acc, m, e = case
    kw, ref_kw = {}, {}
    if with_id:
        flat = data.draw(st.lists(signed(16), min_size=acc.size, max_size=acc.size), label="identity")
        ident = np.array(flat, dtype=np.int64).reshape(acc.shape)
        m_id = data.draw(st.integers(-(2**31), 2**31))
        e_id = data.draw(st.integers(0, 40))
        kw = {"identity": ident, "m_id": m_id, "e_id": e_id}
        ref_kw = {"identity": ident.tolist(), "m_id": m_id, "e_id": e_id}
    np_m = np.array(m) if isinstance(m, list) else m
    np_e = np.array(e) if isinstance(e, list) else e
    got = ops.requantize(acc, np_m, np_e, out_bits, mode, **kw)
    want = ref.requantize(acc.tolist(), m, e, out_bits, mode, **ref_kw)
    assert np.array_equal(got, as_array(want))


# --------------------------------------------------- ShiftExp / Shiftmax --


@given(
    x=st.lists(st.integers(-(2**14), 2**10), min_size=1, max_size=10),
    x0=st.integers(-600, -1),
    n=st.integers(0, 30),
)
def test_shift_exp_matches_reference(x, x0, n):
    want = [ref.shift_exp1(v, x0, n) for v in x]
    # with the cap every input is accepted and the result is min(exact, cap)
    got = ops.shift_exp(np.array(x, dtype=np.int64), x0, n, saturate=INT32_MAX)
    assert np.array_equal(got, [min(w, INT32_MAX) for w in want])
    # non-positive inputs never need the cap and are returned exactly
    nonpos = [v for v in x if v <= 0]
    if nonpos:
        got = ops.shift_exp(np.array(nonpos, dtype=np.int64), x0, n)
        assert np.array_equal(got, [ref.shift_exp1(v, x0, n) for v in nonpos])


@given(
    x=int_matrix(max_rows=3, max_cols=12),
    scale=st.floats(0.002, 1.0),
    n=st.integers(1, 20),
    out_bits=st.integers(1, 32),
    data=st.data(),
)
def test_shiftmax_matches_reference(x, scale, n, out_bits, data):
    x0 = params.exp_x0(scale)
    assert x0 == ref.shiftexp_x0(scale)
    if data.draw(st.booleans(), label="masked"):
        flat = data.draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size), label="mask")
        mask = np.array(flat, dtype=bool).reshape(x.shape)
        got = ops.shiftmax(x, x0, n, out_bits, mask=mask)
        want = ref.shiftmax(x.tolist(), x0, n, out_bits, mask=mask.tolist())
    else:
        got = ops.shiftmax(x, x0, n, out_bits)
        want = ref.shiftmax(x.tolist(), x0, n, out_bits)
    assert np.array_equal(got, as_array(want))


@given(
    x=int_matrix(max_rows=3, max_cols=12, bits=None),
    x0=st.integers(-400, -1),
    n=st.integers(8, 23),
    coef=st.sampled_from(["scale", "shift"]),
)
def test_shiftgelu_matches_reference(x, x0, n, coef):
    # the reference keeps em exact (it may be hundreds of bits); the kernel
    # saturates it at 2^31 - 1: equal outputs confirm the spec's claim that
    # the cap changes nothing
    got = ops.shiftgelu(x, x0, n, coef)
    assert np.array_equal(got, as_array(ref.shiftgelu(x.tolist(), x0, n, coef)))


# ------------------------------------------------------------- LayerNorm --


@given(v=st.lists(st.integers(0, 2**45), min_size=1, max_size=8), iters=st.integers(0, 14), data=st.data())
def test_isqrt_iter_matches_reference(v, iters, data):
    k0 = data.draw(st.integers(2**iters, 2**20), label="k0")
    got = ops.isqrt_iter(np.array(v, dtype=np.int64), iters, k0)
    assert np.array_equal(got, [ref.isqrt_iter1(a, iters, k0) for a in v])


@given(
    x=int_matrix(max_rows=3, max_cols=16),
    iters=st.integers(0, 12),
    sqrt=st.sampled_from(["iter", "exact"]),
    data=st.data(),
)
def test_ilayernorm_matches_reference(x, iters, sqrt, data):
    c = x.shape[1]
    bias = np.array(data.draw(st.lists(signed(32), min_size=c, max_size=c), label="bias"), dtype=np.int64)
    k0 = data.draw(st.integers(max(2**iters, 1), 2**17), label="k0")
    got = ops.ilayernorm(x, bias, iters, k0, sqrt=sqrt)
    want = ref.ilayernorm(x.tolist(), bias.tolist(), iters, k0, sqrt)
    assert np.array_equal(got, as_array(want))


@given(x=int_matrix(max_rows=3, max_cols=16), data=st.data())
def test_baseline_layernorms_match_reference(x, data):
    c = x.shape[1]
    bias = np.array(data.draw(st.lists(signed(32), min_size=c, max_size=c), label="bias"), dtype=np.int64)
    assert np.array_equal(ops.ibert_layernorm(x, bias), as_array(ref.ibert_layernorm(x.tolist(), bias.tolist())))
    assert np.array_equal(ops.l1_layernorm(x, bias), as_array(ref.l1_layernorm(x.tolist(), bias.tolist())))


# ------------------------------------------------------------- baselines --


@given(x=int_matrix(max_rows=3, max_cols=12, bits=8), scale=st.floats(0.005, 0.5), out_bits=st.integers(8, 16))
def test_ibert_softmax_matches_reference(x, scale, out_bits):
    p = params.ibert_exp_params(scale)
    r = ref.ibert_exp_consts(scale)
    assert (p["x0"], p["b_int"], p["c_int"], p["h"]) == (r["x0"], r["b_int"], r["c_int"], r["h"])
    got = ops.ibert_softmax(x, p["x0"], p["b_int"], p["c_int"], p["h"], out_bits=out_bits)
    want = ref.ibert_softmax(x.tolist(), r["x0"], r["b_int"], r["c_int"], r["h"], out_bits=out_bits)
    assert np.array_equal(got, as_array(want))


@given(x=int_matrix(max_rows=3, max_cols=12, bits=8), scale=st.floats(0.005, 0.5), data=st.data())
def test_log_int_softmax_and_attn_v_match_reference(x, scale, data):
    r = ref.ibert_exp_consts(scale)
    mask = None
    if data.draw(st.booleans(), label="masked"):
        flat = data.draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size), label="mask")
        mask = np.array(flat, dtype=bool).reshape(x.shape)
    codes = ops.log_int_softmax(x, r["x0"], r["b_int"], r["c_int"], mask=mask)
    want = ref.log_int_softmax(
        x.tolist(), r["x0"], r["b_int"], r["c_int"], mask=None if mask is None else mask.tolist()
    )
    assert np.array_equal(codes, as_array(want))
    assert codes.min() >= 0 and codes.max() <= ops.LOG_CODE_MASKED
    d = data.draw(st.integers(1, 4), label="head_dim")
    vals = data.draw(st.lists(signed(8), min_size=x.shape[1] * d, max_size=x.shape[1] * d), label="v")
    v = np.array(vals, dtype=np.int64).reshape(x.shape[1], d)
    assert np.array_equal(ops.log_attn_v(codes, v), as_array(ref.log_attn_v(codes.tolist(), v.tolist())))


@given(x=int_matrix(max_rows=3, max_cols=12, bits=16), scale=st.floats(1e-4, 1e-2))
def test_ibert_gelu_matches_reference(x, scale):
    p = params.ibert_gelu_params(scale)
    r = ref.ibert_gelu_consts(scale)
    assert (p["b_int"], p["c_int"], p["one"]) == (r["b_int"], r["c_int"], r["one"])
    got = ops.ibert_gelu(x, p["b_int"], p["c_int"], p["one"])
    assert np.array_equal(got, as_array(ref.ibert_gelu(x.tolist(), r["b_int"], r["c_int"], r["one"])))


# ---------------------------------------------------------- linear layers --


@given(
    x=int_matrix(max_rows=4, max_cols=8, bits=8),
    n=st.integers(1, 5),
    with_bias=st.booleans(),
    data=st.data(),
)
def test_linear_matches_reference(x, n, with_bias, data):
    k = x.shape[1]
    w = np.array(data.draw(st.lists(signed(8), min_size=n * k, max_size=n * k), label="w")).reshape(n, k)
    b = np.array(data.draw(st.lists(signed(32), min_size=n, max_size=n), label="b")) if with_bias else None
    got = ops.linear(x, w, b)
    assert np.array_equal(got, as_array(ref.linear2d(x.tolist(), w.tolist(), None if b is None else b.tolist())))


@given(
    c=st.integers(1, 3),
    p=st.integers(1, 3),
    gh=st.integers(1, 3),
    gw=st.integers(1, 3),
    o=st.integers(1, 3),
    data=st.data(),
)
def test_patch_embed_matches_reference(c, p, gh, gw, o, data):
    img_n = c * p * gh * p * gw
    img = np.array(data.draw(st.lists(st.integers(0, 255), min_size=img_n, max_size=img_n), label="img"))
    img = img.reshape(c, p * gh, p * gw)
    w = np.array(data.draw(st.lists(signed(8), min_size=o * c * p * p, max_size=o * c * p * p), label="w"))
    w = w.reshape(o, c, p, p)
    b = np.array(data.draw(st.lists(signed(32), min_size=o, max_size=o), label="b"))
    got = ops.patch_embed(img, w, b, p)
    assert np.array_equal(got, as_array(ref.patch_embed(img.tolist(), w.tolist(), b.tolist(), p)))

"""The native CPU row kernels equal the numpy spec kernels of ``ivit_hw.ops`` exactly, on inputs that
reach the bounds the fused plan proves (every rounding boundary of requantize, wide products, 32-bit
residual streams, the ends of the tabulated spreads). Builds the library once (a few seconds of g++;
cached under ``.cache/native``). Expected values come from ``ops.*`` called on numpy."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ivit_hw import ops  # noqa: E402
from ivit_hw.ops.shiftgelu import SIGMOID_SHIFT, gelu_coef_mul  # noqa: E402
from ivit_hw.ops.shiftmax import exp_table  # noqa: E402
from ivit_hw.runtime import native  # noqa: E402

ROUNDINGS = ("half_even", "half_up", "floor")


@pytest.fixture(scope="module")
def k():
    kernels = native.load()
    if kernels is None:
        pytest.fail("the native kernels did not build (g++ is required in CI)")
    return kernels


@pytest.fixture
def three_threads():
    """Run with 3 threads over the rows (uneven blocks), restoring the thread count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def _boundary_accs(m: int, e: int, out_bits: int, acc_max: int) -> np.ndarray:
    """acc values whose acc * m / 2^e lies on or next to each half-integer of the output range, and
    the exact ties (acc * m / 2^e a half-integer) where m's trailing zeros allow them."""
    top = 2 ** (out_bits - 1) + 2
    centre = [(v << e) // (2 * m) for v in range(-2 * top, 2 * top + 1)]
    accs = {c + d for c in centre for d in (-1, 0, 1)} | {-acc_max, acc_max, 0, 1, -1}
    tz = (m & -m).bit_length() - 1
    if e - 1 - tz >= 0:
        accs |= {(2 * j + 1) << (e - 1 - tz) for j in range(-300, 300)}
    return np.array(sorted(a for a in accs if abs(a) <= acc_max), dtype=np.int64)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("m, e, acc_max, wide", [(2**31 - 1, 40, 2**31 - 1, False), (1518500250, 12, 2**20, False),
                                                 (2**30 + 1, 50, 2**40, True), (2**31 - 1, 0, 100, False),
                                                 (3 * 2**29, 35, 2**31 - 1, False)])
def test_requant_rounds_every_boundary_like_the_spec(k, rounding, m, e, acc_max, wide):
    acc = _boundary_accs(m, e, 8, acc_max)
    want = ops.requantize(acc, m, e, 8, rounding)
    src = torch.from_numpy(acc)[:, None]
    got = k.requant(src, 1, torch.tensor([m]), torch.tensor([e]), 8, rounding, wide, torch.int8)
    assert np.array_equal(got[:, 0].numpy().astype(np.int64), want)
    if not wide:  # the vectorised rows: int32 accumulator, constants per channel
        pad = (-len(acc)) % 16
        rows = torch.from_numpy(np.concatenate([acc, np.zeros(pad, np.int64)])).to(torch.int32).reshape(-1, 16)
        mm, ee = torch.full((16,), m), torch.full((16,), e)
        got = k.requant(rows, 16, mm, ee, 8, rounding, False, torch.int8, torch.zeros(16, dtype=torch.int64))
        assert np.array_equal(got.reshape(-1)[:len(acc)].numpy().astype(np.int64), want)


@pytest.mark.parametrize("acc_dtype", (torch.int32, torch.float32, torch.float64, torch.int64))
def test_requant_per_channel_bias_identity_padded_rows(k, three_threads, acc_dtype):
    rng = np.random.default_rng(1)
    rows, n, pad = 37, 24, 8
    top = 2**23 if acc_dtype == torch.float32 else 2**31 - 2**25
    acc = rng.integers(-top, top, (rows, n + pad))
    acc[0, :n] = top - 1
    acc[1, :n] = -top
    bias = rng.integers(-2**24, 2**24, n)
    m = rng.integers(2**30, 2**31, n) * rng.choice([-1, 1], n)
    e = rng.integers(20, 45, n)
    ident = rng.integers(-2**15, 2**15, (rows, n))
    m_id, e_id = rng.integers(2**30, 2**31, n), rng.integers(10, 30, n)
    for rounding in ROUNDINGS:
        want = ops.requantize(acc[:, :n] + bias, m, e, 16, rounding, ident, m_id, e_id)
        t = torch.from_numpy
        got = k.requant(t(acc).to(acc_dtype), n, t(m), t(e), 16, rounding, False, torch.int16, t(bias),
                        t(ident).to(torch.int16), t(m_id), t(e_id))
        assert np.array_equal(got.numpy().astype(np.int64), want), rounding


@pytest.mark.parametrize("x0, n, out_bits", [(-20, 15, 16), (-128, 15, 8), (-3, 30, 16)])
def test_shiftmax_row_equals_requantize_then_shiftmax(k, three_threads, x0, n, out_bits):
    rng = np.random.default_rng(2)
    sm, se, sbits = 1518500250, 33, 8
    acc = rng.integers(-2**14 * 128, 2**14 * 128, (2, 3, 19, 23))
    acc[0, 0, 0] = 2**21  # saturates high
    acc[0, 0, 1] = -2**21  # saturates low: the row spans the whole table
    acc[0, 1] = 0  # a constant row
    span = 2**sbits - 1
    scores = ops.requantize(acc, sm, se, sbits, "half_even")
    want = ops.shiftmax(scores, x0, n, out_bits)
    table = exp_table(x0, n, -span, 0).e
    got = k.shiftmax(torch.from_numpy(acc).to(torch.float32), sm, se, sbits, "half_even", False,
                     torch.from_numpy(table), span, out_bits, torch.float64)
    assert np.array_equal(got.numpy().astype(np.int64), want)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("dtype, a, wide", [(torch.int32, 2**26, True), (torch.int16, 2**15 - 1, False),
                                             (torch.int8, 127, False)])
def test_layernorm_at_the_bounds(k, three_threads, rounding, dtype, a, wide):
    rng = np.random.default_rng(3)
    c = 48  # int32 rows: c * (2a)^2 < 2^62 and 2a * 2^31 < 2^62, the largest the plan admits here
    x = rng.integers(-a, a + 1, (200, c)) >> rng.integers(0, a.bit_length(), 200)[:, None]  # every magnitude
    x[0] = a
    x[1, ::2], x[1, 1::2] = a, -a - 1  # the widest spread
    x[2] = np.arange(c) - 7  # small values (k0 >> iters regime)
    x[3] = -a - 1
    bias = rng.integers(-2**20, 2**20, c)
    m = rng.integers(2**30, 2**31, c)
    e = rng.integers(40, 52, c) if wide else rng.integers(20, 34, c)
    want = ops.requantize(ops.ilayernorm(x, bias, 10, 65536), m, e, 8, rounding)
    t = torch.from_numpy
    got = k.layernorm(t(x).to(dtype), t(bias), 10, 65536, t(m), t(e), 8, rounding, wide, torch.int8)
    assert np.array_equal(got.numpy().astype(np.int64), want)


@pytest.mark.parametrize("coef", ("scale", "shift"))
def test_shiftgelu_rows_with_both_coefficients(k, three_threads, coef):
    from ivit_hw.ops.shiftmax import shift_exp
    rng = np.random.default_rng(4)
    x0, n, lo, hi = -40, 23, -128, 127
    x = rng.integers(lo, hi + 1, (31, 40))
    x[0], x[1], x[2, ::2], x[2, 1::2] = hi, lo, lo, hi  # the extremes and the widest row
    x[3] = 0
    m_val, e_val = 1518500250, 37
    want = ops.requantize(ops.shiftgelu(x, x0, n, coef), m_val, e_val, 8, "half_even")
    ztab = None if coef == "scale" else torch.from_numpy(gelu_coef_mul(np.arange(lo, hi + 1, dtype=np.int64)))
    zlo, zhi = (lo, hi) if coef == "scale" else (gelu_coef_mul(lo), gelu_coef_mul(hi))
    span = zhi - zlo
    xt = torch.from_numpy(x).to(torch.int8)
    zmax = k.gelu_rowmax(xt, ztab, lo)
    em = torch.from_numpy(shift_exp(-zmax.numpy(), x0, n, 2**31 - 1))
    table = torch.from_numpy(exp_table(x0, n, -span, 0).e)
    got = k.gelu(xt, ztab, lo, zmax, em, table, span, SIGMOID_SHIFT, m_val, e_val, 8, "half_even", False, torch.int8)
    assert np.array_equal(got.numpy().astype(np.int64), want)


@pytest.mark.parametrize("m, kk, n", [(37, 20, 13), (6, 4, 16), (197, 192, 200), (61, 768, 70)])
def test_vnni_gemm_equals_int64_matmul_at_the_int8_extremes(k, three_threads, m, kk, n):
    if not k.vnni:
        pytest.skip("this CPU has no AVX512-VNNI (the fused GEMM keeps torch._int_mm)")
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (m, kk))
    w = rng.integers(-128, 128, (n, kk))
    a[0], w[0], a[-1], w[-1] = -128, -128, 127, -128  # the largest |sum| in both signs
    want = a @ w.T
    packed = k.pack_b(torch.from_numpy(w).to(torch.int8))
    acc = k.gemm_vnni(torch.from_numpy(a).to(torch.int8), packed)
    assert acc.shape[1] % 16 == 0 and not acc[:, n:].any()
    assert np.array_equal(acc[:, :n].to(torch.int64).numpy() - 128 * packed.colsum.numpy(), want)
    nm, ne = rng.integers(2**30, 2**31, n), rng.integers(20, 30, n)  # the fused epilogue
    bias = rng.integers(-2**20, 2**20, n)
    ident = rng.integers(-2**15, 2**15, (m, n))
    mi, ei = rng.integers(2**30, 2**31, n), rng.integers(20, 40, n)
    t = torch.from_numpy
    got = k.gemm_requant(t(a).to(torch.int8), packed, t(nm), t(ne), 16, "half_even", False, torch.int16,
                         t(bias) - 128 * packed.colsum, t(ident).to(torch.int16), t(mi), t(ei))
    want_rq = ops.requantize(want + bias, nm, ne, 16, "half_even", ident, mi, ei)
    assert np.array_equal(got.numpy().astype(np.int64), want_rq)
    ua = rng.integers(0, 256, (m, kk))  # unsigned activations: no offset
    acc = k.gemm_vnni(torch.from_numpy(ua).to(torch.uint8), packed, signed=False)
    assert np.array_equal(acc[:, :n].to(torch.int64).numpy(), ua @ w.T)


@pytest.mark.parametrize("n, dh, out_bits", [(23, 20, 16), (50, 64, 8), (7, 3, 16)])
def test_vnni_attention_equals_the_spec_chain(k, three_threads, n, dh, out_bits):
    if not k.vnni:
        pytest.skip("this CPU has no AVX512-VNNI (the fused attention keeps the float GEMMs)")
    rng = np.random.default_rng(6)
    b, h, x0, nn = 2, 3, -20, 15
    sm, se, sbits, om, oe, obits = 1518500250, 40, 8, 1234567890, 30 + out_bits, 8
    qkv = rng.integers(-128, 128, (b, n, 3, h, dh))
    qkv[0, :, :2] = -128  # q . k at its largest: a saturated row, every score equal
    qkv[1, 0, 0] = 127
    qkv[1, 0, 1] = 127  # one dominant score: the Shiftmax output near 2^(out_bits - 1)
    qkv[1, :, 2] = -128
    q, kk, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))  # strided views, as the graph feeds them
    scores = ops.requantize(q @ kk.transpose(0, 1, 3, 2), sm, se, sbits, "half_even")
    y = ops.shiftmax(scores, x0, nn, out_bits)
    want = ops.requantize(y @ v, om, oe, obits, "half_even")
    span = 2**sbits - 1
    table = torch.from_numpy(exp_table(x0, nn, -span, 0).e)
    t = torch.from_numpy(qkv).to(torch.int8)
    tq, tk, tv = (t[:, :, j].transpose(1, 2) for j in range(3))
    got = k.attention(tq, tk, tv, sm, se, sbits, "half_even", table, span, out_bits, om, oe, obits, torch.int8)
    assert int(y.max()) > 2 ** (out_bits - 2)  # the high byte of y was exercised
    assert np.array_equal(got.numpy().astype(np.int64), want)


def _extreme_operands(rng, m: int, kk: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 a [m, kk], w [n, kk] with rows at the largest |sum| of both signs."""
    a = rng.integers(-128, 128, (m, kk))
    w = rng.integers(-128, 128, (n, kk))
    a[0], w[0], a[-1], w[-1] = -128, -128, 127, -128
    return a, w


# every tail of the blocking: K not a multiple of 4, K over one K block (384) with a tail, N not a
# multiple of 16 or of the 64-column group, M = 1 and M one past a 48-row work item
@pytest.mark.parametrize("m, kk, n", [(1, 1, 1), (1, 3, 17), (5, 5, 65), (49, 390, 33), (7, 777, 16),
                                      (97, 1537, 130)])
@pytest.mark.parametrize("threads", (1, 3))
def test_vnni_gemm_every_tail_of_the_blocking(k, m, kk, n, threads):
    if not k.vnni:
        pytest.skip("this CPU has no AVX512-VNNI")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, w = _extreme_operands(np.random.default_rng(m * kk + n), m, kk, n)
        packed = k.pack_b(torch.from_numpy(w).to(torch.int8))
        acc = k.gemm_vnni(torch.from_numpy(a).to(torch.int8), packed)
        assert not acc[:, n:].any()
        assert np.array_equal(acc[:, :n].to(torch.int64).numpy() - 128 * packed.colsum.numpy(), a @ w.T)
        t = torch.from_numpy
        mm, ee = np.full(n, 2**31 - 1), np.full(n, 31)  # out = round(acc * (1 - 2^-31)): acc itself near 0
        got = k.gemm_requant(t(a).to(torch.int8), packed, t(mm), t(ee), 32, "half_even", False, torch.int32,
                             -128 * packed.colsum)
        assert np.array_equal(got.numpy().astype(np.int64), ops.requantize(a @ w.T, mm, ee, 32, "half_even"))
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("rounding", ("half_even", "floor"))
@pytest.mark.parametrize("id_dtype, out_dtype, out_bits", [(None, torch.int8, 8), (torch.int8, torch.int16, 16),
                                                           (torch.int16, torch.int8, 8),
                                                           (torch.int32, torch.int32, 24)])
def test_float64_epilogue_equals_the_spec_where_proven(k, three_threads, rounding, id_dtype, out_dtype, out_bits):
    """The float64 requantize (only taken where ``float_requantize_ok`` holds) equals ``ops.requantize``
    on accumulators that sit on the rounding ties and next to them, per channel, with every identity type."""
    from ivit_hw.ops.requant import float_requantize_ok, float_scale

    if not k.vnni:
        pytest.skip("this CPU has no AVX512-VNNI")
    rng = np.random.default_rng(7)
    m, kk, n = 53, 99, 45  # channel tail of the 8-lane loop, 2 column groups, 2 row items
    a, w = _extreme_operands(rng, m, kk, n)
    acc = a @ w.T
    e = rng.integers(4, 9, n)
    mult = rng.integers(1, 16, n)  # small m: acc * m / 2^e lands on half-integers often (ties)
    bias = rng.integers(-2**12, 2**12, n)
    ident, mi, ei, id_max = None, None, None, None
    if id_dtype is not None:
        id_max = {torch.int8: 128, torch.int16: 2**15, torch.int32: 2**20}[id_dtype]
        ident = rng.integers(-id_max, id_max, (m, n))
        ident[0] = -id_max
        mi, ei = rng.integers(1, 2**10, n), rng.integers(1, 12, n)
    want = ops.requantize(acc + bias, mult, e, out_bits, rounding, ident, mi, ei)
    assert float_requantize_ok(int(np.abs(acc + bias).max()), mult, e, out_bits, rounding, id_max, mi, ei)
    ties = (((acc + bias) * mult[None]) % (1 << e[None])) == (1 << (e[None] - 1))
    assert ties.sum() > 20  # the rounding ties were exercised
    t = torch.from_numpy
    packed = k.pack_b(t(w).to(torch.int8))
    got = k.gemm_requant_f64(t(a).to(torch.int8), packed, (t(bias) - 128 * packed.colsum).double(),
                             t(float_scale(mult, e)), out_bits, rounding, out_dtype,
                             None if ident is None else t(ident).to(id_dtype),
                             None if ident is None else t(float_scale(mi, ei)))
    assert got.dtype == out_dtype
    assert np.array_equal(got.numpy().astype(np.int64), want)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_vnni_attention_every_rounding_and_query_split(k, three_threads, rounding):
    """The attention's vector rows (8 lanes and their tails) under every rounding, one (batch, head)
    split over query blocks across threads."""
    if not k.vnni:
        pytest.skip("this CPU has no AVX512-VNNI")
    rng = np.random.default_rng(8)
    b, h, n, dh, x0, nn, out_bits = 1, 1, 61, 20, -20, 15, 16
    sm, se, sbits, om, oe, obits = 3 * 2**28, 20, 8, 5 * 2**27, 44, 8  # ties in both requantizes
    q, kk, v = (rng.integers(-128, 128, (b, h, n, dh)) for _ in range(3))
    scores = ops.requantize(q @ kk.transpose(0, 1, 3, 2), sm, se, sbits, rounding)
    y = ops.shiftmax(scores, x0, nn, out_bits)
    want = ops.requantize(y @ v, om, oe, obits, rounding)
    span = 2**sbits - 1
    table = torch.from_numpy(exp_table(x0, nn, -span, 0).e)
    t = lambda x: torch.from_numpy(x).to(torch.int8)  # noqa: E731
    got = k.attention(t(q), t(kk), t(v), sm, se, sbits, rounding, table, span, out_bits, om, oe, obits, torch.int8)
    assert np.array_equal(got.numpy().astype(np.int64), want)


def test_thread_pool_grows_shrinks_and_serves_two_callers(k):
    """The persistent pool under thread counts that change call by call (new workers join mid-run) and
    two Python threads calling at once (one runs its items itself): every result stays exact."""
    import threading

    if not k.vnni:
        pytest.skip("this CPU has no AVX512-VNNI")
    a, w = _extreme_operands(np.random.default_rng(9), 150, 64, 70)
    want = a @ w.T
    packed = k.pack_b(torch.from_numpy(w).to(torch.int8))
    ta = torch.from_numpy(a).to(torch.int8)
    before = torch.get_num_threads()
    errors = []

    def worker(counts):
        for c in counts:
            torch.set_num_threads(c)  # per Python thread in torch
            acc = k.gemm_vnni(ta, packed)[:, :70].to(torch.int64).numpy() - 128 * packed.colsum.numpy()
            if not np.array_equal(acc, want):
                errors.append(c)

    try:
        worker([1, 2, 4, 3, 5, 2, 1, 6])
        threads = [threading.Thread(target=worker, args=([2, 3, 4] * 5,)) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        torch.set_num_threads(before)
    assert errors == []


def test_no_compiler_falls_back_with_one_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("IVIT_HW_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-g++"))
    native.load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="native CPU kernels unavailable"):
            assert native.load() is None
    finally:
        native.load.cache_clear()
    assert not list(tmp_path.glob("*.so"))  # nothing half-written


@pytest.fixture(scope="module")
def small_deit():
    from ivit_hw.frontend.synthetic import synthetic_graph

    return synthetic_graph("deit_tiny", depth=1, img_size=64, patch_size=16)


@pytest.mark.parametrize("vnni", (True, False))
def test_fused_executor_on_native_kernels_equals_golden(k, small_deit, vnni, monkeypatch):
    """Every fused step of a DeiT block runs natively (the VNNI GEMM / attention, or without VNNI the
    _int_mm GEMM and the float attention GEMMs around the native rows) and equals the golden executor."""
    from ivit_hw.frontend.synthetic import synthetic_images
    from ivit_hw.runtime import run_graph
    from ivit_hw.runtime.fused.executor import FusedExecutor

    if vnni and not k.vnni:
        pytest.skip("this CPU has no AVX512-VNNI")
    monkeypatch.setattr(native.load(), "vnni", vnni)  # the executor's instance (a test above reloads it)
    ex = FusedExecutor(small_deit, "cpu", "torch", native=True)
    fused = [p for s, p in zip(ex.steps, ex._prepared, strict=True) if s.kind != "op"]
    assert fused and all(p["native"] is not None for p in fused)
    assert any("packed" in p["native"] for p in fused) == vnni
    assert any("scale" in p["native"] for p in fused) == vnni  # the float64 epilogue where proven exact
    images = synthetic_images(3, 3, 64, seed=21)
    images[0] = 255
    want = run_graph(small_deit, {"pixels": images}).outputs
    got = ex.run({"pixels": images}).outputs
    for name, v in want.items():
        assert np.array_equal(got[name], v), name

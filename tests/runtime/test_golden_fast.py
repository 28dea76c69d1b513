"""The golden executor's fast paths (runtime/golden_fast.py and the float GEMM routes of ops.xp)
against the spec kernels (``fast=False``) and the plain-Python reference, on inputs at the proven
bounds: the largest accumulators and K a route allows, extreme int8 rows, exact rounding ties. Each
test asserts the fast path really ran (its HITS counter or GEMM route), and the cases just beyond a
bound check that the fast route is NOT taken on an input where it would be wrong."""

from __future__ import annotations

import ivit_ops_reference as ref
import numpy as np
import pytest

from ivit_hw.ir import GraphBuilder, Interval, IntType
from ivit_hw.ops.params import exp_x0
from ivit_hw.ops.requant import float_requantize_ok, float_scale, requantize_float
from ivit_hw.ops.xp import FLOAT32_EXACT, NP
from ivit_hw.runtime import golden_fast, run_graph
from ivit_hw.runtime.clipping import ClipCounter
from ivit_hw.runtime.numpy_exec import GoldenExecutor

I8, I16, I32 = IntType(8), IntType(16), IntType(32)
U8 = IntType(8, signed=False)


def _both(graph, feed):
    """Outputs of the fast golden executor and of the spec path, and the fast path hits of the fast run."""
    before = dict(golden_fast.HITS)
    fast = GoldenExecutor(graph).run(feed).outputs
    hits = {k: golden_fast.HITS[k] - before.get(k, 0) for k in golden_fast.HITS}
    spec = GoldenExecutor(graph, fast=False).run(feed).outputs
    return fast, spec, hits


# ----------------------------------------------------------------------------- requantize


def _requant_graph(acc_type: IntType, acc_range: Interval, m, e, out_bits: int, identity: bool = False,
                   m_id=None, e_id=None):
    b = GraphBuilder("rq")
    acc = b.input("acc", (4, len(np.atleast_1d(m))), acc_type, None, acc_range)
    ins = {"acc": acc, "m": b.const("m", np.asarray(m), I32), "e": b.const("e", np.asarray(e), U8)}
    if identity:
        ins["identity"] = b.input("id", (4, len(np.atleast_1d(m))), I16, None, Interval.of_type(I16))
        ins.update(m_id=b.const("m_id", np.asarray(m_id), I32), e_id=b.const("e_id", np.asarray(e_id), U8))
    y = b.node("requantize", ins, "y", IntType(out_bits), None, {"out_bits": out_bits})
    return b.finish([y])


def _ties_and_extremes(a_max: int, m: np.ndarray, e: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[3, 4, C] accumulators: +-a_max and values next to them, values whose outputs spread over the
    8-bit range and just past it, and exact halves acc*m/2^e = k + 1/2 on the channels whose m is a
    power of two 2^p (acc an odd multiple of 2^(e-p-1))."""
    c = len(m)
    spread = min(a_max, 1 << (int(e.max()) - 31 + 9))  # |acc| * m / 2^e up to about 2^8
    acc = rng.integers(-spread, spread + 1, (3, 4, c))
    acc[0, 0], acc[0, 1], acc[0, 2], acc[0, 3] = a_max, -a_max, a_max - 1, -a_max + 1
    for ch in range(c):
        if m[ch] & (m[ch] - 1) == 0:
            step = 1 << (int(e[ch]) - int(m[ch]).bit_length())
            odd = rng.integers(-(spread // step) // 2, (spread // step) // 2, 8) * 2 + 1
            acc[1:, :, ch] = (odd * step).reshape(2, 4)
    return acc


@pytest.mark.parametrize("a_max", [2**22 - 1, 2**30 - 1])
def test_float_requantize_at_its_bound_equals_spec_and_reference(a_max):
    # 2^22 - 1: |acc| * |m| just below 2^53 (every float product exact); 2^30 - 1: a 31-bit accumulator,
    # where only the saturation argument of float_requantize_ok holds ((2^7 + 2) * 2^45 < 2^53, e <= 45)
    e_max = 46 if a_max < 2**22 else 45
    m = np.array([2**30, 2**31 - 1, 1518500250, 2**30 + 1])
    e = np.array([e_max, e_max - 1, e_max, e_max - 2])
    assert float_requantize_ok(a_max, m, e, 8, "half_even")
    graph = _requant_graph(IntType(32), Interval(-a_max, a_max), m, e, 8)
    acc = _ties_and_extremes(a_max, m, e, np.random.default_rng(e_max))
    fast, spec, hits = _both(graph, {"acc": acc})
    assert hits.get("requantize_float") == 1
    np.testing.assert_array_equal(fast["y"], spec["y"])
    want = [ref.requantize(sample.tolist(), m.tolist(), e.tolist(), 8) for sample in acc]
    np.testing.assert_array_equal(fast["y"], want)
    assert 0 < np.count_nonzero(np.abs(fast["y"]) < 127) < fast["y"].size  # inside the range and saturated


def test_float_requantize_with_identity_equals_spec_and_reference():
    a_max = 2**22 - 1
    m, e = np.array([2**30, 2**31 - 1, 1234567891]), np.array([38, 37, 36])
    m_id, e_id = np.array([2**30, 1610612736, 2**31 - 1]), np.array([31, 32, 31])
    graph = _requant_graph(IntType(32), Interval(-a_max, a_max), m, e, 16, True, m_id, e_id)
    rng = np.random.default_rng(5)
    acc = _ties_and_extremes(a_max, m, e, rng)
    ident = rng.integers(-2**15, 2**15, acc.shape)
    ident[0, 0], ident[0, 1] = 2**15 - 1, -2**15
    ident[1] |= 1  # odd identities: halves of the m_id = 2^30 channel
    fast, spec, hits = _both(graph, {"acc": acc, "id": ident})
    assert hits.get("requantize_float") == 1
    np.testing.assert_array_equal(fast["y"], spec["y"])
    want = [ref.requantize(a.tolist(), m.tolist(), e.tolist(), 16, "half_even", i.tolist(), m_id.tolist(),
                           e_id.tolist()) for a, i in zip(acc, ident, strict=True)]
    np.testing.assert_array_equal(fast["y"], want)
    assert 0 < np.count_nonzero(np.abs(fast["y"]) < 2**15 - 1) < fast["y"].size


def test_requantize_beyond_the_float_bound_keeps_the_exact_route():
    # |acc| * m reaches 2^72 and the output is 33 bits: float_requantize_ok refuses, and this input is one
    # where the float64 form rounds wrongly (acc * m / 2^40 = k + 1/2 + 2^-40, k even: exact k + 1, float k)
    m, e, a_max = 2**31 - 1, 40, 2**41 - 1
    assert not float_requantize_ok(a_max, np.array([m]), np.array([e]), 33, "half_even")
    acc = ((2**39 + 1) * pow(m, -1, 2**40)) % 2**40
    if (acc * m >> 40) % 2:  # make k even: adding 2^40 to acc adds m (odd) to k
        acc += 2**40
    exact = ref.requantize([acc], [m], [e], 33)[0]
    floated = requantize_float(np.array([acc]), float_scale(np.array([m]), np.array([e])), 33)
    assert int(floated[0]) != exact  # the float route would be wrong here
    graph = _requant_graph(IntType(43), Interval(-a_max, a_max), [m], [e], 33)
    fast, spec, hits = _both(graph, {"acc": np.full((1, 4, 1), acc)})
    assert not hits.get("requantize_float")
    np.testing.assert_array_equal(fast["y"], np.full((1, 4, 1), exact))
    np.testing.assert_array_equal(spec["y"], fast["y"])


@pytest.mark.parametrize("identity", [False, True])
def test_clip_counter_counts_exactly_beside_the_float_requantize(identity):
    # a 31-bit accumulator with the largest shift the saturation case of the float proof allows (the
    # requantize runs in float64): many elements clip, some by one step, some sit at a bound unclipped;
    # the counter (which recomputes only the elements at a bound) equals the exact Python-int count
    a_max, bits = 2**30 - 1, 8 if not identity else 16
    e_max = 35 if identity else 45  # with a 16-bit output and identity the proof needs e <= 35
    m, e = np.array([2**30, 2**31 - 1, 1518500250]), np.array([e_max, e_max - 1, e_max])
    m_id, e_id = np.array([2**30, 2**31 - 1, 2**30]), np.array([31, 32, 30])
    graph = _requant_graph(IntType(32), Interval(-a_max, a_max), m, e, bits, identity, m_id, e_id)
    rng = np.random.default_rng(bits)
    acc = _ties_and_extremes(a_max, m, e, rng)
    acc[2, 0] = [(2**(bits - 1) * 2**int(ei) + mi - 1) // mi for mi, ei in zip(m, e, strict=True)]  # just past hi
    acc[2, 1, 0], acc[2, 2, 0] = (2 ** (bits - 1) - 1) << (e_max - 30), -(2 ** (bits - 1)) << (e_max - 30)  # at a bound
    feed = {"acc": acc}
    if identity:
        acc[1:] *= 2**8  # spread the 16-bit outputs over the range
        feed["id"] = rng.integers(-2**15, 2**15, acc.shape)
    counter = ClipCounter(graph)
    run_graph(graph, feed, observe=counter)
    lo, hi, clipped = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1, 0
    for idx in np.ndindex(acc.shape):
        pre = ref.round_shift(int(acc[idx]) * int(m[idx[-1]]), int(e[idx[-1]]), "half_even")
        if identity:
            pre += ref.round_shift(int(feed["id"][idx]) * int(m_id[idx[-1]]), int(e_id[idx[-1]]), "half_even")
        clipped += not lo <= pre <= hi
    assert 0 < clipped < acc.size
    assert (counter.stats["y"].clipped, counter.stats["y"].total) == (clipped, acc.size)


# ----------------------------------------------------------------------------- GEMM routes


def test_float32_route_at_the_column_l1_bound_is_exact():
    # a_max * b_max * K = 128 * 128 * 2048 = 2^25, but the partial-sum bound a_max * max column L1 is
    # exactly 2^24: float32 is exact (every partial sum at most 2^24) and is taken
    rng = np.random.default_rng(0)
    k = 2048
    b = np.zeros((k, 3), dtype=np.int64)
    b[:1024, 0] = rng.choice([-128, 127], 1024)
    b[:1024, 0][b[:1024, 0] == 127] = -128  # column 0: L1 = 1024 * 128 = 2^17
    b[::2, 1] = 127
    b[:, 2] = rng.integers(-64, 64, k)
    a = rng.integers(-128, 128, (5, k))
    a[0] = -128  # column 0 reaches +2^24
    a[1] = np.where(b[:, 1] > 0, 127, -128)
    a[2, :1024] = 127
    a[2, 0] = -128  # an odd sum near the bound
    gemm = NP.gemm((-128, 127), (-128, 127), k, b)
    assert gemm.path == "float32"
    want = a.astype(object).dot(b.astype(object))
    assert int(want[0, 0]) == FLOAT32_EXACT
    np.testing.assert_array_equal(gemm(a), want.astype(np.int64))


@pytest.mark.parametrize("const", [True, False])
def test_gemm_just_beyond_float32_is_not_float32(const):
    # the bound 2^24 + 1 (constant operand) or 4097^2 = 16785409 (data): float32 would round these sums
    if const:
        a, b, a_range, b_range = np.array([[1, 1]]), np.array([[2**24], [1]]), (-1, 1), (0, 2**24)
    else:
        a, b, a_range, b_range = np.array([[4097]]), np.array([[4097]]), (-4097, 4097), (-4097, 4097)
    want = a.astype(object).dot(b.astype(object)).astype(np.int64)
    assert not np.array_equal(np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.int64), want)
    gemm = NP.gemm(a_range, b_range, a.shape[-1], b if const else None)
    assert gemm.path not in ("float32", "float32_chunked")
    np.testing.assert_array_equal(gemm(a) if const else gemm(a, b), want)


def test_float32_accumulator_at_2_pow_24_into_float_requantize():
    # column 0 sums to +-2^24 (1024 weights of -128, |x| <= 128, no bias); column 1 reaches 2^24 with its
    # bias: the linear hands its float32 accumulator to the requantize (float32_acc), exact at the bound
    k = 1024
    w = np.zeros((2, k), dtype=np.int64)
    w[0] = -128
    w[1, :1023] = 127
    bias = np.array([0, 2**24 - 128 * 127 * 1023])
    b = GraphBuilder("lin")
    x = b.input("x", (4, k), I8, None, Interval(-128, 127))
    acc = b.node("linear", {"x": x, "weight": b.const("w", w, I8), "bias": b.const("b", bias, I32)}, "acc",
                 IntType(26), None)
    m, e = np.array([2**30, 2**30]), np.array([45, 45])  # acc / 2^15: in range, saturated, and ties
    y = b.node("requantize", {"acc": acc, "m": b.const("m", m, I32), "e": b.const("e", e, U8)}, "y", I8, None,
               {"out_bits": 8})
    graph = b.finish([y])
    rng = np.random.default_rng(11)
    xs = rng.integers(-128, 128, (2, 4, k))
    xs[0, 0], xs[0, 1], xs[0, 2] = -128, 127, 0  # acc +2^24 / -127 * 2^17 ..., bias alone
    xs[1, :, :] = 0
    xs[1, :, 0] = [1, 3, -1, -3]  # acc = -128 * odd: odd multiples of 2^7, and ties once scaled by 2^8
    xs[1, :, 1:257] = 1  # ... plus 256 * -128 = -2^15: one output step
    fast, spec, hits = _both(graph, {"x": xs})
    assert hits.get("float32_acc") == 1 and hits.get("requantize_float") == 1
    np.testing.assert_array_equal(fast["y"], spec["y"])
    for sample, got in zip(xs, fast["y"], strict=True):
        accs = ref.linear2d(sample.tolist(), w.tolist(), bias.tolist())
        assert max(abs(v) for row in accs for v in row) <= 2**24
        np.testing.assert_array_equal(got, ref.requantize(accs, m.tolist(), e.tolist(), 8))
    assert int(ref.linear2d(xs[0].tolist(), w.tolist(), bias.tolist())[0][0]) == 2**24


# ----------------------------------------------------------------------------- Shiftmax, ShiftGELU


def _extreme_rows(rng: np.random.Generator, batch: int, rows: int, width: int) -> np.ndarray:
    x = rng.integers(-128, 128, (batch, rows, width))
    x[0, 0] = -128  # all equal, the lowest
    x[0, 1] = 127  # all equal, the highest
    x[0, 2, ::2], x[0, 2, 1::2] = -128, 127
    x[0, 3] = rng.integers(-128, -120, width)  # narrow and negative (a row max far below 127)
    x[0, 4, :] = -128
    x[0, 4, 7] = 127  # one peak
    return x


def _one_node(op: str, attrs: dict, rows: int, width: int, out_type: IntType):
    b = GraphBuilder(op)
    x = b.input("x", (rows, width), I8, None, Interval(-128, 127))
    y = b.node(op, {"x": x}, "y", out_type, None, attrs)
    return b.finish([y])


@pytest.mark.parametrize("coef", ["scale", "shift"])
@pytest.mark.parametrize("scale", [0.02, 0.1, 0.6])
def test_shiftgelu_row_table_equals_spec_and_reference(coef, scale):
    x0 = exp_x0(1.702 * scale) if coef == "scale" else exp_x0(scale)
    graph = _one_node("shiftgelu", {"x0": x0, "coef": coef}, 6, 96, IntType(16))
    executor = GoldenExecutor(graph)
    rng = np.random.default_rng(int(scale * 100))
    for run in range(2):  # the second run reuses rows of the first and adds new ones
        x = _extreme_rows(rng, 2, 6, 96) if run == 0 else rng.integers(-100, 90, (3, 6, 96))
        before = golden_fast.HITS["shiftgelu_x_table"]
        fast = executor.run({"x": x}).outputs["y"]
        assert golden_fast.HITS["shiftgelu_x_table"] == before + 1
        spec = GoldenExecutor(graph, fast=False).run({"x": x}).outputs["y"]
        np.testing.assert_array_equal(fast, spec)
        want = [ref.shiftgelu(sample.tolist(), x0, coef=coef) for sample in x[:2]]
        np.testing.assert_array_equal(fast[:2], want)


@pytest.mark.parametrize("rounding", ["half_even", "half_up"])
def test_gelu_requantize_fold_equals_spec_and_reference(rounding):
    # ShiftGELU -> requantize (one m, one e): the requantize is folded into the ShiftGELU table rows;
    # half_up takes the spec requantize inside the fold, half_even the float one
    x0 = exp_x0(1.702 * 0.05)
    b = GraphBuilder("gelu_q")
    x = b.input("x", (5, 64), I8, None, Interval(-128, 127))
    g = b.node("shiftgelu", {"x": x}, "g", IntType(16), None, {"x0": x0})
    m, e = 1518500250, 37  # ~ 2^-6.5: outputs over the whole 8-bit range, saturating at the top
    y = b.node("requantize", {"acc": g, "m": b.const("m", np.asarray(m), I32), "e": b.const("e", np.asarray(e), U8)},
               "y", I8, None, {"out_bits": 8, "rounding": rounding})
    graph = b.finish([y])
    xs = _extreme_rows(np.random.default_rng(3), 3, 5, 64)
    fast, spec, hits = _both(graph, {"x": xs})
    assert hits.get("gelu_requantize") == 1 and not hits.get("shiftgelu_x_table")
    np.testing.assert_array_equal(fast["y"], spec["y"])
    for sample, got in zip(xs, fast["y"], strict=True):
        gelu = ref.shiftgelu(sample.tolist(), x0)
        np.testing.assert_array_equal(got, [ref.requantize(row, m, e, 8, rounding) for row in gelu])
    assert np.count_nonzero(fast["y"] == 127) and np.count_nonzero(np.abs(fast["y"]) < 127)


@pytest.mark.parametrize("out_bits", [8, 16])
@pytest.mark.parametrize("scale", [0.004, 0.05, 0.5])
def test_shiftmax_table_equals_spec_and_reference(out_bits, scale):
    x0 = exp_x0(scale)
    graph = _one_node("shiftmax", {"x0": x0, "out_bits": out_bits}, 6, 200, IntType(out_bits + 1))
    x = _extreme_rows(np.random.default_rng(out_bits), 2, 6, 200)
    fast, spec, hits = _both(graph, {"x": x})
    assert hits.get("shiftmax_table") == 1
    np.testing.assert_array_equal(fast["y"], spec["y"])
    want = [ref.shiftmax(sample.tolist(), x0, out_bits=out_bits) for sample in x]
    np.testing.assert_array_equal(fast["y"], want)


def test_traced_and_spec_runs_take_no_golden_fast_path():
    graph = _one_node("shiftmax", {"x0": exp_x0(0.05)}, 3, 8, IntType(17))
    x = np.random.default_rng(1).integers(-128, 128, (1, 3, 8))
    before = dict(golden_fast.HITS)
    traced = GoldenExecutor(graph).run({"x": x}, trace=True)
    GoldenExecutor(graph, fast=False).run({"x": x})
    assert dict(golden_fast.HITS) == before
    np.testing.assert_array_equal(traced.outputs["y"], GoldenExecutor(graph).run({"x": x}).outputs["y"])


# ----------------------------------------------------------------------------- a whole model


def test_deit_tiny_fast_golden_equals_spec_path(deit_tiny_graph):
    from ivit_hw.frontend.synthetic import synthetic_images

    feed = {deit_tiny_graph.inputs[0]: synthetic_images(1, 3, 224, seed=7)}
    fast, spec, hits = _both(deit_tiny_graph, feed)
    assert hits["requantize_float"] and hits["gelu_requantize"] == 12 and hits["shiftmax_table"] == 12, hits
    assert hits["float32_acc"] >= 12 * 6, hits  # qkv, scores, attn @ v, proj, fc1, fc2 of every block
    for name in spec:
        np.testing.assert_array_equal(fast[name], spec[name], err_msg=name)


# ----------------------------------------------------------------------------- BLAS threads


def test_blas_threads_are_stated_and_limited_per_run_and_change_no_value(monkeypatch):
    pytest.importorskip("threadpoolctl")
    from ivit_hw.runtime import numpy_threads

    graph = _one_node("shiftmax", {"x0": exp_x0(0.05)}, 3, 8, IntType(17))
    x = np.random.default_rng(2).integers(-128, 128, (2, 3, 8))
    configured = numpy_threads.blas_threads()
    seen: list[int | None] = []

    def observe(node, args, out):
        seen.append(numpy_threads.blas_threads())

    outs = [GoldenExecutor(graph).run({"x": x}, observe=observe, threads=t).outputs["y"] for t in (None, 1, 0)]
    assert seen == [numpy_threads.GOLDEN_BLAS_THREADS, 1, configured]
    assert numpy_threads.blas_threads() == configured  # restored after each run
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    monkeypatch.setattr(numpy_threads, "_controller", lambda: None)  # as without threadpoolctl
    np.testing.assert_array_equal(GoldenExecutor(graph).run({"x": x}).outputs["y"], outs[0])
    with pytest.raises(ImportError, match="threadpoolctl"):
        GoldenExecutor(graph).run({"x": x}, threads=2)


@pytest.mark.parametrize("module,table", [("ivit_hw.runtime.golden_fast", "GOLDEN_BUILDERS"),
                                          ("ivit_hw.runtime.torch_exec", "TORCH_BUILDERS")])
def test_executor_builder_tables_read_through_to_the_spec_builders(monkeypatch, module, table):
    # a builder patched or registered in node_builders.BUILDERS reaches each executor's table (a dict copy
    # made at import never saw it), whose own entries (the golden fast paths) stay in front
    import importlib

    from ivit_hw.runtime.node_builders import BUILDERS

    builders = getattr(importlib.import_module(module), table)

    def sentinel(ctx):
        raise AssertionError("never built")

    monkeypatch.setitem(BUILDERS, "linear", sentinel)
    monkeypatch.setitem(BUILDERS, "an_op_registered_later", sentinel)
    assert builders["linear"] is sentinel
    assert builders.get("an_op_registered_later") is sentinel
    if table == "GOLDEN_BUILDERS":
        assert builders["requantize"] is not BUILDERS["requantize"]


def test_the_heap_setting_is_made_by_a_fast_executor_only_and_can_be_replaced(monkeypatch):
    # examples/bench_golden_ab.py --heap default replaces numpy_threads.keep_heap_pages: the executor
    # must look it up there when it is built (a fast one only; the spec path leaves the process alone)
    from ivit_hw.runtime import numpy_threads

    calls = []
    monkeypatch.setattr(numpy_threads, "keep_heap_pages", lambda: calls.append(1) or False)
    graph = _one_node("shiftmax", {"x0": exp_x0(0.05)}, 3, 8, IntType(17))
    GoldenExecutor(graph, fast=False)
    assert calls == []
    GoldenExecutor(graph)
    assert calls == [1]

"""The fused attention splits the Shiftmax output y into two int8 halves only when the proven
range of y is below 2^15 (out_bits <= 16 is not enough: a clamped Shiftmax sum, e.g. x0 = -70000,
gives y up to 2^16 - 1). Otherwise the chain runs node by node, exactly."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton decorates the kernels

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ivit_hw import ops  # noqa: E402
from ivit_hw.ir import GraphBuilder, Interval, IntType  # noqa: E402
from ivit_hw.runtime import run_graph  # noqa: E402
from ivit_hw.runtime.fused.executor import FusedExecutor  # noqa: E402
from ivit_hw.runtime.fused.plan import build_plan, plan_summary  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
I8, I16, I32, U8 = IntType(8), IntType(16), IntType(32), IntType(8, signed=False)
SM, SE, OM, OE = 1518500250, 30, 1318500250, 47  # scores and attn @ v requantizers


def _attention_graph(x0: int):
    """q, k, v [1, 8, 16] i8 -> requantize(q @ k^T) -> shiftmax(x0, 16 bit) -> @ v -> requantize: 128 outputs."""
    b = GraphBuilder("attn")
    q, k, v = (b.input(n, (1, 8, 16), I8, 0.05, Interval(-128, 127)) for n in ("q", "k", "v"))
    s = b.node("matmul", {"a": q, "b": k}, "s", I32, 0.0025, {"transpose_b": True})
    sc = b.node("requantize", {"acc": s, "m": b.const("sm", np.asarray(SM), I32),
                               "e": b.const("se", np.asarray(SE), U8)}, "sc", I8, 0.0025 * 2**SE / SM,
                {"out_bits": 8})
    y = b.node("shiftmax", {"x": sc}, "y", I32 if x0 < -65535 else I16, 2.0**-15, {"x0": x0, "out_bits": 16},
               name="smax")
    o = b.node("matmul", {"a": y, "b": v}, "o", I32, 0.05 * 2.0**-15, {"transpose_b": False})
    out = b.node("requantize", {"acc": o, "m": b.const("om", np.asarray(OM), I32),
                                "e": b.const("oe", np.asarray(OE), U8)}, "out", I8,
                 0.05 * 2.0**-15 * 2**OE / OM, {"out_bits": 8})
    return b.finish([out])


def _inputs(seed: int):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.integers(-128, 128, (1, 1, 8, 16)) for _ in range(3))
    q[0, 0, 0] = 127  # a dominating score in row 0
    k[0, 0, 0] = 127
    return {"q": q, "k": k, "v": v}


def test_x0_beyond_the_split_range_gives_shiftmax_outputs_of_2_to_15_or_more():
    """The premise, by hand: ShiftExp(0) = |x0| * 2^15 = 2293760000 > 2^31 - 1, so every row's sum
    is clamped, f = 1 and the row maximum outputs 2293760000 >> 16 = 35000 >= 2^15."""
    assert int(ops.shiftmax(np.zeros((1, 4), np.int64), -70000, 15, 16)[0, 0]) == 35000


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_attention_with_shiftmax_beyond_2_to_15_equals_golden(backend):
    g = _attention_graph(-70000)
    inputs = _inputs(1)
    ref = run_graph(g, inputs).outputs["out"]
    assert ref.size == 128
    out = FusedExecutor(g, DEV, backend).run(inputs).outputs["out"]
    np.testing.assert_array_equal(out, ref)


def test_attention_is_fused_only_while_the_split_is_proven_exact():
    assert plan_summary(build_plan(_attention_graph(-443)))["attention"] == 1
    assert plan_summary(build_plan(_attention_graph(-70000)))["attention"] == 0


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_fused_attention_still_exact_in_range(backend):
    g = _attention_graph(-443)
    inputs = _inputs(2)
    out = FusedExecutor(g, DEV, backend).run(inputs).outputs["out"]
    np.testing.assert_array_equal(out, run_graph(g, inputs).outputs["out"])

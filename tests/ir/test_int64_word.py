"""Every tensor and ordinary internal must fit the signed 64-bit word the executors hold
(spec section 0): range analysis refuses a proven range beyond [-2^63, 2^63 - 1] in one
line naming the node and the internal, instead of accepting it as u64 and wrapping."""

from __future__ import annotations

import numpy as np
import pytest

from ivit_hw.ir import GraphBuilder, Interval, IntType, IRError, infer_ranges
from ivit_hw.runtime import run_graph

I8, I32, I64 = IntType(8), IntType(32), IntType(64)


def _layernorm_i32_c3():
    """I-LayerNorm of an i32 row of 3: v = sum((x - mean)^2) can reach about 1.2 * 2^63."""
    b = GraphBuilder("ln")
    x = b.input("x", (3,), I32, 1.0)
    y = b.node("ilayernorm", {"x": x, "bias_int": b.const("bias", np.zeros(3, np.int64), I32)}, "y", I64,
               (1.0, 1.0, 1.0), name="ln")
    return b.finish([y])


def _shiftgelu_huge_x0():
    """ShiftGELU with x0 = -2^40: e = |x0| * 2^23 reaches 2^63 at the row maximum."""
    b = GraphBuilder("gelu")
    x = b.input("x", (4,), I8, 1.0)
    y = b.node("shiftgelu", {"x": x}, "y", I64, 1 / 128, {"x0": -(2**40)}, name="g")
    return b.finish([y])


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_layernorm_variance_beyond_int64_is_refused_naming_node_and_internal():
    with pytest.raises(IRError) as exc:
        infer_ranges(_layernorm_i32_c3())
    msg = _one_line(exc)
    assert msg.startswith("ln/v:") and "int64" in msg


def test_layernorm_row_that_wrapped_is_refused_not_answered_wrong():
    """Before: every executor returned [-715827883, 1431655765, -715827883]; the spec gives [0, 0, 0]."""
    with pytest.raises(IRError, match="ln/v"):
        run_graph(_layernorm_i32_c3(), {"x": np.array([2**31 - 1, -(2**31), 2**31 - 1])})


def test_shiftgelu_exp_beyond_int64_is_refused_naming_node_and_internal():
    with pytest.raises(IRError) as exc:
        infer_ranges(_shiftgelu_huge_x0())
    msg = _one_line(exc)
    assert msg.startswith("g/e:") and "int64" in msg


def test_torch_executors_refuse_shiftgelu_beyond_int64():
    """Before: the torch and fused executors returned wrong values silently."""
    pytest.importorskip("torch")
    from ivit_hw.runtime.fused.executor import FusedExecutor
    from ivit_hw.runtime.torch_exec import TorchExecutor

    for make in (TorchExecutor, FusedExecutor):
        with pytest.raises(IRError, match="g/e"):
            make(_shiftgelu_huge_x0())


def test_unsigned_input_beyond_int64_is_refused():
    b = GraphBuilder("u64")
    x = b.input("x", (2,), IntType(64, signed=False), 1.0)
    y = b.node("reshape", {"x": x}, "y", IntType(64, signed=False), 1.0, {"shape": [2]})
    with pytest.raises(IRError, match="'x'.*int64"):
        infer_ranges(b.finish([y]))


def test_full_int64_word_is_still_accepted():
    """The limit is the word itself: a requantize to out_bits = 64 proves [-2^63, 2^63 - 1], and an
    unsigned input narrowed to below 2^63 is fine."""
    b = GraphBuilder("edge")
    acc = b.input("acc", (2,), I64, 1.0, Interval(-(2**63), 2**63 - 1))
    y = b.node("requantize", {"acc": acc, "m": b.const("m", np.asarray(2**30), I32),
                              "e": b.const("e", np.asarray(30), IntType(8, signed=False))},
               "y", I64, 1.0, {"out_bits": 64}, name="rq")
    u = b.input("u", (2,), IntType(64, signed=False), 1.0, Interval(0, 2**63 - 1))
    z = b.node("reshape", {"x": u}, "z", IntType(64, signed=False), 1.0, {"shape": [2]})
    g = infer_ranges(b.finish([y, z]))
    assert g.tensor("y").range == Interval(-(2**63), 2**63 - 1)
    assert g.tensor("z").range == Interval(0, 2**63 - 1)

"""Range analysis and width checking on small graphs built with GraphBuilder."""

from __future__ import annotations

import numpy as np
import pytest

from ivit_hw.ir import (
    GraphBuilder,
    Interval,
    IntType,
    IRError,
    check_widths,
    headroom_bits,
    infer_ranges,
    width_violations,
)
from ivit_hw.runtime.numpy_exec import run_graph

I = Interval  # noqa: E741
X0 = -20  # ShiftExp x0 for an input scale of 0.05
I16, I32 = IntType(16), IntType(32)


def softmax_graph(out=I16, internals=None, x_range=None, x0=X0):
    """scores (4 rows of 8, int8) -> shiftmax -> attn."""
    b = GraphBuilder("sm")
    b.input("scores", (4, 8), IntType(8), scale=0.05, range=x_range)
    b.node("shiftmax", {"x": "scores"}, "attn", out, scale=2**-15, attrs={"x0": x0}, name="smax", internals=internals)
    return b.finish(["attn"])


def test_shiftmax_graph_ranges_and_narrowest_internals():
    # int8 rows of 8, x0 = -20, n = 15: d in [-255, 0] (i9); p(-255) = -367 clamps at 15*x0 = -300,
    # so q in [0, 15] (u4), e in [e(-300) = 40 >> 1 = 20, 20 << 15 = 655360] (u20);
    # sum in [655360 + 7*20, 8*655360 = 5242880] = [655500, 5242880] (u23);
    # f = M // sum in [409, 3276]; prod <= 655360*3276 = 2146959360; out = prod >> 16 <= 32760.
    g = infer_ranges(softmax_graph())
    node = g.node("smax")
    assert g.tensor("scores").range == I(-128, 127)
    expected = {"d": (I(-255, 0), "i9"), "p": (I(-300, 0), "i10"), "q": (I(0, 15), "u4"), "e": (I(20, 655360), "u20"),
                "sum": (I(655500, 5242880), "u23"), "f": (I(409, 3276), "u12")}
    for key, (iv, typ) in expected.items():
        assert node.internals[key].range == iv, key
        assert str(node.internals[key].dtype) == typ, key
    for spec in node.internals.values():  # undeclared: the narrowest type holding the proven range
        assert spec.dtype == IntType.fitting(spec.range)
    assert g.tensor("attn").range == I(0, 32760)
    assert width_violations(g) == []
    assert headroom_bits(g.tensor("attn")) == 0  # i16 for [0, 32760]
    assert check_widths(softmax_graph(out=IntType(32))).tensor("attn").range == I(0, 32760)
    assert headroom_bits(infer_ranges(softmax_graph(out=IntType(32))).tensor("attn")) == 16


def test_every_traced_value_inside_the_analysed_ranges():
    g = infer_ranges(softmax_graph())
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(-128, 128, (50, 4, 8)), np.full((1, 4, 8), -128),
                        np.array([[[127] + [-128] * 7] * 4])])
    res = run_graph(g, {"scores": x}, trace=True)
    for name, arr in res.internals.items():
        node, key = name.split("/")
        iv = g.node(node).internals[key].range
        assert iv.lo <= int(arr.min()) and int(arr.max()) <= iv.hi, name
    out = g.tensor("attn").range
    assert out.lo <= int(res.outputs["attn"].min()) and int(res.outputs["attn"].max()) <= out.hi


def test_declared_input_range_is_honoured():
    # scores declared in [-10, 10]: d in [-20, 0], p(-20) = -20 - 10 + 2 = -28, q = -28 // -20 = 1
    g = infer_ranges(softmax_graph(x_range=I(-10, 10)))
    assert g.tensor("scores").range == I(-10, 10)
    node = g.node("smax")
    assert node.internals["d"].range == I(-20, 0) and node.internals["q"].range == I(0, 1)
    assert node.internals["d"].dtype == IntType(6)
    # a range passed to infer_ranges overrides the declared one: [0, 3] gives d in [-3, 0]
    g2 = infer_ranges(softmax_graph(x_range=I(-10, 10)), {"scores": I(0, 3)})
    assert g2.tensor("scores").range == I(0, 3) and g2.node("smax").internals["d"].range == I(-3, 0)


def test_output_too_narrow_names_tensor_need_and_declaration():
    g = infer_ranges(softmax_graph(out=IntType(8)))
    bad = width_violations(g)
    assert len(bad) == 1
    v = bad[0]
    assert v.where == "attn" and v.declared == IntType(8) and v.proven == I(0, 32760) and v.needed == IntType(16)
    assert str(v) == "attn: proven range [0, 32760] needs i16 but i8 is declared"
    with pytest.raises(IRError, match=r"attn: proven range \[0, 32760\] needs i16 but i8 is declared"):
        check_widths(softmax_graph(out=IntType(8)))


def test_internal_too_narrow_names_node_and_internal():
    # sum reaches 5242880: needs u23, declared u16
    g = infer_ranges(softmax_graph(internals={"sum": IntType(16, signed=False)}))
    assert g.node("smax").internals["sum"].dtype == IntType(16, signed=False)  # the declaration is kept
    bad = width_violations(g)
    assert [(v.where, str(v.needed), str(v.declared)) for v in bad] == [("smax/sum", "u23", "u16")]
    with pytest.raises(IRError, match=r"(?s)1 width violation.*smax/sum: proven range \[655500, 5242880\] needs u23 "
                                      r"but u16 is declared"):
        check_widths(softmax_graph(internals={"sum": IntType(16, signed=False)}))


def test_declared_internal_wide_enough_is_kept_and_checked():
    g = check_widths(softmax_graph(internals={"sum": IntType(32), "e": IntType(21, signed=False)}))
    assert g.node("smax").internals["sum"].dtype == IntType(32)
    assert g.node("smax").internals["e"].dtype == IntType(21, signed=False)
    # signedness counts: d in [-255, 0] does not fit an unsigned type of any width
    bad = width_violations(infer_ranges(softmax_graph(internals={"d": IntType(16, signed=False)})))
    assert [(v.where, str(v.needed)) for v in bad] == [("smax/d", "i9")]


def test_several_violations_are_listed_together():
    with pytest.raises(IRError, match=r"2 width violation\(s\)") as err:
        check_widths(softmax_graph(out=IntType(8), internals={"prod": IntType(30, signed=False)}))
    assert "attn:" in str(err.value) and "smax/prod:" in str(err.value)


def linear_graph(acc=I32, x_range=None):
    """x (int8, 5 x 3) -> linear(w, b) -> acc -> requantize(x 1/4) -> y (int8)."""
    b = GraphBuilder("lin")
    b.input("x", (5, 3), IntType(8), scale=0.1, range=x_range)
    b.const("w", np.array([[1, -2, 0], [4, 4, -1]]), IntType(8))
    b.const("b", np.array([10, -10]), IntType(32))
    b.const("m", np.array([1, 1]), IntType(32))
    b.const("e", np.array([2, 2]), IntType(8))
    b.node("linear", {"x": "x", "weight": "w", "bias": "b"}, "acc", acc)
    b.node("requantize", {"acc": "acc", "m": "m", "e": "e"}, "y", IntType(8), attrs={"out_bits": 8})
    return b.finish(["y"])


def test_linear_chain_uses_constants():
    # x in [-3, 5]: acc ch0 in [-3, 21], ch1 in [-39, 33] (weights' positive / negative sums), hull [-39, 33];
    # y = rhe(acc / 4): [-10 (-9.75), 8 (8.25)]
    g = infer_ranges(linear_graph(x_range=I(-3, 5)))
    assert g.tensor("w").range == I(-2, 4) and g.tensor("b").range == I(-10, 10)
    assert g.tensor("acc").range == I(-39, 33) and g.tensor("y").range == I(-10, 8)
    # full int8 input: ch0 in [10 - 128 - 254, 10 + 127 + 256] = [-372, 393], ch1 [-10 - 1024 - 127, -10 + 1016 + 128]
    g = infer_ranges(linear_graph())
    assert g.tensor("acc").range == I(-1161, 1134)
    bad = width_violations(infer_ranges(linear_graph(acc=IntType(10))))
    assert [(v.where, str(v.needed), str(v.declared)) for v in bad] == [("acc", "i12", "i10")]


def test_rule_failure_names_the_node():
    with pytest.raises(IRError, match="smax: attribute 'x0' must be negative"):
        infer_ranges(softmax_graph(x0=5))


def test_range_beyond_64_bits_names_the_internal_or_tensor():
    # I-BERT exp with c_int = 2^40 and n = 30: e(0) = 2^70, more than any 64-bit type holds
    b = GraphBuilder("wide")
    b.input("x", (4,), IntType(8))
    b.node("ibert_softmax", {"x": "x"}, "y", IntType(32), attrs={"x0": -1, "b_int": 1, "c_int": 2**40, "h": 60},
           name="soft")
    with pytest.raises(IRError, match=r"soft/e: proven range \[\d+, \d+\] needs more than 64 bits"):
        infer_ranges(b.finish(["y"]))
    # a product of two 40-bit activations, 8 terms: about 2^83
    b = GraphBuilder("wide2")
    b.input("a", (2, 8), IntType(41), range=I(-(2**40), 2**40))
    b.input("c", (8, 2), IntType(41), range=I(-(2**40), 2**40))
    b.node("matmul", {"a": "a", "b": "c"}, "y", IntType(64), name="mm")
    with pytest.raises(IRError, match=r"mm: output tensor 'y': proven range .* needs more than 64 bits"):
        infer_ranges(b.finish(["y"]))

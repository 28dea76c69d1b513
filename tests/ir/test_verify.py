"""The verifier on in-memory graphs: sound graphs pass (and come back analysed),
every structural problem names its node and tensor, all are reported at once."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from ivit_hw import ops
from ivit_hw.ir import GraphBuilder, InternalSpec, Interval, IntType, IRError
from ivit_hw.ir.verify import structural_problems, verify, verify_structure
from ivit_hw.ops import params as P

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
from tiny_graphs import softmax_graph, tiny_graph  # noqa: E402


def _node(g, i, **changes):
    nodes = list(g.nodes)
    nodes[i] = dataclasses.replace(nodes[i], **changes)
    return dataclasses.replace(g, nodes=tuple(nodes))


def _tensor(g, name, **changes):
    return dataclasses.replace(g, tensors={**g.tensors, name: dataclasses.replace(g.tensors[name], **changes)})


def _problem_with(g, parts) -> str:
    problems = structural_problems(g)
    found = [p for p in problems if all(part in p for part in parts)]
    assert found, problems
    return found[0]


def test_sound_graph_passes_and_comes_back_analysed():
    g = tiny_graph()
    assert structural_problems(g) == []
    analysed = verify(g)
    assert all(spec.range is not None for spec in analysed.tensors.values())
    assert analysed.tensors["fc.acc"].range == Interval(-74152, 74381)
    assert verify(analysed).tensors == analysed.tensors  # idempotent: recorded ranges are not stale


def test_internals_get_proven_widths():
    g = verify(softmax_graph())
    internals = g.nodes[0].internals
    assert set(internals) == set(ops_internals("shiftmax"))
    assert internals["d"].range.hi == 0
    assert internals["prod"].range.hi <= 2**31 - 1


def ops_internals(op):
    from ivit_hw.ir import get_op

    return get_op(op).internals


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda g: _node(g, 0, op="lineaar"), ["node 'fc.acc'", "unknown op 'lineaar'", "linear"]),
        (lambda g: _node(g, 1, attrs={"rounding": "half_even"}), ["node 'fc.q'", "missing attribute 'out_bits'"]),
        (lambda g: _node(g, 1, attrs={"out_bits": 8.0, "rounding": "half_even"}),
         ["node 'fc.q'", "'out_bits' must be an int"]),
        (lambda g: _node(g, 4, attrs={"transpose_b": 1}), ["node 's.acc'", "'transpose_b' must be a bool"]),
        (lambda g: _node(g, 2, inputs={"x": "ghost"}), ["node 'r'", "x='ghost' is not a defined tensor"]),
        (lambda g: _node(g, 2, inputs={"x": "fc.q", "y": "fc.q"}), ["node 'r'", "unknown input role(s) ['y']"]),
        (lambda g: _node(g, 1, inputs={"acc": "fc.acc", "m": "fc.q.m", "e": "x"}),
         ["node 'fc.q'", "e='x' must be a constant"]),
        (lambda g: _node(g, 2, attrs={"shape": [4, 2, 4]}), ["node 'r'", "cannot reshape"]),
        (lambda g: _node(g, 3, internals={"nonsense": InternalSpec(IntType(8))}),
         ["node 't'", "unknown internal 'nonsense'"]),
        (lambda g: _node(g, 3, output="x"), ["graph input 'x' is also written by node 't'"]),
        (lambda g: dataclasses.replace(g, nodes=(g.nodes[1], g.nodes[0]) + g.nodes[2:]),
         ["node 'fc.q'", "input acc='fc.acc' is written later by node 'fc.acc'"]),
        (lambda g: _tensor(g, "fc.q", scale=-0.2), ["tensor 'fc.q'", "positive"]),
        (lambda g: _tensor(g, "fc.q", scale=float("nan")), ["tensor 'fc.q'", "finite"]),
        (lambda g: _tensor(g, "fc.q", scale=(0.1, 0.2)), ["tensor 'fc.q'", "2 entries", "last axis"]),
        (lambda g: _tensor(g, "y", shape=(2, 4, 5)), ["node 'y'", "declares shape [2, 4, 5]", "gives [2, 4, 4]"]),
        (lambda g: dataclasses.replace(g, constants={**g.constants, "fc.bias": g.constants["fc.bias"] * 1.0}),
         ["constant 'fc.bias'", "integers"]),
        (lambda g: dataclasses.replace(g, constants={k: v for k, v in g.constants.items() if k != "y.m"}),
         ["constant 'y.m'", "no value"]),
        (lambda g: dataclasses.replace(g, constants={**g.constants, "fc.q.e": np.array([1, 2])}),
         ["constant 'fc.q.e'", "shape [2]"]),
        (lambda g: _tensor(g, "fc.weight", dtype=IntType(6)), ["constant 'fc.weight'", "i6"]),
        (lambda g: dataclasses.replace(g, outputs=("y", "y")), ["graph output 'y' is listed twice"]),
        (lambda g: _tensor(g, "y", const=True), ["node 'y'", "output 'y' is a constant"]),
    ],
)
def test_structural_problem_names_the_culprit(mutate, expect):
    _problem_with(mutate(tiny_graph()), expect)


def test_verify_raises_one_error_listing_everything():
    g = _tensor(_node(tiny_graph(), 1, op="nope"), "x", scale=0.0)
    g = _node(g, 2, attrs={})
    with pytest.raises(IRError) as info:
        verify(g)
    msg = str(info.value)
    assert msg.startswith("graph 'tiny': 3 problems:\n  - ")
    for part in ("node 'fc.q': unknown op 'nope'", "tensor 'x': scale must be positive",
                 "node 'r': missing attribute 'shape'"):
        assert part in msg


def test_verify_structure_is_silent_on_sound_graphs():
    verify_structure(tiny_graph())


def test_width_violation_names_tensor_need_and_declared_width():
    g = _tensor(tiny_graph(), "fc.acc", dtype=IntType(16))
    assert structural_problems(g) == []
    with pytest.raises(IRError, match=r"tensor 'fc.acc': proven range \[-74152, 74381\] needs i18 but i16 is declared"):
        verify(g)


def test_internal_width_violation_names_node_and_internal():
    g = softmax_graph()
    g = _node(g, 0, internals={"sum": InternalSpec(IntType(16, signed=False))})
    with pytest.raises(IRError, match=r"node 'sm' internal 'sum': proven range .* needs u21 but u16 is declared"):
        verify(g)


def test_stale_range_is_reported():
    g = verify(tiny_graph())
    g = _tensor(g, "s.acc", range=Interval(0, 5))
    with pytest.raises(IRError, match="tensor 's.acc': recorded range"):
        verify(g)


def test_declared_input_range_drives_analysis_and_must_fit_its_type():
    g = _tensor(tiny_graph(), "x", range=Interval(-200, 200))
    with pytest.raises(IRError, match="tensor 'x': proven range \\[-200, 200\\] needs i9 but i8 is declared"):
        verify(g)


def _norm_graph(gamma):
    b = GraphBuilder("norm")
    x = b.input("x", (2, 4), IntType(16))
    s_out, bias = P.layernorm_params(np.asarray(gamma, dtype=float), np.zeros(4))
    ln = b.node("ilayernorm", {"x": x, "bias_int": b.const("bias", bias, IntType(32), s_out)}, "ln", IntType(32),
                s_out)
    m, e = ops.dyadic(s_out / 0.05)
    y = b.node("requantize", {"acc": ln, "m": b.const("m", m, IntType(32)), "e": b.const("e", e, IntType(8))},
               "y", IntType(8), 0.05, {"out_bits": 8})
    return b.finish([y])


def test_layernorm_output_may_have_negative_scales_other_tensors_may_not():
    g = _norm_graph([1.0, -0.5, 2.0, 0.25])
    assert min(g.tensors["ln"].scale) < 0 and min(g.tensors["bias"].scale) < 0
    assert structural_problems(g) == []
    verify(g)
    problems = structural_problems(_tensor(g, "y", scale=-0.05))
    assert problems == ["tensor 'y': scale must be positive, got -0.05"]


def test_weight_scale_runs_along_output_channels():
    g = tiny_graph()
    assert len(g.tensors["fc.weight"].scale) == g.tensors["fc.weight"].shape[0]
    assert structural_problems(g) == []

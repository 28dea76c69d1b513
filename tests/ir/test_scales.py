"""Scale rules: a stored scale that contradicts its op's rule is one clear problem naming
node and tensor (and exit 2 from the CLI); the export's scales come from the same rules."""

from __future__ import annotations

import dataclasses
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ivit_hw import cli, ops
from ivit_hw.ir import GraphBuilder, Interval, IntType, IRError
from ivit_hw.ir.scales import output_scale, scale_rule_problems
from ivit_hw.ir.serialize import GRAPH_FILE, load_graph, save_graph
from ivit_hw.ir.verify import structural_problems, verify
from ivit_hw.ops import params as P

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
from tiny_graphs import tiny_graph  # noqa: E402

I8, I16, I32 = IntType(8), IntType(16), IntType(32)


def _rescale(g, name, scale, **extra):
    return dataclasses.replace(g, tensors={**g.tensors, name: dataclasses.replace(g.tensors[name], scale=scale,
                                                                                   **extra)})


def _one_problem(g) -> str:
    problems = structural_problems(g) or scale_rule_problems(g)
    assert len(problems) == 1, problems
    return problems[0]


def _requant_graph(s_in: float, s_out: float):
    b = GraphBuilder("rq")
    x = b.input("x", (3, 4), I32, s_in, Interval(-1000, 1000))
    m, e = ops.dyadic(s_in / s_out)
    b.node("requantize", {"acc": x, "m": b.const("m", np.asarray(m), I32), "e": b.const("e", np.asarray(e), I8)},
           "y", I8, s_out, {"out_bits": 8}, name="rq")
    return b.finish(["y"]), m, e


def test_requantize_scale_is_checked_to_the_dyadics_precision():
    g, m, e = _requant_graph(0.1, 0.37)
    exact = Fraction(0.1) * 2**e / m  # what m / 2^e really maps 0.1 to
    assert abs(exact / Fraction(0.37) - 1) < Fraction(1, 2**30)  # the dyadic is within 2^-31 of the ratio
    assert scale_rule_problems(g) == []
    assert scale_rule_problems(_rescale(g, "y", float(exact))) == []
    assert scale_rule_problems(_rescale(g, "y", 0.37 * (1 + 1e-12))) == []
    msg = _one_problem(_rescale(g, "y", 0.37 * (1 + 1e-7)))
    assert msg.startswith("node 'rq': tensor 'y' has scale 0.370000037 but op 'requantize' gives 0.37")
    assert "S_acc * 2^e / m" in msg and "relative difference 1.00e-07" in msg


def test_a_contradicting_scale_fails_verify_and_names_node_and_tensor():
    g = _rescale(tiny_graph(), "fc.q", 0.25)
    with pytest.raises(IRError, match=r"^graph 'tiny': node 'fc.q': tensor 'fc.q' has scale 0.25 but op "
                                      r"'requantize' gives 0.2"):
        verify(g)


@pytest.mark.parametrize("name, scale, expect", [
    ("fc.acc", 0.001, "node 'fc.acc': tensor 'fc.acc' has scale 0.001 but op 'linear' gives"),
    ("fc.bias", 0.001, "node 'fc.acc': tensor 'fc.bias' has scale 0.001 but op 'linear' gives"),
    ("r", 0.3, "node 'r': tensor 'r' has scale 0.3 but op 'reshape' gives 0.2 (the input's scales, reshaped)"),
    ("s.acc", 0.05, "node 's.acc': tensor 's.acc' has scale 0.05 but op 'matmul' gives 0.04"),
    ("t", None, "node 't': tensor 't' has scale none but op 'transpose' gives 0.2"),
])
def test_each_rule_names_the_contradicted_tensor(name, scale, expect):
    g = tiny_graph()
    assert scale_rule_problems(g) == []
    assert _one_problem(_rescale(g, name, scale, scale_axis=None)).startswith(expect)  # and nothing downstream


def test_weight_scale_axis_is_data_and_must_be_the_output_channels():
    g = tiny_graph()
    w = g.tensors["fc.weight"]
    assert w.scale_axis == 0 and g.tensors["fc.acc"].scale_axis == 1
    k = w.shape[1]
    msg = _one_problem(_rescale(g, "fc.weight", tuple(0.01 + 0.001 * i for i in range(k)), scale_axis=1))
    assert msg == "fc.acc: the weight scale must run along axis 0 (output channels)"


def _fixed_scale_graph(op, out_scale, attrs):
    b = GraphBuilder("one")
    x = b.input("x", (2, 8), I8, 0.1, Interval(-128, 127))
    b.node(op, {"x": x}, "y", IntType(40), out_scale, attrs, name="n")
    return b.finish(["y"])


def test_fixed_and_derived_output_scales():
    sm = {"x0": P.exp_x0(0.1), "n": 15, "out_bits": 16}
    assert scale_rule_problems(_fixed_scale_graph("shiftmax", 2.0**-15, sm)) == []
    assert _one_problem(_fixed_scale_graph("shiftmax", 2.0**-16, sm)).startswith(
        "node 'n': tensor 'y' has scale 1.52587891e-05 but op 'shiftmax' gives 3.05175781e-05 (2^-(out_bits-1))")
    gelu = {"x0": P.gelu_x0(0.1), "n": 23}
    assert scale_rule_problems(_fixed_scale_graph("shiftgelu", 0.1 / 128, gelu)) == []
    assert "gives 0.00078125" in _one_problem(_fixed_scale_graph("shiftgelu", 0.1 / 64, gelu))
    p = P.ibert_gelu_params(0.1)
    attrs = {k: p[k] for k in ("b_int", "c_int", "one")}
    assert p["out_scale"] < 0  # a = -0.2888: I-BERT GELU may carry a negative scale
    assert scale_rule_problems(_fixed_scale_graph("ibert_gelu", p["out_scale"], attrs)) == []
    assert structural_problems(_fixed_scale_graph("ibert_gelu", p["out_scale"], attrs)) == []
    assert "scale must be positive" in _one_problem(_fixed_scale_graph("shiftgelu", -0.1 / 128, gelu))


def test_output_scale_gives_the_spec_formulas():
    s_w = np.array([0.01, 0.02, 0.04])
    np.testing.assert_array_equal(output_scale("linear", {"x": 0.5, "weight": s_w}), [0.005, 0.01, 0.02])
    assert output_scale("matmul", {"a": 0.5, "b": 0.25}) == 0.125
    folded = output_scale("matmul", {"a": 0.5, "b": 0.25}, {"transpose_b": True, "fold_rsqrt_k": True},
                          shapes={"a": (3, 197, 64)})
    assert folded == 0.125 / 8  # 1 / sqrt(64)
    assert output_scale("shiftmax", {"x": 0.1}, {"x0": -10, "out_bits": 8}) == 2.0**-7
    assert output_scale("ibert_softmax", {"x": 0.1}, {"x0": -7, "b_int": 1, "c_int": 1, "h": 0}) == 2.0**-16
    assert output_scale("shiftgelu", {"x": 0.3}, {"x0": -2}) == 0.3 / 128
    assert output_scale("log_attn_v", {"v": 0.5}) == 0.5 / 2**15
    assert output_scale("log_int_softmax", {"x": 0.1}, {"x0": -7, "b_int": 1, "c_int": 1}) is None
    s_e = 0.02 / 1.4142
    want = 0.02 * (s_e**2 * -0.2888 * 2**14) / 2  # spec section 9: S * S_u / 2
    assert math.isclose(output_scale("ibert_gelu", {"x": 0.02}, {"b_int": -1, "c_int": 1, "one": 1}), want,
                        rel_tol=1e-12)


def test_norm_bias_must_be_on_the_output_scale():
    b = GraphBuilder("norm")
    x = b.input("x", (2, 4), I16, 0.1)
    s_out, bias = P.layernorm_params(np.array([1.0, -0.5, 2.0, 0.25]), np.zeros(4))
    b.node("ilayernorm", {"x": x, "bias_int": b.const("bias", bias, I32, s_out)}, "ln", I32, s_out)
    g = b.finish(["ln"])
    assert scale_rule_problems(g) == []
    assert _one_problem(_rescale(g, "bias", tuple(2 * s_out))).startswith(
        "node 'ln': tensor 'bias' has scale")


def test_cli_exits_2_on_a_scale_contradicting_its_rule(tmp_path, capsys):
    save_graph(tiny_graph(), tmp_path / "g")
    path = tmp_path / "g" / GRAPH_FILE
    path.write_text(path.read_text().replace("scale: 30.0", "scale: 31.0"))
    np.save(tmp_path / "x.npy", np.zeros((4, 8), dtype=np.int8))
    for argv in (["inspect", tmp_path / "g"],
                 ["run", tmp_path / "g", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"]):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"ivit-hw: error: {tmp_path / 'g'}: node 'y': tensor 'y' "
                                                       "has scale 31 but op 'requantize' gives 30")
    assert not (tmp_path / "y.npy").exists()
    with pytest.raises(IRError, match="has scale 31"):
        load_graph(tmp_path / "g")

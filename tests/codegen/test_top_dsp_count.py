"""The Verilog top's multiplier count: the ``budget:N`` plan counts what the rendered RTL instantiates.

The digits model (random weights, quantized with 17-bit and 31-bit requantize multipliers) is rendered
as a model top; the hard multipliers are counted in the text (``ivit_mul18`` instances in the units, one
``a * b`` product per GEMM lane, each lane's operands at most 18 bits) and compared with the plan's
count, which the old one-multiplier-per-lane constants miss.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ivit_hw.codegen.hls.project import select
from ivit_hw.codegen.verilog.constmul import FABRIC_MAX_DIGITS, fabric_stages, naf_digits
from ivit_hw.codegen.verilog.dsp_count import gemm_lane_widths, lane_pieces
from ivit_hw.codegen.verilog.gemm import GEMM_OPS
from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.hwplan import PlanConfig, plan_layers
from ivit_hw.hwplan.costs import MULT_PER_LANE
from ivit_hw.hwplan.dsp import dsp_digits, dsp_pieces
from ivit_hw.ir.types import IRError

pytest.importorskip("torch")

# a GEMM lane's product: an ivit_mul18 named mul<l> (a MULT18X18D on ECP5) or a fabric product m_rp<l>
LANE = re.compile(r"^\s*(?:ivit_mul18 mul\d+ \(|m_rp\d+ <= .*\*)", re.M)
UNIT_MUL18 = re.compile(r"^\s*ivit_mul18 (?!mul\d+ \()\w+ \(", re.M)


@pytest.fixture(scope="module", params=[17, 31], ids=["m17", "m31"])
def graph(request):
    from ivit_hw.frontend.qconfig import QuantConfig
    from ivit_hw.frontend.synthetic import synthetic_graph

    # the ECP5-85k's 156 multipliers fit only the 17-bit multipliers' top
    budget = 156 if request.param == 17 else 260
    return synthetic_graph("vit_digits", cfg=QuantConfig(dyadic_bits=request.param)), budget


def _instantiated(folder) -> tuple[int, int]:
    """(the units' ivit_mul18 instances, GEMM lane products) in the rendered RTL."""
    mul18 = lanes = 0
    for f in sorted((folder / "rtl").glob("*.v")):
        text = f.read_text(encoding="utf-8")
        if f.name != "ivit_mul18.v":
            mul18 += len(UNIT_MUL18.findall(text))
        lanes += len(LANE.findall(text))
    return mul18, lanes


@pytest.mark.parametrize("par", ["1", "budget"])
def test_plan_counts_the_instantiated_multipliers(tmp_path, graph, par):
    graph, budget = graph
    par = f"budget:{budget}" if par == "budget" else par
    man = write_top(graph, tmp_path, "model", par, samples=1)
    mul18, lanes = _instantiated(tmp_path)
    nodes = list(select(graph, "model").nodes)
    gemms = [n for n in nodes if n.op in GEMM_OPS]
    assert all(max(gemm_lane_widths(graph, n)) <= 18 for n in gemms)  # one MULT18X18D per lane product
    assert lanes == sum(r["parallelism"] for r in man["layers"] if r["op"] in GEMM_OPS)
    assert man["dsp"] == mul18 + lanes and man["multipliers"] == lanes
    if par.startswith("budget:"):
        plan = plan_layers(graph, PlanConfig(dsp_budget=budget, element_lanes=False), nodes,
                           pieces=lambda n: lane_pieces(graph, n))
        assert sum(lp.multipliers for lp in plan) == mul18 + lanes <= budget
    # the old count: one multiplier per lane (two for a residual requantize), whatever the widths
    by_name = {n.name: n for n in nodes}
    old = sum((MULT_PER_LANE.get(r["op"], 0) + int(r["op"] == "requantize" and "identity" in by_name[r["node"]].inputs))
              * r["parallelism"] for r in man["layers"])
    assert old != mul18 + lanes


def test_budget_below_one_lane_each_is_one_line(tmp_path, graph):
    graph, _ = graph
    nodes = list(select(graph, "model").nodes)
    floor = sum(lane_pieces(graph, n) for n in nodes)  # every GEMM at one lane, every unit once
    with pytest.raises(IRError, match=rf"budget:{floor - 1}: dsp_budget {floor - 1} is below the {floor} "):
        write_top(graph, tmp_path, "model", f"budget:{floor - 1}", samples=1)
    assert not (tmp_path / "rtl").exists()


def test_dsp_digits_and_pieces():
    # 18 bits: one digit; 19..35: two (17 + up to 18 signed); 36..52: three
    assert [dsp_digits(w) for w in (1, 18, 19, 35, 36, 52, 53)] == [1, 1, 2, 2, 3, 3, 4]
    assert dsp_pieces(32, 32) == 4 and dsp_pieces(20, 18) == 2 and dsp_pieces(16, 18) == 1
    assert dsp_pieces(26, 26, mult_width=27) == 1


@pytest.mark.parametrize("bits", [8, 17, 31])
def test_naf_digits(bits):
    rng = np.random.default_rng(bits)
    for m in [*rng.integers(2 ** (bits - 1), 2**bits, 200), -(2**bits - 1), 2 ** (bits - 1), 0]:
        d = naf_digits(int(m))
        assert sum(s * (1 << k) for k, s in d) == m
        shifts = [k for k, _ in d]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:], strict=False))  # non-adjacent
        assert len(d) <= (bits + 2) // 2


def test_fabric_stages_shape():
    # 0b1011 = 11 = 16 - 4 - 1: three digits, pairs then a pass-through level to the 4-clock latency
    st = fabric_stages("p", "a", 11, 4)
    assert [len(level) for level in st] == [2, 1, 1, 1] and st[-1][0]["name"] == "p"
    assert st[0][0]["expr"] == "-(a <<< 0) + -(a <<< 2)" and st[0][1]["expr"] == "(a <<< 4)"
    wide = int("10" * FABRIC_MAX_DIGITS + "10", 2)  # ten nonzero digits
    assert len(naf_digits(wide)) == FABRIC_MAX_DIGITS + 1 and fabric_stages("p", "a", wide, 4) is None

"""The Verilog top's default plan and its logic estimate (issue 15): ``--top model`` without
``--parallelism`` is ``budget:156``, the largest plan that fits the ECP5-85k (multipliers, block RAM and
the estimated logic), its units rate-matched to the slowest layer; ``--parallelism 1`` stays P = 1 and
an explicit plan over the part is rendered with a warning line per resource.

The digits model with random weights and 17-bit requantize multipliers (as the demo quantizes); its
slowest layer at budget:156 is fc2 at 3 lanes: 17 tokens x 64 outputs x ceil(128 / 3) = 46,784 clocks per
image, so the GELU's 2,176 elements may take 8 * 46,784 // (9 * 2,176) = 19 clocks each: its divider
retires 16 quotient bits per stage (2 stages; 31 stages of one bit at one element a clock), and each
LayerNorm (rows of 64 elements, 1,088 per image: 38 clocks each) needs one spread engine, not seven.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from ivit_hw.cli import main
from ivit_hw.codegen.verilog import top_render
from ivit_hw.codegen.verilog.gemm import GEMM_OPS
from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.types import IRError

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def graph():
    from ivit_hw.frontend.qconfig import QuantConfig
    from ivit_hw.frontend.synthetic import synthetic_graph

    return synthetic_graph("vit_digits", cfg=QuantConfig(dyadic_bits=17))


def test_default_is_the_largest_plan_that_fits(tmp_path, graph):
    man = write_top(graph, tmp_path / "d", "model", None, samples=1)
    explicit = write_top(graph, tmp_path / "b", "model", "budget:156", samples=1)
    assert man["parallelism"] == "budget:156" and man["over_part"] == []
    assert [r["parallelism"] for r in man["layers"]] == [r["parallelism"] for r in explicit["layers"]]
    assert man["predicted_interval"] == 46_784 and man["dsp"] <= 156 and man["bram"] <= 187
    rtl = tmp_path / "d" / "rtl"
    gelu = (rtl / "ivit_blocks_0_mlp_gelu.v").read_text()
    assert "ivit_stagediv #(.NW(31), .DW(31)," in gelu and ".B(16), .LEAD(9)) elem_div" in gelu
    norm = (rtl / "ivit_blocks_0_norm1_out.v").read_text()
    assert norm.count("ivit_blocks_0_norm1_out_sp spread") == 1  # one spread engine (seven at one element a clock)


def test_parallelism_one_stays_one_and_warns(tmp_path, graph, capsys):
    g = str(save_graph(graph, tmp_path / "g"))
    assert main(["codegen", g, "--target", "verilog", "--top", "model", "--parallelism", "1", "--samples", "1",
                 "-o", str(tmp_path / "p1")]) == 0
    out = capsys.readouterr().out
    man = yaml.safe_load((tmp_path / "p1" / "manifest.yaml").read_text())
    assert all(r["parallelism"] == 1 for r in man["layers"] if r["op"] in GEMM_OPS)
    # one weight bank of K x N words per GEMM: more block RAM than the part leaves a plan
    assert man["bram"] > 187
    assert any("DP16KD (block RAM) over the limit of 187 on lfe5u-85f" in w for w in man["over_part"])
    assert "warning: " in out and "DP16KD (block RAM) over the limit of 187" in out and "will not place" in out


def test_an_explicit_wide_plan_is_over_the_logic(tmp_path, graph):
    """P = 16 everywhere: 404 GEMM lanes, far over the multipliers and the logic of the part."""
    man = write_top(graph, tmp_path, "model", "16", samples=1)
    over = " | ".join(man["over_part"])
    assert "MULT18X18D over the limit of 156" in over and "LUT4 (estimated) over the limit" in over
    assert man["lut"] > write_top(graph, tmp_path / "d", "model", None, samples=1)["lut"]


def test_budget_search_is_bound_by_the_logic(tmp_path, monkeypatch):
    """tiny_graph (a linear, q @ q^T, two requantizes): with a logic limit between the estimates of
    budget:10 and budget:20, budget:20 renders a smaller budget whose estimate fits, the largest such; a
    limit below every plan is one error line and nothing written."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tiny_graphs import tiny_graph

    from ivit_hw.ir import infer_ranges

    g = infer_ranges(tiny_graph())
    hi = write_top(g, tmp_path / "hi", "model", "budget:20", samples=1)
    lo = write_top(g, tmp_path / "lo", "model", "budget:10", samples=1)
    assert lo["lut"] < hi["lut"]
    limit = (lo["lut"] + hi["lut"]) // 2
    with monkeypatch.context() as mp:
        mp.setattr(top_render, "logic_limits", lambda part: (10**9, limit))
        man = write_top(g, tmp_path / "fit", "model", "budget:20", samples=1)
    budget = int(man["parallelism"].split(":")[1])
    assert 10 <= budget < 20 and man["lut"] <= limit
    above = write_top(g, tmp_path / "above", "model", f"budget:{budget + 1}", samples=1)  # the real limits
    assert above["parallelism"] == f"budget:{budget + 1}" and above["lut"] > limit
    monkeypatch.setattr(top_render, "logic_limits", lambda part: (10**9, 100))
    with pytest.raises(IRError, match=r"budget:20: the top does not fit lfe5u-85f at budget:20 \(.*LUT4"):
        write_top(g, tmp_path / "none", "model", "budget:20", samples=1)
    assert not (tmp_path / "none" / "rtl").exists()

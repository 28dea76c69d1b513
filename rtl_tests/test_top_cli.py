"""``ivit-hw codegen --target verilog --top ...`` and ``verify`` on a top from the command line, bad input
included (one line, exit 2, nothing written)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml

from ivit_hw.cli import main
from ivit_hw.ir import GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ir.serialize import save_graph

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from test_verilog_cli import _fails  # noqa: E402  (one line, exit 2, the words named)
from tiny_graphs import tiny_graph, tiny_input  # noqa: E402


def test_top_codegen_and_verify(tmp_path, capsys):
    """tiny_graph (linear, requantize, a reshape+transpose view, q @ q^T from one fork, requantize) as a top."""
    g = str(save_graph(tiny_graph(), tmp_path / "g"))
    np.save(tmp_path / "x.npy", tiny_input(batch=3))
    out = tmp_path / "top"
    assert main(["codegen", g, "--target", "verilog", "--top", "model", "--parallelism", "3", "--tb-inputs",
                 str(tmp_path / "x.npy"), "-o", str(out)]) == 0
    man = yaml.safe_load((out / "manifest.yaml").read_text())
    assert man["top"] == "model" and man["samples"] == 3
    assert [r["parallelism"] for r in man["layers"] if r["macs"]] == [3, 3]  # K = 8 (padded), K = 3
    assert (out / "rtl" / "ivit_top.v").is_file()
    capsys.readouterr()
    assert main(["verify", str(out), "--sim", "icarus"]) == 0
    text = capsys.readouterr().out
    assert "bit-exact on icarus" in text and "3 image(s) with stalls" in text and "MAC utilisation" in text


def _with_add() -> object:
    b = GraphBuilder("adder")
    x = b.input("x", (2, 4), IntType(8), 0.1, Interval(-128, 127))
    y = b.node("add", {"a": x, "b": x}, "y", IntType(9), 0.1)
    return infer_ranges(b.finish([y]))


def test_top_bad_input(tmp_path, capsys):
    g = str(save_graph(tiny_graph(), tmp_path / "g"))
    out = tmp_path / "out"
    # an explicit P that does not divide the layer's K (8)
    _fails(["codegen", g, "--target", "verilog", "--top", "model", "--parallelism", "1,fc.acc=3", "-o", str(out)],
           capsys, "fc.acc", "does not divide")
    _fails(["codegen", g, "--target", "verilog", "--top", "model", "--parallelism", "x", "-o", str(out)],
           capsys, "--parallelism")
    _fails(["codegen", g, "--target", "verilog", "--top", "block:nothing", "-o", str(out)], capsys, "nothing")
    # an op without RTL
    a = str(save_graph(_with_add(), tmp_path / "a"))
    _fails(["codegen", a, "--target", "verilog", "--top", "model", "-o", str(out)], capsys, "y", "'add'", "no RTL")
    assert not out.exists()


def test_demo_top_step_renders_and_reports(tmp_path, digits_graph_m17, monkeypatch):
    """make demo's model-top step: the top rendered at budget:156 from the demo folder's graph (17-bit
    multipliers, as the demo quantizes), the simulation's figures in report.json and report.md (the simulation
    itself is faked here; the Verilator tests run it)."""
    import json

    import ivit_hw.codegen.verilog.demo_top_step as step

    save_graph(digits_graph_m17, tmp_path / "model.ivit")
    (tmp_path / "report.md").write_text("# demo\n")
    seen = {}

    def fake_run_top(out, man, sim, **kw):
        seen.update(sim=sim, layers={r["node"]: r["parallelism"] for r in man["layers"] if r["macs"]},
                    golden=(out / man["golden_top"]).is_file(), samples=man["samples"])
        return {"passed": 2, "failed": 0, "timing": {"latency": 1000, "interval": 69632.0}}

    monkeypatch.setattr(step, "run_top", fake_run_top)
    res = step.run_rtl_top_demo(tmp_path, 2)
    assert seen["sim"] == "verilator" and seen["golden"] and seen["samples"] == 2
    # 108 MULT18X18D in the units leave 48 of the 156 for GEMM lanes: P = 4 qkv, 2 fc1 and fc2, 1 elsewhere
    # (46 lanes); 2,380,928 MACs / 46 / 69,632 clocks = 74.3 %
    assert seen["layers"]["blocks.0.attn.qkv.acc"] == 4 and seen["layers"]["blocks.0.mlp.fc1.acc"] == 2
    assert res["ok"] and res["multipliers"] == 46 and res["dsp"] == 154
    assert round(100 * res["mac_utilisation"], 1) == 74.3
    assert json.loads((tmp_path / "report.json").read_text())["rtl_top"]["interval"] == 69632.0
    assert "## RTL model top" in (tmp_path / "report.md").read_text()


def test_demo_top_step_refuses_a_top_that_does_not_fit(tmp_path, digits_graph):
    """With 31-bit multipliers the digits top needs more than the ECP5-85k's 156 MULT18X18D even at one lane
    per GEMM: the step reports the plan's one line instead of rendering."""
    import ivit_hw.codegen.verilog.demo_top_step as step

    save_graph(digits_graph, tmp_path / "model.ivit")
    res = step.rtl_top_demo_step(tmp_path / "model.ivit", np.zeros((1, 1, 8, 8), dtype=np.int64), tmp_path / "top")
    assert "budget:156: dsp_budget 156 is below the" in res["error"] and not (tmp_path / "top").exists()
    assert step.summary_line(res).startswith("RTL model top: not verified (--parallelism budget:156")

"""examples/unit_timing.py with synthesis stubbed: worst-looking first, one log line per unit, a rerun
places only what changed, and the report lists the rows slowest first and names those under 150 MHz."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ivit_hw.ir.serialize import save_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
from load_example import load_example  # noqa: E402
from tiny_graphs import tiny_graph  # noqa: E402


def _load():
    return load_example("unit_timing")


def test_widest_bus_and_priority_order():
    ut = _load()
    assert ut.widest_bus("wire [7:0] a; reg signed [35:0] b; wire c;") == 36
    assert ut.widest_bus("wire c;") == 0
    units = [{"op": "requantize", "row": 64, "t": "wire [40:0] p;"}, {"op": "shiftgelu", "row": 128, "t": ""},
             {"op": "requantize", "row": 64, "t": "wire [50:0] p;"}, {"op": "ilayernorm", "row": 192, "t": ""},
             {"op": "shiftmax", "row": 197, "t": ""}, {"op": "shiftgelu", "row": 768, "t": ""},
             {"op": "shiftmax", "row": 17, "t": ""}, {"op": "ilayernorm", "row": 64, "t": ""}]
    order = sorted(units, key=lambda u: ut.priority(u, u["t"]))
    assert [(u["op"], u["row"], u["t"]) for u in order] == [
        ("shiftmax", 17, ""), ("shiftmax", 197, ""), ("ilayernorm", 64, ""), ("ilayernorm", 192, ""),
        ("shiftgelu", 768, ""), ("shiftgelu", 128, ""), ("requantize", 64, "wire [50:0] p;"),
        ("requantize", 64, "wire [40:0] p;")]


def test_sweep_logs_each_unit_reruns_only_changes_and_reports_slowest_first(tmp_path, monkeypatch, capsys):
    ut = _load()
    graph_dir = tmp_path / "tiny.ivit"
    save_graph(tiny_graph(), graph_dir)
    fmax = {"ivit_fc_q": 171.5, "ivit_y": 98.25}
    calls = []

    def fake(sources, top, device, **kw):
        calls.append(top)
        return {"top": top, "device": device, "lut": 3, "ff": 4, "dsp": 1, "bram": 0, "lutram": 0, "carry": 0,
                "fmax_mhz": fmax[top], "meets": fmax[top] >= 150, "critical_path": [], "capacity": {}}

    monkeypatch.setattr(ut, "synth_design", fake)
    args = argparse.Namespace(out=str(tmp_path / "ut"), graphs=[str(graph_dir)], ops=None, units=None,
                              device="ecp5-25k", jobs=1, again=False, report=False, render=False)
    assert ut.run(args) == 0
    assert sorted(calls) == ["ivit_fc_q", "ivit_y"]
    log = tmp_path / "ut" / "tiny.sweep.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["module"] for r in rows) == ["ivit_fc_q", "ivit_y"]
    assert all(len(r["sha"]) == 16 and r["graph"] == "tiny" for r in rows)

    calls.clear()
    assert ut.run(args) == 0  # nothing changed: nothing placed again
    assert calls == []
    rtl = tmp_path / "ut" / "tiny" / "rtl" / "ivit_y.v"
    rtl.write_text(rtl.read_text() + "// changed\n")
    assert ut.run(args) == 0  # only the unit whose text changed
    assert calls == ["ivit_y"]

    md = (tmp_path / "ut" / "unit_timing.md").read_text()
    assert "tiny: 2 of 2" in md and "Below 150 MHz: tiny y 98.25." in md
    assert md.index("| tiny | y |") < md.index("| tiny | fc.q |")
    assert "**NO**" in md.split("| tiny | y |")[1].splitlines()[0]
    assert (tmp_path / "ut" / "unit_timing.png").stat().st_size > 0

"""``ivit-hw synth`` without the EDA tools: device names, the bad-device exit, slowest-first ordering
(synthesis stubbed) and the configuration key of ``--distinct``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ivit_hw.eda import synth, synth_command
from ivit_hw.ir.serialize import save_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
from cli_helpers import assert_one_line_error, run_cli  # noqa: E402
from tiny_graphs import tiny_graph  # noqa: E402


def test_device_names_and_alias():
    assert synth.resolve_device("ecp5").name == "ecp5-25k"
    small, big = synth.resolve_device("ecp5-25k"), synth.resolve_device("ecp5-85k")
    assert small.pnr_args[0] == "--25k" and big.pnr_args[0] == "--85k"
    assert big.capacity["dsp"] == 156 and big.capacity["bram"] == 208
    assert small.capacity["dsp"] == 28 and small.capacity["bram"] == 56
    xc7 = synth.resolve_device("xc7")
    assert xc7.family == "xc7" and xc7.pnr_args is None  # no open place and route for Xilinx
    with pytest.raises(synth.UnknownDevice, match="'ice40'.*ecp5-85k"):
        synth.resolve_device("ice40")


@pytest.fixture()
def rendered(tmp_path, capsys):
    """tiny_graph's two requantize units rendered for Verilog."""
    graph_dir, out = tmp_path / "g.ivit", tmp_path / "rtl"
    save_graph(tiny_graph(), graph_dir)
    code, _, err = run_cli(capsys, "codegen", graph_dir, "--target", "verilog", "-o", out)
    assert code == 0, err
    return out


def test_unknown_device_is_one_line_exit_2_and_writes_nothing(rendered, capsys):
    before = sorted(p.name for p in rendered.rglob("*"))
    code, out, err = run_cli(capsys, "synth", rendered, "--device", "ecp5-45k")
    assert_one_line_error(code, err, "'ecp5-45k'", "ecp5-25k", "ecp5-85k", "xc7")
    assert out == ""
    assert sorted(p.name for p in rendered.rglob("*")) == before


def test_synth_prints_and_writes_the_slowest_unit_first(rendered, capsys, monkeypatch):
    fmax = {"ivit_fc_q": 171.5, "ivit_y": 98.25}  # the manifest lists fc.q first
    seen = []

    def fake(sources, top, device, **kw):
        seen.append((top, device, kw["work"].parent.name))
        return {"top": top, "device": device, "lut": 1, "ff": 2, "dsp": 0, "bram": 0, "lutram": 0, "carry": 0,
                "fmax_mhz": fmax[top], "meets": fmax[top] >= kw["freq_mhz"], "critical_path": [], "capacity": {}}

    monkeypatch.setattr(synth_command, "synth_design", fake)
    monkeypatch.setattr(synth_command, "tools_for", lambda device: None)
    code, out, err = run_cli(capsys, "synth", rendered, "--device", "ecp5", "--jobs", "1")
    assert code == 0, err
    assert sorted(seen) == [("ivit_fc_q", "ecp5-25k", "synth_ecp5-25k"), ("ivit_y", "ecp5-25k", "synth_ecp5-25k")]
    table = [line for line in out.splitlines() if line.startswith("| ") and "MHz" not in line and "node" not in line]
    assert [line.split("|")[1].strip() for line in table] == ["y", "fc.q"]
    assert "98.2" in table[0] or "98.3" in table[0]
    assert "below 150 MHz: y" in out
    doc = json.loads((rendered / "synth.json").read_text())
    assert doc["device"] == "ecp5-25k"
    assert [r["node"] for r in doc["units"]] == ["y", "fc.q"]
    md = (rendered / "synth.md").read_text()
    assert md.index("| y |") < md.index("| fc.q |")


def test_slowest_first_keeps_rows_without_fmax_last_in_order():
    rows = [{"n": "a", "fmax_mhz": None}, {"n": "b", "fmax_mhz": 200.0}, {"n": "c", "fmax_mhz": 120.0},
            {"n": "d", "fmax_mhz": None}]
    assert [r["n"] for r in synth.slowest_first(rows)] == ["c", "b", "a", "d"]


def test_config_key_masks_constants_and_module_name_but_not_widths():
    a = "module ivit_a (input wire [7:0] x);\n  wire [15:0] k = 16'sh1F3; wire b = 1'b1;\nendmodule"
    b = a.replace("ivit_a", "ivit_b").replace("16'sh1F3", "16'sh00A")
    c = a.replace("[15:0] k = 16'sh1F3", "[16:0] k = 17'sh1F3")
    assert synth_command.config_key(a, "ivit_a") == synth_command.config_key(b, "ivit_b")
    assert synth_command.config_key(a, "ivit_a") != synth_command.config_key(c, "ivit_a")


def test_synth_of_a_top_reports_the_planned_counts_beside_the_used(tmp_path, capsys, monkeypatch):
    """A model top: synth.json and synth.md give the plan's multipliers and block RAMs (the manifest's) next
    to yosys's counts."""
    graph_dir, out = tmp_path / "g.ivit", tmp_path / "top"
    save_graph(tiny_graph(), graph_dir)
    code, printed, err = run_cli(capsys, "codegen", graph_dir, "--target", "verilog", "--top", "model", "-o", out)
    assert code == 0, err
    assert "planned: " in printed and " DP16KD" in printed

    def fake(sources, top, device, **kw):
        return {"top": top, "device": device, "lut": 10, "ff": 20, "dsp": 3, "bram": 7, "lutram": 0, "carry": 0,
                "fmax_mhz": 160.0, "meets": True, "critical_path": [], "capacity": {}}

    monkeypatch.setattr(synth_command, "synth_design", fake)
    monkeypatch.setattr(synth_command, "tools_for", lambda device: None)
    manifest = synth_command.read_manifest(out)
    code, printed, err = run_cli(capsys, "synth", out, "--device", "ecp5-85k")
    assert code == 0, err
    row = json.loads((out / "synth.json").read_text())["units"][0]
    assert row["planned"] == {"dsp": manifest["dsp"], "bram": manifest["bram"]}
    assert (f"planned {manifest['dsp']} multipliers and {manifest['bram']} block RAMs" in printed
            and "used 3 DSP and 7 BRAM" in printed)
    # the throughput figures at that Fmax: the plan's interval until verify has measured one
    interval = manifest["predicted_interval"]
    assert row["interval"] == interval and row["images_per_s"] == 160.0e6 / interval
    assert f"{interval:,} cycles/image (predicted by the plan" in printed
    assert f"{160.0e6 / interval:,.1f} images/s at the Fmax of 160.0 MHz" in printed
    util = manifest["macs_per_image"] / manifest["multipliers"] / interval
    assert f"MAC utilisation {100 * util:.1f} %" in printed

    sim = out / "sim_top_verilator"
    sim.mkdir()
    (sim / "result.json").write_text(json.dumps({"timing": {"latency": 900, "interval": 2 * interval}}))
    code, printed, err = run_cli(capsys, "synth", out, "--device", "ecp5-85k")
    assert code == 0, err
    assert f"{2 * interval:,} cycles/image (measured by verify on verilator)" in printed
    assert f"{80.0e6 / interval:,.1f} images/s" in printed


def test_seeds_reach_synthesis_and_a_top_runs_them_jobs_at_a_time(tmp_path, capsys, monkeypatch):
    """``--seeds 3``: a top's synthesis gets seeds 1..3 and ``--jobs`` runs of them at a time; several units
    run their seeds one at a time (the units already run ``--jobs`` at a time); the table's note names the
    best seed and every run's Fmax."""
    graph_dir, top, units = tmp_path / "g.ivit", tmp_path / "top", tmp_path / "units"
    save_graph(tiny_graph(), graph_dir)
    for args, out in (((), units), (("--top", "model"), top)):
        code, _, err = run_cli(capsys, "codegen", graph_dir, "--target", "verilog", *args, "-o", out)
        assert code == 0, err
    seen = []

    def fake(sources, top, device, **kw):
        seen.append((list(kw["seeds"]), kw["seed_jobs"]))
        return {"top": top, "device": device, "lut": 1, "ff": 2, "dsp": 0, "bram": 0, "lutram": 0, "carry": 0,
                "fmax_mhz": 151.5, "meets": True, "critical_path": [], "capacity": {}, "seed": 2,
                "fmax_by_seed": {1: 140.25, 2: 151.5, 3: None}}

    monkeypatch.setattr(synth_command, "synth_design", fake)
    monkeypatch.setattr(synth_command, "tools_for", lambda device: None)
    code, printed, err = run_cli(capsys, "synth", top, "--device", "ecp5-85k", "--seeds", "3", "--jobs", "2")
    assert code == 0, err
    assert seen == [([1, 2, 3], 2)]
    assert "best of 3 placement seeds (seed 1: 140.2, seed 2: 151.5, seed 3: - MHz); nextpnr.log is seed 2's" \
        in printed
    seen.clear()
    code, _, err = run_cli(capsys, "synth", units, "--device", "ecp5", "--seeds", "2", "--jobs", "2")
    assert code == 0, err
    assert seen == [([1, 2], 1), ([1, 2], 1)]


def test_seeds_below_one_is_one_line_exit_2_and_writes_nothing(rendered, capsys):
    before = sorted(p.name for p in rendered.rglob("*"))
    code, out, err = run_cli(capsys, "synth", rendered, "--device", "ecp5", "--seeds", "0")
    assert_one_line_error(code, err, "--seeds 0", "at least 1")
    assert out == "" and sorted(p.name for p in rendered.rglob("*")) == before


def test_place_route_seeds_keeps_the_best_run_and_its_log(tmp_path, monkeypatch):
    """Several seeds: the best Fmax wins (a run without one ranks last), its log and report become
    nextpnr.log and report.json; one seed runs as before, without per-seed files."""
    fmax = {1: 120.5, 2: None, 3: 131.0, 4: 99.0}

    def fake(work, top, dev, freq, seed, env, router="router1", suffix=""):
        (work / f"nextpnr{suffix}.log").write_text(f"log of seed {seed}")
        (work / f"report{suffix}.json").write_text(f"report of seed {seed}")
        row = {"fmax_mhz": fmax[seed], "critical_path": [f"n{seed}"]}
        return row if fmax[seed] is not None else {**row, "pnr_error": "too big"}

    monkeypatch.setattr(synth, "_nextpnr", fake)
    dev = synth.resolve_device("ecp5-85k")
    row = synth.place_route_seeds(tmp_path, "t", dev, 150.0, [1, 2, 3, 4], {}, "router2", jobs=2)
    assert row["fmax_mhz"] == 131.0 and row["seed"] == 3 and row["critical_path"] == ["n3"]
    assert row["fmax_by_seed"] == fmax
    assert (tmp_path / "nextpnr.log").read_text() == "log of seed 3"
    assert (tmp_path / "report.json").read_text() == "report of seed 3"
    single = tmp_path / "one"
    single.mkdir()
    row = synth.place_route_seeds(single, "t", dev, 150.0, [4], {}, "router2")
    assert row["fmax_mhz"] == 99.0 and row["seed"] == 4 and "fmax_by_seed" not in row
    assert sorted(p.name for p in single.iterdir()) == ["nextpnr.log", "report.json"]

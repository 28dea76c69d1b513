"""``ivit-hw codegen --target verilog``, ``verify`` and ``synth`` from the command line, bad input included."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from unit_graphs import CONFIGS, requantize_c, shiftmax_a

from ivit_hw import ops
from ivit_hw.cli import main
from ivit_hw.codegen.verilog.render import LIB_FILES, render_unit, unit_view
from ivit_hw.codegen.verilog.vectors import stream_vectors
from ivit_hw.codegen.verilog.widths import MissingRange
from ivit_hw.ir import GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ir.serialize import load_graph, save_graph
from ivit_hw.ops.params import exp_x0
from ivit_hw.runtime.golden import dump_node_cases, load_golden_case

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from tiny_graphs import tiny_graph  # noqa: E402


def _graph_dir(tmp_path: Path, graph, name: str = "g") -> str:
    return str(save_graph(graph, tmp_path / name))


def test_codegen_writes_every_unit_deterministically(tmp_path, capsys):
    g = _graph_dir(tmp_path, tiny_graph())
    assert main(["codegen", g, "--target", "verilog", "-o", str(tmp_path / "a")]) == 0
    assert main(["codegen", g, "--target", "verilog", "-o", str(tmp_path / "b")]) == 0
    manifest = yaml.safe_load((tmp_path / "a" / "manifest.yaml").read_text())
    assert manifest["target"] == "verilog"
    assert [u["op"] for u in manifest["units"]] == ["requantize", "requantize"]
    for unit in manifest["units"]:
        text = (tmp_path / "a" / unit["file"]).read_text()
        assert f"module {unit['module']} (" in text and "y_TDATA" in text and "ap_rst_n" in text
        assert (tmp_path / "a" / unit["golden"]).is_file()
    for f in sorted((tmp_path / "a").rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f


def _fails(args: list[str], capsys, *words: str) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ivit-hw: error:") and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    g = _graph_dir(tmp_path, tiny_graph())
    out = tmp_path / "out"
    # a node without RTL (a GEMM)
    _fails(["codegen", g, "--target", "verilog", "-o", str(out), "--nodes", "fc.acc"], capsys, "fc.acc", "linear")
    assert not out.exists()
    # a node that does not exist
    _fails(["codegen", g, "--target", "verilog", "-o", str(out), "--nodes", "nope"], capsys, "nope")
    assert not out.exists()
    # the output folder is a file
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    _fails(["codegen", g, "--target", "verilog", "-o", str(blocker)], capsys, str(blocker))
    # ... and handed to verify / synth as a rendered folder
    _fails(["verify", str(blocker), "--sim", "icarus"], capsys, str(blocker), "is a file")
    _fails(["synth", str(blocker)], capsys, str(blocker), "is a file")
    assert blocker.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["file", "g"]
    # an unknown op in the graph file
    bad = Path(_graph_dir(tmp_path, tiny_graph(), "bad"))
    doc = (bad / "graph.yaml").read_text().replace("op: matmul", "op: warp_drive")
    (bad / "graph.yaml").write_text(doc)
    _fails(["codegen", str(bad), "--target", "verilog", "-o", str(out)], capsys, "warp_drive")
    assert not out.exists()


def test_unsupported_width_exits_2(tmp_path, capsys):
    b = GraphBuilder("wide")
    x = b.input("x", (2, 8), IntType(8, signed=False), 0.1, Interval(0, 255))
    y = b.node("shiftmax", {"x": x}, "y", IntType(16), 2.0**-15, {"x0": exp_x0(0.1)}, name="sm_u8")
    g = _graph_dir(tmp_path, b.finish([y]))
    out = tmp_path / "out"
    _fails(["codegen", g, "--target", "verilog", "-o", str(out)], capsys, "sm_u8", "u8", "signed")
    assert not out.exists()


def test_verify_passes_then_catches_a_wrong_golden_value(tmp_path, capsys):
    out = tmp_path / "rq"
    assert main(["codegen", _graph_dir(tmp_path, requantize_c()), "--target", "verilog", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--sim", "icarus"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "2 passed, 0 failed"
    golden = out / "golden" / "rq_c.npz"
    with np.load(golden) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["out"] = arrays["out"].astype(np.int64)
    arrays["out"].reshape(-1)[3] += 1
    np.savez(golden, **arrays)
    assert main(["verify", str(out), "--sim", "icarus"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.endswith("failed") and not last.endswith(" 0 failed"), last


def test_verify_of_a_folder_without_manifest_exits_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _fails(["verify", str(tmp_path / "empty"), "--sim", "icarus"], capsys, "manifest")


def test_synth_smoke_ecp5_yosys(tmp_path):
    """One tiny synthesis (no place and route): the unit maps to ECP5 cells with DSPs for its product."""
    from ivit_hw.eda.synth import synth_unit

    out = tmp_path / "sm"
    assert main(["codegen", _graph_dir(tmp_path, shiftmax_a()), "--target", "verilog", "-o", str(out),
                 "--nodes", "sm_a"]) == 0
    manifest = yaml.safe_load((out / "manifest.yaml").read_text())
    unit = manifest["units"][0]
    lib = [out / "rtl" / n for n in LIB_FILES]
    row = synth_unit(out / "synth", lib + [out / unit["file"]], unit["module"], "ecp5", 150.0,
                     Path(".cache") / "yowasp", place_route=False)
    assert row["lut"] > 50 and row["ff"] > 50 and row["dsp"] >= 1 and row["bram"] >= 1, row



def test_ecp5_fifos_map_to_dp16kd_in_the_widest_shape_with_their_depth(tmp_path):
    """``ivit_fifo`` under IVIT_ECP5: 1024 words of 20 bits take two DP16KD in 1024 x 18 mode, 2048 of
    9 bits one in 2048 x 9, 4096 of 9 bits three in 4096 x 4; every block reads through OUTREG."""
    import json

    from ivit_hw.eda.synth import synth_unit

    shapes = [(20, 10), (9, 11), (9, 12)]  # (W, AW)
    ports = []
    body = []
    for i, (w, aw) in enumerate(shapes):
        ports += [f"input wire [{w - 1}:0] d{i}", f"input wire v{i}", f"output wire r{i}",
                  f"output wire [{w - 1}:0] q{i}", f"output wire o{i}", f"input wire a{i}"]
        body.append(f"    ivit_fifo #(.W({w}), .AW({aw})) f{i} (.clk(clk), .rst(rst), .in_data(d{i}), "
                    f".in_valid(v{i}), .in_ready(r{i}), .out_data(q{i}), .out_valid(o{i}), .out_ready(a{i}));")
    top = tmp_path / "fifo_top.v"
    top.write_text("module fifo_top (input wire clk, input wire rst, " + ", ".join(ports) + ");\n"
                   + "\n".join(body) + "\nendmodule\n")
    lib = Path(__file__).parents[1] / "ivit_hw" / "templates" / "verilog" / "lib"
    work = tmp_path / "synth"
    row = synth_unit(work, [lib / "ivit_fifo.v", lib / "ivit_skid.v", top], "fifo_top", "ecp5", 150.0,
                     Path(".cache") / "yowasp", place_route=False)
    assert row["bram"] == 2 + 1 + 3, row
    modules = json.loads((work / "fifo_top.json").read_text())["modules"]
    # each ivit_bram shape is its own (kept) module holding one DP16KD; count the instances of each
    block = {name: next(c for c in m["cells"].values() if c["type"] == "DP16KD") for name, m in modules.items()
             if any(c["type"] == "DP16KD" for c in m["cells"].values())}
    uses = [cell["type"] for m in modules.values() for cell in m["cells"].values() if cell["type"] in block]
    widths = sorted(int(block[t]["parameters"]["DATA_WIDTH_B"], 2) for t in uses)
    assert widths == [4, 4, 4, 9, 18, 18], widths
    assert {block[t]["parameters"]["REGMODE_B"] for t in uses} == {"OUTREG"}

# ----------------------------------------------------------------------------- traced multi-image stimulus


def _pos_embed_requant(rows: int = 3, c: int = 8):
    """The digits model's patch embedding in small: acc [rows, c] per image plus a *constant* identity
    (a position embedding, no batch axis), per-channel m/e, scalar m_id/e_id, half-even rounding."""
    b = GraphBuilder("pos_rq")
    acc = b.input("acc", (rows, c), IntType(20), 1.0, Interval(-(2**19), 2**19 - 1))
    m, e = ops.dyadic(0.002 * (1 + np.arange(c) / 5.0))
    mi, ei = ops.dyadic(np.array(0.3))
    out_scale = 2.0 ** np.asarray(e, dtype=np.float64) / np.asarray(m, dtype=np.float64)  # S_acc = 1
    pos_scale = out_scale * float(mi) / 2.0 ** float(ei)  # S_pos * 2^e_id / m_id = S_out
    pos = np.arange(rows * c, dtype=np.int64).reshape(rows, c) * 97 - 1000
    ins = {"acc": acc, "m": b.const("m", np.asarray(m), IntType(32)),
           "e": b.const("e", np.asarray(e), IntType(8, signed=False)),
           "identity": b.const("pos_embed", pos, IntType(16), tuple(float(v) for v in pos_scale)),
           "m_id": b.const("m_id", np.asarray(mi), IntType(32)), "e_id": b.const("e_id", np.asarray(ei),
                                                                                  IntType(8, signed=False))}
    y = b.node("requantize", ins, "y", IntType(16), tuple(float(v) for v in out_scale),
               {"out_bits": 16, "rounding": "half_even"}, name="pe.out")
    return b.finish([y])


def test_traced_multi_image_requantize_with_a_constant_identity_verifies(tmp_path, capsys, monkeypatch):
    """The stall of the demo's RTL step: 3 traced images, 3 rows each, the identity a constant without a
    batch axis. Every stream must carry one element per output element, and the unit must pass."""
    g = _graph_dir(tmp_path, _pos_embed_requant())
    graph = load_graph(g)
    acc = np.random.default_rng(5).integers(-(2**19), 2**19, size=(3, 3, 8))
    dump_node_cases(graph, {"acc": acc}, tmp_path / "cases")
    case = load_golden_case(tmp_path / "cases" / "pe.out.npz")
    assert case.inputs["acc"].shape == (3, 3, 8) and case.inputs["identity"].size == 24  # one image's worth
    vec = stream_vectors("requantize", {**case.inputs, **case.params}, case.output)
    assert len(vec["in_acc"]) == len(vec["in_identity"]) == len(vec["out"]) == 72
    # the identity stream repeats the constant once per image, in the output's element order
    assert np.array_equal(vec["in_identity"], np.tile(case.inputs["identity"].reshape(-1), 3))
    monkeypatch.chdir(tmp_path)  # relative folders, as `make demo` passes them
    assert main(["codegen", "g", "--target", "verilog", "-o", "rtl", "--cases", "cases", "--nodes", "pe.out"]) == 0
    capsys.readouterr()
    assert main(["verify", "rtl", "--sim", "icarus"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "2 passed, 0 failed"


def test_write_job_rejects_an_input_stream_shorter_than_the_output(tmp_path):
    from ivit_hw.eda.cocotb_run import write_job

    unit = {"node": "pe.out", "module": "m", "ports": {"in": [], "out": {}}, "row": 8, "latency_cycles": 8}
    vec = {"in_acc": np.zeros(72, np.int64), "in_identity": np.zeros(24, np.int64), "out": np.zeros(72, np.int64)}
    with pytest.raises(ValueError, match=r"pe\.out: stream 'in_identity' has 24 elements, the output 72"):
        write_job(tmp_path / "job", unit, [], vec)
    assert not (tmp_path / "job").exists()


# ----------------------------------------------------------------------------- widths from the stored graph

NO_ANALYSIS_MODULES = ("ivit_hw.ir.analysis", "ivit_hw.ir.verify", "ivit_hw.ir.serialize", "ivit_hw.ir")


def _forbid_analysis(monkeypatch) -> None:
    def no_analysis(*args, **kwargs):
        raise AssertionError("the Verilog renderer ran the range analysis")

    for module in NO_ANALYSIS_MODULES:
        monkeypatch.setattr(sys.modules[module], "infer_ranges", no_analysis)


def test_units_render_from_the_stored_graph_without_range_analysis(tmp_path, monkeypatch):
    """Every unit configuration (and a constant identity) renders the same text from the file as stored,
    with the range analysis patched to raise, as from the analysed graph in memory: every width comes
    from the stored ranges and internals."""
    graphs = [fn() for fns in CONFIGS.values() for fn in fns] + [infer_ranges(_pos_embed_requant())]
    analysed = [render_unit(unit_view(gr, gr.nodes[0])) for gr in graphs]
    folders = [save_graph(gr, tmp_path / gr.name) for gr in graphs]
    _forbid_analysis(monkeypatch)
    stored = [load_graph(f, widths=False) for f in folders]  # the file as stored: no check, no analysis
    assert [render_unit(unit_view(gr, gr.nodes[0])) for gr in stored] == analysed


def test_a_missing_internal_is_one_clear_error_naming_node_and_internal(tmp_path, monkeypatch, capsys):
    g = Path(_graph_dir(tmp_path, _pos_embed_requant()))
    doc = yaml.safe_load((g / "graph.yaml").read_text())
    del doc["nodes"][0]["internals"]["prod_id"]
    (g / "graph.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    stored = load_graph(g, widths=False)
    with pytest.raises(MissingRange, match=r"node 'pe\.out': internal 'prod_id' has no stored type and range"):
        unit_view(stored, stored.node("pe.out"))
    # through the CLI, handed the graph as stored (load_graph itself would re-derive the internal)
    import ivit_hw.codegen.commands as commands

    monkeypatch.setattr(commands, "load_graph", lambda folder: load_graph(folder, widths=False))
    _forbid_analysis(monkeypatch)
    out = tmp_path / "out"
    _fails(["codegen", str(g), "--target", "verilog", "-o", str(out)], capsys, "pe.out", "prod_id")
    assert not out.exists()


def test_dp16kd_rom_packing_puts_word_i_at_bits_20_i_of_its_initval_row():
    """The ECP5 requantize ROM contents: 18-bit slices per block, 16 words per INITVAL in 20-bit slots
    (the layout yosys's own ECP5 memory mapping writes), two's complement, zero past the values."""
    from ivit_hw.codegen.verilog.units_common import dp16kd_initvals

    vals = [-1, 5, 2**20 + 3] + [0] * 14 + [7]  # word 17 opens INITVAL_01 of each block
    lo, hi = dp16kd_initvals(vals, 32)
    assert len(lo) == len(hi) == 64
    assert lo[0] == "320'h" + "%080X" % ((3 << 40) | (5 << 20) | 0x3FFFF)
    assert hi[0] == "320'h" + "%080X" % ((4 << 40) | 0x3FFF)  # bits 18..31: -1 -> 0x3FFF, 2^20+3 -> 4
    assert lo[1] == "320'h" + "%080X" % (7 << 20) and hi[1] == "320'h" + "0" * 80
    assert all(v == "320'h" + "0" * 80 for v in lo[2:] + hi[2:])
    with pytest.raises(ValueError):
        dp16kd_initvals([0] * 1025, 8)


def test_hierarchical_synthesis_counts_every_module_instance(tmp_path):
    """``synth_design(..., hierarchical=True)`` (what ``synth`` does for a model top: synth_ecp5 -noflatten)
    reads the whole design's counts: two instances of a registered 8 x 8 multiplier are 2 MULT18X18D, 32 FF."""
    from ivit_hw.eda.synth import synth_design

    src = tmp_path / "h.v"
    src.write_text(
        "module mac8 (input wire clk, input wire signed [7:0] a, input wire signed [7:0] b,\n"
        "             output reg signed [15:0] p);\n    always @(posedge clk) p <= a * b;\nendmodule\n"
        "module htop (input wire clk, input wire signed [7:0] a, input wire signed [7:0] b,\n"
        "             input wire signed [7:0] c, output wire signed [15:0] p, output wire signed [15:0] q);\n"
        "    mac8 u0 (.clk(clk), .a(a), .b(b), .p(p));\n    mac8 u1 (.clk(clk), .a(c), .b(b), .p(q));\nendmodule\n")
    row = synth_design([src], "htop", "ecp5-85k", work=tmp_path / "w", place_route=False, hierarchical=True,
                       cache=Path(".cache") / "yowasp")
    assert row["dsp"] == 2 and row["ff"] == 32, row
    assert "synth_ecp5 -noflatten" in (tmp_path / "w" / "synth.ys").read_text()


def test_place_and_route_over_two_seeds(tmp_path):
    """``synth_design(..., seeds=(1, 2))`` places and routes the same netlist twice with nextpnr: each run
    leaves its own log, the row's Fmax is the higher of the two and nextpnr.log is that run's."""
    from ivit_hw.eda.synth import synth_design

    src = tmp_path / "m.v"
    src.write_text("module m (input wire clk, input wire [15:0] a, input wire [15:0] b, output reg [16:0] s);\n"
                   "    reg [15:0] ra, rb;\n    always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end\n"
                   "endmodule\n")
    work = tmp_path / "w"
    row = synth_design([src], "m", "ecp5-25k", work=work, seeds=(1, 2), cache=Path(".cache") / "yowasp")
    runs = row["fmax_by_seed"]
    assert sorted(runs) == [1, 2] and all(isinstance(f, float) and f > 0 for f in runs.values()), row
    assert row["fmax_mhz"] == max(runs.values()) and runs[row["seed"]] == row["fmax_mhz"]
    logs = {sd: (work / f"nextpnr_s{sd}.log").read_text() for sd in runs}
    assert (work / "nextpnr.log").read_text() == logs[row["seed"]]

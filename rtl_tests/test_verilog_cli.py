"""``ivit-hw codegen --target verilog``, ``verify`` and ``synth`` from the command line, bad input included."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml
from unit_graphs import requantize_c, shiftmax_a

from ivit_hw.cli import main
from ivit_hw.codegen.verilog.render import LIB_FILES
from ivit_hw.ir import GraphBuilder, Interval, IntType
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ops.params import exp_x0

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
    assert blocker.read_text() == "keep me"
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

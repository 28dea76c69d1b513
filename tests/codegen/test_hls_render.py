"""The HLS renderer without a long C-simulation: golden text of the generated glue for a small
graph (whose input is named ``a-b; system("x")``), byte-identical renders, safe identifiers,
summary and parallelism, the CLI (codegen + verify, one small g++ build) and every bad input
(one line, exit 2, nothing written)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from ivit_hw import ops
from ivit_hw.cli import main
from ivit_hw.codegen.hls import HlsOptions, render_project
from ivit_hw.codegen.hls import layers as hls_layers
from ivit_hw.codegen.hls.names import Namer
from ivit_hw.codegen.hls.widths import check_analysed, fitting
from ivit_hw.ir import GraphBuilder, Interval, IntType, IRError, infer_ranges, save_graph
from ivit_hw.ops.params import exp_x0

GOLDEN = Path(__file__).parent / "golden" / "hls_glue"
GLUE_FILES = ("firmware/ivit_top.cpp", "firmware/ivit_top.h", "firmware/parameters.h", "tb/tb.cpp", "build_prj.tcl")
EVIL = 'a-b; system("x")'
I8, I16, I32 = IntType(8), IntType(16), IntType(32)


def glue_graph():
    """x -> linear -> requantize (per channel) -> shiftmax, and argmax; hostile and clashing names."""
    rng = np.random.default_rng(3)
    b = GraphBuilder("glue*/ test")
    x = b.input(EVIL, (4, 8), I8, 0.05, Interval(-128, 127))
    w = b.const("fc.weight", rng.integers(-127, 128, (6, 8)), I8, 0.01)
    bias = b.const("fc.bias", rng.integers(-500, 500, 6), I32, 5e-4)
    acc = b.node("linear", {"x": x, "weight": w, "bias": bias}, "a.b", I32, 5e-4, name="fc")
    m, e = ops.dyadic(np.full(6, 5e-4 / 0.1))  # per-channel arrays (one ratio: the scale rule wants a scalar 0.1)
    q = b.node("requantize", {"acc": acc, "m": b.const("q.m", m, I32), "e": b.const("q.e", e, IntType(8, False))},
               "a_b", I8, 0.1, {"out_bits": 8}, name="a_b")
    probs = b.node("shiftmax", {"x": q}, "probs*/ //", I16, 2.0**-15, {"x0": exp_x0(0.1)}, name="sm")
    pred = b.node("argmax", {"x": q}, "pred", I32, None, name="pick")
    return infer_ranges(b.finish([probs, pred]))


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("glue") / "g.ivit"
    save_graph(glue_graph(), folder)
    return folder


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _render(tmp: Path, graph=None, **kw) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    render_project(graph or glue_graph(), tmp, HlsOptions(**kw))
    return tmp


def test_glue_matches_golden_text(tmp_path):
    out = _render(tmp_path / "p", samples=3, trace_samples=2)
    for rel in GLUE_FILES:
        text = (out / rel).read_text()
        golden = GOLDEN / Path(rel).name
        if os.environ.get("IVIT_HW_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{rel} differs from {golden} (IVIT_HW_UPDATE_GOLDEN=1 rewrites it)"


def test_two_renders_are_byte_identical(tmp_path):
    a, b = _render(tmp_path / "a"), _render(tmp_path / "b")
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 20
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_hostile_names_never_reach_the_code(tmp_path):
    out = _render(tmp_path / "p")
    code = [p for p in out.rglob("*") if p.suffix in (".cpp", ".h", ".tcl")]
    for p in code:
        text = p.read_text()
        assert "system(" not in text and '"x"' not in text and "probs*/" not in text, p
    top = (out / "firmware" / "ivit_top.cpp").read_text()
    assert ' t_a_b("t_a_b");' in top and ' t_a_b_2("t_a_b_2");' in top  # tensors 'a.b' and 'a_b' stay distinct
    idents = re.findall(r"hls::stream<[^>]*>+ (\w+)\(", top)
    assert len(idents) == 4
    for ident in idents:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident)
    arrays = (_render(tmp_path / "t", dataflow="tensor") / "firmware" / "ivit_top.cpp").read_text()
    assert "t_a_b[" in arrays and "t_a_b_2[" in arrays
    for ident in re.findall(r"IVIT_BUF \S+ (\w+)\[", arrays):
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident)
    names = (out / "tb" / "data" / "names.txt").read_text()
    assert f"t_a_b_system_x\t{EVIL}\n" in names


def test_namer_is_unique_and_avoids_keywords():
    n = Namer()
    got = [n(s) for s in ("a.b", "a_b", "a-b", "int", "9lives", "")]
    assert got == ["a_b", "a_b_2", "a_b_3", "int_", "n9lives", "t"]
    assert n("a.b") == "a_b"


def test_summary_widths_trip_counts_and_parallelism(tmp_path):
    s1 = json.loads((_render(tmp_path / "p1") / "summary.json").read_text())
    cfg = tmp_path / "hls.yaml"
    cfg.write_text("parallelism:\n  default: 1\n  fc: 3\n")
    s3 = json.loads((_render(tmp_path / "p3", layer_par=(("fc", 3),)) / "summary.json").read_text())
    assert "ESTIMATE" in s1["estimate_note"]
    fc1, fc3 = s1["layers"][0], s3["layers"][0]
    assert fc1["node"] == "fc" and fc1["loops"] == {"LIN_M": 4, "LIN_N": 6, "LIN_K": 8}
    assert fc1["estimated_cycles"] == 4 * 6 * 8 and fc3["estimated_cycles"] == 4 * 6 * 3
    assert fc1["multipliers"] == 1 and fc3["multipliers"] == 3 and fc3["parallelism"] == 3
    assert fc1["widths"]["x"] == "i8" and fc1["target_ii"] == 1
    sm = next(layer for layer in s1["layers"] if layer["op"] == "shiftmax")
    assert sm["widths"]["out"] == "u15" and sm["widths"]["sum"].startswith("u")
    top3 = (tmp_path / "p3" / "firmware" / "ivit_top.cpp").read_text()
    assert "#pragma HLS ARRAY_PARTITION variable=c_fc_weight cyclic factor=3 dim=1" in top3
    assert "#pragma HLS DATAFLOW" in top3 and "#pragma HLS INTERFACE axis port=in_a_b_system_x" in top3


def test_cli_codegen_then_verify(capsys, glue_dir, tmp_path):
    cfg = tmp_path / "hls.yaml"
    cfg.write_text("parallelism: {fc: 2}\ntestbench: {samples: 5, trace_samples: 2}\n")
    out = tmp_path / "prj"
    code, stdout, err = _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", out, "--config", cfg,
                             "--part", "xcvu9p-flga2104-2-e", "--clock", "4")
    assert code == 0, err
    assert "set_part xcvu9p-flga2104-2-e" in (out / "build_prj.tcl").read_text()
    assert "create_clock -period 4.0" in (out / "build_prj.tcl").read_text()
    code, stdout, err = _cli(capsys, "verify", out)
    assert code == 0, stdout + err
    lines = stdout.strip().splitlines()
    assert lines[-1] == "4 passed, 0 failed"
    assert f"PASS {EVIL}" not in stdout  # inputs are fed, not compared
    assert any(ln.startswith("PASS probs*/ //: 5 samples") for ln in lines)
    assert "PASS a.b: 2 samples x 24 values bit-exact" in lines
    assert "PASS pred: 5 samples x 4 values bit-exact" in lines


def test_cli_node_top(capsys, glue_dir, tmp_path):
    out = tmp_path / "one"
    code, _, err = _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", out, "--top", "node:sm")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert [layer["node"] for layer in summary["layers"]] == ["sm"]
    assert summary["inputs"][0]["tensor"] == "a_b"


# ----------------------------------------------------------------------------- bad input


def _assert_one_line_error(code, err, *parts):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ivit-hw: error: "), err
    for p in parts:
        assert p in lines[0], (p, lines[0])


def test_op_without_hls_kernel(capsys, glue_dir, tmp_path, monkeypatch):
    monkeypatch.delitem(hls_layers.BUILDERS, "argmax")
    out = tmp_path / "prj"
    code, _, err = _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", out)
    _assert_one_line_error(code, err, "node 'pick'", "op 'argmax' has no HLS kernel")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".prj")]


def test_unwritable_output_folder(capsys, glue_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", blocker / "prj")
    _assert_one_line_error(code, err, "is not a folder")
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("keep")
    code, _, err = _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", keep)
    _assert_one_line_error(code, err, "refusing to replace")
    assert [p.name for p in keep.iterdir()] == ["notes.txt"]


def test_width_above_ap_int_limit(capsys, glue_dir, tmp_path):
    import shutil

    import yaml

    folder = tmp_path / "wide.ivit"
    shutil.copytree(glue_dir, folder)
    doc = yaml.safe_load((folder / "graph.yaml").read_text())
    doc["tensors"]["a.b"]["bits"] = 2000
    (folder / "graph.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    code, _, err = _cli(capsys, "codegen", folder, "--target", "hls", "-o", tmp_path / "prj")
    _assert_one_line_error(code, err, "a.b")
    assert not (tmp_path / "prj").exists()
    with pytest.raises(IRError, match=r"node 'sm': s: needs 1030 bits, above ap_int's limit of 1024"):
        fitting(Interval(0, 2**1030 - 1), "node 'sm': s")


def test_inconsistent_graph(capsys, glue_dir, tmp_path):
    import shutil

    import yaml

    folder = tmp_path / "narrow.ivit"
    shutil.copytree(glue_dir, folder)
    doc = yaml.safe_load((folder / "graph.yaml").read_text())
    doc["tensors"]["a.b"]["bits"] = 8
    (folder / "graph.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    code, _, err = _cli(capsys, "codegen", folder, "--target", "hls", "-o", tmp_path / "prj")
    _assert_one_line_error(code, err, "tensor 'a.b'", "needs i")
    assert not (tmp_path / "prj").exists()


def test_unanalysed_graph_is_refused():
    from dataclasses import replace

    g = glue_graph()
    bare = replace(g, tensors={k: replace(v, range=None) for k, v in g.tensors.items()})
    with pytest.raises(IRError, match=r"tensor .*: no proven range \(the graph is not analysed\)"):
        check_analysed(bare)
    stale = replace(g, nodes=tuple(replace(n, internals={}) for n in g.nodes))
    with pytest.raises(IRError, match=r"node 'a_b': internal 'prod' has no proven range"):
        check_analysed(stale)


@pytest.mark.parametrize("text, parts", [
    ("colour: red\n", ["unknown key(s) ['colour']"]),
    ("parallelism: {fc: 0}\n", ["parallelism['fc'] must be an integer >= 1"]),
    ("testbench: {samples: many}\n", ["testbench.samples must be an integer"]),
    ("parallelism: [1\n", ["not valid YAML"]),
], ids=["key", "par", "samples", "yaml"])
def test_bad_config(capsys, glue_dir, tmp_path, text, parts):
    cfg = tmp_path / "hls.yaml"
    cfg.write_text(text)
    code, _, err = _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", tmp_path / "prj", "--config", cfg)
    _assert_one_line_error(code, err, *parts)
    assert not (tmp_path / "prj").exists()


def test_bad_top(capsys, glue_dir, tmp_path):
    for top, part in (("node:nope", "unknown node 'nope'"), ("block:zz", "has no block 'zz'"),
                      ("layer:1", "expected model, block:NAME or node:NAME")):
        code, _, err = _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", tmp_path / "prj", "--top", top)
        _assert_one_line_error(code, err, part)


def test_verify_without_headers(capsys, glue_dir, tmp_path, monkeypatch):
    from ivit_hw.codegen.hls import headers

    out = tmp_path / "prj"
    assert _cli(capsys, "codegen", glue_dir, "--target", "hls", "-o", out)[0] == 0
    monkeypatch.delenv("XILINX_HLS", raising=False)
    monkeypatch.delenv("IVIT_HW_AP_TYPES", raising=False)
    monkeypatch.setattr(headers, "REPO_CACHE", tmp_path / "none")
    monkeypatch.setattr(headers, "USER_CACHE", tmp_path / "none")
    code, _, err = _cli(capsys, "verify", out)
    _assert_one_line_error(code, err, "ap_int headers not found", "make hls-headers")

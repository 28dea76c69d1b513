"""The ``ivit-hw`` command line: inspect and run on small graphs, and one clean
``ivit-hw: error:`` line (exit 2, no traceback, nothing written) for every user error."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import ivit_ops_reference as ref
import numpy as np
import pytest
import yaml

from ivit_hw import cli
from ivit_hw.ir import GraphBuilder, Interval, IntType
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.verify import verify
from ivit_hw.runtime import run_graph
from ivit_hw.runtime.golden import load_golden_case

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/tiny_graphs.py
from tiny_graphs import BROKEN, softmax_graph, tiny_graph, tiny_input  # noqa: E402


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_user_error(code, err, *parts):
    assert code == 2
    assert err.startswith("ivit-hw: error: "), err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, err


@pytest.fixture
def tiny_dir(tmp_path):
    save_graph(verify(tiny_graph()), tmp_path / "tiny")
    return tmp_path / "tiny"


@pytest.fixture
def x_npy(tmp_path):
    np.save(tmp_path / "x.npy", tiny_input())
    return tmp_path / "x.npy"


def test_help_lists_the_subcommands(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "inspect" in out and "run" in out


def test_inspect_prints_tensors_and_internals(capsys, tiny_dir, tmp_path):
    code, out, err = _run(capsys, "inspect", tiny_dir)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "graph 'tiny': 1 input(s), 1 output(s), 13 tensors, 6 nodes"
    header = lines[2].split()
    assert header == ["tensor", "kind", "shape", "bits", "signed", "scale", "range", "headroom"]
    row = next(line for line in lines if line.startswith("fc.acc "))
    assert row.split()[:5] == ["fc.acc", "act", "[4,", "6]", "32"]
    assert "per-ch[6] " in row and "[-74152, 74381]" in row and row.endswith(" 14")
    assert "per-ch[6]" in next(line for line in lines if line.startswith("fc.weight "))
    prod = next(line.split() for line in lines if line.startswith("fc.q ") and " prod " in line)
    # acc*m with acc in [-74152, 74381] and 2^30 <= m < 2^31: |prod| in (2^46, 2^48), 48 or 49 bits signed
    assert prod[:3] == ["fc.q", "requantize", "prod"] and prod[3] in ("48", "49") and prod[4] == "yes"
    save_graph(verify(softmax_graph()), tmp_path / "sm")
    code, out, _ = _run(capsys, "inspect", tmp_path / "sm")
    assert code == 0
    assert "node  op        internal  bits  signed  range" in out
    assert any(line.split()[:3] == ["sm", "shiftmax", "prod"] for line in out.splitlines())


def test_inspect_works_on_unanalysed_graphs(capsys, tmp_path):
    save_graph(tiny_graph(), tmp_path / "g")
    code, out, _ = _run(capsys, "inspect", tmp_path / "g")
    assert code == 0 and "[-48768, 49152]" in out


def test_inspect_exits_2_on_a_width_violation(capsys, tmp_path):
    g = tiny_graph()
    narrow = {**g.tensors, "fc.acc": dataclasses.replace(g.tensors["fc.acc"], dtype=IntType(16))}
    save_graph(dataclasses.replace(g, tensors=narrow), tmp_path / "g")
    code, out, err = _run(capsys, "inspect", tmp_path / "g")
    _assert_user_error(code, err, "tensor 'fc.acc'", "needs i18 but i16 is declared")
    assert out == "" and err.count("\n") == 1


def test_run_per_sample_and_batched(capsys, tiny_dir, tmp_path, x_npy):
    code, out, err = _run(capsys, "run", tiny_dir, "--input", x_npy, "--output", tmp_path / "y.npy")
    assert code == 0 and "error" not in err and "wrote" in out  # err may hold a clipping warning
    y = np.load(tmp_path / "y.npy")
    np.testing.assert_array_equal(y, run_graph(tiny_graph(), {"x": tiny_input()}).outputs["y"][0])
    xs = tiny_input(batch=3)
    np.save(tmp_path / "xs.npy", xs)
    code, _, _ = _run(capsys, "run", tiny_dir, "--input", tmp_path / "xs.npy", "--output", tmp_path / "ys.npy")
    assert code == 0
    ys = np.load(tmp_path / "ys.npy")
    assert ys.shape == (3, 2, 4, 4)
    np.testing.assert_array_equal(ys, run_graph(tiny_graph(), {"x": xs}).outputs["y"])


def test_run_trace_writes_tensors_internals_and_cases(capsys, tmp_path):
    save_graph(verify(softmax_graph()), tmp_path / "sm")
    x = np.random.default_rng(0).integers(-128, 128, (3, 5)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    trace = tmp_path / "trace"
    for _ in range(2):  # a second run replaces the previous trace
        code, _, err = _run(capsys, "run", tmp_path / "sm", "--input", tmp_path / "x.npy",
                            "--output", tmp_path / "y.npy", "--trace", trace)
        assert code == 0, err
    index = yaml.safe_load((trace / "index.yaml").read_text())
    assert index["tensors"] == {"x": "tensors/x.npy", "y": "tensors/y.npy"}
    assert index["cases"] == {"sm": "cases/sm.npz"}
    np.testing.assert_array_equal(np.load(trace / "tensors" / "x.npy"), x)
    np.testing.assert_array_equal(np.load(trace / "tensors" / "y.npy"), np.load(tmp_path / "y.npy"))
    assert (trace / "internals" / "sm" / "sum.npy").is_file()
    assert np.load(trace / "internals" / "sm" / "sum.npy").shape == (3, 1)
    case = load_golden_case(trace / "cases" / "sm.npz")
    np.testing.assert_array_equal(case.output[0], ref.shiftmax(x.astype(int).tolist(), case.attrs["x0"], 15, 16))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm", "trace", "x.npy", "y.npy"]


def _two_input_dir(tmp_path):
    b = GraphBuilder("two")
    a = b.input("a", (2, 3), IntType(8), 0.1, Interval(-128, 127))
    c = b.input("b", (2, 3), IntType(8), 0.1, Interval(-128, 127))
    b.node("add", {"a": a, "b": c}, "s", IntType(9), 0.1)
    save_graph(b.finish(["s"]), tmp_path / "two")
    np.save(tmp_path / "a.npy", np.ones((2, 3), np.int8))
    return tmp_path / "two"


def test_run_with_named_inputs(capsys, tmp_path):
    folder = _two_input_dir(tmp_path)
    code, _, err = _run(capsys, "run", folder, "--input", f"a={tmp_path / 'a.npy'}", "--input",
                        f"b={tmp_path / 'a.npy'}", "--output", tmp_path / "s.npy")
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), np.full((2, 3), 2))
    code, _, err = _run(capsys, "run", folder, "--input", tmp_path / "a.npy", "--output", tmp_path / "t.npy")
    _assert_user_error(code, err, "NAME=FILE.npy")
    code, _, err = _run(capsys, "run", folder, "--input", f"a={tmp_path / 'a.npy'}", "--output", tmp_path / "t.npy")
    _assert_user_error(code, err, "missing --input for graph input(s) ['b']")
    assert not (tmp_path / "t.npy").exists()


def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((4, 8), np.int8))
    return buf.getvalue()


@pytest.mark.parametrize(
    "make_input, parts",
    [
        (lambda p: None, ["no such file"]),
        (lambda p: np.save(p, np.zeros((4, 8), np.float32)), ["expected an integer array, got dtype float32"]),
        (lambda p: np.save(p, np.zeros((8, 4), np.int8)), ["input 'x': expected shape (4, 8)"]),
        (lambda p: np.save(p, np.full((4, 8), 999, np.int16)), ["input 'x': values [999, 999] do not fit i8"]),
        (lambda p: p.write_bytes(b"garbage"), ["not a readable .npy file"]),
        (lambda p: p.write_bytes(_npz_bytes()), ["got an .npz archive"]),
    ],
    ids=["missing", "float", "shape", "range", "garbage", "npz"],
)
def test_run_input_errors(capsys, tiny_dir, tmp_path, make_input, parts):
    x = tmp_path / "x.npy"
    make_input(x)
    out_dir = tmp_path / "out"
    code, _, err = _run(capsys, "run", tiny_dir, "--input", x, "--output", out_dir / "y.npy", "--trace", out_dir / "t")
    _assert_user_error(code, err, *parts)
    assert len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


@pytest.mark.parametrize("edit, expect", [(c[1], c[2]) for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_graph_exits_2_without_traceback(capsys, tmp_path, x_npy, edit, expect):
    folder = tmp_path / "g"
    save_graph(tiny_graph(), folder)
    edit(folder)
    code, out, err = _run(capsys, "inspect", folder)
    _assert_user_error(code, err, *expect)
    if "width" not in err:
        assert len(err.strip().splitlines()) == 1, err
    code, _, err = _run(capsys, "run", folder, "--input", x_npy, "--output", tmp_path / "out" / "y.npy",
                        "--trace", tmp_path / "out" / "trace")
    _assert_user_error(code, err, *expect)
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_missing_graph_folder(capsys, tmp_path):
    code, _, err = _run(capsys, "inspect", tmp_path / "nope")
    _assert_user_error(code, err, "no such graph folder")


def test_trace_refuses_to_replace_an_unrelated_folder(capsys, tiny_dir, tmp_path, x_npy):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, _, err = _run(capsys, "run", tiny_dir, "--input", x_npy, "--output", tmp_path / "y.npy",
                        "--trace", tmp_path / "mine")
    _assert_user_error(code, err, "refusing to replace")
    assert not (tmp_path / "y.npy").exists()
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_bad_arguments_exit_2(capsys, tiny_dir):
    code, _, err = _run(capsys, "run", tiny_dir)
    assert code == 2 and "required" in err and "Traceback" not in err
    code, _, err = _run(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err


def test_subcommands_are_registered_from_a_table(capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS))
    cli.register_command(("hello", "say hello", lambda p: p.add_argument("who"),
                          lambda a: seen.append(a.who) or 0))
    code, _, _ = _run(capsys, "hello", "world")
    assert code == 0 and seen == ["world"]
    with pytest.raises(ValueError, match="registered twice"):
        cli.register_command(("hello", "again", lambda p: None, lambda a: 0))


def test_console_script_reports_errors_without_traceback(tmp_path):
    exe = Path(sys.executable).with_name("ivit-hw")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ivit_hw.cli"]
    proc = subprocess.run([*cmd, "inspect", str(tmp_path / "nope")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ivit-hw: error: ") and "Traceback" not in proc.stderr

"""What a new user meets first (issue 7): --version, ordered and documented
subcommands, honest ``run`` outputs, the ``--trace`` size guard, clipping
warnings, the ``inspect`` summary and one-line messages for odd paths."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

from ivit_hw import __version__, cli, ops
from ivit_hw.ir import GraphBuilder, Interval, IntType
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.verify import verify
from ivit_hw.runtime import run_graph

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/tiny_graphs.py
from cli_helpers import assert_one_line_error, run_cli  # noqa: E402
from tiny_graphs import softmax_graph, tiny_graph, tiny_input  # noqa: E402

_run, _one_line_error = run_cli, assert_one_line_error


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# ----------------------------------------------------------------------------- problem 8: basics


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"ivit-hw {__version__}"


def test_subcommands_are_listed_in_workflow_order_and_every_option_has_help():
    parser = cli.build_parser()
    names = list(_subparsers(parser))
    known = [n for n in cli.WORKFLOW_ORDER if n in names]
    assert names[: len(known)] == known
    assert names.index("quantize") < names.index("inspect") < names.index("run") < names.index("eval") \
        < names.index("compare") < names.index("demo")
    for name, sub in _subparsers(parser).items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help text"


def test_model_option_lists_the_presets(capsys):
    from ivit_hw.frontend.presets import PRESETS

    sub = _subparsers(cli.build_parser())["quantize"]
    model = next(a for a in sub._actions if "--model" in a.option_strings)
    assert sorted(model.choices) == sorted(PRESETS)
    code, _, err = _run(capsys, "quantize", "--model", "deit_huge", "--calib", "digits", "-o", "x")
    assert code == 2 and "invalid choice: 'deit_huge'" in err and "deit_tiny" in err


def test_inspect_summary_names_widest_tensor_memory_and_ok(capsys, tmp_path):
    g = verify(tiny_graph())
    save_graph(g, tmp_path / "tiny")
    code, out, err = _run(capsys, "inspect", tmp_path / "tiny", "--summary")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "summary:"
    # the 32-bit activations are fc.acc [4, 6] and s.acc [2, 4, 4] (the larger one is named); the constants
    # are fc.weight 6x8 i8, fc.bias 6 i32, fc.q.m i32 x6, fc.q.e u8 x6, y.m i32, y.e u8
    assert [n for n, s in g.tensors.items() if not s.const and s.dtype.bits == 32] == ["fc.acc", "s.acc"]
    assert "  widest tensor:     s.acc i32 [2, 4, 4]" in lines
    consts = [s for s in g.tensors.values() if s.const]
    n_bytes = sum(int(np.prod(s.shape)) * s.dtype.bits / 8 for s in consts)
    assert n_bytes == 6 * 8 + 6 * 4 + 6 * 4 + 6 + 4 + 1
    assert any(line.startswith(f"  constants:         {len(consts)} tensors, ") and f"{n_bytes / 2**20:.2f} MiB"
               in line for line in lines)
    assert "  width violations:  0" in lines
    n_internals = sum(len(n.internals) for n in g.nodes)
    assert lines[-1] == f"OK: all {len(g.tensors)} tensors and {n_internals} internals fit their declared widths"
    # the full listing ends with the same summary
    code, out, _ = _run(capsys, "inspect", tmp_path / "tiny")
    assert code == 0 and out.rstrip().endswith(lines[-1]) and "tensor " in out


def test_inspect_summary_reports_the_widest_internal(capsys, tmp_path):
    g = verify(softmax_graph())
    save_graph(g, tmp_path / "sm")
    code, out, _ = _run(capsys, "inspect", tmp_path / "sm", "--summary")
    node = g.nodes[0]
    key, spec = max(node.internals.items(), key=lambda kv: kv[1].dtype.bits)
    assert code == 0 and f"  widest internal:   sm/{key} {spec.dtype}" in out.splitlines()


# ----------------------------------------------------------------------------- problem 2: run outputs


def _two_output_dir(tmp_path):
    b = GraphBuilder("two_out")
    x = b.input("x", (2, 3), IntType(8), 0.1, Interval(-128, 127))
    s = b.node("add", {"a": x, "b": x}, "s", IntType(9), 0.1)
    b.node("argmax", {"x": s}, "i", IntType(32), None)
    save_graph(b.finish(["s", "i"]), tmp_path / "g")
    x = np.arange(-3, 3, dtype=np.int8).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "g", x


def test_run_npy_output_of_a_two_output_graph_is_refused_not_zipped(capsys, tmp_path):
    folder, x = _two_output_dir(tmp_path)
    code, _, err = _run(capsys, "run", folder, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    _one_line_error(code, err, "2 outputs ['s', 'i']", "y.npz", "s=")
    assert not (tmp_path / "y.npy").exists()
    code, out, err = _run(capsys, "run", folder, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npz")
    assert code == 0, err
    with np.load(tmp_path / "y.npz") as z:
        assert sorted(z.files) == ["i", "s"]
        np.testing.assert_array_equal(z["s"], 2 * x.astype(np.int64))
        np.testing.assert_array_equal(z["i"], np.argmax(2 * x, axis=-1))
    code, _, err = _run(capsys, "run", folder, "--input", tmp_path / "x.npy", "--output", f"s={tmp_path / 's.npy'}")
    assert code == 0, err
    s = np.load(tmp_path / "s.npy")
    assert isinstance(s, np.ndarray)
    np.testing.assert_array_equal(s, 2 * x.astype(np.int64))
    code, _, err = _run(capsys, "run", folder, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.txt")
    _one_line_error(code, err, "y.txt", ".npy or .npz")


# ----------------------------------------------------------------------------- problem 5: messages


def test_odd_paths_get_one_line_naming_them(capsys, tmp_path):
    save_graph(verify(tiny_graph()), tmp_path / "tiny")
    np.save(tmp_path / "x.npy", tiny_input())
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = _run(capsys, "run", tmp_path / "tiny", "--input", tmp_path / "x.npy", "--output",
                        tmp_path / "notes.txt" / "y.npy")
    _one_line_error(code, err, "notes.txt is a file, not a folder")
    assert "Errno" not in err
    # the graph.yaml file itself is taken as its folder
    code, out, err = _run(capsys, "inspect", tmp_path / "tiny" / "graph.yaml", "--summary")
    assert code == 0 and out.splitlines()[-1].startswith("OK: "), err
    code, _, err = _run(capsys, "inspect", tmp_path / "x.npy")
    _one_line_error(code, err, "x.npy", "is a file; give the graph folder")


def test_a_batch_of_zero_samples_is_one_line(capsys, tmp_path):
    save_graph(verify(tiny_graph()), tmp_path / "tiny")
    np.save(tmp_path / "x0.npy", np.zeros((0, 4, 8), np.int8))
    code, _, err = _run(capsys, "run", tmp_path / "tiny", "--input", tmp_path / "x0.npy", "--output",
                        tmp_path / "y.npy")
    _one_line_error(code, err, "x0.npy", "batch of 0 samples", "'x'")
    assert not (tmp_path / "y.npy").exists()


def test_truncated_constants_give_one_problem_not_one_per_constant(capsys, tmp_path):
    save_graph(verify(tiny_graph()), tmp_path / "tiny")
    npz = tmp_path / "tiny" / "constants.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    code, _, err = _run(capsys, "inspect", tmp_path / "tiny")
    _one_line_error(code, err, "constants.npz is not an .npz (zip) archive")


def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch):
    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS))
    cli.register_command(("sleepy", "waits", lambda p: None, interrupted))
    code, _, err = _run(capsys, "sleepy")
    assert code == 130 and err == "ivit-hw: interrupted\n"


def test_a_command_missing_an_extra_says_so_in_one_line(capsys, monkeypatch):
    def needs_torch(_args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS))
    cli.register_command(("needy", "needs torch", lambda p: None, needs_torch))
    code, _, err = _run(capsys, "needy")
    _one_line_error(code, err, "'ivit-hw needy' needs torch", "ivit_hw[torch]")


# ----------------------------------------------------------------------------- problem 7: trace guard


def test_trace_estimate_bounds_what_is_written_and_the_guard_refuses_early(capsys, tmp_path):
    save_graph(verify(softmax_graph()), tmp_path / "sm")
    x = np.random.default_rng(0).integers(-128, 128, (6, 3, 5)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    trace = tmp_path / "trace"
    code, _, err = _run(capsys, "run", tmp_path / "sm", "--input", tmp_path / "x.npy", "--output",
                        tmp_path / "y.npy", "--trace", trace)
    assert code == 0, err
    written = sum(p.stat().st_size for p in trace.rglob("*.np[yz]"))
    estimate = cli.trace_bytes(verify(softmax_graph()), 6)
    assert written <= estimate <= 4 * written, (written, estimate)
    limit_mb = estimate / 2**20 / 2
    code, _, err = _run(capsys, "run", tmp_path / "sm", "--input", tmp_path / "x.npy", "--output",
                        tmp_path / "z.npy", "--trace", tmp_path / "t2", "--trace-limit-mb", limit_mb)
    _one_line_error(code, err, "--trace", "6 sample(s)", "--trace-limit-mb")
    assert not (tmp_path / "z.npy").exists() and not (tmp_path / "t2").exists()


def test_trace_guard_default_stops_a_deit_tiny_batch(deit_tiny_graph):
    per_image = cli.trace_bytes(deit_tiny_graph, 1)
    assert 100 * 2**20 < per_image  # hundreds of MB per image, as the issue measured (~600 MB on disk)
    assert cli.trace_bytes(deit_tiny_graph, 8) > cli.TRACE_LIMIT_MB * 2**20


# ----------------------------------------------------------------------------- problem 10: saturation


def _clipping_graph(tmp_path):
    """x[16] i8 -> requantize by 4 to 8 bits: every |4x| beyond [-128, 127] saturates."""
    b = GraphBuilder("clip")
    x = b.input("x", (16,), IntType(8), 1.0, Interval(-128, 127))
    m, e = ops.dyadic(4.0)
    b.node("requantize", {"acc": x, "m": b.const("q.m", np.asarray(m), IntType(32)),
                          "e": b.const("q.e", np.asarray(e), IntType(8, signed=False))},
           "q", IntType(8), 0.25, {"out_bits": 8}, name="q")
    save_graph(b.finish(["q"]), tmp_path / "clip")
    return tmp_path / "clip"


def test_run_warns_when_a_requantize_clips(capsys, tmp_path):
    folder = _clipping_graph(tmp_path)
    x = np.arange(-40, 40, 5, dtype=np.int8)  # 16 values; 4x leaves [-128, 127] for x < -32 or x > 31
    np.save(tmp_path / "x.npy", x)
    expected = int(np.sum((4 * x.astype(int) < -128) | (4 * x.astype(int) > 127)))
    assert expected == 3  # -40, -35 and 35
    code, _, err = _run(capsys, "run", folder, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert code == 0
    share = 100 * expected / 16
    assert err.startswith("ivit-hw: warning: 1 requantize node(s) clipped more than 1 % of their elements")
    assert f"q {share:.2g} %" in err and len(err.strip().splitlines()) == 1
    y = np.load(tmp_path / "y.npy")
    assert int(np.sum(np.abs(y) >= 127)) >= expected
    # no clipping: no warning
    np.save(tmp_path / "x.npy", np.arange(-30, 34, 4, dtype=np.int8))
    code, _, err = _run(capsys, "run", folder, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert code == 0 and err == ""


def test_clip_counter_matches_a_direct_count_with_residual(tmp_path):
    from ivit_hw.runtime.clipping import ClipCounter

    b = GraphBuilder("res")
    x = b.input("x", (64,), IntType(16), 1.0, Interval(-2**15, 2**15 - 1))
    r = b.input("r", (64,), IntType(16), 1.0, Interval(-2**15, 2**15 - 1))
    m, e = ops.dyadic(0.75)
    mi, ei = ops.dyadic(0.5)
    c32, u8 = IntType(32), IntType(8, signed=False)
    b.node("requantize", {"acc": x, "identity": r, "m": b.const("m", np.asarray(m), c32),
                          "e": b.const("e", np.asarray(e), u8), "m_id": b.const("mi", np.asarray(mi), c32),
                          "e_id": b.const("ei", np.asarray(ei), u8)}, "y", IntType(12), 1.0, {"out_bits": 12},
           name="y")
    g = b.finish(["y"])
    rng = np.random.default_rng(3)
    xs = rng.integers(-6000, 6000, (5, 64))
    rs = rng.integers(-6000, 6000, (5, 64))
    counter = ClipCounter(g)
    run_graph(g, {"x": xs, "r": rs}, observe=counter)
    # direct: exact rationals, ties to even as numpy's rint
    pre = np.rint(xs * 0.75) + np.rint(rs * 0.5)
    direct = int(np.sum((pre < -2048) | (pre > 2047)))
    assert 0 < direct < xs.size
    assert counter.stats["y"].clipped == direct and counter.stats["y"].total == xs.size

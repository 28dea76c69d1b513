"""The golden executor's checked run, node-named kernel errors, and the promise
that tracing and the fast paths never change a value: a DeiT block (batch 8,
so Shiftmax and ShiftGELU take their lookup tables, and a plain run the golden
executor's fast paths) gives identical outputs, tensors and internals traced or
not, fast or spec path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from ivit_hw import cli
from ivit_hw.ir import GraphBuilder, Interval, IntType, IRError
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ops import params, tables
from ivit_hw.ops.xp import NP
from ivit_hw.runtime import golden_fast, run_graph
from ivit_hw.runtime.node_builders import BUILDERS
from ivit_hw.runtime.numpy_exec import PlannedGraph

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "build_block.py"
_spec = importlib.util.spec_from_file_location("ivit_example_build_block", SCRIPT)
bb = sys.modules.get(_spec.name) or importlib.util.module_from_spec(_spec)
if _spec.name not in sys.modules:
    sys.modules[_spec.name] = bb
    _spec.loader.exec_module(bb)

I8 = IntType(8)


@pytest.fixture(scope="module")
def block():
    return bb.build_block(bb.BlockConfig(tokens=17, seed=0))


def test_trace_and_fast_paths_change_no_value(block):
    rng = np.random.default_rng(3)
    xs = np.stack([params.quantize(bb.random_residual(block.config, rng, 1)[0], block.scales["x"], 16)
                   for _ in range(8)])
    before, before_golden = dict(tables.HITS), dict(golden_fast.HITS)
    plain = run_graph(block.graph, {"x": xs})
    golden_hits = {k: golden_fast.HITS[k] - before_golden.get(k, 0) for k in golden_fast.HITS}
    gelu_hits = golden_hits.get("shiftgelu_x_table", 0) + golden_hits.get("gelu_requantize", 0)
    assert gelu_hits >= 1 and golden_hits.get("requantize_float", 0) >= 1, golden_hits  # the plain run
    fast = run_graph(block.graph, {"x": xs}, trace=True)
    hits = {k: tables.HITS[k] - before.get(k, 0) for k in ("shift_exp_table", "shiftgelu_table")}
    assert hits["shift_exp_table"] >= 1 and hits["shiftgelu_table"] >= 1, hits  # the traced run
    before = dict(tables.HITS)
    spec = run_graph(block.graph, {"x": xs}, trace=True, fast=False)
    assert dict(tables.HITS) == before  # the spec path takes no table
    np.testing.assert_array_equal(plain.outputs["y"], fast.outputs["y"])
    np.testing.assert_array_equal(spec.outputs["y"], fast.outputs["y"])
    assert fast.tensors.keys() == spec.tensors.keys() and fast.internals.keys() == spec.internals.keys()
    for key in fast.tensors:
        np.testing.assert_array_equal(fast.tensors[key], spec.tensors[key], err_msg=key)
    for key in fast.internals:
        np.testing.assert_array_equal(fast.internals[key], spec.internals[key], err_msg=key)


def _narrow_add_graph(out_type: IntType):
    b = GraphBuilder("narrow")
    a = b.input("a", (2, 3), I8, 0.1, Interval(-128, 127))
    c = b.input("c", (2, 3), I8, 0.1, Interval(-128, 127))
    b.node("add", {"a": a, "b": c}, "y", out_type, 0.1, name="sum")
    return b.finish(["y"])


def test_check_names_the_node_tensor_and_value():
    g = _narrow_add_graph(I8)
    a = np.full((2, 3), 100)
    ok = np.zeros((2, 3), dtype=np.int64)
    run_graph(g, {"a": a, "c": ok}, check=True)  # fits: no error
    assert int(run_graph(g, {"a": a, "c": a}).outputs["y"].max()) == 200  # unchecked: the value escapes
    with pytest.raises(IRError, match=r"node 'sum': tensor 'y': value 200 .* does not fit i8"):
        run_graph(g, {"a": a, "c": a}, check=True)


def test_check_names_an_internal_outside_its_declared_type():
    b = GraphBuilder("sm")
    x = b.input("x", (2, 8), I8, 0.1, Interval(-128, 127))
    b.node("shiftmax", {"x": x}, "y", IntType(16), 2**-15, {"x0": params.exp_x0(0.1)}, name="attn",
           internals={"f": IntType(8)})
    g = b.finish(["y"])
    xs = np.zeros((1, 2, 8), dtype=np.int64)
    run_graph(g, {"x": xs})
    with pytest.raises(IRError, match=r"node 'attn': internal 'f': value \d+ .* does not fit i8"):
        run_graph(g, {"x": xs}, check=True)


def test_kernel_errors_name_the_node():
    g = _narrow_add_graph(IntType(16))

    def broken(ctx):
        def impl(args, trace):
            raise ValueError("boom")

        return impl

    planned = PlannedGraph(g, NP, builders={**BUILDERS, "add": broken})
    # a bug inside a kernel keeps its own type (not an IRError, which the CLI reports as bad input)
    with pytest.raises(ValueError, match="boom") as info:
        planned.execute({"a": np.zeros((1, 2, 3), np.int64), "c": np.zeros((1, 2, 3), np.int64)})
    assert not isinstance(info.value, IRError)
    assert "in node 'sum' (op add)" in "".join(getattr(info.value, "__notes__", []))


def test_overflow_inside_a_kernel_names_the_node():
    g = _narrow_add_graph(IntType(16))

    def overflowing(ctx):
        def impl(args, trace):
            raise OverflowError("sum beyond int64")

        return impl

    planned = PlannedGraph(g, NP, builders={**BUILDERS, "add": overflowing})
    with pytest.raises(IRError, match=r"node 'sum' \(op add\): OverflowError: sum beyond int64"):
        planned.execute({"a": np.zeros((1, 2, 3), np.int64), "c": np.zeros((1, 2, 3), np.int64)})


def test_inputs_outside_their_declared_range_are_refused():
    b = GraphBuilder("r")
    x = b.input("x", (3,), I8, 0.1, Interval(-100, 100))
    b.node("add", {"a": x, "b": x}, "y", IntType(9), 0.1)
    g = b.finish(["y"])
    with pytest.raises(IRError, match=r"input 'x': values \[-101, 0\] lie outside its declared range"):
        run_graph(g, {"x": np.array([-101, 0, 0])})


def test_cli_run_check(capsys, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
    from tiny_graphs import tiny_graph, tiny_input

    from ivit_hw.ir.verify import verify

    save_graph(verify(tiny_graph()), tmp_path / "g")
    np.save(tmp_path / "x.npy", tiny_input())
    code = cli.main(["run", str(tmp_path / "g"), "--input", str(tmp_path / "x.npy"), "--output",
                     str(tmp_path / "y.npy"), "--check"])
    assert code == 0, capsys.readouterr().err
    expected = run_graph(tiny_graph(), {"x": tiny_input()}).outputs["y"][0]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)

"""Golden-vector cases: key convention, dump/load round trip, determinism,
stored outputs against the plain-Python reference (never against the kernel
that wrote them), one case per node of a traced run, case_graph."""

from __future__ import annotations

import sys
from pathlib import Path

import ivit_ops_reference as ref
import numpy as np
import pytest

from ivit_hw.ir import IntType, IRError, get_op
from ivit_hw.runtime import run_graph
from ivit_hw.runtime.golden import case_graph, dump_golden_case, dump_node_cases, load_golden_case, safe_filename

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
from tiny_graphs import softmax_graph, tiny_graph, tiny_input  # noqa: E402


def _shiftmax_case(tmp_path):
    x = np.random.default_rng(0).integers(-128, 128, (2, 3, 5))
    trace: dict = {}
    out = get_op("shiftmax").kernel({"x": x}, {"x0": -10, "n": 15, "out_bits": 16}, trace)
    internals = {k: trace[k] for k in get_op("shiftmax").internals}
    path = dump_golden_case(tmp_path / "sm.npz", "shiftmax", {"x": x}, out, {"x0": -10}, internals, node="attn")
    return path, x, out, internals


def test_key_convention(tmp_path):
    path, *_ = _shiftmax_case(tmp_path)
    with np.load(path) as npz:
        keys = set(npz.files)
        assert str(npz["op"]) == "shiftmax" and str(npz["node"]) == "attn"
        assert int(npz["format"]) == 1
        assert npz["attr.x0"].shape == () and int(npz["attr.x0"]) == -10
        assert int(npz["attr.out_bits"]) == 16  # defaults are filled in
    assert keys == {"format", "op", "node", "in.x", "out", "attr.x0", "attr.n", "attr.out_bits"} | {
        f"internal.{k}" for k in get_op("shiftmax").internals}


def test_dump_load_round_trip_and_reference(tmp_path):
    path, x, out, internals = _shiftmax_case(tmp_path)
    case = load_golden_case(path)
    assert (case.op, case.node, case.attrs) == ("shiftmax", "attn", {"x0": -10, "n": 15, "out_bits": 16})
    np.testing.assert_array_equal(case.inputs["x"], x)
    np.testing.assert_array_equal(case.output, out)
    for k, v in internals.items():
        np.testing.assert_array_equal(case.internals[k], v)
        assert case.internals[k].dtype == np.int64
    # what was stored is right by an independent account, not by the kernel that wrote it
    np.testing.assert_array_equal(case.output, ref.shiftmax(x.tolist(), -10, 15, 16))
    np.testing.assert_array_equal(case.internals["sum"],
                                  [[[min(sum(row), 2**31 - 1)] for row in sample]
                                   for sample in ref.shift_exp((x - x.max(-1, keepdims=True)).tolist(), -10, 15)])


def test_case_graph_rebuilds_declared_widths_and_runs(tmp_path):
    x = np.random.default_rng(3).integers(-128, 128, (2, 3, 5))
    out = np.asarray(ref.shiftmax(x.tolist(), -10, 15, 16))
    dump_golden_case(tmp_path / "c.npz", "shiftmax", {"x": x}, out, {"x0": -10}, node="sm",
                     dtypes={"x": IntType(8), "out": IntType(16)})
    case = load_golden_case(tmp_path / "c.npz")
    assert case.dtypes == {"x": IntType(8), "out": IntType(16)}
    graph, feed = case_graph(case)
    assert graph.tensor("x").dtype == IntType(8) and graph.tensor("x").shape == (3, 5)
    assert graph.tensor("out").dtype == IntType(16) and graph.tensor("out").range is not None
    assert set(graph.nodes[0].internals) == set(get_op("shiftmax").internals)
    np.testing.assert_array_equal(run_graph(graph, feed).outputs["out"], out)
    # without declared types: the narrowest type of the values in, the proven range out
    dump_golden_case(tmp_path / "d.npz", "shiftmax", {"x": x}, out, {"x0": -10})
    graph, _ = case_graph(load_golden_case(tmp_path / "d.npz"))
    assert graph.tensor("x").dtype.bits == 8 and not graph.tensor("out").dtype.signed
    with pytest.raises(IRError, match="dtype given for 'y'"):
        dump_golden_case(tmp_path / "e.npz", "shiftmax", {"x": x}, out, {"x0": -10}, dtypes={"y": IntType(8)})
    with np.load(tmp_path / "c.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez(tmp_path / "f.npz", **{**arrays, "dtype.x": np.array("int8")})
    with pytest.raises(IRError, match="'dtype.x' must name an integer type"):
        load_golden_case(tmp_path / "f.npz")
    np.savez(tmp_path / "g.npz", **{**arrays, "in.x": np.full((2, 3, 5), 300)})
    with pytest.raises(IRError, match="input 'x': values"):
        case_graph(load_golden_case(tmp_path / "g.npz"))


def test_dump_is_deterministic(tmp_path):
    a = _shiftmax_case(tmp_path / "a")[0].read_bytes()
    b = _shiftmax_case(tmp_path / "b")[0].read_bytes()
    assert a == b


def test_attribute_types_survive(tmp_path):
    g = tiny_graph()
    res = run_graph(g, {"x": tiny_input()}, trace=True)
    paths = dump_node_cases(g, {}, tmp_path, result=res)
    by_name = {p.stem: load_golden_case(p) for p in paths}
    assert by_name["t"].attrs == {"perm": [1, 0, 2]}
    assert by_name["s.acc"].attrs == {"transpose_b": True, "fold_rsqrt_k": False}
    assert by_name["y"].attrs == {"out_bits": 8, "rounding": "half_up"}
    assert set(by_name["y"].params) == {"m", "e"} and set(by_name["y"].inputs) == {"acc"}
    assert set(by_name["fc.acc"].params) == {"weight", "bias"}


def test_node_cases_hold_what_the_traced_run_computed(tmp_path):
    g = tiny_graph()
    x = tiny_input(batch=2)
    paths = dump_node_cases(g, {"x": x}, tmp_path / "cases")
    assert [p.name for p in paths] == [f"{n.name}.npz" for n in g.nodes]
    res = run_graph(g, {"x": x}, trace=True)
    for node, path in zip(g.nodes, paths, strict=True):
        case = load_golden_case(path)
        assert case.node == node.name and case.op == node.op
        np.testing.assert_array_equal(case.output, res.tensors[node.output])
        for role, tname in node.inputs.items():
            got = case.params[role] if get_op(node.op).role(role).param else case.inputs[role]
            want = g.constants[tname] if tname in g.constants else res.tensors[tname]
            np.testing.assert_array_equal(got, want)


def test_node_cases_carry_internals(tmp_path):
    g = softmax_graph()
    x = np.arange(15).reshape(3, 5) - 7
    (path,) = dump_node_cases(g, {"x": x}, tmp_path)
    case = load_golden_case(path)
    assert path.name == "sm.npz"
    assert set(case.internals) == set(get_op("shiftmax").internals)
    np.testing.assert_array_equal(case.output[0], ref.shiftmax(x.tolist(), g.node("sm").attrs["x0"], 15, 16))


def test_unsafe_node_names_are_sanitised():
    assert safe_filename("blocks.0/attn:qkv") == "blocks.0_attn_qkv"


def test_bad_cases_raise_clear_errors(tmp_path):
    with pytest.raises(IRError, match="unknown input role"):
        dump_golden_case(tmp_path / "c.npz", "shiftmax", {"x": np.zeros((1, 3)), "y": np.zeros(3)},
                         np.zeros((1, 3)), {"x0": -3})
    with pytest.raises(IRError, match="missing attribute 'x0'"):
        dump_golden_case(tmp_path / "c.npz", "shiftmax", {"x": np.zeros((1, 3), np.int64)}, np.zeros((1, 3)))
    with pytest.raises(IRError, match="has no internal 'nope'"):
        dump_golden_case(tmp_path / "c.npz", "shiftmax", {"x": np.zeros((1, 3), np.int64)},
                         np.zeros((1, 3), np.int64), {"x0": -3}, {"nope": np.zeros(1, np.int64)})
    with pytest.raises(IRError, match="output: expected integers, got dtype float64"):
        dump_golden_case(tmp_path / "c.npz", "shiftmax", {"x": np.zeros((1, 3), np.int64)}, np.zeros((1, 3)),
                         {"x0": -3})
    assert not (tmp_path / "c.npz").exists()
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(IRError, match="cannot read golden case"):
        load_golden_case(tmp_path / "junk.npz")

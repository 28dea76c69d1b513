"""The golden executor: batch handling, traces, constants used as data, input errors."""

from __future__ import annotations

import sys
from pathlib import Path

import ivit_ops_reference as ref
import numpy as np
import pytest

from ivit_hw.ir import GraphBuilder, Interval, IntType, IRError, get_op
from ivit_hw.runtime import run_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
from tiny_graphs import softmax_graph, tiny_graph, tiny_input  # noqa: E402


def test_per_sample_input_gets_a_batch_axis_of_one():
    out = run_graph(tiny_graph(), {"x": tiny_input()}).outputs["y"]
    assert out.shape == (1, 2, 4, 4) and out.dtype == np.int64


def test_batched_input_equals_per_sample_runs():
    g = tiny_graph()
    xs = tiny_input(batch=5)
    batched = run_graph(g, {"x": xs}).outputs["y"]
    singles = np.concatenate([run_graph(g, {"x": x}).outputs["y"] for x in xs])
    np.testing.assert_array_equal(batched, singles)
    one = run_graph(g, {"x": xs[:1]}).outputs["y"]  # an explicit batch of one
    np.testing.assert_array_equal(one, singles[:1])


def test_batched_trace_equals_per_sample_traces():
    g = softmax_graph()
    xs = np.random.default_rng(0).integers(-128, 128, (3, 3, 5))
    batched = run_graph(g, {"x": xs}, trace=True)
    for i, x in enumerate(xs):
        single = run_graph(g, {"x": x}, trace=True)
        for key, arr in single.internals.items():
            np.testing.assert_array_equal(batched.internals[key][i : i + 1], arr)


def test_output_matches_the_plain_python_reference():
    g = tiny_graph()
    x = tiny_input(batch=2).astype(np.int64)
    c = {k: v.tolist() for k, v in g.constants.items()}
    want = []
    for sample in x.tolist():
        acc = ref.linear2d(sample, c["fc.weight"], c["fc.bias"])
        q = ref.requantize(acc, c["fc.q.m"], c["fc.q.e"], 8)
        t = ref.transpose(ref.reshape(q, [4, 2, 3]), [1, 0, 2])
        want.append(ref.requantize(ref.matmul(t, t, transpose_b=True), c["y.m"], c["y.e"], 8, "half_up"))
    np.testing.assert_array_equal(run_graph(g, {"x": x}).outputs["y"], want)


def test_trace_records_every_tensor_and_internal():
    res = run_graph(softmax_graph(), {"x": np.zeros((3, 5), np.int8)}, trace=True)
    assert set(res.tensors) == {"x", "y"}
    assert set(res.internals) == {f"sm/{k}" for k in get_op("shiftmax").internals}
    assert res.internals["sm/sum"].shape == (1, 3, 1)
    untraced = run_graph(softmax_graph(), {"x": np.zeros((3, 5), np.int8)})
    assert untraced.tensors == {} and untraced.internals == {}


def test_constant_used_as_data_is_broadcast_over_the_batch():
    b = GraphBuilder("cls")
    x = b.input("x", (3, 4), IntType(8), 0.1, Interval(-128, 127))
    cls = b.const("cls", np.arange(4).reshape(1, 4), IntType(8), 0.1)
    y = b.node("concat", {"a": cls, "b": x}, "y", IntType(8), 0.1, {"axis": 0})
    g = b.finish([y])
    xs = np.ones((2, 3, 4), np.int8)
    out = run_graph(g, {"x": xs}).outputs["y"]
    assert out.shape == (2, 4, 4)
    np.testing.assert_array_equal(out[:, 0], [[0, 1, 2, 3], [0, 1, 2, 3]])
    np.testing.assert_array_equal(out[:, 1:], xs)


@pytest.mark.parametrize(
    "inputs, match",
    [
        ({}, r"missing input\(s\) \['x'\]"),
        ({"x": np.zeros((4, 8), np.float32)}, "input 'x': expected an integer array, got dtype float32"),
        ({"x": np.zeros((8, 4), np.int8)}, r"input 'x': expected shape \(4, 8\)"),
        ({"x": np.full((4, 8), 300)}, r"input 'x': values \[300, 300\] do not fit i8"),
    ],
)
def test_bad_inputs_name_the_input(inputs, match):
    with pytest.raises(IRError, match=match):
        run_graph(tiny_graph(), inputs)

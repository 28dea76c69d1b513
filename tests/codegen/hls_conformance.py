"""The conformance suite (``ivit_hw.runtime.conformance.write_suite``) as two HLS C-simulation graphs.

Cases have different sample counts; one testbench feeds one sample count to every input.

- :func:`conformance_graph` (every op but :data:`PER_SAMPLE_OPS`): each case's batch axis becomes a
  leading per-sample axis (one testbench sample of shape ``(B, *X)``), with the axis attributes
  of the layout ops shifted by one. That is the same computation for every op whose per-sample
  semantics are independent over leading axes.
- :func:`per_sample_graph` (:data:`PER_SAMPLE_OPS`: ``patch_embed``, whose per-sample input is
  one image by the IR's shape rule): each case's batch entries are the testbench samples, one
  image per top-function call. Cases with fewer entries than the largest batch of the group
  are cycled (sample ``s`` is entry ``s % B``, its expected output the stored output ``s % B``),
  so every stored output is compared, some more than once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ir.registry import get_op
from ivit_hw.ir.serialize import read_yaml_file
from ivit_hw.runtime.golden import GoldenCase, load_golden_case

PER_SAMPLE_OPS = ("patch_embed",)


def _value_type(arr: np.ndarray) -> IntType:
    return IntType.fitting(Interval(int(arr.min()), int(arr.max())) if arr.size else Interval(0, 0))


def _lifted_attrs(op: str, attrs: dict, batch: int) -> dict:
    a = dict(attrs)
    if op in ("concat", "slice", "gather", "reduce_sum") and a["axis"] >= 0:
        a["axis"] += 1
    if op == "transpose":
        a["perm"] = [0] + [p + 1 for p in a["perm"]]
    if op == "reshape":
        a["shape"] = [batch, *a["shape"]]
    return a


def _cases(suite: Path, per_sample: bool) -> list[tuple[str, GoldenCase]]:
    doc = read_yaml_file(suite / "index.yaml", "not a conformance suite")
    return [(e["case"], load_golden_case(suite / e["file"])) for e in doc["cases"]
            if (e["op"] in PER_SAMPLE_OPS) == per_sample]


def _graph(name: str, cases: list[tuple[str, GoldenCase]], per_sample: bool
           ) -> tuple[Graph, dict[str, np.ndarray], list[str]]:
    """One graph with every case as an independent node; (graph, testbench vectors, case names)."""
    b = GraphBuilder(name)
    samples = max(case.output.shape[0] for _, case in cases) if per_sample else 1
    vectors: dict[str, np.ndarray] = {}

    def as_samples(arr: np.ndarray, batch: int) -> np.ndarray:
        """The testbench samples of a [batch, ...] array: cycled entries, or the whole array as one."""
        return arr[np.arange(samples) % batch] if per_sample else arr[None]

    for tag, case in cases:
        batch = case.output.shape[0]
        ins = {}
        for role in get_op(case.op).roles:
            if role.name in case.params:
                arr = case.params[role.name]
                ins[role.name] = b.const(f"{tag}.{role.name}", arr, case.dtypes.get(role.name) or _value_type(arr))
            elif role.name in case.inputs:
                arr = case.inputs[role.name]
                arr = as_samples(np.broadcast_to(arr, (batch, *arr.shape[1:])), batch)
                t = case.dtypes.get(role.name) or _value_type(arr)
                ins[role.name] = b.input(f"{tag}.{role.name}", tuple(arr.shape[1:]), t, None, Interval.of_type(t))
                vectors[ins[role.name]] = arr
        attrs = dict(case.attrs) if per_sample else _lifted_attrs(case.op, case.attrs, batch)
        out = b.node(case.op, ins, tag, IntType(64), None, attrs, name=tag)
        vectors[out] = as_samples(case.output, batch)
    names = [tag for tag, _ in cases]
    return infer_ranges(b.finish(names)), vectors, names


def conformance_graph(suite: Path) -> tuple[Graph, dict[str, np.ndarray], list[str]]:
    """Every case of an op outside :data:`PER_SAMPLE_OPS`, its batch lifted into one sample."""
    return _graph("hls_conformance", _cases(suite, False), False)


def per_sample_graph(suite: Path) -> tuple[Graph, dict[str, np.ndarray], list[str]]:
    """Every case of :data:`PER_SAMPLE_OPS`, its batch entries as the testbench samples (cycled)."""
    return _graph("hls_conformance_per_sample", _cases(suite, True), True)

"""The conformance suite (``ivit_hw.runtime.conformance.write_suite``) as one HLS C-simulation.

Cases have different sample counts; one testbench feeds one sample count to every input. So
each case's batch axis becomes a leading per-sample axis (one sample of shape ``(B, *X)``),
with the axis attributes of the layout ops shifted by one. That is the same computation for
every op whose per-sample semantics are independent over leading axes: all of them except
``patch_embed`` (its per-sample input is one image), whose cases are left to the op suite of
``hls_cases.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ir.registry import get_op
from ivit_hw.runtime.golden import load_golden_case

SKIP_OPS = ("patch_embed",)


def _value_type(arr: np.ndarray) -> IntType:
    return IntType.fitting(Interval(int(arr.min()), int(arr.max())) if arr.size else Interval(0, 0))


def _lifted_attrs(op: str, attrs: dict) -> dict:
    a = dict(attrs)
    if op in ("concat", "slice", "gather", "reduce_sum") and a["axis"] >= 0:
        a["axis"] += 1
    if op == "transpose":
        a["perm"] = [0] + [p + 1 for p in a["perm"]]
    return a


def conformance_graph(suite: Path) -> tuple[Graph, dict[str, np.ndarray], list[str]]:
    """One graph with every (non-skipped) conformance case as an independent node, one sample each."""
    doc = yaml.safe_load((suite / "index.yaml").read_text(encoding="utf-8"))
    b = GraphBuilder("hls_conformance")
    vectors: dict[str, np.ndarray] = {}
    names = []
    for entry in doc["cases"]:
        if entry["op"] in SKIP_OPS:
            continue
        case = load_golden_case(suite / entry["file"])
        opdef = get_op(case.op)
        batch = case.output.shape[0]
        tag = entry["case"]
        ins = {}
        for role in opdef.roles:
            name = role.name
            if name in case.params:
                arr = case.params[name]
                ins[name] = b.const(f"{tag}.{name}", arr, case.dtypes.get(name) or _value_type(arr))
            elif name in case.inputs:
                arr = np.broadcast_to(case.inputs[name], (batch, *case.inputs[name].shape[1:]))
                t = case.dtypes.get(name) or _value_type(arr)
                ins[name] = b.input(f"{tag}.{name}", tuple(arr.shape), t, None, Interval.of_type(t))
                vectors[ins[name]] = arr[None]
        attrs = _lifted_attrs(case.op, case.attrs)
        if case.op == "reshape":
            attrs["shape"] = [batch, *attrs["shape"]]
        out = b.node(case.op, ins, tag, IntType(64), None, attrs, name=tag)
        vectors[out] = case.output[None]
        names.append(entry["case"])
    return infer_ranges(b.finish(names)), vectors, names

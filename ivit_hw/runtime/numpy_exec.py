"""The golden executor: runs an IR graph with the numpy kernels of
:mod:`ivit_hw.ops`, exactly, and optionally records every tensor and every
op intermediate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.registry import get_op
from ..ir.types import IRError


@dataclass
class RunResult:
    """Outputs by name; with ``trace=True`` also every tensor and every internal (``node/name``)."""

    outputs: dict[str, np.ndarray]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    internals: dict[str, np.ndarray] = field(default_factory=dict)


def _check_input(graph: Graph, name: str, value: np.ndarray) -> np.ndarray:
    spec = graph.tensor(name)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        raise IRError(f"input {name!r}: expected an integer array, got dtype {arr.dtype}")
    if tuple(arr.shape) == spec.shape:
        arr = arr[None]
    if tuple(arr.shape[1:]) != spec.shape:
        raise IRError(f"input {name!r}: expected shape {spec.shape} or (B, *{spec.shape}), got {arr.shape}")
    arr = arr.astype(np.int64)
    spec.dtype.check_values(arr, f"input {name!r}")
    return arr


def node_args(graph: Graph, node: Node, env: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A node's kernel arguments by role: tensors from ``env``, constants as the op's kernel takes them."""
    opdef = get_op(node.op)
    return {role: env[t] if t in env else opdef.const_arg(role, graph.constants[t]) for role, t in node.inputs.items()}


#: ``observe(node, args, out)``: called after each node with its kernel arguments and output (read only).
Observer = Callable[[Node, Mapping[str, np.ndarray], np.ndarray], None]


def run_graph(graph: Graph, inputs: Mapping[str, np.ndarray], trace: bool = False,
              observe: Observer | None = None) -> RunResult:
    """Execute ``graph`` on integer ``inputs`` (per-sample shape, or with a leading batch axis).

    Outputs always carry the batch axis. Raises IRError naming the input that
    is missing, mistyped, mis-shaped or outside its declared type. ``observe``
    sees every node's arguments and output as they are computed (statistics
    without keeping a trace in memory).
    """
    missing = [n for n in graph.inputs if n not in inputs]
    if missing:
        raise IRError(f"graph {graph.name!r}: missing input(s) {missing}")
    env: dict[str, np.ndarray] = {n: _check_input(graph, n, inputs[n]) for n in graph.inputs}
    result = RunResult({})
    for node in graph.nodes:
        opdef = get_op(node.op)
        args = node_args(graph, node, env)
        node_trace: dict | None = {} if trace else None
        out = np.asarray(opdef.kernel(args, node.attrs, node_trace), dtype=np.int64)
        env[node.output] = out
        if observe is not None:
            observe(node, args, out)
        if node_trace is not None:
            for key in opdef.internals:
                if key in node_trace:
                    result.internals[f"{node.name}/{key}"] = np.asarray(node_trace[key])
    result.outputs = {n: env[n] for n in graph.outputs}
    if trace:
        result.tensors = dict(env)
    return result

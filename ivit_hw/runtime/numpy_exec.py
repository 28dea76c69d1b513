"""The golden executor: runs an IR graph with the numpy spec kernels of
:mod:`ivit_hw.ops`, exactly, optionally recording every tensor and every op
intermediate, optionally checking every value against its declared type.

The graph is planned once (:mod:`ivit_hw.runtime.node_builders`): constants are
prepared and every value-dependent choice is taken from the proven ranges,
so a run does no probing. Tracing takes the same code path as a plain run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.registry import get_op
from ..ir.types import IRError
from ..ops.xp import NP, ArrayOps
from . import numpy_threads
from .golden_fast import GOLDEN_BUILDERS, plain_plan
from .node_builders import Builder, PlannedNode, plan_graph
from .numpy_threads import limited_blas_threads


@dataclass
class RunResult:
    """Outputs by name; with ``trace=True`` also every tensor and every internal (``node/name``)."""

    outputs: dict[str, np.ndarray]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    internals: dict[str, np.ndarray] = field(default_factory=dict)


def check_input(graph: Graph, name: str, value: np.ndarray) -> np.ndarray:
    """An input as an int64 array with a batch axis; IRError naming it when it is mistyped,
    mis-shaped, outside its type or outside its declared range (what the plan relies on)."""
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
    if spec.range is not None and arr.size and (int(arr.min()) < spec.range.lo or int(arr.max()) > spec.range.hi):
        raise IRError(f"input {name!r}: values [{arr.min()}, {arr.max()}] lie outside its declared range "
                      f"{spec.range}")
    return arr


def node_args(graph: Graph, node: Node, env: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A node's kernel arguments by role: tensors from ``env``, constants as the op's kernel takes them."""
    opdef = get_op(node.op)
    return {role: env[t] if t in env else opdef.const_arg(role, graph.constants[t]) for role, t in node.inputs.items()}


#: ``observe(node, args, out)``: called after each node with its data arguments (by role; the param
#: constants are in ``graph.constants``) and its output, read only: statistics without keeping a trace.
Observer = Callable[[Node, Mapping[str, Any], Any], None]


def _values_check(values: Any, dtype, what: str) -> None:
    arr = np.asarray(values)
    if arr.size and (int(arr.min()) < dtype.min or int(arr.max()) > dtype.max):
        bad = arr.ravel()[int(np.argmax((arr.ravel() < dtype.min) | (arr.ravel() > dtype.max)))]
        raise IRError(f"{what}: value {bad} (values [{arr.min()}, {arr.max()}]) does not fit {dtype}")


class PlannedGraph:
    """A graph planned on one namespace, with the shared run loop (trace, check, node-named errors).

    ``to_numpy`` turns a namespace array into a numpy array (for traces and checks).
    """

    def __init__(self, graph: Graph, xp: ArrayOps, fast: bool = True,
                 builders: Mapping[str, Builder] | None = None,
                 to_numpy: Callable[[Any], np.ndarray] = np.asarray) -> None:
        self.xp = xp
        self.graph, self.planned = plan_graph(graph, xp, fast, builders)
        self.to_numpy = to_numpy
        data_consts = {t for pn in self.planned for _, t in pn.data if self.graph.tensor(t).const}
        self.const_env = {t: xp.asarray(self.graph.constants[t])[None] for t in sorted(data_consts)}

    def execute(self, env: dict[str, Any], trace: bool = False, check: bool = False,
                observe: Observer | None = None, planned: list[PlannedNode] | None = None) -> RunResult:
        """Run every node on ``env`` (graph inputs, batch first); outputs (and traces) on the namespace.

        ``observe`` (see :data:`Observer`) sees every node's data arguments and output. ``planned``
        replaces :attr:`planned` (the same nodes, other implementations).
        """
        env = {**self.const_env, **env}
        result = RunResult({})
        for pn in self.planned if planned is None else planned:
            node = pn.node
            node_trace: dict | None = {} if (trace or check) else None
            args = {r: env[t] for r, t in pn.data}
            try:
                out = pn.impl(args, node_trace)
            except IRError as exc:
                raise IRError(f"node {node.name!r} (op {node.op}): {exc}") from exc
            except ArithmeticError as exc:  # overflow on these values: the data's fault, named by node
                raise IRError(f"node {node.name!r} (op {node.op}): {type(exc).__name__}: {exc}") from exc
            except Exception as exc:  # a bug in a kernel: keep its type and traceback, say where it struck
                exc.add_note(f"in node {node.name!r} (op {node.op}) of graph {self.graph.name!r}")
                raise
            env[node.output] = out
            if observe is not None:
                observe(node, args, out)
            if check:
                self._check(pn, out, node_trace)
            if trace:
                for key in get_op(node.op).internals:
                    if key in node_trace:
                        result.internals[f"{node.name}/{key}"] = node_trace[key]
        result.outputs = {n: env[n] for n in self.graph.outputs}
        if trace:
            result.tensors = {k: v for k, v in env.items() if k not in self.const_env}
        return result

    def _check(self, pn: PlannedNode, out: Any, node_trace: dict) -> None:
        node = pn.node
        spec = self.graph.tensor(node.output)
        _values_check(self.to_numpy(out), spec.dtype, f"node {node.name!r}: tensor {node.output!r}")
        for key, internal in node.internals.items():
            if key in node_trace:
                values = node_trace[key]
                values = values if isinstance(values, np.ndarray) else self.to_numpy(values)
                _values_check(values, internal.dtype, f"node {node.name!r}: internal {key!r}")


class GoldenExecutor(PlannedGraph):
    """The numpy golden executor of one graph. ``fast=False`` runs the spec path of every
    kernel (no lookup tables, no float BLAS GEMM, none of :mod:`.golden_fast`). Building a fast one
    sets glibc's heap thresholds for the whole process, once
    (:func:`~ivit_hw.runtime.numpy_threads.keep_heap_pages`: a speed setting, no value depends on it)."""

    def __init__(self, graph: Graph, fast: bool = True) -> None:
        super().__init__(graph, NP, fast, GOLDEN_BUILDERS)
        #: the plan of plain runs (no trace, check or observer): :func:`~.golden_fast.plain_plan`
        self.plain_planned = plain_plan(self.graph, self.planned) if fast else self.planned
        if fast:  # process-wide, once (see numpy_threads); looked up on the module so a script can opt out
            numpy_threads.keep_heap_pages()

    def run(self, inputs: Mapping[str, np.ndarray], trace: bool = False, check: bool = False,
            observe: Observer | None = None, threads: int | None = None) -> RunResult:
        """Execute on integer ``inputs`` (per-sample shape, or with a leading batch axis).

        ``threads``: numpy's BLAS threads (the GEMMs) for this run: None is
        :data:`~ivit_hw.runtime.numpy_threads.GOLDEN_BLAS_THREADS` (1) where threadpoolctl is installed,
        0 the BLAS as configured, n >= 1 n threads
        (:func:`~ivit_hw.runtime.numpy_threads.limited_blas_threads`); no value depends on it.
        """
        missing = [n for n in self.graph.inputs if n not in inputs]
        if missing:
            raise IRError(f"graph {self.graph.name!r}: missing input(s) {missing}")
        env = {n: check_input(self.graph, n, inputs[n]) for n in self.graph.inputs}
        plain = not (trace or check or observe is not None)
        with limited_blas_threads(threads):
            return self.execute(env, trace, check, observe, self.plain_planned if plain else None)


_CACHE_ATTR = "_ivit_golden_executors"


def golden_executor(graph: Graph, fast: bool = True) -> GoldenExecutor:
    """The golden executor of ``graph``, planned once per graph object (held by the graph itself)."""
    cache = graph.__dict__.setdefault(_CACHE_ATTR, {})
    if fast not in cache:
        cache[fast] = GoldenExecutor(graph, fast)
    return cache[fast]


def run_graph(graph: Graph, inputs: Mapping[str, np.ndarray], trace: bool = False, check: bool = False,
              fast: bool = True, observe: Observer | None = None, threads: int | None = None) -> RunResult:
    """Execute ``graph`` on integer ``inputs`` (per-sample shape, or with a leading batch axis).

    Outputs always carry the batch axis. ``trace`` records every tensor and
    internal; ``check`` raises IRError naming the node, tensor or internal and
    the value when anything leaves its declared type; ``fast=False`` takes the
    spec path of every kernel. Raises IRError naming the input that is
    missing, mistyped, mis-shaped or outside its declared type, and naming the
    node when a kernel fails. ``observe(node, args, out)`` sees every node as it
    runs (e.g. :class:`ivit_hw.runtime.clipping.ClipCounter`). ``threads``: numpy's BLAS threads for
    this run (:meth:`GoldenExecutor.run`: None is one thread where threadpoolctl is installed, 0 as
    configured).
    """
    return golden_executor(graph, fast).run(inputs, trace, check, observe, threads)


__all__ = ["GoldenExecutor", "Observer", "PlannedGraph", "RunResult", "check_input", "golden_executor",
           "node_args", "run_graph"]

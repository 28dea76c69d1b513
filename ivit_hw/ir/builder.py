"""A small imperative builder for graphs, used by the model export and the
examples: declare inputs and constants, add nodes (shapes are inferred from
the op's shape rule), then :meth:`GraphBuilder.finish`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import Graph, Node
from .registry import get_op
from .types import InternalSpec, Interval, IntType, IRError, Scale, TensorSpec


def _norm_scale(scale: Any) -> Scale:
    if scale is None:
        return None
    arr = np.asarray(scale, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    return tuple(float(v) for v in arr.ravel())


class GraphBuilder:
    """Accumulates tensors, constants and nodes; names must be unique."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tensors: dict[str, TensorSpec] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.meta: dict[str, Any] = {}

    def _add(self, spec: TensorSpec) -> str:
        if spec.name in self.tensors:
            raise IRError(f"tensor {spec.name!r} defined twice")
        self.tensors[spec.name] = spec
        return spec.name

    def input(self, name: str, shape: tuple[int, ...], dtype: IntType, scale: Any = None,
              range: Interval | None = None) -> str:
        """Declare a graph input (per-sample shape) with an optional declared value range."""
        self.inputs.append(name)
        return self._add(TensorSpec(name, tuple(shape), dtype, _norm_scale(scale), range))

    def const(self, name: str, values: np.ndarray, dtype: IntType, scale: Any = None,
              scale_axis: int | None = None) -> str:
        """Declare a constant; its values must fit ``dtype``. A per-channel ``scale`` runs
        along ``scale_axis`` (default the last axis; 0 for a weight's output channels)."""
        arr = np.asarray(values)
        if arr.dtype.kind not in "iub":
            raise IRError(f"constant {name!r} must hold integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        dtype.check_values(arr, f"constant {name!r}")
        self.constants[name] = arr
        return self._add(TensorSpec(name, tuple(arr.shape), dtype, _norm_scale(scale), const=True,
                                    scale_axis=scale_axis))

    def node(self, op: str, inputs: dict[str, str], out: str, dtype: IntType, scale: Any = None,
             attrs: dict[str, Any] | None = None, name: str | None = None,
             internals: dict[str, IntType] | None = None, scale_axis: int | None = None) -> str:
        """Add ``out = op(inputs)``; returns the output tensor name (a per-channel ``scale``
        runs along ``scale_axis``, default the last axis)."""
        opdef = get_op(op)
        node_name = name or out
        where = f"node {node_name!r}"
        opdef.check_roles(inputs, where)
        for role, tname in inputs.items():
            if tname not in self.tensors:
                raise IRError(f"{where}: input {role}={tname!r} is not defined")
            if opdef.role(role).param and not self.tensors[tname].const:
                raise IRError(f"{where}: input {role}={tname!r} must be a constant")
        checked = opdef.check_attrs(attrs or {}, where)
        shapes = {role: self.tensors[t].shape for role, t in inputs.items()}
        try:
            shape = tuple(opdef.shape(shapes, checked))
        except IRError as exc:
            raise IRError(f"{where}: {exc}") from None
        self._add(TensorSpec(out, shape, dtype, _norm_scale(scale), scale_axis=scale_axis))
        declared = {k: InternalSpec(t) for k, t in (internals or {}).items()}
        self.nodes.append(Node(node_name, op, dict(inputs), out, checked, declared))
        return out

    def shape(self, tensor: str) -> tuple[int, ...]:
        """Per-sample shape of a tensor added so far."""
        return self.tensors[tensor].shape

    def finish(self, outputs: list[str]) -> Graph:
        """The finished graph with the given outputs."""
        for o in outputs:
            if o not in self.tensors:
                raise IRError(f"graph output {o!r} is not defined")
        return Graph(self.name, tuple(self.inputs), tuple(outputs), dict(self.tensors), tuple(self.nodes),
                     dict(self.constants), dict(self.meta))

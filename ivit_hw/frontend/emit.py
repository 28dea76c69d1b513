"""Two ways to run one integer program: record it as an IR graph, or execute
it at once on numpy arrays.

The quantized twin writes its integer forward once, against :class:`Emitter`.
:class:`GraphEmitter` turns it into a graph (the export); :class:`EagerEmitter`
runs each op immediately through the registry's kernels (the twin's integer
eval forward). Both see the same constants, attributes and op order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from ..ir.analysis import infer_ranges, width_violations
from ..ir.builder import GraphBuilder
from ..ir.graph import Graph
from ..ir.registry import get_op
from ..ir.scales import scale_rule_problems
from ..ir.types import IntType, IRError
from ..ir.verify import format_problems, verify_structure, width_problem

AUTO = None  # dtype placeholder: the narrowest type holding the proven range
_AUTO_PLACEHOLDER = IntType(64)


class Emitter(Protocol):
    """What an integer program may do: declare constants and apply ops."""

    def const(self, name: str, values: np.ndarray, dtype: IntType, scale: Any = None,
              scale_axis: int | None = None) -> Any: ...

    def op(
        self,
        op: str,
        inputs: dict[str, Any],
        out: str,
        dtype: IntType | None,
        scale: Any = None,
        attrs: dict[str, Any] | None = None,
        scale_axis: int | None = None,
    ) -> Any: ...


class GraphEmitter:
    """Records the program into a :class:`GraphBuilder`; handles are tensor names."""

    def __init__(self, name: str) -> None:
        self.builder = GraphBuilder(name)
        self.auto: list[str] = []

    def input(self, name: str, shape: tuple[int, ...], dtype: IntType, scale: Any = None, range=None) -> str:
        """Declare a graph input."""
        return self.builder.input(name, shape, dtype, scale, range)

    def const(self, name: str, values: np.ndarray, dtype: IntType, scale: Any = None,
              scale_axis: int | None = None) -> str:
        """Declare a constant tensor."""
        return self.builder.const(name, values, dtype, scale, scale_axis)

    def op(
        self,
        op: str,
        inputs: dict[str, str],
        out: str,
        dtype: IntType | None,
        scale: Any = None,
        attrs: dict[str, Any] | None = None,
        scale_axis: int | None = None,
    ) -> str:
        """Add a node; ``dtype=AUTO`` defers the width to range analysis."""
        if dtype is AUTO:
            self.auto.append(out)
        return self.builder.node(op, inputs, out, dtype or _AUTO_PLACEHOLDER, scale, attrs, scale_axis=scale_axis)

    def finish(self, outputs: list[str], meta: dict[str, Any] | None = None) -> Graph:
        """The analysed, verified graph: every AUTO tensor narrowed to the type its proven
        range needs, every tensor's proven range and every node's internals (type and range)
        filled in. IRError listing every width violation or scale-rule contradiction."""
        self.builder.meta.update(meta or {})
        graph = self.builder.finish(outputs)
        verify_structure(graph)
        analysed = infer_ranges(graph)
        tensors = dict(analysed.tensors)
        for name in self.auto:
            tensors[name] = replace(tensors[name], dtype=IntType.fitting(tensors[name].range, True))
        analysed = replace(analysed, tensors=tensors)
        problems = [width_problem(v) for v in width_violations(analysed)] + scale_rule_problems(analysed)
        if problems:
            raise IRError(format_problems(f"graph {graph.name!r}", problems))
        return analysed


class EagerEmitter:
    """Runs each op at once on batched int64 arrays; handles are the arrays themselves."""

    def const(self, name: str, values: np.ndarray, dtype: IntType, scale: Any = None,
              scale_axis: int | None = None) -> np.ndarray:
        """Check the constant fits ``dtype`` and return it as int64."""
        arr = np.asarray(values).astype(np.int64)
        dtype.check_values(arr, f"constant {name!r}")
        arr.setflags(write=False)  # immutable, like graph constants
        return _Const(arr)

    def op(
        self,
        op: str,
        inputs: dict[str, Any],
        out: str,
        dtype: IntType | None,
        scale: Any = None,
        attrs: dict[str, Any] | None = None,
        scale_axis: int | None = None,
    ) -> np.ndarray:
        """Apply the op's kernel now (constants used as data get a batch axis of 1)."""
        opdef = get_op(op)
        checked = opdef.check_attrs(attrs or {}, f"node {out!r}")
        args = {}
        for role, value in inputs.items():
            args[role] = opdef.const_arg(role, value.values) if isinstance(value, _Const) else value
        result = np.asarray(opdef.kernel(args, checked, None), dtype=np.int64)
        if dtype is not AUTO:
            dtype.check_values(result, f"tensor {out!r}")
        return result


class _Const:
    """A constant seen by the eager emitter (kept apart from activations)."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

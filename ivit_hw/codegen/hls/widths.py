"""Widths for the HLS renderer: the proven interval of every tensor and node
internal, and the C type that holds it.

:func:`analysed_graph` is the one place that decides where ranges come from:
``load_graph`` returns analysed graphs (every tensor range and node internal
stored); an in-memory graph without them is analysed here first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.analysis import infer_ranges, width_violations
from ...ir.graph import Graph, Node
from ...ir.registry import get_op
from ...ir.types import Interval, IRError
from ...ir.verify import width_problem

AP_INT_MAX_W = 1024  # ap_int's default limit (AP_INT_MAX_W in ap_common.h)
INT32_MAX = 2**31 - 1


def analysed_graph(graph: Graph) -> Graph:
    """The graph with every tensor range and node internal proven; IRError on a width violation.

    The single switch point: when ``load_graph`` returns analysed graphs this
    becomes :func:`check_analysed` alone.
    """
    if any(spec.range is None for spec in graph.tensors.values()) or any(
            k not in n.internals or n.internals[k].range is None
            for n in graph.nodes for k in get_op(n.op).internals):
        graph = infer_ranges(graph)
    check_analysed(graph)
    return graph


def check_analysed(graph: Graph) -> None:
    """IRError naming the first tensor or internal without a proven range, or every width violation."""
    for name, spec in graph.tensors.items():
        if spec.range is None:
            raise IRError(f"tensor {name!r}: no proven range (the graph is not analysed)")
    for node in graph.nodes:
        for key in get_op(node.op).internals:
            internal = node.internals.get(key)
            if internal is None or internal.range is None:
                raise IRError(f"node {node.name!r}: internal {key!r} has no proven range (the graph is not analysed)")
    bad = width_violations(graph)
    if bad:
        raise IRError(f"graph {graph.name!r} is inconsistent: {width_problem(bad[0])}"
                      + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))


@dataclass(frozen=True)
class CType:
    """An ap_int (signed) or ap_uint of ``bits`` bits (may exceed the IR's 64 for renderer registers)."""

    bits: int
    signed: bool

    def __str__(self) -> str:
        return f"ap_int<{self.bits}>" if self.signed else f"ap_uint<{self.bits}>"


def fitting(iv: Interval, where: str) -> CType:
    """The narrowest type holding ``iv``; IRError naming ``where`` beyond ap_int's limit."""
    signed = iv.lo < 0
    bits = (max(max(iv.hi, 0).bit_length(), max(-iv.lo - 1, 0).bit_length()) + 1 if signed
            else max(iv.hi.bit_length(), 1))
    if bits > AP_INT_MAX_W:
        raise IRError(f"{where}: needs {bits} bits, above ap_int's limit of {AP_INT_MAX_W}")
    return CType(bits, signed)


def native_type(iv: Interval, where: str) -> str:
    """The narrowest ``<stdint.h>`` type holding a constant's values (ROM storage)."""
    t = fitting(iv, where)
    for bits in (8, 16, 32, 64):
        if t.bits <= bits:
            return f"int{bits}_t" if t.signed else f"uint{bits}_t"
    raise IRError(f"{where}: constant needs {t.bits} bits, more than 64")


def hull(*ivs: Interval) -> Interval:
    """Smallest interval holding all of ``ivs``."""
    return Interval(min(i.lo for i in ivs), max(i.hi for i in ivs))


def product(a: Interval, b: Interval) -> Interval:
    """Corner hull of a * b."""
    c = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return Interval(min(c), max(c))


def const_iv(values: np.ndarray) -> Interval:
    """Exact hull of a constant's values."""
    arr = np.asarray(values)
    return Interval(int(arr.min()), int(arr.max())) if arr.size else Interval(0, 0)


def node_intervals(graph: Graph, node: Node) -> dict[str, Interval]:
    """Every interval the renderer needs for ``node``: ``in.<role>``, ``out`` and each internal."""
    ctx: dict = {}
    opdef = get_op(node.op)
    for role, t in node.inputs.items():
        spec = graph.tensor(t)
        ctx[f"shape.{role}"] = spec.shape
        if spec.const:
            ctx[f"val.{role}"] = graph.constants[t]
            ctx[f"const.{role}"] = const_iv(graph.constants[t])
        if not opdef.role(role).param:
            ctx[f"in.{role}"] = spec.range
    for k, v in node.attrs.items():
        ctx[f"attr.{k}"] = v
    ctx["out"] = graph.tensor(node.output).range
    for key, internal in node.internals.items():
        ctx[key] = internal.range
    return {k: v for k, v in ctx.items() if isinstance(v, Interval)}

"""The one place the Verilog renderer reads value ranges from the IR.

:func:`node_ranges` returns the proven intervals the graph stores for a node:
its input tensors (by role), its output (``"out"``) and every internal its op
lists (``prod``, ``y``, ``prod_id``, ``y_id``, ``sum``, ``esum``, ``xsum``, ...,
see docs/semantics.md). It never runs the range analysis: the graph is the
analysed one :func:`ivit_hw.ir.serialize.load_graph` returns (load_graph
re-derives and checks every stored range), and a range the renderer needs
but the graph lacks is one clear error naming the node and the value.
"""

from __future__ import annotations

from ...ir.graph import Graph, Node
from ...ir.registry import get_op
from ...ir.types import Interval, IntType, IRError


class MissingRange(IRError):
    """The graph has no proven range for a value a unit's widths need."""


def node_ranges(graph: Graph, node: Node) -> dict[str, Interval]:
    """Intervals of ``node``'s inputs (by role), output (``out``) and internals, as the graph stores them.

    Every data input, the output and every internal of the op must have a
    stored range (parameter constants are included when they have one);
    otherwise :class:`MissingRange` naming the node and what is missing.
    """
    opdef = get_op(node.op)
    hint = "(an analysed graph, as load_graph returns it, stores every range)"
    out: dict[str, Interval] = {}
    for role, tname in node.inputs.items():
        spec = graph.tensor(tname)
        if spec.range is not None:
            out[role] = spec.range
        elif not opdef.role(role).param:
            raise MissingRange(f"node {node.name!r}: input {role!r} (tensor {tname!r}) has no proven range {hint}")
    rng = graph.tensor(node.output).range
    if rng is None:
        raise MissingRange(f"node {node.name!r}: output {node.output!r} has no proven range {hint}")
    out["out"] = rng
    for key in opdef.internals:
        internal = node.internals.get(key)
        if internal is None or internal.range is None:
            raise MissingRange(f"node {node.name!r}: internal {key!r} has no stored type and range {hint}")
        out[key] = internal.range
    return out


def sbits(iv: Interval) -> int:
    """Bits of the narrowest two's-complement signal holding ``iv`` (every RTL signal is signed)."""
    return IntType.fitting(iv, signed=True).bits


def hull(*ivs: Interval) -> Interval:
    """Smallest interval holding all of ``ivs``."""
    return Interval(min(i.lo for i in ivs), max(i.hi for i in ivs))

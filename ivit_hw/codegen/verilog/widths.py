"""The one place the Verilog renderer reads value ranges from the IR.

:func:`node_ranges` returns the proven interval of a node's input tensors (by
role), its output (``"out"``) and its internals. Until ``load_graph`` returns
analysed graphs with every internal the interfaces list (``esum``, ``xsum``,
``mean``, ``sq``, ``yf``, ``poly``, ``g``, ``prod``, ...), it runs
:func:`ivit_hw.ir.analysis.infer_ranges` itself (the one line to switch) and
the unit builders derive the few missing internals from these intervals
(:func:`derived`), each with its reasoning.
"""

from __future__ import annotations

from ...ir.analysis import infer_ranges
from ...ir.graph import Graph, Node
from ...ir.types import Interval, IntType

_CACHE: dict[int, Graph] = {}


def _analysed(graph: Graph) -> Graph:
    key = id(graph)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = infer_ranges(graph)  # switch: `return graph` once load_graph analyses
    return _CACHE[key]


def node_ranges(graph: Graph, node: Node) -> dict[str, Interval]:
    """Intervals of ``node``'s data inputs (by role), output (``out``) and internals."""
    g = _analysed(graph)
    n = g.node(node.name)
    out: dict[str, Interval] = {}
    for role, tname in n.inputs.items():
        spec = g.tensor(tname)
        if spec.range is not None:
            out[role] = spec.range
    out["out"] = g.tensor(n.output).range
    for key, internal in n.internals.items():
        if internal.range is not None:
            out[key] = internal.range
    return out


def sbits(iv: Interval) -> int:
    """Bits of the narrowest two's-complement signal holding ``iv`` (every RTL signal is signed)."""
    return IntType.fitting(iv, signed=True).bits


def hull(*ivs: Interval) -> Interval:
    """Smallest interval holding all of ``ivs``."""
    return Interval(min(i.lo for i in ivs), max(i.hi for i in ivs))


def derived(ranges: dict[str, Interval], key: str, fallback: Interval) -> Interval:
    """``ranges[key]`` when the IR records it, else the builder's own sound ``fallback``."""
    return ranges.get(key, fallback)

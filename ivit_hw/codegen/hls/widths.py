"""Widths for the HLS renderer: the proven interval of every tensor and node
internal, and the C type that holds it.

:func:`analysed_graph` is the one place that decides where ranges come from.
While ``load_graph`` does not yet return analysed graphs with every internal
the INTERFACES list names, it runs the range analysis here and fills the
internals the registry does not list yet (:data:`PENDING_INTERNALS`) from
the sound interval rules below. Once the IR stores them, the fallback is
never used (an internal stored on the node always wins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...ir.analysis import infer_ranges, width_violations
from ...ir.graph import Graph, Node
from ...ir.range_rules import _scaled_interval
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


# ----------------------------------------------------------------------------- pending internals
# Internals the INTERFACES name but the registry does not list yet. Each rule
# is a sound (if sometimes loose) interval, from the node's other intervals.

Ctx = dict  # "in.<role>" / "const.<role>" / "out" / "<internal>" -> Interval, "shape.<role>" -> shape


def _rq_main(c: Ctx) -> dict[str, Interval]:
    prod = product(c["in.acc"], c["const.m"])
    y = _scaled_interval(c["in.acc"], c["val.m"], c["val.e"], c["attr.rounding"])
    if "in.identity" in c:
        prod_id = product(c["in.identity"], c["const.m_id"])
        y_id = _scaled_interval(c["in.identity"], c["val.m_id"], c["val.e_id"], c["attr.rounding"])
    else:
        prod_id = y_id = Interval(0, 0)
    return {"prod": prod, "y": y, "prod_id": prod_id, "y_id": y_id,
            "sum": Interval(y.lo + y_id.lo, y.hi + y_id.hi)}


def _norm(c: Ctx) -> dict[str, Interval]:
    x, cols, y, z = c["in.x"], c["shape.x"][-1], c["y"], c["z"]
    sq_hi = max(y.lo * y.lo, y.hi * y.hi)
    return {"xsum": Interval(cols * x.lo, cols * x.hi), "mean": x,
            "yf": Interval(2 * z.lo, 2 * z.hi + 1), "sq": Interval(0, sq_hi)}


def _ibert_exp_p(c: Ctx) -> dict[str, Interval]:
    n, x0, d = c["attr.n"], c["attr.x0"], c["d"]
    cols = c["shape.x"][-1]
    e = c["e16"] if "e16" in c else c["e"]
    return {"p": Interval(max(d.lo, n * x0), max(d.hi, n * x0)), "esum": Interval(0, cols * max(e.hi, 0))}


PENDING_INTERNALS: dict[str, tuple[tuple[str, ...], Callable[[Ctx], dict[str, Interval]]]] = {
    "requantize": (("prod", "y", "prod_id", "y_id", "sum"), _rq_main),
    "shiftmax": (("esum",), lambda c: {"esum": Interval(0, c["shape.x"][-1] * c["e"].hi)}),
    "shiftgelu": (("d", "esum"), lambda c: {"d": Interval(c["z"].lo - c["z"].hi, 0),
                                            "esum": Interval(c["e"].lo + c["em"].lo, c["e"].hi + c["em"].hi)}),
    "ilayernorm": (("xsum", "mean", "yf", "sq"), _norm),
    "ibert_layernorm": (("xsum", "mean", "yf", "sq"), _norm),
    "l1_layernorm": (("xsum", "mean", "yf"), _norm),
    "ibert_gelu": (("poly", "g"), lambda c: {
        "poly": Interval(c["u"].lo << 14, (c["u"].hi << 14) + (1 << 14) - 1),
        "g": Interval(c["u"].lo + c["attr.one"], c["u"].hi + c["attr.one"])}),
    "ibert_softmax": (("p", "esum"), _ibert_exp_p),
    "log_int_softmax": (("p", "esum"), _ibert_exp_p),
}


def node_intervals(graph: Graph, node: Node) -> dict[str, Interval]:
    """Every interval the renderer needs for ``node``: ``in.<role>``, ``out`` and each internal."""
    ctx: Ctx = {}
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
    names, rule = PENDING_INTERNALS.get(node.op, ((), None))
    missing = [k for k in names if k not in node.internals]
    if missing and rule is not None:
        computed = rule(ctx)
        for k in missing:
            ctx[k] = computed[k]
    return {k: v for k, v in ctx.items() if isinstance(v, Interval)}

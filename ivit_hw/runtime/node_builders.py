"""Planning a graph for an executor: each node becomes a callable bound to
one array namespace, with its constants converted and every value-dependent
choice (GEMM path, product width, lookup tables) taken once from the proven
ranges, at graph-load time.

:data:`BUILDERS` maps op name -> builder; a builder receives a
:class:`NodeContext` and returns ``impl(args, trace) -> output``, where
``args`` maps the node's data roles to arrays (batch axis first) and
``trace`` is a dict for the intermediates or None. Every builder calls the
spec kernels of :mod:`ivit_hw.ops` (one formula for every backend);
executors may override entries (the torch executor's fused kernels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..ir.analysis import infer_ranges
from ..ir.graph import Graph, Node
from ..ir.registry import OpDef, get_op
from ..ir.types import Interval, IRError
from ..ops import tables
from ..ops.baselines import LOG_WEIGHT_RANGE
from ..ops.intmath import value_hull
from ..ops.linear import check_patch_weight
from ..ops.requant import plan_requantize
from ..ops.shiftmax import exp_table
from ..ops.xp import NP, ArrayOps, range_max_abs

Impl = Callable[[Mapping[str, Any], "dict | None"], Any]


@dataclass(frozen=True)
class NodeContext:
    """What a builder knows about one node: namespace, attributes, input ranges and constants."""

    xp: ArrayOps
    node: Node
    opdef: OpDef
    attrs: Mapping[str, Any]
    ranges: Mapping[str, tuple[int, int]]  # every input role (data or constant) -> (lo, hi)
    consts: Mapping[str, np.ndarray]  # constant inputs by role, as stored (numpy)
    shapes: Mapping[str, tuple[int, ...]]  # per-sample shapes by role
    fast: bool

    def const(self, role: str) -> Any:
        """A param constant on the namespace (a Python int when it is a scalar)."""
        values = self.consts[role]
        if np.ndim(values) == 0:
            return int(values)
        return self.xp.asarray(values)

    def opt_const(self, role: str) -> Any:
        """:meth:`const`, or None when the role is not connected."""
        return self.const(role) if role in self.consts else None


Builder = Callable[[NodeContext], Impl]


def analysed(graph: Graph) -> Graph:
    """``graph`` itself when every activation has a proven range, else the graph after range analysis."""
    if all(spec.range is not None for spec in graph.tensors.values() if not spec.const):
        return graph
    return infer_ranges(graph)


def node_context(graph: Graph, node: Node, xp: ArrayOps, fast: bool) -> NodeContext:
    """The :class:`NodeContext` of ``node`` in an analysed ``graph``."""
    opdef = get_op(node.op)
    ranges, consts, shapes = {}, {}, {}
    for role, t in node.inputs.items():
        spec = graph.tensor(t)
        shapes[role] = spec.shape
        if spec.const:
            consts[role] = graph.constants[t]
            ranges[role] = value_hull(graph.constants[t])
        else:
            iv = spec.range or Interval.of_type(spec.dtype)
            ranges[role] = (iv.lo, iv.hi)
    attrs = opdef.check_attrs(node.attrs, f"node {node.name!r}")
    return NodeContext(xp, node, opdef, attrs, ranges, consts, shapes, fast)


# ----------------------------------------------------------------------------- GEMMs


def _linear(ctx: NodeContext) -> Impl:
    w = np.asarray(ctx.consts["weight"])
    w2 = w.reshape(w.shape[0], -1)
    gemm = ctx.xp.gemm(ctx.ranges["x"], ctx.ranges["weight"], w2.shape[1], w2.T, ctx.fast)
    bias = ctx.opt_const("bias")
    xp = ctx.xp
    if ctx.node.op == "patch_embed":
        check_patch_weight(w.shape, ctx.attrs["patch"])
        patch = ctx.attrs["patch"]
        return lambda a, tr: ops.patch_embed(a["x"], None, bias, patch, xp=xp, gemm=gemm)

    def impl(a, tr):
        return ops.linear(a["x"], None, bias, xp=xp, gemm=gemm)

    impl.gemm = gemm  # type: ignore[attr-defined]  # for an executor's fused variants
    return impl


def _matmul(ctx: NodeContext) -> Impl:
    a_shape = ctx.shapes["a"]
    gemm = ctx.xp.gemm(ctx.ranges["a"], ctx.ranges["b"], a_shape[-1], None, ctx.fast)
    tb, xp = ctx.attrs["transpose_b"], ctx.xp

    def impl(a, tr):
        return ops.matmul(a["a"], a["b"], tb, xp=xp, gemm=gemm)

    impl.gemm = gemm  # type: ignore[attr-defined]  # for an executor's fused variants
    return impl


def _log_attn_v(ctx: NodeContext) -> Impl:
    k = ctx.shapes["code"][-1]
    gemm = ctx.xp.gemm(LOG_WEIGHT_RANGE, ctx.ranges["v"], k, None, ctx.fast)
    xp = ctx.xp
    return lambda a, tr: ops.log_attn_v(a["code"], a["v"], xp=xp, gemm=gemm)


# ----------------------------------------------------------------------------- requantize


def _shift_const(ctx: NodeContext, role: str) -> Any:
    """A shift constant (None when the role is not connected); one shift equal on every channel is the
    Python int itself, so the kernel shifts by a constant (the same integers, broadcast)."""
    if role not in ctx.consts:
        return None
    values = np.asarray(ctx.consts[role])
    if values.size and bool((values == values.flat[0]).all()):
        return int(values.flat[0])
    return ctx.const(role)


def _requantize(ctx: NodeContext) -> Impl:
    c, at, xp = ctx.consts, ctx.attrs, ctx.xp
    has_id = "identity" in ctx.node.inputs
    if has_id and ("m_id" not in c or "e_id" not in c):
        raise IRError(f"node {ctx.node.name!r}: identity needs m_id and e_id")
    plan = plan_requantize(range_max_abs(ctx.ranges["acc"]), c["m"], c["e"],
                           range_max_abs(ctx.ranges["identity"]) if has_id else None,
                           c.get("m_id"), c.get("e_id"))
    if xp is not NP and "object" in (plan.path, plan.path_id):
        raise IRError(f"node {ctx.node.name!r}: requantize products need more than 78 bits; "
                      f"only the numpy executor runs them")
    m, e, m_id, e_id = ctx.const("m"), _shift_const(ctx, "e"), ctx.opt_const("m_id"), _shift_const(ctx, "e_id")
    bits, rounding = at["out_bits"], at["rounding"]
    return lambda a, tr: ops.requantize(a["acc"], m, e, bits, rounding, a.get("identity"), m_id, e_id, tr,
                                        xp=xp, plan=plan)


# ----------------------------------------------------------------------------- ShiftExp family


def _exp_table(ctx: NodeContext, lo: int, hi: int, x0: int, n: int) -> tables.ExpTable | None:
    """A lookup table over [lo, hi] on the node's namespace when the fast path is allowed and can pay off."""
    if not ctx.fast or hi - lo + 1 >= _max_elements(ctx) // 4:
        return None
    return exp_table(x0, n, lo, hi, xp=ctx.xp)


def _max_elements(ctx: NodeContext) -> int:
    """Elements per sample of the node's data input (a table must be small against a batch of one)."""
    return max(int(np.prod(ctx.shapes["x"])), tables.LUT_MIN_ELEMENTS + 1)


def _shiftmax(ctx: NodeContext) -> Impl:
    at, xp = ctx.attrs, ctx.xp
    lo, hi = ctx.ranges["x"]
    table = _exp_table(ctx, lo - hi, 0, at["x0"], at["n"])
    mask = ctx.opt_const("mask")
    x0, n, bits = at["x0"], at["n"], at["out_bits"]
    return lambda a, tr: ops.shiftmax(a["x"], x0, n, bits, mask, tr, xp=xp, table=table)


def _shiftgelu(ctx: NodeContext) -> Impl:
    at, xp = ctx.attrs, ctx.xp
    lo, hi = ctx.ranges["x"]
    if at["coef"] == "shift":
        lo, hi = ops.gelu_coef_mul(lo), ops.gelu_coef_mul(hi)
    table = _exp_table(ctx, lo - hi, 0, at["x0"], at["n"])
    x0, n, coef = at["x0"], at["n"], at["coef"]
    return lambda a, tr: ops.shiftgelu(a["x"], x0, n, coef, tr, xp=xp, table=table)


# ----------------------------------------------------------------------------- norms and baselines


def _ilayernorm(ctx: NodeContext) -> Impl:
    at, xp, bias = ctx.attrs, ctx.xp, ctx.const("bias_int")
    iters, k0, sqrt = at["iters"], at["k0"], at["sqrt"]
    return lambda a, tr: ops.ilayernorm(a["x"], bias, iters, k0, sqrt, tr, xp=xp)


def _norm_baseline(kernel: Callable) -> Builder:
    def build(ctx: NodeContext) -> Impl:
        xp, bias = ctx.xp, ctx.const("bias_int")
        return lambda a, tr: kernel(a["x"], bias, tr, xp=xp)

    return build


def _ibert_softmax(ctx: NodeContext) -> Impl:
    at, xp = ctx.attrs, ctx.xp
    args = (at["x0"], at["b_int"], at["c_int"], at["h"], at["n"], at["out_bits"])
    return lambda a, tr: ops.ibert_softmax(a["x"], *args, trace=tr, xp=xp)


def _log_int_softmax(ctx: NodeContext) -> Impl:
    at, xp, mask = ctx.attrs, ctx.xp, ctx.opt_const("mask")
    args = (at["x0"], at["b_int"], at["c_int"], at["n"])
    return lambda a, tr: ops.log_int_softmax(a["x"], *args, mask=mask, trace=tr, xp=xp)


def _ibert_gelu(ctx: NodeContext) -> Impl:
    at, xp = ctx.attrs, ctx.xp
    args = (at["b_int"], at["c_int"], at["one"])
    return lambda a, tr: ops.ibert_gelu(a["x"], *args, tr, xp=xp)


# ----------------------------------------------------------------------------- layout


def _layout(kernel: Callable, *attr_names: str, roles: tuple[str, ...] = ("x",)) -> Builder:
    def build(ctx: NodeContext) -> Impl:
        xp, attrs = ctx.xp, [ctx.attrs[k] for k in attr_names]
        return lambda a, tr: kernel(*(a[r] for r in roles), *attrs, xp=xp)

    return build


BUILDERS: dict[str, Builder] = {
    "requantize": _requantize,
    "linear": _linear,
    "patch_embed": _linear,
    "matmul": _matmul,
    "log_attn_v": _log_attn_v,
    "shiftmax": _shiftmax,
    "shiftgelu": _shiftgelu,
    "ilayernorm": _ilayernorm,
    "ibert_layernorm": _norm_baseline(ops.ibert_layernorm),
    "l1_layernorm": _norm_baseline(ops.l1_layernorm),
    "ibert_softmax": _ibert_softmax,
    "log_int_softmax": _log_int_softmax,
    "ibert_gelu": _ibert_gelu,
    "add": _layout(ops.layout.add, roles=("a", "b")),
    "reshape": _layout(ops.layout.reshape, "shape"),
    "transpose": _layout(ops.layout.transpose, "perm"),
    "concat": _layout(ops.layout.concat, "axis", roles=("a", "b")),
    "slice": _layout(ops.layout.slice_axis, "axis", "start", "stop"),
    "gather": _layout(ops.layout.gather, "axis", "index"),
    "reduce_sum": _layout(ops.layout.reduce_sum, "axis"),
    "argmax": _layout(ops.layout.argmax),
}


@dataclass(frozen=True)
class PlannedNode:
    """One node ready to run: its data roles (role -> tensor) and its implementation."""

    node: Node
    data: tuple[tuple[str, str], ...]
    impl: Impl


def plan_graph(graph: Graph, xp: ArrayOps, fast: bool = True,
               builders: Mapping[str, Builder] | None = None) -> tuple[Graph, list[PlannedNode]]:
    """Plan every node of ``graph`` on ``xp``: returns the analysed graph and the planned nodes.

    Raises IRError naming the node when a builder rejects it (an op the
    table lacks, constants a backend cannot run).
    """
    graph = analysed(graph)
    planned = []
    for node in graph.nodes:
        opdef = get_op(node.op)
        impl = build_node(graph, node, xp, fast, builders)
        data = tuple((r, t) for r, t in node.inputs.items() if not opdef.role(r).param)
        planned.append(PlannedNode(node, data, impl))
    return graph, planned


def build_node(graph: Graph, node: Node, xp: ArrayOps, fast: bool = True,
               builders: Mapping[str, Builder] | None = None) -> Impl:
    """The implementation of one node of an analysed ``graph`` on ``xp`` (IRError naming the node
    when no builder takes it)."""
    build = (BUILDERS if builders is None else builders).get(node.op)
    if build is None:
        raise IRError(f"node {node.name!r}: no {xp.name} implementation of op {node.op!r}")
    try:
        return build(node_context(graph, node, xp, fast))
    except IRError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise IRError(f"node {node.name!r} (op {node.op}): {exc}") from exc

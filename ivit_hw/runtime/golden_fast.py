"""The golden executor's named fast paths: numpy node builders that replace a spec kernel where a
static fact (the proven ranges, the constants) proves the result equal, integer for integer.

Each fast path is taken only on a plain run: a traced or checked run (``trace`` given) needs the
spec kernel's intermediates, so it runs the spec builder of :mod:`.node_builders`, whose output the
proofs below say is the same. ``GoldenExecutor(graph, fast=False)`` takes none of them.
:data:`HITS` counts each fast path taken (tests assert it ran).

- ``requantize_float``: :func:`ivit_hw.ops.requant.requantize_float` (float64 multiply, ``rint``),
  where :func:`~ivit_hw.ops.requant.float_requantize_ok` proves it equal (the proof is there).
- ``shiftgelu_x_table``: ShiftGELU of a narrow input (8-bit) as one lookup per element, in a table
  computed by the spec kernel :func:`ivit_hw.ops.shiftgelu` itself (:class:`GeluRowTable`).
- ``shiftmax_table``: Shiftmax of a narrow input with ShiftExp looked up in the table
  :func:`ivit_hw.ops.shiftmax.exp_table` (computed by the spec's ShiftExp) in one index pass, and the
  spec's remaining steps (sum, clamp, ``f``, ``(e * f) >> (32 - out_bits)``) in place.
- ``float32_acc``: a linear / matmul hands its accumulator to float-route requantizes as the float32
  BLAS result itself (:func:`float_accumulators`), on plain runs only.
- ``gelu_requantize``: a ShiftGELU table whose rows went through the requantize after it
  (:func:`fold_gelu_requantize`), on plain runs only.
"""

from __future__ import annotations

from collections import ChainMap, Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from .. import ops
from ..ir.graph import Graph
from ..ops.intmath import INT32_MAX, max_abs
from ..ops.requant import float_requantize_ok, float_scale, requantize_float
from ..ops.shiftmax import exp_table
from ..ops.xp import FLOAT32_EXACT, range_max_abs
from .node_builders import BUILDERS, Builder, Impl, NodeContext, PlannedNode

#: how often each golden fast path was taken (keys: the fast path names of the module docstring)
HITS: Counter = Counter()


def _requantize(ctx: NodeContext) -> Impl:
    """requantize in float64 where :func:`float_requantize_ok` proves it exact, else the spec kernel."""
    spec = BUILDERS["requantize"](ctx)
    c, at = ctx.consts, ctx.attrs
    has_id = "identity" in ctx.node.inputs
    # one multiplier and one shift for every element: the node is one function of each element alone
    elementwise = not has_id and np.ndim(c["m"]) == 0 and np.asarray(c["e"]).size > 0 and np.ptp(c["e"]) == 0
    spec.elementwise = elementwise  # type: ignore[attr-defined]
    id_max = range_max_abs(ctx.ranges["identity"]) if has_id else None
    if not ctx.fast or not float_requantize_ok(range_max_abs(ctx.ranges["acc"]), c["m"], c["e"], at["out_bits"],
                                               at["rounding"], id_max, c.get("m_id"), c.get("e_id")):
        return spec
    scale = float_scale(c["m"], c["e"])
    scale_id = float_scale(c["m_id"], c["e_id"]) if has_id else None
    bits, rounding = at["out_bits"], at["rounding"]

    def impl(a: Mapping[str, np.ndarray], trace: dict | None) -> np.ndarray:
        if trace is not None:
            return spec(a, trace)
        HITS["requantize_float"] += 1
        return requantize_float(a["acc"], scale, bits, rounding, a.get("identity"), scale_id).astype(np.int64)

    impl.float_route = True  # type: ignore[attr-defined]  # any integer-valued input dtype will do
    impl.elementwise = elementwise  # type: ignore[attr-defined]
    return impl


#: largest input range (values) a ShiftGELU / Shiftmax input may span for the table fast paths
MAX_TABLE_WIDTH = 512  # a ShiftGELU table holds up to 512 x 512 int64 (2 MiB)


class GeluRowTable:
    """ShiftGELU outputs by (row max, value) for inputs in [lo, hi], each row computed by the spec kernel
    the first time a row with that max is seen: ``shiftgelu(x)[..., j] == lookup(x)[..., j]``.

    Proof. The spec's output at an element is ``x * g``, and g depends only on the element's x and
    the row's ``m = max(z)``, with ``z = x`` or ``1.6875 x`` (:func:`~ivit_hw.ops.gelu_coef_mul`, a
    sum of right shifts of x, so nondecreasing in x): ``m = z(u)`` with ``u`` the row's max of x.
    Table row u is the spec kernel on ``min(v, u)`` for every v in [lo, hi]: that row's max is u
    itself, so its entry at ``v <= u`` is the output of value v in any row whose max is u; every
    element of such a row is at most u.
    """

    def __init__(self, lo: int, hi: int, x0: int, n: int, coef: str, post: Callable | None = None) -> None:
        """``post`` (optional) maps table rows elementwise after the spec kernel (a folded requantize)."""
        self.lo, self.width = lo, hi - lo + 1
        self.x0, self.n, self.coef, self.post = x0, n, coef, post
        self.values = np.arange(lo, hi + 1, dtype=np.int64)
        self.table = np.zeros((self.width, self.width), dtype=np.int64)
        self.filled = np.zeros(self.width, dtype=bool)

    def lookup(self, x: np.ndarray) -> np.ndarray:
        """ShiftGELU of ``x`` (every value in [lo, hi]) over its last axis."""
        row = x.max(axis=-1, keepdims=True) - self.lo
        new = np.unique(row[~self.filled[row]])
        if new.size:
            rows = ops.shiftgelu(np.minimum(self.values, new[:, None] + self.lo), self.x0, self.n, self.coef,
                                 xp=ops.xp.NP)
            self.table[new] = rows if self.post is None else self.post(rows)
            self.filled[new] = True
        return np.take(self.table.ravel(), x + (row * self.width - self.lo))


def _shiftgelu(ctx: NodeContext) -> Impl:
    """ShiftGELU by a :class:`GeluRowTable` for a narrow input, else the spec kernel."""
    spec = BUILDERS["shiftgelu"](ctx)
    lo, hi = ctx.ranges["x"]
    if not ctx.fast or hi - lo + 1 > MAX_TABLE_WIDTH:
        return spec
    table = GeluRowTable(lo, hi, ctx.attrs["x0"], ctx.attrs["n"], ctx.attrs["coef"])

    def impl(a: Mapping[str, np.ndarray], trace: dict | None) -> np.ndarray:
        x = a["x"]
        if trace is not None or x.size == 0:
            return spec(a, trace)
        HITS["shiftgelu_x_table"] += 1
        return table.lookup(x)

    impl.gelu_table_args = (lo, hi, ctx.attrs["x0"], ctx.attrs["n"], ctx.attrs["coef"])  # type: ignore[attr-defined]
    return impl


def _shiftmax(ctx: NodeContext) -> Impl:
    """Shiftmax with ShiftExp by lookup (one index pass) for a narrow unmasked input, else the spec."""
    spec = BUILDERS["shiftmax"](ctx)
    lo, hi = ctx.ranges["x"]
    if not ctx.fast or "mask" in ctx.node.inputs or hi - lo + 1 > MAX_TABLE_WIDTH:
        return spec
    x0, n, bits = ctx.attrs["x0"], ctx.attrs["n"], ctx.attrs["out_bits"]
    table = exp_table(x0, n, lo - hi, 0)  # e of every d = x - max(x) in [lo - hi, 0]
    e_of = table.e.astype(np.int64)

    def impl(a: Mapping[str, np.ndarray], trace: dict | None) -> np.ndarray:
        x = a["x"]
        if trace is not None or x.size == 0:
            return spec(a, trace)
        HITS["shiftmax_table"] += 1
        e = np.take(e_of, x - (x.max(axis=-1, keepdims=True) + table.lo))  # e[d - lo], d = x - max(x)
        f = INT32_MAX // np.clip(e.sum(axis=-1, keepdims=True), 1, INT32_MAX)
        e *= f  # prod = e * f <= 2^31 - 1
        e >>= 32 - bits
        return e

    return impl


#: the golden executor's builders: the fast paths above over :data:`~.node_builders.BUILDERS`, read
#: through at plan time (a view, not a copy: a builder registered or patched in ``BUILDERS`` reaches the
#: golden executor too; the fast paths call ``BUILDERS``' entry for their spec kernel)
GOLDEN_BUILDERS: Mapping[str, Builder] = ChainMap({"requantize": _requantize, "shiftgelu": _shiftgelu,
                                                   "shiftmax": _shiftmax}, BUILDERS)


def plain_plan(graph: Graph, planned: list[PlannedNode]) -> list[PlannedNode]:
    """The plan of plain runs (no trace, check or observer): :func:`float_accumulators`, then
    :func:`fold_gelu_requantize`."""
    return fold_gelu_requantize(graph, float_accumulators(graph, planned))


def _users(planned: list[PlannedNode]) -> dict[str, list[PlannedNode]]:
    users: dict[str, list[PlannedNode]] = defaultdict(list)
    for pn in planned:
        for _, t in pn.data:
            users[t].append(pn)
    return users


def fold_gelu_requantize(graph: Graph, planned: list[PlannedNode]) -> list[PlannedNode]:
    """``planned`` with ``gelu_requantize``: a table-path ShiftGELU (no graph output) whose one user is a
    requantize with one multiplier and one shift for every element (no identity) looks its output up in
    a :class:`GeluRowTable` whose rows went through that requantize, and the requantize passes its input
    on. Exact: such a requantize is one function r of each element alone, so ``r(gelu(x))`` is
    ``r`` applied to the table entry of x."""
    users = _users(planned)
    swap: dict[str, Impl] = {}
    for pn in planned:
        args = getattr(pn.impl, "gelu_table_args", None)
        after = users[pn.node.output]
        if args is None or pn.node.output in graph.outputs or len(after) != 1:
            continue
        rq = after[0]
        if rq.node.op != "requantize" or not getattr(rq.impl, "elementwise", False) or rq.node.name in swap:
            continue
        table = GeluRowTable(*args, post=lambda rows, f=rq.impl: f({"acc": rows}, None))
        swap[pn.node.name] = _folded_gelu(table)
        swap[rq.node.name] = _pass_on
    return [replace(pn, impl=swap[pn.node.name]) if pn.node.name in swap else pn for pn in planned]


def _folded_gelu(table: GeluRowTable) -> Impl:
    def impl(a: Mapping[str, np.ndarray], trace: dict | None) -> np.ndarray:
        HITS["gelu_requantize"] += 1
        return table.lookup(a["x"])

    return impl


def _pass_on(a: Mapping[str, np.ndarray], trace: dict | None) -> np.ndarray:
    return a["acc"]


def float_accumulators(graph: Graph, planned: list[PlannedNode]) -> list[PlannedNode]:
    """``planned`` with the ``float32_acc`` fast path: a linear or matmul on the float32 GEMM route, no
    graph output, whose every user is a requantize on its float route, returns the float32 matmul result
    (a linear's bias added in float32) instead of casting it to int64 and adding in int64.

    Proof. The route's partial-sum bound is at most 2^24, so the matmul result is the exact integer
    sum; the bias and the accumulator (proven range) are integers of magnitude at most 2^24, exact in
    float32, so the float32 addition is exact too. The users' :func:`requantize_float` converts its input
    to float64 exactly, so it sees the same integers. For plain runs only: a traced, checked or
    observed run keeps ``planned`` (every tensor int64).
    """
    users = _users(planned)
    return [pn if (impl := _float_acc_impl(graph, pn, users[pn.node.output])) is None else replace(pn, impl=impl)
            for pn in planned]


def _float_acc_impl(graph: Graph, pn: PlannedNode, users: list[PlannedNode]) -> Impl | None:
    node, gemm = pn.node, getattr(pn.impl, "gemm", None)
    if gemm is None or gemm.path != "float32" or node.output in graph.outputs or not users:
        return None
    acc_range = graph.tensor(node.output).range
    if acc_range is None or range_max_abs((acc_range.lo, acc_range.hi)) > FLOAT32_EXACT:
        return None
    if not all(getattr(u.impl, "float_route", False) for u in users):
        return None
    if node.op == "matmul":
        tb = bool(node.attrs.get("transpose_b", False))

        def matmul(a: Mapping[str, np.ndarray], trace: dict | None) -> np.ndarray:
            HITS["float32_acc"] += 1
            return gemm(a["a"], np.swapaxes(a["b"], -1, -2) if tb else a["b"], keep_float=True)

        return matmul
    bias = graph.constants[node.inputs["bias"]] if "bias" in node.inputs else None
    if bias is not None and max_abs(np.asarray(bias)) > FLOAT32_EXACT:
        return None
    bias32 = None if bias is None else np.asarray(bias, dtype=np.float32)

    def linear(a: Mapping[str, np.ndarray], trace: dict | None) -> np.ndarray:
        HITS["float32_acc"] += 1
        acc = gemm(a["x"], keep_float=True)
        if bias32 is not None:
            acc += bias32
        return acc

    return linear

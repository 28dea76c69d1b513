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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from .. import ops
from ..ops.intmath import INT32_MAX
from ..ops.requant import float_requantize_ok, float_scale, requantize_float
from ..ops.shiftmax import exp_table
from ..ops.xp import range_max_abs
from .node_builders import BUILDERS, Builder, Impl, NodeContext

#: how often each golden fast path was taken (keys: the fast path names of the module docstring)
HITS: Counter = Counter()


def _requantize(ctx: NodeContext) -> Impl:
    """requantize in float64 where :func:`float_requantize_ok` proves it exact, else the spec kernel."""
    spec = BUILDERS["requantize"](ctx)
    c, at = ctx.consts, ctx.attrs
    has_id = "identity" in ctx.node.inputs
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

    def __init__(self, lo: int, hi: int, x0: int, n: int, coef: str) -> None:
        self.lo, self.width = lo, hi - lo + 1
        self.x0, self.n, self.coef = x0, n, coef
        self.values = np.arange(lo, hi + 1, dtype=np.int64)
        self.table = np.zeros((self.width, self.width), dtype=np.int64)
        self.filled = np.zeros(self.width, dtype=bool)

    def lookup(self, x: np.ndarray) -> np.ndarray:
        """ShiftGELU of ``x`` (every value in [lo, hi]) over its last axis."""
        row = x.max(axis=-1, keepdims=True) - self.lo
        new = np.unique(row[~self.filled[row]])
        if new.size:
            self.table[new] = ops.shiftgelu(np.minimum(self.values, new[:, None] + self.lo), self.x0, self.n,
                                            self.coef, xp=ops.xp.NP)
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


#: the golden executor's builders: :data:`~.node_builders.BUILDERS` with the fast paths above
GOLDEN_BUILDERS: dict[str, Builder] = {**BUILDERS, "requantize": _requantize, "shiftgelu": _shiftgelu,
                                         "shiftmax": _shiftmax}

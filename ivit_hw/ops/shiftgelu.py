"""ShiftGELU: GELU(x) ~ x * sigmoid(1.702 x) with ShiftExp (spec section 6).

Written once against an array namespace (:mod:`ivit_hw.ops.xp`); called
without ``xp`` it is the numpy golden function of spec section 10.
"""

from __future__ import annotations

import numpy as np

from . import tables
from .intmath import INT32_MAX, as_int64
from .shiftmax import _shift_exp, exp_table
from .xp import NP, ArrayOps

GELU_COEFS = ("scale", "shift")
SIGMOID_SHIFT = 24  # g = (e*f) >> 24 keeps 7 bits: sigmoid in 0..127


def gelu_coef_mul(x: np.ndarray) -> np.ndarray:
    """``x + (x>>1) + (x>>3) + (x>>4)`` = 1.6875 x, the paper's shift form of 1.702 x."""
    return x + (x >> 1) + (x >> 3) + (x >> 4)


def shiftgelu(
    x: np.ndarray,
    x0: int,
    n: int = 23,
    coef: str = "scale",
    trace: dict | None = None,
    *,
    xp: ArrayOps | None = None,
    table: tables.ExpTable | None = None,
) -> np.ndarray:
    """Integer GELU over the last (hidden) axis; output scale ``S_in / 128``.

    ``coef="scale"`` expects ``x0 = floor(-1/(1.702*S_in))`` and uses z = x;
    ``coef="shift"`` expects ``x0 = floor(-1/S_in)`` and uses z = 1.6875 x.
    The term ``em = shift_exp(-max)`` is saturated at 2^31 - 1, which the
    spec allows because it only enters the clamped sum. ``trace`` receives
    z, m, d (z - m), shift_exp's p, q, r, t, s (of d), e, em, esum (e + em),
    sum, f, prod and g. ``table`` covers the values of d (the fast path:
    g is then tabulated per row, since it depends only on the row and d).
    """
    if coef not in GELU_COEFS:
        raise ValueError(f"shiftgelu: coef must be one of {GELU_COEFS}, got {coef!r}")
    public = xp is None
    if public:
        xp = NP
        x = as_int64(x, "x")
    z = x if coef == "scale" else gelu_coef_mul(x)
    m = xp.amax(z)
    em = _shift_exp(xp, -m, x0, n, INT32_MAX, None, None)
    d = z - m
    if public and table is None and d.size:
        lo = int(d.min())
        if tables.gelu_rows_worth_table(1 - lo, m.size, d.size):
            table = exp_table(x0, n, lo, 0)
    if table is not None and tables.gelu_rows_worth_table(table.width, xp.numel(m), xp.numel(d)):
        return x * _table_sigmoid(xp, table, d, em, trace, z, m)
    e = _shift_exp(xp, d, x0, n, None, trace, 0)
    esum, total, f, prod, g = _sigmoid(xp, e, em)
    if trace is not None:
        trace.update(z=z, m=m, d=d, e=e, em=em, esum=esum, sum=total, f=f, prod=prod, g=g)
    return x * g


def _table_sigmoid(xp: ArrayOps, table: tables.ExpTable, d, em, trace: dict | None, z, m):
    """g by lookup: a per-row table over d (the fast path), with the same intermediates."""
    tables.count_hit("shiftgelu_table")
    rows = _sigmoid(xp, table.e, em)  # each [..., width]
    idx = d - table.lo
    g = xp.take_rows(rows[-1], idx)
    if trace is not None:
        table.lookup(d, trace)
        for key, arr in zip(("esum", "sum", "f", "prod"), rows[:-1], strict=True):
            trace[key] = xp.take_rows(arr, idx)
        trace.update(z=z, m=m, d=d, em=em, g=g)
    return g


def _sigmoid(xp: ArrayOps, e, em) -> tuple:
    """``g = (e * ((2^31-1) // min(e + em, 2^31-1))) >> 24`` with its intermediates (esum, sum, f, prod, g)."""
    esum = e + em
    total = xp.minimum(esum, INT32_MAX)
    f = xp.floor_div(INT32_MAX, total, INT32_MAX)
    prod = e * f
    return esum, total, f, prod, prod >> SIGMOID_SHIFT

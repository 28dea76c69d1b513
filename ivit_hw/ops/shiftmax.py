"""ShiftExp and Shiftmax, the shift-based integer softmax (spec sections 4-5).

Written once against an array namespace (:mod:`ivit_hw.ops.xp`); called
without ``xp`` they are the numpy golden functions of spec section 10.
"""

from __future__ import annotations

import numpy as np

from . import tables
from .intmath import INT32_MAX, as_int64, bit_length
from .xp import NP, ArrayOps

INT64_SAFE_BITS = 62
LUT_MIN_ELEMENTS = tables.LUT_MIN_ELEMENTS


def log2e_mul(x: np.ndarray) -> np.ndarray:
    """``x + (x >> 1) - (x >> 4)``: multiplication by 1.4375 ~ log2(e) with shifts."""
    return x + (x >> 1) - (x >> 4)


def exp_facts(x0: int, n: int, x_max: int | None) -> tuple[bool, int | None]:
    """Static facts of ShiftExp for inputs <= ``x_max`` (None: unknown): (may the left shift leave
    int64?, bound on |p| for the division, None when unknown)."""
    if x_max is None:
        return True, None
    p_max = max(log2e_mul(int(x_max)), n * x0)
    left_max = max(n - p_max // x0 - 1, 0)
    wide = (2 * -x0).bit_length() + left_max > INT64_SAFE_BITS
    return wide, max(-n * x0, abs(p_max))


def shift_exp(
    x: np.ndarray,
    x0: int,
    n: int,
    saturate: int | None = None,
    trace: dict | None = None,
    *,
    xp: ArrayOps | None = None,
    x_max: int | None = None,
    table: tables.ExpTable | None = None,
) -> np.ndarray:
    """Integer ``exp(x*S)`` scaled by ``2^n / S`` (spec section 4).

    ``x0 = floor(-1/S) < 0``. For x <= 0 the result is at most ``|x0| * 2^n`` (equal at x = 0).
    Positive x (ShiftGELU's ``-max`` term) can need a shift far beyond 64
    bits: pass ``saturate`` to cap the result at that value (the spec allows
    it for that term only); without it such inputs raise OverflowError.
    ``trace``, when given, receives the intermediates p, q, r, t, s.
    ``x_max`` is a static upper bound of x (a planned call); ``table`` a
    :class:`~ivit_hw.ops.tables.ExpTable` covering x (the fast path).
    Called without ``xp``: numpy, with the fast path where it pays.
    """
    if x0 >= 0:
        raise ValueError(f"shift_exp: x0 must be negative, got {x0}")
    if xp is None:
        xp = NP
        x = as_int64(x, "x")
        if x.size:
            lo, hi = int(x.min()), int(x.max())
            x_max = hi
            if table is None and tables.worth_table(hi - lo + 1, x.size):
                table = exp_table(x0, n, lo, hi, saturate)
    if table is not None and xp.numel(x) > LUT_MIN_ELEMENTS:
        return table.lookup(x, trace)
    return _shift_exp(xp, x, x0, n, saturate, trace, x_max)


def exp_table(x0: int, n: int, lo: int, hi: int, saturate: int | None = None,
              xp: ArrayOps = NP) -> tables.ExpTable:
    """The lookup table of :func:`shift_exp` over ``[lo, hi]``, held on namespace ``xp``."""
    return tables.ExpTable(lambda v, tr: _shift_exp(NP, v, x0, n, saturate, tr, hi), lo, hi, xp)


def _shift_exp(xp: ArrayOps, x, x0: int, n: int, saturate: int | None, trace: dict | None, x_max: int | None):
    """The spec steps of ShiftExp on namespace ``xp``."""
    wide, bound = exp_facts(x0, n, x_max)
    p = xp.maximum(log2e_mul(x), n * x0)
    q = xp.floor_div(p, x0, bound)
    r = p - x0 * q
    t = r - 2 * x0
    s = n - q - 1
    left = xp.maximum(s, 0)
    if wide:  # t <= 2|x0|: only a large left shift can leave int64
        too_wide = (bit_length(t, xp=xp) + left) > INT64_SAFE_BITS
        if saturate is None:
            if xp.checking:
                xp.require(~too_wide, "shift_exp: result exceeds int64; pass saturate= for this term")
        left = xp.where(too_wide, 0, left)
    e = xp.where(s >= 0, t << left, t >> xp.maximum(-s, 0))
    e = xp.maximum(e, 0)
    if saturate is not None:
        e = xp.minimum(e, saturate)
        if wide:
            e = xp.where(too_wide, saturate, e)
    if trace is not None:
        trace.update(p=p, q=q, r=r, t=t, s=s, e=e)
    return e


def shiftmax(
    x: np.ndarray,
    x0: int,
    n: int = 15,
    out_bits: int = 16,
    mask: np.ndarray | None = None,
    trace: dict | None = None,
    *,
    xp: ArrayOps | None = None,
    table: tables.ExpTable | None = None,
) -> np.ndarray:
    """Integer softmax over the last axis; output scale ``2^-(out_bits-1)``.

    ``mask`` (broadcastable, nonzero = keep) removes positions: they take
    no part in the max, contribute e = 0 and output 0. A row with every
    position masked outputs zeros (its sum is taken as 1 to avoid /0).
    ``trace`` receives d, shift_exp's p, q, r, t, s, and e, esum (sum(e)),
    sum (clamped to [1, 2^31-1]), f, prod (= e * f). ``table`` covers the
    values of d = x - max(x) (the fast path of a planned call).
    """
    if not 1 <= out_bits <= 32:
        raise ValueError(f"shiftmax: out_bits must be in [1, 32], got {out_bits}")
    if xp is None:
        xp = NP
        x = as_int64(x, "x")
        if mask is not None:
            mask = np.asarray(mask)
        if x.size:
            lo, hi = int(x.min()), int(x.max())
            if tables.worth_table(hi - lo + 1, x.size):
                table = exp_table(x0, n, lo - hi, 0)
    if mask is None:
        d = x - xp.amax(x)
    else:
        keep = mask != 0
        lowest = -(2**63)
        row_max = xp.amax(xp.where(keep, x, lowest))
        row_max = xp.where(row_max == lowest, 0, row_max)
        d = xp.where(keep, x - row_max, 0)
    if table is not None and xp.numel(d) > LUT_MIN_ELEMENTS:
        e = table.lookup(d, trace)
    else:
        e = _shift_exp(xp, d, x0, n, None, trace, 0)
    if mask is not None:
        e = xp.where(keep, e, 0)
    esum = xp.sum(e)
    total = xp.clip(esum, 1, INT32_MAX)
    f = xp.floor_div(INT32_MAX, total, INT32_MAX)
    prod = e * f
    y = prod >> (32 - out_bits)
    if trace is not None:
        trace.update(d=d, e=e, esum=esum, sum=total, f=f, prod=prod)
    return y

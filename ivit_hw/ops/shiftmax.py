"""ShiftExp and Shiftmax, the shift-based integer softmax (spec sections 4-5)."""

from __future__ import annotations

import numpy as np

from .intmath import INT32_MAX, as_int64, bit_length, floor_div

INT64_SAFE_BITS = 62
LUT_MIN_ELEMENTS = 4096


def log2e_mul(x: np.ndarray) -> np.ndarray:
    """``x + (x >> 1) - (x >> 4)``: multiplication by 1.4375 ~ log2(e) with shifts."""
    return x + (x >> 1) - (x >> 4)


def shift_exp(
    x: np.ndarray,
    x0: int,
    n: int,
    saturate: int | None = None,
    trace: dict | None = None,
) -> np.ndarray:
    """Integer ``exp(x*S)`` scaled by ``2^n / S`` (spec section 4).

    ``x0 = floor(-1/S) < 0``. For x <= 0 the result is at most ``|x0| * 2^n`` (equal at x = 0).
    Positive x (ShiftGELU's ``-max`` term) can need a shift far beyond 64
    bits: pass ``saturate`` to cap the result at that value (the spec allows
    it for that term only); without it such inputs raise OverflowError.
    ``trace``, when given, receives the intermediates p, q, r, t, s.
    """
    if x0 >= 0:
        raise ValueError(f"shift_exp: x0 must be negative, got {x0}")
    x = as_int64(x, "x")
    if trace is None and x.size > LUT_MIN_ELEMENTS:
        lo, hi = int(x.min()), int(x.max())
        if hi - lo < x.size // 4:
            # few distinct inputs (8-bit rows): evaluate each once and look them up, as a LUT would
            table = shift_exp(np.arange(lo, hi + 1, dtype=np.int64), x0, n, saturate)
            return np.take(table, x - lo)
    p = np.maximum(log2e_mul(x), n * x0)
    q = floor_div(p, x0)
    r = p - x0 * q
    t = r - 2 * x0
    s = n - q - 1
    left = np.maximum(s, 0)
    # t <= 2|x0|, so a cheap scalar bound usually proves no shift can leave int64
    if (2 * -x0).bit_length() + int(left.max(initial=0)) <= INT64_SAFE_BITS:
        too_wide = np.zeros(t.shape, dtype=bool)
    else:
        too_wide = (bit_length(t) + left) > INT64_SAFE_BITS
    if np.any(too_wide):
        if saturate is None:
            raise OverflowError("shift_exp: result exceeds int64; pass saturate= for this term")
        left = np.where(too_wide, 0, left)
    e = np.where(s >= 0, np.left_shift(t, left), np.right_shift(t, np.maximum(-s, 0)))
    e = np.maximum(e, 0)
    if saturate is not None:
        e = np.where(too_wide, saturate, np.minimum(e, saturate))
    if trace is not None:
        trace.update(p=p, q=q, r=r, t=t, s=s)
    return e


def shiftmax(
    x: np.ndarray,
    x0: int,
    n: int = 15,
    out_bits: int = 16,
    mask: np.ndarray | None = None,
    trace: dict | None = None,
) -> np.ndarray:
    """Integer softmax over the last axis; output scale ``2^-(out_bits-1)``.

    ``mask`` (broadcastable bool, True = keep) removes positions: they take
    no part in the max, contribute e = 0 and output 0. A row with every
    position masked outputs zeros (its sum is taken as 1 to avoid /0).
    ``trace`` receives d, shift_exp's p, q, r, t, s, and e, esum (sum(e) before the
    min with 2^31-1), sum, f, prod (= e * f).
    """
    if not 1 <= out_bits <= 32:
        raise ValueError(f"shiftmax: out_bits must be in [1, 32], got {out_bits}")
    x = as_int64(x, "x")
    if mask is None:
        row_max = x.max(axis=-1, keepdims=True)
    else:
        keep = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
        lowest = np.iinfo(np.int64).min
        row_max = np.where(keep, x, lowest).max(axis=-1, keepdims=True)
        row_max = np.where(row_max == lowest, 0, row_max)
    d = x - row_max
    if mask is not None:
        d = np.where(keep, d, 0)
    e = shift_exp(d, x0, n, trace=trace)
    if mask is not None:
        e = np.where(keep, e, 0)
    esum = e.sum(axis=-1, keepdims=True)
    total = np.minimum(esum, INT32_MAX)
    total = np.maximum(total, 1)
    f = INT32_MAX // total
    prod = e * f
    y = prod >> (32 - out_bits)
    if trace is not None:
        trace.update(d=d, e=e, esum=esum, sum=total, f=f, prod=prod)
    return y

"""Dyadic numbers and requantization (spec section 2)."""

from __future__ import annotations

import numpy as np

from .intmath import as_int64, check_rounding, clamp_signed, max_abs, mul_round_shift

MAX_SHIFT = 62  # a 32-bit accumulator times a 31-bit multiplier must fit 64 bits


def dyadic(ratio: float | np.ndarray) -> tuple[np.ndarray | int, np.ndarray | int]:
    """Turn a real ratio into ``(m, e)`` with ``ratio ~= m / 2**e`` and 2^30 <= |m| <= 2^31.

    Accepts a scalar (returns Python ints) or an array (returns int64 arrays
    of the same shape, e.g. per-channel multipliers). A zero ratio gives
    ``(0, 0)``. Raises ValueError for NaN/inf, for ratios >= 2^31 (they would
    need e < 0) and for ratios so small that e would exceed 62.
    """
    r = np.asarray(ratio, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise ValueError(f"dyadic: ratio must be finite, got {ratio!r}")
    mant, ex = np.frexp(np.abs(r))
    m = np.floor(mant * 2.0**31 + 0.5).astype(np.int64)  # round half up, exact in float64
    e = 31 - ex.astype(np.int64)
    full = m == 2**31
    m = np.where(full, 2**30, m)
    e = np.where(full, e - 1, e)
    zero = r == 0
    m = np.where(zero, 0, m)
    e = np.where(zero, 0, e)
    if np.any(e < 0):
        bad = r[e < 0].ravel()[0]
        raise ValueError(f"dyadic: ratio {bad!r} is too large (needs a negative shift)")
    if np.any(e > MAX_SHIFT):
        bad = r[e > MAX_SHIFT].ravel()[0]
        raise ValueError(f"dyadic: ratio {bad!r} is too small (needs a shift above {MAX_SHIFT})")
    m = np.where(r < 0, -m, m)
    if r.ndim == 0:
        return int(m), int(e)
    return m, e


def requantize(
    acc: np.ndarray,
    m: np.ndarray | int,
    e: np.ndarray | int,
    out_bits: int,
    rounding: str = "half_even",
    identity: np.ndarray | None = None,
    m_id: np.ndarray | int | None = None,
    e_id: np.ndarray | int | None = None,
    trace: dict | None = None,
) -> np.ndarray:
    """``clamp(round(acc*m/2^e) [+ round(identity*m_id/2^e_id)], out_bits)`` exactly.

    ``m`` and ``e`` (and ``m_id``/``e_id``) may be per channel along the last
    axis. The identity term is the residual add of the spec: it is rounded on
    its own and added before the clamp. ``trace`` receives prod (acc*m), y
    (its rounding), prod_id and y_id (the identity term; zeros without one)
    and sum (y + y_id before the clamp).
    """
    check_rounding(rounding)
    if not 2 <= out_bits <= 64:
        raise ValueError(f"requantize: out_bits must be in [2, 64], got {out_bits}")
    acc = as_int64(acc, "acc")
    y = mul_round_shift(acc, m, e, rounding)
    y_main = y
    if identity is not None:
        if m_id is None or e_id is None:
            raise ValueError("requantize: identity needs m_id and e_id")
        ident = mul_round_shift(as_int64(identity, "identity"), m_id, e_id, rounding)
        if y.dtype == object or ident.dtype == object:
            y = y.astype(object) + ident.astype(object)
        else:
            y = y + ident
    if trace is not None:
        zeros = np.zeros(np.shape(y), dtype=np.int64)
        with_id = identity is not None
        trace.update(prod=_exact_product(acc, m), y=np.array(y_main, copy=True),
                     prod_id=_exact_product(as_int64(identity), m_id) if with_id else zeros,
                     y_id=np.array(ident, copy=True) if with_id else zeros, sum=np.array(y, copy=True))
    return clamp_signed(np.asarray(y), out_bits)


def _exact_product(a: np.ndarray, m: np.ndarray | int) -> np.ndarray:
    """``a * m`` exactly (int64 when it fits, else Python ints): the traced product of requantize."""
    m_arr = as_int64(m, "m")
    if max_abs(a) * max_abs(m_arr) < 2**63:
        return a * m_arr
    return a.astype(object) * m_arr.astype(object)

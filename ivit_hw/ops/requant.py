"""Dyadic numbers and requantization (spec section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .intmath import as_int64, check_rounding, clamp_signed, max_abs, mul_round_shift, product_path
from .xp import NP, ArrayOps

MAX_SHIFT = 62  # a 32-bit accumulator times a 31-bit multiplier must fit 64 bits
DYADIC_BITS = 31  # the default precision: 2^30 <= |m| <= 2^31 - 1
DYADIC_BITS_RANGE = (8, 31)  # the precisions the quantizer accepts


def dyadic(ratio: float | np.ndarray, bits: int = DYADIC_BITS) -> tuple[np.ndarray | int, np.ndarray | int]:
    """Turn a real ratio into ``(m, e)`` with ``ratio ~= m / 2**e`` and 2^(bits-1) <= |m| <= 2^bits - 1.

    ``bits`` is the precision of |m| (the quantizer's ``dyadic_bits``; 31 by default, so m is a signed
    32-bit integer; 17 makes it an 18-bit one, one hard multiplier digit). m is rounded half up, so m / 2^e is
    within a relative 2^-bits of the ratio. Accepts a scalar (returns Python ints) or an array (returns
    int64 arrays of the same shape, e.g. per-channel multipliers). A zero ratio gives ``(0, 0)``. Raises
    ValueError for NaN/inf, for a ``bits`` outside :data:`DYADIC_BITS_RANGE`, for ratios >= 2^bits (they
    would need e < 0) and for ratios so small that e would exceed 62.
    """
    lo_bits, hi_bits = DYADIC_BITS_RANGE
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not lo_bits <= bits <= hi_bits:
        raise ValueError(f"dyadic: bits must be an integer in [{lo_bits}, {hi_bits}], got {bits!r}")
    bits = int(bits)
    r = np.asarray(ratio, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise ValueError(f"dyadic: ratio must be finite, got {ratio!r}")
    mant, ex = np.frexp(np.abs(r))
    m = np.floor(mant * 2.0**bits + 0.5).astype(np.int64)  # round half up, exact in float64
    e = bits - ex.astype(np.int64)
    full = m == 2**bits
    m = np.where(full, 2 ** (bits - 1), m)
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


def tiny_ratio(bits: int = DYADIC_BITS) -> float:
    """The smallest ratio a ``bits``-bit dyadic holds (2^-32 at 31 bits): below it e would exceed 62."""
    return 2.0 ** (bits - MAX_SHIFT - 1)


def dyadic_or_zero(ratio: float | np.ndarray, acc_max: int | None, rounding: str,
                   bits: int = DYADIC_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel :func:`dyadic` at ``bits``, except that a nonzero ratio below :func:`tiny_ratio` (no
    dyadic holds it) gives ``(0, 0)`` when that is exact: with |acc| <= ``acc_max`` and
    ``|acc * ratio| < 1/2``, rounding to nearest gives 0 for every accumulator, which is what ``m = 0``
    computes (a channel that always outputs 0). Raises ValueError naming the channel when it is not exact
    (floor rounding, where a negative accumulator floors to -1, an accumulator that wide, or ``acc_max``
    None: no bound known). Returns int64 arrays.
    """
    r = np.atleast_1d(np.asarray(ratio, dtype=np.float64))
    tiny_r = tiny_ratio(bits)
    tiny = np.isfinite(r) & (r != 0) & (np.abs(r) < tiny_r)
    if tiny.any():
        c = int(np.flatnonzero(tiny)[0])
        why = ("floor rounding would give -1 for a negative accumulator" if rounding == "floor"
               else "the accumulator has no 32-bit bound" if acc_max is None
               else f"an accumulator of up to {acc_max} would round to a nonzero output")
        if rounding == "floor" or acc_max is None or acc_max * abs(float(r[c])) >= 0.5:
            raise ValueError(f"channel {c}: ratio {float(r[c]):.3g} is below 2^{bits - MAX_SHIFT - 1}, the "
                             f"smallest a {bits}-bit dyadic multiplier holds, and a multiplier of 0 is not exact "
                             f"({why})")
    m, e = dyadic(np.where(tiny, 0.0, r), bits)
    return np.asarray(m, dtype=np.int64), np.asarray(e, dtype=np.int64)


@dataclass(frozen=True)
class RequantPlan:
    """Static facts of one requantize, from its constants and the proven input ranges:
    the product path (:func:`~ivit_hw.ops.intmath.product_path`) and whether a shift is 0,
    for the main and the identity term."""

    path: str
    zero_shift: bool
    path_id: str = "direct"
    zero_shift_id: bool = False


def _facts(a_max: int, m, e) -> tuple[str, bool]:
    m_arr, e_arr = np.asarray(m, dtype=np.int64), np.asarray(e, dtype=np.int64)
    if e_arr.size and (e_arr.min() < 0 or e_arr.max() > MAX_SHIFT):
        raise ValueError(f"shift must lie in [0, 62], got [{e_arr.min()}, {e_arr.max()}]")
    e_min = int(e_arr.min()) if e_arr.size else 0
    return product_path(a_max, max_abs(m_arr), e_min), e_min == 0


def plan_requantize(acc_max: int, m, e, id_max: int | None = None, m_id=None, e_id=None) -> RequantPlan:
    """The :class:`RequantPlan` for |acc| <= acc_max (and |identity| <= id_max) with these constants."""
    path, zero = _facts(acc_max, m, e)
    if id_max is None:
        return RequantPlan(path, zero)
    path_id, zero_id = _facts(id_max, m_id, e_id)
    return RequantPlan(path, zero, path_id, zero_id)


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
    *,
    xp: ArrayOps | None = None,
    plan: RequantPlan | None = None,
) -> np.ndarray:
    """``clamp(round(acc*m/2^e) [+ round(identity*m_id/2^e_id)], out_bits)`` exactly.

    ``m`` and ``e`` (and ``m_id``/``e_id``) may be per channel along the last
    axis. The identity term is the residual add of the spec: it is rounded on
    its own and added before the clamp. ``trace`` receives prod (acc*m), y,
    prod_id, y_id (zeros without identity) and sum (before the clamp). Called
    without ``xp`` (numpy), the product paths are chosen from the values; a
    planned kernel passes ``xp`` and ``plan``.
    """
    check_rounding(rounding)
    if not 2 <= out_bits <= 64:
        raise ValueError(f"requantize: out_bits must be in [2, 64], got {out_bits}")
    if identity is not None and (m_id is None or e_id is None):
        raise ValueError("requantize: identity needs m_id and e_id")
    if xp is None:
        acc = as_int64(acc, "acc")
        if identity is not None:
            identity = as_int64(identity, "identity")
        y = mul_round_shift(acc, m, e, rounding, trace=trace)
        ident = None if identity is None else mul_round_shift(identity, m_id, e_id, rounding, trace=trace,
                                                              key="prod_id")
        xp = NP
    else:
        assert plan is not None, "a planned requantize needs its RequantPlan"
        y = mul_round_shift(acc, m, e, rounding, xp=xp, path=plan.path, zero_shift=plan.zero_shift, trace=trace)
        ident = None if identity is None else mul_round_shift(
            identity, m_id, e_id, rounding, xp=xp, path=plan.path_id, zero_shift=plan.zero_shift_id, trace=trace,
            key="prod_id")
    if ident is None:
        total = y
    elif y.dtype == object or ident.dtype == object:
        total = y.astype(object) + ident.astype(object)
    else:
        total = y + ident
    if trace is not None:
        trace["y"] = y
        if ident is None:
            trace["prod_id"] = trace["y_id"] = xp.full_like(y, 0)
        else:
            trace["y_id"] = ident
        trace["sum"] = total
    if total.dtype == object:
        return clamp_signed(np.asarray(total), out_bits)
    return xp.clip(total, -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1)


FLOAT64_EXACT = 2**53
FLOAT_ROUNDINGS = ("half_even", "floor")


def float_requantize_ok(acc_max: int, m, e, out_bits: int, rounding: str, id_max: int | None = None,
                        m_id=None, e_id=None) -> bool:
    """Whether :func:`requantize` equals its float64 form for |acc| <= acc_max (|identity| <= id_max):
    ``clamp(rnd(acc * (m / 2^e)) [+ rnd(identity * (m_id / 2^e_id))])`` with ``rnd`` rounding half to
    even (``rint``) or down (``floor``) and the products rounded to float64 (a static fact).

    Proof. ``s = m / 2^e`` and acc (< 2^53) are exact floats, so ``f = fl(acc * s)`` is within
    ``|v| * 2^-53`` of ``v = acc * m / 2^e``. v is a multiple of 2^-e, so a v that is not on a rounding
    boundary (half-integer or integer) is at least 2^-e from it; one that is has at most 53 significant
    bits and f = v. The identity term is exact when ``id_max * |m_id| < 2^53``; call R its largest
    rounded magnitude. With ``V = 2^(out_bits-1) + R + 2``, every |v| <= V rounds right when
    ``V * 2^e_max < 2^53`` (the error is below 2^-e), and every |v| > V gives ``|rnd(f)| >= V - 1``, so
    the sum saturates on both sides of the comparison. When ``acc_max * |m| < 2^53`` f is exact anyway.
    """
    if rounding not in FLOAT_ROUNDINGS or acc_max >= FLOAT64_EXACT:
        return False
    m_max = max_abs(np.asarray(m, dtype=np.int64))
    e_arr = np.asarray(e, dtype=np.int64)
    r_id = 0
    if id_max is not None:
        mi_max = max_abs(np.asarray(m_id, dtype=np.int64))
        if id_max * mi_max >= FLOAT64_EXACT:
            return False
        r_id = (id_max * mi_max >> int(np.asarray(e_id).min())) + 1
    if acc_max * m_max < FLOAT64_EXACT:
        return True
    bound = 2 ** (out_bits - 1) + r_id + 2
    return bound << int(e_arr.max()) < FLOAT64_EXACT


def float_scale(m, e) -> np.ndarray:
    """``m / 2^e`` as float64 (exact: |m| < 2^53), the multiplier of :func:`requantize_float`."""
    return np.ldexp(np.asarray(m, dtype=np.float64), -np.asarray(e, dtype=np.int64))


def requantize_float(acc, scale, out_bits: int, rounding: str = "half_even", identity=None, scale_id=None, *,
                     xp: ArrayOps = NP):
    """:func:`requantize` in float64 (the result is float64, integer-valued):
    ``clamp(rnd(acc * scale) [+ rnd(identity * scale_id)])`` with ``scale = float_scale(m, e)``.
    Equal to :func:`requantize` exactly where :func:`float_requantize_ok` holds (the planner checks it
    from the proven ranges; the proof is there); a fast path, not the spec."""
    y = xp.round_float(xp.to_float64(acc) * scale, rounding)
    if identity is not None:
        y = y + xp.round_float(xp.to_float64(identity) * scale_id, rounding)
    return xp.clip(y, -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1)

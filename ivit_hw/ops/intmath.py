"""Exact integer helpers shared by every kernel: rounding shifts, rational
rounding, bit lengths, integer square roots and overflow-safe products.

All functions take and return int64 numpy arrays (or Python ints where an
int64 could overflow, see :func:`mul_round_shift`). Nothing here uses floats
for a result; floats appear only as a fast first guess that is then corrected
exactly (``isqrt``).
"""

from __future__ import annotations

import numpy as np

from .xp import NP, ArrayOps

ROUNDING_MODES = ("half_even", "half_up", "floor")
INT32_MAX = 2**31 - 1


def as_int64(x: np.ndarray | int, name: str = "input") -> np.ndarray:
    """Return ``x`` as an int64 array; refuse floats and other non-integers."""
    arr = np.asarray(x)
    if arr.dtype == np.int64:
        return arr
    if arr.dtype.kind in "iub":
        if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise OverflowError(f"{name}: uint64 value {int(arr.max())} does not fit int64")
        return arr.astype(np.int64)
    if arr.dtype == object:
        flat = arr.ravel().tolist()
        if not all(isinstance(v, (int, np.integer)) for v in flat):
            raise TypeError(f"{name}: object array holds non-integer values")
        return np.asarray(flat, dtype=np.int64).reshape(arr.shape)
    raise TypeError(f"{name}: expected an integer array, got dtype {arr.dtype}")


def value_hull(x: np.ndarray) -> tuple[int, int]:
    """``(min, max)`` of an integer array as Python ints; ``(0, 0)`` when it is empty."""
    arr = np.asarray(x)
    return (int(arr.min()), int(arr.max())) if arr.size else (0, 0)


def max_abs(x: np.ndarray) -> int:
    """Largest ``|x|`` as a Python int (``np.abs`` would wrap at the int64 minimum)."""
    if not x.size:
        return 0
    return max(-int(x.min()), int(x.max()))


def check_rounding(rounding: str) -> None:
    """Raise ValueError naming the mode unless it is one of :data:`ROUNDING_MODES`."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}; expected one of {ROUNDING_MODES}")


def round_shift(p: np.ndarray, s: np.ndarray | int, rounding: str = "half_even", *, xp: ArrayOps | None = None,
                zero_shift: bool | None = None) -> np.ndarray:
    """Round ``p / 2**s`` to an integer (spec section 0), elementwise.

    ``s`` may be an array broadcastable against ``p`` (per-channel shifts);
    every shift must be in [0, 62]. Called without ``xp`` (numpy), ``p`` may
    also be an object array of Python ints (the wide path of
    :func:`mul_round_shift`) and ``s`` is validated; a kernel running on
    another namespace passes ``xp`` and ``zero_shift`` (whether any shift is
    0, known from the constants) and its shifts were validated when planned.
    """
    check_rounding(rounding)
    if xp is None:
        s_arr = np.asarray(s, dtype=np.int64)
        if s_arr.size and (s_arr.min() < 0 or s_arr.max() > 62):
            raise ValueError(f"shift must lie in [0, 62], got [{s_arr.min()}, {s_arr.max()}]")
        if p.dtype == object:
            return _round_shift_object(p, s_arr, rounding)
        xp, s = NP, (int(s_arr) if s_arr.ndim == 0 else s_arr)
        zero_shift = bool(s_arr.size and s_arr.min() == 0)
        p = np.asarray(p, dtype=np.int64)
    elif zero_shift is None:
        zero_shift = True
    if isinstance(s, int):
        return _round_shift_static(p, s, rounding)
    if rounding == "floor":
        return p >> s
    s_pos = xp.maximum(s, 1)
    half = (xp.full_like(s_pos, 1) << (s_pos - 1))
    if rounding == "half_up":
        out = (p + half) >> s_pos
    else:
        out = _half_even_shift(p, s_pos, half)
    if zero_shift:
        out = xp.where(s == 0, p, out)
    return out


def _half_even_shift(p, s, half):
    """``round_half_even(p / 2^s)`` for s >= 1: p = q*2^s + rem, and adding half - 1 + (q & 1)
    carries into q exactly when rem > half, or rem == half and q is odd; |p| < 2^62 keeps it in int64."""
    out = p >> s
    out &= 1
    out += p
    out += half - 1
    out >>= s
    return out


def _round_shift_static(p, s: int, rounding: str):
    """:func:`round_shift` for one shift known as a Python int."""
    if s == 0 or rounding == "floor":
        return p >> s
    half = 1 << (s - 1)
    if rounding == "half_up":
        return (p + half) >> s
    return _half_even_shift(p, s, half)


def round_shift_int(p: int, s: int, rounding: str = "half_even") -> int:
    """Scalar :func:`round_shift` on Python ints (any width), e.g. for range rules."""
    if s == 0:
        return p
    half = 1 << (s - 1)
    if rounding == "floor":
        return p >> s
    if rounding == "half_up":
        return (p + half) >> s
    q = p >> s
    rem = p - (q << s)
    return q + (1 if rem > half or (rem == half and q & 1) else 0)


def _round_shift_object(p: np.ndarray, s: np.ndarray, rounding: str) -> np.ndarray:
    """Python-int version of :func:`round_shift` for products wider than int64."""
    p_b, s_b = np.broadcast_arrays(p, s)
    flat = [round_shift_int(int(v), int(sh), rounding)
            for v, sh in zip(p_b.ravel().tolist(), s_b.ravel().tolist(), strict=True)]
    out = np.empty(p_b.shape, dtype=object)
    out.ravel()[:] = flat if flat else []
    return out


SPLIT = 16
DIRECT_PRODUCT = 2**62


def product_path(a_max: int, m_max: int, e_min: int) -> str:
    """How ``round(a*m/2^e)`` is computed for |a| <= a_max, |m| <= m_max, e >= e_min (static facts):
    "direct" (the product fits int64 with room for the rounding add), "split" (up to ~2^78, e > 16,
    still in int64) or "object" (Python ints, numpy only)."""
    if a_max * m_max < DIRECT_PRODUCT:
        return "direct"
    if a_max < 2**46 and m_max < 2**32 and e_min >= SPLIT + 1:
        return "split"
    return "object"


def mul_round_shift(a: np.ndarray, m: np.ndarray | int, e: np.ndarray | int, rounding: str, *,
                    xp: ArrayOps | None = None, path: str | None = None, zero_shift: bool | None = None,
                    trace: dict | None = None, key: str = "prod") -> np.ndarray:
    """Exact ``round(a * m / 2**e)``; ``trace[key]`` receives the product ``a*m`` when asked.

    Without ``xp`` (numpy) the path is chosen from the values (the
    standalone entry); a planned kernel passes ``xp`` and the ``path`` of
    :func:`product_path` from proven ranges. The result is int64 when it
    fits, otherwise an object array (the caller clamps it, so a wide
    intermediate never wraps).
    """
    if xp is None:
        a = as_int64(a)
        m_arr = as_int64(m, "m")
        e_arr = np.asarray(e, dtype=np.int64)
        path = product_path(max_abs(a), max_abs(m_arr), int(e_arr.min()) if e_arr.size else 0)
        m = int(m_arr) if m_arr.ndim == 0 else m_arr
        e_py = int(e_arr) if e_arr.ndim == 0 else e_arr
        if path == "object":
            return _mul_round_shift_object(a, m_arr, e_arr, rounding, trace, key)
        if path == "direct":
            prod = a * m
            if trace is not None:
                trace[key] = prod
            return round_shift(prod, e_arr, rounding)
        xp, e, zero_shift = NP, e_py, False
    if path == "direct":
        prod = a * m
        if trace is not None:
            trace[key] = prod
        return round_shift(prod, e, rounding, xp=xp, zero_shift=zero_shift)
    if path == "object" and xp is NP:
        return _mul_round_shift_object(a, m, e, rounding, trace, key)
    if path != "split":
        raise OverflowError(f"mul_round_shift: a product path {path!r} is not available on {xp.name}")
    if trace is not None:
        trace[key] = _wide_product(a, m)
    return _mul_round_shift_split(a, m, e, rounding)


def _mul_round_shift_object(a, m, e, rounding: str, trace: dict | None, key: str) -> np.ndarray:
    """The "object" path: ``round(a*m/2^e)`` on Python ints (numpy object arrays), any width."""
    prod = _wide_product(a, m)
    if trace is not None:
        trace[key] = prod
    return round_shift(prod, np.asarray(e, dtype=np.int64), rounding)


def _wide_product(a, m):
    """``a*m`` as Python ints (numpy object array), for traces of products beyond int64."""
    return np.asarray(np.asarray(a).astype(object) * np.asarray(m).astype(object), dtype=object)


def _mul_round_shift_split(a: np.ndarray, m: np.ndarray, e: np.ndarray, rounding: str) -> np.ndarray:
    """``round(a*m/2^e)`` for products up to ~2^78 in int64, with e > 16, exactly.

    Writes ``a*m = P*2^16 + r`` (0 <= r < 2^16) with ``m = mh*2^16 + ml``:
    ``P = a*mh + ((a*ml) >> 16)``, ``r = (a*ml) & 0xFFFF``. Then
    ``floor(a*m/2^e) = P >> (e-16)``, and the rounding decision compares the
    dropped bits of P (and r) with the half 2^(e-17)*2^16. Only array
    operators, so it runs on any namespace.
    """
    mh, ml = m >> SPLIT, m & ((1 << SPLIT) - 1)
    low = a * ml
    big = a * mh + (low >> SPLIT)
    r = low & ((1 << SPLIT) - 1)
    s = e - SPLIT
    q = big >> s
    if rounding == "floor":
        return q
    dropped = big - (q << s)
    half = (s * 0 + 1) << (s - 1)
    above = (dropped > half) | ((dropped == half) & (r > 0))
    if rounding == "half_up":
        return q + (above | ((dropped == half) & (r == 0)))
    tie = (dropped == half) & (r == 0)
    return q + (above | (tie & ((q & 1) == 1)))


def clamp_signed(x: np.ndarray, bits: int) -> np.ndarray:
    """Clamp to the signed ``bits``-bit range and return int64 (an int64 ``x`` is clamped in place)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if x.dtype == object:
        return np.clip(x, lo, hi).astype(np.int64)
    return np.clip(x, lo, hi, out=x if x.dtype == np.int64 and x.flags.writeable else None).astype(
        np.int64, copy=False)


def floor_div(num: np.ndarray | int, den: np.ndarray | int) -> np.ndarray:
    """Exact elementwise ``num // den`` (floor division) for integers, den != 0, broadcasting.

    Uses a float64 quotient when the values allow it (see :meth:`NumpyOps.floor_div`),
    several times faster than numpy's integer division.
    """
    n = np.asarray(num, dtype=np.int64)
    d = np.asarray(den, dtype=np.int64)
    if d.size and not d.all():
        raise ZeroDivisionError("floor_div: division by zero")
    return NP.floor_div(n, d, max(max_abs(n), max_abs(d)))


def div_round_half_even(num: np.ndarray, den: np.ndarray | int, *, xp: ArrayOps | None = None) -> np.ndarray:
    """Exact ``round_half_even(num / den)`` for integers with ``den > 0``."""
    if xp is None:
        num = as_int64(num, "numerator")
        den = as_int64(den, "denominator")
    q = num // den
    twice = 2 * (num - q * den)
    return q + ((twice > den) | ((twice == den) & ((q & 1) == 1)))


def bit_length(v: np.ndarray, *, xp: ArrayOps | None = None) -> np.ndarray:
    """Elementwise ``int.bit_length`` of non-negative int64 values (0 -> 0)."""
    if xp is None:
        xp = NP
        v = as_int64(v)
        if v.size and v.min() < 0:
            raise ValueError("bit_length expects non-negative values")
    length = xp.full_like(v, 0)
    rest = v
    for step in (32, 16, 8, 4, 2, 1):
        big = rest >= (1 << step)
        length = length + xp.where(big, step, 0)
        rest = xp.where(big, rest >> step, rest)
    return length + (rest > 0)


def isqrt(v: np.ndarray, *, xp: ArrayOps | None = None) -> np.ndarray:
    """Exact elementwise ``floor(sqrt(v))`` for 0 <= v < 2**62 (a float guess, corrected exactly)."""
    if xp is None:
        xp = NP
        v = as_int64(v)
        if v.size and v.min() < 0:
            raise ValueError("isqrt expects non-negative values")
    k = xp.floor_sqrt_guess(v)
    for _ in range(2):  # the float guess is off by at most one either way
        k = xp.where(k * k > v, k - 1, k)
        k = xp.where((k + 1) * (k + 1) <= v, k + 1, k)
    return k

"""Exact integer helpers shared by every kernel: rounding shifts, rational
rounding, bit lengths, integer square roots and overflow-safe products.

All functions take and return int64 numpy arrays (or Python ints where an
int64 could overflow, see :func:`mul_round_shift`). Nothing here uses floats
for a result; floats appear only as a fast first guess that is then corrected
exactly (``isqrt``).
"""

from __future__ import annotations

import numpy as np

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


def max_abs(x: np.ndarray) -> int:
    """Largest ``|x|`` as a Python int (``np.abs`` would wrap at the int64 minimum)."""
    if not x.size:
        return 0
    return max(-int(x.min()), int(x.max()))


def check_rounding(rounding: str) -> None:
    """Raise ValueError naming the mode unless it is one of :data:`ROUNDING_MODES`."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}; expected one of {ROUNDING_MODES}")


def round_shift(p: np.ndarray, s: np.ndarray | int, rounding: str = "half_even") -> np.ndarray:
    """Round ``p / 2**s`` to an integer (spec section 0), elementwise.

    ``s`` may be an array broadcastable against ``p`` (per-channel shifts);
    every shift must be in [0, 62]. ``p`` is int64 or an object array of
    Python ints (the wide path of :func:`mul_round_shift`).
    """
    check_rounding(rounding)
    s_arr = np.asarray(s, dtype=np.int64)
    if s_arr.size and (s_arr.min() < 0 or s_arr.max() > 62):
        raise ValueError(f"shift must lie in [0, 62], got [{s_arr.min()}, {s_arr.max()}]")
    if p.dtype == object:
        return _round_shift_object(p, s_arr, rounding)
    p = np.asarray(p, dtype=np.int64)
    if rounding == "floor":
        return np.right_shift(p, s_arr)
    s_pos = np.maximum(s_arr, 1)
    half = np.left_shift(np.int64(1), s_pos - 1)
    if rounding == "half_up":
        out = np.right_shift(p + half, s_pos)
    else:
        # p = q*2^s + rem: adding half - 1 + (q & 1) carries into q exactly when rem > half,
        # or rem == half and q is odd (ties to even); |p| < 2^62 keeps the sum in int64
        out = np.right_shift(p, s_pos)
        out &= 1
        out += p
        out += half - 1
        np.right_shift(out, s_pos, out=out)
    if s_arr.size and s_arr.min() == 0:
        out = np.where(s_arr == 0, p, out)
    return out


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


def mul_round_shift(a: np.ndarray, m: np.ndarray | int, e: np.ndarray | int, rounding: str) -> np.ndarray:
    """Exact ``round(a * m / 2**e)``; falls back to Python ints if ``a * m`` could leave int64.

    The result is returned as int64 when it fits, otherwise as an object
    array (the caller clamps it, so a wide intermediate never wraps).
    """
    a = as_int64(a)
    m_arr = as_int64(m, "m")
    a_max = max_abs(a)
    m_max = max_abs(m_arr)
    if a_max * m_max < 2**62:
        return round_shift(a * m_arr, e, rounding)
    e_arr = np.asarray(e, dtype=np.int64)
    if a_max < 2**46 and m_max < 2**32 and e_arr.size and e_arr.min() >= SPLIT + 1:
        return _mul_round_shift_split(a, m_arr, e_arr, rounding)
    prod = a.astype(object) * m_arr.astype(object)
    return round_shift(np.asarray(prod, dtype=object), e, rounding)


SPLIT = 16


def _mul_round_shift_split(a: np.ndarray, m: np.ndarray, e: np.ndarray, rounding: str) -> np.ndarray:
    """``round(a*m/2^e)`` for products up to ~2^78 in int64, with e > 16, exactly.

    Writes ``a*m = P*2^16 + r`` (0 <= r < 2^16) with ``m = mh*2^16 + ml``:
    ``P = a*mh + ((a*ml) >> 16)``, ``r = (a*ml) & 0xFFFF``. Then
    ``floor(a*m/2^e) = P >> (e-16)``, and the rounding decision compares the
    dropped bits of P (and r) with the half 2^(e-17)*2^16.
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
    half = np.left_shift(np.int64(1), s - 1)
    above = (dropped > half) | ((dropped == half) & (r > 0))
    if rounding == "half_up":
        return q + (above | ((dropped == half) & (r == 0))).astype(np.int64)
    tie = (dropped == half) & (r == 0)
    return q + (above | (tie & ((q & 1) == 1))).astype(np.int64)


def clamp_signed(x: np.ndarray, bits: int) -> np.ndarray:
    """Clamp to the signed ``bits``-bit range and return int64 (an int64 ``x`` is clamped in place)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if x.dtype == object:
        return np.clip(x, lo, hi).astype(np.int64)
    return np.clip(x, lo, hi, out=x if x.dtype == np.int64 and x.flags.writeable else None).astype(
        np.int64, copy=False)


def floor_div(num: np.ndarray | int, den: np.ndarray | int) -> np.ndarray:
    """Exact elementwise ``num // den`` (floor division) for integers, den != 0, broadcasting.

    Uses a float64 quotient (off by at most one while |num| < 2^52 and
    |den| < 2^52) and fixes it with the remainder, several times faster than
    numpy's integer division; falls back to integer division for larger values.
    """
    n = np.asarray(num, dtype=np.int64)
    d = np.asarray(den, dtype=np.int64)
    if d.size and not d.all():
        raise ZeroDivisionError("floor_div: division by zero")
    if max_abs(n) >= 2**52 or max_abs(d) >= 2**52:
        return np.floor_divide(n, d)
    q = np.floor(n / d).astype(np.int64)
    r = n - q * d
    if d.ndim == 0:
        if d > 0:
            return q - (r < 0) + (r >= d)
        return q - (r > 0) + (r <= d)
    pos = d > 0
    return q - np.where(pos, r < 0, r > 0) + np.where(pos, r >= d, r <= d)


def div_round_half_even(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """Exact ``round_half_even(num / den)`` for integers with ``den > 0``."""
    num = as_int64(num, "numerator")
    den = as_int64(den, "denominator")
    q = np.floor_divide(num, den)
    rem = num - q * den
    twice = 2 * rem
    bump = (twice > den) | ((twice == den) & ((q & 1) == 1))
    return q + bump.astype(np.int64)


def bit_length(v: np.ndarray) -> np.ndarray:
    """Elementwise ``int.bit_length`` of non-negative int64 values (0 -> 0)."""
    v = as_int64(v)
    if v.size and v.min() < 0:
        raise ValueError("bit_length expects non-negative values")
    length = np.zeros(v.shape, dtype=np.int64)
    rest = v.copy()
    for step in (32, 16, 8, 4, 2, 1):
        big = rest >= (np.int64(1) << step)
        length += np.where(big, step, 0)
        rest = np.where(big, rest >> step, rest)
    return length + (rest > 0).astype(np.int64)


def isqrt(v: np.ndarray) -> np.ndarray:
    """Exact elementwise ``floor(sqrt(v))`` for 0 <= v < 2**62."""
    v = as_int64(v)
    if v.size and v.min() < 0:
        raise ValueError("isqrt expects non-negative values")
    k = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    for _ in range(2):  # the float guess is off by at most one either way
        k = np.where(k * k > v, k - 1, k)
        k = np.where((k + 1) * (k + 1) <= v, k + 1, k)
    return k

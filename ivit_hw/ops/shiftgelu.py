"""ShiftGELU: GELU(x) ~ x * sigmoid(1.702 x) with ShiftExp (spec section 6)."""

from __future__ import annotations

import numpy as np

from .intmath import INT32_MAX, as_int64, floor_div
from .shiftmax import shift_exp

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
) -> np.ndarray:
    """Integer GELU over the last (hidden) axis; output scale ``S_in / 128``.

    ``coef="scale"`` expects ``x0 = floor(-1/(1.702*S_in))`` and uses z = x;
    ``coef="shift"`` expects ``x0 = floor(-1/S_in)`` and uses z = 1.6875 x.
    The term ``em = shift_exp(-max)`` is saturated at 2^31 - 1, which the
    spec allows because it only enters the clamped sum. ``trace`` receives
    z, m, d (z - m), shift_exp's p, q, r, t, s (of d), e, em, esum (e + em before
    the min), sum, f, prod and g.
    """
    if coef not in GELU_COEFS:
        raise ValueError(f"shiftgelu: coef must be one of {GELU_COEFS}, got {coef!r}")
    x = as_int64(x, "x")
    z = x if coef == "scale" else gelu_coef_mul(x)
    m = z.max(axis=-1, keepdims=True)
    em = shift_exp(-m, x0, n, saturate=INT32_MAX)
    d = z - m
    if trace is None and d.size:
        lo = int(d.min())
        if 2 * m.size * (1 - lo) < d.size:
            # few distinct d per row (8-bit inputs): g depends only on (row, d), so tabulate it
            g_table = _sigmoid(shift_exp(np.arange(lo, 1, dtype=np.int64), x0, n), em)[3]
            return x * np.take_along_axis(g_table, d - lo, axis=-1)
    e = shift_exp(d, x0, n, trace=trace)
    total, f, prod, g = _sigmoid(e, em)
    if trace is not None:
        trace.update(z=z, m=m, d=d, e=e, em=em, esum=e + em, sum=total, f=f, prod=prod, g=g)
    return x * g


def _sigmoid(e: np.ndarray, em: np.ndarray) -> tuple[np.ndarray, ...]:
    """``g = (e * ((2^31-1) // min(e + em, 2^31-1))) >> 24`` with its intermediates (sum, f, prod, g)."""
    total = np.minimum(e + em, INT32_MAX)
    f = floor_div(INT32_MAX, total)
    prod = e * f
    return total, f, prod, prod >> SIGMOID_SHIFT

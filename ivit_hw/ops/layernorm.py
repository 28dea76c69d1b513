"""I-LayerNorm and its integer square root (spec section 7), plus the shared
normalisation core used by the I-BERT and L1 LayerNorm baselines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .intmath import INT32_MAX, as_int64, div_round_half_even, isqrt
from .xp import NP, ArrayOps

SQRT_MODES = ("iter", "exact")


def isqrt_iter(v: np.ndarray, iters: int = 10, k0: int = 65536, *, xp: ArrayOps | None = None) -> np.ndarray:
    """Fixed-length integer Newton iteration ``k = (k + v//k) // 2`` from ``k0``.

    This is the contract, not floor(sqrt(v)): v = 0 gives k0 >> iters (64 by
    default). The iteration never drops below floor(sqrt(v)) for v > 0 (AM-GM
    on integers), so k >= 1 whenever ``k0 >> iters >= 1``, which is required.
    """
    if iters < 0 or k0 < 1 or (k0 >> iters) < 1:
        raise ValueError(f"isqrt_iter: need k0 >> iters >= 1, got k0={k0}, iters={iters}")
    if xp is None:
        xp = NP
        v = as_int64(v, "v")
    k = xp.full_like(v, k0)
    for _ in range(iters):
        k = (k + v // k) // 2
    return k


def row_mean(x: np.ndarray, *, xp: ArrayOps | None = None) -> np.ndarray:
    """``round_half_even(sum(x) / C)`` over the last axis, exactly (keepdims)."""
    xp = xp or NP
    return div_round_half_even(xp.sum(x), xp.shape(x)[-1], xp=xp)


def normalize_rows(
    xp: ArrayOps,
    x: np.ndarray,
    bias_int: np.ndarray,
    spread: Callable[[np.ndarray], np.ndarray],
    numerator: int,
    trace: dict | None = None,
) -> np.ndarray:
    """Shared LayerNorm skeleton: centre, divide by an integer spread, add bias.

    ``spread(y)`` returns the per-row divisor k (keepdims, >= 1); the output is
    ``((y * (numerator // k)) >> 1) + bias_int``. ``trace`` receives xsum,
    mean, y, k, f, yf (y * f) and z.
    """
    xsum = xp.sum(x)
    mean = div_round_half_even(xsum, xp.shape(x)[-1], xp=xp)
    y = x - mean
    k = spread(y)
    f = numerator // k
    yf = y * f
    z = yf >> 1
    if trace is not None:
        trace.update(xsum=xsum, mean=mean, y=y, k=k, f=f, yf=yf, z=z)
    return z + bias_int


def int_args(xp: ArrayOps | None, x, bias_int) -> tuple[ArrayOps, np.ndarray, np.ndarray]:
    """Numpy entry: check and convert the arguments (a planned call passes them ready)."""
    if xp is not None:
        return xp, x, bias_int
    return NP, as_int64(x, "x"), as_int64(bias_int, "bias_int")


def square_spread(xp: ArrayOps, trace: dict | None, root: Callable) -> Callable:
    """``spread(y) = root(sum(y*y))``, tracing sq and v."""

    def spread(y):
        sq = y * y
        v = xp.sum(sq)
        if trace is not None:
            trace.update(sq=sq, v=v)
        return root(v)

    return spread


def ilayernorm(
    x: np.ndarray,
    bias_int: np.ndarray,
    iters: int = 10,
    k0: int = 65536,
    sqrt: str = "iter",
    trace: dict | None = None,
    *,
    xp: ArrayOps | None = None,
) -> np.ndarray:
    """I-LayerNorm over the last axis; output scale ``gamma*sqrt(C)/2^30`` per channel.

    ``sqrt="iter"`` is the I-ViT 10-step Newton iteration; ``sqrt="exact"``
    uses floor(sqrt(v)) (at least 1), the I-BERT variant. ``trace`` receives
    xsum, mean, y, sq (y*y), v, k, f, yf and z.
    """
    if sqrt not in SQRT_MODES:
        raise ValueError(f"ilayernorm: sqrt must be one of {SQRT_MODES}, got {sqrt!r}")
    if sqrt == "iter" and (iters < 0 or k0 < 1 or (k0 >> iters) < 1):
        raise ValueError(f"isqrt_iter: need k0 >> iters >= 1, got k0={k0}, iters={iters}")
    xp, x, bias_int = int_args(xp, x, bias_int)
    if sqrt == "iter":
        spread = square_spread(xp, trace, lambda v: isqrt_iter(v, iters, k0, xp=xp))
    else:
        spread = square_spread(xp, trace, lambda v: xp.maximum(isqrt(v, xp=xp), 1))
    return normalize_rows(xp, x, bias_int, spread, INT32_MAX, trace)

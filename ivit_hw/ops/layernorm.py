"""I-LayerNorm and its integer square root (spec section 7), plus the shared
normalisation core used by the I-BERT and L1 LayerNorm baselines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .intmath import INT32_MAX, as_int64, div_round_half_even, isqrt

SQRT_MODES = ("iter", "exact")


def isqrt_iter(v: np.ndarray, iters: int = 10, k0: int = 65536) -> np.ndarray:
    """Fixed-length integer Newton iteration ``k = (k + v//k) // 2`` from ``k0``.

    This is the contract, not floor(sqrt(v)): v = 0 gives k0 >> iters (64 by
    default). The iteration never drops below floor(sqrt(v)) for v > 0 (AM-GM
    on integers), so k >= 1 whenever ``k0 >> iters >= 1``, which is required.
    """
    if iters < 0 or k0 < 1 or (k0 >> iters) < 1:
        raise ValueError(f"isqrt_iter: need k0 >> iters >= 1, got k0={k0}, iters={iters}")
    v = as_int64(v, "v")
    k = np.full(v.shape, k0, dtype=np.int64)
    for _ in range(iters):
        k = (k + v // k) // 2
    return k


def row_mean(x: np.ndarray) -> np.ndarray:
    """``round_half_even(sum(x) / C)`` over the last axis, exactly (keepdims)."""
    return div_round_half_even(x.sum(axis=-1, keepdims=True), x.shape[-1])


def normalize_rows(
    x: np.ndarray,
    bias_int: np.ndarray,
    spread: Callable[[np.ndarray], np.ndarray],
    numerator: int,
    trace: dict | None = None,
) -> np.ndarray:
    """Shared LayerNorm skeleton: centre, divide by an integer spread, add bias.

    ``spread(y)`` returns the per-row divisor k (keepdims, >= 1); the output is
    ``((y * (numerator // k)) >> 1) + bias_int``. ``trace`` receives xsum
    (sum(x)), mean, y, k, f, yf (y*f before the shift) and z.
    """
    x = as_int64(x, "x")
    mean = row_mean(x)
    y = x - mean
    k = spread(y)
    f = numerator // k
    yf = y * f
    z = yf >> 1
    if trace is not None:
        trace.update(xsum=x.sum(axis=-1, keepdims=True), mean=mean, y=y, k=k, f=f, yf=yf, z=z)
    return z + as_int64(bias_int, "bias_int")


def ilayernorm(
    x: np.ndarray,
    bias_int: np.ndarray,
    iters: int = 10,
    k0: int = 65536,
    sqrt: str = "iter",
    trace: dict | None = None,
) -> np.ndarray:
    """I-LayerNorm over the last axis; output scale ``gamma*sqrt(C)/2^30`` per channel.

    ``sqrt="iter"`` is the I-ViT 10-step Newton iteration; ``sqrt="exact"``
    uses floor(sqrt(v)) (at least 1), the I-BERT variant. ``trace`` receives
    xsum, mean, y, sq (y*y), v, k, f, yf and z.
    """
    if sqrt not in SQRT_MODES:
        raise ValueError(f"ilayernorm: sqrt must be one of {SQRT_MODES}, got {sqrt!r}")

    def spread(y: np.ndarray) -> np.ndarray:
        sq = y * y
        v = sq.sum(axis=-1, keepdims=True)
        if trace is not None:
            trace.update(sq=sq, v=v)
        if sqrt == "iter":
            return isqrt_iter(v, iters, k0)
        return np.maximum(isqrt(v), 1)

    return normalize_rows(x, bias_int, spread, INT32_MAX, trace)

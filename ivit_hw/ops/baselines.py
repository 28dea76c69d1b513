"""Integer-only baselines for the ablation study (spec section 9).

Public kernels (golden semantics, int64 in and out):

- :func:`ibert_exp`          I-BERT's second-order polynomial exp.
- :func:`ibert_softmax`      I-BERT softmax, output scale ``2^-out_bits``.
- :func:`ibert_gelu`         I-BERT i-GELU via the i-erf polynomial.
- :func:`ibert_layernorm`    I-BERT LayerNorm (exact isqrt, ``f = 2^31 // k``).
- :func:`log_int_softmax`    FQ-ViT Log-Int-Softmax: 4-bit log2 codes.
- :func:`log_attn_v`         the shift-add ``attn @ v`` that consumes those codes.
- :func:`l1_layernorm`       LayerNorm with the mean absolute deviation as spread.

Their integer parameters come from :mod:`ivit_hw.ops.params`.
"""

from __future__ import annotations

import numpy as np

from .intmath import INT32_MAX, as_int64, bit_length, div_round_half_even, isqrt
from .layernorm import normalize_rows
from .linear import int_matmul

LOG_CODE_MASKED = 16  # code value meaning "masked / zero weight"
LOG_ATTN_SHIFT = 15  # log_attn_v: weight 2^(15 - code), output scale S_v / 2^15
ERF_SHIFT = 14  # I-BERT GELU: u = poly >> 14
IBERT_SOFTMAX_NUM = 2**32  # I-BERT softmax: f = 2^32 // sum
IBERT_NORM_NUM = 2**31  # I-BERT LayerNorm: f = 2^31 // k


def ibert_exp(x: np.ndarray, x0: int, b_int: int, c_int: int, n: int = 30, trace: dict | None = None) -> np.ndarray:
    """I-BERT exp of ``d = x - max(x)`` (last axis): ``max(((r+b)r+c) << (n-q), 0)``."""
    if x0 >= 0:
        raise ValueError(f"ibert_exp: x0 must be negative, got {x0}")
    x = as_int64(x, "x")
    d = x - x.max(axis=-1, keepdims=True)
    p = np.maximum(d, n * x0)
    q = p // x0
    r = p - x0 * q
    z = (r + b_int) * r + c_int
    if np.any(bit_length(np.maximum(z, 0)) + (n - q) > 62):
        raise OverflowError("ibert_exp: z << (n - q) exceeds int64 (input scale too small)")
    e = np.maximum(np.left_shift(z, n - q), 0)
    if trace is not None:
        trace.update(d=d, p=p, q=q, r=r, z=z, e=e)
    return e


def ibert_softmax(
    x: np.ndarray, x0: int, b_int: int, c_int: int, h: int, n: int = 30, out_bits: int = 16,
    trace: dict | None = None,
) -> np.ndarray:
    """I-BERT softmax over the last axis; ``h`` is the compile-time 16-bit reduction shift."""
    e = ibert_exp(x, x0, b_int, c_int, n, trace)
    e16 = e >> h
    esum = e16.sum(axis=-1, keepdims=True)
    total = np.maximum(esum, 1)
    f = IBERT_SOFTMAX_NUM // total
    prod = e16 * f
    if trace is not None:
        trace.update(e16=e16, esum=esum, sum=total, f=f, prod=prod)
    return prod >> (32 - out_bits)


def ibert_gelu(x: np.ndarray, b_int: int, c_int: int, one: int, trace: dict | None = None) -> np.ndarray:
    """I-BERT i-GELU: ``x * (u + one)`` with the i-erf polynomial u; scale ``S*S_u/2``."""
    x = as_int64(x, "x")
    t = np.minimum(np.abs(x), -b_int)
    poly = np.sign(x) * ((t + b_int) ** 2 + c_int)
    u = poly >> ERF_SHIFT
    g = u + one
    if trace is not None:
        trace.update(t=t, poly=poly, u=u, g=g)
    return x * g


def ibert_layernorm(x: np.ndarray, bias_int: np.ndarray, trace: dict | None = None) -> np.ndarray:
    """I-BERT LayerNorm: section 7 with the exact isqrt and ``f = 2^31 // k``."""

    def spread(y: np.ndarray) -> np.ndarray:
        sq = y * y
        v = sq.sum(axis=-1, keepdims=True)
        if trace is not None:
            trace.update(sq=sq, v=v)
        return np.maximum(isqrt(v), 1)

    return normalize_rows(x, bias_int, spread, IBERT_NORM_NUM, trace)


def l1_layernorm(x: np.ndarray, bias_int: np.ndarray, trace: dict | None = None) -> np.ndarray:
    """L1 LayerNorm: divide by ``sum(|y|)``; scale ``gamma*C*sqrt(2/pi)/2^30``."""

    def spread(y: np.ndarray) -> np.ndarray:
        a = np.abs(y).sum(axis=-1, keepdims=True)
        if trace is not None:
            trace["a"] = a
        return np.maximum(a, 1)

    return normalize_rows(x, bias_int, spread, INT32_MAX, trace)


def log_int_softmax(
    x: np.ndarray, x0: int, b_int: int, c_int: int, n: int = 30, mask: np.ndarray | None = None,
    trace: dict | None = None,
) -> np.ndarray:
    """FQ-ViT Log-Int-Softmax: code c means attention weight 2^-c; 16 means masked.

    ``v = round_half_even(sum(e)/e)``, ``kb = bit_length(v) - 1`` and the code
    rounds log2(v) to the nearest integer using the bit below the leading one.
    """
    e = ibert_exp(x, x0, b_int, c_int, n, trace)
    if mask is not None:
        e = np.where(np.broadcast_to(np.asarray(mask, dtype=bool), e.shape), e, 0)
    total = e.sum(axis=-1, keepdims=True)
    live = e > 0
    v = div_round_half_even(np.broadcast_to(total, e.shape), np.where(live, e, 1))
    kb = bit_length(v) - 1
    below = (v >> np.maximum(kb - 1, 0)) & 1
    code = np.where(kb >= 1, kb + below, kb)
    code = np.where(live & (code < LOG_CODE_MASKED), code, LOG_CODE_MASKED)
    if trace is not None:
        trace.update(esum=total, sum=total, v=np.where(live, v, 0), kb=kb)
    return code


def log_attn_v(code: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shift-add ``attn @ v``: ``sum_j v_j << (15 - code_j)`` over unmasked j; scale ``S_v/2^15``.

    code: [..., M, N] (values 0..16), v: [..., N, D] -> [..., M, D].
    """
    code = as_int64(code, "code")
    v = as_int64(v, "v")
    top = LOG_ATTN_SHIFT
    weight = np.where(code < LOG_CODE_MASKED, np.left_shift(np.int64(1), top - np.minimum(code, top)), 0)
    # each weight is a power of two (or 0), so this matmul is exactly the shift-add sum
    return int_matmul(weight, v)


__all__ = [
    "ERF_SHIFT",
    "IBERT_NORM_NUM",
    "IBERT_SOFTMAX_NUM",
    "LOG_ATTN_SHIFT",
    "LOG_CODE_MASKED",
    "ibert_exp",
    "ibert_gelu",
    "ibert_layernorm",
    "ibert_softmax",
    "l1_layernorm",
    "log_attn_v",
    "log_int_softmax",
]

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
from .layernorm import int_args, normalize_rows, square_spread
from .linear import int_matmul
from .xp import NP, ArrayOps

LOG_CODE_MASKED = 16  # code value meaning "masked / zero weight"
LOG_ATTN_SHIFT = 15  # log_attn_v: weight 2^(15 - code), output scale S_v / 2^15
ERF_SHIFT = 14  # I-BERT GELU: u = poly >> 14
IBERT_SOFTMAX_NUM = 2**32  # I-BERT softmax: f = 2^32 // sum
IBERT_NORM_NUM = 2**31  # I-BERT LayerNorm: f = 2^31 // k


def ibert_exp(x: np.ndarray, x0: int, b_int: int, c_int: int, n: int = 30, trace: dict | None = None, *,
              xp: ArrayOps | None = None) -> np.ndarray:
    """I-BERT exp of ``d = x - max(x)`` (last axis): ``max(((r+b)r+c) << (n-q), 0)``.

    ``trace`` receives d, p (max(d, n*x0)), q, r, z and e.
    """
    if x0 >= 0:
        raise ValueError(f"ibert_exp: x0 must be negative, got {x0}")
    if xp is None:
        xp = NP
        x = as_int64(x, "x")
    d = x - xp.amax(x)
    p = xp.maximum(d, n * x0)
    q = xp.floor_div(p, x0, -n * x0)
    r = p - x0 * q
    z = (r + b_int) * r + c_int
    if xp.checking:
        xp.require(bit_length(xp.maximum(z, 0), xp=xp) + (n - q) <= 62,
                   "ibert_exp: z << (n - q) exceeds int64 (input scale too small)")
    e = xp.maximum(z << (n - q), 0)
    if trace is not None:
        trace.update(d=d, p=p, q=q, r=r, z=z, e=e)
    return e


def ibert_softmax(
    x: np.ndarray, x0: int, b_int: int, c_int: int, h: int, n: int = 30, out_bits: int = 16,
    trace: dict | None = None, *, xp: ArrayOps | None = None,
) -> np.ndarray:
    """I-BERT softmax over the last axis; ``h`` is the compile-time 16-bit reduction shift.

    ``trace`` adds e16, esum (sum(e16)), sum (at least 1), f and prod.
    """
    if xp is None:
        xp = NP
        x = as_int64(x, "x")
    e = ibert_exp(x, x0, b_int, c_int, n, trace, xp=xp)
    e16 = e >> h
    esum = xp.sum(e16)
    total = xp.maximum(esum, 1)
    f = IBERT_SOFTMAX_NUM // total
    prod = e16 * f
    if trace is not None:
        trace.update(e16=e16, esum=esum, sum=total, f=f, prod=prod)
    return prod >> (32 - out_bits)


def ibert_gelu(x: np.ndarray, b_int: int, c_int: int, one: int, trace: dict | None = None, *,
               xp: ArrayOps | None = None) -> np.ndarray:
    """I-BERT i-GELU: ``x * (u + one)`` with the i-erf polynomial u; scale ``S*S_u/2``.

    ``trace`` receives t, poly (before ``>> 14``), u and g (u + one).
    """
    if xp is None:
        xp = NP
        x = as_int64(x, "x")
    t = xp.minimum(xp.abs(x), -b_int)
    tb = t + b_int
    poly = xp.sign(x) * (tb * tb + c_int)
    u = poly >> ERF_SHIFT
    g = u + one
    if trace is not None:
        trace.update(t=t, poly=poly, u=u, g=g)
    return x * g


def ibert_layernorm(x: np.ndarray, bias_int: np.ndarray, trace: dict | None = None, *,
                    xp: ArrayOps | None = None) -> np.ndarray:
    """I-BERT LayerNorm: section 7 with the exact isqrt and ``f = 2^31 // k``."""
    xp, x, bias_int = int_args(xp, x, bias_int)
    spread = square_spread(xp, trace, lambda v: xp.maximum(isqrt(v, xp=xp), 1))
    return normalize_rows(xp, x, bias_int, spread, IBERT_NORM_NUM, trace)


def l1_layernorm(x: np.ndarray, bias_int: np.ndarray, trace: dict | None = None, *,
                 xp: ArrayOps | None = None) -> np.ndarray:
    """L1 LayerNorm: divide by ``sum(|y|)``; scale ``gamma*C*sqrt(2/pi)/2^30``."""
    xp, x, bias_int = int_args(xp, x, bias_int)

    def spread(y: np.ndarray) -> np.ndarray:
        a = xp.sum(xp.abs(y))
        if trace is not None:
            trace["a"] = a
        return xp.maximum(a, 1)

    return normalize_rows(xp, x, bias_int, spread, INT32_MAX, trace)


def log_int_softmax(
    x: np.ndarray, x0: int, b_int: int, c_int: int, n: int = 30, mask: np.ndarray | None = None,
    trace: dict | None = None, *, xp: ArrayOps | None = None,
) -> np.ndarray:
    """FQ-ViT Log-Int-Softmax: code c means attention weight 2^-c; 16 means masked.

    ``v = round_half_even(sum(e)/e)``, ``kb = bit_length(v) - 1`` and the code
    rounds log2(v) to the nearest integer using the bit below the leading one.
    ``trace`` adds esum and sum (both sum(e)), v and kb.
    """
    if xp is None:
        xp = NP
        x = as_int64(x, "x")
    e = ibert_exp(x, x0, b_int, c_int, n, trace, xp=xp)
    if mask is not None:
        e = xp.where(mask != 0, e, 0)
    total = xp.sum(e)
    live = e > 0
    v = div_round_half_even(total, xp.where(live, e, 1), xp=xp)
    kb = bit_length(v, xp=xp) - 1
    below = (v >> xp.maximum(kb - 1, 0)) & 1
    code = xp.where(kb >= 1, kb + below, kb)
    code = xp.where(live & (code < LOG_CODE_MASKED), code, LOG_CODE_MASKED)
    if trace is not None:
        trace.update(e=e, esum=total, sum=total, v=xp.where(live, v, 0), kb=kb)
    return code


def log_code_weights(code, *, xp: ArrayOps | None = None):
    """Each code's attention weight ``2^(15 - code)`` (0 when masked), a power of two."""
    xp = xp or NP
    return xp.where(code < LOG_CODE_MASKED, 1 << (LOG_ATTN_SHIFT - xp.minimum(code, LOG_ATTN_SHIFT)), 0)


LOG_WEIGHT_RANGE = (0, 2**LOG_ATTN_SHIFT)


def log_attn_v(code: np.ndarray, v: np.ndarray, *, xp: ArrayOps | None = None, gemm=None) -> np.ndarray:
    """Shift-add ``attn @ v``: ``sum_j v_j << (15 - code_j)`` over unmasked j; scale ``S_v/2^15``.

    code: [..., M, N] (values 0..16), v: [..., N, D] -> [..., M, D]. Each
    weight is a power of two (or 0), so a GEMM of the weights is exactly the
    shift-add sum.
    """
    if xp is None:
        code = as_int64(code, "code")
        v = as_int64(v, "v")
        return int_matmul(log_code_weights(code), v)
    return gemm(log_code_weights(code, xp=xp), v)


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

"""Range rules: the interval of every op's output and intermediates, from the
intervals of its data inputs and the actual values of its constants.

Each rule is sound (every value the kernel can produce lies inside) and as
tight as a per-tensor interval allows; each docstring gives the reasoning.
All arithmetic is on Python ints, so no rule can itself overflow.
"""

from __future__ import annotations

import numpy as np

from ..ops import LOG_ATTN_SHIFT, LOG_CODE_MASKED
from ..ops.intmath import round_shift_int
from .registry import RangeInputs
from .types import Interval, IRError


def _clamp_to_bits(iv: Interval, bits: int) -> Interval:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Interval(min(max(iv.lo, lo), hi), max(min(iv.hi, hi), lo))


def _scaled_intervals(iv: Interval, m: np.ndarray, e: np.ndarray, rounding: str) -> tuple[Interval, Interval]:
    """Hulls over channels of the product x*m_c and of round(x*m_c/2^e_c) for x in iv.

    Both are monotone in x for a fixed channel (increasing for m_c > 0,
    decreasing for m_c < 0, constant 0 for m_c = 0), so the two ends of iv
    per channel give each channel's exact range; the hull over channels is
    exact for the tensor.
    """
    m_b, e_b = np.broadcast_arrays(np.asarray(m).ravel(), np.asarray(e).ravel())
    prods = [(x * int(mc), int(ec)) for mc, ec in zip(m_b.tolist(), e_b.tolist(), strict=False) for x in (iv.lo, iv.hi)]
    rounded = [round_shift_int(p, ec, rounding) for p, ec in prods]
    return Interval(min(p for p, _ in prods), max(p for p, _ in prods)), Interval(min(rounded), max(rounded))


def requantize(ri: RangeInputs) -> dict[str, Interval]:
    """prod = acc*m and y = round(prod/2^e) per channel by :func:`_scaled_intervals`
    (exact). The identity term gives prod_id and y_id the same way ([0, 0]
    without one: the kernel traces zeros). sum = y + y_id before the clamp:
    the interval sum, sound since each term lies in its own interval for any
    element (a little loose across channels, where the two terms' extremes
    may fall on different channels). out = sum clamped to out_bits (the
    clamp is monotone, so the ends of sum give the ends of out).
    """
    a = ri.attrs
    prod, y = _scaled_intervals(ri.intervals["acc"], ri.consts["m"], ri.consts["e"], a["rounding"])
    prod_id = y_id = Interval(0, 0)
    if "identity" in ri.intervals:
        prod_id, y_id = _scaled_intervals(ri.intervals["identity"], ri.consts["m_id"], ri.consts["e_id"],
                                          a["rounding"])
    total = Interval(y.lo + y_id.lo, y.hi + y_id.hi)
    return {"prod": prod, "y": y, "prod_id": prod_id, "y_id": y_id, "sum": total,
            "out": _clamp_to_bits(total, a["out_bits"])}


def _gemm_const(iv: Interval, w: np.ndarray, b: np.ndarray | None) -> Interval:
    """Exact hull of sum_k w[c,k]*x[k] + b[c] over x in iv^K, using the real weights:
    per channel the max takes x = hi where w > 0 and x = lo where w < 0."""
    w = np.asarray(w, dtype=np.int64).reshape(w.shape[0], -1)
    pos = np.clip(w, 0, None).sum(axis=1).astype(object)
    neg = np.clip(w, None, 0).sum(axis=1).astype(object)
    bias = np.zeros(w.shape[0], dtype=object) if b is None else np.asarray(b, dtype=np.int64).astype(object)
    hi = bias + pos * iv.hi + neg * iv.lo
    lo = bias + pos * iv.lo + neg * iv.hi
    return Interval(int(min(lo)), int(max(hi)))


def linear(ri: RangeInputs) -> dict[str, Interval]:
    """Accumulator hull from the actual weights and bias (see :func:`_gemm_const`)."""
    return {"out": _gemm_const(ri.intervals["x"], ri.consts["weight"], ri.consts.get("bias"))}


def patch_embed(ri: RangeInputs) -> dict[str, Interval]:
    """A patch embedding is a linear layer over flattened patches: same rule."""
    return {"out": _gemm_const(ri.intervals["x"], ri.consts["weight"], ri.consts.get("bias"))}


def _product_hull(a: Interval, b: Interval) -> Interval:
    corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return Interval(min(corners), max(corners))


def matmul(ri: RangeInputs) -> dict[str, Interval]:
    """Each of the K products lies in the corner hull of a*b; the sum of K of them in K times it."""
    a_shape = ri.shapes["a"]
    k = a_shape[-1]
    p = _product_hull(ri.intervals["a"], ri.intervals["b"])
    return {"out": Interval(k * p.lo, k * p.hi)}


def add(ri: RangeInputs) -> dict[str, Interval]:
    """Interval sum (exact for independent operands)."""
    a, b = ri.intervals["a"], ri.intervals["b"]
    return {"out": Interval(a.lo + b.lo, a.hi + b.hi)}


def passthrough(ri: RangeInputs) -> dict[str, Interval]:
    """Reshape / transpose / slice / gather move values without changing them."""
    return {"out": ri.intervals["x"]}


def concat(ri: RangeInputs) -> dict[str, Interval]:
    """The output holds values of both inputs: their hull."""
    return {"out": ri.intervals["a"].union(ri.intervals["b"])}


def reduce_sum(ri: RangeInputs) -> dict[str, Interval]:
    """A sum of N values each in [lo, hi] lies in [N*lo, N*hi]."""
    x = ri.shapes["x"]
    n = x[ri.attrs["axis"] % len(x)]
    iv = ri.intervals["x"]
    return {"out": Interval(n * iv.lo, n * iv.hi)}


def argmax(ri: RangeInputs) -> dict[str, Interval]:
    """An index into the last axis."""
    return {"out": Interval(0, ri.shapes["x"][-1] - 1)}


def log_attn_v(ri: RangeInputs) -> dict[str, Interval]:
    """sum_j w_j * v_j with w_j = 2^(15 - code_j) for code_j < 16, else 0.

    The weight is non-increasing in the code, so over the code interval
    [c_lo, c_hi] it lies in [0 if c_hi >= 16 else 2^(15-c_hi), 2^(15-c_lo)]
    (0 when c_lo >= 16). This is sound for any code interval (a negative
    code shifts by more than 15) and tighter when codes are known to be
    large. Each term is in the corner hull of v x w, the sum of N such
    terms in N times it. (Log-Int-Softmax codes of one row satisfy
    sum 2^-code <~ 1.5, but that fact belongs to the producer and cannot be
    seen from intervals.)
    """
    n = ri.shapes["code"][-1]
    code, v = ri.intervals["code"], ri.intervals["v"]
    top = LOG_ATTN_SHIFT
    if code.lo < top - 62:
        raise IRError(f"{ri.node}: code range {code} reaches shifts beyond 62 bits (codes are 0..16)")
    w_hi = 1 << (top - code.lo) if code.lo < LOG_CODE_MASKED else 0
    w_lo = 0 if code.hi >= LOG_CODE_MASKED else 1 << (top - code.hi)
    term = _product_hull(v, Interval(w_lo, w_hi))
    return {"out": Interval(n * term.lo, n * term.hi)}


# The non-linear rules live in their own modules; opset.py reaches them through this one.
from .range_rules_nonlinear import ibert_gelu, ibert_softmax, log_int_softmax, shiftgelu, shiftmax  # noqa: E402
from .range_rules_norm import ibert_layernorm, ilayernorm, l1_layernorm  # noqa: E402

__all__ = [
    "add",
    "argmax",
    "concat",
    "ibert_gelu",
    "ibert_layernorm",
    "ibert_softmax",
    "ilayernorm",
    "l1_layernorm",
    "linear",
    "log_attn_v",
    "log_int_softmax",
    "matmul",
    "passthrough",
    "patch_embed",
    "reduce_sum",
    "requantize",
    "shiftgelu",
    "shiftmax",
]

"""Compile-time helpers: float scales, gamma and beta become the integer
parameters of the kernels (spec sections 1, 4-7 and 9).

Everything here runs once at export time in float64; every function checks
its inputs and raises ValueError naming the bad value (NaN/inf/non-positive
scales, gamma == 0 with the channel index).
"""

from __future__ import annotations

import math

import numpy as np

from .intmath import as_int64

SCALE_FLOOR = 1e-8
GELU_SIGMOID_COEF = 1.702
IBERT_EXP_A = 0.35815147
IBERT_EXP_B = 0.96963238 / IBERT_EXP_A
IBERT_EXP_C = 1.0 / IBERT_EXP_A
IBERT_ERF_K = 1.4142
IBERT_ERF_A = -0.2888
IBERT_ERF_B = -1.769
IBERT_ERF_C = 1.0 / IBERT_ERF_A


def check_scale(scale: float | np.ndarray, what: str = "scale") -> np.ndarray:
    """Return ``scale`` as float64 after checking it is finite and > 0 everywhere."""
    s = np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{what} must be finite, got {scale!r}")
    if np.any(s <= 0):
        raise ValueError(f"{what} must be positive, got {scale!r}")
    return s


def symmetric_scale(lo: float | np.ndarray, hi: float | np.ndarray, bits: int) -> np.ndarray | float:
    """``max(-lo, hi) / (2^(b-1) - 1)`` floored at 1e-8 (scalar or per channel)."""
    lo_a, hi_a = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if not (np.all(np.isfinite(lo_a)) and np.all(np.isfinite(hi_a))):
        raise ValueError(f"symmetric_scale: range must be finite, got [{lo!r}, {hi!r}]")
    s = np.maximum(np.maximum(-lo_a, hi_a) / (2 ** (bits - 1) - 1), SCALE_FLOOR)
    return float(s) if s.ndim == 0 else s


def quantize(x: np.ndarray, scale: float | np.ndarray, bits: int) -> np.ndarray:
    """``clamp(round_half_even(x / S), signed bits)`` in float64, as int64."""
    s = check_scale(scale)
    q = np.rint(np.asarray(x, dtype=np.float64) / s)  # rint rounds half to even
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return np.clip(q, lo, hi).astype(np.int64)


def quantize_weight(w: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (axis 0) symmetric quantization: returns ``(w_int, scale[C])``."""
    w = np.asarray(w, dtype=np.float64)
    flat = w.reshape(w.shape[0], -1)
    scale = np.asarray(symmetric_scale(flat.min(axis=1), flat.max(axis=1), bits))
    w_int = quantize(flat, scale[:, None], bits).reshape(w.shape)
    return w_int, scale


def quantize_bias(b: np.ndarray, s_x: float, s_w: np.ndarray, bits: int = 32) -> np.ndarray:
    """``round_half_even(b / (S_x * S_w[c]))`` clamped to ``bits`` signed."""
    return quantize(b, check_scale(s_x, "input scale") * check_scale(s_w, "weight scale"), bits)


def exp_x0(scale: float, coef: float = 1.0) -> int:
    """ShiftExp's ``x0 = floor(-1 / (coef * S))`` (coef 1.702 for ShiftGELU's "scale" form)."""
    s = float(check_scale(scale, "ShiftExp input scale"))
    return int(math.floor(-1.0 / (coef * s)))


def gelu_x0(scale: float, coef: str = "scale") -> int:
    """ShiftGELU's x0 for ``coef`` "scale" (1.702 folded in) or "shift" (z = 1.6875 x)."""
    if coef not in ("scale", "shift"):
        raise ValueError(f"gelu_x0: coef must be 'scale' or 'shift', got {coef!r}")
    return exp_x0(scale, GELU_SIGMOID_COEF if coef == "scale" else 1.0)


def _check_gamma(gamma: np.ndarray) -> np.ndarray:
    g = np.asarray(gamma, dtype=np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError("LayerNorm gamma must be finite")
    zero = np.flatnonzero(g == 0)
    if zero.size:
        raise ValueError(f"LayerNorm gamma is 0 at channel {int(zero[0])}; its output scale would be 0")
    return g


def _norm_params(gamma: np.ndarray, beta: np.ndarray, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``S_out = gamma * unit`` and ``bias_int = floor(beta / gamma / unit)``."""
    g = _check_gamma(gamma)
    b = np.asarray(beta, dtype=np.float64)
    if b.shape != g.shape or not np.all(np.isfinite(b)):
        raise ValueError(f"LayerNorm beta must be finite with gamma's shape {g.shape}, got {b.shape}")
    return g * unit, np.floor(b / g / unit).astype(np.int64)


def layernorm_params(gamma: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """I-LayerNorm / I-BERT LayerNorm: ``S_out = gamma*sqrt(C)/2^30`` and ``bias_int``."""
    c = np.asarray(gamma).shape[-1]
    return _norm_params(gamma, beta, math.sqrt(c) / 2**30)


def l1_layernorm_params(gamma: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L1 LayerNorm: ``S_out = gamma*C*sqrt(2/pi)/2^30`` and ``bias_int``."""
    c = np.asarray(gamma).shape[-1]
    return _norm_params(gamma, beta, c * math.sqrt(2 / math.pi) / 2**30)


def ibert_exp_params(scale: float, n: int = 30) -> dict[str, int]:
    """I-BERT exp constants: x0, b_int, c_int and the 16-bit reduction shift h."""
    s = float(check_scale(scale, "I-BERT exp input scale"))
    x0 = int(math.floor(-math.log(2) / s))
    b_int = int(math.floor(IBERT_EXP_B / s))
    c_int = int(math.floor(IBERT_EXP_C / s**2))
    r = np.arange(x0 + 1, 1, dtype=np.int64)  # every remainder r in (x0, 0]
    z_max = int(((r + b_int) * r + c_int).max())
    e_max = max(z_max, 0) << n
    h = max(e_max.bit_length() - 16, 0)
    return {"x0": x0, "b_int": b_int, "c_int": c_int, "n": n, "h": h}


def ibert_gelu_params(scale: float) -> dict[str, float | int]:
    """I-BERT i-GELU constants b_int, c_int, one and the output scale ``S*S_u/2``."""
    s = float(check_scale(scale, "I-BERT GELU input scale"))
    s_e = s / IBERT_ERF_K
    b_int = int(math.floor(IBERT_ERF_B / s_e))
    c_int = int(math.floor(IBERT_ERF_C / s_e**2))
    s_u = s_e**2 * IBERT_ERF_A * 2**14
    one = int(math.floor(1.0 / s_u))
    return {"b_int": b_int, "c_int": c_int, "one": one, "out_scale": s * s_u / 2}


def as_int_constant(x: np.ndarray, name: str) -> np.ndarray:
    """Check a constant holds integers only and return it as int64 (names it on error)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"constant {name!r} holds non-integer values")
        return arr.astype(np.int64)
    return as_int64(arr, name)

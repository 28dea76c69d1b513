"""Approximation quality of the integer ops against float64 math.

Each case compares an integer kernel with the float operation it replaces,
both fed the *same* dequantized input (``x_int * S``), so the number measures
the op alone, not the input quantization. Inputs come from fixed-seed numpy
generators; the numbers are therefore reproducible, and were measured first:

    .venv/bin/python tests/ops/test_ops_accuracy.py     # prints the table

Every test asserts ``error <= 1.5 * measured``; a kernel change that makes an
approximation worse by more than half again fails here. The measured values
are copied into ``MEASURED`` below and into docs/semantics.md.

Metrics (all maxima over every element of every row):

- softmax-like ops: absolute error of the probabilities.
- GELU: absolute error divided by the input range ``max |x * S|``.
- LayerNorm: absolute error of ``gamma * norm(x) + beta`` (gamma ~ N(1, 0.2),
  beta ~ N(0, 0.2)); the float reference uses eps = 0.
- log_attn_v: absolute error of ``attn @ v`` divided by ``max |v|``.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import ivit_hw.ops as ops
from ivit_hw.ops import params

MARGIN = 1.5
_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by the case name, stable across runs and platforms."""
    seed = sum((i + 1) * ord(ch) for i, ch in enumerate(repr(key)))
    return np.random.default_rng(seed)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _gelu(v: np.ndarray) -> np.ndarray:
    return 0.5 * v * (1.0 + _ERF(v / math.sqrt(2.0)))


def _layernorm(v: np.ndarray) -> np.ndarray:
    mu = v.mean(axis=-1, keepdims=True)
    return (v - mu) / np.sqrt(((v - mu) ** 2).mean(axis=-1, keepdims=True))


def _int8_scores(dist: str, rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """8-bit attention scores: 'uniform' over the full range or 'gauss' (sigma = 40 LSB)."""
    if dist == "uniform":
        return rng.integers(-128, 128, size=(rows, cols))
    return np.clip(np.rint(rng.normal(0.0, 40.0, size=(rows, cols))), -128, 127).astype(np.int64)


# ---------------------------------------------------------------- cases --


def shiftmax_error(scale: float, dist: str, cols: int = 197, out_bits: int = 16) -> float:
    x = _int8_scores(dist, _rng("shiftmax", scale, dist, cols), 64, cols)
    y = ops.shiftmax(x, params.exp_x0(scale), out_bits=out_bits) / 2.0 ** (out_bits - 1)
    return float(np.abs(y - _softmax(x * scale)).max())


def ibert_softmax_error(scale: float) -> float:
    x = _int8_scores("uniform", _rng("ibert_softmax", scale), 64, 197)
    p = params.ibert_exp_params(scale)
    y = ops.ibert_softmax(x, p["x0"], p["b_int"], p["c_int"], p["h"]) / 2.0**16
    return float(np.abs(y - _softmax(x * scale)).max())


def log_int_softmax_error(scale: float) -> float:
    x = _int8_scores("uniform", _rng("log_int_softmax", scale), 64, 197)
    p = params.ibert_exp_params(scale)
    code = ops.log_int_softmax(x, p["x0"], p["b_int"], p["c_int"])
    w = np.where(code < ops.LOG_CODE_MASKED, 2.0 ** -np.minimum(code, 15), 0.0)
    return float(np.abs(w - _softmax(x * scale)).max())


def log_attn_v_error(scale: float) -> float:
    rng = _rng("log_attn_v", scale)
    x = _int8_scores("uniform", rng, 64, 197)
    v = rng.integers(-128, 128, size=(197, 64))
    p = params.ibert_exp_params(scale)
    code = ops.log_int_softmax(x, p["x0"], p["b_int"], p["c_int"])
    out = ops.log_attn_v(code, v) / 2.0**15
    return float(np.abs(out - _softmax(x * scale) @ v).max() / np.abs(v).max())


def shiftgelu_error(scale: float, coef: str, limit: int = 128) -> float:
    x = _rng("shiftgelu", scale, coef, limit).integers(-limit, limit, size=(16, 768))
    y = ops.shiftgelu(x, params.gelu_x0(scale, coef), coef=coef) * (scale / 128)
    return float(np.abs(y - _gelu(x * scale)).max() / np.abs(x * scale).max())


def ibert_gelu_error(scale: float) -> float:
    """Inputs cover [-4, 4) at a fine (accumulator-like) scale, as i-GELU needs."""
    lim = int(4.0 / scale)
    x = _rng("ibert_gelu", scale).integers(-lim, lim, size=(16, 768))
    p = params.ibert_gelu_params(scale)
    y = ops.ibert_gelu(x, p["b_int"], p["c_int"], p["one"]) * p["out_scale"]
    return float(np.abs(y - _gelu(x * scale)).max() / np.abs(x * scale).max())


def _hidden_states(rng: np.random.Generator, c: int, std_lsb: float, outliers: bool) -> np.ndarray:
    """16-bit residual-stream rows: N(0,1) + a per-row offset (+ a few 6x outlier channels)."""
    xf = rng.normal(0.0, 1.0, size=(32, c)) + rng.normal(0.0, 0.5, size=(32, 1))
    if outliers:
        xf[:, rng.integers(0, c, size=3)] *= 6.0
    scale = xf.std() / std_lsb
    return np.clip(np.rint(xf / scale), -(2**15), 2**15 - 1).astype(np.int64), scale


def layernorm_error(kind: str, c: int, std_lsb: float = 1024.0) -> float:
    """kind: 'iter' (I-ViT), 'exact' (sqrt="exact"), 'ibert' or 'l1'.

    I-LayerNorm and I-BERT see rows with outlier channels; L1 sees plain
    Gaussian rows (its sqrt(2/pi) factor is exact only there).
    """
    rng = _rng("layernorm", kind, c, std_lsb)
    x, scale = _hidden_states(rng, c, std_lsb, outliers=kind != "l1")
    gamma = rng.normal(1.0, 0.2, size=c)
    beta = rng.normal(0.0, 0.2, size=c)
    want = _layernorm(x * scale) * gamma + beta
    if kind == "l1":
        s_out, bias = params.l1_layernorm_params(gamma, beta)
        got = ops.l1_layernorm(x, bias)
    else:
        s_out, bias = params.layernorm_params(gamma, beta)
        if kind == "ibert":
            got = ops.ibert_layernorm(x, bias)
        else:
            got = ops.ilayernorm(x, bias, sqrt=kind)
    return float(np.abs(got * s_out - want).max())


# Measured with the generators above (numpy 2.4, the seeds fixed by case name).
# key -> (function, args, measured max error)
MEASURED: dict[str, tuple] = {
    "shiftmax S=0.02 uniform": (shiftmax_error, (0.02, "uniform"), 0.001997),
    "shiftmax S=0.02 gauss": (shiftmax_error, (0.02, "gauss"), 0.002875),
    "shiftmax S=0.05 uniform": (shiftmax_error, (0.05, "uniform"), 0.005568),
    "shiftmax S=0.05 gauss": (shiftmax_error, (0.05, "gauss"), 0.01643),
    "shiftmax S=0.1 uniform": (shiftmax_error, (0.1, "uniform"), 0.01211),
    "shiftmax S=0.1 gauss": (shiftmax_error, (0.1, "gauss"), 0.02205),
    "shiftmax S=0.2 uniform": (shiftmax_error, (0.2, "uniform"), 0.02321),
    "shiftmax S=0.2 gauss": (shiftmax_error, (0.2, "gauss"), 0.04477),
    "shiftmax 8-bit 49 S=0.05": (shiftmax_error, (0.05, "uniform", 49, 8), 0.01957),
    "shiftmax 8-bit 49 S=0.2": (shiftmax_error, (0.2, "uniform", 49, 8), 0.04525),
    "ibert_softmax S=0.02": (ibert_softmax_error, (0.02,), 0.0003255),
    "ibert_softmax S=0.05": (ibert_softmax_error, (0.05,), 0.0008049),
    "ibert_softmax S=0.1": (ibert_softmax_error, (0.1,), 0.001968),
    "ibert_softmax S=0.2": (ibert_softmax_error, (0.2,), 0.07223),
    "log_int_softmax S=0.02": (log_int_softmax_error, (0.02,), 0.01009),
    "log_int_softmax S=0.05": (log_int_softmax_error, (0.05,), 0.03641),
    "log_int_softmax S=0.1": (log_int_softmax_error, (0.1,), 0.0499),
    "log_int_softmax S=0.2": (log_int_softmax_error, (0.2,), 0.1436),
    "log_attn_v S=0.05": (log_attn_v_error, (0.05,), 0.08473),
    "log_attn_v S=0.2": (log_attn_v_error, (0.2,), 0.2102),
    "shiftgelu S=0.02 scale": (shiftgelu_error, (0.02, "scale"), 0.1147),
    "shiftgelu S=0.02 shift": (shiftgelu_error, (0.02, "shift"), 0.1461),
    "shiftgelu S=0.03 scale": (shiftgelu_error, (0.03, "scale"), 0.06194),
    "shiftgelu S=0.03 shift": (shiftgelu_error, (0.03, "shift"), 0.122),
    "shiftgelu S=0.04 scale": (shiftgelu_error, (0.04, "scale"), 0.03845),
    "shiftgelu S=0.04 shift": (shiftgelu_error, (0.04, "shift"), 0.07507),
    "shiftgelu S=0.05 scale": (shiftgelu_error, (0.05, "scale"), 0.03754),
    "shiftgelu S=0.05 shift": (shiftgelu_error, (0.05, "shift"), 0.06201),
    "shiftgelu S=0.06 scale": (shiftgelu_error, (0.06, "scale"), 0.03845),
    "shiftgelu S=0.06 shift": (shiftgelu_error, (0.06, "shift"), 0.03845),
    "ibert_gelu S=2e-4": (ibert_gelu_error, (2e-4,), 0.004569),
    "ibert_gelu S=5e-4": (ibert_gelu_error, (5e-4,), 0.004758),
    "ibert_gelu S=1e-3": (ibert_gelu_error, (1e-3,), 0.005439),
    "ilayernorm C=192": (layernorm_error, ("iter", 192), 0.001297),
    "ilayernorm C=384": (layernorm_error, ("iter", 384), 0.0009638),
    "ilayernorm C=768": (layernorm_error, ("iter", 768), 0.0007777),
    "ilayernorm C=768 narrow": (layernorm_error, ("iter", 768, 64.0), 0.01475),
    "ilayernorm exact C=768": (layernorm_error, ("exact", 768), 0.0008119),
    "ibert_layernorm C=192": (layernorm_error, ("ibert", 192), 0.001008),
    "ibert_layernorm C=768": (layernorm_error, ("ibert", 768), 0.0009531),
    "l1_layernorm C=192": (layernorm_error, ("l1", 192), 0.1514),
    "l1_layernorm C=384": (layernorm_error, ("l1", 384), 0.1153),
    "l1_layernorm C=768": (layernorm_error, ("l1", 768), 0.1138),
}


@pytest.mark.parametrize("key", sorted(MEASURED))
def test_error_within_measured_bound(key):
    """The error of each case stays within 1.5x its measured value (see MEASURED)."""
    fn, args, measured = MEASURED[key]
    err = fn(*args)
    assert err <= MARGIN * measured, f"{key}: error {err:.4g} > {MARGIN} x measured {measured:.4g}"


def test_shiftmax_rows_sum_close_to_one():
    """Every floor loses probability mass: measured row sums 0.9630 .. 0.9988 (16-bit, 197)."""
    for scale in (0.02, 0.05, 0.1, 0.2):
        x = _int8_scores("uniform", _rng("rowsum", scale), 64, 197)
        total = ops.shiftmax(x, params.exp_x0(scale)).sum(axis=-1) / 2.0**15
        assert total.max() <= 1.0
        assert total.min() >= 0.95


def test_shiftgelu_outside_its_regime_is_poor():
    """Documents the regime limit: at S = 0.1 with full-range int8 inputs the
    row max (12.7) pushes em to ShiftExp's clamp floor, the sigmoid of the
    most negative inputs comes out near 1/2, and the error reaches about half
    the input range (measured 0.49). Not a bug: the spec's arithmetic."""
    assert shiftgelu_error(0.1, "scale") > 0.3


def test_layernorm_error_shrinks_with_wider_rows():
    """I-LayerNorm's error is dominated by the integer sqrt and 2^31 // k, so
    it falls as the rows use more of the 16 bits (measured 0.01475 at 64 LSB
    per standard deviation, 0.0007777 at 1024)."""
    assert layernorm_error("iter", 768, 1024.0) < layernorm_error("iter", 768, 64.0) / 4


def main() -> None:
    """Print every case's measured error next to the value recorded in MEASURED."""
    width = max(len(k) for k in MEASURED)
    for key, (fn, args, recorded) in MEASURED.items():
        print(f"{key:<{width}}  measured {fn(*args):.4g}   recorded {recorded:.4g}")


if __name__ == "__main__":
    sys.exit(main())

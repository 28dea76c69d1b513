"""Numpy golden kernels: the executable form of ``docs/semantics.md`` (the normative
semantics; "spec section N" in this package means section N there).

Every function takes integer arrays and returns int64 arrays; floats appear
only in fast paths proven exact (float BLAS GEMMs below the mantissa limit,
``requantize_float`` where ``float_requantize_ok`` holds). This package
imports with numpy alone.
"""

from . import layout, tables, xp
from .baselines import (
    ERF_SHIFT,
    IBERT_NORM_NUM,
    IBERT_SOFTMAX_NUM,
    LOG_ATTN_SHIFT,
    LOG_CODE_MASKED,
    ibert_exp,
    ibert_gelu,
    ibert_layernorm,
    ibert_softmax,
    l1_layernorm,
    log_attn_v,
    log_int_softmax,
)
from .intmath import INT32_MAX, ROUNDING_MODES, bit_length, div_round_half_even, isqrt, round_shift
from .layernorm import ilayernorm, isqrt_iter, row_mean
from .linear import im2col_patches, int_matmul, linear, matmul, patch_embed
from .requant import dyadic, float_requantize_ok, requantize, requantize_float
from .shiftgelu import SIGMOID_SHIFT, gelu_coef_mul, shiftgelu
from .shiftmax import log2e_mul, shift_exp, shiftmax

__all__ = [
    "ERF_SHIFT",
    "IBERT_NORM_NUM",
    "IBERT_SOFTMAX_NUM",
    "INT32_MAX",
    "LOG_ATTN_SHIFT",
    "SIGMOID_SHIFT",
    "layout",
    "tables",
    "xp",
    "LOG_CODE_MASKED",
    "ROUNDING_MODES",
    "bit_length",
    "div_round_half_even",
    "dyadic",
    "gelu_coef_mul",
    "ibert_exp",
    "ibert_gelu",
    "ibert_layernorm",
    "ibert_softmax",
    "ilayernorm",
    "im2col_patches",
    "int_matmul",
    "isqrt",
    "isqrt_iter",
    "l1_layernorm",
    "linear",
    "log2e_mul",
    "log_attn_v",
    "log_int_softmax",
    "matmul",
    "patch_embed",
    "float_requantize_ok",
    "requantize",
    "requantize_float",
    "round_shift",
    "row_mean",
    "shift_exp",
    "shiftgelu",
    "shiftmax",
]

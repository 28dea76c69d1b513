"""The closed set of IR ops, one registry entry each.

Kernel convention: data inputs arrive with a leading batch axis (size B, or
1 for a constant used as data); ``param`` inputs arrive as stored. Axis
attributes count per-sample axes (no batch axis), so shape kernels add one.
Range rules live in :mod:`ivit_hw.ir.range_rules`, scale rules in
:mod:`ivit_hw.ir.scale_rules`, each next to its reasoning. Importing
:mod:`ivit_hw.ir` imports this module, which fills the registry.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from . import range_rules as rr
from . import scale_rules as sr
from .registry import Attr, OpDef, Role, register
from .types import IRError

ROUNDINGS = ops.ROUNDING_MODES


def _same_shape(shapes, attrs):
    return shapes["x"]


def _linear_shape(shapes, attrs):
    x, w = shapes["x"], shapes["weight"]
    if len(w) != 2 or x[-1] != w[1]:
        raise IRError(f"linear: input {x} does not match weight {w} (expects [N, K] with K = {x[-1]})")
    if "bias" in shapes and shapes["bias"] != (w[0],):
        raise IRError(f"linear: bias shape {shapes['bias']} should be ({w[0]},)")
    return x[:-1] + (w[0],)


def _matmul_shape(shapes, attrs):
    a, b = shapes["a"], shapes["b"]
    if attrs["transpose_b"]:
        b = b[:-2] + (b[-1], b[-2])
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2] or a[:-2] != b[:-2]:
        raise IRError(f"matmul: shapes {shapes['a']} and {shapes['b']} do not multiply")
    return a[:-1] + (b[-1],)


def _patch_shape(shapes, attrs):
    x, w, p = shapes["x"], shapes["weight"], attrs["patch"]
    if len(x) != 3 or len(w) != 4 or w[1:] != (x[0], p, p) or x[1] % p or x[2] % p:
        raise IRError(f"patch_embed: image {x} and weight {w} do not fit patch size {p}")
    return ((x[1] // p) * (x[2] // p), w[0])


def _broadcast_shape(shapes, attrs):
    try:
        return tuple(np.broadcast_shapes(shapes["a"], shapes["b"]))
    except ValueError:
        raise IRError(f"add: shapes {shapes['a']} and {shapes['b']} do not broadcast") from None


def _reshape_shape(shapes, attrs):
    new = tuple(attrs["shape"])
    if int(np.prod(new)) != int(np.prod(shapes["x"])):
        raise IRError(f"reshape: cannot reshape {shapes['x']} to {new}")
    return new


def _transpose_shape(shapes, attrs):
    perm = attrs["perm"]
    if sorted(perm) != list(range(len(shapes["x"]))):
        raise IRError(f"transpose: perm {perm} does not fit rank {len(shapes['x'])}")
    return tuple(shapes["x"][p] for p in perm)


def _axis(attrs, rank, op):
    ax = attrs["axis"]
    if not -rank <= ax < rank:
        raise IRError(f"{op}: axis {ax} out of range for rank {rank}")
    return ax % rank


def _concat_shape(shapes, attrs):
    a, b = shapes["a"], shapes["b"]
    ax = _axis(attrs, len(a), "concat")
    if len(a) != len(b) or a[:ax] + a[ax + 1 :] != b[:ax] + b[ax + 1 :]:
        raise IRError(f"concat: shapes {a} and {b} differ off axis {ax}")
    return a[:ax] + (a[ax] + b[ax],) + a[ax + 1 :]


def _slice_shape(shapes, attrs):
    x = shapes["x"]
    ax = _axis(attrs, len(x), "slice")
    start, stop = attrs["start"], attrs["stop"]
    if not 0 <= start < stop <= x[ax]:
        raise IRError(f"slice: [{start}, {stop}) is not inside axis {ax} of size {x[ax]}")
    return x[:ax] + (stop - start,) + x[ax + 1 :]


def _gather_shape(shapes, attrs):
    x = shapes["x"]
    ax = _axis(attrs, len(x), "gather")
    if not 0 <= attrs["index"] < x[ax]:
        raise IRError(f"gather: index {attrs['index']} outside axis {ax} of size {x[ax]}")
    return x[:ax] + x[ax + 1 :]


def _reduce_shape(shapes, attrs):
    x = shapes["x"]
    ax = _axis(attrs, len(x), "reduce_sum")
    return x[:ax] + x[ax + 1 :]


def _log_attn_shape(shapes, attrs):
    return _matmul_shape({"a": shapes["code"], "b": shapes["v"]}, {"transpose_b": False})


def _opt(ins, name):
    return ins[name] if name in ins else None


X = Role("x")
BIAS_INT = Role("bias_int", param=True, out_scale=True)
MASK = Role("mask", param=True, optional=True)
SHIFT_EXP_INTERNALS = ("p", "q", "r", "t", "s", "e")
IBERT_EXP_ATTRS = (Attr("x0", int), Attr("b_int", int), Attr("c_int", int), Attr("n", int, 30))
NORM_HEAD = ("xsum", "mean", "y")  # every LayerNorm: row sum, rounded mean, centred values
NORM_TAIL = ("k", "f", "yf", "z")  # spread, its reciprocal, y*f before >> 1, the shifted product

OPS = [
    OpDef(
        "requantize",
        (Role("acc"), Role("identity", optional=True), Role("m", param=True), Role("e", param=True),
         Role("m_id", param=True, optional=True), Role("e_id", param=True, optional=True)),
        (Attr("out_bits", int), Attr("rounding", str, "half_even", ROUNDINGS)),
        lambda ins, a, tr: ops.requantize(ins["acc"], ins["m"], ins["e"], a["out_bits"], a["rounding"],
                                          _opt(ins, "identity"), _opt(ins, "m_id"), _opt(ins, "e_id"), tr),
        lambda s, a: s["acc"],
        rr.requantize,
        internals=("prod", "y", "prod_id", "y_id", "sum"),
        wide_internals=("prod", "prod_id"),
        doc="Dyadic requantize with optional residual (identity) term, spec section 2.",
        scale_rule=sr.requantize,
        family="requant",
    ),
    OpDef(
        "linear",
        (X, Role("weight", param=True), Role("bias", param=True, optional=True)),
        (),
        lambda ins, a, tr: ops.linear(ins["x"], ins["weight"], _opt(ins, "bias")),
        _linear_shape,
        rr.linear,
        doc="int8 x int8 GEMM with 32-bit accumulator and optional int32 bias; weight [N, K].",
        scale_rule=sr.gemm,
        family="gemm",
    ),
    OpDef(
        "matmul",
        (Role("a"), Role("b")),
        (Attr("transpose_b", bool, False), Attr("fold_rsqrt_k", bool, False)),
        lambda ins, a, tr: ops.matmul(ins["a"], ins["b"], a["transpose_b"]),
        _matmul_shape,
        rr.matmul,
        doc="Batched activation x activation GEMM (q @ k^T, attn @ v). ``fold_rsqrt_k``: the output "
            "stands for (a @ b) / sqrt(K) (attention scores; the factor lives in the scale only).",
        scale_rule=sr.matmul,
        family="gemm",
    ),
    OpDef(
        "patch_embed",
        (X, Role("weight", param=True), Role("bias", param=True, optional=True)),
        (Attr("patch", int),),
        lambda ins, a, tr: ops.patch_embed(ins["x"], ins["weight"], _opt(ins, "bias"), a["patch"]),
        _patch_shape,
        rr.patch_embed,
        doc="Stride-p convolution as GEMM: [C, H, W] -> [N_patches, O].",
        scale_rule=sr.gemm,
        family="gemm",
    ),
    OpDef(
        "add",
        (Role("a"), Role("b")),
        (),
        lambda ins, a, tr: ops.layout.add(ins["a"], ins["b"]),
        _broadcast_shape,
        rr.add,
        doc="Elementwise integer add of two tensors on the same scale.",
        scale_rule=sr.add,
    ),
    OpDef(
        "shiftmax",
        (X, MASK),
        (Attr("x0", int), Attr("n", int, 15), Attr("out_bits", int, 16)),
        lambda ins, a, tr: ops.shiftmax(ins["x"], a["x0"], a["n"], a["out_bits"], _opt(ins, "mask"), tr),
        _same_shape,
        rr.shiftmax,
        internals=("d",) + SHIFT_EXP_INTERNALS + ("esum", "sum", "f", "prod"),
        doc="I-ViT Shiftmax over the last axis, spec section 5.",
        scale_rule=sr.fixed(lambda a: 2.0 ** -(a["out_bits"] - 1), "2^-(out_bits-1)"),
        family="softmax",
    ),
    OpDef(
        "shiftgelu",
        (X,),
        (Attr("x0", int), Attr("n", int, 23), Attr("coef", str, "scale", ("scale", "shift"))),
        lambda ins, a, tr: ops.shiftgelu(ins["x"], a["x0"], a["n"], a["coef"], tr),
        _same_shape,
        rr.shiftgelu,
        internals=("z", "m", "d") + SHIFT_EXP_INTERNALS + ("em", "esum", "sum", "f", "prod", "g"),
        doc="I-ViT ShiftGELU over the hidden axis, spec section 6.",
        scale_rule=sr.shiftgelu,
        family="gelu",
    ),
    OpDef(
        "ilayernorm",
        (X, BIAS_INT),
        (Attr("iters", int, 10), Attr("k0", int, 65536), Attr("sqrt", str, "iter", ("iter", "exact"))),
        lambda ins, a, tr: ops.ilayernorm(ins["x"], ins["bias_int"], a["iters"], a["k0"], a["sqrt"], tr),
        _same_shape,
        rr.ilayernorm,
        internals=NORM_HEAD + ("sq", "v") + NORM_TAIL,
        doc="I-LayerNorm with the fixed 10-step integer Newton sqrt, spec section 7.",
        scale_rule=sr.free,
        negative_scale=True,
        family="norm",
    ),
    OpDef(
        "ibert_softmax",
        (X,),
        IBERT_EXP_ATTRS + (Attr("h", int), Attr("out_bits", int, 16)),
        lambda ins, a, tr: ops.ibert_softmax(ins["x"], a["x0"], a["b_int"], a["c_int"], a["h"], a["n"],
                                             a["out_bits"], tr),
        _same_shape,
        rr.ibert_softmax,
        internals=("d", "p", "q", "r", "z", "e", "e16", "esum", "sum", "f", "prod"),
        doc="I-BERT polynomial softmax baseline, spec section 9.",
        scale_rule=sr.fixed(lambda a: 2.0 ** -a["out_bits"], "2^-out_bits"),
        family="softmax",
    ),
    OpDef(
        "ibert_gelu",
        (X,),
        (Attr("b_int", int), Attr("c_int", int), Attr("one", int)),
        lambda ins, a, tr: ops.ibert_gelu(ins["x"], a["b_int"], a["c_int"], a["one"], tr),
        _same_shape,
        rr.ibert_gelu,
        internals=("t", "poly", "u", "g"),
        doc="I-BERT i-GELU baseline, spec section 9.",
        scale_rule=sr.ibert_gelu,
        negative_scale=True,
        family="gelu",
    ),
    OpDef(
        "ibert_layernorm",
        (X, BIAS_INT),
        (),
        lambda ins, a, tr: ops.ibert_layernorm(ins["x"], ins["bias_int"], tr),
        _same_shape,
        rr.ibert_layernorm,
        internals=NORM_HEAD + ("sq", "v") + NORM_TAIL,
        doc="I-BERT LayerNorm baseline (exact isqrt, 2^31 // k), spec section 9.",
        scale_rule=sr.free,
        negative_scale=True,
        family="norm",
    ),
    OpDef(
        "l1_layernorm",
        (X, BIAS_INT),
        (),
        lambda ins, a, tr: ops.l1_layernorm(ins["x"], ins["bias_int"], tr),
        _same_shape,
        rr.l1_layernorm,
        internals=NORM_HEAD + ("a",) + NORM_TAIL,
        doc="L1 LayerNorm baseline (mean absolute deviation), spec section 9.",
        scale_rule=sr.free,
        negative_scale=True,
        family="norm",
    ),
    OpDef(
        "log_int_softmax",
        (X, MASK),
        IBERT_EXP_ATTRS,
        lambda ins, a, tr: ops.log_int_softmax(ins["x"], a["x0"], a["b_int"], a["c_int"], a["n"],
                                               _opt(ins, "mask"), tr),
        _same_shape,
        rr.log_int_softmax,
        internals=("d", "p", "q", "r", "z", "e", "esum", "sum", "v", "kb"),
        doc="FQ-ViT Log-Int-Softmax baseline: 4-bit log2 codes (16 = masked), spec section 9.",
        scale_rule=sr.no_scale,
        family="softmax",
    ),
    OpDef(
        "log_attn_v",
        (Role("code"), Role("v")),
        (),
        lambda ins, a, tr: ops.log_attn_v(ins["code"], ins["v"]),
        _log_attn_shape,
        rr.log_attn_v,
        doc="Shift-add attn @ v for Log-Int-Softmax codes; scale S_v / 2^15.",
        scale_rule=sr.log_attn_v,
        family="gemm",
    ),
    OpDef(
        "reshape",
        (X,),
        (Attr("shape", "ints"),),
        lambda ins, a, tr: ops.layout.reshape(ins["x"], a["shape"]),
        _reshape_shape,
        rr.passthrough,
        doc="Per-sample reshape (the batch axis is kept).",
        scale_rule=sr.reshape,
        family="layout",
    ),
    OpDef(
        "transpose",
        (X,),
        (Attr("perm", "ints"),),
        lambda ins, a, tr: ops.layout.transpose(ins["x"], a["perm"]),
        _transpose_shape,
        rr.passthrough,
        doc="Per-sample axis permutation.",
        scale_rule=sr.transpose,
        family="layout",
    ),
    OpDef(
        "concat",
        (Role("a"), Role("b")),
        (Attr("axis", int),),
        lambda ins, a, tr: ops.layout.concat(ins["a"], ins["b"], a["axis"]),
        _concat_shape,
        rr.concat,
        doc="Concatenate two tensors (e.g. the class token and the patch tokens).",
        scale_rule=sr.concat,
        family="layout",
    ),
    OpDef(
        "slice",
        (X,),
        (Attr("axis", int), Attr("start", int), Attr("stop", int)),
        lambda ins, a, tr: ops.layout.slice_axis(ins["x"], a["axis"], a["start"], a["stop"]),
        _slice_shape,
        rr.passthrough,
        doc="Contiguous slice [start, stop) along one axis.",
        scale_rule=sr.slice_,
        family="layout",
    ),
    OpDef(
        "gather",
        (X,),
        (Attr("axis", int), Attr("index", int)),
        lambda ins, a, tr: ops.layout.gather(ins["x"], a["axis"], a["index"]),
        _gather_shape,
        rr.passthrough,
        doc="Pick one index along an axis, dropping it (the class token).",
        scale_rule=sr.gather,
        family="layout",
    ),
    OpDef(
        "reduce_sum",
        (X,),
        (Attr("axis", int),),
        lambda ins, a, tr: ops.layout.reduce_sum(ins["x"], a["axis"]),
        _reduce_shape,
        rr.reduce_sum,
        doc="Integer sum over one axis (average pooling; its 1/N goes into the output scale).",
        scale_rule=sr.reduce_sum,
        family="reduce",
    ),
    OpDef(
        "argmax",
        (X,),
        (),
        lambda ins, a, tr: ops.layout.argmax(ins["x"]),
        lambda s, a: s["x"][:-1],
        rr.argmax,
        doc="Index of the largest value on the last axis (first one on ties).",
        scale_rule=sr.no_scale,
        family="index",
    ),
]


for _op in OPS:
    register(_op)

"""View-models of the GEMM layers: ``linear``, ``patch_embed``, ``matmul`` (q @ k^T with lanes on the
reduction axis, attn @ v with lanes on the output row) and ``log_attn_v``; with off-chip weights the
``*_axi`` kernels."""

from __future__ import annotations

import numpy as np

from ...ir.types import Interval
from .layer_base import Layer, LayerCtx, Rom, _i, _size
from .widths import hull


def _partial_sums(x: Interval, w: np.ndarray, b: np.ndarray | None, out: Interval) -> Interval:
    """Hull of every partial sum b + sum_{k<j} w_k x_k (x in the interval), per channel, and of out.

    Per channel the extremes are b plus the sum of the negative (positive) terms' minima (maxima).
    Exact in int64 when every such sum is below 2^62 in magnitude, else in Python integers."""
    w = np.asarray(w, dtype=np.int64).reshape(w.shape[0], -1)  # never a narrow dtype: w * x.lo must not wrap
    bias = np.zeros(w.shape[0], dtype=np.int64) if b is None else np.asarray(b, dtype=np.int64)
    big = max(abs(x.lo), abs(x.hi)) * int(np.abs(w).max(initial=0)) * w.shape[1] + int(np.abs(bias).max(initial=0))
    if big >= 2**62:
        w, bias = w.astype(object), bias.astype(object)
    lo_term = np.where(w >= 0, w * x.lo, w * x.hi)  # the smaller of w * lo and w * hi
    hi_term = np.where(w >= 0, w * x.hi, w * x.lo)
    lo = bias + np.minimum(lo_term, 0).sum(axis=1)
    hi = bias + np.maximum(hi_term, 0).sum(axis=1)
    return hull(out, Interval(int(min(lo.min(), 0)), int(max(hi.max(), 0))))


def _k_blocks(ctx: LayerCtx, k: int) -> int:
    return -(-k // max(1, min(ctx.par, k)))


def _gemm_common(ctx: LayerCtx, layer: Layer, k: int, outputs: int) -> None:
    par = max(1, min(ctx.par, k))
    layer.par = par
    kb = -(-k // par)
    layer.consts += [("par", _i(par)), ("k_blocks", _i(kb))]
    layer.multipliers = par
    layer.cycles = outputs * kb


def linear(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::linear")
    w = ctx.const("weight")
    n, k = w.shape
    m = _size(ctx.shape("x")) // k
    bias = ctx.const("bias") if "bias" in ctx.node.inputs else None
    ctx.typed(layer, "x_t", "in.x")
    ctx.typed(layer, "acc_t", _partial_sums(ctx.intervals["in.x"], w, bias, ctx.intervals["out"]))
    ctx.typed(layer, "out_t", "out")
    layer.consts += [("m", _i(m)), ("n", _i(n)), ("k", _i(k)), ("has_bias", "1" if bias is not None else "0")]
    b_rom = ctx.rom(layer, "bias") if bias is not None else _zero_rom(ctx, layer)
    layer.args = [ctx.buffers["x"], ctx.rom(layer, "weight"), b_rom, ctx.out]
    layer.loops = {"LIN_M": m, "LIN_N": n, "LIN_K": _k_blocks(ctx, k)}
    _gemm_common(ctx, layer, k, m * n)
    if ctx.off_chip:
        _off_chip(layer, "ivit::linear_axi", {"LINA_N": n, "LINA_LOAD": k, "LINA_M": m, "LINA_K": _k_blocks(ctx, k)},
                  n * (k + m * _k_blocks(ctx, k)))
    return layer


def _off_chip(layer: Layer, kernel: str, loops: dict[str, int], cycles: int) -> None:
    """The layer's weight matrix (its second argument) behind an m_axi port, read by ``kernel`` a row per burst."""
    layer.kernel = kernel
    next(r for r in layer.roms if r.cid == layer.args[1]).off_chip = True
    layer.loops = loops
    layer.cycles = cycles


def _zero_rom(ctx: LayerCtx, layer: Layer) -> str:
    name = ctx.rom_name(f"{ctx.node.name}.nobias")
    layer.roms.append(Rom(name, "int8_t", np.zeros(1, dtype=np.int64), ctx.node.name))
    return name


def patch_embed(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::patch_embed")
    w = ctx.const("weight")
    c, h, wd = ctx.shape("x")
    p = ctx.node.attrs["patch"]
    o = w.shape[0]
    k = c * p * p
    bias = ctx.const("bias") if "bias" in ctx.node.inputs else None
    ctx.typed(layer, "x_t", "in.x")
    ctx.typed(layer, "acc_t", _partial_sums(ctx.intervals["in.x"], w, bias, ctx.intervals["out"]))
    ctx.typed(layer, "out_t", "out")
    layer.consts += [("chans", _i(c)), ("height", _i(h)), ("width", _i(wd)), ("patch", _i(p)), ("outs", _i(o)),
                     ("k", _i(k)), ("has_bias", "1" if bias is not None else "0")]
    b_rom = ctx.rom(layer, "bias") if bias is not None else _zero_rom(ctx, layer)
    layer.args = [ctx.buffers["x"], ctx.rom(layer, "weight"), b_rom, ctx.out]
    patches = (h // p) * (wd // p)
    layer.loops = {"PE_PATCH": patches, "PE_OUT": o, "PE_K": _k_blocks(ctx, k)}
    _gemm_common(ctx, layer, k, patches * o)
    if ctx.off_chip:
        _off_chip(layer, "ivit::patch_embed_axi",
                  {"PEA_OUT": o, "PEA_LOAD": k, "PEA_PATCH": patches, "PEA_K": _k_blocks(ctx, k)},
                  o * (k + patches * _k_blocks(ctx, k)))
    return layer


def _output_lanes(ctx: LayerCtx, layer: Layer, n: int, reduction: int, outputs: int) -> int:
    """attn @ v: ``par`` lanes on the output axis (length ``n``), each summing ``reduction`` terms;
    consts ``par``, ``k_blocks`` and ``n_blocks``; cycles outputs / par x reduction. Returns par."""
    par = max(1, min(ctx.par, n))
    layer.par = par
    nb = -(-n // par)
    layer.consts += [("par", _i(par)), ("k_blocks", _i(-(-reduction // par))), ("n_blocks", _i(nb))]
    layer.multipliers = par
    layer.cycles = (outputs // n) * nb * reduction
    return nb


def matmul(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::matmul")
    a_shape, b_shape = ctx.shape("a"), ctx.shape("b")
    tb = ctx.node.attrs["transpose_b"]
    m, k = a_shape[-2], a_shape[-1]
    n = b_shape[-2] if tb else b_shape[-1]
    batch = _size(a_shape[:-2])
    ctx.typed(layer, "a_t", "in.a")
    ctx.typed(layer, "b_t", "in.b")
    ctx.typed(layer, "acc_t", hull(ctx.intervals["out"], Interval(0, 0)))
    ctx.typed(layer, "out_t", "out")
    layer.consts += [("batch", _i(batch)), ("m", _i(m)), ("n", _i(n)), ("k", _i(k)),
                     ("transpose_b", "1" if tb else "0")]
    layer.args = [ctx.buffers["a"], ctx.buffers["b"], ctx.out]
    if tb:
        layer.loops = {"MM_B": batch, "MM_M": m, "MM_N": n, "MM_K": _k_blocks(ctx, k)}
        _gemm_common(ctx, layer, k, batch * m * n)
        layer.consts.append(("n_blocks", _i(-(-n // layer.par))))
    else:
        nb = _output_lanes(ctx, layer, n, k, batch * m * n)
        layer.loops = {"MM_B": batch, "MM_M": m, "MM_NB": nb, "MM_KS": k}
    return layer


def log_attn_v(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::log_attn_v")
    c_shape, v_shape = ctx.shape("code"), ctx.shape("v")
    m, n, d = c_shape[-2], c_shape[-1], v_shape[-1]
    batch = _size(c_shape[:-2])
    ctx.typed(layer, "code_t", "in.code")
    ctx.typed(layer, "v_t", "in.v")
    ctx.typed(layer, "acc_t", hull(ctx.intervals["out"], Interval(0, 0)))
    ctx.typed(layer, "out_t", "out")
    layer.consts += [("batch", _i(batch)), ("m", _i(m)), ("n", _i(n)), ("d", _i(d))]
    layer.args = [ctx.buffers["code"], ctx.buffers["v"], ctx.out]
    nb = _output_lanes(ctx, layer, d, n, batch * m * d)
    layer.consts = [(key, val) if key != "n_blocks" else ("d_blocks", val) for key, val in layer.consts]
    layer.loops = {"LAV_B": batch, "LAV_M": m, "LAV_DB": nb, "LAV_J": n}
    layer.multipliers = 0  # shifts and adds only
    return layer

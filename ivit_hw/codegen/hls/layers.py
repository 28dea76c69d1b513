"""View-models of the layers: for one IR node, the config struct (typedefs
from the proven widths, integer parameters), the kernel call, the constant
arrays it reads, and the figures of the summary (trip counts, multipliers,
an estimated cycle count).

Every kernel lives in ``templates/hls/include/ivit/``; a builder here (or in
:mod:`.gemm_layers`) only decides what the kernel's config holds. The op table
is :data:`BUILDERS`; an op without an entry has no HLS kernel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.types import Interval, IRError
from .gemm_layers import linear, log_attn_v, matmul, patch_embed
from .layer_base import (
    DIV_LATENCY,
    MAX_RANK,
    ROUNDING_ENUM,
    Layer,
    LayerCtx,
    Rom,
    _bcast,
    _bcast_values,
    _i,
    _rows_cols,
    _size,
)
from .widths import INT32_MAX, hull, node_intervals

# ----------------------------------------------------------------------------- requantize


def _shift_bits(iv: Interval, e: np.ndarray) -> Interval:
    """A register for round_shift: holds p, 2^s and p + 2^(s-1) for the largest shift."""
    s_max = int(np.max(e)) if e.size else 0
    big = max(abs(iv.lo), abs(iv.hi), 1 << s_max) * 2 + 2
    return Interval(-big, big)


def requantize(ctx: LayerCtx) -> Layer:
    node, a = ctx.node, ctx.node.attrs
    ident = "identity" in node.inputs
    layer = ctx.new_layer("ivit::requantize_identity" if ident else "ivit::requantize")
    full = ctx.shape("acc")
    rows, cols = _rows_cols(full)
    ctx.typed(layer, "acc_t", "in.acc")
    ctx.typed(layer, "prod_t", "prod")
    ctx.typed(layer, "y_t", "y")
    e = ctx.const("e")
    ctx.typed(layer, "rnd_t", _shift_bits(ctx.intervals["prod"], e))
    m_len = _bcast(ctx, ctx.shape("m"), full, "multiplier")
    if _bcast(ctx, ctx.shape("e"), full, "shift") != m_len:
        m_len = _size(full)
    args = [ctx.buffers["acc"], ctx.rom(layer, "m", _bcast_values(ctx.const("m"), m_len, full)),
            ctx.rom(layer, "e", _bcast_values(e, m_len, full))]
    layer.consts += [("rows", _i(rows)), ("cols", _i(cols)), ("m_len", _i(m_len))]
    if ident:
        ctx.typed(layer, "id_t", "in.identity")
        ctx.typed(layer, "prod_id_t", "prod_id")
        ctx.typed(layer, "y_id_t", "y_id")
        e_id = ctx.const("e_id")
        ctx.typed(layer, "rnd_id_t", _shift_bits(ctx.intervals["prod_id"], e_id))
        ctx.typed(layer, "sum_t", "sum")
        id_len = _bcast(ctx, ctx.shape("identity"), full, "identity")
        ident_arg = ctx.buffers["identity"]
        if id_len != _size(ctx.shape("identity")):  # broadcast over leading axes: the kernel reads full size
            if node.inputs["identity"] not in ctx.graph.constants:
                raise IRError(f"node {node.name!r}: identity {node.inputs['identity']!r} of shape "
                              f"{ctx.shape('identity')} broadcasts to {full} over leading axes; the HLS "
                              "requantize takes that only from a constant")
            ident_arg = ctx.rom(layer, "identity", _bcast_values(ctx.const("identity"), id_len, full))
        mid_len = _bcast(ctx, ctx.shape("m_id"), full, "identity multiplier")
        if _bcast(ctx, ctx.shape("e_id"), full, "identity shift") != mid_len:
            mid_len = _size(full)
        layer.consts += [("id_len", _i(id_len)), ("mid_len", _i(mid_len))]
        args += [ident_arg, ctx.rom(layer, "m_id", _bcast_values(ctx.const("m_id"), mid_len, full)),
                 ctx.rom(layer, "e_id", _bcast_values(e_id, mid_len, full))]
    ctx.typed(layer, "out_t", "out")
    bits = a["out_bits"]
    layer.consts += [("rounding", ROUNDING_ENUM[a["rounding"]]), ("out_min", _i(-(1 << (bits - 1)))),
                     ("out_max", _i((1 << (bits - 1)) - 1))]
    layer.args = args + [ctx.out]
    layer.loops = {"REQ_ROWS": rows, "REQ_COLS": cols}
    layer.multipliers = 2 if ident else 1
    layer.cycles = rows * cols
    return layer


# ----------------------------------------------------------------------------- softmax / GELU family


def _mask(ctx: LayerCtx, layer: Layer) -> str:
    if "mask" not in ctx.node.inputs:
        layer.consts += [("has_mask", "0"), ("mask_len", "1")]
        name = ctx.rom_name(f"{ctx.node.name}.nomask")
        layer.roms.append(Rom(name, "unsigned char", np.ones(1, dtype=np.int64), ctx.node.name))
        return name
    full = ctx.graph.tensor(ctx.node.inputs["x"]).shape
    keep = np.broadcast_to(ctx.const("mask").astype(bool), full).reshape(-1).astype(np.int64)
    name = ctx.rom_name(f"{ctx.node.inputs['mask']}.{ctx.node.name}")
    layer.roms.append(Rom(name, "unsigned char", keep, ctx.node.inputs["mask"]))
    layer.consts += [("has_mask", "1"), ("mask_len", _i(keep.size))]
    return name


def _exp_types(ctx: LayerCtx, layer: Layer, keys: tuple[str, ...]) -> None:
    for key in keys:
        ctx.typed(layer, f"{key}_t", key)


def _row_layer(ctx: LayerCtx, kernel: str, internals: tuple[str, ...], attrs: tuple[str, ...]
               ) -> tuple[Layer, int, int]:
    """The common part of the row-wise exp kernels: ``x_t``, the internals' types, ``out_t``; the
    consts ``rows``, ``cols`` and the 64-bit integer attributes ``attrs``. (layer, rows, cols)."""
    layer = ctx.new_layer(kernel)
    rows, cols = _rows_cols(ctx.shape("x"))
    ctx.typed(layer, "x_t", "in.x")
    _exp_types(ctx, layer, internals)
    ctx.typed(layer, "out_t", "out")
    layer.consts += [("rows", _i(rows)), ("cols", _i(cols))]
    layer.consts += [(k, f"{ctx.node.attrs[k]}LL") for k in attrs]
    return layer, rows, cols


def shiftmax(ctx: LayerCtx) -> Layer:
    layer, rows, cols = _row_layer(ctx, "ivit::shiftmax", ("d", "p", "q", "r", "t", "s", "e", "esum", "sum", "f",
                                                           "prod"), ("x0", "n"))
    layer.consts += [("out_shift", _i(32 - ctx.node.attrs["out_bits"]))]
    mask = _mask(ctx, layer)
    layer.args = [ctx.buffers["x"], mask, ctx.out]
    layer.loops = {"SM_ROWS": rows, "SM_MAX": cols, "SM_EXP": cols, "SM_NORM": cols}
    layer.multipliers = 1
    layer.cycles = rows * (3 * cols + DIV_LATENCY)
    return layer


def shiftgelu(ctx: LayerCtx) -> Layer:
    layer, rows, cols = _row_layer(ctx, "ivit::shiftgelu", ("z", "m", "d", "p", "q", "r", "t", "s", "e", "em", "esum",
                                                            "sum", "f", "prod", "g"), ("x0", "n"))
    layer.consts += [("t_bits", _i(ctx.ctype("t").bits)),
                     ("coef_shift", "1" if ctx.node.attrs["coef"] == "shift" else "0")]
    layer.args = [ctx.buffers["x"], ctx.out]
    layer.loops = {"SG_ROWS": rows, "SG_MAX": cols, "SG_OUT": cols}
    layer.multipliers = 2
    layer.cycles = rows * 2 * cols + DIV_LATENCY
    return layer


def ibert_softmax(ctx: LayerCtx) -> Layer:
    layer, rows, cols = _row_layer(ctx, "ivit::ibert_softmax", ("d", "p", "q", "r", "z", "e", "e16", "esum", "sum",
                                                                "f", "prod"), ("x0", "n", "b_int", "c_int"))
    layer.consts += [("h", _i(ctx.node.attrs["h"])), ("out_shift", _i(32 - ctx.node.attrs["out_bits"]))]
    layer.args = [ctx.buffers["x"], ctx.out]
    layer.loops = {"IBS_ROWS": rows, "IBS_MAX": cols - 1, "IBS_EXP": cols, "IBS_NORM": cols}
    layer.multipliers = 2
    layer.cycles = rows * (3 * cols + DIV_LATENCY)
    return layer


def log_int_softmax(ctx: LayerCtx) -> Layer:
    layer, rows, cols = _row_layer(ctx, "ivit::log_int_softmax", ("d", "p", "q", "r", "z", "e", "sum", "v", "kb"),
                                   ("x0", "n", "b_int", "c_int"))
    layer.consts += [("v_bits", _i(ctx.ctype("v").bits))]
    mask = _mask(ctx, layer)
    layer.args = [ctx.buffers["x"], mask, ctx.out]
    layer.loops = {"LIS_ROWS": rows, "LIS_MAX": cols - 1, "LIS_EXP": cols, "LIS_CODE": cols}
    layer.multipliers = 2
    layer.cycles = rows * 3 * cols + DIV_LATENCY
    return layer


def ibert_gelu(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::ibert_gelu")
    n = _size(ctx.shape("x"))
    x_t = ctx.typed(layer, "x_t", "in.x")
    _exp_types(ctx, layer, ("t", "poly", "u", "g"))
    ctx.typed(layer, "out_t", "out")
    a = ctx.node.attrs
    layer.consts += [("n", _i(n)), ("x_bits", _i(x_t.bits)), ("b_int", f"{a['b_int']}LL"),
                     ("c_int", f"{a['c_int']}LL"), ("one", f"{a['one']}LL")]
    layer.args = [ctx.buffers["x"], ctx.out]
    layer.loops = {"IBG_ELEM": n}
    layer.multipliers = 2
    layer.cycles = n
    return layer


_NORM_MODES = {"ilayernorm": 0, "ibert_layernorm": 1, "l1_layernorm": 2}


def layernorm(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::layernorm")
    op, a = ctx.node.op, ctx.node.attrs
    mode = _NORM_MODES[op]
    if op == "ilayernorm" and a["sqrt"] == "exact":
        mode = 1
    rows, cols = _rows_cols(ctx.shape("x"))
    ctx.typed(layer, "x_t", "in.x")
    _exp_types(ctx, layer, ("xsum", "mean", "y"))
    spread = "a" if op == "l1_layernorm" else "v"
    ctx.typed(layer, "sq_t", "sq" if spread == "v" else "y")
    v_t = ctx.typed(layer, "v_t", spread)
    ctx.typed(layer, "k_t", "k")
    iters, k0 = (a["iters"], a["k0"]) if op == "ilayernorm" else (0, 1)
    ctx.typed(layer, "kw_t", Interval(0, (1 << (max(v_t.bits, k0.bit_length()) + 2)) - 1))
    _exp_types(ctx, layer, ("f", "yf", "z"))
    ctx.typed(layer, "out_t", "out")
    numer = 2**31 if op == "ibert_layernorm" else INT32_MAX
    layer.consts += [("rows", _i(rows)), ("cols", _i(cols)), ("mode", _i(mode)), ("iters", _i(iters)),
                     ("k0", f"{k0}LL"), ("numer", f"{numer}LL"), ("v_bits", _i(v_t.bits))]
    layer.args = [ctx.buffers["x"], ctx.rom(layer, "bias_int"), ctx.out]
    layer.loops = {"LN_ROWS": rows, "LN_SUM": cols, "LN_VAR": cols, "LN_NORM": cols}
    if mode == 0:
        layer.loops["LN_NEWTON"] = iters
    layer.multipliers = 2
    sqrt_cycles = {0: iters * DIV_LATENCY, 1: v_t.bits // 2 + 1, 2: 0}[mode]
    layer.cycles = rows * (3 * cols + sqrt_cycles + DIV_LATENCY)
    return layer


# ----------------------------------------------------------------------------- layout ops


def _strides(shape: tuple[int, ...]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return list(reversed(out))


def _walk(ctx: LayerCtx, layer: Layer, dims: list[int], parts: dict[str, tuple[int, list[int]]]) -> None:
    """Config of a 6-D walk over ``dims``; ``parts`` maps a prefix (I, O, A, B) to (offset, strides)."""
    if len(dims) > MAX_RANK:
        raise IRError(f"node {ctx.node.name!r}: rank {len(dims)} is above the HLS layout kernels' {MAX_RANK}")
    pad = MAX_RANK - len(dims)
    dims = [1] * pad + list(dims)
    layer.consts += [(f"D{i}", _i(d)) for i, d in enumerate(dims)]
    for prefix, (off, st) in parts.items():
        st = [0] * pad + list(st)
        layer.consts.append((f"{prefix}OFF", _i(off)))
        layer.consts += [(f"{prefix}S{i}", _i(s)) for i, s in enumerate(st)]
    total = int(np.prod(dims))
    layer.loops = {"COPY" if "I" in parts else "ADD": total}
    layer.cycles = total


def _copy_layer(ctx: LayerCtx, dims: list[int], in_off: int, in_st: list[int], out_off: int = 0,
                out_st: list[int] | None = None, src_role: str = "x", cfg: str | None = None) -> Layer:
    layer = ctx.new_layer("ivit::strided_copy")
    if cfg:
        layer.cfg = cfg
    _walk(ctx, layer, dims, {"I": (in_off, in_st), "O": (out_off, out_st if out_st is not None else _strides(dims))})
    layer.consts += [("in_len", _i(_size(ctx.shape(src_role)))), ("out_len", _i(_size(ctx.out_shape)))]
    layer.args = [ctx.buffers[src_role], ctx.out]
    return layer


def reshape(ctx: LayerCtx) -> Layer:
    n = _size(ctx.out_shape)
    return _copy_layer(ctx, [n], 0, [1])


def transpose(ctx: LayerCtx) -> Layer:
    st = _strides(ctx.shape("x"))
    return _copy_layer(ctx, list(ctx.out_shape), 0, [st[p] for p in ctx.node.attrs["perm"]])


def slice_(ctx: LayerCtx) -> Layer:
    shape = ctx.shape("x")
    ax = ctx.node.attrs["axis"] % len(shape)
    st = _strides(shape)
    return _copy_layer(ctx, list(ctx.out_shape), ctx.node.attrs["start"] * st[ax], st)


def gather(ctx: LayerCtx) -> Layer:
    shape = ctx.shape("x")
    ax = ctx.node.attrs["axis"] % len(shape)
    st = _strides(shape)
    return _copy_layer(ctx, list(ctx.out_shape), ctx.node.attrs["index"] * st[ax], st[:ax] + st[ax + 1:])


def concat(ctx: LayerCtx) -> Layer:
    out_shape = ctx.out_shape
    ax = ctx.node.attrs["axis"] % len(out_shape)
    out_st = _strides(out_shape)
    a_shape, b_shape = ctx.shape("a"), ctx.shape("b")
    part_a = _copy_layer(ctx, list(a_shape), 0, _strides(a_shape), 0, out_st, "a", f"{ctx.cfg}_a")
    part_b = _copy_layer(ctx, list(b_shape), 0, _strides(b_shape), a_shape[ax] * out_st[ax], out_st, "b",
                         f"{ctx.cfg}_b")
    layer = ctx.new_layer("ivit::concat2")
    layer.sub_cfgs = [part_a, part_b]
    layer.args = [ctx.buffers["a"], ctx.buffers["b"], ctx.out]
    layer.loops = {"COPY_A": part_a.cycles, "COPY_B": part_b.cycles}
    layer.cycles = part_a.cycles + part_b.cycles
    ctx.typed(layer, "out_t", "out")
    return layer


def add(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::add")
    out = list(ctx.out_shape)
    parts = {}
    for role, prefix in (("a", "A"), ("b", "B")):
        shape = [1] * (len(out) - len(ctx.shape(role))) + list(ctx.shape(role))
        st = _strides(tuple(shape))
        parts[prefix] = (0, [0 if d == 1 and o > 1 else s for d, o, s in zip(shape, out, st, strict=True)])
    parts["O"] = (0, _strides(tuple(out)))
    _walk(ctx, layer, out, parts)
    layer.consts += [("a_len", _i(_size(ctx.shape("a")))), ("b_len", _i(_size(ctx.shape("b")))),
                     ("out_len", _i(_size(ctx.out_shape)))]
    layer.args = [ctx.buffers["a"], ctx.buffers["b"], ctx.out]
    return layer


def reduce_sum(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::reduce_sum")
    shape = ctx.shape("x")
    ax = ctx.node.attrs["axis"] % len(shape)
    outer, axis, inner = _size(shape[:ax]), shape[ax], _size(shape[ax + 1:])
    ctx.typed(layer, "acc_t", hull(ctx.intervals["out"], Interval(0, 0)))
    layer.consts += [("outer", _i(outer)), ("axis", _i(axis)), ("inner", _i(inner))]
    layer.args = [ctx.buffers["x"], ctx.out]
    layer.loops = {"RS_OUTER": outer, "RS_INNER": inner, "RS_AXIS": axis}
    layer.cycles = outer * inner * axis
    return layer


def argmax(ctx: LayerCtx) -> Layer:
    layer = ctx.new_layer("ivit::argmax")
    rows, cols = _rows_cols(ctx.shape("x"))
    layer.consts += [("rows", _i(rows)), ("cols", _i(cols))]
    layer.args = [ctx.buffers["x"], ctx.out]
    layer.loops = {"AM_ROWS": rows, "AM_COLS": cols - 1}
    layer.cycles = rows * cols
    return layer


BUILDERS: dict[str, Callable[[LayerCtx], Layer]] = {
    "requantize": requantize,
    "linear": linear,
    "matmul": matmul,
    "patch_embed": patch_embed,
    "log_attn_v": log_attn_v,
    "shiftmax": shiftmax,
    "shiftgelu": shiftgelu,
    "ibert_softmax": ibert_softmax,
    "log_int_softmax": log_int_softmax,
    "ibert_gelu": ibert_gelu,
    "ilayernorm": layernorm,
    "ibert_layernorm": layernorm,
    "l1_layernorm": layernorm,
    "reshape": reshape,
    "transpose": transpose,
    "slice": slice_,
    "gather": gather,
    "concat": concat,
    "add": add,
    "reduce_sum": reduce_sum,
    "argmax": argmax,
}


def build_layer(graph: Graph, node: Node, cfg: str, buffers: dict[str, str], out: str,
                rom_name: Callable[[str], str], par: int, off_chip: bool = False) -> Layer:
    """The view-model of ``node`` (``off_chip``: a GEMM's weight matrix behind an m_axi port);
    IRError naming the node when its op has no HLS kernel."""
    builder = BUILDERS.get(node.op)
    if builder is None:
        raise IRError(f"node {node.name!r}: op {node.op!r} has no HLS kernel")
    ctx = LayerCtx(graph, node, cfg, node_intervals(graph, node), buffers, out, rom_name, par, off_chip)
    return builder(ctx)


def estimated_total(layers: list[Layer]) -> int:
    """Sum of the layers' estimated cycles (no overlap between layers assumed)."""
    return int(sum(layer.cycles for layer in layers))


__all__ = ["BUILDERS", "Layer", "Rom", "build_layer", "estimated_total"]

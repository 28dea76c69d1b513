"""Small analysed graphs for the GEMM engine and top tests: one input, GEMMs at their width limits,
layout views of every access kind (direct, filter, buffer), forks and padded parallelism."""

from __future__ import annotations

import numpy as np

from ivit_hw import ops
from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ops.params import exp_x0, gelu_x0

I8, I16, I32 = IntType(8), IntType(16), IntType(32)
U8 = IntType(8, signed=False)


def linear_extremes() -> Graph:
    """x[3, 13] i8 over its whole range -> linear(5) with weights at -128 and 127 and a large bias."""
    rng = np.random.default_rng(5)
    b = GraphBuilder("lin_ext")
    x = b.input("x", (3, 13), I8, 0.05, Interval(-128, 127))
    w_int = rng.choice([-128, 127, -1, 0, 1], size=(5, 13))
    w_int[0, :] = -128
    w_int[1, :] = 127
    w = b.const("fc.weight", w_int, I8, 0.01)
    bias = b.const("fc.bias", np.array([2**30, -(2**30), 7, -7, 0]), I32, 0.0005)
    y = b.node("linear", {"x": x, "weight": w, "bias": bias}, "fc.acc", I32, 0.0005)
    return infer_ranges(b.finish([y]))


def patch_matmul() -> Graph:
    """u8 image [2, 6, 6] -> patch_embed (p = 3, K = 18, 4 patches) -> requantize -> reshape
    [4, 2, 3] -> transpose [2, 4, 3] (a buffered view) -> matmul with itself (transpose_b)
    and, through another view [2, 3, 4], a plain matmul (t @ t^T as [2,4,3] @ [2,3,4])."""
    rng = np.random.default_rng(7)
    b = GraphBuilder("patch_mm")
    x = b.input("img", (2, 6, 6), U8, 1 / 255, Interval(0, 255))
    w = b.const("pe.weight", rng.integers(-128, 128, (6, 2, 3, 3)), I8, 0.01)
    bias = b.const("pe.bias", rng.integers(-3000, 3000, 6), I32, 0.01 / 255)
    acc = b.node("patch_embed", {"x": x, "weight": w, "bias": bias}, "pe.acc", I32, 0.01 / 255, {"patch": 3})
    m, e = ops.dyadic(0.01 / 255 / 0.5)
    q = b.node("requantize", {"acc": acc, "m": b.const("pe.q.m", np.asarray(m), I32),
                              "e": b.const("pe.q.e", np.asarray(e), U8)}, "pe.q", I8, 0.5, {"out_bits": 8})
    r = b.node("reshape", {"x": q}, "r", I8, 0.5, {"shape": [4, 2, 3]})
    t = b.node("transpose", {"x": r}, "t", I8, 0.5, {"perm": [1, 0, 2]})
    s = b.node("matmul", {"a": t, "b": t}, "s.acc", I32, 0.25, {"transpose_b": True})
    m2, e2 = ops.dyadic(0.25 / 8.0)
    sq = b.node("requantize", {"acc": s, "m": b.const("s.m", np.asarray(m2), I32),
                               "e": b.const("s.e", np.asarray(e2), U8)}, "s.q", I8, 8.0, {"out_bits": 8})
    tt = b.node("transpose", {"x": t}, "tt", I8, 0.5, {"perm": [0, 2, 1]})
    o = b.node("matmul", {"a": sq, "b": t}, "o.acc", I32, 4.0, {"transpose_b": False})
    del tt
    return infer_ranges(b.finish([o]))


def cls_slice() -> Graph:
    """x[5, 4] i16 -> gather row 0 (a filter: the addresses only increase) -> linear(3)."""
    b = GraphBuilder("cls")
    x = b.input("x", (5, 4), I16, 0.1, Interval(-32768, 32767))
    c = b.node("gather", {"x": x}, "c", I16, 0.1, {"axis": 0, "index": 0})
    w = b.const("h.weight", np.array([[1, -2, 3, -4], [127, 127, 127, 127], [-128, -128, -128, -128]]), I8, 0.1)
    y = b.node("linear", {"x": c, "weight": w}, "h.acc", I32, 0.01)
    return infer_ranges(b.finish([y]))


def cls_concat() -> Graph:
    """x[3, 4] i8 -> linear(4) -> requantize with a constant identity (a position embedding: a ROM
    stream) -> concat after a constant class token (a ROM stream, then the patches) -> linear(3)."""
    rng = np.random.default_rng(11)
    b = GraphBuilder("cls_cat")
    x = b.input("x", (3, 4), I8, 0.05, Interval(-128, 127))
    w = b.const("pe.weight", rng.integers(-128, 128, (4, 4)), I8, 0.01)
    acc = b.node("linear", {"x": x, "weight": w}, "pe.acc", I32, 0.0005)
    pos = b.const("pos", rng.integers(-3000, 3000, (3, 4)), I16, 0.01)
    m, e = ops.dyadic(0.0005 / 0.01)
    m_id, e_id = ops.dyadic(1.0)
    q = b.node("requantize", {"acc": acc, "identity": pos, "m": b.const("pe.q.m", np.asarray(m), I32),
                              "e": b.const("pe.q.e", np.asarray(e), U8),
                              "m_id": b.const("pe.q.m_id", np.asarray(m_id), I32),
                              "e_id": b.const("pe.q.e_id", np.asarray(e_id), U8)},
               "pe.q", I16, 0.01, {"out_bits": 16})
    cls = b.const("cls", rng.integers(-3000, 3000, (1, 4)), I16, 0.01)
    cat = b.node("concat", {"a": cls, "b": q}, "embed", I16, 0.01, {"axis": 0})
    hw = b.const("h.weight", rng.integers(-128, 128, (3, 4)), I8, 0.1)
    y = b.node("linear", {"x": cat, "weight": hw}, "h.acc", I32, 0.001)
    return infer_ranges(b.finish([y]))


def attn_residual() -> Graph:
    """x[9, 8] i8 -> qkv linear(24) -> requantize -> [9, 3, 2, 4] -> heads [3, 2, 9, 4] -> q, k, v (gathers:
    each a third of the qkv buffer, so each view's copy keeps only its part) -> q @ k^T -> requantize ->
    @ v -> requantize -> merge [9, 8] (a buffered view) -> proj linear(8) -> requantize with x as the
    residual identity (a fork: a whole-image skip FIFO and a short one into qkv)."""
    rng = np.random.default_rng(13)
    b = GraphBuilder("attn_res")
    x = b.input("x", (9, 8), I8, 0.05, Interval(-128, 127))

    def requant(acc, name, s_in, s_out, identity=None, s_id=1.0):
        m, e = ops.dyadic(s_in / s_out)
        ins = {"acc": acc, "m": b.const(f"{name}.m", np.asarray(m), I32), "e": b.const(f"{name}.e", np.asarray(e), U8)}
        if identity is not None:
            m_id, e_id = ops.dyadic(s_id / s_out)
            ins.update(identity=identity, m_id=b.const(f"{name}.m_id", np.asarray(m_id), I32),
                       e_id=b.const(f"{name}.e_id", np.asarray(e_id), U8))
        return b.node("requantize", ins, name, I8, s_out, {"out_bits": 8})

    w = b.const("qkv.weight", rng.integers(-128, 128, (24, 8)), I8, 0.01)
    qkv = requant(b.node("linear", {"x": x, "weight": w}, "qkv.acc", I32, 0.0005), "qkv.q", 0.0005, 0.5)
    heads = b.node("reshape", {"x": qkv}, "qkv.split", I8, 0.5, {"shape": [9, 3, 2, 4]})
    heads = b.node("transpose", {"x": heads}, "qkv.heads", I8, 0.5, {"perm": [1, 2, 0, 3]})
    q, k, v = (b.node("gather", {"x": heads}, t, I8, 0.5, {"axis": 0, "index": j}) for j, t in enumerate("qkv"))
    sc = b.node("matmul", {"a": q, "b": k}, "scores.acc", I32, 0.25, {"transpose_b": True})
    sq = requant(sc, "scores.q", 0.25, 32.0)
    o = b.node("matmul", {"a": sq, "b": v}, "o.acc", I32, 16.0, {"transpose_b": False})
    oq = requant(o, "o.q", 16.0, 64.0)
    ot = b.node("transpose", {"x": oq}, "o.tokens", I8, 64.0, {"perm": [1, 0, 2]})
    om = b.node("reshape", {"x": ot}, "o.merged", I8, 64.0, {"shape": [9, 8]})
    pw = b.const("proj.weight", rng.integers(-128, 128, (8, 8)), I8, 0.01)
    p = b.node("linear", {"x": om, "weight": pw}, "proj.acc", I32, 0.64)
    y = requant(p, "res", 0.64, 2.0, x, 0.05)
    return infer_ranges(b.finish([y]))


def linear_gelu() -> Graph:
    """x[4, 12] i8 -> linear(16) -> requantize -> ShiftGELU (rows of 16): a unit fed by a GEMM that
    emits one element every ceil(12 / P) clocks, so the top rate-matches its divider (at P = 1 eight
    quotient bits per stage over eight clocks; at P = 4 two)."""
    rng = np.random.default_rng(17)
    b = GraphBuilder("lin_gelu")
    x = b.input("x", (4, 12), I8, 0.05, Interval(-128, 127))
    w = b.const("fc1.weight", rng.integers(-128, 128, (16, 12)), I8, 0.01)
    acc = b.node("linear", {"x": x, "weight": w}, "fc1.acc", I32, 0.0005)
    m, e = ops.dyadic(0.0005 / 0.05)
    q = b.node("requantize", {"acc": acc, "m": b.const("fc1.q.m", np.asarray(m), I32),
                              "e": b.const("fc1.q.e", np.asarray(e), U8)}, "fc1.q", I8, 0.05, {"out_bits": 8})
    y = b.node("shiftgelu", {"x": q}, "gelu", I16, None, {"x0": gelu_x0(0.05)})
    return infer_ranges(b.finish([y]))


def linear_norm_softmax() -> Graph:
    """x[4, 12] i8 -> linear(16) -> requantize -> I-LayerNorm (rows of 16, per-channel bias) -> requantize
    -> Shiftmax (rows of 16): row units fed one element every ceil(12 / P) clocks. At P = 1 the top lets
    them take 10 clocks an element: 3 LayerNorm spread engines instead of 25, 1 mean divider instead of 2
    and 1 Shiftmax row divider instead of 3."""
    rng = np.random.default_rng(19)
    b = GraphBuilder("lin_norm_sm")
    x = b.input("x", (4, 12), I8, 0.05, Interval(-128, 127))

    def requant(acc, name, s_in, s_out):
        m, e = ops.dyadic(s_in / s_out)
        return b.node("requantize", {"acc": acc, "m": b.const(f"{name}.m", np.asarray(m), I32),
                                     "e": b.const(f"{name}.e", np.asarray(e), U8)}, name, I8, s_out, {"out_bits": 8})

    w = b.const("fc.weight", rng.integers(-128, 128, (16, 12)), I8, 0.01)
    q = requant(b.node("linear", {"x": x, "weight": w}, "fc.acc", I32, 0.0005), "fc.q", 0.0005, 0.05)
    bias = b.const("ln.bias_int", rng.integers(-3000, 3000, 16), I32)
    ln = b.node("ilayernorm", {"x": q, "bias_int": bias}, "ln", I32, 0.001)
    lq = requant(ln, "ln.q", 0.001, 0.1)
    y = b.node("shiftmax", {"x": lq}, "sm", I16, 2.0**-15, {"x0": exp_x0(0.1)})
    return infer_ranges(b.finish([y]))


def edge_samples(graph: Graph, n_random: int = 3, seed: int = 0) -> np.ndarray:
    """Samples of the graph's input: all at the low end, all at the high end, alternating, random."""
    spec = graph.tensor(graph.inputs[0])
    iv = spec.range
    rng = np.random.default_rng(seed)
    lo = np.full(spec.shape, iv.lo)
    hi = np.full(spec.shape, iv.hi)
    alt = np.where(np.indices(spec.shape).sum(axis=0) % 2 == 0, iv.lo, iv.hi)
    rand = rng.integers(iv.lo, iv.hi + 1, size=(n_random, *spec.shape))
    return np.concatenate([np.stack([lo, hi, alt]), rand]).astype(np.int64)


TOP_GRAPHS = {"linear_extremes": linear_extremes, "patch_matmul": patch_matmul, "cls_slice": cls_slice,
              "cls_concat": cls_concat, "attn_residual": attn_residual, "linear_gelu": linear_gelu,
              "linear_norm_softmax": linear_norm_softmax}

"""View-model of the LayerNorm units: I-LayerNorm (10-step integer Newton sqrt), I-BERT LayerNorm
(exact sqrt, 2^31 // k) and L1 LayerNorm (mean absolute deviation)."""

from __future__ import annotations

import math

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.types import Interval
from .credit import OUT_FIFO_CLOCKS, out_fifo_aw
from .units_common import (
    DMUL_LAT,
    INT32_MAX,
    UnitView,
    UnsupportedError,
    aw_for,
    data_width,
    engines_for,
    out_width,
    rom_init,
    row_len,
)
from .units_common import tdata_bits as _tdata
from .widths import sbits

PASS_C_STAGES = 2 + DMUL_LAT  # pass C registers before the output FIFO (operands, DSP multiplier, + bias)
SP_HANDOVER = 7  # clocks a spread engine spends per row beyond its divisions (take, registered free, push)
MEAN_STAGES = 3  # registered stages between the mean divider and fifo_mean (rounding bit, magnitude, sign)
TITLES = {"ilayernorm": "I-ViT I-LayerNorm", "ibert_layernorm": "I-BERT LayerNorm (baseline)",
          "l1_layernorm": "L1 LayerNorm (baseline)"}


def norm_view(graph: Graph, node: Node, rg: dict[str, Interval], module: str, ii: int = 1) -> UnitView:
    """Widths, constants and divider engines of a LayerNorm unit for ``node``; ``ii``: the clocks per
    element its rows may take (a top's rate matching), so a row's division work has ``c * ii`` clocks
    and fewer engines take it in turn."""
    op, a = node.op, node.attrs
    if op == "ilayernorm":
        variant = "iter" if a["sqrt"] == "iter" else "exact"
    else:
        variant = "exact" if op == "ibert_layernorm" else "l1"
    c = row_len(graph, node)
    wx = data_width(graph, node, "x")
    y, k, xsum, mean = rg["y"], rg["k"], rg["xsum"], rg["mean"]
    y_abs = max(-y.lo, y.hi)
    spread = rg["a"] if variant == "l1" else rg["v"]
    vb = max(spread.hi.bit_length(), 1)
    num = 2**31 if op == "ibert_layernorm" else INT32_MAX
    iters, k0 = a.get("iters", 10), a.get("k0", 65536)
    if variant == "iter":
        if iters < 1 or iters > 31:
            raise UnsupportedError(f"{node.name}: the unit runs 1..31 Newton steps, got iters={iters}")
        k_all = max(k.hi, k0, (k0 + spread.hi // k0) // 2)  # the first step can overshoot from below
        spread_doc = f"{iters} Newton steps k = (k + v // k) // 2 from k0 = {k0}"
    elif variant == "exact":
        k_all = max(k.hi, math.isqrt(spread.hi), 1)
        spread_doc = "k = max(floor(sqrt(v)), 1), one bit per clock"
    else:
        k_all = max(k.hi, 1)
        spread_doc = "k = max(sum(|y|), 1)"
    kb = max(k_all.bit_length(), 1)
    if variant == "exact":  # the digit-by-digit root takes two radicand bits per step, kb steps
        kb = max(kb, (vb + 1) // 2, 2)
    dnw = max(vb, 32)
    divisions = iters + 1 if variant == "iter" else 1
    # every divider does one compare-subtract per clock; rows shorter than a row's division work take
    # engines in turn (the spread engines ``<module>_sp``, ``ivit_rrdiv`` for the mean)
    steps = dnw
    spread_cycles = divisions * (steps + 2) + (kb if variant == "exact" else 0) + 4
    sp_engines = engines_for(spread_cycles + SP_HANDOVER, c * ii)
    xsum_w = sbits(xsum)
    b_stages = 2 if variant == "l1" else 1 + DMUL_LAT  # pass B: y = x - mean, then |y| or y^2 (DSP)
    mean_cycles = xsum_w + 4 + MEAN_STAGES
    mean_engines = engines_for(xsum_w + 8, c * ii)
    bias = np.asarray(graph.constants[node.inputs["bias_int"]], dtype=np.int64).reshape(-1)
    if bias.size not in (1, c):
        raise UnsupportedError(f"{node.name}: bias_int has {bias.size} values; the unit takes 1 or {c}")
    bias_vals = [int(bias[0])] if bias.size == 1 or np.all(bias == bias[0]) else [int(v) for v in bias]
    yf = rg["yf"]
    w = {"x": wx, "xsum": xsum_w, "mean": sbits(mean), "y": sbits(y), "yw": max(wx, sbits(mean)) + 1,
         "sq": (sbits(Interval(0, y_abs)) if variant == "l1" else sbits(rg["sq"])),
         "f": sbits(rg["f"]), "yf": sbits(yf), "bias": sbits(Interval(min(bias_vals + [0]), max(bias_vals + [0]))),
         "out": sbits(rg["out"])}
    u = {"module": module, "node": node.name, "op": op, "title": TITLES[op], "variant": variant, "c": c,
         "num": num, "iters": iters, "k0": k0, "kb": kb, "vb": vb, "dnw": dnw, "sqw": 2 * kb,
         "radix": 1, "sp_engines": sp_engines,
         "mean_engines": mean_engines, "aw_f": aw_for(sp_engines + 4),
         "aw_mean": aw_for(mean_engines + 4), "cw": max(c.bit_length(), 1), "spread_doc": spread_doc,
         "bias": bias_vals, "aw_x": aw_for(c + mean_cycles + 16), "aw_y": aw_for(c + spread_cycles + 16),
         "aw_c": aw_for(c), "aw_o": out_fifo_aw(PASS_C_STAGES), "tdw_in": _tdata(wx),
         "tdw_out": _tdata(out_width(graph, node)),
         "ii": ii,
         "min_row": max(math.ceil((spread_cycles + SP_HANDOVER) / sp_engines), math.ceil((xsum_w + 8) / mean_engines)),
         "b_stages": b_stages,
         "bias_init": rom_init(bias_vals, w["bias"]) if len(bias_vals) > 1 else None,
         "c_stages": PASS_C_STAGES, "mul_lat": DMUL_LAT,
         "latency": c + mean_cycles + spread_cycles + 18 + b_stages + PASS_C_STAGES + OUT_FIFO_CLOCKS}
    ports = {"in": [{"name": "x", "tdata": u["tdw_in"], "bits": wx, "tuser": 0}],
             "out": {"name": "y", "tdata": u["tdw_out"], "bits": out_width(graph, node)}}
    return UnitView("norm_row.v.j2", u, w, ports)

"""View-models of the three-pass softmax units: Shiftmax, I-BERT softmax, Log-Int-Softmax."""

from __future__ import annotations

import math

from ...ir.graph import Graph, Node
from ...ir.types import Interval
from .credit import OUT_FIFO_CLOCKS, out_fifo_aw
from .units_common import (
    DMUL_LAT,
    IBERT_EXP_LAT,
    INT32_MAX,
    SHIFT_EXP_LAT,
    UnitView,
    aw_for,
    data_width,
    engines_for,
    ibert_exp_cfg,
    out_width,
    row_len,
    shift_exp_cfg,
    tdata_bits,
)
from .widths import sbits

TITLES = {
    "shiftmax": "I-ViT Shiftmax",
    "ibert_softmax": "I-BERT polynomial softmax (baseline)",
    "log_int_softmax": "FQ-ViT Log-Int-Softmax (baseline)",
}


def softmax_view(graph: Graph, node: Node, rg: dict[str, Interval], module: str, ii: int = 1) -> UnitView:
    """Widths and constants of a softmax-family unit for ``node``; ``ii``: the clocks per element its
    rows may take (a top's rate matching), so fewer row dividers take the rows in turn."""
    op, a = node.op, node.attrs
    c = row_len(graph, node)
    wx_bits = data_width(graph, node, "x")
    mask = "mask" in node.inputs
    d = rg["d"]
    w = {"x": wx_bits, "d": sbits(d)}
    u = {"module": module, "node": node.name, "op": op, "title": TITLES[op], "c": c, "mask": mask,
         "mask_in_max": mask and op == "shiftmax", "kind": op, "h": None, "ii": ii,
         "tdw_in": tdata_bits(wx_bits), "tdw_out": tdata_bits(out_width(graph, node))}
    if op == "shiftmax":
        u["exp"], u["exp_lat"] = "shift", SHIFT_EXP_LAT
        u["se"] = shift_exp_cfg(d, rg.get("p"), rg.get("q"), rg.get("r"), rg.get("t"), rg.get("s"), rg["e"],
                                a["x0"], a["n"])
        w["e"] = w["ev"] = u["se"]["we"]
    else:
        u["exp"], u["exp_lat"] = "ibert", IBERT_EXP_LAT
        u["ie"] = ibert_exp_cfg(d, rg, a["x0"], a["n"], a["b_int"], a["c_int"])
        w["e"] = u["ie"]["we"]
        if op == "ibert_softmax":
            u["h"] = a["h"]
            w["ev"] = sbits(rg["e16"])
        else:
            w["ev"] = w["e"]
    w["esum"] = sbits(rg["esum"])  # the raw row sum before any clamp
    u["lat_b"] = 1 + u["exp_lat"] + (1 if u["h"] is not None else 0)
    esum_bits = w["esum"] - 1
    if op == "log_int_softmax":
        u["nw"] = max(esum_bits, 1)
        u["out_doc"] = "the 4-bit log2 code (0..15; 16 = masked)"
        u["pass_c"] = "v = round_half_even(sum / e) in a pipelined divider, code = round(log2 v)"
        # pass C: operand registers, the nw-stage divider, then q and bump, q + bump, the per-group
        # leading one, the selected group, the code: nw + 6 registers before the output FIFO
        c_stages = u["nw"] + 6
        u["latency"] = c + u["lat_b"] + c_stages + 13 + OUT_FIFO_CLOCKS
        u["aw_o"] = out_fifo_aw(c_stages)
        u["min_row"] = 1
        u["aw_e"] = aw_for(2 * c + 16)
        u["radix"] = 1
    else:
        if op == "shiftmax":
            num, nw, dw = INT32_MAX, 31, 31
            clamp = (f"(fs_out > {w['esum']}'d{INT32_MAX}) ? 31'h7FFFFFFF : fs_out[30:0]" if esum_bits > 31
                     else (f"{{{31 - esum_bits}'d0, fs_out[{esum_bits - 1}:0]}}" if esum_bits < 31
                           else "fs_out[30:0]"))
        else:
            num, nw, dw = 2**32, 33, max(esum_bits, 1)
            clamp = f"fs_out[{dw - 1}:0]"
        u["num"], u["nw"], u["dw"] = num, nw, dw
        u["den_expr"] = f"(fs_out == {w['esum']}'d0) ? {dw}'d1 : {clamp}"
        w["f"] = sbits(rg["f"])
        w["prod"] = sbits(rg["prod"])
        u["out_shift"] = 32 - a["out_bits"]
        # one compare-subtract per clock; a division occupies its engine steps + 1 clocks, so rows shorter
        # than that take engines in turn (ivit_rrdiv), each division's result in order into fifo_f
        steps = nw
        u["radix"] = 1
        u["engines"] = engines_for(steps + 4, c * ii)
        u["min_row"] = math.ceil((steps + 4) / u["engines"])
        u["aw_f"] = aw_for(u["engines"] + 4)
        u["mul_lat"] = DMUL_LAT
        # 13 clocks of the row-max push, FIFO hops and division hand-over, then pass C: operand registers
        # and the DSP multiplier, then the output FIFO
        u["latency"] = c + u["lat_b"] + steps + 13 + 1 + DMUL_LAT + OUT_FIFO_CLOCKS
        u["aw_o"] = out_fifo_aw(DMUL_LAT + 1)
        u["out_doc"] = f"{a['out_bits']}-bit probabilities (scale 2^-{a['out_bits'] - (1 if op == 'shiftmax' else 0)})"
        u["pass_c"] = "y = (e * f) >> (32 - out_bits)"
        u["aw_e"] = aw_for(2 * c + steps + 24)
    u["aw_x"] = aw_for(2 * c + 16)
    # fifo_sum and its credit: rows between entering pass B and leaving fifo_sum (the division's start,
    # or pass C's last element for Log-Int-Softmax) within one credit loop, so short rows (a Swin
    # window's 4 or 16 tokens) keep one element per clock
    loop = u["lat_b"] + 8 + (c if op == "log_int_softmax" else 0)
    u["aw_s"] = aw_for(math.ceil(loop / c) + 2)
    ports = {"in": [{"name": "x", "tdata": u["tdw_in"], "bits": wx_bits, "tuser": 1 if mask else 0}],
             "out": {"name": "y", "tdata": u["tdw_out"], "bits": out_width(graph, node)}}
    return UnitView("softmax_row.v.j2", u, w, ports)

"""View-model of the ShiftGELU unit."""

from __future__ import annotations

from ...ir.graph import Graph, Node
from ...ir.types import Interval
from .credit import OUT_FIFO_CLOCKS, out_fifo_aw
from .units_common import (
    DMUL_LAT,
    SHIFT_EXP_LAT,
    UnitView,
    aw_for,
    data_width,
    out_width,
    row_len,
    shift_exp_cfg,
    stage_bits,
    tdata_bits,
)
from .widths import sbits

DIV_STAGES = 31


def shiftgelu_view(graph: Graph, node: Node, rg: dict[str, Interval], module: str, ii: int = 1) -> UnitView:
    """Widths and constants of a ShiftGELU unit for ``node`` (row max, per-element pipelined divider).
    ``ii``: clocks per element the unit may take (a top's rate matching): its divider then retires
    several quotient bits per stage over as many clocks (``ivit_stagediv``), one element every
    ``div_b`` clocks."""
    a = node.attrs
    c = row_len(graph, node)
    wx = data_width(graph, node, "x")
    z = rg["z"]
    d = rg["d"]
    se = shift_exp_cfg(d, rg.get("p"), rg.get("q"), rg.get("r"), rg.get("t"), rg.get("s"), rg["e"], a["x0"], a["n"])
    sem = shift_exp_cfg(Interval(-z.hi, -z.lo), rg.get("p"), rg.get("q"), rg.get("r"), rg.get("t"), rg.get("s"),
                        None, a["x0"], a["n"], sat=True)
    w = {"x": wx, "z": max(sbits(z), wx), "d": sbits(d), "prod": sbits(rg["prod"]) + 1, "g": sbits(rg["g"]),
         "out": sbits(rg["out"])}
    se["wd"] = w["d"]
    sem["wd"] = w["z"] + 1
    # operand register, ShiftExp, the clamped sum, the divider, e*f and x*g on the DSP multiplier, 1 spare
    div_b = stage_bits(ii, DIV_STAGES)
    div_lat = -(-DIV_STAGES // div_b) * div_b
    lat_b = 1 + SHIFT_EXP_LAT + 1 + div_lat + 2 * DMUL_LAT + 1
    u = {"module": module, "node": node.name, "op": node.op, "coef": a["coef"], "c": c, "se": se, "sem": sem,
         "we_u": se["we"] - 1, "wes": max(se["we"] - 1, 31) + 1, "aw_x": aw_for(c + 48), "tdw_in": tdata_bits(wx),
         "tdw_out": tdata_bits(out_width(graph, node)), "latency": lat_b + 13 + SHIFT_EXP_LAT + OUT_FIFO_CLOCKS,
         "exp_lat": SHIFT_EXP_LAT, "mul_lat": DMUL_LAT, "div_b": div_b, "ii": div_b,
         "aw_o": out_fifo_aw(lat_b + 5), "min_row": 8}
    ports = {"in": [{"name": "x", "tdata": u["tdw_in"], "bits": wx, "tuser": 0}],
             "out": {"name": "y", "tdata": u["tdw_out"], "bits": out_width(graph, node)}}
    return UnitView("shiftgelu.v.j2", u, w, ports)

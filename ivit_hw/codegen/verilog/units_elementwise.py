"""View-models of the element-wise units: requantize and I-BERT GELU."""

from __future__ import annotations

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.types import Interval
from .constmul import fabric_stages
from .credit import OUT_FIFO_CLOCKS, out_fifo_aw
from .units_common import (
    DMUL_LAT,
    UnitView,
    UnsupportedError,
    aw_for,
    data_width,
    out_width,
    rom_init,
    row_len,
    tdata_bits,
)
from .widths import hull, sbits


def _const(graph: Graph, node: Node, role: str, c: int) -> list[int]:
    """A per-channel constant as one value (scalar) or ``c`` values (one per position in the row)."""
    arr = np.asarray(graph.constants[node.inputs[role]], dtype=np.int64).reshape(-1)
    if arr.size == 1 or np.all(arr == arr[0]):
        return [int(arr[0])]
    if arr.size != c:
        raise UnsupportedError(f"{node.name}: constant {role!r} has {arr.size} values; the unit takes 1 or {c} "
                               "(one per channel on the last axis)")
    return [int(v) for v in arr]


def _term(graph: Graph, node: Node, rg: dict[str, Interval], role: str, m_role: str, e_role: str,
          prefix: str, c: int, key: str) -> dict:
    bits = data_width(graph, node, role)
    m_vals, e_vals = _const(graph, node, m_role, c), _const(graph, node, e_role, c)
    if max(e_vals) > 62 or min(e_vals) < 0:
        raise UnsupportedError(f"{node.name}: shift {e_role!r} outside [0, 62]")
    ms = Interval(min(m_vals), max(m_vals))
    # the IR's proven intervals: prod = acc * m (per channel) and y = round(prod / 2^e)
    prod, y = rg["prod" if key == "y" else "prod_id"], rg[key]
    e_min = min(e_vals)
    wprod = sbits(prod)
    span = max(e_vals) - e_min
    # one multiplier for every channel: shifted terms added in the fabric, no hard multiplier
    fabric = fabric_stages(f"{prefix}_prod", f"{prefix}_ax", m_vals[0], DMUL_LAT) if len(m_vals) == 1 else None
    # the shift splits into a constant part (e_min) and a narrow variable part (e - e_min < 2^ds)
    return {"name": role, "p": prefix, "port": role, "win": bits, "wm": sbits(ms), "wprod": wprod,
            # the multiplier's operand: the input's proven width (the declared one may be wider)
            "wmul": min(bits, sbits(rg[role])), "fabric": fabric,
            "wy": sbits(y), "m_values": m_vals, "e_values": e_vals, "y": y, "e_min": e_min,
            "ds": max(span.bit_length(), 1), "wu": max(wprod - e_min + 2, 2),
            # DP16KD contents of the per-channel ROMs the plan puts in block RAM (used under IVIT_ECP5)
            "m_init": rom_init(m_vals, sbits(ms)) if len(m_vals) > 1 else None,
            "e_init": rom_init(e_vals, 8) if len(e_vals) > 1 else None}


def _sext(sig: str, wf: int, wt: int) -> str:
    """Verilog text sign-extending ``sig`` from ``wf`` to ``wt`` bits (wt >= wf)."""
    if wt == wf:
        return sig
    return "{{" + str(wt - wf) + "{" + sig + "[" + str(wf - 1) + "]}}, " + sig + "}"


def _flow(lat: int, credit: bool) -> dict:
    """The flow-control keys of an element-wise unit's view: ``credit`` (its pipeline runs free and takes an
    element on credit into an output FIFO: the units with a DSP multiplier, so no stall enable reaches a
    MULT18X18D's clock enable), its ``latency`` and the output FIFO's address bits ``aw_o``."""
    if not credit:
        return {"credit": False, "latency": lat}
    return {"credit": True, "latency": lat + OUT_FIFO_CLOCKS, "aw_o": out_fifo_aw(lat)}


def requantize_view(graph: Graph, node: Node, rg: dict[str, Interval], module: str) -> UnitView:
    """Per-channel dyadic requantize with an optional identity stream (the residual add)."""
    a = node.attrs
    c = row_len(graph, node, "acc")
    rounding = a["rounding"]
    terms = [_term(graph, node, rg, "acc", "m", "e", "ra", c, "y")]
    if "identity" in node.inputs:
        terms.append(_term(graph, node, rg, "identity", "m_id", "e_id", "ri", c, "y_id"))
    ob = a["out_bits"]
    # the sum as the IR proves it, but at least out_bits wide: the clamp compares it with out_bits bounds
    w = {"sum": max(sbits(rg["sum"]), ob)}
    sum_expr = " + ".join(_sext(f"{t['p']}_y", t["wy"], w["sum"]) for t in terms)
    inputs = [{"name": t["name"], "tdata": tdata_bits(t["win"]), "bits": t["win"], "tuser": 0} for t in terms]
    # two operand registers (the ROMs' read, then the fabric), the DSP multiplier, three rounding stages, the sum
    lat = 2 + DMUL_LAT + 4
    u = {"module": module, "node": node.name, "op": node.op, "title": "dyadic requantize", "c": c, "lat": lat,
         **_flow(lat, any(t["fabric"] is None for t in terms)), "mul_lat": DMUL_LAT, "inputs": inputs,
         "terms": terms, "rounding": rounding, "out_bits": ob,
         "tdw_out": tdata_bits(out_width(graph, node)), "aw": aw_for(c), "sum_expr": sum_expr}
    ports = {"in": inputs, "out": {"name": "y", "tdata": u["tdw_out"], "bits": out_width(graph, node)}}
    return UnitView("elementwise.v.j2", u, w, ports)


def ibert_gelu_view(graph: Graph, node: Node, rg: dict[str, Interval], module: str) -> UnitView:
    """I-BERT i-GELU: an element-wise pipeline of 5 + 2 * DMUL_LAT stages."""
    a = node.attrs
    b, c_int, one = a["b_int"], a["c_int"], a["one"]
    if b >= 0:
        raise UnsupportedError(f"{node.name}: ibert_gelu needs b_int < 0, got {b}")
    wx = data_width(graph, node, "x")
    x = rg["x"]
    tc = hull(Interval(0, max(-x.lo, x.hi)), Interval(0, -b))
    tb = Interval(b, 0)
    pv = Interval(min(c_int, b * b + c_int), max(c_int, b * b + c_int))
    poly, g = rg["poly"], rg["g"]
    w = {"x": wx, "tc": sbits(tc) + 1, "tb": sbits(tb), "poly": max(sbits(poly), sbits(Interval(0, b * b)) + 1,
                                                                     sbits(pv)),
         "g": sbits(g), "out": sbits(rg["out"])}
    ob = out_width(graph, node)
    inputs = [{"name": "x", "tdata": tdata_bits(wx), "bits": wx, "tuser": 0}]
    # |x|, min and + b, the DSP square, + c, sign, + one, then x * g on a DSP multiplier
    lat = 5 + 2 * DMUL_LAT
    u = {"module": module, "node": node.name, "op": node.op, "title": "I-BERT i-GELU (baseline)",
         "c": row_len(graph, node), "lat": lat, **_flow(lat, True), "mul_lat": DMUL_LAT, "x_delay": lat - DMUL_LAT,
         "inputs": inputs, "b": b, "c_int": c_int, "one": one,
         "tdw_out": tdata_bits(ob)}
    u["c"] = row_len(graph, node)
    ports = {"in": inputs, "out": {"name": "y", "tdata": u["tdw_out"], "bits": ob}}
    return UnitView("elementwise.v.j2", u, w, ports)

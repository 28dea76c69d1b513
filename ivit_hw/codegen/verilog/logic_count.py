"""Logic estimate of the Verilog top: flip-flops and LUT4 cells per engine, from the view-models.

A coarse model, calibrated against yosys ``synth_ecp5 -noflatten`` of the 17-bit digits model top
(``ivit-hw synth ... --device ecp5-85k``; docs/hardware.md has the measured tables): a fixed cost per
kind of engine plus the terms that scale with what the plan chooses, the GEMM lanes, the divider stages
of ShiftGELU and the row-divider engines of LayerNorm and softmax (both shrink when the top rate-matches
a unit, :func:`~.units_common.input_interval`). LUT4 counts a carry cell (CCU2C) and a LUT-RAM block
(TRELLIS_DPR16X4) as two LUT4s, as they fill two of a slice's LUT sites; nextpnr's TRELLIS_COMB count
of the same netlist is larger (:data:`COMB_PER_LUT`: its packing), and that is what must fit the part.
The per-kind constants come from that one design: for other widths the estimate is a guide, good for
telling a plan that fits from one that is far over, not for the last few percent.
"""

from __future__ import annotations

from typing import Any

from ...hwplan.parts import Part
from .units_common import UnitView

# (FF, LUT4) per engine kind and per scaling term, fitted to the digits top's yosys stat (2026-12-07: the
# same 17-bit top at budget:156 before the rate matching, 69,200 FF and 69,926 LUT4 as counted here, and
# after it, 43,219 and 49,696; the estimate gives 43,316 and 48,660 for the latter). The register slices
# (:func:`slice_logic`) came after: with them yosys counts 46,417 FF and 51,476 LUT4 on that top, the
# estimate 47,500 and 50,858
GEMM_BASE, GEMM_LANE = (120, 260), (42, 78)
REQUANT = {False: (300, 200), True: (550, 330)}  # without / with the identity (residual) stream
GELU_BASE = (1178, 1422)
NORM_BASE, NORM_ENGINE = (1159, 1059), (185, 235)
SOFTMAX_BASE, SOFTMAX_ENGINE = (648, 897), (102, 216)
OTHER_UNIT = (600, 600)  # the baselines (I-BERT GELU, ...): not in the digits top, a round guess
PER_STREAM = (17, 30)  # the top's own wiring: forks, buffer readers, constant queues, per stream
SLICE_LUT_EXTRA = 2  # LUT4s of a register slice beyond its W-bit select (its load and ready logic)
# nextpnr TRELLIS_COMB per LUT4 counted as here (yosys LUT4 + 2 CCU2C + 2 DPR16X4): the digits top at
# budget:156 81,680 / 69,926 = 1.17 before the rate matching, 59,878 / 49,696 = 1.205 after; the larger
COMB_PER_LUT = 1.205
LOGIC_HEADROOM = 0.8  # a plan fills at most this share of the part's logic cells: the rest is the placer's


def gemm_logic(g: dict[str, Any]) -> tuple[int, int]:
    """(FF, LUT4) of one GEMM engine of ``g["p"]`` lanes (each lane's operand registers on their way to the
    multiplier counted beside the fitted per-lane cost)."""
    operands = g["operand_clocks"] * (g["wa"] + g["wb"])
    return GEMM_BASE[0] + (GEMM_LANE[0] + operands) * g["p"], GEMM_BASE[1] + GEMM_LANE[1] * g["p"]


def _gelu_divider(view: UnitView) -> tuple[int, int]:
    """ShiftGELU's divider: S stages of (numerator and quotient, remainder, divisor, payload, valid)
    registers and one 31-bit compare-subtract each, plus the stage input selects when B > 1."""
    b = view.u["div_b"]
    stages = -(-31 // b)
    side = view.w["x"] + 1 + view.u["we_u"]
    np_ = stages * b
    ff = stages * (np_ + 62 + side + 1)
    lut = stages * (62 + (np_ + 93 if b > 1 else 0))
    return ff, lut


def unit_logic(op: str, view: UnitView) -> tuple[int, int]:
    """(FF, LUT4) of one unit."""
    if op == "requantize":
        return REQUANT[len(view.u["terms"]) > 1]
    if op == "shiftgelu":
        ff, lut = _gelu_divider(view)
        return GELU_BASE[0] + ff, GELU_BASE[1] + lut
    if view.template == "norm_row.v.j2":
        n = view.u["sp_engines"] + view.u["mean_engines"] - 1
        return NORM_BASE[0] + NORM_ENGINE[0] * n, NORM_BASE[1] + NORM_ENGINE[1] * n
    if view.template == "softmax_row.v.j2":
        n = view.u.get("engines", 1)
        return SOFTMAX_BASE[0] + SOFTMAX_ENGINE[0] * n, SOFTMAX_BASE[1] + SOFTMAX_ENGINE[1] * n
    return OTHER_UNIT


def top_logic(streams: int) -> tuple[int, int]:
    """(FF, LUT4) of the top's own wiring between the engines."""
    return PER_STREAM[0] * streams, PER_STREAM[1] * streams


def slice_logic(widths: list[int]) -> tuple[int, int]:
    """(FF, LUT4) of the top's register slices (``ivit_skid``) of the given ``W``s: the output and skid
    registers (2 W), in_ready and out_valid; a 2:1 select per bit and the load logic."""
    return sum(2 * w + 2 for w in widths), sum(w + SLICE_LUT_EXTRA for w in widths)


def logic_limits(part: Part) -> tuple[int, int]:
    """(FF, LUT4) a plan may use on ``part``: :data:`LOGIC_HEADROOM` of its flip-flops, and of its logic
    cells in estimated LUT4s (nextpnr's count is :data:`COMB_PER_LUT` times larger)."""
    return int(part.ff * LOGIC_HEADROOM), int(part.lut * LOGIC_HEADROOM / COMB_PER_LUT)

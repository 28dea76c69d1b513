"""Hard multipliers (MULT18X18D on the ECP5) of the Verilog top's engines, from their operand widths.

Every multiplier of a unit is a ``pmul`` (``_macros.v.j2``), which splits its operands with
:func:`~ivit_hw.hwplan.dsp.dsp_digits`; a GEMM lane is one inferred ``a * b`` product. This module
lists the operand widths of each from the same view-models the templates render and counts them with
:func:`~ivit_hw.hwplan.dsp.dsp_pieces`, so the ``budget:N`` plan binds units and GEMM lanes together.
``tests/codegen/test_top_dsp_count.py`` checks the count against the ``ivit_mul18`` instances of a
rendered top.
"""

from __future__ import annotations

from ...hwplan.dsp import dsp_pieces
from ...ir.graph import Graph, Node
from .gemm import GEMM_OPS, gemm_shape, operand
from .render import BUILDERS, unit_view
from .units_common import UnitView, UnsupportedError


def unit_multipliers(view: UnitView) -> list[tuple[int, int]]:
    """Operand widths ``(wa, wb)`` of every ``pmul`` the unit's template instantiates (the same
    conditions and widths as its ``pmul`` calls)."""
    t, u, w = view.template, view.u, view.w
    if t == "elementwise.v.j2":
        if u["op"] == "requantize":
            return [(term["wmul"], term["wm"]) for term in u["terms"] if not term["fabric"]]
        return [(w["tb"], w["tb"]), (w["x"], w["g"])]  # I-BERT GELU: the square, then x * g
    if t == "softmax_row.v.j2":
        # I-BERT's exp squares its remainder (the ibert_exp macro); every kind but Log-Int-Softmax scales by f
        square = [] if u["exp"] == "shift" else [(u["ie"]["wz"], u["ie"]["wz"])]
        return square + ([] if u["kind"] == "log_int_softmax" else [(w["ev"], w["f"])])
    if t == "norm_row.v.j2":
        return ([] if u["variant"] == "l1" else [(w["y"], w["y"])]) + [(w["y"], w["f"])]
    if t == "shiftgelu.v.j2":
        return [(u["we_u"] + 1, 32), (w["x"], w["g"])]
    raise UnsupportedError(f"{u['node']}: no multiplier count for template {t!r}")


def gemm_lane_widths(graph: Graph, node: Node) -> tuple[int, int]:
    """Operand widths of one GEMM lane's product (the engine's ``wa`` and ``wb``)."""
    s = gemm_shape(graph, node)
    b = node.inputs["weight"] if s["rom"] else s["b"]
    return operand(graph, s["a"])[0], operand(graph, b)[0]


def lane_pieces(graph: Graph, node: Node) -> int:
    """Hard multipliers one lane of ``node`` takes in the Verilog top (0 for layout ops and concat)."""
    if node.op in GEMM_OPS:
        return dsp_pieces(*gemm_lane_widths(graph, node))
    if node.op in BUILDERS:
        return sum(dsp_pieces(wa, wb) for wa, wb in unit_multipliers(unit_view(graph, node)))
    return 0


__all__ = ["gemm_lane_widths", "lane_pieces", "unit_multipliers"]

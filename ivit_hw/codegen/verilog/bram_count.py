"""Block RAMs (DP16KD on the ECP5) of the Verilog top's engines, from the view-models the templates render.

Every memory of the top is placed by the hardware plan's rule (:func:`~ivit_hw.hwplan.memory.top_memory`);
this module lists the memories each unit template and GEMM engine declares (the same conditions and
widths as the templates) and counts the blocks of those the rule puts in block RAM, with the counting
functions of :mod:`ivit_hw.hwplan.memory` the RTL's tiling follows: ``ivit_fifo``'s columns
(:func:`~ivit_hw.hwplan.memory.fifo_blocks`), ``ivit_rom18`` tiles
(:func:`~ivit_hw.hwplan.memory.rom18_blocks`), ``ivit_bram`` tiles and inferred ``ram_style = "block"``
memories (:func:`~ivit_hw.hwplan.memory.dp16kd_tiles`). ``tests/codegen/test_top_bram_count.py`` checks
the count against the instances of rendered tops.
"""

from __future__ import annotations

from typing import Any

from ...hwplan.memory import dp16kd_tiles, fifo_blocks, rom18_blocks, top_memory
from .units_common import UnitView, UnsupportedError

FIFO_FORMS = {  # ivit_fifo instances of each row unit: (width key or fixed width, width offset, aw key or fixed aw)
    "norm_row.v.j2": (("x", 1, "aw_x"), ("xsum", 0, 1), ("mean", 0, "aw_mean"), ("y", 1, "aw_y"), ("vb", 0, 2),
                      ("f", -1, "aw_f")),
    "shiftgelu.v.j2": (("x", 1, "aw_x"), ("x", 0, 1), ("z", 32, 1)),
}


def _fifo(view: UnitView, width: Any, add: int, aw: Any) -> int:
    w = view.u[width] if width == "vb" else view.w[width] if isinstance(width, str) else width
    return fifo_blocks(w + add, view.u[aw] if isinstance(aw, str) else aw)


def _rom(values: list[Any], width: int) -> int:
    """Blocks of a per-channel ROM read by ``rom2``: a DP16KD form only where the plan's rule says bram."""
    if len(values) <= 1 or len(values) > 1024 or top_memory(len(values), width, rom=True) != "bram":
        return 0
    return rom18_blocks(len(values), width)


def unit_blocks(view: UnitView) -> int:
    """DP16KD blocks of one unit (its row FIFOs, output FIFO and per-channel ROMs)."""
    t, u, w = view.template, view.u, view.w
    if t == "elementwise.v.j2":  # the output FIFO of the credit form (data and last flag), per-channel ROMs
        out_bits = u["out_bits"] if u["op"] == "requantize" else w["out"]
        fifo = fifo_blocks(out_bits + 1, u["aw_o"]) if u["credit"] else 0
        if u["op"] != "requantize":
            return fifo
        return fifo + sum(_rom(term["m_values"], term["wm"]) + _rom(term["e_values"], 8) for term in u["terms"])
    if t == "norm_row.v.j2":
        return (sum(_fifo(view, *f) for f in FIFO_FORMS[t]) + _rom(u["bias"], w["bias"])
                + fifo_blocks(w["out"] + 1, u["aw_o"]))
    if t == "shiftgelu.v.j2":
        return sum(_fifo(view, *f) for f in FIFO_FORMS[t]) + fifo_blocks(w["out"] + 1, u["aw_o"])
    if t == "softmax_row.v.j2":
        lis = u["kind"] == "log_int_softmax"
        return (fifo_blocks(w["x"] + 2, u["aw_x"]) + fifo_blocks(w["x"], 2) + fifo_blocks(w["ev"] + 1, u["aw_e"])
                + fifo_blocks(w["esum"], u["aw_s"]) + (0 if lis else fifo_blocks(w["f"] - 1, u["aw_f"]))
                + fifo_blocks(6 if lis else u["tdw_out"] + 1, u["aw_o"]))
    raise UnsupportedError(f"{u['node']}: no block RAM count for template {t!r}")


def _inferred(words: int, width: int, style: str) -> int:
    """Blocks of an inferred memory of ``words`` words the template marks ``ram_style = "block"``."""
    if style != "block":
        return 0
    _, _, cols, tiles = dp16kd_tiles(width, max(1, (words - 1).bit_length()))
    return cols * tiles


def gemm_blocks(g: dict[str, Any]) -> int:
    """DP16KD blocks of one GEMM engine (``gemm_view``): its weight ROM tiles, and the lane and bias
    memories the plan puts in block RAM."""
    n = g["p"] * _inferred(2 ** (g["kbw"] + 1), g["wa"], g["amem_style"])
    if not g["rom"]:
        return n + g["p"] * _inferred(g["n"] * g["kb"], g["wb"], g["bmem_style"])
    n += rom18_blocks(g["n"] * g["kb"], g["p"] * g["wb"]) if g["rom_tiles"] else 0
    return n + (_inferred(g["n"], g["wbias"], g["bias_style"]) if g["bias"] else 0)


def top_blocks(insts: list[dict[str, Any]]) -> int:
    """DP16KD blocks of the top module's own memories: buffered views' copies, fork FIFOs, constant ROMs."""
    n = 0
    for i in insts:
        if i["kind"] == "buffer":
            n += sum(r["bram"]["cols"] * r["bram"]["tiles"] for r in i["readers"] if r["bram"])
        elif i["kind"] == "fork":
            n += sum(fifo_blocks(i["w"] + 1, aw) for aw in i["aws"])
        elif i["kind"] == "const":  # ivit_rom18 tiles where the plan's rule says bram
            n += rom18_blocks(len(i["vals"]), i["w"]) if i["tiles"] else 0
    return n


def bram_tiles(w: int, aw: int) -> dict[str, Any]:
    """DP16KD tiling (``ivit_bram``) of a memory of 2^aw words of w bits (the plan's
    :func:`~ivit_hw.hwplan.memory.dp16kd_tiles`): block shape ``dw`` x 2^``aw``, ``cols`` blocks side by
    side, ``tiles`` rows of them chosen by the address bits above the block's, and ``lo(sig)``: the
    block address from the aw-bit ``sig``."""
    dw, baw, cols, tiles = dp16kd_tiles(w, aw)

    def lo(sig: str) -> str:
        return f"{sig}[{baw - 1}:0]" if aw >= baw else "{" + f"{baw - aw}'d0, {sig}" + "}"
    return {"dw": dw, "aw": baw, "cols": cols, "tiles": tiles, "lo": lo}


__all__ = ["bram_tiles", "gemm_blocks", "top_blocks", "unit_blocks"]

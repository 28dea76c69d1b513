"""View-model of the GEMM engine (``gemm.v.j2``) for ``linear``, ``patch_embed`` and ``matmul`` nodes.

P multiply-accumulates per clock over blocks of P lanes of the summed axis K
(K padded to a whole number of blocks, the lanes past K masked to zero).
Widths come from the stored graph: operands from their declared types, the
accumulator from the output's proven range (the engine keeps partial sums
modulo 2^width, which is exact for a final sum the analysis proves fits).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...hwplan.memory import top_memory
from ...ir.graph import Graph, Node
from .bram_count import bram_tiles
from .units_common import UnsupportedError, rom18_tiles, tdata_bits
from .widths import node_ranges, sbits

GEMM_OPS = ("linear", "patch_embed", "matmul")
MUL_CLOCKS = 2  # ivit_mul18: its input register, then its product register
# fabric registers carrying each operand from its memory to the multiplier: with nearly every MULT18X18D
# of the part in use the placer scatters an engine's multipliers, and one hop from a block RAM to a far
# multiplier was the whole digits top's routed critical path (7.5 ns of routing); two registers let the
# timing-driven placer split the way
OPERAND_CLOCKS = 2
MUL18 = 18  # operand bits of one hard multiplier (MULT18X18D)


def ubits(n: int) -> int:
    """Bits of an unsigned counter reaching ``n`` (at least 1)."""
    return max(1, int(n).bit_length())


def _ext(sig: str, wf: int, wt: int) -> str:
    """``sig`` (wf bits, signed) sign-extended or truncated to wt bits (modulo 2^wt)."""
    if wt == wf:
        return sig
    if wt < wf:
        return f"{sig}[{wt - 1}:0]"
    return "{{" + str(wt - wf) + "{" + sig + "[" + str(wf - 1) + "]}}, " + sig + "}"


def operand(graph: Graph, tensor: str) -> tuple[int, int, bool]:
    """(signed width in the datapath, TDATA bits, signed) of a GEMM operand tensor."""
    dt = graph.tensor(tensor).dtype
    return dt.bits + (0 if dt.signed else 1), tdata_bits(dt.bits), bool(dt.signed)


def _in_expr(port: str, bits: int, signed: bool) -> str:
    return f"{port}_TDATA[{bits - 1}:0]" if signed else "{1'b0, " + f"{port}_TDATA[{bits - 1}:0]" + "}"


def gemm_shape(graph: Graph, node: Node) -> dict[str, Any]:
    """``{k, n, m, rows, rom, transpose_b, a, b}``: the engine's sizes and operand tensors of ``node``."""
    if node.op == "linear":
        w = np.asarray(graph.constants[node.inputs["weight"]])
        n, k = w.shape
        rows = int(np.prod(graph.tensor(node.inputs["x"]).shape)) // k
        return dict(k=k, n=n, m=rows, rows=rows, rom=True, transpose_b=False, a=node.inputs["x"], b=None)
    if node.op == "patch_embed":
        w = np.asarray(graph.constants[node.inputs["weight"]])
        c, h, wd = graph.tensor(node.inputs["x"]).shape
        p = int(node.attrs["patch"])
        rows = (h // p) * (wd // p)
        return dict(k=c * p * p, n=w.shape[0], m=rows, rows=rows, rom=True, transpose_b=False,
                    a=node.inputs["x"], b=None)
    if node.op == "matmul":
        a_shape, b_shape = graph.tensor(node.inputs["a"]).shape, graph.tensor(node.inputs["b"]).shape
        tb = bool(node.attrs["transpose_b"])
        m, k = a_shape[-2], a_shape[-1]
        n = b_shape[-2] if tb else b_shape[-1]
        batch = int(np.prod(a_shape[:-2])) if len(a_shape) > 2 else 1
        return dict(k=k, n=n, m=m, rows=m * batch, rom=False, transpose_b=tb, a=node.inputs["a"],
                    b=node.inputs["b"], batch=batch)
    raise UnsupportedError(f"{node.name}: op {node.op!r} has no GEMM engine (engines exist for {list(GEMM_OPS)})")


def gemm_cycles(graph: Graph, node: Node, par: int) -> int:
    """Clocks per image of ``node``'s engine at ``par`` lanes: rows x N x ceil(K / P)."""
    s = gemm_shape(graph, node)
    return s["rows"] * s["n"] * math.ceil(s["k"] / min(par, s["k"]))


def gemm_view(graph: Graph, node: Node, module: str, par: int) -> dict[str, Any]:
    """The template variables of ``node``'s engine at ``par`` multiply-accumulates per clock."""
    if par < 1:
        raise UnsupportedError(f"{node.name}: parallelism must be a positive integer, got {par}")
    s = gemm_shape(graph, node)
    k, n, m = s["k"], s["n"], s["m"]
    p = min(par, k)
    kb = math.ceil(k / p)
    wacc = sbits(node_ranges(graph, node)["out"])
    wa, tda, a_signed = operand(graph, s["a"])
    g: dict[str, Any] = dict(module=module, node=node.name, op=node.op, k=k, n=n, m=m, p=p, kb=kb, wa=wa, tda=tda,
                             rom=s["rom"], transpose_b=s["transpose_b"], wacc=wacc,
                             tdy=tdata_bits(graph.tensor(node.output).dtype.bits), bias=None,
                             a_expr=_in_expr("a", graph.tensor(s["a"]).dtype.bits, a_signed))
    if s["rom"]:
        w = np.asarray(graph.constants[node.inputs["weight"]], dtype=np.int64).reshape(n, k)
        wt = graph.tensor(node.inputs["weight"]).dtype
        g["wb"] = wb = wt.bits + (0 if wt.signed else 1)
        padded = np.zeros((n, kb * p), dtype=np.int64)
        padded[:, :k] = w
        lanes = padded.reshape(n * kb, p) % (1 << wb)
        shifts = [1 << (wb * lane) for lane in range(p)]
        digits = math.ceil(p * wb / 4)
        words = [sum(int(v) * s_ for v, s_ in zip(row, shifts, strict=True)) for row in lanes]
        g["weights"] = [format(word, f"0{digits}X") for word in words]
        # the same words as DP16KD blocks (IVIT_ECP5): tiles of 1024 words, 18 bits a block, where the
        # plan's rule puts the ROM in block RAM; else a ROM in the fabric (the same two clocks)
        bram = top_memory(len(words), p * wb, rom=True) == "bram"
        g["rom_style"] = "block" if bram else "logic"
        g["rom_tiles"] = rom18_tiles(words, p * wb) if bram else None
        if "bias" in node.inputs:
            bias = np.asarray(graph.constants[node.inputs["bias"]], dtype=np.int64).reshape(-1)
            g["wbias"] = wbias = max(sbits_of(bias), 2)
            g["bias"] = [f"{'-' if v < 0 else ''}{wbias}'sd{abs(int(v))}" for v in bias]
            g["bias_to_acc"] = _ext("s_bias0", wbias, wacc)
    else:
        wb, tdb, b_signed = operand(graph, s["b"])
        g.update(wb=wb, tdb=tdb, b_expr=_in_expr("b", graph.tensor(s["b"]).dtype.bits, b_signed))
    g["wp"] = wp = wa + g["wb"]
    g["last_lanes"] = k - (kb - 1) * p
    g.update(kw=ubits(max(k - 1, kb)), nw=ubits(n - 1), mw=ubits(m - 1), lw=ubits(p - 1),
             kbw=ubits(kb - 1), baw=ubits(n * kb - 1))
    # where each memory lives, by the hardware plan's rule (yosys reads the style attributes)
    g["amem_style"] = ram_style(top_memory(2 ** (g["kbw"] + 1), wa))
    # a lane memory in block RAM is, under IVIT_ECP5, ivit_bram blocks read through their output register
    # (an inferred one is mapped without it: a 5.8 ns clock-to-output into the next register)
    g["amem_bram"] = bram_tiles(wa, g["kbw"] + 1) if g["amem_style"] == "block" else None
    if s["rom"]:
        g["bias_style"] = ram_style(top_memory(n, g.get("wbias", 1), rom=True), rom=True)
    else:
        g["bmem_style"] = ram_style(top_memory(n * kb, g["wb"]))
        g["bmem_bram"] = bram_tiles(g["wb"], g["baw"]) if g["bmem_style"] == "block" else None
    g["tree"] = adder_tree(p, wp, wacc)
    top = g["tree"][-1][0] if g["tree"] else {"name": "p_0", "w": wp}
    g["sum_expr"] = _ext(top["name"], top["w"], wacc)
    g["mul18"] = wa <= MUL18 and g["wb"] <= MUL18
    if g["mul18"]:
        g["a18"] = [_ext(f"m_a{lane}", wa, MUL18) for lane in range(p)]
        g["b18"] = [_ext(f"m_b{lane}", g["wb"], MUL18) for lane in range(p)]
    # issue -> lane reads (2: the weight ROM's or the B memory's output register, the lane operand waiting
    # beside it) -> operand registers (OPERAND_CLOCKS) -> products (MUL_CLOCKS) -> one clock per tree
    # level -> queue
    g["depth"] = 2 + OPERAND_CLOCKS + MUL_CLOCKS + len(g["tree"])
    g["operand_clocks"] = OPERAND_CLOCKS
    g["fd"] = queue_aw(g["depth"])
    g["y_expr"] = _ext("q_out", wacc + 1, g["tdy"]) if g["tdy"] < wacc + 1 else (
        "{{" + str(g["tdy"] - wacc) + "{q_out[" + str(wacc - 1) + "]}}, q_out[" + str(wacc - 1) + ":0]}"
        if g["tdy"] > wacc else f"q_out[{wacc - 1}:0]")
    g["macs"] = s["rows"] * n * k
    g["cycles"] = gemm_cycles(graph, node, par)
    return g


def ram_style(memory: str, rom: bool = False) -> str:
    """The yosys ``ram_style`` of a memory the plan places in ``memory`` (reg, lutram, lutrom or bram):
    ``block``, else ``logic`` for a ROM (yosys maps no ROM to LUT-RAM), ``distributed`` for a RAM."""
    return "block" if memory == "bram" else "logic" if rom else "distributed"


def adder_tree(p: int, wp: int, wacc: int) -> list[list[dict[str, Any]]]:
    """The registered levels of the sum of P products ``p_l`` (``wp`` bits), one level a clock: level
    ``i`` holds ``t{i}_{j}``, the sum of two terms of the level below (an odd one passes on). Each
    level is 1 bit wider than the one below, up to ``wacc`` bits: below the cap a sum is exact, at
    the cap it is kept modulo 2^wacc, which is exact for the final sum (its range is proven). One lane
    still gets one level, a plain register: a multiplier's product routed across the die straight into
    the accumulator's carry chain was the whole digits top's path."""
    if p == 1:
        return [[{"name": "t0_0", "w": wp, "expr": "p_0"}]]
    terms = [(f"p_{lane}", wp) for lane in range(p)]
    levels: list[list[dict[str, Any]]] = []
    while len(terms) > 1:
        i = len(levels)
        w = min(max(t[1] for t in terms) + 1, wacc)
        level = []
        for j in range(0, len(terms), 2):
            pair = terms[j:j + 2]
            expr = " + ".join(_ext(name, wt, w) for name, wt in pair)
            level.append({"name": f"t{i}_{j // 2}", "w": w, "expr": expr})
        levels.append(level)
        terms = [(t["name"], w) for t in level]
    return levels


def queue_aw(depth: int) -> int:
    """Address bits of the output queue behind a ``depth``-clock datapath: a credit is taken at issue
    and given back a clock after the pop (from a register), so the queue must hold more than the loop
    issue -> queue -> pop -> registered pop -> credit (depth + 4 clocks) for one output a clock (at
    least 8 words)."""
    return max(3, ubits(depth + 4))


def sbits_of(values: np.ndarray) -> int:
    """Bits of the narrowest signed signal holding every value of ``values``."""
    lo, hi = int(values.min(initial=0)), int(values.max(initial=0))
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1

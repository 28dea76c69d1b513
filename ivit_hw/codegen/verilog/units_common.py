"""Shared pieces of the unit view-models: stream widths, ShiftExp / I-BERT exp
configurations, FIFO sizes and the number of per-row divider engines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...ir.graph import Graph, Node
from ...ir.types import Interval, IRError
from ...ops.shiftmax import log2e_mul
from .widths import hull, sbits

INT32_MAX = 2**31 - 1
# clocks of the pipelined multiplier `pmul` in _macros.v.j2: fabric partial products / DSP ones (dsp=true)
PMUL_LAT = 3
DMUL_LAT = 4
# stages of the exp pipelines in _macros.v.j2 (shift_exp; ibert_exp with its DSP square)
SHIFT_EXP_LAT = 7
IBERT_EXP_LAT = 6 + DMUL_LAT


class UnsupportedError(IRError):
    """A node the Verilog target cannot render (no unit for its op, or a width the unit does not support)."""


@dataclass
class UnitView:
    """What one unit template receives, plus the facts the manifest and synth report carry."""

    template: str
    u: dict[str, Any]
    w: dict[str, int]
    ports: dict[str, Any] = field(default_factory=dict)


def tdata_bits(bits: int) -> int:
    """AXI4-Stream TDATA is a whole number of bytes (as Vitis HLS rounds it)."""
    return 8 * math.ceil(bits / 8)


def data_width(graph: Graph, node: Node, role: str) -> int:
    """Declared bits of a signed data input; UnsupportedError for unsigned or over-wide ones."""
    spec = graph.tensor(node.inputs[role])
    if not spec.dtype.signed:
        raise UnsupportedError(f"{node.name}: input {role!r} ({spec.name}) is {spec.dtype}; "
                               "the Verilog units take signed inputs only")
    if spec.dtype.bits > 48:
        raise UnsupportedError(f"{node.name}: input {role!r} ({spec.name}) is {spec.dtype}; "
                               "the Verilog units take at most 48-bit inputs")
    return spec.dtype.bits


def out_width(graph: Graph, node: Node) -> int:
    """Declared bits of the node's output tensor."""
    return graph.tensor(node.output).dtype.bits


def row_len(graph: Graph, node: Node, role: str = "x") -> int:
    """Elements per row (the last axis); rows of one element or fewer than two are refused."""
    shape = graph.tensor(node.inputs[role]).shape
    if not shape:
        raise UnsupportedError(f"{node.name}: input {role!r} is a scalar; the units stream rows")
    return int(shape[-1])


def aw_for(words: int) -> int:
    """Address bits of a FIFO holding at least ``words`` words."""
    return max(2, math.ceil(math.log2(max(words, 2))))


def engines_for(clocks: int, row: int) -> int:
    """Row engines taken in turn (``ivit_rrdiv``, the LayerNorm spread engines) so that work of ``clocks``
    clocks per row keeps up with one row every ``row`` clocks (one element per clock)."""
    return max(1, math.ceil(clocks / max(row, 1)))


def input_interval(interval: int, elements: int) -> int:
    """Rate matching in a top: the clocks per element a unit of ``elements`` elements per image may take
    and still keep up with the top's interval (the slowest layer's clocks per image), with an eighth
    spare for its per-row overhead; 1 (one element per clock) for a unit alone."""
    return max(1, (8 * interval) // (9 * max(elements, 1)))


def stage_bits(ii: int, nw: int) -> int:
    """Quotient bits (and clocks) per stage of a divider that takes one division every ``ii`` clocks
    (``ivit_stagediv``; 1 is ``ivit_pipediv``): the fewest stages, their bits balanced."""
    b = max(1, min(ii, nw))
    return -(-nw // -(-nw // b))


def shift_exp_cfg(d: Interval, p: Interval | None, q: Interval | None, r: Interval | None,
                  t: Interval | None, s: Interval | None, e: Interval | None,
                  x0: int, n: int, sat: bool = False) -> dict[str, int]:
    """Widths of the ShiftExp pipeline (``_macros.v.j2``) for arguments in ``d``.

    The IR intervals set the registers; the pipeline's own intermediates (p
    before its clamp, the comparator constants k*x0, x0*q) get the width of
    their exact hull. With ``sat`` (ShiftGELU's exp(-max), whose argument may
    be positive) the comparators cover q in [n-33, n] and anything shifting
    by more than 31 saturates at 2^31-1, as the spec allows for that term.
    """
    klo = n - 33 if sat else 0
    wd = sbits(d)
    pre = Interval(min(log2e_mul(d.lo), n * x0), max(log2e_mul(d.hi), 0))
    wpre = max(sbits(pre), sbits(Interval(n * x0, 0)), wd + 1)
    wcmp = max(sbits(hull(pre, Interval(n * x0, 0), Interval(min(klo * x0, 0), max(klo * x0, 0)))),
               sbits(p) if p else 0)
    wq = max(sbits(Interval(klo - 1, n - klo + 1)), sbits(q) if q else 0)
    qx = Interval(min(n * x0, (klo - 1) * x0), max(n * x0, (klo - 1) * x0))
    qx2 = Interval(min((n + 2) * x0, (klo + 1) * x0, 0), max((n + 2) * x0, (klo + 1) * x0, 0))  # x0*(q+2)
    wqx = max(wcmp, sbits(qx), sbits(qx2)) + 1
    wqx = max(wqx, wq + 1)
    wr = max(sbits(Interval(x0, 0)), sbits(r) if r else 0)
    wt = max(sbits(Interval(0, -2 * x0)), sbits(t) if t else 0)
    ws = max(sbits(Interval(-1, n - klo + 1)), sbits(s) if s else 0, 7 if sat else 0)
    ww = wt + (32 if sat else n)
    we = 32 if sat else sbits(e if e else Interval(0, -x0 << n))
    return dict(x0=x0, n=n, klo=klo, wd=wd, wpre=wpre, wcmp=wcmp, wq=wq, wqx=wqx, wr=wr, wt=wt, ws=ws,
                ww=ww, we=we, sat=sat)


def ibert_exp_cfg(d: Interval, ranges: dict[str, Interval], x0: int, n: int, b: int, c: int) -> dict[str, int]:
    """Widths of the I-BERT exp pipeline for d in ``d``: IR intervals of q, r, z, e plus exact hulls."""
    wd = sbits(d)
    wcmp = max(wd, sbits(Interval(n * x0, 0)))
    wq = n.bit_length() + 1
    wqx = max(wcmp, wq) + 2
    wr = max(sbits(Interval(x0, 0)), sbits(ranges["r"]))
    z = ranges["z"]
    rb = Interval(x0 + 1 + b, b) if b >= 0 else Interval(x0 + 1 + b, max(b, 0))
    wz = max(sbits(z), sbits(Interval(z.lo - c, z.hi - c)), sbits(hull(rb, Interval(x0, 0))),
             sbits(Interval(min(c, 0), max(c, 0))))
    return dict(x0=x0, n=n, b=b, c=c, wd=wd, wcmp=wcmp, wq=wq, wqx=wqx, wr=wr, wz=wz, ww=wz + n,
                we=sbits(ranges["e"]), mul_lat=DMUL_LAT)


def rom_init(values: list[int], w: int) -> list[list[str]] | None:
    """DP16KD contents (:func:`dp16kd_initvals`) of a per-channel ROM the hardware plan puts in block RAM
    (:func:`~ivit_hw.hwplan.memory.top_memory`: more than ROM_LUT_MAX_WORDS words, at most 1024), else
    None: the ROM stays in the fabric, read in the same two clocks."""
    from ...hwplan.memory import top_memory

    if len(values) > 1024 or top_memory(len(values), w, rom=True) != "bram":
        return None
    return dp16kd_initvals(values, w)


def rom18_tiles(values: list[int], w: int) -> list[list[list[str]]]:
    """The INITVALs of a ROM of ``w``-bit ``values`` as ``ivit_rom18`` tiles: one :func:`dp16kd_initvals` per
    1024 words (the ``rom_tiles`` macro of ``_bram.v.j2`` picks the tile by the address bits above 10)."""
    return [dp16kd_initvals(values[t:t + 1024], w) for t in range(0, len(values), 1024)]


def dp16kd_initvals(values: list[int], w: int) -> list[list[str]]:
    """INITVAL_00..3F of the DP16KD blocks (1024 x 18 each, block b holding bits 18b..18b+17) of a
    ROM of ``w``-bit two's-complement ``values``: word i sits at bits 20*(i % 16) .. +17 of
    INITVAL_(i // 16), the packing yosys's ECP5 memory mapping writes. One list of 64 hex strings per block."""
    if len(values) > 1024:
        raise ValueError(f"a DP16KD ROM holds at most 1024 words, got {len(values)}")
    words = [int(v) % (1 << w) for v in values] + [0] * (1024 - len(values))
    blocks = []
    for b in range((w + 17) // 18):
        inits = []
        for row in range(64):
            v = 0
            for i in range(16):
                v |= ((words[16 * row + i] >> (18 * b)) & 0x3FFFF) << (20 * i)
            inits.append(f"320'h{v:080X}")
        blocks.append(inits)
    return blocks

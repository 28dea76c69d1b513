"""Resources of the FPGA parts the hardware plan checks against.

Counts are the vendors' product tables (device totals, not per SLR):

- Zynq UltraScale+ MPSoC (xczu9eg, xczu7ev): AMD DS891 "Zynq UltraScale+ MPSoC Data Sheet:
  Overview", EG/EV device tables (system logic cells, CLB flip-flops, CLB LUTs, block RAM
  blocks of 36 Kb, UltraRAM blocks of 288 Kb, DSP slices).
- Virtex UltraScale+ (xcvu9p): AMD DS890 "UltraScale Architecture and Product Data Sheet:
  Overview", Virtex UltraScale+ table.
- Kria K26 SOM (xck26, the KV260's module): AMD DS987 "Kria K26 SOM Data Sheet", programmable
  logic table.
- Versal AI Core (xcvc1902, the VCK190's device): AMD DS950 "Versal Architecture and Product
  Data Sheet: Overview", AI Core table (DSP58 engines; AI Engines not counted here).
- ECP5 (lfe5u-25f/45f/85f): Lattice FPGA-DS-02012 "ECP5 and ECP5-5G Family Data Sheet",
  Table 1.1 (LUTs, EBR SRAM blocks of 18 kbit, 18x18 multipliers); the 85F and 25F counts
  match /work/shared/HARDWARE-NOTES.md (208 DP16KD and 156 multipliers; 56 and 28).

``bram18`` counts 18 kbit block RAMs: a Xilinx BRAM36 is two, an ECP5 DP16KD is one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UserValueError


class PlanError(UserValueError):
    """A user-facing planning error: bad config, unknown part, a parallelism that does not fit a
    layer, or an overfit design. The message is one line naming the culprit."""


@dataclass(frozen=True)
class Part:
    """Resources of one device: LUTs, flip-flops, hard multipliers (DSP48E2 / DSP58 / MULT18X18D),
    18 kbit block RAMs and 288 kbit UltraRAMs."""

    name: str
    family: str
    lut: int
    ff: int
    dsp: int
    bram18: int
    uram: int


def _xilinx(name: str, family: str, lut: int, ff: int, dsp: int, bram36: int, uram: int) -> Part:
    return Part(name, family, lut, ff, dsp, 2 * bram36, uram)


PARTS: dict[str, Part] = {p.name: p for p in (
    _xilinx("xczu9eg", "zynqmp", 274_080, 548_160, 2_520, 912, 0),
    _xilinx("xczu7ev", "zynqmp", 230_400, 460_800, 1_728, 312, 96),
    _xilinx("xcvu9p", "virtexuplus", 1_182_240, 2_364_480, 6_840, 2_160, 960),
    _xilinx("xck26", "zynqmp", 117_120, 234_240, 1_248, 144, 64),
    _xilinx("xcvc1902", "versal", 899_840, 1_799_680, 1_968, 967, 463),
    Part("lfe5u-25f", "ecp5", 24_288, 24_288, 28, 56, 0),
    Part("lfe5u-45f", "ecp5", 43_848, 43_848, 72, 108, 0),
    Part("lfe5u-85f", "ecp5", 83_640, 83_640, 156, 208, 0),
)}

ALIASES = {"kv260": "xck26", "k26": "xck26", "vck190": "xcvc1902", "ecp5-25k": "lfe5u-25f",
           "ecp5-45k": "lfe5u-45f", "ecp5-85k": "lfe5u-85f", "lfe5um-25f": "lfe5u-25f",
           "lfe5um-45f": "lfe5u-45f", "lfe5um-85f": "lfe5u-85f"}


DEFAULT_PART = "lfe5u-85f"  # the Verilog top's budget:N part
BRAM_HEADROOM = 0.9  # a plan fills at most this share of a part's block RAM: the rest is the router's


def bram_limit(part: Part) -> int:
    """The block RAMs (18 kbit) a plan may use on ``part``: :data:`BRAM_HEADROOM` of them, the rest left
    to the router (an ECP5-85k's 208 DP16KD: 187)."""
    return int(part.bram18 * BRAM_HEADROOM)


def part_key(name: str) -> str | None:
    """The table key of a part string: full Xilinx names (``xczu9eg-ffvb1156-2-e``), Lattice
    ordering codes (``LFE5U-85F-6BG381C``), board aliases (``kv260``, ``vck190``); None if unknown."""
    low = name.strip().lower()
    if low in ALIASES:
        return ALIASES[low]
    if low in PARTS:
        return low
    lattice = re.match(r"(lfe5um?-\d+f)", low)
    if lattice:
        key = lattice.group(1)
        return ALIASES.get(key, key) if ALIASES.get(key, key) in PARTS else None
    head = low.split("-")[0]
    if head in PARTS:
        return head
    for key in PARTS:  # xck26-sfvc784-2lv-c, xcvc1902-vsva2197-2mp-e-s
        if head.startswith(key):
            return key
    return None


def get_part(name: str) -> Part:
    """The resources of part ``name``; PlanError naming it and the known parts when unknown."""
    key = part_key(name) if isinstance(name, str) else None
    if key is None:
        raise PlanError(f"unknown part {name!r}; known: {', '.join(sorted(PARTS))} "
                        f"(and {', '.join(sorted(ALIASES))})")
    return PARTS[key]


__all__ = ["ALIASES", "BRAM_HEADROOM", "DEFAULT_PART", "PARTS", "Part", "PlanError", "bram_limit", "get_part",
           "part_key"]

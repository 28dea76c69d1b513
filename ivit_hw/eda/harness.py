"""The on-chip harness a model or block top is placed and routed in for its Fmax.

A top's AXI-Stream ports (an 8-bit pixel stream in, 16-bit logits out, ...) placed on the package's pins
put its port register slices wherever nextpnr scatters those pins round the die: the whole digits top's
routed critical path became the output slice's valid register beside one pin -> 8.7 ns of routing -> the
same slice's data registers beside others. In a system the top is a core between an on-chip producer
and consumer. The harness (``core_harness.v.j2``) makes them: a shift register with XOR feedback drives
x and y's ready, y and x's ready fold into one register, and only clock, reset and that bit are pins.
"""

from __future__ import annotations

from pathlib import Path

from ..codegen.verilog.render import render_template

HARNESS = "ivit_core_harness"


def write_harness(work: Path, module: str, tdx: int, tdy: int) -> Path:
    """Write ``ivit_core_harness.v`` (around ``module``, x ``tdx`` and y ``tdy`` data bits) into ``work``."""
    path = Path(work) / f"{HARNESS}.v"
    path.write_text(render_template("core_harness.v.j2", harness=HARNESS, module=module, tdx=tdx, tdy=tdy,
                                    sw=tdx + 3), encoding="utf-8")
    return path

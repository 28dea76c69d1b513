"""The RTL step of ``make demo``: the digits model's own units, checked on its real activations.

    python -m ivit_hw.codegen.verilog.demo_step out/demo [--images N] [--sim icarus|verilator]

Renders a unit for every non-linear and requantize node of ``out/demo/model.ivit``
into ``out/demo/rtl``, takes each node's golden case from a traced golden run
on the first test images (real activations, not synthetic stimulus), runs the
cocotb testbench on every unit and adds the verdict to the demo's report
(``report.json`` key ``rtl``, section "RTL units" of ``report.md``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...eda import EdaMissing
from ...frontend.data import load_digits_split
from ...frontend.demo_report import add_to_report
from ...ir.serialize import load_graph
from ...runtime.golden import dump_node_cases
from ..commands import cmd_codegen
from ..targets import read_manifest
from .verify import verify_units

DEMO_IMAGES = 4
TITLE = "RTL units"


def rtl_demo_step(graph_dir: Path, images: np.ndarray, out: Path, sim: str = "icarus",
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Render ``graph_dir``'s units into ``out``, verify them on the traced run of ``images``; a summary."""
    t0 = time.perf_counter()
    graph = load_graph(graph_dir)
    with tempfile.TemporaryDirectory(prefix="ivit_rtl_demo") as tmp:
        cases = Path(tmp) / "cases"
        dump_node_cases(graph, {graph.inputs[0]: np.asarray(images)}, cases)
        cmd_codegen(argparse.Namespace(graph_dir=str(graph_dir), target="verilog", output=str(out), config=None,
                                       nodes=None, cases=str(cases)))
    t1 = time.perf_counter()
    log(f"[demo] RTL: rendered the units into {out}; cocotb on {sim} with the activations of "
        f"{len(images)} test images")
    try:
        rows = verify_units(out, read_manifest(out), sim, progress=lambda line: log(f"[demo] RTL {line}"))
    except EdaMissing as exc:
        return {"simulator": sim, "images": int(len(images)), "error": str(exc), "folder": str(out)}
    failed = [r for r in rows if r["failed"]]
    return {"simulator": sim, "images": int(len(images)), "units": len(rows),
            "passed": sum(r["passed"] for r in rows), "failed": sum(r["failed"] for r in rows),
            "ok": not failed, "failed_units": [f"{r['node']} ({r['op']})" for r in failed],
            "folder": str(out), "render_seconds": round(t1 - t0, 1),
            "simulate_seconds": round(time.perf_counter() - t1, 1)}


def report_paragraph(res: dict[str, Any]) -> str:
    """The "RTL units" section of the demo report."""
    if "error" in res:
        return f"RTL units: not verified ({res['error']})."
    verdict = "**pass**" if res["ok"] else "**FAIL** (" + ", ".join(res["failed_units"]) + ")"
    folder = Path(res["folder"]).name
    return (f"{res['units']} Verilog units for the model's non-linear and requantize nodes (`{folder}/`), each "
            f"checked by the cocotb testbench on {res['simulator']} with the model's real activations (the "
            f"traced golden run on the first {res['images']} test images; random idle cycles, backpressure, a reset "
            f"mid-stream, an unstalled run): {verdict}, {res['passed']} passed, {res['failed']} failed "
            f"(render {res['render_seconds']:.0f} s, simulate {res['simulate_seconds']:.0f} s).")


def run_rtl_demo(demo_dir: str | Path, images: int = DEMO_IMAGES, sim: str = "icarus",
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """The step on ``demo_dir`` (written by ``ivit-hw demo``): units into ``demo_dir/rtl``, the report updated."""
    demo = Path(demo_dir)
    res = rtl_demo_step(demo / "model.ivit", load_digits_split().test_images[:images], demo / "rtl", sim, log)
    add_to_report(demo, "rtl", res, TITLE, report_paragraph(res))
    return res


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the step; 0 when every unit passed."""
    p = argparse.ArgumentParser(prog="python -m ivit_hw.codegen.verilog.demo_step", description=__doc__.split("\n")[0])
    p.add_argument("demo_dir", nargs="?", default="out/demo", help="folder written by 'ivit-hw demo'")
    p.add_argument("--images", type=int, default=DEMO_IMAGES, help=f"test images traced (default {DEMO_IMAGES})")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="icarus", help="simulator (default icarus)")
    args = p.parse_args(argv)
    res = run_rtl_demo(args.demo_dir, args.images, args.sim, log=lambda m: print(m, flush=True))
    if "error" in res:
        print(f"[demo] RTL units not verified: {res['error']}", file=sys.stderr)
        return 1
    print(f"[demo] RTL units of the model on {res['images']} test images' activations ({res['simulator']}): "
          f"{'pass' if res['ok'] else 'FAIL'}, {res['passed']} passed, {res['failed']} failed "
          f"({res['render_seconds'] + res['simulate_seconds']:.0f} s)")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

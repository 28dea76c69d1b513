"""The RTL step of ``make demo``: the digits model's own units, checked on its real activations.

Renders a unit for every non-linear and requantize node of the exported
graph, takes each node's golden case from a traced golden run on test
images (real activations, not synthetic stimulus) and runs the cocotb
testbench on every unit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...ir.graph import Graph
from ...ir.serialize import save_graph
from ...runtime.golden import dump_node_cases
from ...runtime.numpy_exec import run_graph

DEMO_IMAGES = 4


def rtl_demo_step(graph: Graph, images: np.ndarray, out: Path, sim: str = "verilator",
                  log=print) -> dict[str, Any]:
    """Render + verify the graph's units on the traced run of ``images``; a summary for the report."""
    from ...codegen.commands import cmd_codegen, cmd_verify
    from ...eda import EdaMissing

    images = np.asarray(images)[:DEMO_IMAGES]
    result = run_graph(graph, {graph.inputs[0]: images}, trace=True)
    rtl = out / "rtl"
    with tempfile.TemporaryDirectory(prefix="ivit_rtl_demo") as tmp:
        cases = Path(tmp) / "cases"
        dump_node_cases(graph, {graph.inputs[0]: images}, cases, result)
        gdir = Path(tmp) / "graph"
        save_graph(graph, gdir)
        cmd_codegen(argparse.Namespace(graph_dir=str(gdir), target="verilog", output=str(rtl), config=None,
                                       nodes=None, cases=str(cases)))
    log(f"[demo] RTL: rendered units into {rtl}; verifying on {sim} with {len(images)} test images' activations")
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            status = cmd_verify(argparse.Namespace(out_dir=str(rtl), sim=sim, jobs=2))
    except EdaMissing as exc:
        return {"simulator": sim, "error": str(exc)}
    lines = buf.getvalue().strip().splitlines()
    summary = lines[-1] if lines else ""
    passed, failed = (int(s.split()[0]) for s in summary.split(","))
    per_unit = [ln for ln in lines[:-1] if not ln.startswith("  ")]
    log(f"[demo] RTL: {summary}")
    return {"simulator": sim, "images": int(len(images)), "units": len(per_unit), "passed": passed,
            "failed": failed, "ok": status == 0, "folder": str(rtl), "per_unit": per_unit}

"""The HLS step of ``make demo``: the whole digits model as an HLS project, C-simulated with g++
on the full test split, and the verdict added to the demo's report.

    python -m ivit_hw.codegen.hls.demo_step out/demo
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ...frontend.data import load_digits_split
from ...frontend.demo_report import add_to_report
from ...ir.serialize import load_graph
from .options import HlsOptions
from .project import write_project
from .verify import run_csim


def run_hls_demo(demo_dir: str | Path, trace_samples: int = 2) -> dict[str, Any]:
    """Render ``demo_dir/model.ivit`` into ``demo_dir/hls``, run the C-sim on every test image, update the reports."""
    demo = Path(demo_dir)
    t0 = time.perf_counter()
    graph = load_graph(demo / "model.ivit")
    images = load_digits_split().test_images
    out = demo / "hls"
    manifest = write_project(graph, out, HlsOptions(samples=len(images), trace_samples=trace_samples),
                             graph_inputs={graph.inputs[0]: images})
    t1 = time.perf_counter()
    status, text = run_csim(out, echo=False)
    lines = text.strip().splitlines()
    final = lines[-1] if lines else "no output"
    result = {"bit_exact": status == 0, "summary": final, "test_images": int(len(images)),
              "failed_lines": [ln for ln in lines if ln.startswith(("FAIL", "ERROR"))][:20],
              "render_seconds": round(t1 - t0, 2), "build_and_run_seconds": round(time.perf_counter() - t1, 2),
              "project": str(out), "plan": manifest["plan"]}
    verdict = "bit-exact" if result["bit_exact"] else "NOT bit-exact"
    add_to_report(demo, "hls_csim", result, "HLS C-simulation",
                  f"The whole model as a Vitis HLS project (`{out.name}/`), C-simulated with g++ on all "
                  f"{len(images)} test images: **{verdict}** against the golden model ({final}). "
                  f"Hardware plan ({'; '.join(manifest['plan'])}).")
    return result


if __name__ == "__main__":
    res = run_hls_demo(sys.argv[1] if len(sys.argv) > 1 else "out/demo")
    print(f"[demo] HLS C-sim of the whole model on {res['test_images']} test images: "
          f"{'bit-exact' if res['bit_exact'] else 'NOT bit-exact'} ({res['summary']})")
    for line in res["plan"]:
        print(f"[demo] HLS {line}")
    sys.exit(0 if res["bit_exact"] else 1)

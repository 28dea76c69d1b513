"""The streaming HLS top (``dataflow: stream``) of the digits model on the whole 450-image test split:
render, build the C-simulation (sanitizers on, ``-Wall -Wextra -Werror``), run it, and print each
step's wall time next to the array top's (``dataflow: tensor``) from the same run, with the plan
of both. A benchmark, not a test: nothing here is timed against a threshold.

    PYTHONPATH=. .venv/bin/python examples/hls_stream_digits.py [--images 450] [--no-tensor]

Needs torch (the digits model) and g++ with the ap_int headers (make hls-headers).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from ivit_hw.codegen.hls import HlsOptions, render_project
from ivit_hw.codegen.hls.verify import build_csim
from ivit_hw.frontend.data import load_digits_split
from ivit_hw.frontend.synthetic import quick_digits_graph
from ivit_hw.runtime.cpu_info import cpu_summary


def run(graph, images, folder: Path, dataflow: str) -> dict:
    """Render, build and run one project; its times, the verdict line and the plan."""
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    manifest = render_project(graph, folder, HlsOptions(samples=len(images), trace_samples=2, default_par=8,
                                                        dataflow=dataflow),
                              graph_inputs={graph.inputs[0]: images})
    t1 = time.perf_counter()
    exe = build_csim(folder, sanitize=True)
    t2 = time.perf_counter()
    proc = subprocess.run([str(exe), str(folder / "tb" / "data")], capture_output=True, text=True, cwd=folder)
    t3 = time.perf_counter()
    lines = proc.stdout.strip().splitlines()
    wanted = [ln for ln in lines if ln.startswith(("PASS logits", "PASS pred", "FAIL"))]
    return {"render": t1 - t0, "build": t2 - t1, "run": t3 - t2, "status": proc.returncode,
            "verdict": lines[-1] if lines else proc.stderr[-300:], "outputs": wanted, "plan": manifest["plan"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=450)
    ap.add_argument("--no-tensor", action="store_true", help="skip the array top")
    args = ap.parse_args()
    print(cpu_summary(), "(the machine is shared with other jobs: wall times vary with the load)")
    graph = quick_digits_graph()
    images = load_digits_split().test_images[: args.images]
    modes = ["stream"] + ([] if args.no_tensor else ["tensor"])
    with tempfile.TemporaryDirectory() as tmp:
        results = {m: run(graph, images, Path(tmp) / m, m) for m in modes}
    print(f"digits model, {len(images)} test images, parallelism 8, C-sim under the sanitizers")
    print(f"{'dataflow':<10}{'render s':>10}{'build s':>10}{'run s':>10}  verdict")
    for m, r in results.items():
        print(f"{m:<10}{r['render']:>10.1f}{r['build']:>10.1f}{r['run']:>10.1f}  {r['verdict']} (exit {r['status']})")
    for m, r in results.items():
        print(f"-- {m}")
        for ln in r["outputs"] + r["plan"]:
            print("  " + ln)
    print(cpu_summary())


if __name__ == "__main__":
    main()

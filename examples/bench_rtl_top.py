"""Benchmark of the whole-model Verilog top (not a test): the digits model rendered as one top module
(``--top model``) at two parallelism settings, every test image through it on a simulator, bit-exact
against the golden executor, with cycles per image, MAC utilisation and the simulator's wall time.

    .venv/bin/python examples/bench_rtl_top.py [--graph out/demo/model.ivit] [--images 450]
                                               [--par 1 16 budget:156] [--sim verilator] [--stall-images 20]

Without --graph the digits model is trained briefly (needs torch). Needs cocotb and the simulator.
Cycles are simulated clocks (exact, independent of the machine); wall times depend on the load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.codegen.verilog.top_verify import run_top, utilisation
from ivit_hw.frontend.data import load_digits_split
from ivit_hw.runtime.cpu_info import cpu_summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", help="IR folder of the digits model (default: train one briefly)")
    ap.add_argument("--images", type=int, default=450, help="test images (the split has 450)")
    ap.add_argument("--par", nargs="+", default=["1", "16"],
                    help="parallelism settings (as codegen --parallelism: 16, budget:156, ...)")
    ap.add_argument("--sim", default="verilator", choices=("icarus", "verilator"))
    ap.add_argument("--stall", type=float, default=0.3, help="chance of a stalled clock on each side")
    ap.add_argument("--stall-images", type=int, default=None,
                    help="only the first N images run the stalled test (every image runs the unstalled one, "
                         "also checked bit for bit); default: all")
    args = ap.parse_args()
    if args.graph:
        from ivit_hw.ir.serialize import load_graph

        graph = load_graph(args.graph)
    else:
        from ivit_hw.frontend.synthetic import quick_digits_graph

        graph = quick_digits_graph()
    images = load_digits_split().test_images[: args.images].astype(np.int64)
    print(f"machine: {cpu_summary()} "
          "(shared with other jobs: wall times are not quiet ones; cycles are exact)")
    stalled = min(args.stall_images or len(images), len(images))
    print(f"graph {graph.name}: {len(images)} digits test images on {args.sim}: the first {stalled} with random "
          f"stalls {args.stall} on both sides, then all back to back without stalls (timing); every logit checked")
    print("| P | bit-exact | images | latency (cycles) | interval (cycles/image) | slowest layer (cycles) "
          "| multipliers | MAC utilisation | render s | simulate s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="ivit_rtl_top") as tmp:
        for par in args.par:
            out = Path(tmp) / f"p{par.replace(':', '_')}"
            out.mkdir()
            t0 = time.perf_counter()
            man = write_top(graph, out, "model", par, images, 0)
            t1 = time.perf_counter()
            res = run_top(out, man, args.sim, stall=args.stall, stall_images=args.stall_images)
            t2 = time.perf_counter()
            timing = res["timing"] or {}
            util = utilisation(man, timing.get("interval"))
            print(f"| {par} | {'yes' if res['failed'] == 0 else 'NO'} | {res['checked_images']} stalled, "
                  f"{res['unstalled_images']} unstalled "
                  f"| {timing.get('latency')} | {timing.get('interval') or 0:.0f} | {man['predicted_interval']} "
                  f"| {man['multipliers']} | {100 * (util or 0):.1f} % | {t1 - t0:.1f} | {t2 - t1:.1f} |",
                  flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()

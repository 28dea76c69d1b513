"""Golden executor A/B: this checkout's ``run_graph`` against another
checkout's (e.g. main), interleaved in one process on the same graph and image,
so a busy machine slows both alike.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python examples/bench_golden_ab.py \\
        --baseline /work/main --models deit_tiny deit_small

The baseline's ``ivit_hw`` package is copied into a temporary folder under
another name (its imports are relative), the graph is exported here, saved and
loaded by the baseline, and both outputs are checked equal before timing.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images
from ivit_hw.ir.serialize import save_graph
from ivit_hw.runtime import run_graph


def _baseline(checkout: Path, tmp: Path):
    """The baseline checkout's ``ivit_hw`` imported as ``ivit_baseline``."""
    shutil.copytree(checkout / "ivit_hw", tmp / "ivit_baseline")
    sys.path.insert(0, str(tmp))
    return (importlib.import_module("ivit_baseline.runtime").run_graph,
            importlib.import_module("ivit_baseline.ir.serialize").load_graph)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, type=Path, help="a checkout whose ivit_hw/ is the baseline")
    ap.add_argument("--models", nargs="+", default=["deit_tiny", "deit_small"])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run_old, load_old = _baseline(args.baseline, tmp)
        print("| model | baseline golden (s/img) | this golden (s/img) | this/baseline |")
        print("|---|---|---|---|")
        for name in args.models:
            graph = synthetic_graph(name)
            save_graph(graph, tmp / name)
            old_graph = load_old(tmp / name)
            feed = {graph.inputs[0]: synthetic_images(1, 3, 224, seed=1)}
            new_out, old_out = run_graph(graph, feed).outputs, run_old(old_graph, feed).outputs
            if any(not np.array_equal(new_out[k], old_out[k]) for k in new_out):
                raise SystemExit(f"{name}: outputs differ from the baseline")
            t_old, t_new = [], []
            for _ in range(args.repeats):
                t = time.perf_counter()
                run_old(old_graph, feed)
                t_old.append(time.perf_counter() - t)
                t = time.perf_counter()
                run_graph(graph, feed)
                t_new.append(time.perf_counter() - t)
            o, n = statistics.median(t_old), statistics.median(t_new)
            print(f"| {name} | {o:.3f} | {n:.3f} | {n / o:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

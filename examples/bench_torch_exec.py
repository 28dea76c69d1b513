"""Executor speed, side by side in one run: the numpy golden executor, the torch
integer executor (eager, and optionally torch.compile'd) and the same float
model in torch float32 eager, at batch 1 and 8, seconds per 224x224 image.

    .venv/bin/python examples/bench_torch_exec.py --models deit_tiny deit_small --batches 1 8

Random weights (seed 0) and synthetic calibration images: nothing is
downloaded. The torch executor's outputs are checked equal to the golden
executor's on the benchmark batch before anything is timed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from bench_golden import _time  # noqa: E402  (examples/ is on sys.path when run as a script)

from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images
from ivit_hw.runtime.numpy_exec import golden_executor
from ivit_hw.runtime.torch_exec import TorchExecutor


def bench_model(name: str, batches: list[int], repeats: int, compiled: bool) -> list[dict]:
    """One row per batch size: seconds per image of each executor."""
    print(f"[bench] {name}: export (random weights, synthetic calibration)", flush=True)
    graph = synthetic_graph(name)
    torch.manual_seed(0)
    model = create_model(name).eval()  # the same weights synthetic_graph drew
    golden = golden_executor(graph)
    executor = TorchExecutor(graph)
    forward = executor.forward
    if compiled:
        forward = torch.compile(executor.forward, dynamic=False)
    rows = []
    c = model.config
    for batch in batches:
        images = synthetic_images(batch, c.in_chans, c.img_size, seed=1)
        feed = {graph.inputs[0]: images}
        tfeed = {graph.inputs[0]: torch.as_tensor(images)}
        ref = golden.run(feed).outputs
        with torch.no_grad():
            t = time.perf_counter()
            got = forward(tfeed)
            first = time.perf_counter() - t
        for key in ref:
            if not np.array_equal(got[key].numpy(), ref[key]):
                raise SystemExit(f"{name}: torch executor output {key!r} differs from the golden executor")
        print(f"[bench] {name} batch {batch}: outputs equal; first torch call {first:.1f} s", flush=True)
        pixels = torch.as_tensor(images)
        with torch.no_grad():
            row = {
                "model": name, "batch": batch,
                "golden": _time(lambda f=feed: golden.run(f), repeats) / batch,
                "torch_int": _time(lambda f=tfeed: forward(f), repeats) / batch,
                "fp32": _time(lambda p=pixels: model.forward_uint8(p), repeats) / batch,
            }
        rows.append(row)
        print(f"[bench] {row}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["deit_tiny", "deit_small"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="torch.compile the torch executor's forward")
    args = ap.parse_args()
    rows = [r for m in args.models for r in bench_model(m, args.batches, args.repeats, args.compile)]
    label = "torch int (compiled)" if args.compile else "torch int eager"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, median of {args.repeats} runs "
          f"after one warm-up")
    print(f"| model | batch | golden numpy (s/img) | {label} (s/img) | torch fp32 eager (s/img) "
          f"| golden/fp32 | torch int/fp32 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['golden']:.4f} | {r['torch_int']:.4f} | {r['fp32']:.4f} "
              f"| {r['golden'] / r['fp32']:.2f}x | {r['torch_int'] / r['fp32']:.2f}x |")


if __name__ == "__main__":
    main()

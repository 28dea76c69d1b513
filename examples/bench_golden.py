"""Golden-model speed: one 224x224 image through deit_small's integer graph
(numpy golden executor) vs torch float32 eager on the same CPU, same run.

    .venv/bin/python examples/bench_golden.py [--model deit_small] [--repeats 5]

Random weights and synthetic calibration images (nothing is downloaded).
Prints seconds per image for both and their ratio; the figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.qconfig import QuantConfig
from ivit_hw.frontend.twins import QuantViT, calibrate
from ivit_hw.runtime.numpy_exec import run_graph


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="deit_small")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calib", type=int, default=8, help="synthetic calibration images")
    args = ap.parse_args()

    torch.manual_seed(0)
    model = create_model(args.model).eval()
    c = model.config
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (args.calib, c.in_chans, c.img_size, c.img_size), dtype=np.uint8)
    print(f"[bench] {args.model}: calibrating on {args.calib} synthetic images", flush=True)
    qmodel = QuantViT(model, QuantConfig())
    calibrate(qmodel, calib, batch_size=4)
    t = time.perf_counter()
    graph = qmodel.export(args.model)
    print(f"[bench] export + range analysis: {time.perf_counter() - t:.1f} s, {len(graph.nodes)} nodes", flush=True)

    image = calib[:1]
    pixels = torch.as_tensor(image)
    golden_s = _time(lambda: run_graph(graph, {"pixels": image}), args.repeats)
    with torch.no_grad():
        float_s = _time(lambda: model.forward_uint8(pixels), args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}")
    print("| model | golden int (s/img) | torch fp32 eager (s/img) | ratio golden/fp32 |")
    print("|---|---|---|---|")
    print(f"| {args.model} | {golden_s:.3f} | {float_s:.3f} | {golden_s / float_s:.2f}x |")


if __name__ == "__main__":
    main()

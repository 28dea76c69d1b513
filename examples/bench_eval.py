"""Eval batch size vs speed of the numpy golden executor, side by side in one run.

    .venv/bin/python examples/bench_eval.py --models vit_digits deit_tiny --images 32

For each preset (random weights, synthetic calibration and images; nothing is
downloaded) runs the same images through the executor as ``ivit-hw eval``
does (``NumpyBackend``: golden executor plus the clipping observer) with
batch 1, the default of ``evaluate.default_batch`` and 32, and prints seconds
per image and the ratio to batch 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from ivit_hw.frontend.evaluate import NumpyBackend, default_batch
from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images


def seconds_per_image(backend: NumpyBackend, images, batch: int) -> float:
    """Wall time per image over ``images`` in batches of ``batch`` (after one warm-up batch)."""
    backend.predict(images[:batch])
    t = time.perf_counter()
    for i in range(0, len(images), batch):
        backend.predict(images[i : i + batch])
    return (time.perf_counter() - t) / len(images)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["vit_digits", "deit_tiny"], help="presets")
    ap.add_argument("--images", type=int, default=32, help="images per measurement")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"torch threads {torch.get_num_threads()}")
    print("| model | batch | s/img | vs batch 1 |")
    print("|---|---|---|---|")
    for name in args.models:
        graph = synthetic_graph(name)
        c, h, _ = graph.tensor(graph.inputs[0]).shape
        images = synthetic_images(args.images, c, h, seed=1)
        backend = NumpyBackend(graph)
        base = None
        for batch in sorted({1, default_batch(graph), 32}):
            s = seconds_per_image(backend, images, batch)
            base = base or s
            tag = " (default)" if batch == default_batch(graph) else ""
            print(f"| {name} | {batch}{tag} | {s:.4f} | {s / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

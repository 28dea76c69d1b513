"""Golden-model speed: one 224x224 image through deit_small's integer graph
(numpy golden executor) vs torch float32 eager on the same CPU, same run.

    .venv/bin/python examples/bench_golden.py --models deit_tiny deit_small deit_base --plot docs/benchmarks.png

Random weights and synthetic calibration images (nothing is downloaded).
Prints seconds per image for both and their ratio; the figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
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


def bench_model(name: str, repeats: int, n_calib: int) -> tuple[float, float]:
    """(golden seconds per image, torch fp32 eager seconds per image) for one preset."""
    torch.manual_seed(0)
    model = create_model(name).eval()
    c = model.config
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (n_calib, c.in_chans, c.img_size, c.img_size), dtype=np.uint8)
    print(f"[bench] {name}: calibrating on {n_calib} synthetic images", flush=True)
    qmodel = QuantViT(model, QuantConfig())
    calibrate(qmodel, calib, batch_size=4)
    t = time.perf_counter()
    graph = qmodel.export(name)
    print(f"[bench] {name}: export + range analysis {time.perf_counter() - t:.1f} s, {len(graph.nodes)} nodes",
          flush=True)
    image = calib[:1]
    pixels = torch.as_tensor(image)
    golden_s = _time(lambda: run_graph(graph, {"pixels": image}), repeats)
    with torch.no_grad():
        float_s = _time(lambda: model.forward_uint8(pixels), repeats)
    return golden_s, float_s


def plot(rows: list[tuple[str, float, float]], path: str) -> None:
    """Grouped bars of seconds per image, with the ratio written above each pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.bar(x - 0.2, [r[1] * 1e3 for r in rows], 0.4, label="golden integer (numpy)", color="#55a868")
    ax.bar(x + 0.2, [r[2] * 1e3 for r in rows], 0.4, label="torch fp32 eager", color="#4c72b0")
    for i, (_, g, f) in enumerate(rows):
        ax.text(i, g * 1e3 * 1.03, f"{g / f:.1f}x", ha="center", fontsize=9)
    ax.set_xticks(x, [r[0] for r in rows])
    ax.set_ylabel("ms per 224x224 image (CPU)")
    ax.set_title("Golden-model latency vs torch float32, same CPU, same run")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["deit_small"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calib", type=int, default=8, help="synthetic calibration images")
    ap.add_argument("--plot", help="also write a PNG bar chart here")
    args = ap.parse_args()
    rows = [(m, *bench_model(m, args.repeats, args.calib)) for m in args.models]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} (above the core count: the figures are not quiet ones), "
          f"median of {args.repeats} runs after one warm-up")
    print("| model | golden int (s/img) | torch fp32 eager (s/img) | ratio golden/fp32 |")
    print("|---|---|---|---|")
    for name, g, f in rows:
        print(f"| {name} | {g:.3f} | {f:.3f} | {g / f:.2f}x |")
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()

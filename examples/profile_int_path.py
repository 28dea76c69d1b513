"""Where the exact integer torch path spends its time: milliseconds per fused step kind, and the
top torch operators, on a few blocks of a DeiT at one batch size.

    .venv/bin/python examples/profile_int_path.py --model deit_small --depth 2 --batch 8 --threads 2

Random weights, synthetic calibration. The outputs are first checked equal to the numpy golden
executor. Prints the CPU model, its int8/bf16 flags and the load average.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch

from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images
from ivit_hw.runtime import run_graph
from ivit_hw.runtime.cpu_info import cpu_summary
from ivit_hw.runtime.fused.executor import FusedExecutor


def step_times(ex: FusedExecutor, pixels: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median-free sum over ``repeats`` runs of each step kind's wall time, in ms per run."""
    totals: dict[str, float] = defaultdict(float)
    run_step = ex._run_step

    def timed(step, prep, env):
        t0 = time.perf_counter()
        out = run_step(step, prep, env)
        key = step.kind if step.kind != "op" else f"op:{step.nodes[0].op}"
        totals[key] += (time.perf_counter() - t0) * 1e3 / repeats
        return out

    ex._run_step = timed
    name = ex.graph.inputs[0]
    with torch.no_grad():
        for _ in range(repeats):
            ex.forward({name: pixels})
    ex._run_step = run_step
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deit_small")
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--native-only", action="store_true", help="profile only the native path")
    p.add_argument("--ops", type=int, default=15, help="top torch operators to list (0: skip the profiler)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(cpu_summary(), flush=True)
    graph = synthetic_graph(a.model, depth=a.depth)
    pixels = torch.as_tensor(synthetic_images(a.batch, 3, 224, seed=1))
    name = graph.inputs[0]
    ref = run_graph(graph, {name: pixels[:1].numpy()}).outputs
    variants = {"native row kernels, GEMM route per CPU": {"native": True},
                "torch steps, GEMM route per CPU": {"native": False},
                "torch steps, float32 GEMM route": {"native": False, "int8_gemm": False}}
    if a.native_only:
        variants = dict(list(variants.items())[:1])
    for label, options in variants.items():
        ex = FusedExecutor(graph, "cpu", "torch", **options)
        with torch.no_grad():
            out = ex.forward({name: pixels})
        assert all(np.array_equal(out[k][:1].to(torch.int64).numpy(), v) for k, v in ref.items()), label
        times = step_times(ex, pixels, a.repeats)
        total = sum(times.values())
        print(f"{a.model} depth {a.depth} batch {a.batch}, {label}: {total:.1f} ms per run (outputs equal golden)")
        for key, ms in times.items():
            print(f"  {key:22s} {ms:9.1f} ms  {100 * ms / total:5.1f} %")
    if a.ops:
        ex = FusedExecutor(graph, "cpu", "torch", **next(iter(variants.values())))
        with torch.no_grad(), torch.profiler.profile() as prof:
            ex.forward({name: pixels})
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.ops))
    print(cpu_summary())


if __name__ == "__main__":
    main()

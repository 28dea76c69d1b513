"""Where the exact integer torch path spends its time: milliseconds per fused step kind, and the
top torch operators, on a few blocks of a DeiT at one batch size.

    .venv/bin/python examples/profile_int_path.py --model deit_small --depth 2 --batch 8 --threads 2
    .venv/bin/python examples/profile_int_path.py --model deit_tiny --batch 8 --threads 1 --native-only --ops 0

Each step kind gets its wall time and the calling thread's CPU time (``time.thread_time``: with
``--threads 1`` every kernel runs on that thread, so this is the kernel's own time, which a loaded
machine inflates far less than the wall clock), and for GEMMs and attention the multiply-accumulates
per CPU second. ``between steps`` is the forward's time outside the steps (Python, dtype casts).
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


def step_macs(ex: FusedExecutor, step, batch: int) -> int:
    """Multiply-accumulates of a GEMM or attention step at this batch (0 for other steps)."""
    g, i = ex.graph, step.info
    if step.kind == "gemm":
        n, k = g.constants[i["weight"]].shape[0], int(np.prod(g.constants[i["weight"]].shape[1:]))
        return batch * int(np.prod(g.tensor(step.output).shape)) // n * n * k
    if step.kind == "attention":
        h, n, dh = g.tensor(i["q"]).shape
        return batch * 2 * h * n * n * dh
    return 0


def step_times(ex: FusedExecutor, pixels: torch.Tensor, repeats: int) -> dict[str, list[float]]:
    """Per step kind over ``repeats`` runs: [wall ms, thread CPU ms, MACs] per run, sorted by wall time;
    the key ``between steps`` holds the forward's time outside the steps."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    run_step = ex._run_step
    batch = pixels.shape[0]

    def timed(step, prep, env):
        t0, c0 = time.perf_counter(), time.thread_time()
        out = run_step(step, prep, env)
        t1, c1 = time.perf_counter(), time.thread_time()
        key = step.kind if step.kind != "op" else f"op:{step.nodes[0].op}"
        for j, v in enumerate(((t1 - t0) * 1e3, (c1 - c0) * 1e3, step_macs(ex, step, batch))):
            totals[key][j] += v / repeats
        return out

    ex._run_step = timed
    name = ex.graph.inputs[0]
    whole = [0.0, 0.0]
    with torch.no_grad():
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.thread_time()
            ex.forward({name: pixels})
            whole[0] += (time.perf_counter() - t0) * 1e3 / repeats
            whole[1] += (time.thread_time() - c0) * 1e3 / repeats
    ex._run_step = run_step
    totals["between steps"] = [whole[0] - sum(v[0] for v in totals.values()),
                               whole[1] - sum(v[1] for v in totals.values()), 0.0]
    return dict(sorted(totals.items(), key=lambda kv: -kv[1][0]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deit_small")
    p.add_argument("--depth", type=int, default=None, help="blocks (default: all)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--native-only", action="store_true", help="profile only the native path")
    p.add_argument("--ops", type=int, default=15, help="top torch operators to list (0: skip the profiler)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(cpu_summary(), flush=True)
    graph = synthetic_graph(a.model, **({} if a.depth is None else {"depth": a.depth}))
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
        total, cpu = (sum(v[j] for v in times.values()) for j in (0, 1))
        print(f"{a.model} depth {a.depth} batch {a.batch}, {label}: {total:.1f} ms wall, {cpu:.1f} ms CPU of the "
              f"calling thread per run (outputs equal golden)")
        print(f"  {'step':22s} {'wall ms':>9s} {'wall %':>6s} {'CPU ms':>9s} {'CPU %':>6s} {'GMAC/CPU-s':>10s}")
        for key, (ms, cms, macs) in times.items():
            rate = f"{macs / cms / 1e6:10.1f}" if macs and cms > 0 else ""
            print(f"  {key:22s} {ms:9.2f} {100 * ms / total:6.1f} {cms:9.2f} {100 * cms / cpu:6.1f} {rate}")
    if a.ops:
        ex = FusedExecutor(graph, "cpu", "torch", **next(iter(variants.values())))
        with torch.no_grad(), torch.profiler.profile() as prof:
            ex.forward({name: pixels})
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.ops))
    print(cpu_summary())


if __name__ == "__main__":
    main()

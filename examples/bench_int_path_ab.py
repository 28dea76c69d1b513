"""The exact integer torch path before and after issue 18 against fp32 eager, interleaved round by round
in one process (a busy machine slows all three alike), on a DeiT of a chosen depth or a Swin's first stages.

    .venv/bin/python examples/bench_int_path_ab.py --model deit_small --depth 2 --batch 8 --threads 2
    PYTHONPATH=$PWD .venv/bin/python examples/bench_int_path_ab.py --model swin_tiny --depth 1 --batch 8

``int_native`` is the fused path with the native CPU row kernels (GEMM route per CPU, element-wise
chains one threaded pass per row); ``int_torch_steps`` the same steps as torch code (the path before
the native kernels); ``int_torch_int64`` (``--with-int64``) float32 BLAS GEMMs and every requantize
in int64 (the path before issue 18); ``fp32_eager`` the float model with the same random weights.
Every integer path is checked equal to the numpy golden executor first. Prints the CPU model, its
int8/bf16 flags and the load. Beside the wall time each path gets the calling thread's CPU time
(``time.thread_time``): with ``--threads 1`` all the work runs on that thread (torch and the native
pool run inline), so that column is the cost of each path that a loaded machine distorts least.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from gpu_validate.baselines import model_overrides
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images
from ivit_hw.runtime import run_graph
from ivit_hw.runtime.cpu_info import cpu_summary
from ivit_hw.runtime.fused.executor import FusedExecutor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deit_small")
    p.add_argument("--depth", type=int, default=None, help="blocks of a ViT, first stages of a Swin (default: all)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--golden", action="store_true", help="also time the numpy golden executor")
    p.add_argument("--skip-torch-steps", action="store_true", help="do not time the path without native kernels")
    p.add_argument("--with-int64", action="store_true", help="also time the path before issue 18's GEMM routes")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_float32_matmul_precision("highest")
    print(cpu_summary(), flush=True)
    over = model_overrides(a.model, a.depth, None)
    graph = synthetic_graph(a.model, **over)
    torch.manual_seed(0)
    model = create_model(a.model, **over).eval()
    pixels = torch.as_tensor(synthetic_images(a.batch, 3, 224, seed=1))
    name = graph.inputs[0]
    ref = run_graph(graph, {name: pixels[:1].numpy()}).outputs
    x = model.normalize_uint8(pixels)
    runs = {"int_native": FusedExecutor(graph, "cpu", "torch", native=True)}
    if not a.skip_torch_steps:
        runs["int_torch_steps"] = FusedExecutor(graph, "cpu", "torch", native=False)
    if a.with_int64:
        runs["int_torch_int64"] = FusedExecutor(graph, "cpu", "torch", int8_gemm=False, float_requant=False,
                                                native=False)
    fns = {k: (lambda ex=ex: ex.forward({name: pixels})) for k, ex in runs.items()}
    fns["fp32_eager"] = lambda: model(x)
    if a.golden:
        fns["golden_numpy"] = lambda: run_graph(graph, {name: pixels.numpy()})
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    with torch.no_grad():
        for key in runs:
            out = fns[key]()
            assert all(np.array_equal(out[k][:1].to(torch.int64).numpy(), v) for k, v in ref.items()), key
        for f in fns.values():
            f()  # warm-up
        for _ in range(a.rounds):
            for key, f in fns.items():
                t0, c0 = time.perf_counter(), time.thread_time()
                f()
                times[key].append((time.perf_counter() - t0) * 1e3)
                cpu[key].append((time.thread_time() - c0) * 1e3)
    fp32 = statistics.median(times["fp32_eager"])
    cfg = model.config
    blocks = sum(cfg.depths) if hasattr(cfg, "depths") else cfg.depth
    print(f"{a.model}, {blocks} blocks, batch {a.batch}, {a.threads} threads, median of {a.rounds} interleaved rounds "
          f"(integer outputs equal the golden executor's)")
    fp32_cpu = statistics.median(cpu["fp32_eager"])
    print("| path | median wall ms | vs fp32 eager | median CPU ms (calling thread) | vs fp32 eager |\n"
          "|---|---|---|---|---|")
    for key, ts in times.items():
        ms, cms = statistics.median(ts), statistics.median(cpu[key])
        print(f"| {key} | {ms:.1f} | {fp32 / ms:.2f}x | {cms:.1f} | {fp32_cpu / cms:.2f}x |")
    print(cpu_summary())


if __name__ == "__main__":
    main()

"""Exact int8 GEMM routes against float GEMMs at the DeiT shapes, side by side in one run.

    .venv/bin/python examples/bench_int_gemm.py --models deit_tiny deit_small --batches 1 8 --threads 2

For every linear layer shape of the model (rows = batch * 197 tokens), milliseconds per GEMM of:
``int_mm`` (``torch._int_mm``, int8 -> int32: oneDNN's VNNI / AMX kernels where the CPU has them),
``float32`` (the exact float32 route of :mod:`ivit_hw.runtime.int_gemm`: one matmul, or K-chunks
below 2^24 summed in int64), ``float64``, and for reference the plain float GEMMs a float model
runs: fp32 and bf16 (bf16 results are rounded to bf16: NOT an exact route). Each exact route is
first checked equal to numpy's int64 matmul on operands at the bound (every entry -128).
Prints the CPU model, its int8/bf16 flags and the load average.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from ivit_hw.runtime.cpu_info import cpu_summary
from ivit_hw.runtime.int_gemm import choose_route, row_gemm

DIMS = {"deit_tiny": 192, "deit_small": 384, "deit_base": 768}
TOKENS = 197


def shapes(dim: int) -> list[tuple[str, int, int]]:
    """(layer, K, N) of one DeiT block."""
    return [("qkv", dim, 3 * dim), ("proj", dim, dim), ("fc1", dim, 4 * dim), ("fc2", 4 * dim, dim)]


def _ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def routes(m: int, k: int, n: int, seed: int) -> dict:
    """name -> zero-argument callable for one shape; exact routes checked at the bound first."""
    rng = np.random.default_rng(seed)
    a = torch.as_tensor(rng.integers(-128, 128, (m, k)), dtype=torch.int8)
    w = torch.as_tensor(rng.integers(-128, 128, (n, k)), dtype=torch.int8)
    worst_a, worst_w = torch.full((m, k), -128, dtype=torch.int8), torch.full((n, k), -128, dtype=torch.int8)
    ref = worst_a.numpy().astype(np.int64) @ worst_w.numpy().astype(np.int64).T
    cpu = torch.device("cpu")
    out = {}
    for name, prefer in (("int_mm", True), ("float32", False)):
        route, chunk = choose_route(128, 128, k, cpu, int8=True, prefer_int8=prefer)
        g = row_gemm(route, chunk)
        if not np.array_equal(g(worst_a, worst_w).numpy(), ref):
            raise SystemExit(f"route {route} is not exact at K={k}")
        wa = w if route == "int_mm" else w.to(torch.float32)
        out[f"{name} ({route})"] = lambda g=g, wa=wa: g(a, wa)
    g64 = row_gemm("float64", k)
    w64 = w.to(torch.float64)
    out["float64"] = lambda: g64(a, w64)
    af, wf = a.to(torch.float32), w.to(torch.float32).t().contiguous()
    ab, wb = a.to(torch.bfloat16), w.to(torch.bfloat16).t().contiguous()
    out["fp32 matmul (float model)"] = lambda: af @ wf
    out["bf16 matmul (float model, not exact)"] = lambda: ab @ wb
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["deit_tiny", "deit_small"], choices=sorted(DIMS))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(cpu_summary())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {a.repeats} runs (ms per GEMM)")
    for model in a.models:
        for batch in a.batches:
            for layer, k, n in shapes(DIMS[model]):
                m = batch * TOKENS
                res = {name: _ms(fn, a.repeats) for name, fn in routes(m, k, n, m + k + n).items()}
                fp32 = res["fp32 matmul (float model)"]
                cells = "  ".join(f"{name} {ms:8.3f} ({fp32 / ms:4.2f}x)" for name, ms in res.items())
                print(f"{model:10s} b{batch:<3d} {layer:4s} {m}x{k}x{n}:  {cells}", flush=True)
    print(cpu_summary())


if __name__ == "__main__":
    main()

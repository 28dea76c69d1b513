"""The exact int8 GEMM routes at a DeiT's shapes: the native VNNI GEMM (``runtime/native``),
``torch._int_mm`` (oneDNN) and float32 ``torch.mm``, in multiply-accumulates per second of the calling
thread's CPU time (``time.thread_time``, one thread: a loaded machine inflates it far less than the
wall clock), wall-clock figures beside them.

    PYTHONPATH=$PWD .venv/bin/python examples/bench_vnni_gemm.py --model deit_small --batch 8

One AVX512-VNNI ``vpdpbusd`` on 512 bits is 64 int8 multiply-accumulates; the per-core peak is 64 x
(vpdpbusd per clock) x clock. Prints the CPU model, its int8/bf16 flags and the load average.
"""

from __future__ import annotations

import argparse
import time

import torch

from ivit_hw.runtime.cpu_info import cpu_summary
from ivit_hw.runtime.native import load

DIMS = {"deit_tiny": 192, "deit_small": 384, "deit_base": 768}


def timed(f, min_s: float = 0.3) -> tuple[float, float]:
    """(thread CPU seconds, wall seconds) per call of ``f``, over at least ``min_s`` of CPU time."""
    f()
    reps, c0, t0 = 0, time.thread_time(), time.perf_counter()
    while time.thread_time() - c0 < min_s:
        f()
        reps += 1
    return (time.thread_time() - c0) / reps, (time.perf_counter() - t0) / reps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deit_small", choices=sorted(DIMS))
    p.add_argument("--batch", type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(1)
    print(cpu_summary(), flush=True)
    k = load()
    if k is None or not k.vnni:
        raise SystemExit("the native VNNI GEMM is not available on this machine")
    d, m = DIMS[a.model], a.batch * 197
    shapes = {"qkv": (d, 3 * d), "proj": (d, d), "fc1": (d, 4 * d), "fc2": (4 * d, d)}
    print(f"{a.model}, batch {a.batch}: M = {m}; GMAC/s per CPU-second of one thread (wall GMAC/s)")
    print("| layer | M x K x N | native VNNI | torch._int_mm | fp32 mm | VNNI / fp32 |\n|---|---|---|---|---|---|")
    for name, (kk, n) in shapes.items():
        x = torch.randint(-128, 128, (m, kk), dtype=torch.int8)
        w = torch.randint(-128, 128, (n, kk), dtype=torch.int8)
        packed, wt, xf, wf = k.pack_b(w), w.t().contiguous(), x.float(), w.t().float().contiguous()
        want = x.long() @ w.t().long()
        got = k.gemm_vnni(x, packed)[:, :n].long() - 128 * packed.colsum
        assert torch.equal(got, want), name  # exact before it is timed
        macs = m * kk * n
        rates = []
        for f, args in ((k.gemm_vnni, (x, packed)), (torch._int_mm, (x, wt)), (torch.mm, (xf, wf))):
            cpu, wall = timed(lambda f=f, args=args: f(*args))
            rates.append((macs / cpu / 1e9, macs / wall / 1e9))
        cells = " | ".join(f"{c:.1f} ({w:.1f})" for c, w in rates)
        print(f"| {name} | {m} x {kk} x {n} | {cells} | {rates[0][0] / rates[2][0]:.1f}x |")
    print(cpu_summary())


if __name__ == "__main__":
    main()

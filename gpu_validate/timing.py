"""Latency of a callable: CUDA events after warm-up on a GPU, perf_counter on CPU; median of many runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def median_ms(fn: Callable, device: torch.device, warmup: int, runs: int, budget_s: float = 20.0) -> float:
    """Median wall time of ``fn()`` in milliseconds (fewer runs when one run is slow: ``budget_s``)."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            start = time.perf_counter()
            times = []
            for _ in range(runs):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                times.append(a.elapsed_time(b))
                if time.perf_counter() - start > budget_s and len(times) >= 3:
                    break
            return statistics.median(times)
        times = []
        start = time.perf_counter()
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000.0)
            if time.perf_counter() - start > budget_s and len(times) >= 3:
                break
        return statistics.median(times)

"""What this CPU offers for exact integer GEMMs (model name, int8/bf16 instruction flags) and the load.

Pure standard library: read by benchmarks (which print it next to every figure) and by the torch
GEMM route choice (:mod:`ivit_hw.runtime.int_gemm`), which picks int8 dot products only where the
CPU has them.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

#: the instruction-set flags that decide which exact GEMM route is fastest
GEMM_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return model, flags


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; the platform's processor string elsewhere)."""
    return _cpuinfo()[0]


def cpu_flags() -> frozenset[str]:
    """Every instruction-set flag the kernel reports for this CPU (empty where unknown)."""
    return _cpuinfo()[1]


def has_int8_dot() -> bool:
    """Whether the CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX-INT8)."""
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})


def cpu_summary() -> str:
    """One line: model, core count, the GEMM-relevant flags (present / absent) and the load average."""
    flags = cpu_flags()
    marks = " ".join(f"{f}={'yes' if f in flags else 'no'}" for f in GEMM_FLAGS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"CPU: {cpu_model()}, {os.cpu_count()} cores; {marks}; load average {load:.1f}"

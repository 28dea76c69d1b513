"""Exact integer GEMM routes on torch, chosen once per layer from proven bounds and the CPU.

A route computes ``a @ b.T`` (int64 result) for integer ``a`` [M, K] and ``b`` [N, K]:

- ``int_mm``: ``torch._int_mm`` on int8 operands into int32 (exact while the worst-case |sum|
  is below 2^31). On a CPU it runs oneDNN's int8 kernels, which use VNNI / AMX dot products;
  chosen on CPUs that have them (:func:`~ivit_hw.runtime.cpu_info.has_int8_dot`) and on CUDA.
- ``float32``: one float32 BLAS matmul, exact while every |partial sum| stays at most 2^24
  (CPU only: a CUDA float32 matmul may run in TF32).
- ``float32_chunked``: float32 over K-chunks that each stay at most 2^24, the chunks summed in
  int64 (at most :data:`~ivit_hw.ops.xp.MAX_CHUNKS` of them; float64 beyond).
- ``float64`` (below 2^53) and ``int64`` (CPU, below 2^63) beyond that.

bfloat16 would also hold int8 values exactly, but torch's CPU bf16 matmul returns bf16
(rounding the sums), so it is no exact route here; ``examples/bench_int_gemm.py`` times it
for reference only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..ops.xp import FLOAT32_EXACT, FLOAT64_EXACT, float_gemm_route
from .cpu_info import has_int8_dot

INT32_BOUND = 2**31
INT_MM_MIN_ROWS = 17  # torch._int_mm needs M > 16
INT_MM_ALIGN = 8  # ... and K, N multiples of 8
ROUTES = ("int_mm", "float32", "float32_chunked", "float64", "int64")

RowGemm = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def int8_dot_available(device: torch.device) -> bool:
    """Whether int8 dot products beat float BLAS here: CUDA, or a CPU with VNNI / AMX-INT8."""
    if not hasattr(torch, "_int_mm"):
        return False
    return device.type == "cuda" or (device.type == "cpu" and has_int8_dot())


def choose_route(a_max: int, b_max: int, k: int, device: torch.device, int8: bool,
                 prefer_int8: bool | None = None) -> tuple[str, int]:
    """The exact route (and K-chunk length) for |a| <= a_max, |b| <= b_max, inner size k.

    ``int8``: both operands are int8 tensors (values in [-128, 127]). ``prefer_int8`` forces the
    int8 route on or off (None: where :func:`int8_dot_available`). Raises OverflowError when no
    route is exact on this device.
    """
    bound = a_max * b_max * k
    if int8 and bound < INT32_BOUND and hasattr(torch, "_int_mm"):  # CPU flags read only when int8 could run
        if int8_dot_available(device) if prefer_int8 is None else prefer_int8:
            return "int_mm", k
    if device.type != "cpu":  # no float32 (TF32) and no int64 matmul off the CPU
        if bound < FLOAT64_EXACT:
            return "float64", k
        raise OverflowError(f"int_matmul: |sum| may reach {bound}, beyond what {device.type} can sum exactly")
    return float_gemm_route(bound, a_max * b_max, k)  # the float / int64 routes: one rule, in ops.xp


def _pad_int_mm(a: torch.Tensor, b_t: torch.Tensor) -> torch.Tensor:
    """``torch._int_mm(a, b_t.T)`` for int8 a [M, K], b_t [N, K]: K and N padded to multiples of 8 and
    M past 16 rows with zeros (which add nothing), cut off again."""
    m, k = a.shape
    n = b_t.shape[0]
    pad_k, pad_n, pad_m = (-k) % INT_MM_ALIGN, (-n) % INT_MM_ALIGN, max(INT_MM_MIN_ROWS - m, 0)
    if pad_k or pad_m:
        a = F.pad(a, (0, pad_k, 0, pad_m))
    if pad_k or pad_n:
        b_t = F.pad(b_t, (0, pad_k, 0, pad_n))
    out = torch._int_mm(a.contiguous(), b_t.t())
    return out[:m, :n] if pad_m or pad_n else out


ROUTE_DTYPES = {"float32": torch.float32, "float32_chunked": torch.float32, "float64": torch.float64,
                "int64": torch.int64}


def matmul_chunked(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype, chunk: int,
                   out: torch.dtype = torch.int64) -> torch.Tensor:
    """Exact batched ``a @ b`` in ``dtype`` over K-chunks of ``chunk`` summed in ``out`` (one matmul when
    K <= chunk): exact when every chunk's |partial sums| stay in ``dtype``'s exact range (and the total
    in ``out``'s: int64, or float64 below 2^53)."""
    af, bf = a.to(dtype), b.to(dtype)
    k = a.shape[-1]
    if k <= chunk:
        return torch.matmul(af, bf).to(out)
    total = None
    for start in range(0, k, chunk):
        part = torch.matmul(af[..., start:start + chunk], bf[..., start:start + chunk, :]).to(out)
        total = part if total is None else total + part
    return total


def row_gemm(route: str, chunk: int, out: torch.dtype = torch.int64) -> RowGemm:
    """``g(a, b_t) = a @ b_t.T`` in ``out`` (int64, or float64 where the bound is below 2^53) on ``route``
    (a [M, K], b_t [N, K]; int8 tensors for int_mm)."""
    if route == "int_mm":
        return lambda a, b_t: _pad_int_mm(a.to(torch.int8), b_t.to(torch.int8)).to(out)
    dtype = ROUTE_DTYPES[route]
    return lambda a, b_t: matmul_chunked(a, b_t.t(), dtype, chunk, out)


def exact_route_bound(route: str) -> int:
    """The largest worst-case |partial sum| ``route`` keeps exact (for documentation and tests)."""
    return {"int_mm": INT32_BOUND - 1, "float32": FLOAT32_EXACT, "float32_chunked": FLOAT32_EXACT,
            "float64": FLOAT64_EXACT, "int64": 2**63 - 1}[route]

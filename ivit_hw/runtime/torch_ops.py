"""The torch array namespace: :class:`~ivit_hw.ops.xp.ArrayOps` on int64 torch
tensors of one device, so the spec kernels of :mod:`ivit_hw.ops` run on
torch unchanged. Its GEMM runs int8 x int8 products through
``torch._int_mm`` (padded to its shape rules) and every other product as a
float matmul where that is exact. Nothing here synchronises with the host
unless :attr:`TorchOps.checking` is set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..ops.xp import FLOAT32_EXACT, FLOAT64_EXACT, ArrayOps, Gemm, range_max_abs

INT_MM_MIN_ROWS = 17  # torch._int_mm needs M > 16
INT_MM_ALIGN = 8  # ... and K, N multiples of 8
INT32_MAX = 2**31 - 1


def _ceil(v: int, step: int) -> int:
    return -(-v // step) * step


def int8_offset(lo: int, hi: int) -> int | None:
    """An offset c with ``[lo - c, hi - c]`` inside int8 (0 when it already is), or None when none exists."""
    if lo >= -128 and hi <= 127:
        return 0
    if hi - lo <= 255:
        return lo + 128
    return None


class TorchOps(ArrayOps):
    """:class:`ArrayOps` on int64 torch tensors of ``device``."""

    name = "torch"
    int64 = torch.int64

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.checking = False

    def asarray(self, values: Any) -> torch.Tensor:
        if isinstance(values, torch.Tensor):
            return values.to(self.device, torch.int64)
        return torch.as_tensor(np.array(values, dtype=np.int64), device=self.device)

    def where(self, cond, a, b):
        return torch.where(cond, a, b)

    def maximum(self, a, b):
        if isinstance(b, int):
            return torch.clamp(a, min=b)
        return torch.maximum(a, b)

    def minimum(self, a, b):
        if isinstance(b, int):
            return torch.clamp(a, max=b)
        return torch.minimum(a, b)

    def clip(self, x, lo, hi):
        return torch.clamp(x, lo, hi)

    def abs(self, x):
        return torch.abs(x)

    def sign(self, x):
        return torch.sign(x)

    def sum(self, x, axis=-1, keepdims=True):
        return torch.sum(x, dim=axis, keepdim=keepdims)

    def amax(self, x, axis=-1, keepdims=True):
        return torch.amax(x, dim=axis, keepdim=keepdims)

    def argmax(self, x, axis=-1):
        return torch.argmax(x, dim=axis)

    def full_like(self, x, value):
        return torch.full(tuple(x.shape), value, dtype=torch.int64, device=x.device)

    def zeros(self, shape: Sequence[int]):
        return torch.zeros(tuple(shape), dtype=torch.int64, device=self.device)

    def arange(self, lo, hi):
        return torch.arange(lo, hi, dtype=torch.int64, device=self.device)

    def permute(self, x, perm):
        return x.permute(*perm)

    def concat(self, arrays, axis):
        return torch.cat(list(arrays), dim=axis)

    def broadcast_to(self, x, shape):
        return x.expand(*shape)

    def take(self, table, idx):
        return torch.take(table, idx)

    def take_rows(self, table, idx):
        return torch.gather(table, -1, idx)

    def floor_sqrt_guess(self, v):
        return torch.floor(torch.sqrt(v.to(torch.float64))).to(torch.int64)

    def require(self, ok, message):
        if self.checking and not bool(torch.all(ok)):
            raise OverflowError(message)

    def gemm(self, a_range, b_range, k, b_const=None, fast=True):
        offset = int8_offset(*a_range)
        if (b_const is not None and fast and offset is not None and int8_offset(*b_range) == 0
                and k * 128 * 128 <= INT32_MAX):
            return _int_mm_gemm(np.asarray(b_const), offset, self.device)
        return _float_gemm(range_max_abs(a_range) * range_max_abs(b_range) * k, b_const, self.device)


def _int_mm_gemm(b: np.ndarray, offset: int, device: torch.device) -> Gemm:
    """``a @ b`` for a constant int8 [K, N] b via ``torch._int_mm``: a - offset is int8, and
    ``offset * colsum(b)`` is added back in int64. K and N are padded to multiples of 8 and
    M to more than 16 rows (zeros, cut off again)."""
    k, n = b.shape
    kp, np_ = _ceil(k, INT_MM_ALIGN), _ceil(n, INT_MM_ALIGN)
    w = np.zeros((np_, kp), dtype=np.int8)
    w[:n, :k] = b.T
    mat2 = torch.as_tensor(w, device=device).t()  # [Kp, Np], column-major
    corr = torch.as_tensor(offset * b.astype(np.int64).sum(axis=0), device=device) if offset else None

    def gemm(a: torch.Tensor, b_arg: Any = None) -> torch.Tensor:
        lead = a.shape[:-1]
        a2 = a.reshape(-1, k)
        if offset:
            a2 = a2 - offset
        a8 = a2.to(torch.int8)
        m = a8.shape[0]
        pad_rows = max(INT_MM_MIN_ROWS - m, 0)
        if kp != k or pad_rows:
            a8 = F.pad(a8, (0, kp - k, 0, pad_rows))
        out = torch._int_mm(a8.contiguous(), mat2)
        if pad_rows or np_ != n:
            out = out[:m, :n]
        out = out.to(torch.int64)
        if corr is not None:
            out = out + corr
        return out.reshape(*lead, n)

    gemm.path = "int_mm"  # type: ignore[attr-defined]
    return gemm


def _float_gemm(bound: int, b_const: np.ndarray | None, device: torch.device) -> Gemm:
    """``a @ b`` as a float matmul where every partial sum is an exact integer: float32 below
    2^24 on CPU, float64 below 2^53 (always float64 on other devices, where float32 matmuls
    may run in TF32), int64 beyond (CPU only)."""
    if bound < FLOAT32_EXACT and device.type == "cpu":
        dtype, path = torch.float32, "float32"
    elif bound < FLOAT64_EXACT:
        dtype, path = torch.float64, "float64"
    elif bound < 2**63 and device.type == "cpu":
        dtype, path = torch.int64, "int64"
    else:
        raise OverflowError(f"int_matmul: |sum| may reach {bound}, beyond what {device.type} can sum exactly")
    prepared = None if b_const is None else torch.as_tensor(np.asarray(b_const, dtype=np.int64),
                                                             device=device).to(dtype)

    def gemm(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        bb = prepared if b is None else b.to(dtype)
        return torch.matmul(a.to(dtype), bb).to(torch.int64)

    gemm.path = path  # type: ignore[attr-defined]
    return gemm

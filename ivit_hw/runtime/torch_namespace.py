"""The torch array namespace: :class:`~ivit_hw.ops.xp.ArrayOps` on int64 torch
tensors of one device, so the spec kernels of :mod:`ivit_hw.ops` run on
torch unchanged. Its GEMM takes the exact route of :mod:`.int_gemm` chosen from
the operands' proven bounds and the device (int8 ``torch._int_mm`` where the
CPU has VNNI / AMX or on CUDA, float matmuls over exact K-chunks elsewhere). Nothing here synchronises with the host
unless :attr:`TorchOps.checking` is set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..ops.xp import ArrayOps, Gemm, range_max_abs
from .int_gemm import ROUTE_DTYPES, choose_route, matmul_chunked, row_gemm

INT32_MAX = 2**31 - 1


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

    def __init__(self, device: str | torch.device = "cpu", int8_gemm: bool | None = None) -> None:
        self.device = torch.device(device)
        self.checking = False
        #: force the int8 GEMM route on or off (None: where the device has int8 dot products)
        self.int8_gemm = int8_gemm

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

    def to_float64(self, x):
        return x.to(torch.float64)

    def round_float(self, x, rounding):
        return torch.round(x) if rounding == "half_even" else torch.floor(x)

    def require(self, ok, message):
        if self.checking and not bool(torch.all(ok)):
            raise OverflowError(message)

    def gemm(self, a_range, b_range, k, b_const=None, fast=True):
        offset = int8_offset(*a_range)
        int8 = fast and b_const is not None and offset is not None and int8_offset(*b_range) == 0
        a_max = 128 if int8 else range_max_abs(a_range)
        route, chunk = choose_route(a_max, range_max_abs(b_range), k, self.device, int8,
                                    self.int8_gemm if fast else False)
        return _prepared_gemm(route, chunk, b_const, offset if route == "int_mm" else 0, self.device)


def _prepared_gemm(route: str, chunk: int, b_const: np.ndarray | None, offset: int, device: torch.device) -> Gemm:
    """``g(a, b=None) = a @ b`` (int64, batched) on ``route`` (:mod:`.int_gemm`); a constant ``b``
    [K, N] is transposed and cast once. For ``int_mm``, ``a - offset`` is int8 and
    ``offset * colsum(b)`` is added back in int64."""
    rows = row_gemm(route, chunk)
    dtype = torch.int8 if route == "int_mm" else ROUTE_DTYPES[route]
    # a copy (np.array), writable even where the graph's constant is a read-only array whose transpose is
    # already contiguous (torch warns on a non-writable array)
    b_t = None if b_const is None else torch.as_tensor(np.array(np.asarray(b_const, dtype=np.int64).T, order="C"),
                                                       device=device).to(dtype).contiguous()
    corr = None
    if offset and b_const is not None:
        corr = torch.as_tensor(offset * np.asarray(b_const, dtype=np.int64).sum(axis=0), device=device)

    def gemm(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        if b is not None:
            return matmul_chunked(a, b, dtype, chunk)
        lead, k = a.shape[:-1], a.shape[-1]
        a2 = a.reshape(-1, k)
        out = rows(a2 - offset if offset else a2, b_t)
        if corr is not None:
            out = out + corr
        return out.reshape(*lead, out.shape[-1])

    gemm.path = route  # type: ignore[attr-defined]
    return gemm

"""The torch kernels of the fused steps: the spec kernels of :mod:`ivit_hw.ops` composed on the torch
namespace (:class:`~ivit_hw.runtime.torch_namespace.TorchOps`), so each formula lives once, plus the named
fast paths that reformulate a kernel, each proven equal by the tests in ``tests/fused/``:

- :func:`requantize_float`: requantize in float64 where ``ops.requant.float_requantize_ok`` proves it;
- :func:`shiftmax_lut` / :func:`shiftgelu_lut`: ShiftExp tabulated over the proven spread of a row
  (the ops' own table path, with the table built for the device);
- :func:`attn_v_split`: a 16-bit Shiftmax output times int8 v as two int8-range GEMMs;
- :func:`exact_matmul`: the exact float GEMM routes of :mod:`ivit_hw.runtime.int_gemm`.

Every function takes integer torch tensors (any integer dtype) and returns int64 (float64 for
:func:`requantize_float`); attributes (x0, n, shifts known per node) are Python ints.
"""

from __future__ import annotations

import torch

from ... import ops
from ...ops.requant import RequantPlan
from ...ops.requant import float_scale as ops_float_scale
from ...ops.requant import requantize_float as ops_requantize_float
from ...ops.shiftmax import exp_table
from ...ops.tables import ExpTable
from ..int_gemm import ROUTE_DTYPES, choose_route, matmul_chunked
from ..torch_namespace import INT32_MAX, TorchOps

I64 = torch.int64
XP = TorchOps()  # the namespace of the ops.* bodies composed here (they use device-free methods only)


def _int(v) -> int:
    """An attribute as a Python int (a 0-d tensor is read once: these are per-node constants)."""
    return int(v) if isinstance(v, torch.Tensor) else v


def requantize(acc: torch.Tensor, m: torch.Tensor | int, e: torch.Tensor | int, out_bits: int,
               rounding: str = "half_even", identity: torch.Tensor | None = None,
               m_id: torch.Tensor | int | None = None, e_id: torch.Tensor | int | None = None,
               split: bool = False, split_id: bool = False) -> torch.Tensor:
    """:func:`ivit_hw.ops.requantize` (spec section 2) on torch; ``split`` / ``split_id`` select the
    wide-product path (the plan's choice from the proven ranges: when ``|acc| * |m|`` may reach 2^62)."""
    plan = RequantPlan("split" if split else "direct", True, "split" if split_id else "direct", True)
    ident = None if identity is None else identity.to(I64)
    return ops.requantize(acc.to(I64), m, e, out_bits, rounding, ident, m_id, e_id, xp=XP, plan=plan)


def float_scale(m, e, device: torch.device) -> torch.Tensor:
    """:func:`ivit_hw.ops.requant.float_scale` on ``device``."""
    return torch.as_tensor(ops_float_scale(m, e), device=device)


def requantize_float(acc: torch.Tensor, scale: torch.Tensor, out_bits: int, rounding: str = "half_even",
                     identity: torch.Tensor | None = None, scale_id: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`ivit_hw.ops.requant.requantize_float` on torch (float64 result): the fast path the plan
    takes where ``float_requantize_ok`` proves it equal to :func:`requantize`."""
    return ops_requantize_float(acc, scale, out_bits, rounding, identity, scale_id, xp=XP)


def shift_exp(x: torch.Tensor, x0, n: int, saturate: bool = False) -> torch.Tensor:
    """:func:`ivit_hw.ops.shift_exp` (spec section 4) on torch; ``saturate=True`` caps the result at
    2^31 - 1 (ShiftGELU's ``em``, whose argument may be positive)."""
    return ops.shift_exp(x.to(I64), _int(x0), n, INT32_MAX if saturate else None, xp=XP)


def shiftgelu(x: torch.Tensor, x0, n: int = 23, coef: str = "scale") -> torch.Tensor:
    """:func:`ivit_hw.ops.shiftgelu` (spec section 6) on torch."""
    return ops.shiftgelu(x.to(I64), _int(x0), n, coef, xp=XP)


def lut(x0, n: int, span: int, device: torch.device) -> ExpTable:
    """ShiftExp tabulated over [-span, 0] on ``device`` (the table of the two fast paths below)."""
    return exp_table(_int(x0), n, -span, 0, xp=TorchOps(device))


def shiftmax_lut(x: torch.Tensor, x0, n: int, out_bits: int, span: int, table: ExpTable | None = None) -> torch.Tensor:
    """:func:`ivit_hw.ops.shiftmax` (unmasked) for rows whose values span at most ``span`` (e.g. 255 for
    8-bit scores): ShiftExp of d = x - max in [-span, 0] is looked up in ``table`` (:func:`lut`)."""
    table = table if table is not None else lut(x0, n, span, x.device)
    return ops.shiftmax(x.to(I64), _int(x0), n, out_bits, xp=XP, table=table)


def shiftgelu_lut(x: torch.Tensor, x0, n: int, coef: str, span: int, table: ExpTable | None = None) -> torch.Tensor:
    """:func:`shiftgelu` for rows whose z spans at most ``span``: the sigmoid is tabulated per row over
    d = z - max in [-span, 0] (the ops' table path, with ``table`` from :func:`lut`)."""
    table = table if table is not None else lut(x0, n, span, x.device)
    return ops.shiftgelu(x.to(I64), _int(x0), n, coef, xp=XP, table=table)


def ilayernorm(x: torch.Tensor, bias_int: torch.Tensor, iters: int = 10, k0: int = 65536,
               sqrt: str = "iter") -> torch.Tensor:
    """:func:`ivit_hw.ops.ilayernorm` (spec section 7) on torch."""
    return ops.ilayernorm(x.to(I64), bias_int.to(device=x.device, dtype=I64), iters, k0, sqrt, xp=XP)


# ----------------------------------------------------------------------------- exact GEMMs
def exact_matmul(a: torch.Tensor, b: torch.Tensor, a_max: int = 128, b_max: int = 128) -> torch.Tensor:
    """Exact batched ``a @ b`` (int64) for |a| <= a_max, |b| <= b_max: the float route of
    :func:`~ivit_hw.runtime.int_gemm.choose_route` for that bound (float32 over exact K-chunks on CPU,
    float64 on other devices)."""
    route, chunk = choose_route(a_max, b_max, a.shape[-1], a.device, int8=False)
    return matmul_chunked(a, b, ROUTE_DTYPES[route], chunk)


def split16(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split 0 <= y < 2^15 into int8 ``hi`` in [0, 127] and ``lo`` in [-128, 127] with
    ``y = 256*hi + lo + 128``: so ``y @ v = 256*(hi @ v) + lo @ v + 128*sum(v)`` exactly."""
    y = y.to(I64)
    return (y >> 8).to(torch.int8), ((y & 255) - 128).to(torch.int8)


def attn_v_split(y: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Exact ``y @ v`` for a 16-bit Shiftmax output y (>= 0) and int8 v, as two int8-range GEMMs.

    Each partial GEMM's sums stay below 128*128*N (exact routes of :func:`exact_matmul`); the
    column sum of v corrects the offset of lo.
    """
    hi, lo = split16(y)
    vs = v.to(I64).sum(dim=-2, keepdim=True)
    return (exact_matmul(hi, v) << 8) + exact_matmul(lo, v) + 128 * vs

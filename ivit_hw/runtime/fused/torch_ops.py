"""Exact torch formulations of the integer ops (spec ``integer-ops.md``).

Every function takes integer torch tensors (any integer dtype; arithmetic is
int64) plus the op's integer attributes and returns an int64 tensor equal to
the numpy golden kernel of :mod:`ivit_hw.ops`. They are plain tensor code, so
``torch.compile`` fuses a chain of them into one loop, and they run on any
device. Where the GPU formulation differs from the spec text it is stated in
the docstring and proven equal by the tests (tests/runtime/test_fused_torch_ops.py).
"""

from __future__ import annotations

import torch

from ...ops.intmath import _mul_round_shift_split
from ...ops.requant import float_scale as ops_float_scale
from ...ops.requant import requantize_float as ops_requantize_float
from ..int_gemm import ROUTE_DTYPES, choose_route, matmul_chunked
from ..torch_ops import INT32_MAX, TorchOps

I64 = torch.int64
XP = TorchOps()  # the namespace of the ops.* bodies composed here (device-free methods only)


def _i64(x: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device=like.device, dtype=I64)
    return torch.tensor(x, dtype=I64, device=like.device)


def floor_div(a: torch.Tensor, b: torch.Tensor | int) -> torch.Tensor:
    """Exact floor division of int64 tensors (any signs, b != 0)."""
    return torch.div(a, b, rounding_mode="floor")


def round_shift(p: torch.Tensor, s: torch.Tensor | int, rounding: str = "half_even") -> torch.Tensor:
    """Round ``p / 2^s`` (0 <= s <= 62) with the spec's three modes; ``s`` may be per channel."""
    s = _i64(s, p)
    if rounding == "floor":
        return p >> s
    s1 = torch.clamp(s, min=1)
    half = torch.ones_like(s1) << (s1 - 1)
    if rounding == "half_up":
        out = (p + half) >> s1
    else:
        # adding half - 1 + (q & 1) carries into q = p >> s exactly on rem > half, or a tie with q odd
        out = (p + (half - 1) + ((p >> s1) & 1)) >> s1
    return torch.where(s == 0, p, out)


def clamp_bits(y: torch.Tensor, bits: int) -> torch.Tensor:
    """Clamp to the signed ``bits``-bit range."""
    return torch.clamp(y, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def requantize(acc: torch.Tensor, m: torch.Tensor | int, e: torch.Tensor | int, out_bits: int,
               rounding: str = "half_even", identity: torch.Tensor | None = None,
               m_id: torch.Tensor | int | None = None, e_id: torch.Tensor | int | None = None,
               split: bool = False, split_id: bool = False) -> torch.Tensor:
    """Spec section 2. ``split`` / ``split_id`` select the wide-product path (chosen by the plan
    from the proven ranges: needed when ``|acc| * |m|`` may reach 2^63)."""
    acc = acc.to(I64)
    m, e = _i64(m, acc), _i64(e, acc)
    y = _mul_round_shift_split(acc, m, e, rounding) if split else round_shift(acc * m, e, rounding)
    if identity is not None:
        ident = identity.to(I64)
        mi, ei = _i64(m_id, acc), _i64(e_id, acc)
        y = y + (_mul_round_shift_split(ident, mi, ei, rounding) if split_id
                 else round_shift(ident * mi, ei, rounding))
    return clamp_bits(y, out_bits)


def float_scale(m, e, device: torch.device) -> torch.Tensor:
    """:func:`ivit_hw.ops.requant.float_scale` on ``device``."""
    return torch.as_tensor(ops_float_scale(m, e), device=device)


def requantize_float(acc: torch.Tensor, scale: torch.Tensor, out_bits: int, rounding: str = "half_even",
                     identity: torch.Tensor | None = None, scale_id: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`ivit_hw.ops.requant.requantize_float` on torch (float64 result): the fast path the plan
    takes where ``float_requantize_ok`` proves it equal to :func:`requantize`."""
    return ops_requantize_float(acc, scale, out_bits, rounding, identity, scale_id, xp=XP)


def shift_exp(x: torch.Tensor, x0: int, n: int, saturate: bool = False) -> torch.Tensor:
    """Spec section 4. ``saturate=True`` caps the result at 2^31 - 1 without ever forming a shift
    past 31 bits (ShiftGELU's ``em``, whose argument may be positive): equal to
    ``min(shift_exp(x), 2^31 - 1)`` because t > 0 and ``t << s > 2^31 - 1`` iff
    ``s >= 31`` or ``t > (2^31 - 1) >> s``."""
    x = x.to(I64)
    p = torch.clamp(x + (x >> 1) - (x >> 4), min=n * x0)
    q = floor_div(p, x0)
    r = p - x0 * q
    t = r - 2 * x0
    s = n - q - 1
    if saturate:
        s_left = torch.clamp(s, 0, 31)
        over = (s >= 31) | (t > (INT32_MAX >> s_left))
        e = torch.where(s >= 0, torch.where(over, INT32_MAX, t << s_left), t >> torch.clamp(-s, min=0))
    else:
        e = torch.where(s >= 0, t << torch.clamp(s, min=0), t >> torch.clamp(-s, min=0))
    return torch.clamp(e, min=0)


def shiftgelu(x: torch.Tensor, x0: int, n: int = 23, coef: str = "scale") -> torch.Tensor:
    """Spec section 6 over the last axis, with ``em`` saturated at 2^31 - 1 (the spec allows it)."""
    x = x.to(I64)
    z = x if coef == "scale" else x + (x >> 1) + (x >> 3) + (x >> 4)
    m = z.amax(dim=-1, keepdim=True)
    em = shift_exp(-m, x0, n, saturate=True)
    e = shift_exp(z - m, x0, n)
    total = torch.clamp(e + em, max=INT32_MAX)
    g = (e * (INT32_MAX // total)) >> 24
    return x * g


def shiftmax_lut(x: torch.Tensor, x0, n: int, out_bits: int, span: int) -> torch.Tensor:
    """The spec's Shiftmax (:func:`ivit_hw.ops.shiftmax`, unmasked) over the last axis, for rows whose
    values span at most ``span`` (e.g. 255 for 8-bit scores): ``e = shift_exp(d)`` depends on
    d = x - max in [-span, 0] only, so it is tabulated once and looked up (the same formula evaluated
    on every possible d: exact by construction)."""
    x = x.to(I64)
    table = shift_exp(torch.arange(-span, 1, device=x.device, dtype=I64), x0, n)
    e = table[x - x.amax(dim=-1, keepdim=True) + span]
    total = torch.clamp(e.sum(dim=-1, keepdim=True), 1, INT32_MAX)
    return (e * (INT32_MAX // total)) >> (32 - out_bits)


def shiftgelu_lut(x: torch.Tensor, x0, n: int, coef: str, span: int) -> torch.Tensor:
    """:func:`shiftgelu` for rows whose z spans at most ``span``: the sigmoid g depends only on the row
    (through em) and on d = z - max in [-span, 0], so it is tabulated per row and gathered."""
    x = x.to(I64)
    z = x if coef == "scale" else x + (x >> 1) + (x >> 3) + (x >> 4)
    m = z.amax(dim=-1, keepdim=True)
    em = shift_exp(-m, x0, n, saturate=True)
    e_tab = shift_exp(torch.arange(-span, 1, device=x.device, dtype=I64), x0, n)[None, :]
    g_tab = (e_tab * (INT32_MAX // torch.clamp(e_tab + em.reshape(-1, 1), max=INT32_MAX))) >> 24
    d = (z - m + span).reshape(-1, z.shape[-1])
    return x * torch.gather(g_tab, 1, d).reshape(x.shape)


def div_round_half_even(num: torch.Tensor, den: int) -> torch.Tensor:
    """Exact ``round_half_even(num / den)`` for a positive integer ``den``."""
    q = floor_div(num, den)
    twice = 2 * (num - q * den)
    return q + ((twice > den) | ((twice == den) & ((q & 1) == 1))).to(I64)


def isqrt_iter(v: torch.Tensor, iters: int = 10, k0: int = 65536) -> torch.Tensor:
    """The fixed integer Newton iteration ``k = (k + v//k) // 2`` from ``k0`` (v >= 0, so // is floor)."""
    k = torch.full_like(v, k0)
    for _ in range(iters):
        k = (k + v // k) // 2
    return k


def isqrt_exact(v: torch.Tensor) -> torch.Tensor:
    """``max(floor(sqrt(v)), 1)`` exactly: a float64 guess fixed by integer comparisons."""
    k = torch.sqrt(v.to(torch.float64)).floor().to(I64)
    for _ in range(2):
        k = torch.where(k * k > v, k - 1, k)
        k = torch.where((k + 1) * (k + 1) <= v, k + 1, k)
    return torch.clamp(k, min=1)


def ilayernorm(x: torch.Tensor, bias_int: torch.Tensor, iters: int = 10, k0: int = 65536,
               sqrt: str = "iter") -> torch.Tensor:
    """Spec section 7 over the last axis (``sqrt="exact"``: the I-BERT square root)."""
    x = x.to(I64)
    y = x - div_round_half_even(x.sum(dim=-1, keepdim=True), x.shape[-1])
    v = (y * y).sum(dim=-1, keepdim=True)
    k = isqrt_iter(v, iters, k0) if sqrt == "iter" else isqrt_exact(v)
    z = (y * (INT32_MAX // k)) >> 1
    return z + bias_int.to(device=x.device, dtype=I64)


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

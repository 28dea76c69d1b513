"""Triton kernels of the integer ViT, each fused with its requantize, bit-exact.

- :func:`gemm_requant`: int8 x int8 ``tl.dot`` into int32, bias, requantize
  (per-channel m, e; optional residual identity term), clamp, store int8/int16.
- :func:`attention`: per (batch, head, query block): scores ``q @ k^T`` with
  int8 ``tl.dot``, their requantize, Shiftmax, then ``attn @ v`` and its
  requantize. A 16-bit Shiftmax output y is not an int8 operand, so it is
  split exactly as ``y = 256*hi + lo + 128`` (hi in [0, 127], lo in [-128, 127]):
  ``y @ v = 256*(hi @ v) + lo @ v + 128*sum(v)``, two int8 GEMMs and a column
  sum. With ``out_bits <= 8`` (the all-8-bit configuration) y is one int8 operand.
- :func:`layernorm_requant`: I-LayerNorm (10-step Newton) and its requantize.
- :func:`gelu_requant`: ShiftGELU (``em`` saturated at 2^31 - 1) and its requantize.

The element-wise chains are int64, except Shiftmax's, which is int32 when
``2*|x0| * 2^(n-1) < 2^31`` (then no intermediate can leave int32; its row sum
stays int64). Integer division in Triton truncates toward zero: every
division here has a non-negative quotient or goes through :func:`_floor_div`.
Importing this module needs triton; with ``TRITON_INTERPRET=1`` it runs on
CPU tensors (slowly), which is how CI checks it.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

INT32_MAX = 2**31 - 1
_I32MAX = tl.constexpr(INT32_MAX)
ROUNDING_CODE = {"half_even": 0, "half_up": 1, "floor": 2}
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


def _pow2(n: int, lo: int = 16) -> int:
    return max(lo, triton.next_power_of_2(n))


# ----------------------------------------------------------------------------- device helpers
@triton.jit
def _floor_div(a, b):
    """Floor division for any signs (Triton's // truncates)."""
    q = a // b
    r = a - q * b
    return tl.where((r != 0) & ((r < 0) != (b < 0)), q - 1, q)


@triton.jit
def _round_shift(p, s, ROUNDING: tl.constexpr):
    """Round p / 2^s (s >= 0), spec section 0; p, s int64."""
    if ROUNDING == 2:
        out = p >> s
    else:
        s1 = tl.maximum(s, 1)
        half = (s1 * 0 + 1) << (s1 - 1)
        if ROUNDING == 1:
            out = (p + half) >> s1
        else:
            out = (p + (half - 1) + ((p >> s1) & 1)) >> s1
        out = tl.where(s == 0, p, out)
    return out


@triton.jit
def _mul_round_shift(a, m, e, ROUNDING: tl.constexpr, SPLIT: tl.constexpr):
    """round(a*m / 2^e); SPLIT: the 2^16-split product for |a*m| beyond int64 (e > 16)."""
    if SPLIT:
        mh = m >> 16
        low = a * (m & 65535)
        big = a * mh + (low >> 16)
        r = low & 65535
        s = e - 16
        q = big >> s
        if ROUNDING == 2:
            y = q
        else:
            dropped = big - (q << s)
            half = (s * 0 + 1) << (s - 1)
            tie = (dropped == half) & (r == 0)
            above = (dropped > half) | ((dropped == half) & (r > 0))
            if ROUNDING == 1:
                y = q + (above | tie).to(tl.int64)
            else:
                y = q + (above | (tie & ((q & 1) == 1))).to(tl.int64)
    else:
        y = _round_shift(a * m, e, ROUNDING)
    return y


@triton.jit
def _shift_exp(x, X0, N: tl.constexpr):
    """ShiftExp of x <= 0 (so every quotient is >= 0 and // is floor); x's dtype is kept."""
    p = tl.maximum(x + (x >> 1) - (x >> 4), N * X0)
    q = p // X0
    t = p - X0 * q - 2 * X0
    s = N - q - 1
    e = tl.where(s >= 0, t << tl.maximum(s, 0), t >> tl.maximum(-s, 0))
    return tl.maximum(e, 0)


# ----------------------------------------------------------------------------- GEMM + requantize
def _gemm_configs() -> list:
    if INTERPRET:
        return [triton.Config({"BLOCK_M": 256, "BLOCK_N": 256, "BLOCK_K": 256}, num_warps=4)]
    return [
        triton.Config({"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64}, num_warps=8, num_stages=3),
        triton.Config({"BLOCK_M": 128, "BLOCK_N": 64, "BLOCK_K": 64}, num_warps=4, num_stages=4),
        triton.Config({"BLOCK_M": 64, "BLOCK_N": 128, "BLOCK_K": 64}, num_warps=4, num_stages=4),
        triton.Config({"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 64}, num_warps=4, num_stages=3),
        triton.Config({"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64}, num_warps=8, num_stages=3),
    ]


@triton.autotune(configs=_gemm_configs(), key=["M", "N", "K"])
@triton.jit
def _gemm_requant_kernel(x_ptr, w_ptr, b_ptr, m_ptr, e_ptr, id_ptr, mid_ptr, eid_ptr, out_ptr,
                         M, N, K, sxm, swn, sim, som, M_STRIDE, ID_STRIDE,
                         OUT_LO: tl.constexpr, OUT_HI: tl.constexpr, ROUNDING: tl.constexpr,
                         SPLIT: tl.constexpr, SPLIT_ID: tl.constexpr, HAS_BIAS: tl.constexpr,
                         HAS_ID: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                         BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + rk
        a = tl.load(x_ptr + rm[:, None] * sxm + kk[None, :], mask=(rm[:, None] < M) & (kk[None, :] < K), other=0)
        b = tl.load(w_ptr + rn[None, :] * swn + kk[:, None], mask=(rn[None, :] < N) & (kk[:, None] < K), other=0)
        acc = tl.dot(a, b, acc, out_dtype=tl.int32)
    nmask = rn < N
    acc64 = acc.to(tl.int64)
    if HAS_BIAS:
        acc64 += tl.load(b_ptr + rn, mask=nmask, other=0).to(tl.int64)[None, :]
    m = tl.load(m_ptr + rn * M_STRIDE, mask=nmask, other=0).to(tl.int64)[None, :]
    e = tl.load(e_ptr + rn * M_STRIDE, mask=nmask, other=20).to(tl.int64)[None, :]
    y = _mul_round_shift(acc64, m, e, ROUNDING, SPLIT)
    omask = (rm[:, None] < M) & nmask[None, :]
    if HAS_ID:
        ident = tl.load(id_ptr + rm[:, None] * sim + rn[None, :], mask=omask, other=0).to(tl.int64)
        mi = tl.load(mid_ptr + rn * ID_STRIDE, mask=nmask, other=0).to(tl.int64)[None, :]
        ei = tl.load(eid_ptr + rn * ID_STRIDE, mask=nmask, other=20).to(tl.int64)[None, :]
        y += _mul_round_shift(ident, mi, ei, ROUNDING, SPLIT_ID)
    y = tl.minimum(tl.maximum(y, OUT_LO), OUT_HI)
    tl.store(out_ptr + rm[:, None] * som + rn[None, :], y.to(out_ptr.dtype.element_ty), mask=omask)


def out_dtype(bits: int) -> torch.dtype:
    """The narrowest signed torch dtype for a ``bits``-bit output."""
    return torch.int8 if bits <= 8 else torch.int16 if bits <= 16 else torch.int32 if bits <= 32 else torch.int64


def _vec(t: torch.Tensor | int, device: torch.device) -> tuple[torch.Tensor, int]:
    """A (per-channel or scalar) constant as a contiguous int64 vector and its stride (0 = scalar)."""
    v = torch.as_tensor(t, dtype=torch.int64, device=device).reshape(-1).contiguous()
    return v, (1 if v.numel() > 1 else 0)


def gemm_requant(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, m, e, out_bits: int,
                 rounding: str = "half_even", identity: torch.Tensor | None = None, m_id=None, e_id=None,
                 split: bool = False, split_id: bool = False) -> torch.Tensor:
    """``requantize(x @ w.T + bias [, identity])`` for int8 x [M, K] and int8 w [N, K] -> [M, N]."""
    mm, k = x.shape
    n = w.shape[0]
    x = x.contiguous()
    w = w.contiguous()
    out = torch.empty((mm, n), dtype=out_dtype(out_bits), device=x.device)
    mv, ms = _vec(m, x.device)
    ev, _ = _vec(e, x.device)
    if identity is not None:
        identity = identity.contiguous()
        miv, mis = _vec(m_id, x.device)
        eiv, _ = _vec(e_id, x.device)
    else:
        identity, miv, eiv, mis = mv, mv, ev, 0
    b = bias if bias is not None else mv

    def grid(meta):
        return (triton.cdiv(mm, meta["BLOCK_M"]), triton.cdiv(n, meta["BLOCK_N"]))

    _gemm_requant_kernel[grid](
        x, w, b, mv, ev, identity, miv, eiv, out, mm, n, k, x.stride(0), w.stride(0),
        identity.stride(0) if identity.ndim == 2 else 0, out.stride(0), ms, mis,
        OUT_LO=-(2 ** (out_bits - 1)), OUT_HI=2 ** (out_bits - 1) - 1, ROUNDING=ROUNDING_CODE[rounding],
        SPLIT=split, SPLIT_ID=split_id, HAS_BIAS=bias is not None, HAS_ID=miv is not mv)
    return out


# ----------------------------------------------------------------------------- integer attention
@triton.jit
def _attention_kernel(q_ptr, k_ptr, v_ptr, mask_ptr, par_ptr, out_ptr, H, L, D,
                      sqb, sqh, sqn, skb, skh, skn, svb, svh, svn, smb, smh, smn, sob, soh, son,
                      S_LO: tl.constexpr, S_HI: tl.constexpr, NSHIFT: tl.constexpr, OUT_BITS: tl.constexpr,
                      O_LO: tl.constexpr, O_HI: tl.constexpr,
                      ROUNDING: tl.constexpr, WIDE: tl.constexpr, HAS_MASK: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    pid_bh = tl.program_id(0)
    b = pid_bh // H
    h = pid_bh % H
    rm = tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    rd = tl.arange(0, BLOCK_D)
    dmask = rd < D
    q = tl.load(q_ptr + b * sqb + h * sqh + rm[:, None] * sqn + rd[None, :],
                mask=(rm[:, None] < L) & dmask[None, :], other=0)
    kt = tl.load(k_ptr + b * skb + h * skh + rn[None, :] * skn + rd[:, None],
                 mask=(rn[None, :] < L) & dmask[:, None], other=0)
    v = tl.load(v_ptr + b * svb + h * svh + rn[:, None] * svn + rd[None, :],
                mask=(rn[:, None] < L) & dmask[None, :], other=0)
    # per-layer integers, loaded (not constexpr) so one compiled kernel serves every layer
    sm = tl.load(par_ptr)
    se = tl.load(par_ptr + 1)
    x0 = tl.load(par_ptr + 2)
    om = tl.load(par_ptr + 3)
    oe = tl.load(par_ptr + 4)
    acc = tl.dot(q, kt, out_dtype=tl.int32).to(tl.int64)
    # scores requantize (scalar m, e) -> 8-bit scores
    sc = tl.minimum(tl.maximum(_round_shift(acc * sm, se, ROUNDING), S_LO), S_HI)
    keep = (rn[None, :] < L) & (rm[:, None] >= 0)
    if HAS_MASK:
        mk = tl.load(mask_ptr + b * smb + h * smh + rm[:, None] * smn + rn[None, :],
                     mask=(rm[:, None] < L) & (rn[None, :] < L), other=0)
        keep = keep & (mk != 0)
    row_max = tl.max(tl.where(keep, sc, S_LO - 1), axis=1)
    row_max = tl.where(row_max == S_LO - 1, 0, row_max)
    d = tl.where(keep, sc - row_max[:, None], 0)
    if WIDE:
        e = _shift_exp(d, x0, NSHIFT)
    else:
        e = _shift_exp(d.to(tl.int32), x0.to(tl.int32), NSHIFT)
    e = tl.where(keep, e, 0)
    total = tl.minimum(tl.maximum(tl.sum(e.to(tl.int64), axis=1), 1), _I32MAX)
    f = ((total * 0 + _I32MAX) // total).to(e.dtype)
    y = (e * f[:, None]) >> (32 - OUT_BITS)  # e*f <= 2^31 - 1: fits either width
    if OUT_BITS <= 8:
        o = tl.dot(y.to(tl.int8), v, out_dtype=tl.int32).to(tl.int64)
    else:
        hi = (y >> 8).to(tl.int8)
        lo = ((y & 255) - 128).to(tl.int8)
        vsum = tl.sum(v.to(tl.int64), axis=0)
        o = (tl.dot(hi, v, out_dtype=tl.int32).to(tl.int64) << 8) + tl.dot(lo, v, out_dtype=tl.int32).to(tl.int64)
        o += 128 * vsum[None, :]
    res = tl.minimum(tl.maximum(_round_shift(o * om, oe, ROUNDING), O_LO), O_HI)
    tl.store(out_ptr + b * sob + h * soh + rm[:, None] * son + rd[None, :], res.to(out_ptr.dtype.element_ty),
             mask=(rm[:, None] < L) & dmask[None, :])


def attention_params(scores_m: int, scores_e: int, x0: int, out_m: int, out_e: int,
                     device: torch.device) -> torch.Tensor:
    """The per-layer integers of :func:`attention` as the int64 device tensor its kernel reads."""
    return torch.tensor([scores_m, scores_e, x0, out_m, out_e], dtype=torch.int64, device=device)


def gelu_params(m: int, e: int, x0: int, device: torch.device) -> torch.Tensor:
    """The per-layer integers of :func:`gelu_requant` as the int64 device tensor its kernel reads."""
    return torch.tensor([m, e, x0], dtype=torch.int64, device=device)


def shiftmax_fits_int32(x0: int, n: int) -> bool:
    """Whether every Shiftmax intermediate fits int32: e <= 2|x0| * 2^(n-1) (t <= -2*x0, s <= n-1)."""
    return ((-2 * x0) << max(n - 1, 0)) < 2**31 and -n * x0 < 2**31


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scores_m: int, scores_e: int,
              scores_bits: int, x0: int, n: int, out_bits: int, out_m: int, out_e: int, o_bits: int,
              rounding: str = "half_even", mask: torch.Tensor | None = None,
              wide: bool | None = None, par: torch.Tensor | None = None) -> torch.Tensor:
    """Integer attention for int8 q, k, v [B, H, L, D] (any strides, unit stride on D) -> int8 [B, H, L, D].

    ``requantize(shiftmax(requantize(q @ k^T)) @ v)``: scores requantize
    (scalar ``scores_m``/``scores_e`` to ``scores_bits``), Shiftmax (x0, n,
    out_bits), attn @ v and its requantize (scalar ``out_m``/``out_e`` to
    ``o_bits``). ``mask`` [B or 1, H or 1, L, L] (nonzero = keep). The output
    is a [B, H, L, D] view of a [B, L, H, D] buffer (so merging heads is free).
    ``wide=None`` picks int32 for the Shiftmax chain when its range allows. ``par``: the five
    integers as a prepared device tensor (no host copy per call: needed inside a CUDA graph).
    """
    bsz, heads, length, dim = q.shape
    if length > 1024:
        raise ValueError(f"attention: rows of {length} > 1024 do not fit one block")
    if out_bits > 16:
        raise ValueError(f"attention: Shiftmax out_bits {out_bits} > 16 cannot be split into two int8 GEMMs")
    buf = torch.empty((bsz, length, heads, dim), dtype=out_dtype(o_bits), device=q.device)
    out = buf.permute(0, 2, 1, 3)
    for t in (q, k, v):
        if t.stride(-1) != 1:
            raise ValueError("attention: q, k, v need unit stride on the head dimension")
    if mask is not None:
        mask = mask.to(torch.int8).expand(bsz, heads, length, length)
        mstr = mask.stride()
    else:
        mask, mstr = q, (0, 0, 0, 0)
    if wide is None:
        wide = not shiftmax_fits_int32(x0, n)
    block_n = _pow2(length)
    block_m = _pow2(length) if INTERPRET else 16
    grid = (bsz * heads, triton.cdiv(length, block_m))
    if par is None:
        par = attention_params(scores_m, scores_e, x0, out_m, out_e, q.device)
    _attention_kernel[grid](
        q, k, v, mask, par, out, heads, length, dim,
        q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2), mstr[0], mstr[1], mstr[2],
        out.stride(0), out.stride(1), out.stride(2),
        S_LO=-(2 ** (scores_bits - 1)), S_HI=2 ** (scores_bits - 1) - 1, NSHIFT=int(n), OUT_BITS=int(out_bits),
        O_LO=-(2 ** (o_bits - 1)), O_HI=2 ** (o_bits - 1) - 1, ROUNDING=ROUNDING_CODE[rounding],
        WIDE=bool(wide), HAS_MASK=mask is not q, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=_pow2(dim),
        num_warps=4)
    return out


# ----------------------------------------------------------------------------- row kernels
@triton.jit
def _layernorm_requant_kernel(x_ptr, bias_ptr, m_ptr, e_ptr, out_ptr, R, C, sxr, sor, M_STRIDE,
                              ITERS: tl.constexpr, K0: tl.constexpr, O_LO: tl.constexpr, O_HI: tl.constexpr,
                              ROUNDING: tl.constexpr, SPLIT: tl.constexpr,
                              BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    rr = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    rc = tl.arange(0, BLOCK_C)
    cmask = rc < C
    valid = (rr[:, None] < R) & cmask[None, :]
    x = tl.load(x_ptr + rr[:, None] * sxr + rc[None, :], mask=valid, other=0).to(tl.int64)
    xsum = tl.sum(x, axis=1)
    # mean = round_half_even(xsum / C), C > 0
    q = _floor_div(xsum, C)
    twice = 2 * (xsum - q * C)
    mean = q + ((twice > C) | ((twice == C) & ((q & 1) == 1))).to(tl.int64)
    y = tl.where(valid, x - mean[:, None], 0)
    v = tl.sum(y * y, axis=1)
    k = v * 0 + K0
    for _ in tl.static_range(ITERS):
        k = (k + v // k) // 2  # v >= 0, k >= 1: floor
    f = (k * 0 + _I32MAX) // k
    z = ((y * f[:, None]) >> 1) + tl.load(bias_ptr + rc, mask=cmask, other=0).to(tl.int64)[None, :]
    m = tl.load(m_ptr + rc * M_STRIDE, mask=cmask, other=0).to(tl.int64)[None, :]
    e = tl.load(e_ptr + rc * M_STRIDE, mask=cmask, other=20).to(tl.int64)[None, :]
    res = tl.minimum(tl.maximum(_mul_round_shift(z, m, e, ROUNDING, SPLIT), O_LO), O_HI)
    tl.store(out_ptr + rr[:, None] * sor + rc[None, :], res.to(out_ptr.dtype.element_ty), mask=valid)


def _row_warps(elements: int) -> int:
    """Warps for a row kernel's tile (int64 temporaries: keep ~16 elements per thread)."""
    return 4 if INTERPRET else max(4, min(16, elements // 512))


def _rows(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1]).contiguous()


def layernorm_requant(x: torch.Tensor, bias_int: torch.Tensor, m, e, out_bits: int, iters: int = 10,
                      k0: int = 65536, rounding: str = "half_even", split: bool = False) -> torch.Tensor:
    """``requantize(ilayernorm(x, bias_int), m, e)`` over the last axis (m, e scalar or per channel)."""
    rows = _rows(x)
    r, c = rows.shape
    out = torch.empty((r, c), dtype=out_dtype(out_bits), device=x.device)
    mv, ms = _vec(m, x.device)
    ev, _ = _vec(e, x.device)
    bias = torch.as_tensor(bias_int, dtype=torch.int64, device=x.device).reshape(-1).contiguous()
    block_c = _pow2(c)
    block_r = 256 if INTERPRET else max(1, 4096 // block_c)
    _layernorm_requant_kernel[(triton.cdiv(r, block_r),)](
        rows, bias, mv, ev, out, r, c, rows.stride(0), out.stride(0), ms,
        ITERS=iters, K0=k0, O_LO=-(2 ** (out_bits - 1)), O_HI=2 ** (out_bits - 1) - 1,
        ROUNDING=ROUNDING_CODE[rounding], SPLIT=split, BLOCK_R=block_r, BLOCK_C=block_c,
        num_warps=_row_warps(block_r * block_c))
    return out.reshape(x.shape)


@triton.jit
def _gelu_requant_kernel(x_ptr, par_ptr, out_ptr, R, C, sxr, sor, NSHIFT: tl.constexpr, COEF_SHIFT: tl.constexpr,
                         O_LO: tl.constexpr, O_HI: tl.constexpr, ROUNDING: tl.constexpr,
                         BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    rr = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    rc = tl.arange(0, BLOCK_C)
    valid = (rr[:, None] < R) & (rc[None, :] < C)
    mm = tl.load(par_ptr)
    ee = tl.load(par_ptr + 1)
    x0 = tl.load(par_ptr + 2)
    x = tl.load(x_ptr + rr[:, None] * sxr + rc[None, :], mask=valid, other=0).to(tl.int64)
    if COEF_SHIFT:
        z = x + (x >> 1) + (x >> 3) + (x >> 4)
    else:
        z = x
    mx = tl.max(tl.where(valid, z, -(2**62)), axis=1)
    mx = tl.where(rr < R, mx, 0)
    # em = min(shift_exp(-mx), 2^31 - 1) without a shift past 31 bits; -mx may be positive
    a = -mx
    p = tl.maximum(a + (a >> 1) - (a >> 4), NSHIFT * x0)
    q = _floor_div(p, x0)
    t = p - x0 * q - 2 * x0
    s = NSHIFT - q - 1
    sl = tl.minimum(tl.maximum(s, 0), 31)
    over = (s >= 31) | (t > ((sl * 0 + _I32MAX) >> sl))
    em = tl.where(s >= 0, tl.where(over, _I32MAX, t << sl), t >> tl.maximum(-s, 0))
    em = tl.maximum(em, 0)
    e = tl.where(valid, _shift_exp(z - mx[:, None], x0, NSHIFT), 0)
    total = tl.minimum(e + em[:, None], _I32MAX)
    g = (e * ((total * 0 + _I32MAX) // total)) >> 24
    res = tl.minimum(tl.maximum(_round_shift(x * g * mm, ee, ROUNDING), O_LO), O_HI)
    tl.store(out_ptr + rr[:, None] * sor + rc[None, :], res.to(out_ptr.dtype.element_ty), mask=valid)


def gelu_requant(x: torch.Tensor, x0: int, n: int, coef: str, m: int, e: int, out_bits: int,
                 rounding: str = "half_even", par: torch.Tensor | None = None) -> torch.Tensor:
    """``requantize(shiftgelu(x), m, e)`` over the last axis (scalar m, e; ``par`` as in :func:`attention`)."""
    rows = _rows(x)
    r, c = rows.shape
    out = torch.empty((r, c), dtype=out_dtype(out_bits), device=x.device)
    block_c = _pow2(c)
    block_r = 256 if INTERPRET else max(1, 4096 // block_c)
    if par is None:
        par = gelu_params(m, e, x0, x.device)
    _gelu_requant_kernel[(triton.cdiv(r, block_r),)](
        rows, par, out, r, c, rows.stride(0), out.stride(0), NSHIFT=int(n),
        COEF_SHIFT=coef == "shift", O_LO=-(2 ** (out_bits - 1)), O_HI=2 ** (out_bits - 1) - 1,
        ROUNDING=ROUNDING_CODE[rounding], BLOCK_R=block_r, BLOCK_C=block_c, num_warps=_row_warps(block_r * block_c))
    return out.reshape(x.shape)

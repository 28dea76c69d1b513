"""Native row kernels of the fused executor's CPU fast path: ``kernels.cpp`` built once with g++
(``-O3 -march=native``, a persistent thread pool) and called through ctypes on torch CPU tensors.

The build is cached under ``.cache/native/`` of the checkout (``~/.cache/ivit_hw/native`` when that
is not writable; ``IVIT_HW_NATIVE_CACHE`` overrides), keyed by a hash of the source, the flags and
the CPU. Optional: with no compiler, a failed build or ``IVIT_HW_NATIVE=0``, :func:`load` returns
None (saying why once) and the fused executor runs its torch steps. Each kernel is a named fast path
of an ``ops`` kernel; the Python wrappers below take the facts the caller proved (``wide``: a
requantize product may leave int64) and never check values themselves.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..cpu_info import cpu_model

SOURCE = Path(__file__).with_name("kernels.cpp")
#: every file the build reads: kernels.cpp and the headers beside it that it includes (the build key hashes them)
SOURCES = (SOURCE, *sorted(SOURCE.parent.glob("*.h")))
FLAGS = ("-O3", "-march=native", "-std=c++20", "-shared", "-fPIC", "-pthread")
ROUNDING_CODES = {"half_even": 0, "half_up": 1, "floor": 2}
DTYPE_CODES = {torch.int8: 0, torch.uint8: 1, torch.int16: 2, torch.int32: 3, torch.int64: 4,
               torch.float32: 5, torch.float64: 6}

_P, _I, _L = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
SIGNATURES = {
    "ivit_requant": [_P, _I, _L, _L, _L, _P, _P, _L, _P, _L, _P, _I, _L, _P, _L, _P, _L, _I, _I, _I, _P, _I, _I],
    "ivit_shiftmax": [_P, _I, _L, _L, _L, _I, _I, _I, _I, _P, _L, _I, _P, _I, _I],
    "ivit_layernorm": [_P, _I, _L, _L, _P, _I, _L, _P, _L, _P, _L, _I, _I, _I, _P, _I, _I],
    "ivit_gelu_rowmax": [_P, _I, _L, _L, _P, _L, _P, _I],
    "ivit_attention": [_P, _P, _P, _P, _P, _P, _L, _L, _L, _L, _L, _I, _I, _I, _P, _L, _I, _L, _I, _I, _P, _I, _I],
    "ivit_gemm_requant": [_P, _L, _L, _P, _L, ctypes.c_uint32, _L, _L, _P, _P, _L, _P, _L, _P, _I, _L, _P, _L,
                          _P, _L, _I, _I, _I, _P, _I, _I],
    "ivit_gemm_requant_f64": [_P, _L, _L, _P, _L, ctypes.c_uint32, _L, _L, _P, _P, _P, _I, _P, _I, _I, _P, _I, _I],
    "ivit_has_vnni": [],
    "ivit_pack_b": [_P, _L, _L, _L, _P],
    "ivit_gemm_vnni": [_P, _L, _L, _L, _P, _L, ctypes.c_uint32, _P, _I],
    "ivit_gelu": [_P, _I, _L, _L, _P, _L, _P, _P, _P, _L, _I, _L, _I, _I, _I, _I, _P, _I, _I],
}


def cache_dir() -> Path:
    """Where built libraries go (see the module docstring)."""
    if os.environ.get("IVIT_HW_NATIVE_CACHE"):
        return Path(os.environ["IVIT_HW_NATIVE_CACHE"])
    repo = Path(__file__).resolve().parents[3] / ".cache" / "native"
    if os.access(repo.parent.parent, os.W_OK):
        return repo
    return Path.home() / ".cache" / "ivit_hw" / "native"


def build_key(compiler: str) -> str:
    """Hash of what the library depends on: sources, compiler, flags, CPU (``-march=native``)."""
    h = hashlib.sha256()
    for src in SOURCES:
        h.update(src.read_bytes())
    h.update(" ".join((compiler, *FLAGS, cpu_model())).encode())
    return h.hexdigest()[:16]


def build(compiler: str | None = None) -> Path:
    """The built library's path (compiled now unless cached). Raises RuntimeError on failure."""
    cxx = compiler or os.environ.get("CXX") or shutil.which("g++")
    if cxx is None:
        raise RuntimeError("no C++ compiler (g++) on PATH")
    target = cache_dir() / f"ivit_native_{build_key(cxx)}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        res = subprocess.run([cxx, *FLAGS, str(SOURCE), "-o", tmp], capture_output=True, text=True)
        if res.returncode != 0:
            first = (res.stderr.strip().splitlines() or ["(no message)"])[0]
            raise RuntimeError(f"g++ failed on {SOURCE.name}: {first}")
        os.replace(tmp, target)  # atomic: parallel builders agree on one file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


@functools.cache
def load() -> NativeKernels | None:
    """The kernels, built and loaded once per process; None (with one warning) where unavailable."""
    if os.environ.get("IVIT_HW_NATIVE", "1") == "0":
        return None
    try:
        return NativeKernels(ctypes.CDLL(str(build())))
    except (RuntimeError, OSError) as exc:
        warnings.warn(f"native CPU kernels unavailable, the fused executor runs torch steps: {exc}",
                      RuntimeWarning, stacklevel=2)
        return None


VNNI_COLS = 16  # output columns per packed block (one 512-bit register of int32)


@dataclass(frozen=True)
class PackedB:
    """A constant GEMM operand [N, K] packed for :meth:`NativeKernels.gemm_vnni`, with its row sums."""

    data: torch.Tensor
    n: int
    k: int
    blocks: int
    colsum: torch.Tensor


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _code(t: torch.Tensor) -> int:
    return DTYPE_CODES[t.dtype]


def _step(t: torch.Tensor) -> int:
    """Stride of a per-channel constant (0: one value for every channel)."""
    return 0 if t.numel() == 1 else 1


def _i64(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.int64).contiguous().reshape(-1)


class NativeKernels:
    """Typed wrappers of the library's functions (CPU tensors; outputs allocated here)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        for name, args in SIGNATURES.items():
            getattr(lib, name).argtypes = args
            getattr(lib, name).restype = None
        lib.ivit_has_vnni.restype = ctypes.c_int
        #: whether the build has the AVX512-VNNI int8 GEMM (:meth:`gemm_vnni`)
        self.vnni = bool(lib.ivit_has_vnni())

    def pack_b(self, w: torch.Tensor) -> PackedB:
        """``w`` [N, K] int8 packed for :meth:`gemm_vnni` (once per weight; K padded with zeros to a
        multiple of 4)."""
        w = w.to(torch.int8).contiguous()
        n, k = w.shape
        blocks = -(-n // VNNI_COLS)
        out = torch.empty(blocks * VNNI_COLS * 4 * (-(-k // 4)), dtype=torch.int8)
        self.lib.ivit_pack_b(w.data_ptr(), k, n, k, out.data_ptr())
        colsum = w.to(torch.int64).sum(dim=1)
        return PackedB(out, n, k, blocks, colsum)

    def gemm_vnni(self, a: torch.Tensor, b: PackedB, signed: bool = True) -> torch.Tensor:
        """``(a + 128) @ b.T`` (``signed``: int8 a) or ``a @ b.T`` (uint8 a) as int32 [M, 16 * blocks]
        (the columns past N are 0); the caller subtracts ``128 * b.colsum`` for signed a. Exact:
        |sum| <= 255 * 128 * K < 2^31 for K < 65793."""
        a = a.contiguous()
        m = a.shape[0]
        out = torch.empty((m, b.blocks * VNNI_COLS), dtype=torch.int32)
        self.lib.ivit_gemm_vnni(a.data_ptr(), b.k, m, b.k, b.data.data_ptr(), b.blocks,
                                0x80808080 if signed else 0, out.data_ptr(), self.threads())
        return out

    @staticmethod
    def threads() -> int:
        return max(1, torch.get_num_threads())

    def requant(self, acc: torch.Tensor, cols: int, m: torch.Tensor, e: torch.Tensor, out_bits: int,
                rounding: str, wide: bool, out_dtype: torch.dtype, bias: torch.Tensor | None = None,
                identity: torch.Tensor | None = None, m_id: torch.Tensor | None = None,
                e_id: torch.Tensor | None = None) -> torch.Tensor:
        """``ops.requantize(acc[:, :cols] + bias, m, e, ...)`` (+ identity) for a 2-D ``acc`` whose rows
        may be longer than ``cols`` (a padded GEMM output); returns [rows, cols] of ``out_dtype``."""
        if acc.stride(-1) != 1:
            acc = acc.contiguous()
        out, args, _keep = self._requant_args(acc.shape[0], cols, m, e, out_bits, rounding, wide, out_dtype, bias,
                                              identity, m_id, e_id)
        self.lib.ivit_requant(acc.data_ptr(), _code(acc), acc.stride(0), *args)
        return out

    def gemm_requant(self, a: torch.Tensor, b: PackedB, m: torch.Tensor, e: torch.Tensor, out_bits: int,
                     rounding: str, wide: bool, out_dtype: torch.dtype, bias: torch.Tensor,
                     identity: torch.Tensor | None = None, m_id: torch.Tensor | None = None,
                     e_id: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`requant` of :meth:`gemm_vnni` (signed a; ``bias`` holds ``-128 * b.colsum``) in one pass:
        each chunk of rows is requantized while its accumulators are in cache."""
        a = a.to(torch.int8).contiguous()
        rows = a.shape[0]
        out, args, _keep = self._requant_args(rows, b.n, m, e, out_bits, rounding, wide, out_dtype, bias, identity,
                                              m_id, e_id)
        self.lib.ivit_gemm_requant(a.data_ptr(), b.k, b.k, b.data.data_ptr(), b.blocks, 0x80808080, *args)
        return out

    def gemm_requant_f64(self, a: torch.Tensor, b: PackedB, bias: torch.Tensor, scale: torch.Tensor, out_bits: int,
                         rounding: str, out_dtype: torch.dtype, identity: torch.Tensor | None = None,
                         scale_id: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`gemm_requant` with the float64 requantize ``ops.requant.requantize_float`` (exact only
        where ``float_requantize_ok`` holds: the caller's proof): ``bias`` (holding ``-128 * b.colsum``),
        ``scale`` = m / 2^e and ``scale_id`` per channel (float64, N values); half_even or floor; an
        int8, int16 or int32 identity."""
        a = a.to(torch.int8).contiguous()
        rows = a.shape[0]
        out = torch.empty((rows, b.n), dtype=out_dtype)
        if identity is not None:
            identity = identity.reshape(rows, b.n).contiguous()
        self.lib.ivit_gemm_requant_f64(a.data_ptr(), b.k, b.k, b.data.data_ptr(), b.blocks, 0x80808080,
                                       rows, b.n, bias.data_ptr(), scale.data_ptr(), _ptr(identity),
                                       0 if identity is None else _code(identity), _ptr(scale_id), out_bits,
                                       ROUNDING_CODES[rounding], out.data_ptr(), _code(out), self.threads())
        return out

    def _requant_args(self, rows: int, cols: int, m, e, out_bits: int, rounding: str, wide: bool,
                      out_dtype: torch.dtype, bias, identity, m_id, e_id) -> tuple[torch.Tensor, list, tuple]:
        """The output, the arguments of ``ivit_requant`` from ``rows`` on, and the tensors they point into
        (the caller holds them until the call returns)."""
        out = torch.empty((rows, cols), dtype=out_dtype)
        m, e = _i64(m), _i64(e)
        if identity is not None:
            identity = identity.reshape(rows, cols).contiguous()
            m_id, e_id = _i64(m_id), _i64(e_id)
        bias = None if bias is None else _i64(bias)
        keep = (m, e, identity, m_id, e_id, bias)
        return out, [rows, cols, _ptr(bias), m.data_ptr(), _step(m), e.data_ptr(), _step(e), _ptr(identity),
                     0 if identity is None else _code(identity), cols, _ptr(m_id), 0 if m_id is None else _step(m_id),
                     _ptr(e_id), 0 if e_id is None else _step(e_id), out_bits, ROUNDING_CODES[rounding], int(wide),
                     out.data_ptr(), _code(out), self.threads()], keep

    def shiftmax(self, scores: torch.Tensor, sm: int, se: int, scores_bits: int, rounding: str, wide: bool,
                 table: torch.Tensor, span: int, out_bits: int, out_dtype: torch.dtype) -> torch.Tensor:
        """``ops.shiftmax(requantize(scores, sm, se, scores_bits), ...)`` over the last axis, ShiftExp
        looked up in ``table`` (ShiftExp of [-span, 0], span = 2^scores_bits - 1)."""
        scores = scores.contiguous()
        n = scores.shape[-1]
        out = torch.empty(scores.shape, dtype=out_dtype)
        table = _i64(table)
        self.lib.ivit_shiftmax(scores.data_ptr(), _code(scores), scores.numel() // n, n, sm, se, scores_bits,
                               ROUNDING_CODES[rounding], int(wide), table.data_ptr(), span, out_bits,
                               out.data_ptr(), _code(out), self.threads())
        return out

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, sm: int, se: int, scores_bits: int,
                  rounding: str, table: torch.Tensor, span: int, out_bits: int, om: int, oe: int, o_bits: int,
                  out_dtype: torch.dtype) -> torch.Tensor:
        """The fused attention (VNNI builds only): ``requantize(shiftmax(requantize(q @ k^T, sm, se)) @ v,
        om, oe)`` for int8 q, k, v [B, H, N, dh] (any strides), the Shiftmax output below 2^16, products
        of the direct requantize path (see ``ivit_attention`` in ``kernels.cpp``)."""
        b, h, n, dh = q.shape
        out = torch.empty((b, h, n, dh), dtype=out_dtype)
        q, k, v = (t.to(torch.int8) for t in (q, k, v))
        strides = [torch.tensor(t.stride(), dtype=torch.int64) for t in (q, k, v)]
        table = _i64(table)
        self.lib.ivit_attention(q.data_ptr(), strides[0].data_ptr(), k.data_ptr(), strides[1].data_ptr(),
                                v.data_ptr(), strides[2].data_ptr(), b, h, n, dh, sm, se, scores_bits,
                                ROUNDING_CODES[rounding], table.data_ptr(), span, out_bits, om, oe, o_bits,
                                out.data_ptr(), _code(out), self.threads())
        return out

    def layernorm(self, x: torch.Tensor, bias_int: torch.Tensor, iters: int, k0: int, m: torch.Tensor,
                  e: torch.Tensor, out_bits: int, rounding: str, wide: bool, out_dtype: torch.dtype) -> torch.Tensor:
        """``ops.requantize(ops.ilayernorm(x, bias_int, iters, k0), m, e, out_bits)`` per channel."""
        x = x.contiguous()
        c = x.shape[-1]
        out = torch.empty(x.shape, dtype=out_dtype)
        bias_int, m, e = _i64(bias_int), _i64(m), _i64(e)
        self.lib.ivit_layernorm(x.data_ptr(), _code(x), x.numel() // c, c, bias_int.data_ptr(), iters, k0,
                                m.data_ptr(), _step(m), e.data_ptr(), _step(e), out_bits,
                                ROUNDING_CODES[rounding], int(wide), out.data_ptr(), _code(out), self.threads())
        return out

    def gelu_rowmax(self, x: torch.Tensor, ztab: torch.Tensor | None, zlo: int) -> torch.Tensor:
        """max over the last axis of z (x, or ``ztab[x - zlo]``), int64 [rows]."""
        x = x.contiguous()
        n = x.shape[-1]
        zmax = torch.empty(x.numel() // n, dtype=torch.int64)
        self.lib.ivit_gelu_rowmax(x.data_ptr(), _code(x), zmax.numel(), n, _ptr(ztab), zlo, zmax.data_ptr(),
                                  self.threads())
        return zmax

    def gelu(self, x: torch.Tensor, ztab: torch.Tensor | None, zlo: int, zmax: torch.Tensor, em: torch.Tensor,
             table: torch.Tensor, span: int, sig_shift: int, m: int, e: int, out_bits: int, rounding: str,
             wide: bool, out_dtype: torch.dtype) -> torch.Tensor:
        """``requantize(x * g)`` with ShiftGELU's sigmoid g (see ``kernels.cpp``); ``em`` must be
        ``ShiftExp(-zmax)`` row by row (int8 x: the outputs are tabulated per distinct zmax)."""
        x = x.contiguous()
        n = x.shape[-1]
        out = torch.empty(x.shape, dtype=out_dtype)
        em, table = _i64(em), _i64(table)
        self.lib.ivit_gelu(x.data_ptr(), _code(x), x.numel() // n, n, _ptr(ztab), zlo, zmax.data_ptr(),
                           em.data_ptr(), table.data_ptr(), span, sig_shift, m, e, out_bits,
                           ROUNDING_CODES[rounding], int(wide), out.data_ptr(), _code(out), self.threads())
        return out

"""The array namespace the spec kernels are written against.

A kernel in :mod:`ivit_hw.ops` is written once, against the small set of
operations the spec needs: ``+ - * // >> << &`` (Python operators on the
arrays), ``where``, ``maximum``/``minimum``, ``sum``/``amax`` over the last
axis, a few layout moves, and one per-backend primitive, the exact integer
GEMM (:meth:`ArrayOps.gemm`). :data:`NP` implements it with numpy; the torch
implementation lives in :mod:`ivit_hw.runtime.torch_namespace` (this package must
import without torch).

Rules for kernels written against a namespace: no Python branch on array
values (a branch may depend on shapes, attributes, constants known when the
kernel is planned, or proven ranges), no ``.item()``/``int(arr)`` on data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

FLOAT64_EXACT = 2**53
FLOAT32_EXACT = 2**24
FLOAT_DIV_EXACT = 2**52  # a float64 quotient is off by at most one below this

Gemm = Callable[..., Any]


class ArrayOps:
    """The operations a spec kernel may use; subclasses bind them to one array library."""

    name = "abstract"
    int64: Any = None
    #: whether :meth:`require` checks (numpy: always; torch: only in a checked run)
    checking = True

    def asarray(self, values: Any) -> Any:
        """An int64 array of ``values`` (numpy arrays, Python ints) on this namespace's device."""
        raise NotImplementedError

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """Elementwise ``a if cond else b`` (scalars allowed for a and b)."""
        raise NotImplementedError

    def maximum(self, a: Any, b: Any) -> Any:
        """Elementwise max; ``b`` may be a Python int."""
        raise NotImplementedError

    def minimum(self, a: Any, b: Any) -> Any:
        """Elementwise min; ``b`` may be a Python int."""
        raise NotImplementedError

    def clip(self, x: Any, lo: int, hi: int) -> Any:
        """Clamp to ``[lo, hi]``."""
        return self.minimum(self.maximum(x, lo), hi)

    def abs(self, x: Any) -> Any:
        """Elementwise |x|."""
        raise NotImplementedError

    def sign(self, x: Any) -> Any:
        """Elementwise sign (-1, 0, 1)."""
        raise NotImplementedError

    def sum(self, x: Any, axis: int = -1, keepdims: bool = True) -> Any:
        """Integer sum over ``axis``."""
        raise NotImplementedError

    def amax(self, x: Any, axis: int = -1, keepdims: bool = True) -> Any:
        """Maximum over ``axis``."""
        raise NotImplementedError

    def argmax(self, x: Any, axis: int = -1) -> Any:
        """Index of the first maximum over ``axis`` (int64)."""
        raise NotImplementedError

    def full_like(self, x: Any, value: int) -> Any:
        """An int64 array shaped like ``x`` filled with ``value``."""
        raise NotImplementedError

    def zeros(self, shape: Sequence[int]) -> Any:
        """An int64 array of zeros."""
        raise NotImplementedError

    def arange(self, lo: int, hi: int) -> Any:
        """int64 ``lo, lo+1, ..., hi-1``."""
        raise NotImplementedError

    def permute(self, x: Any, perm: Sequence[int]) -> Any:
        """Axis permutation."""
        raise NotImplementedError

    def concat(self, arrays: Sequence[Any], axis: int) -> Any:
        """Concatenate along ``axis``."""
        raise NotImplementedError

    def broadcast_to(self, x: Any, shape: Sequence[int]) -> Any:
        """A broadcast view of ``x``."""
        raise NotImplementedError

    def take(self, table: Any, idx: Any) -> Any:
        """``table[idx]`` for a 1-D table (a lookup table)."""
        raise NotImplementedError

    def take_rows(self, table: Any, idx: Any) -> Any:
        """``table[..., idx]`` row by row (table [..., W], idx [..., N])."""
        raise NotImplementedError

    def numel(self, x: Any) -> int:
        """Number of elements."""
        return math.prod(self.shape(x))

    def floor_sqrt_guess(self, v: Any) -> Any:
        """``floor(sqrt(float64(v)))`` as int64: a first guess, off by at most one for v < 2^62."""
        raise NotImplementedError

    def floor_div(self, num: Any, den: Any, bound: int | None = None) -> Any:
        """Exact floor division; ``bound`` (static) is a known bound on |num| and |den|."""
        return num // den

    def to_float64(self, x: Any) -> Any:
        """``x`` as float64 (exact for |x| <= 2^53; used only where a proof says so)."""
        raise NotImplementedError

    def round_float(self, x: Any, rounding: str) -> Any:
        """float64 ``x`` rounded to integer values: half to even (``"half_even"``) or down (``"floor"``)."""
        raise NotImplementedError

    def shape(self, x: Any) -> tuple[int, ...]:
        """The shape as a tuple of Python ints."""
        return tuple(int(d) for d in x.shape)

    def require(self, ok: Any, message: str) -> None:
        """Raise ``OverflowError(message)`` unless every value of ``ok`` is true (a no-op where checking
        would need a host synchronisation)."""

    def gemm(self, a_range: tuple[int, int], b_range: tuple[int, int], k: int, b_const: Any | None = None,
             fast: bool = True) -> Gemm:
        """The exact integer GEMM for operands with values in ``a_range`` / ``b_range``, inner size k.

        Returns ``g(a, b=None) -> a @ b`` (int64; numpy broadcasting); with
        ``b_const`` given (a constant [K, N] numpy operand) it is prepared once
        and ``g(a)`` uses it. The ranges are static facts (proven ranges or
        constant values), so the path is chosen once, not per call.
        ``fast=False`` asks for the plain integer matmul (the spec path).
        """
        raise NotImplementedError


class NumpyOps(ArrayOps):
    """:class:`ArrayOps` on numpy int64 arrays (the golden model)."""

    name = "numpy"
    int64 = np.int64

    def asarray(self, values: Any) -> np.ndarray:
        return np.asarray(values, dtype=np.int64)

    def where(self, cond, a, b):
        return np.where(cond, a, b)

    def maximum(self, a, b):
        return np.maximum(a, b)

    def minimum(self, a, b):
        return np.minimum(a, b)

    def clip(self, x, lo, hi):
        return np.clip(x, lo, hi)

    def abs(self, x):
        return np.abs(x)

    def sign(self, x):
        return np.sign(x)

    def sum(self, x, axis=-1, keepdims=True):
        return x.sum(axis=axis, keepdims=keepdims)

    def amax(self, x, axis=-1, keepdims=True):
        return x.max(axis=axis, keepdims=keepdims)

    def argmax(self, x, axis=-1):
        return np.argmax(x, axis=axis).astype(np.int64)

    def full_like(self, x, value):
        return np.full(np.shape(x), value, dtype=np.int64)

    def zeros(self, shape):
        return np.zeros(tuple(shape), dtype=np.int64)

    def arange(self, lo, hi):
        return np.arange(lo, hi, dtype=np.int64)

    def permute(self, x, perm):
        return x.transpose(tuple(perm))

    def concat(self, arrays, axis):
        return np.concatenate(list(arrays), axis=axis)

    def broadcast_to(self, x, shape):
        return np.broadcast_to(x, tuple(shape))

    def take(self, table, idx):
        return np.take(table, idx)

    def take_rows(self, table, idx):
        return np.take_along_axis(table, idx, axis=-1)

    def floor_sqrt_guess(self, v):
        return np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)

    def to_float64(self, x):
        return np.asarray(x, dtype=np.float64)

    def round_float(self, x, rounding):
        return np.rint(x, out=x) if rounding == "half_even" else np.floor(x, out=x)

    def floor_div(self, num, den, bound=None):
        if bound is None or bound >= FLOAT_DIV_EXACT:
            return np.floor_divide(num, den)
        # a float64 quotient is off by at most one here; fix it with the remainder
        q = np.floor(num / den).astype(np.int64)
        r = num - q * den
        if np.ndim(den) == 0:
            if den > 0:
                return q - (r < 0) + (r >= den)
            return q - (r > 0) + (r <= den)
        pos = den > 0
        return q - np.where(pos, r < 0, r > 0) + np.where(pos, r >= den, r <= den)

    def require(self, ok, message):
        if not np.all(ok):
            raise OverflowError(message)

    def gemm(self, a_range, b_range, k, b_const=None, fast=True):
        return numpy_gemm(range_max_abs(a_range), range_max_abs(b_range), k, b_const, fast)


def _chunked_float32_matmul(a32: np.ndarray, b32: np.ndarray, chunk: int) -> np.ndarray:
    """Exact ``a @ b`` as a sum over K-chunks whose float32 partial sums stay within 2^24."""
    k = a32.shape[-1]
    total = None
    for start in range(0, k, chunk):
        part = np.matmul(a32[..., start : start + chunk], b32[..., start : start + chunk, :]).astype(np.int64)
        total = part if total is None else total + part
    return total


MIN_CHUNK, MAX_CHUNKS = 64, 8  # float32 K-chunks: no shorter than 64, no more than 8 (else float64)


def partial_sum_bound(a_max: int, b_max: int, k: int, b_const: np.ndarray | None = None) -> int:
    """A bound on |every partial sum| of ``a @ b`` (any subset of the K products, in any order) for
    |a| <= a_max, |b| <= b_max: ``a_max * b_max * k``, or for a constant ``b`` [..., K, N] the tighter
    ``a_max * max_n sum_k |b[k, n]|`` (each partial sum is at most ``sum |a_k| |b_kn|``)."""
    bound = a_max * b_max * k
    if b_const is None or b_max * k >= 2**63:
        return bound
    col = np.abs(np.asarray(b_const, dtype=np.int64)).sum(axis=-2)
    return min(bound, a_max * int(col.max())) if col.size else 0


def float_gemm_route(bound: int, prod: int, k: int) -> tuple[str, int]:
    """The exact CPU GEMM route for a worst-case |partial sum| ``bound``, largest single |product| ``prod``
    and inner size k: ("float32" | "float32_chunked" | "float64" | "int64", K-chunk length).

    A floating-point sum of integers is exact while every partial sum is an integer the format holds
    exactly: |v| <= 2^24 in float32, < 2^53 in float64, whatever order the BLAS adds in (an FMA rounds
    an exact value to itself). So: float32 when ``bound <= 2^24``; float32 over K-chunks of
    ``2^24 // prod`` (each chunk exact, the chunks summed in int64) when that chunk is at least
    :data:`MIN_CHUNK` long and at most :data:`MAX_CHUNKS` chunks cover K; float64 below 2^53; int64 below
    2^63. Raises OverflowError beyond int64. The one rule of every executor's float GEMM routes.
    """
    if bound <= FLOAT32_EXACT:
        return "float32", k
    if 0 < prod and FLOAT32_EXACT // prod >= MIN_CHUNK and -(-k // (FLOAT32_EXACT // prod)) <= MAX_CHUNKS:
        return "float32_chunked", FLOAT32_EXACT // prod
    if bound < FLOAT64_EXACT:
        return "float64", k
    if bound >= 2**63:
        raise OverflowError(f"int_matmul: |sum| may reach {bound}, beyond int64")
    return "int64", k


_CAST = {"float32": np.float32, "float32_chunked": np.float32, "float64": np.float64, "int64": np.int64}


def range_max_abs(r: tuple[int, int]) -> int:
    """Largest |v| for v in the closed range ``r``."""
    return max(-int(r[0]), int(r[1]), 0)


def numpy_gemm(a_max: int, b_max: int, k: int, b_const: np.ndarray | None = None, fast: bool = True) -> Gemm:
    """:meth:`ArrayOps.gemm` for numpy: a BLAS float matmul where it is exact (see :func:`float_gemm_route`,
    with the :func:`partial_sum_bound` of these operands), numpy's int64 matmul with ``fast=False``.
    ``g(a, b, keep_float=True)`` returns the float result of the float32 / float64 routes uncast (its
    values are the exact integers)."""
    if fast:
        path, chunk = float_gemm_route(partial_sum_bound(a_max, b_max, k, b_const), a_max * b_max, k)
    else:
        path, chunk = "int64", k
    if path == "int64" and a_max * b_max * k >= 2**63:
        raise OverflowError(f"int_matmul: |sum| may reach {a_max * b_max * k}, beyond int64")
    cast = _CAST[path]
    prepared = None if b_const is None else np.ascontiguousarray(b_const, dtype=cast)

    def gemm(a: np.ndarray, b: np.ndarray | None = None, keep_float: bool = False) -> np.ndarray:
        bb = prepared if b is None else b.astype(cast, copy=False)
        aa = a.astype(cast, copy=False)
        if path == "float32_chunked":
            return _chunked_float32_matmul(aa, bb, chunk)
        out = np.matmul(aa, bb)
        return out if path == "int64" or keep_float else out.astype(np.int64)

    gemm.path = path  # type: ignore[attr-defined]
    return gemm


NP = NumpyOps()

"""Integer GEMM kernels: linear layers, attention matmuls and patch embedding
(spec section 3).

Products are exact. Integer sums are exact in floating point while every
partial sum stays below the mantissa limit, so a GEMM whose worst-case |sum|
is below 2^24 runs as a float32 BLAS matmul; one whose single products are
small but K is long runs as float32 over K-chunks (each chunk exact), summed
in int64; otherwise float64 (exact below 2^53), and int64 matmul beyond.
"""

from __future__ import annotations

import weakref

import numpy as np

from .intmath import as_int64, max_abs

FLOAT64_EXACT = 2**53
FLOAT32_EXACT = 2**24


def _chunked_float32_matmul(a32: np.ndarray, b32: np.ndarray, chunk: int) -> np.ndarray:
    """Exact ``a @ b`` as a sum over K-chunks whose float32 partial sums stay below 2^24."""
    k = a32.shape[-1]
    total = None
    for start in range(0, k, chunk):
        part = np.matmul(a32[..., start : start + chunk], b32[..., start : start + chunk, :]).astype(np.int64)
        total = part if total is None else total + part
    return total


def int_matmul(a: np.ndarray, b: np.ndarray, b_prepared: tuple[int, np.ndarray] | None = None) -> np.ndarray:
    """Exact ``a @ b`` for integer arrays (numpy broadcasting rules), as int64.

    ``b_prepared`` = (max|b|, b as float32) skips recomputing both for a
    constant operand (see :func:`linear`).
    """
    a = as_int64(a, "a")
    if b_prepared is None:
        b = as_int64(b, "b")
    k = a.shape[-1]
    a_max = max_abs(a)
    b_max = b_prepared[0] if b_prepared is not None else max_abs(b)
    bound = a_max * b_max * k
    if 0 < a_max * b_max < FLOAT32_EXACT:
        chunk = FLOAT32_EXACT // (a_max * b_max)
        if bound < FLOAT32_EXACT or k >= 2 * chunk >= 64:
            a32 = a.astype(np.float32)
            b32 = b_prepared[1] if b_prepared is not None else b.astype(np.float32)
            if bound < FLOAT32_EXACT:
                return np.matmul(a32, b32).astype(np.int64)
            return _chunked_float32_matmul(a32, b32, chunk)
    b = as_int64(b, "b")
    if bound < FLOAT64_EXACT:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    if bound >= 2**63:
        raise OverflowError(f"int_matmul: |sum| may reach {bound}, beyond int64")
    return np.matmul(a, b)


_PREPARED: dict[int, tuple[weakref.ref, int, np.ndarray]] = {}


def _prepared_weight_t(w: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(max|w|, float32 w.T) for a read-only 2-D weight, computed once while the array lives.

    Only immutable arrays are cached (graph constants are made read-only), so a
    cached form can never go stale; entries leave when their array is freed.
    """
    if w.flags.writeable or w.ndim != 2:
        return None
    key = id(w)
    hit = _PREPARED.get(key)
    if hit is not None and hit[0]() is w:
        return hit[1], hit[2]
    w_max = max_abs(w)
    if w_max >= FLOAT32_EXACT:
        return None
    w_t32 = np.ascontiguousarray(w.T, dtype=np.float32)
    _PREPARED[key] = (weakref.ref(w, lambda _ref, k=key: _PREPARED.pop(k, None)), w_max, w_t32)
    return w_max, w_t32


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``acc = x @ w.T (+ b)`` with torch layout: x [..., K], w [N, K], b [N]."""
    w = np.asarray(w)
    if w.dtype.kind not in "iu":
        as_int64(w, "weight")  # raises the error naming the weight
    acc = int_matmul(x, np.swapaxes(w, -1, -2), _prepared_weight_t(w))
    if b is not None:
        acc = acc + as_int64(b, "bias")
    return acc


def matmul(a: np.ndarray, b: np.ndarray, transpose_b: bool = False) -> np.ndarray:
    """Batched integer matmul; ``transpose_b`` swaps b's last two axes (q @ k^T)."""
    b = as_int64(b, "b")
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return int_matmul(a, b)


def im2col_patches(x: np.ndarray, patch: int) -> np.ndarray:
    """Cut [..., C, H, W] into non-overlapping patches: [..., (H/p)*(W/p), C*p*p].

    Patches are ordered row-major over the grid and each patch is flattened
    as (C, p, p), matching a stride-p convolution's weight layout.
    """
    *lead, c, h, w = x.shape
    if h % patch or w % patch:
        raise ValueError(f"image {h}x{w} is not divisible by patch size {patch}")
    gh, gw = h // patch, w // patch
    x = x.reshape(*lead, c, gh, patch, gw, patch)
    nd = len(lead)
    perm = list(range(nd)) + [nd + 1, nd + 3, nd + 0, nd + 2, nd + 4]
    x = x.transpose(perm)
    return x.reshape(*lead, gh * gw, c * patch * patch)


def patch_embed(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, patch: int) -> np.ndarray:
    """Stride-``patch`` convolution as a GEMM: x [..., C, H, W], w [O, C, p, p] -> [..., N, O]."""
    w = as_int64(w, "weight")
    if w.ndim != 4 or w.shape[2] != patch or w.shape[3] != patch:
        raise ValueError(f"patch_embed: weight shape {w.shape} does not match patch size {patch}")
    cols = im2col_patches(as_int64(x, "x"), patch)
    return linear(cols, w.reshape(w.shape[0], -1), b)

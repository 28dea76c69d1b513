"""Integer GEMM kernels: linear layers, attention matmuls and patch embedding
(spec section 3).

Products are exact. Integer sums are exact in floating point while every
partial sum stays below the mantissa limit, so a GEMM whose worst-case |sum|
is below 2^24 runs as a float32 BLAS matmul; one whose single products are
small but K is long runs as float32 over K-chunks (each chunk exact), summed
in int64; otherwise float64 (exact below 2^53), and int64 matmul beyond.
"""

from __future__ import annotations

import numpy as np

from .intmath import as_int64, max_abs

FLOAT64_EXACT = 2**53
FLOAT32_EXACT = 2**24


def _chunked_float32_matmul(a: np.ndarray, b: np.ndarray, chunk: int) -> np.ndarray:
    """Exact ``a @ b`` as a sum over K-chunks whose float32 partial sums stay below 2^24."""
    k = a.shape[-1]
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    total = None
    for start in range(0, k, chunk):
        part = np.matmul(a32[..., start : start + chunk], b32[..., start : start + chunk, :]).astype(np.int64)
        total = part if total is None else total + part
    return total


def int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact ``a @ b`` for integer arrays (numpy broadcasting rules), as int64."""
    a = as_int64(a, "a")
    b = as_int64(b, "b")
    k = a.shape[-1]
    a_max = max_abs(a)
    b_max = max_abs(b)
    bound = a_max * b_max * k
    if bound < FLOAT32_EXACT:
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.int64)
    if 0 < a_max * b_max and k >= 2 * (FLOAT32_EXACT // (a_max * b_max)) >= 64:
        return _chunked_float32_matmul(a, b, FLOAT32_EXACT // (a_max * b_max))
    if bound < FLOAT64_EXACT:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    if bound >= 2**63:
        raise OverflowError(f"int_matmul: |sum| may reach {bound}, beyond int64")
    return np.matmul(a, b)


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``acc = x @ w.T (+ b)`` with torch layout: x [..., K], w [N, K], b [N]."""
    acc = int_matmul(x, np.swapaxes(as_int64(w, "weight"), -1, -2))
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

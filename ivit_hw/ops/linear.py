"""Integer GEMM kernels: linear layers, attention matmuls and patch embedding
(spec section 3).

Products are exact. Integer sums are exact in floating point while every
partial sum stays below the mantissa limit, so a GEMM whose worst-case |sum|
is below 2^24 runs as a float32 BLAS matmul; one whose single products are
small but K is long runs as float32 over K-chunks (each chunk exact), summed
in int64; otherwise float64 (exact below 2^53), and int64 matmul beyond.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .intmath import as_int64, value_hull
from .xp import NP, ArrayOps, Gemm


def int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact ``a @ b`` for integer numpy arrays (numpy broadcasting rules), as int64.

    The standalone entry: the GEMM path is chosen from the operands' values.
    Executors build the GEMM once from proven ranges (:meth:`ArrayOps.gemm`).
    """
    a = as_int64(a, "a")
    b = as_int64(b, "b")
    return NP.gemm(value_hull(a), value_hull(b), a.shape[-1])(a, b)


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, xp: ArrayOps | None = None,
           gemm: Gemm | None = None) -> np.ndarray:
    """``acc = x @ w.T (+ b)`` with torch layout: x [..., K], w [N, K], b [N].

    A planned call passes ``xp`` and a ``gemm`` prepared with the constant
    ``w.T`` (then ``w`` is not read).
    """
    if xp is None:
        x = as_int64(x, "x")
        w = as_int64(w, "weight")
        b = None if b is None else as_int64(b, "bias")
        gemm = NP.gemm(value_hull(x), value_hull(w), x.shape[-1], w.T)
    acc = gemm(x)
    if b is not None:
        acc = acc + b
    return acc


def matmul(a: np.ndarray, b: np.ndarray, transpose_b: bool = False, *, xp: ArrayOps | None = None,
           gemm: Gemm | None = None) -> np.ndarray:
    """Batched integer matmul; ``transpose_b`` swaps b's last two axes (q @ k^T)."""
    if xp is None:
        xp = NP
        a = as_int64(a, "a")
        b = as_int64(b, "b")
        gemm = NP.gemm(value_hull(a), value_hull(b), a.shape[-1])
    if transpose_b:
        nd = len(xp.shape(b))
        b = xp.permute(b, [*range(nd - 2), nd - 1, nd - 2])
    return gemm(a, b)


def im2col_patches(x: Any, patch: int, *, xp: ArrayOps | None = None) -> Any:
    """Cut [..., C, H, W] into non-overlapping patches: [..., (H/p)*(W/p), C*p*p].

    Patches are ordered row-major over the grid and each patch is flattened
    as (C, p, p), matching a stride-p convolution's weight layout.
    """
    xp = xp or NP
    *lead, c, h, w = xp.shape(x)
    if h % patch or w % patch:
        raise ValueError(f"image {h}x{w} is not divisible by patch size {patch}")
    gh, gw = h // patch, w // patch
    x = x.reshape(*lead, c, gh, patch, gw, patch)
    nd = len(lead)
    perm = list(range(nd)) + [nd + 1, nd + 3, nd + 0, nd + 2, nd + 4]
    x = xp.permute(x, perm)
    return x.reshape(*lead, gh * gw, c * patch * patch)


def check_patch_weight(w_shape: tuple[int, ...], patch: int) -> None:
    """ValueError unless a patch-embedding weight is [O, C, p, p]."""
    if len(w_shape) != 4 or w_shape[2] != patch or w_shape[3] != patch:
        raise ValueError(f"patch_embed: weight shape {tuple(w_shape)} does not match patch size {patch}")


def patch_embed(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, patch: int, *, xp: ArrayOps | None = None,
                gemm: Gemm | None = None) -> np.ndarray:
    """Stride-``patch`` convolution as a GEMM: x [..., C, H, W], w [O, C, p, p] -> [..., N, O]."""
    if xp is None:
        w = as_int64(w, "weight")
        check_patch_weight(w.shape, patch)
        cols = im2col_patches(as_int64(x, "x"), patch)
        return linear(cols, w.reshape(w.shape[0], -1), b)
    return linear(im2col_patches(x, patch, xp=xp), w, b, xp=xp, gemm=gemm)

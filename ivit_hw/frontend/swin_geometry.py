"""Swin window geometry without torch (relative-position index, window partition,
shifted-window keep-mask), written once in numpy.

The float model (:mod:`.swin`), its quantized twin and the from-scratch forward all
read the geometry from here, so the three agree by construction. The layout follows
timm 1.0 ``SwinTransformer`` (``swin_*_patch4_window7_224``): patch merging at the
start of stages 1.., per-block window ``min(window, resolution)`` and no shift where
the resolution is not larger than the window (timm's ``_calc_window_shift``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["relative_position_index", "shift_keep_mask", "window_partition"]


def relative_position_index(window: int) -> np.ndarray:
    """timm's ``get_relative_position_index``: [N, N] rows of the (2w-1)^2 bias table, N = w*w."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]


def window_partition(x: np.ndarray, window: int) -> np.ndarray:
    """[..., H, W, C] -> [..., nW, w*w, C] (windows row-major, tokens row-major inside)."""
    *lead, h, w, c = x.shape
    x = x.reshape(*lead, h // window, window, w // window, window, c)
    x = np.moveaxis(x, -4, -3)  # [..., H/w, W/w, w, w, C]
    return x.reshape(*lead, (h // window) * (w // window), window * window, c)


def shift_keep_mask(resolution: int, window: int, shift: int) -> np.ndarray | None:
    """Shifted-window keep-mask [nW, N, N] (True = the two tokens share a region), None without a shift.

    timm labels the rolled image's 3x3 regions and masks pairs with different labels (it adds
    -100 there); here the same pairs are the ones a boolean mask removes.
    """
    if shift == 0:
        return None
    label = np.zeros((resolution, resolution, 1), dtype=np.int64)
    bounds = ((0, resolution - window), (resolution - window, resolution - shift), (resolution - shift, resolution))
    cnt = 0
    for h0, h1 in bounds:
        for w0, w1 in bounds:
            label[h0:h1, w0:w1] = cnt
            cnt += 1
    win = window_partition(label, window)[..., 0]  # [nW, N]
    return win[:, None, :] == win[:, :, None]

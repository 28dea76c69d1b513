"""Swin checkpoints: the old timm / Microsoft key layout, and one-line checks of the
architecture facts a state dict carries (family, depths, window, image size, patch).

timm <= 0.8 and the official Microsoft weights put patch merging at the *end* of
stage s (``layers.{s}.downsample``, s = 0..n-2), call the head ``head`` and store
the ``relative_position_index`` / ``attn_mask`` buffers; timm 1.0 puts merging at the
start of stage s+1 and calls the head ``head.fc`` (timm's ``checkpoint_filter_fn``
maps old to new the same way). The buffers are dropped here (the model recomputes
them) after the image size they imply has been checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .checkpoint import CheckpointError

__all__ = ["adapt_state", "family_of", "to_new_layout"]

_OLD_DOWNSAMPLE = re.compile(r"^layers\.(\d+)\.downsample\.")
_BLOCK = re.compile(r"^layers\.(\d+)\.blocks\.(\d+)\.")
_BUFFERS = ("relative_position_index", "attn_mask")


def family_of(state: Mapping[str, torch.Tensor]) -> str | None:
    """"swin", "vit" or None, from the keys only."""
    if any(k.endswith("relative_position_bias_table") or k.startswith("layers.") for k in state):
        return "swin"
    if "pos_embed" in state or any(k.startswith("blocks.") for k in state):
        return "vit"
    return None


def _is_old_layout(state: Mapping[str, torch.Tensor]) -> bool:
    return "head.weight" in state or "layers.0.downsample.reduction.weight" in state


def to_new_layout(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm 1.0 keys from either layout, without the recomputed buffers."""
    old = _is_old_layout(state)
    out = {}
    for k, v in state.items():
        if k.rsplit(".", 1)[-1] in _BUFFERS:
            continue
        if old:
            k = _OLD_DOWNSAMPLE.sub(lambda m: f"layers.{int(m.group(1)) + 1}.downsample.", k)
            if k.startswith("head.") and not k.startswith("head.fc."):
                k = "head.fc." + k[len("head."):]
        out[k] = v
    return out


def _check_swin(state: Mapping[str, torch.Tensor], cfg, path: Path) -> None:
    """One CheckpointError line naming the first key whose architecture fact differs from ``cfg``."""
    where = f"checkpoint {path}"
    depths: dict[int, int] = {}
    for k in state:
        m = _BLOCK.match(k)
        if m:
            s, b = int(m.group(1)), int(m.group(2))
            depths[s] = max(depths.get(s, 0), b + 1)
    got = tuple(depths.get(s, 0) for s in range(max(depths, default=-1) + 1))
    if got != tuple(cfg.depths):
        raise CheckpointError(f"{where}: layers.*.blocks.*: depths {got} in the checkpoint vs {tuple(cfg.depths)} "
                              "in the model", path)
    proj = state.get("patch_embed.proj.weight")
    if proj is not None and tuple(proj.shape[1:]) != (cfg.in_chans, cfg.patch_size, cfg.patch_size):
        raise CheckpointError(f"{where}: patch_embed.proj.weight: {proj.shape[1]} channels, patch {proj.shape[2]} in "
                              f"the checkpoint vs {cfg.in_chans} channels, patch {cfg.patch_size} in the model", path)
    for s, depth in enumerate(cfg.depths):
        for b in range(depth):
            pre = f"layers.{s}.blocks.{b}.attn."
            key = pre + "relative_position_bias_table"
            if key not in state:
                raise CheckpointError(f"{where}: missing key {key} (the relative-position bias table)", path)
            rows = int(state[key].shape[0])
            win = (math.isqrt(rows) + 1) // 2
            if rows != (2 * cfg.window(s) - 1) ** 2:
                raise CheckpointError(f"{where}: {key}: window {win} ({rows} rows) in the checkpoint vs "
                                      f"{cfg.window(s)} ({(2 * cfg.window(s) - 1) ** 2} rows) in the model", path)
            mask = state.get(f"layers.{s}.blocks.{b}.attn_mask")
            if mask is not None and mask.ndim == 3:  # [nW, N, N] of the old layout: nW gives the resolution
                res = math.isqrt(int(mask.shape[0])) * win
                if res != cfg.resolution(s):
                    img = res * cfg.patch_size * 2**s
                    raise CheckpointError(f"{where}: layers.{s}.blocks.{b}.attn_mask: image size {img} "
                                          f"({res} tokens per side) in the checkpoint vs {cfg.img_size} "
                                          f"({cfg.resolution(s)}) in the model", path)


def adapt_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """The state dict as ``model`` loads it: a Swin one checked and mapped to the timm 1.0 keys.

    Raises :class:`CheckpointError` (one line) for a Swin checkpoint given to a ViT model or the
    reverse, and for depths, window, image size or patch that differ from the model's config.
    """
    from .presets import SwinConfig

    cfg = getattr(model, "config", None)
    want = "swin" if isinstance(cfg, SwinConfig) else "vit"
    got = family_of(state)
    if got is not None and got != want:
        names = {"swin": "a Swin (layers.*, relative_position_bias_table)", "vit": "a ViT/DeiT (pos_embed, blocks.*)"}
        raise CheckpointError(f"checkpoint {path} is {names[got]} checkpoint but the model is {names[want]}; "
                              f"choose a {'swin_*' if got == 'swin' else 'ViT/DeiT'} preset", path)
    if want != "swin":
        return dict(state)
    _check_swin(state, cfg, path)
    return to_new_layout(state)

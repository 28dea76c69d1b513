"""Float ViT / DeiT in plain torch, with timm-compatible parameter names.

The module tree mirrors timm's ``VisionTransformer`` state-dict layout so a timm
DeiT/ViT checkpoint loads with no key renaming::

    cls_token [1, 1, D]              pos_embed [1, N(+1), D]
    patch_embed.proj.{weight,bias}   (Conv2d, kernel = stride = patch)
    blocks.{i}.norm1.*  blocks.{i}.attn.qkv.*  blocks.{i}.attn.proj.*
    blocks.{i}.norm2.*  blocks.{i}.mlp.fc1.*   blocks.{i}.mlp.fc2.*
    norm.*  head.*

The classes are deliberately plain (explicit submodules, explicit matmuls, no
fused attention) so the quantized twins can mirror them one to one. The float
``forward`` takes an already-normalised image; ``forward_uint8`` takes raw
uint8 pixels and applies the model's own :class:`Normalize`, which the integer
graph later folds into the patch embedding.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from .presets import (
    DIGITS_NORMALIZE,
    IMAGENET_NORMALIZE,
    INCEPTION_NORMALIZE,
    PRESETS,
    Normalize,
    SwinConfig,
    ViTConfig,
)

__all__ = [
    "DIGITS_NORMALIZE",
    "IMAGENET_NORMALIZE",
    "INCEPTION_NORMALIZE",
    "PRESETS",
    "Attention",
    "Block",
    "Mlp",
    "Normalize",
    "PatchEmbed",
    "ViTConfig",
    "VisionTransformer",
    "create_model",
]


class PatchEmbed(nn.Module):
    """Non-overlapping patches via a stride-p Conv2d, flattened to tokens [B, N, D]."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.grid_size = img_size // patch_size
        self.num_patches = self.grid_size**2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_chans, self.img_size, self.img_size):
            raise ValueError(
                f"PatchEmbed expects [B, {self.in_chans}, {self.img_size}, {self.img_size}], got {list(x.shape)}"
            )
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv Linear (q, k, v order, timm head split)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each [B, H, N, hd]
        scores = (q @ k.transpose(-2, -1)) * self.scale
        attn = scores.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out)


class Mlp(nn.Module):
    """fc1 -> exact (erf) GELU -> fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="none")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden: int, qkv_bias: bool, ln_eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=ln_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=ln_eps)
        self.mlp = Mlp(dim, mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def init_layers(model: nn.Module) -> None:
    """Linear / Conv2d weights truncated normal 0.02 (biases 0), LayerNorms 1 / 0 (torch's global RNG)."""
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class VisionTransformer(nn.Module):
    """ViT / DeiT classifier. Pools the class token (or the token mean when class_token=False)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.normalize = c.normalize
        self.num_classes = c.num_classes
        self.embed_dim = c.embed_dim
        self.patch_embed = PatchEmbed(c.img_size, c.patch_size, c.in_chans, c.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.embed_dim)) if c.class_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, c.num_tokens, c.embed_dim))
        self.blocks = nn.ModuleList(
            Block(c.embed_dim, c.num_heads, c.mlp_hidden, c.qkv_bias, c.ln_eps) for _ in range(c.depth)
        )
        self.norm = nn.LayerNorm(c.embed_dim, eps=c.ln_eps)
        self.head = nn.Linear(c.embed_dim, c.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random init in the usual ViT style (truncated normal 0.02; uses torch's global RNG)."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02, a=-0.04, b=0.04)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)
        init_layers(self)

    def normalize_uint8(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels [B, C, H, W] in 0..255 -> normalised float32 image."""
        if pixels.dtype != torch.uint8:
            raise TypeError(f"forward_uint8 expects a uint8 tensor, got {pixels.dtype}")
        if pixels.ndim != 4 or pixels.shape[1] != self.normalize.channels:
            raise ValueError(f"expected uint8 pixels [B, {self.normalize.channels}, H, W], got {list(pixels.shape)}")
        dev = pixels.device
        mean = torch.tensor(self.normalize.mean, dtype=torch.float32, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(self.normalize.std, dtype=torch.float32, device=dev).view(1, -1, 1, 1)
        return (pixels.to(torch.float32) / 255.0 - mean) / std

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image -> final-normed tokens [B, N(+1), D]."""
        x = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised float image [B, C, H, W] -> logits [B, num_classes]."""
        tokens = self.forward_features(x)
        pooled = tokens[:, 0] if self.cls_token is not None else tokens.mean(dim=1)
        return self.head(pooled)

    def forward_uint8(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels [B, C, H, W] -> logits, normalising with ``self.normalize`` first."""
        return self.forward(self.normalize_uint8(pixels))


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a randomly initialised model from a preset, with optional config field overrides
    (a :class:`VisionTransformer`, or a :class:`~.swin.SwinTransformer` for the ``swin_*`` presets).

    Example: ``create_model("deit_tiny", num_classes=10)``.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[name]
    if overrides:
        known = {f.name for f in dataclasses.fields(type(cfg))}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ValueError(f"create_model({name!r}): unknown config fields {bad}; known: {sorted(known)}")
        cfg = dataclasses.replace(cfg, **overrides)
    if isinstance(cfg, SwinConfig):
        from .swin import SwinTransformer

        return SwinTransformer(cfg)
    return VisionTransformer(cfg)

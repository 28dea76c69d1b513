"""Float Swin Transformer in plain torch, with timm 1.0 state-dict names.

The module tree mirrors timm's ``SwinTransformer`` (``swin_*_patch4_window7_224``)::

    patch_embed.proj.*  patch_embed.norm.*
    layers.{s}.downsample.norm.*  layers.{s}.downsample.reduction.weight   (s >= 1, at the stage's start)
    layers.{s}.blocks.{b}.norm1.*  .attn.qkv.*  .attn.proj.*  .attn.relative_position_bias_table
    layers.{s}.blocks.{b}.norm2.*  .mlp.fc1.*  .mlp.fc2.*
    norm.*  head.fc.*

``relative_position_index`` and the shifted-window mask are recomputed from
:mod:`.swin_geometry` (non-persistent buffers, as in timm). Activations are
NHWC between blocks. Like :class:`~.models.VisionTransformer`, ``forward`` takes
a normalised image and ``forward_uint8`` raw uint8 pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import Mlp, VisionTransformer, init_layers
from .presets import SwinConfig
from .swin_geometry import relative_position_index, shift_keep_mask

__all__ = ["PatchMerging", "SwinBlock", "SwinStage", "SwinTransformer", "WindowAttention", "roll_windows",
           "unroll_windows"]

#: what timm adds to the scores of token pairs from different regions of a shifted window
MASK_VALUE = -100.0


def roll_windows(x: torch.Tensor, window: int, shift: int) -> torch.Tensor:
    """[B, H, W, C] -> [B * nW, w*w, C]: cyclic shift by -shift on H and W, then window partition."""
    if shift:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(2, 3)
    return x.reshape(-1, window * window, c)


def unroll_windows(x: torch.Tensor, window: int, shift: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`roll_windows`: [B * nW, w*w, C] -> [B, H, W, C]."""
    c = x.shape[-1]
    x = x.reshape(-1, h // window, w // window, window, window, c).transpose(2, 3).reshape(-1, h, w, c)
    return torch.roll(x, shifts=(shift, shift), dims=(1, 2)) if shift else x


class WindowAttention(nn.Module):
    """Window multi-head self-attention with a learned relative-position bias (timm names)."""

    def __init__(self, dim: int, num_heads: int, window: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.window = window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        index = torch.as_tensor(relative_position_index(window), dtype=torch.long)
        self.register_buffer("relative_position_index", index, persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def relative_bias(self) -> torch.Tensor:
        """The gathered bias [nH, N, N]."""
        n = self.window * self.window
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B*nW, N, C]; mask [nW, N, N] additive (0 / -100) or None."""
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1) + self.relative_bias()
        if mask is not None:
            nw = mask.shape[0]
            attn = (attn.view(-1, nw, self.num_heads, n, n) + mask[None, :, None]).view(-1, self.num_heads, n, n)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(bw, n, c)
        return self.proj(x)


class SwinBlock(nn.Module):
    """x + attn(norm1(x)) over (shifted) windows, then x + mlp(norm2(x)); x is [B, H, W, C]."""

    def __init__(self, cfg: SwinConfig, stage: int, block: int) -> None:
        super().__init__()
        dim = cfg.stage_dim(stage)
        self.resolution = cfg.resolution(stage)
        self.window = cfg.window(stage)
        self.shift = cfg.shift(stage, block)
        self.norm1 = nn.LayerNorm(dim, eps=cfg.ln_eps)
        self.attn = WindowAttention(dim, cfg.num_heads[stage], self.window, cfg.qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.ln_eps)
        self.mlp = Mlp(dim, cfg.mlp_hidden(stage))
        keep = shift_keep_mask(self.resolution, self.window, self.shift)
        mask = None if keep is None else torch.where(torch.as_tensor(keep), 0.0, MASK_VALUE)
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        win = roll_windows(self.norm1(x), self.window, self.shift)
        x = x + unroll_windows(self.attn(win, self.attn_mask), self.window, self.shift, h, w)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """[B, H, W, C] -> [B, H/2, W/2, 2C]: 2x2 neighbours (0,0), (1,0), (0,1), (1,1) on channels, norm, reduction."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """Optional patch merging at the start, then the stage's blocks."""

    def __init__(self, cfg: SwinConfig, stage: int) -> None:
        super().__init__()
        self.downsample = PatchMerging(cfg.stage_dim(stage - 1), cfg.ln_eps) if stage > 0 else nn.Identity()
        self.blocks = nn.Sequential(*(SwinBlock(cfg, stage, b) for b in range(cfg.depths[stage])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class _PatchEmbed(nn.Module):
    """Stride-p Conv2d and LayerNorm, NHWC output (timm's PatchEmbed with ``norm_layer``)."""

    def __init__(self, cfg: SwinConfig) -> None:
        super().__init__()
        self.img_size, self.in_chans, self.patch_size = cfg.img_size, cfg.in_chans, cfg.patch_size
        self.proj = nn.Conv2d(cfg.in_chans, cfg.embed_dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.ln_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_chans, self.img_size, self.img_size):
            raise ValueError(
                f"PatchEmbed expects [B, {self.in_chans}, {self.img_size}, {self.img_size}], got {list(x.shape)}")
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class _Head(nn.Module):
    """Average pool over tokens, then ``fc`` (timm's ClassifierHead naming)."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(1, 2)))


class SwinTransformer(nn.Module):
    """Swin classifier (timm layout); see the module docstring."""

    def __init__(self, config: SwinConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = config.normalize
        self.num_classes = config.num_classes
        self.patch_embed = _PatchEmbed(config)
        self.layers = nn.Sequential(*(SwinStage(config, s) for s in range(config.num_stages)))
        self.norm = nn.LayerNorm(config.num_features, eps=config.ln_eps)
        self.head = _Head(config.num_features, config.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random init as timm (truncated normal 0.02 for weights and bias tables; torch's global RNG)."""
        for name, p in self.named_parameters():
            if name.endswith("relative_position_bias_table"):
                nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)
        init_layers(self)

    #: uint8 pixels [B, C, H, W] in 0..255 -> normalised float32 image (the ViT's, on ``self.normalize``)
    normalize_uint8 = VisionTransformer.normalize_uint8

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image -> final-normed NHWC features."""
        return self.norm(self.layers(self.patch_embed(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised float image [B, C, H, W] -> logits [B, num_classes]."""
        return self.head(self.forward_features(x))

    def forward_uint8(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels [B, C, H, W] -> logits, normalising with ``self.normalize`` first."""
        return self.forward(self.normalize_uint8(pixels))


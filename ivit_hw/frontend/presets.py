"""Model presets and their shapes, without torch: ``Normalize``, ``ViTConfig``, ``PRESETS``.

Kept apart from :mod:`.models` so the command line can list the presets (and
the core can read them) with numpy and pyyaml alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_CROP_PCT",
    "IMAGE_EXTENSIONS",
    "DIGITS_NORMALIZE",
    "IMAGENET_NORMALIZE",
    "INCEPTION_NORMALIZE",
    "PRESETS",
    "Normalize",
    "ViTConfig",
]

#: timm's eval crop fraction for deit_*_patch16_224 and vit_*_patch16_224 (their pretrained cfg):
#: resize the shorter side to floor(img_size / 0.9) = 248 for 224, then center-crop 224.
DEFAULT_CROP_PCT = 0.9
#: File extensions (lower case) read as images (image folders, ``run --input``).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass(frozen=True)
class Normalize:
    """Per-channel input normalisation: ``x = (pixel / 255 - mean) / std``.

    mean and std are in units of the [0, 1] pixel range, as timm writes them.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError(f"Normalize: mean {self.mean} and std {self.std} must be non-empty and of equal length")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Normalize: every std must be > 0, got {self.std}")

    @property
    def channels(self) -> int:
        """Number of channels this normalisation describes."""
        return len(self.mean)


#: timm's IMAGENET_DEFAULT_MEAN / STD (DeiT checkpoints were trained with these).
IMAGENET_NORMALIZE = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: timm's IMAGENET_INCEPTION_MEAN / STD (0.5 / 0.5), used by timm's original and augreg ViT weights.
INCEPTION_NORMALIZE = Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
#: sklearn digits, fixed constants: the mean and std of ``pixel / 255`` over the digits train
#: split of ``data.load_digits_split(seed=0)`` (0.30528 and 0.37584), rounded to 3 decimals.
DIGITS_NORMALIZE = Normalize((0.305,), (0.376,))


@dataclass(frozen=True)
class ViTConfig:
    """Shape of a ViT / DeiT. ``normalize`` defaults to ImageNet mean/std (3 channels)."""

    img_size: int
    patch_size: int
    in_chans: int
    num_classes: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    qkv_bias: bool = True
    ln_eps: float = 1e-6
    class_token: bool = True
    normalize: Normalize = field(default=IMAGENET_NORMALIZE)

    def __post_init__(self) -> None:
        for name in ("img_size", "patch_size", "in_chans", "num_classes", "embed_dim", "depth", "num_heads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ViTConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.img_size % self.patch_size:
            raise ValueError(f"ViTConfig: img_size {self.img_size} is not divisible by patch_size {self.patch_size}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"ViTConfig: embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.normalize.channels != self.in_chans:
            raise ValueError(
                f"ViTConfig: normalize has {self.normalize.channels} channels but in_chans is {self.in_chans}"
            )

    @property
    def grid_size(self) -> int:
        """Patches per side."""
        return self.img_size // self.patch_size

    @property
    def num_patches(self) -> int:
        """Number of patch tokens (without the class token)."""
        return self.grid_size**2

    @property
    def num_tokens(self) -> int:
        """Sequence length seen by the blocks (patches plus class token)."""
        return self.num_patches + int(self.class_token)

    @property
    def head_dim(self) -> int:
        """Channels per attention head."""
        return self.embed_dim // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        """Hidden width of the MLP (``int(embed_dim * mlp_ratio)``, as timm)."""
        return int(self.embed_dim * self.mlp_ratio)


def _imagenet(embed_dim: int, num_heads: int, normalize: Normalize) -> ViTConfig:
    return ViTConfig(
        img_size=224,
        patch_size=16,
        in_chans=3,
        num_classes=1000,
        embed_dim=embed_dim,
        depth=12,
        num_heads=num_heads,
        mlp_ratio=4.0,
        normalize=normalize,
    )


#: Named configurations. DeiT presets match timm ``deit_*_patch16_224``; ViT presets match
#: timm ``vit_{small,base}_patch16_224`` (same shapes, Inception 0.5/0.5 normalisation as
#: those timm weights use). ``vit_digits`` is the small model for sklearn digits (8x8, 1 channel,
#: no upsampling): 16 patches of 2x2 plus the class token.
PRESETS: dict[str, ViTConfig] = {
    "deit_tiny": _imagenet(192, 3, IMAGENET_NORMALIZE),
    "deit_small": _imagenet(384, 6, IMAGENET_NORMALIZE),
    "deit_base": _imagenet(768, 12, IMAGENET_NORMALIZE),
    "vit_small": _imagenet(384, 6, INCEPTION_NORMALIZE),
    "vit_base": _imagenet(768, 12, INCEPTION_NORMALIZE),
    "vit_digits": ViTConfig(
        img_size=8,
        patch_size=2,
        in_chans=1,
        num_classes=10,
        embed_dim=64,
        depth=4,
        num_heads=4,
        mlp_ratio=2.0,
        normalize=DIGITS_NORMALIZE,
    ),
}

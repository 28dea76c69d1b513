"""Model presets and their shapes, without torch: ``Normalize``, ``ViTConfig``, ``PRESETS``.

Kept apart from :mod:`.models` so the command line can list the presets (and
the core can read them) with numpy and pyyaml alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_CROP_PCT",
    "IMAGE_EXTENSIONS",
    "SWIN_PRESETS",
    "SwinConfig",
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
PRESETS: dict[str, ViTConfig | SwinConfig] = {
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


@dataclass(frozen=True)
class SwinConfig:
    """Shape of a Swin Transformer (square images, square windows)."""

    img_size: int
    patch_size: int
    in_chans: int
    num_classes: int
    embed_dim: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: int
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    ln_eps: float = 1e-5
    normalize: Normalize = field(default=IMAGENET_NORMALIZE)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))
        for name in ("img_size", "patch_size", "in_chans", "num_classes", "embed_dim", "window_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"SwinConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.depths or len(self.depths) != len(self.num_heads) or min(self.depths) < 1:
            raise ValueError(f"SwinConfig: depths {self.depths} and num_heads {self.num_heads} must be non-empty, "
                             "of equal length, every depth >= 1")
        if self.img_size % self.patch_size:
            raise ValueError(f"SwinConfig: img_size {self.img_size} is not divisible by patch_size {self.patch_size}")
        for s in range(self.num_stages):
            res, win, dim = self.resolution(s), self.window(s), self.stage_dim(s)
            if s > 0 and self.resolution(s - 1) % 2:
                raise ValueError(f"SwinConfig: stage {s - 1} resolution {self.resolution(s - 1)} is odd; "
                                 "patch merging needs an even one")
            if res % win:
                raise ValueError(f"SwinConfig: stage {s} resolution {res} (img_size {self.img_size} / patch "
                                 f"{self.patch_size} / {2 ** s}) is not divisible by window_size {win}")
            if dim % self.num_heads[s]:
                raise ValueError(f"SwinConfig: stage {s} dim {dim} is not divisible by {self.num_heads[s]} heads")
        if self.normalize.channels != self.in_chans:
            raise ValueError(f"SwinConfig: normalize has {self.normalize.channels} channels but in_chans is "
                             f"{self.in_chans}")

    @property
    def num_stages(self) -> int:
        """Number of stages (patch merging between consecutive ones)."""
        return len(self.depths)

    @property
    def grid_size(self) -> int:
        """Patches per side at stage 0."""
        return self.img_size // self.patch_size

    @property
    def depth(self) -> int:
        """Total number of blocks."""
        return sum(self.depths)

    @property
    def num_features(self) -> int:
        """Channels of the last stage (the head's input)."""
        return self.stage_dim(self.num_stages - 1)

    def resolution(self, stage: int) -> int:
        """Tokens per side in ``stage``."""
        return self.grid_size // 2**stage

    def stage_dim(self, stage: int) -> int:
        """Channels in ``stage``."""
        return self.embed_dim * 2**stage

    def window(self, stage: int) -> int:
        """Window side in ``stage``: the configured one, or the resolution when that is smaller."""
        return min(self.window_size, self.resolution(stage))

    def shift(self, stage: int, block: int) -> int:
        """Cyclic shift of ``block`` in ``stage``: window // 2 on odd blocks, 0 when one window covers the stage."""
        if block % 2 == 0 or self.resolution(stage) <= self.window_size:
            return 0
        return self.window(stage) // 2

    def mlp_hidden(self, stage: int) -> int:
        """Hidden width of a stage's MLP (``int(dim * mlp_ratio)``, as timm)."""
        return int(self.stage_dim(stage) * self.mlp_ratio)


def _swin_imagenet(embed_dim: int, depths: tuple[int, ...], heads: tuple[int, ...]) -> SwinConfig:
    return SwinConfig(img_size=224, patch_size=4, in_chans=3, num_classes=1000, embed_dim=embed_dim,
                      depths=depths, num_heads=heads, window_size=7)


#: timm ``swin_{tiny,small,base}_patch4_window7_224`` shapes, and ``swin_digits`` for sklearn digits
#: (8x8, 1 channel): 2x2 patches, 2x2 windows; stage 0 (4x4 tokens, four windows) shifts by 1 on its
#: second block, patch merging, stage 1 (2x2 tokens, one window, no shift).
SWIN_PRESETS: dict[str, SwinConfig] = {
    "swin_tiny": _swin_imagenet(96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "swin_small": _swin_imagenet(96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "swin_base": _swin_imagenet(128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "swin_digits": SwinConfig(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=32, depths=(2, 2),
                              num_heads=(2, 4), window_size=2, mlp_ratio=2.0, normalize=DIGITS_NORMALIZE),
}
PRESETS.update(SWIN_PRESETS)

"""Float model frontend: ViT/DeiT in torch, checkpoints, image data and float training.

torch, PIL and sklearn are needed here (the ``torch`` extra); ``ivit_hw.ops`` and
``ivit_hw.ir`` never import this package.
"""

from .checkpoint import CheckpointError, load_checkpoint, read_state_dict, save_checkpoint
from .data import (
    DataError,
    DigitsSplit,
    ImageFolderDataset,
    digits_to_uint8,
    eval_transform,
    load_calibration,
    load_digits_split,
)
from .models import (
    DIGITS_NORMALIZE,
    IMAGENET_NORMALIZE,
    INCEPTION_NORMALIZE,
    PRESETS,
    Attention,
    Block,
    Mlp,
    Normalize,
    PatchEmbed,
    VisionTransformer,
    ViTConfig,
    create_model,
)
from .train import DIGITS_RECIPE, TrainResult, evaluate_float, random_shift, train_digits, train_float

__all__ = [
    "DIGITS_NORMALIZE",
    "DIGITS_RECIPE",
    "IMAGENET_NORMALIZE",
    "INCEPTION_NORMALIZE",
    "PRESETS",
    "Attention",
    "Block",
    "CheckpointError",
    "DataError",
    "DigitsSplit",
    "ImageFolderDataset",
    "Mlp",
    "Normalize",
    "PatchEmbed",
    "TrainResult",
    "ViTConfig",
    "VisionTransformer",
    "create_model",
    "digits_to_uint8",
    "eval_transform",
    "evaluate_float",
    "load_calibration",
    "load_checkpoint",
    "load_digits_split",
    "random_shift",
    "read_state_dict",
    "save_checkpoint",
    "train_digits",
    "train_float",
]

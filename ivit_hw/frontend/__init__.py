"""Float model frontend: ViT/DeiT in torch, checkpoints, image data and float training.

torch, PIL and sklearn are needed by most of this package (the ``torch``
extra), but importing it is free: names are loaded on first use, so the
command line (``ivit_hw.frontend.commands``) and the torch-free
:mod:`.presets` work with numpy and pyyaml alone. ``ivit_hw.ops`` and
``ivit_hw.ir`` never import this package.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule that defines it (imported lazily, see ``__getattr__``).
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("CheckpointError", "load_checkpoint", "read_state_dict", "save_checkpoint"), "checkpoint"),
    **dict.fromkeys(("DataError", "DigitsSplit", "ImageFolderDataset", "digits_to_uint8", "eval_transform",
                     "load_calibration", "load_digits_split"), "data"),
    **dict.fromkeys(("DEFAULT_CROP_PCT", "DIGITS_NORMALIZE", "IMAGENET_NORMALIZE", "INCEPTION_NORMALIZE", "PRESETS",
                     "Normalize", "ViTConfig"), "presets"),
    **dict.fromkeys(("Attention", "Block", "Mlp", "PatchEmbed", "VisionTransformer", "create_model"), "models"),
    **dict.fromkeys(("DIGITS_RECIPE", "TrainResult", "evaluate_float", "random_shift", "train_digits",
                     "train_float"), "train"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule holding ``name`` on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

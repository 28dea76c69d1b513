"""Load and save float checkpoints (``.pth`` / ``.pt`` via torch, ``.safetensors``) with one clear error.

Keys follow timm's VisionTransformer layout (see :mod:`.models`), so a timm DeiT/ViT
checkpoint loads as is. A mismatch is reported once, listing every missing key,
unexpected key and shape mismatch together with the file path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["NESTED_KEYS", "STRIP_PREFIXES", "CheckpointError", "load_checkpoint", "read_state_dict", "save_checkpoint"]

#: Containers a training checkpoint may nest its weights under, tried in this order.
NESTED_KEYS: tuple[str, ...] = ("model", "state_dict", "model_ema")
#: Prefixes stripped when every key carries them (DataParallel / DDP, torch.compile).
STRIP_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")
_TORCH_SUFFIXES = (".pth", ".pt")
_SAFETENSORS_SUFFIX = ".safetensors"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not match the model; the message names the file.

    ``missing``, ``unexpected`` and ``mismatched`` (key, checkpoint shape, model shape) hold
    the details of a key/shape mismatch; they are empty for read errors.
    """

    def __init__(
        self,
        message: str,
        path: str | os.PathLike[str] | None = None,
        missing: list[str] | None = None,
        unexpected: list[str] | None = None,
        mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] | None = None,
    ) -> None:
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)
        self.missing = missing or []
        self.unexpected = unexpected or []
        self.mismatched = mismatched or []


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in NESTED_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(
            f"checkpoint {path}: no state dict found (expected tensors, or one under {NESTED_KEYS})", path
        )
    bad = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise CheckpointError(f"checkpoint {path}: entries that are not tensors: {', '.join(bad)}", path)
    return {str(k): v for k, v in obj.items()}


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    changed = True
    while changed:
        changed = False
        for prefix in STRIP_PREFIXES:
            if state and all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                changed = True
    return state


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a checkpoint file into a flat state dict (unwrapped, prefixes stripped)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist", p)
    suffix = p.suffix.lower()
    try:
        if suffix == _SAFETENSORS_SUFFIX:
            from safetensors.torch import load_file

            obj: Any = load_file(str(p), device="cpu")
        elif suffix in _TORCH_SUFFIXES:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        else:
            raise CheckpointError(
                f"checkpoint {p}: unsupported extension {p.suffix!r} (use .pth, .pt or .safetensors)", p
            )
    except CheckpointError:
        raise
    except Exception as exc:  # torch / safetensors raise many types for corrupt or unsafe files
        raise CheckpointError(f"checkpoint {p} could not be read: {type(exc).__name__}: {exc}", p) from exc
    return _strip_prefixes(_unwrap(obj, p))


def _mismatch_message(
    path: Path,
    model: nn.Module,
    missing: list[str],
    unexpected: list[str],
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
) -> str:
    lines = [f"checkpoint {path} does not match {type(model).__name__}:"]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing))
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
    if mismatched:
        lines.append(f"  shape mismatches ({len(mismatched)}):")
        lines.extend(f"    {k}: checkpoint {list(c)} vs model {list(m)}" for k, c, m in mismatched)
    return "\n".join(lines)


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Load weights from ``path`` into ``model`` in place (strict) and return the model.

    Accepts ``.pth``/``.pt`` (``torch.load(weights_only=True)``; a raw state dict or one
    nested under ``model``, ``state_dict`` or ``model_ema``) and ``.safetensors``. Raises
    :class:`CheckpointError` for a missing or unreadable file, or one error listing all
    missing keys, unexpected keys and shape mismatches.
    """
    p = Path(path)
    state = read_state_dict(p)
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected)
    mismatched = sorted(
        (k, tuple(state[k].shape), tuple(expected[k].shape))
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        raise CheckpointError(
            _mismatch_message(p, model, missing, unexpected, mismatched), p, missing, unexpected, mismatched
        )
    model.load_state_dict(state, strict=True)
    return model


def save_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Save ``model.state_dict()`` to ``.safetensors`` or ``.pth``/``.pt`` (raw state dict), by extension."""
    p = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    suffix = p.suffix.lower()
    if suffix == _SAFETENSORS_SUFFIX:
        from safetensors.torch import save_file

        save_file(state, str(p))
    elif suffix in _TORCH_SUFFIXES:
        torch.save(state, p)
    else:
        raise CheckpointError(f"checkpoint {p}: unsupported extension {p.suffix!r} (use .pth, .pt or .safetensors)", p)
    return p

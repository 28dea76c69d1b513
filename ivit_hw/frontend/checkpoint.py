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

from ..errors import UserValueError

__all__ = ["NESTED_KEYS", "STRIP_PREFIXES", "CheckpointError", "load_checkpoint", "read_state_dict", "save_checkpoint"]

#: Containers a training checkpoint may nest its weights under, tried in this order.
NESTED_KEYS: tuple[str, ...] = ("model", "state_dict", "model_ema")
#: Prefixes stripped when every key carries them (DataParallel / DDP, torch.compile).
STRIP_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")
_TORCH_SUFFIXES = (".pth", ".pt")
_SAFETENSORS_SUFFIX = ".safetensors"


class CheckpointError(UserValueError):
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
    if p.is_dir():
        raise CheckpointError(f"checkpoint {p} is a folder; give the .pth, .pt or .safetensors file", p)
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
        kind = "safetensors" if suffix == _SAFETENSORS_SUFFIX else "PyTorch (torch.save)"
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise CheckpointError(f"checkpoint {p} is not a readable {kind} file: it is corrupt, truncated or another "
                              f"format ({type(exc).__name__}: {detail})", p) from exc
    return _strip_prefixes(_unwrap(obj, p))


def _shape_summary(state: Mapping[str, Any]) -> dict[str, int] | None:
    """ViT shape fields read off a timm-style state dict (None when the keys are not there)."""
    try:
        proj = tuple(state["patch_embed.proj.weight"].shape)
        depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
        return {"embed_dim": proj[0], "in_chans": proj[1], "patch_size": proj[2], "depth": depth,
                "num_tokens": int(state["pos_embed"].shape[1]), "num_classes": int(state["head.weight"].shape[0])}
    except (KeyError, ValueError, IndexError, AttributeError):
        return None


def guess_presets(state: Mapping[str, Any]) -> list[str]:
    """Presets whose shapes (embed dim, depth, patch, channels, tokens) match a state dict."""
    from .presets import PRESETS, ViTConfig

    got = _shape_summary(state)
    if got is None:
        return []
    return sorted(name for name, c in PRESETS.items() if isinstance(c, ViTConfig)
                  and (c.embed_dim, c.depth, c.patch_size, c.in_chans, c.num_tokens)
                  == (got["embed_dim"], got["depth"], got["patch_size"], got["in_chans"], got["num_tokens"]))


def _mismatch_message(
    path: Path,
    model: nn.Module,
    missing: list[str],
    unexpected: list[str],
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
    state: Mapping[str, Any],
) -> str:
    """One line: what does not match (counts and the first example of each kind) and which preset would fit."""
    config = getattr(model, "config", None)
    what = type(model).__name__
    if config is not None:
        what += f" (embed_dim {config.embed_dim}, depth {config.depth}, {config.num_classes} classes)"
    same_fields = ("embed_dim", "in_chans", "patch_size", "depth", "num_tokens")
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s), e.g. {', '.join(missing[:3])}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s), e.g. {', '.join(unexpected[:3])}")
    if mismatched:
        k, c, m = mismatched[0]
        parts.append(f"{len(mismatched)} shape mismatch(es), e.g. {k}: checkpoint {list(c)} vs model {list(m)}")
    hint = ""
    fits = guess_presets(state)
    got = _shape_summary(state)
    same = config is not None and got is not None and all(getattr(config, k, None) == got[k] for k in same_fields)
    if same:
        pass  # the right architecture with wrong keys: a preset hint would not help
    elif fits:
        hint = f"; its shapes fit --model {' or '.join(fits)}"
    elif got is not None:
        hint = "; the checkpoint has " + ", ".join(f"{k} {v}" for k, v in got.items())
    return f"checkpoint {path} does not match {what}: " + "; ".join(parts) + hint


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str], keep_blocks: int | None = None) -> nn.Module:
    """Load weights from ``path`` into ``model`` in place (strict) and return the model.

    ``keep_blocks``: drop the checkpoint's ``blocks.<i>.`` entries with ``i >= keep_blocks`` first
    (for a model built with fewer blocks, ``depth=keep_blocks``, to check a flow quickly).

    Accepts ``.pth``/``.pt`` (``torch.load(weights_only=True)``; a raw state dict or one
    nested under ``model``, ``state_dict`` or ``model_ema``) and ``.safetensors``. Raises
    :class:`CheckpointError` for a missing or unreadable file, or one error (one line: counts, the
    first examples and, when the shapes fit another preset, its name) whose ``missing``,
    ``unexpected`` and ``mismatched`` attributes list every key.
    """
    from .swin_checkpoint import adapt_state

    p = Path(path)
    state = adapt_state(model, read_state_dict(p), p)
    if keep_blocks is not None:
        state = {k: v for k, v in state.items()
                 if not (k.startswith("blocks.") and k.split(".")[1].isdigit() and int(k.split(".")[1]) >= keep_blocks)}
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
            _mismatch_message(p, model, missing, unexpected, mismatched, state), p, missing, unexpected, mismatched
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

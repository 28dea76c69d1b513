"""Checkpoint loading: exact round trips in both formats, nesting/prefixes, and one error listing every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ivit_hw.frontend.checkpoint import CheckpointError, load_checkpoint, read_state_dict, save_checkpoint
from ivit_hw.frontend.models import VisionTransformer, create_model


def _model(seed: int, **overrides: object) -> VisionTransformer:
    torch.manual_seed(seed)
    return create_model("vit_digits", **overrides)


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _save(state: dict, path: Path) -> Path:
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
def test_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    src, dst = _model(0), _model(1)
    path = _save(src.state_dict(), tmp_path / f"w{suffix}")
    assert not torch.equal(src.head.weight, dst.head.weight)
    assert load_checkpoint(dst, path) is dst
    _assert_same_weights(src, dst)


def test_round_trip_deit_tiny_preset(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = create_model("deit_tiny", depth=2)
    dst = create_model("deit_tiny", depth=2)
    load_checkpoint(dst, _save(src.state_dict(), tmp_path / "deit.safetensors"))
    _assert_same_weights(src, dst)


@pytest.mark.parametrize("nest", ["model", "state_dict", "model_ema"])
def test_nested_state_dict_with_training_extras(tmp_path: Path, nest: str) -> None:
    src, dst = _model(0), _model(1)
    path = _save({nest: src.state_dict(), "epoch": 7, "args": {"lr": 0.1}}, tmp_path / "ckpt.pth")
    load_checkpoint(dst, path)
    _assert_same_weights(src, dst)


@pytest.mark.parametrize("prefix", ["module.", "module._orig_mod."])
def test_prefixes_are_stripped(tmp_path: Path, prefix: str) -> None:
    src, dst = _model(0), _model(1)
    path = _save({prefix + k: v for k, v in src.state_dict().items()}, tmp_path / "ddp.safetensors")
    load_checkpoint(dst, path)
    _assert_same_weights(src, dst)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_one_error_lists_missing_unexpected_and_mismatched(tmp_path: Path, suffix: str) -> None:
    state = dict(_model(0).state_dict())
    del state["blocks.1.norm2.bias"]
    del state["head.bias"]
    state["blocks.9.attn.qkv.weight"] = torch.zeros(3, 3)
    state["pos_embed"] = torch.zeros(1, 65, 64)
    path = _save(state, tmp_path / f"broken{suffix}")
    dst = _model(1)
    before = dst.head.weight.clone()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(dst, path)
    msg = str(info.value)
    for text in (
        str(path),
        "blocks.1.norm2.bias",
        "head.bias",
        "blocks.9.attn.qkv.weight",
        "pos_embed",
        "[1, 65, 64]",
        "[1, 17, 64]",
    ):
        assert text in msg
    assert info.value.missing == ["blocks.1.norm2.bias", "head.bias"]
    assert info.value.unexpected == ["blocks.9.attn.qkv.weight"]
    assert [m[0] for m in info.value.mismatched] == ["pos_embed"]
    assert isinstance(info.value, ValueError)
    assert torch.equal(dst.head.weight, before)  # nothing half-loaded


def test_missing_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.pth"
    with pytest.raises(CheckpointError, match="nope.pth"):
        load_checkpoint(_model(0), path)


def test_corrupt_and_unsupported_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_checkpoint(_model(0), bad)
    odd = tmp_path / "w.onnx"
    odd.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unsupported extension"):
        read_state_dict(odd)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.pth"
    torch.save({"model": _model(0)}, path)  # a whole pickled module: refused by weights_only=True
    with pytest.raises(CheckpointError, match="obj.pth"):
        load_checkpoint(_model(1), path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_save_checkpoint_round_trip(tmp_path: Path, suffix: str) -> None:
    src, dst = _model(0), _model(1)
    path = save_checkpoint(src, tmp_path / f"saved{suffix}")
    load_checkpoint(dst, path)
    _assert_same_weights(src, dst)

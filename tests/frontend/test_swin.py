"""Float Swin: timm layout and numerics (against logits timm 1.0.31 produced once, see
``make_swin_reference.py``), the old key layout, and one-line checkpoint mismatch errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ivit_hw.frontend.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from ivit_hw.frontend.models import create_model  # noqa: E402
from ivit_hw.frontend.presets import INCEPTION_NORMALIZE, PRESETS, SwinConfig  # noqa: E402
from ivit_hw.frontend.swin import SwinTransformer  # noqa: E402
from ivit_hw.frontend.swin_geometry import relative_position_index, shift_keep_mask  # noqa: E402

REF = np.load(Path(__file__).with_name("swin_reference.npz"))
TINY = SwinConfig(img_size=32, patch_size=2, in_chans=3, num_classes=5, embed_dim=8, depths=(2, 2, 2),
                  num_heads=(2, 2, 4), window_size=4, mlp_ratio=2.0, normalize=INCEPTION_NORMALIZE)


def _ref_state() -> dict[str, torch.Tensor]:
    return {k[len("state/"):]: torch.from_numpy(REF[k]) for k in REF.files if k.startswith("state/")}


def _old_layout(state: dict[str, torch.Tensor], cfg: SwinConfig) -> dict[str, torch.Tensor]:
    """The timm <= 0.8 / Microsoft layout: downsample at the end of the previous stage, ``head``, buffers."""
    out = {}
    for k, v in state.items():
        if k.startswith("layers.") and ".downsample." in k:
            s = int(k.split(".")[1])
            k = f"layers.{s - 1}." + k.split(".", 2)[2]
        out[k.replace("head.fc.", "head.")] = v
    for s, depth in enumerate(cfg.depths):
        for b in range(depth):
            out[f"layers.{s}.blocks.{b}.attn.relative_position_index"] = torch.as_tensor(
                relative_position_index(cfg.window(s)))
            keep = shift_keep_mask(cfg.resolution(s), cfg.window(s), cfg.shift(s, b))
            if keep is not None:
                out[f"layers.{s}.blocks.{b}.attn_mask"] = torch.where(torch.as_tensor(keep), 0.0, -100.0)
    return out


def _logits(model: SwinTransformer) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(REF["image"])).numpy()


@pytest.mark.parametrize("layout", ["new", "old"])
def test_float_swin_equals_timm_logits(tmp_path: Path, layout: str) -> None:
    state = _ref_state()
    if layout == "old":
        state = _old_layout(state, TINY)
        assert "head.weight" in state and "layers.0.downsample.reduction.weight" in state
    torch.save(state, tmp_path / "ckpt.pth")
    model = load_checkpoint(SwinTransformer(TINY), tmp_path / "ckpt.pth")
    # timm ran the same float32 ops in the same order: equal up to float rounding (here it was bit-equal)
    np.testing.assert_allclose(_logits(model), REF["logits"], rtol=0, atol=1e-5)
    assert np.abs(REF["logits"]).max() > 0.1  # a meaningful comparison


def test_swin_tiny_keys_and_shapes_match_timm() -> None:
    ours = {k: ",".join(map(str, v.shape)) for k, v in create_model("swin_tiny").state_dict().items()}
    timm_keys = dict(zip(REF["swin_tiny_keys"].tolist(), REF["swin_tiny_shapes"].tolist(), strict=True))
    timm_keys = {k: v for k, v in timm_keys.items() if not k.endswith(("relative_position_index", "attn_mask"))}
    assert ours == timm_keys


def test_swin_digits_preset_uses_shift_mask_and_merge() -> None:
    c = PRESETS["swin_digits"]
    assert c.num_stages == 2 and c.shift(0, 1) == 1 and c.shift(0, 0) == 0 and c.shift(1, 1) == 0
    keep = shift_keep_mask(c.resolution(0), c.window(0), c.shift(0, 1))
    assert keep.shape == (4, 4, 4) and keep[0].all() and not keep[3].all()
    assert keep.sum(axis=(1, 2)).tolist() == [16, 8, 8, 4]  # one, two, two and four regions
    m = create_model("swin_digits")
    assert m.forward_uint8(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)).shape == (2, 10)


def _save_swin(tmp_path: Path, cfg: SwinConfig, old: bool = False, drop: str | None = None) -> Path:
    state = SwinTransformer(cfg).state_dict()
    if old:
        state = _old_layout(state, cfg)
    if drop:
        state.pop(drop)
    p = tmp_path / "c.pth"
    torch.save(state, p)
    return p


@pytest.mark.parametrize(
    ("change", "old", "drop", "needle"),
    [
        ({"window_size": 2}, False, None, "layers.0.blocks.0.attn.relative_position_bias_table: window 2 (9 rows) in "
                                          "the checkpoint vs 4 (49 rows) in the model"),
        ({"depths": (2, 1, 2)}, False, None, "depths (2, 1, 2) in the checkpoint vs (2, 2, 2) in the model"),
        ({"img_size": 64}, True, None, "layers.0.blocks.1.attn_mask: image size 64 (32 tokens per side) in the "
                                        "checkpoint vs 32 (16) in the model"),
        ({}, False, "layers.1.blocks.1.attn.relative_position_bias_table",
         "missing key layers.1.blocks.1.attn.relative_position_bias_table"),
    ],
)
def test_swin_checkpoint_mismatch_is_one_line(tmp_path: Path, change, old, drop, needle) -> None:
    p = _save_swin(tmp_path, dataclasses.replace(TINY, **change), old=old, drop=drop)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(SwinTransformer(TINY), p)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_swin_and_vit_checkpoints_are_refused_by_the_other_family(tmp_path: Path) -> None:
    vit = save_checkpoint(create_model("vit_digits"), tmp_path / "vit.safetensors")
    swin = save_checkpoint(create_model("swin_digits"), tmp_path / "swin.safetensors")
    with pytest.raises(CheckpointError, match=r"is a ViT/DeiT .* but the model is a Swin"):
        load_checkpoint(create_model("swin_digits"), vit)
    with pytest.raises(CheckpointError, match=r"is a Swin .* but the model is a ViT/DeiT"):
        load_checkpoint(create_model("vit_digits"), swin)
    load_checkpoint(create_model("swin_digits"), swin)  # and the right one loads

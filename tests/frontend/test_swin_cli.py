"""The CLI on Swin graphs: quantize (from a timm-layout checkpoint), inspect, run (both
backends), eval, compare; and the Swin bad-input cases: one line, exit 2, nothing written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from ivit_hw import cli  # noqa: E402
from ivit_hw.frontend.checkpoint import save_checkpoint  # noqa: E402
from ivit_hw.frontend.data import load_digits_split  # noqa: E402
from ivit_hw.frontend.models import create_model  # noqa: E402
from ivit_hw.frontend.presets import PRESETS  # noqa: E402
from ivit_hw.frontend.swin import SwinTransformer  # noqa: E402
from ivit_hw.ir.serialize import load_graph  # noqa: E402
from ivit_hw.runtime import run_graph  # noqa: E402


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def swin(tmp_path_factory):
    root = tmp_path_factory.mktemp("swin")
    torch.manual_seed(0)
    ckpt = save_checkpoint(create_model("swin_digits"), root / "swin.safetensors")
    code = cli.main(["quantize", "--model", "swin_digits", "--checkpoint", str(ckpt), "--calib", "digits",
                     "--max-calib", "16", "-o", str(root / "g")])
    assert code == 0
    return root, ckpt


def test_swin_inspect_run_eval_compare(capsys, swin):
    root, ckpt = swin
    code, out, err = _run(capsys, "inspect", root / "g")
    assert code == 0 and "width violations:  0" in out, err
    split = load_digits_split()
    np.save(root / "x.npy", split.test_images[:5].astype(np.int64))
    graph = load_graph(root / "g")
    want = run_graph(graph, {"pixels": split.test_images[:5]}).outputs
    for backend in ("numpy", "torch"):
        code, _, err = _run(capsys, "run", root / "g", "--input", root / "x.npy", "--output", root / f"{backend}.npz",
                            "--backend", backend)
        assert code == 0, err
        got = np.load(root / f"{backend}.npz")
        np.testing.assert_array_equal(got["logits"], want["logits"])
    tree = root / "tree"
    for d in range(3):
        (tree / f"c{d}").mkdir(parents=True)
        for j, img in enumerate(split.test_images[split.test_labels == d][:2]):
            Image.fromarray(img[0], mode="L").save(tree / f"c{d}" / f"{j}.png")
    (root / "classes.txt").write_text("c0\nc1\nc2\n")
    code, out, err = _run(capsys, "eval", root / "g", "--imagefolder", tree, "--class-map", root / "classes.txt",
                          "--float-model", "swin_digits", "--checkpoint", ckpt, "--workers", "0", "--quiet")
    assert code == 0 and "integer top-1:" in out and "on 6 images" in out, err
    code, out, err = _run(capsys, "compare", root / "g", "--float-model", "swin_digits", "--checkpoint", ckpt,
                          "--images", "digits", "--max-images", "4", "--out", root / "cmp", "--quiet")
    assert code == 0, err
    md = (root / "cmp" / "compare.md").read_text()
    assert "`layers.0.blocks.1.attn.attn_prob`" in md and "`layers.1.downsample.out`" in md


def _bad_checkpoints(root: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (checkpoint, preset it is given to, text the one-line error must hold)."""
    cfg = PRESETS["swin_digits"]
    out = {}
    torch.manual_seed(0)
    out["vit_to_swin"] = (save_checkpoint(create_model("vit_digits"), root / "vit.safetensors"), "swin_digits",
                          "is a ViT/DeiT (pos_embed, blocks.*) checkpoint but the model is a Swin")
    out["swin_to_vit"] = (save_checkpoint(create_model("swin_digits"), root / "sw.safetensors"), "vit_digits",
                          "is a Swin (layers.*, relative_position_bias_table) checkpoint but the model is a ViT/DeiT")
    wide = SwinTransformer(dataclasses.replace(cfg, window_size=4))  # one 4x4 window per stage 0
    out["window"] = (save_checkpoint(wide, root / "w4.safetensors"), "swin_digits",
                     "layers.0.blocks.0.attn.relative_position_bias_table: window 4 (49 rows) in the checkpoint "
                     "vs 2 (9 rows) in the model")
    state = SwinTransformer(dataclasses.replace(cfg, img_size=16)).state_dict()
    state["layers.0.blocks.1.attn_mask"] = torch.zeros(16, 4, 4)  # the old layout's buffer: 16 windows
    torch.save(state, root / "img16.pth")
    out["image_size"] = (root / "img16.pth", "swin_digits",
                         "layers.0.blocks.1.attn_mask: image size 16 (8 tokens per side) in the checkpoint vs 8 (4)")
    state = SwinTransformer(cfg).state_dict()
    del state["layers.0.blocks.1.attn.relative_position_bias_table"]
    torch.save(state, root / "notable.pth")
    out["no_table"] = (root / "notable.pth", "swin_digits",
                       "missing key layers.0.blocks.1.attn.relative_position_bias_table")
    return out


@pytest.mark.parametrize("case", ["vit_to_swin", "swin_to_vit", "window", "image_size", "no_table"])
def test_swin_bad_checkpoints_are_one_line_exit_2_nothing_written(capsys, tmp_path, case):
    ckpt, preset, needle = _bad_checkpoints(tmp_path)[case]
    code, out, err = _run(capsys, "quantize", "--model", preset, "--checkpoint", ckpt, "--calib", "digits",
                          "--max-calib", "4", "-o", tmp_path / "out")
    assert code == 2 and err.startswith("ivit-hw: error: ") and len(err.strip().splitlines()) == 1, err
    assert needle in err, err
    assert not (tmp_path / "out").exists()


def test_swin_config_window_must_tile_the_resolution():
    with pytest.raises(ValueError, match="stage 0 resolution 4 .* is not divisible by window_size 3"):
        create_model("swin_digits", window_size=3)

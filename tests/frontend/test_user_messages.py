"""Messages and early checks a new user relies on (issue 7, problems 4, 5, 6, 8, 9):
one line naming the thing, output paths checked before minutes of work,
timm's crop_pct, progress lines fit for a log file, a demo whose numbers do
not depend on the thread count, a report that never prints a negative drop."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ivit_hw.frontend import ablation as ablation_mod
from ivit_hw.frontend import demo as demo_mod
from ivit_hw.frontend import train as train_mod
from ivit_hw.frontend.checkpoint import guess_presets, save_checkpoint
from ivit_hw.frontend.data import eval_transform, load_digits_split
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.qconfig import QuantConfig
from ivit_hw.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/cli_helpers.py
from cli_helpers import assert_one_line_error, run_cli  # noqa: E402

_run, _one_line_error = run_cli, assert_one_line_error


def _quantize(*extra):
    return ["quantize", "--model", "vit_digits", "--calib", "digits", "--max-calib", "8", *map(str, extra)]


# ----------------------------------------------------------------------------- problem 5: checkpoints


def test_checkpoint_folder_and_garbage_file(capsys, tmp_path):
    (tmp_path / "ckpt").mkdir()
    code, _, err = _run(capsys, *_quantize("--checkpoint", tmp_path / "ckpt", "-o", tmp_path / "g"))
    _one_line_error(code, err, "ckpt is a folder", ".safetensors file")
    (tmp_path / "junk.pth").write_bytes(bytes(range(256)) * 4)
    code, _, err = _run(capsys, *_quantize("--checkpoint", tmp_path / "junk.pth", "-o", tmp_path / "g"))
    _one_line_error(code, err, "junk.pth is not a readable PyTorch (torch.save) file", "corrupt")
    assert not (tmp_path / "g").exists()


def test_checkpoint_of_another_preset_is_one_line_with_a_hint(capsys, tmp_path):
    torch.manual_seed(0)
    small = create_model("vit_digits", embed_dim=32, num_heads=2)  # like passing deit_tiny weights to deit_small
    save_checkpoint(small, tmp_path / "w.safetensors")
    code, _, err = _run(capsys, *_quantize("--checkpoint", tmp_path / "w.safetensors", "-o", tmp_path / "g"))
    _one_line_error(code, err, "w.safetensors does not match", "embed_dim 64", "shape mismatch(es), e.g.",
                    "the checkpoint has embed_dim 32")
    tiny = {k: torch.zeros(v.shape) for k, v in create_model("deit_tiny").state_dict().items()}
    assert guess_presets(tiny) == ["deit_tiny"]
    model = create_model("deit_small")
    from ivit_hw.frontend.checkpoint import CheckpointError, load_checkpoint

    torch.save(tiny, tmp_path / "tiny.pth")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(model, tmp_path / "tiny.pth")
    msg = str(exc.value)
    assert "\n" not in msg and msg.endswith("its shapes fit --model deit_tiny")
    assert len(exc.value.mismatched) > 100  # every detail is still on the exception


# ----------------------------------------------------------------------------- problem 5: config and options


@pytest.mark.parametrize("text, parts", [
    ("act_bits: 16.0\n", ["q.yaml", "act_bits must be an integer", "16.0"]),
    ("ema_momentum: '0.5'\n", ["q.yaml", "ema_momentum must be a number", "'0.5'"]),
    ("softmax: 3\n", ["q.yaml", "softmax must be one of"]),
])
def test_config_type_errors_name_file_and_key_before_any_work(capsys, tmp_path, monkeypatch, text, parts):
    from ivit_hw.frontend import models

    monkeypatch.setattr(models, "create_model", lambda *a, **k: pytest.fail("model built before the config check"))
    (tmp_path / "q.yaml").write_text(text)
    code, _, err = _run(capsys, *_quantize("--config", tmp_path / "q.yaml", "-o", tmp_path / "g"))
    _one_line_error(code, err, *parts)
    with pytest.raises(ValueError, match="act_bits must be an integer"):
        QuantConfig(act_bits=True)


def test_option_errors_name_the_option(capsys, tmp_path):
    code, _, err = _run(capsys, "quantize", "--model", "vit_digits", "--calib", "digits", "--max-calib", "0",
                        "-o", tmp_path / "g")
    _one_line_error(code, err, "--max-calib must be >= 1, got 0")
    assert "max_images" not in err
    code, _, err = _run(capsys, *_quantize("--crop-pct", "0", "-o", tmp_path / "g"))
    _one_line_error(code, err, "--crop-pct must be in (0, 1], got 0.0")


# ----------------------------------------------------------------------------- problem 6: early output checks


def test_outputs_are_checked_before_training_or_calibration(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(demo_mod, "run_demo", lambda *a, **k: pytest.fail("demo trained before the check"))
    monkeypatch.setattr(ablation_mod, "run_ablation", lambda *a, **k: pytest.fail("ablation ran before the check"))
    (tmp_path / "FILE").write_text("x")
    for cmd in ("demo", "ablation"):
        code, _, err = _run(capsys, cmd, "--out", tmp_path / "FILE")
        _one_line_error(code, err, f"--out {tmp_path / 'FILE'}: exists and is a file")
    from ivit_hw.frontend import twins

    monkeypatch.setattr(twins, "calibrate", lambda *a, **k: pytest.fail("calibrated before the check"))
    code, _, err = _run(capsys, *_quantize("-o", tmp_path / "FILE"))
    _one_line_error(code, err, "-o", "exists and is a file")
    code, _, err = _run(capsys, *_quantize("-o", tmp_path / "FILE" / "g.ivit"))
    _one_line_error(code, err, "FILE is a file, not a folder")


def test_unwritable_output_names_the_output_not_a_temporary(capsys, tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        probe = locked / "probe"
        try:
            probe.mkdir()
            probe.rmdir()
            pytest.skip("running as a user who can write anywhere")
        except PermissionError:
            pass
        code, _, err = _run(capsys, *_quantize("-o", locked / "x.ivit"))
        _one_line_error(code, err, f"-o {locked / 'x.ivit'}: cannot write in {locked}")
        assert ".tmp" not in err
    finally:
        locked.chmod(0o700)


def test_proc_output_is_refused_early(capsys):
    code, _, err = _run(capsys, *_quantize("-o", "/proc/x.ivit"))
    _one_line_error(code, err, "-o /proc/x.ivit", "cannot write in /proc")
    assert ".tmp" not in err


# ----------------------------------------------------------------------------- problem 4: timm preprocessing


def test_default_crop_pct_is_timms_0_9():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    got = eval_transform(img, 224)
    # timm: Resize(floor(224 / 0.9) = 248, bicubic) on the shorter side, CenterCrop(224)
    assert math.floor(224 / 0.9) == 248
    resized = img.resize((int(248 * 400 / 300), 248), Image.Resampling.BICUBIC)
    left, top = int(round((330 - 224) / 2.0)), int(round((248 - 224) / 2.0))
    want = np.asarray(resized.crop((left, top, left + 224, top + 224))).transpose(2, 0, 1)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, eval_transform(img, 224, crop_pct=0.875))


def test_quantize_crop_pct_reaches_calibration_and_graph(capsys, tmp_path):
    imgs = load_digits_split().train_images[:6]
    (tmp_path / "c" / "x").mkdir(parents=True)
    for k, img in enumerate(imgs):  # 12x12 images: floor(8 / crop) sets the resize before the 8x8 crop
        Image.fromarray(img[0], mode="L").resize((12, 12)).save(tmp_path / "c" / "x" / f"{k}.png")
    torch.manual_seed(0)
    save_checkpoint(create_model("vit_digits"), tmp_path / "w.safetensors")
    from ivit_hw.ir.serialize import load_graph

    metas = {}
    for crop in ("0.5", "1.0"):
        code, _, err = _run(capsys, "quantize", "--model", "vit_digits", "--checkpoint", tmp_path / "w.safetensors",
                            "--calib", tmp_path / "c", "--crop-pct", crop, "-o", tmp_path / f"g{crop}")
        assert code == 0, err
        assert "calibrate: 6/6 img" in err  # progress while calibrating
        g = load_graph(tmp_path / f"g{crop}")
        metas[crop] = (g.meta["preprocess"]["crop_pct"], g.tensor("embed").scale)
    assert metas["0.5"][0] == 0.5 and metas["1.0"][0] == 1.0
    assert metas["0.5"][1] != metas["1.0"][1]  # different crops calibrate differently


# ----------------------------------------------------------------------------- problem 8: progress in a log


def test_progress_writes_whole_lines_to_a_log_and_redraws_on_a_tty():
    log = io.StringIO()
    with Progress(5, "work", "img", stream=log, interval=0.0) as bar:
        for _ in range(5):
            bar.update()
    text = log.getvalue()
    assert "\r" not in text and text.count("\n") == 5  # five updates; the last is the final line (issue 19)
    assert text.splitlines()[-1].startswith("work: 5/5 img (100 %), ")
    assert " img/s" in text.splitlines()[-1] or " s/img" in text.splitlines()[-1]

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    with Progress(3, "t", stream=tty) as bar:
        bar.update(3)
    assert tty.getvalue().startswith("\r") and tty.getvalue().endswith("\n")


def test_no_tqdm_in_the_package():
    import pathlib

    import ivit_hw

    root = pathlib.Path(ivit_hw.__file__).parent
    assert not [p for p in root.rglob("*.py") if "from tqdm" in p.read_text() or "import tqdm" in p.read_text()]


# ----------------------------------------------------------------------------- problem 9: reproducible, honest


def test_training_uses_a_fixed_thread_count_whatever_the_machine(monkeypatch):
    seen = []
    real = create_model("vit_digits", depth=1)
    forward = real.forward_uint8

    def spy(x):
        seen.append(torch.get_num_threads())
        return forward(x)

    monkeypatch.setattr(real, "forward_uint8", spy)
    s = load_digits_split()
    results = []
    for outer in (1, 3):
        torch.set_num_threads(outer)
        torch.manual_seed(0)
        fresh = create_model("vit_digits", depth=1)
        real.load_state_dict(fresh.state_dict())
        train_mod.train_float(real, s.train_images[:64], s.train_labels[:64], epochs=1, lr=1e-3, batch_size=32,
                              seed=0, progress=False)
        results.append({k: v.clone() for k, v in real.state_dict().items()})
        assert torch.get_num_threads() == outer  # restored
    torch.set_num_threads(1)
    assert set(seen) == {train_mod.TRAIN_THREADS}
    for k, v in results[0].items():
        assert torch.equal(v, results[1][k]), k


def test_report_never_prints_a_negative_drop():
    base = {"quant_config": {}, "test_images": 450, "train_images": 1347, "fp_accuracy": 0.98,
            "ptq_int_accuracy": 0.98, "graph_nodes": 1, "graph_constants": 1, "export_wiring_exact": True,
            "independent_forward_exact": True, "independent_forward_images": 3,
            "stage_seconds": {"x": 1.0}, "seconds": 1.0, "top1_agreement_int_vs_float": 0.99}
    above = demo_mod.render_report_md({**base, "int_accuracy": 0.9844, "accuracy_drop_points": -0.44})
    assert "-0.44" not in above and "Integer is 0.44 points above float (no drop)." in above
    below = demo_mod.render_report_md({**base, "int_accuracy": 0.9756, "accuracy_drop_points": 0.44})
    assert "Integer is 0.44 points below float." in below
    same = demo_mod.render_report_md({**base, "int_accuracy": 0.98, "accuracy_drop_points": 0.0})
    assert "same top-1 (no drop)" in same
    assert "Top-1 agreement between the integer graph and its float weights" in same and "99.00 %" in same

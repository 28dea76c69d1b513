"""``python -m gpu_validate --device cpu`` end to end at a small size (what CI can run without a GPU):
bit-exact integer paths (torch and interpreted Triton) and a fp32 baseline, three result files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRITON_INTERPRET="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "gpu_validate", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_cpu_run_end_to_end(tmp_path):
    out = tmp_path / "gv"
    res = _run("--device", "cpu", "--models", "deit_tiny", "--batch", "1", "2", "--depth", "1", "--paths",
               "int_torch", "int_triton", "int_torch_exec", "fp32_eager", "--warmup", "0", "--runs", "1",
               "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((out / "results.json").read_text())
    env = doc["environment"]
    assert env["device_type"] == "cpu" and env["torch"] == torch.__version__ and env["triton"]
    rows = doc["rows"]
    assert [(r["batch"], r["path"]) for r in rows] == [
        (b, p) for b in (1, 2) for p in ("int_torch", "int_triton", "int_torch_exec", "fp32_eager")]
    for r in rows:
        assert r["error"] is None and r["median_ms"] > 0
        assert abs(r["images_per_s"] - r["batch"] * 1000 / r["median_ms"]) < 0.01 * r["images_per_s"] + 0.01
        assert r["bit_exact"] is (None if r["path"] == "fp32_eager" else True)
        fp32 = next(x for x in rows if x["batch"] == r["batch"] and x["path"] == "fp32_eager")
        assert abs(r["speedup_vs_fp32"] - fp32["median_ms"] / r["median_ms"]) < 0.01
        assert r["speedup_vs_bf16"] is None
    md = (out / "results.md").read_text()
    assert "| deit_tiny | 2 | int_triton |" in md and "shared machine" in md
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_use_exits_2_with_one_line(tmp_path):
    res = _run("--models", "deit_huge", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "deit_huge" in res.stderr
    if not torch.cuda.is_available():
        res = _run("--device", "cuda", "--out", str(tmp_path / "y"))
        assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "CUDA" in res.stderr


def test_float_baselines_compute_the_model():
    """The SDPA / per-block baselines are the same float model (float maths: a float tolerance)."""
    sys.path.insert(0, str(ROOT))
    from gpu_validate.baselines import SdpaBlock, float_model, forward_blocks

    m = float_model("deit_tiny", 0, depth=2)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = m(x)
        assert torch.equal(forward_blocks(m, x, m.blocks), ref)
        assert torch.allclose(forward_blocks(m, x, [SdpaBlock(b) for b in m.blocks]), ref, atol=1e-4, rtol=1e-4)


def test_cpu_run_on_a_tiny_swin(tmp_path):
    """swin_tiny's first stage at 56x56 (window 7 on a 14x14 grid: the second block shifted and masked),
    batch 2: the fused torch path and the per-node torch executor equal the golden model on both images."""
    out = tmp_path / "gv"
    res = _run("--device", "cpu", "--models", "swin_tiny", "--batch", "2", "--depth", "1", "--img-size", "56",
               "--paths", "int_torch", "int_torch_exec", "fp32_eager", "--warmup", "0", "--runs", "1",
               "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["model"], r["batch"], r["path"]) for r in rows] == [
        ("swin_tiny", 2, p) for p in ("int_torch", "int_torch_exec", "fp32_eager")]
    for r in rows:
        assert r["error"] is None and r["median_ms"] > 0
        assert r["bit_exact"] is (None if r["path"] == "fp32_eager" else True)
    assert "| swin_tiny | 2 | int_torch |" in (out / "results.md").read_text()


def test_swin_overrides_keep_the_first_stages():
    sys.path.insert(0, str(ROOT))
    from gpu_validate.baselines import model_overrides

    assert model_overrides("swin_tiny", 1, 56) == {"img_size": 56, "depths": (2,), "num_heads": (3,)}
    assert model_overrides("swin_tiny", 2, None) == {"depths": (2, 2), "num_heads": (3, 6)}
    assert model_overrides("deit_tiny", 1, 32) == {"img_size": 32, "depth": 1}
    assert model_overrides("deit_tiny", None, None) == {}

"""Quantized twins: export bit-exactness, calibration, QAT gradients, config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.qconfig import QuantConfig
from ivit_hw.frontend.twins import QuantViT, calibrate, fold_normalization
from ivit_hw.ir.serialize import load_graph, save_graph
from ivit_hw.runtime.numpy_exec import run_graph

VARIANTS = [
    QuantConfig(),
    QuantConfig(act_bits=8),
    QuantConfig(softmax="ibert_softmax", gelu="ibert_gelu", layernorm="ibert_layernorm"),
    QuantConfig(softmax="log_int_softmax", layernorm="l1_layernorm", gelu_coef="shift", rounding="half_up"),
]


def _random_twin(preset: str, cfg: QuantConfig, seed: int = 0, n_calib: int = 6, **overrides):
    torch.manual_seed(seed)
    model = create_model(preset, **overrides)
    with torch.no_grad():  # break the init symmetry of LayerNorm / biases so every path is exercised
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    c = model.config
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n_calib, c.in_chans, c.img_size, c.img_size), dtype=np.uint8)
    q = QuantViT(model, cfg)
    calibrate(q, images)
    return q, images


@pytest.mark.parametrize("cfg", VARIANTS, ids=lambda c: c.label() + "+" + c.rounding)
def test_export_wiring_digits_graph_equals_the_eager_program(cfg, tmp_path):
    # the twin's int_forward and the export run one integer program with the same kernels: this checks the
    # graph builder, the serialiser and the executor's wiring (the integers themselves are checked against
    # independent references: tests/ops, the conformance suite, tests/frontend/test_scratch_forward.py)
    q, images = _random_twin("vit_digits", cfg)
    graph = q.export("t")
    save_graph(graph, tmp_path / "g")
    loaded = load_graph(tmp_path / "g")  # validates everything, widths included
    out = run_graph(loaded, {"pixels": images}).outputs
    logits, pred = q.int_forward(images)
    assert np.array_equal(out["logits"], logits)
    assert np.array_equal(out["pred"], pred)
    assert np.array_equal(pred, np.argmax(logits, axis=-1))


@pytest.mark.parametrize("preset,overrides", [
    ("deit_tiny", {"depth": 2}),
    ("deit_small", {"depth": 1, "img_size": 64}),
    ("vit_base", {"depth": 1, "img_size": 32}),
])
def test_export_wiring_imagenet_presets(preset, overrides, tmp_path):
    q, images = _random_twin(preset, QuantConfig(), n_calib=2, **overrides)
    save_graph(q.export(preset), tmp_path / "g")
    loaded = load_graph(tmp_path / "g")
    out = run_graph(loaded, {"pixels": images[:1]}).outputs
    logits, _ = q.int_forward(images[:1])
    assert np.array_equal(out["logits"], logits)


def test_graph_follows_spec_widths():
    """Spec section 8: 8-bit GEMM inputs, 16-bit residual stream, 32-bit accumulators, 8-bit weights."""
    q, _ = _random_twin("vit_digits", QuantConfig())
    g = q.export("t")
    t = g.tensors
    assert t["pixels"].dtype.bits == 8 and not t["pixels"].dtype.signed
    assert t["embed"].dtype.bits == 16
    assert t["blocks.0.res1"].dtype.bits == 16 and t["blocks.0.res2"].dtype.bits == 16
    assert t["blocks.0.attn.q"].dtype.bits == 8 and t["blocks.0.attn.scores"].dtype.bits == 8
    assert t["blocks.0.attn.attn_prob"].dtype.bits == 16
    assert t["blocks.0.mlp.gelu_in"].dtype.bits == 8
    for name, spec in t.items():
        if name.endswith(".acc"):
            assert spec.dtype.bits == 32, name
        if name.endswith(".weight"):
            assert spec.dtype.bits == 8 and spec.const, name
    all8 = _random_twin("vit_digits", QuantConfig(act_bits=8))[0].export("t8")
    assert all8.tensors["embed"].dtype.bits == 8 and all8.tensors["blocks.0.attn.attn_prob"].dtype.bits == 8


def test_fold_normalization_matches_float_patch_embedding():
    torch.manual_seed(0)
    model = create_model("deit_tiny", depth=1, img_size=32)
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    w, b = fold_normalization(model)
    folded = torch.nn.functional.conv2d(pixels.float(), w, b, stride=16)
    reference = model.patch_embed.proj(model.normalize_uint8(pixels))
    assert torch.allclose(folded, reference, atol=1e-5, rtol=1e-5)


def test_fake_quant_forward_tracks_integer_forward():
    """The float QAT forward and the integer forward see the same quantization grid: on a random
    digits twin the dequantized integer logits stay within 0.15 of the fake-quant logits
    (measured 0.03-0.11; the gap is Shiftmax/ShiftGELU/I-LayerNorm approximation error)."""
    for cfg in VARIANTS[:3]:
        q, images = _random_twin("vit_digits", cfg)
        q.eval()
        with torch.no_grad():
            fq = q.forward_uint8(torch.as_tensor(images)).numpy()
        logits, _ = q.int_forward(images)
        assert np.abs(logits * q.scale("logits") - fq).max() < 0.15


def test_qat_forward_passes_gradients():
    q, images = _random_twin("vit_digits", QuantConfig())
    q.train()
    loss = q.forward_uint8(torch.as_tensor(images)).pow(2).sum()
    loss.backward()
    grads = [p.grad for p in q.model.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_uncalibrated_twin_refuses_export():
    q = QuantViT(create_model("vit_digits"), QuantConfig())
    with pytest.raises(ValueError, match="never calibrated"):
        q.export("x")


def test_calibration_rejects_empty_set():
    q = QuantViT(create_model("vit_digits"), QuantConfig())
    with pytest.raises(ValueError, match="empty"):
        calibrate(q, np.zeros((0, 1, 8, 8), np.uint8))


def test_gamma_zero_names_the_layer():
    q, _ = _random_twin("vit_digits", QuantConfig())
    with torch.no_grad():
        q.model.blocks[1].norm2.weight[5] = 0.0
    with pytest.raises(ValueError, match=r"blocks\.1\.norm2.*channel 5"):
        q.export("x")


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="softmax"):
        QuantConfig(softmax="nope")
    bad = tmp_path / "q.yaml"
    bad.write_text("softmax: shiftmax\nwidth: 3\n")
    with pytest.raises(ValueError, match="width"):
        QuantConfig.load(bad)
    good = tmp_path / "g.yaml"
    good.write_text("gelu: ibert_gelu\nact_bits: 8\n")
    assert QuantConfig.load(good) == QuantConfig(gelu="ibert_gelu", act_bits=8)

"""HLS C-simulation of Swin graphs against the golden model, bit for bit, under sanitizers: the
whole swin_digits model on its full test split, and one swin_tiny block (window 7, shift 3, mask)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from ivit_hw.codegen.hls import HlsOptions, render_project, run_csim  # noqa: E402
from ivit_hw.frontend.data import load_digits_split  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/swin_graphs.py
from swin_graphs import digits_swin_twin, swin_tiny_shifted_block  # noqa: E402


def _check(text: str, status: int, *needles: str) -> None:
    lines = text.strip().splitlines()
    assert status == 0, text[-3000:]
    assert not any("runtime error" in ln or "ERROR" in ln for ln in lines)
    assert lines[-1].endswith(" passed, 0 failed"), lines[-1]
    for needle in needles:
        assert needle in lines, needle


def test_whole_swin_digits_model_on_a_tenth_of_the_test_split(tmp_path):
    """Every tenth test image (45, spread over the split); the whole split runs in ``make demo``'s Swin
    step (its HLS C-sim), which keeps ``make test`` under 15 minutes."""
    split = load_digits_split()
    graph = digits_swin_twin().export("swin_digits")
    images = split.test_images[::10]
    assert len(images) == 45
    out = tmp_path / "prj"
    out.mkdir()
    render_project(graph, out, HlsOptions(samples=len(images), trace_samples=2), graph_inputs={"pixels": images})
    status, text = run_csim(out, sanitize=True, echo=False)
    _check(text, status, "PASS logits: 45 samples x 10 values bit-exact",
           "PASS pred: 45 samples x 1 values bit-exact",
           "PASS layers.0.blocks.1.attn.attn_prob: 2 samples x 128 values bit-exact")


def test_swin_tiny_shifted_block(tmp_path):
    b = swin_tiny_shifted_block()
    graph, xi = b["graph"], b["xi"]
    assert "mask" in graph.node("layers.0.blocks.1.attn.attn_prob").inputs
    out = tmp_path / "prj"
    out.mkdir()
    render_project(graph, out, HlsOptions(samples=1, trace_samples=1, default_par=8), graph_inputs={"x": xi[:1]})
    status, text = run_csim(out, sanitize=True, echo=False)
    _check(text, status, "PASS layers.0.blocks.1.res2: 1 samples x 301056 values bit-exact",
           "PASS layers.0.blocks.1.attn.attn_prob: 1 samples x 460992 values bit-exact")

"""The fused executor on a Swin graph (shift via slice/concat, windows, two-term bias
requantize, masked Shiftmax, patch merging, pooled head): equal to the golden executor."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton decorates the kernels

from ivit_hw.frontend.data import load_digits_split  # noqa: E402
from ivit_hw.runtime.fused.executor import FusedExecutor  # noqa: E402
from ivit_hw.runtime.numpy_exec import run_graph  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/swin_graphs.py
from swin_graphs import digits_swin_twin, swin_tiny_shifted_block  # noqa: E402


@pytest.fixture(scope="module")
def swin_graph():
    return digits_swin_twin(seed=1).export("swin_digits")


@pytest.mark.parametrize(("backend", "images"), [("torch", None), ("triton", 8)])
def test_fused_equals_golden_on_swin_digits(swin_graph, backend, images):
    if backend == "triton":
        pytest.importorskip("triton")
    x = load_digits_split().test_images[:images]
    gold = run_graph(swin_graph, {"pixels": x}).outputs
    got = FusedExecutor(swin_graph, backend=backend).run({"pixels": x}).outputs
    for name in swin_graph.outputs:
        np.testing.assert_array_equal(got[name], gold[name])


@pytest.fixture(scope="module")
def swin_tiny_block():
    """swin_tiny's layers.0.blocks.1 (56x56 tokens, window 7, shift 3, the mask) as a graph, and one input."""
    b = swin_tiny_shifted_block()
    graph = b["graph"]
    assert graph.tensor(graph.node("layers.0.blocks.1.attn.attn_prob").inputs["mask"]).shape == (64, 1, 49, 49)
    return graph, b["xi"]


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_fused_equals_golden_on_a_shifted_swin_tiny_block(swin_tiny_block, backend):
    if backend == "triton":
        pytest.importorskip("triton")
    graph, x = swin_tiny_block
    gold = run_graph(graph, {"x": x}).outputs
    got = FusedExecutor(graph, backend=backend).run({"x": x}).outputs
    for name in graph.outputs:
        np.testing.assert_array_equal(got[name], gold[name])

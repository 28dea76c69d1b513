"""The fused executor on a Swin graph (shift via slice/concat, windows, two-term bias
requantize, masked Shiftmax, patch merging, pooled head): equal to the golden executor."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton decorates the kernels

from ivit_hw.frontend.data import load_digits_split  # noqa: E402
from ivit_hw.frontend.models import create_model  # noqa: E402
from ivit_hw.frontend.swin_twin import QuantSwin  # noqa: E402
from ivit_hw.frontend.twins import calibrate  # noqa: E402
from ivit_hw.runtime.fused.executor import FusedExecutor  # noqa: E402
from ivit_hw.runtime.numpy_exec import run_graph  # noqa: E402


@pytest.fixture(scope="module")
def swin_graph():
    torch.manual_seed(1)
    model = create_model("swin_digits").eval()
    with torch.no_grad():
        for blk in (b for stage in model.layers for b in stage.blocks):
            blk.attn.relative_position_bias_table.normal_(0, 0.5)
    q = QuantSwin(model)
    calibrate(q, load_digits_split().train_images[:32])
    return q.export("swin_digits")


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
    torch.manual_seed(0)
    model = create_model("swin_tiny", depths=(2,), num_heads=(3,)).eval()
    blk = model.layers[0].blocks[1]
    assert (blk.window, blk.shift, blk.resolution) == (7, 3, 56) and blk.attn_mask is not None
    with torch.no_grad():
        blk.attn.relative_position_bias_table.normal_(0, 1.0)
    q = QuantSwin(model)
    x = torch.randn(2, 56 * 56, 96)
    q.observe_block(0, 1, x)
    s_x = float(x.abs().max()) / 32767
    graph = q.export_block(0, 1, s_x)
    assert graph.tensor(graph.node("layers.0.blocks.1.attn.attn_prob").inputs["mask"]).shape == (64, 1, 49, 49)
    return graph, np.clip(np.round(x.numpy()[:1] / s_x), -32768, 32767).astype(np.int64)


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_fused_equals_golden_on_a_shifted_swin_tiny_block(swin_tiny_block, backend):
    if backend == "triton":
        pytest.importorskip("triton")
    graph, x = swin_tiny_block
    gold = run_graph(graph, {"x": x}).outputs
    got = FusedExecutor(graph, backend=backend).run({"x": x}).outputs
    for name in graph.outputs:
        np.testing.assert_array_equal(got[name], gold[name])

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

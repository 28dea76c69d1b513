"""Swin graphs shared by the Swin tests (each test module puts ``tests/`` on ``sys.path`` to import this):
a random-init calibrated ``swin_digits`` twin, and swin_tiny's shifted block (window 7, shift 3, mask)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ivit_hw.frontend.data import load_digits_split
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.qconfig import QuantConfig
from ivit_hw.frontend.swin_twin import QuantSwin
from ivit_hw.frontend.twins import calibrate


def digits_swin_twin(seed: int = 0, n_calib: int = 32, cfg: QuantConfig | None = None) -> QuantSwin:
    """``swin_digits`` with random weights (``torch.manual_seed(seed)``) and relative-position bias tables
    that matter (N(0, 0.5)), its twin calibrated on the first ``n_calib`` train images."""
    torch.manual_seed(seed)
    model = create_model("swin_digits").eval()
    with torch.no_grad():
        for blk in (b for stage in model.layers for b in stage.blocks):
            blk.attn.relative_position_bias_table.normal_(0, 0.5)
    q = QuantSwin(model, cfg)
    calibrate(q, load_digits_split().train_images[:n_calib])
    return q


def swin_tiny_shifted_block() -> dict[str, Any]:
    """swin_tiny's ``layers.0.blocks.1`` (56x56 tokens, window 7, shift 3, the mask) calibrated on two
    random residual-stream inputs and exported alone: ``blk`` (the float block), ``graph``, ``x`` (the
    float inputs), ``s_x`` (their 16-bit scale) and ``xi`` (the first one as integers)."""
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
    xi = np.clip(np.round(x.numpy()[:1] / s_x), -32768, 32767).astype(np.int64)
    return {"blk": blk, "graph": graph, "x": x, "s_x": s_x, "xi": xi}

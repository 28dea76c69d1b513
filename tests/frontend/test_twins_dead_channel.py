"""A dead output channel (all-zero weights and bias) whose requantize ratio S_acc / S_out falls
below 2^-32, the smallest a dyadic multiplier holds: the export stores the multiplier (0, 0) for
that channel (its outputs round to 0 for every 32-bit accumulator) instead of stopping with a
traceback, and the graph verifies, loads and runs equal to the twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.qconfig import QuantConfig
from ivit_hw.frontend.twins import QuantViT, calibrate
from ivit_hw.ir.serialize import load_graph, save_graph
from ivit_hw.runtime.numpy_exec import run_graph

DEAD = 5  # a q channel of block 0


def _twin(rounding: str = "half_even"):
    torch.manual_seed(0)
    model = create_model("vit_digits", depth=1)
    with torch.no_grad():
        qkv = model.blocks[0].attn.qkv
        qkv.weight[:64] *= 3000.0  # large q values: a large q scale S_q
        qkv.weight[DEAD] = 0.0  # ... and one dead q channel: S_w = 1e-8, the weight-scale floor
        qkv.bias[DEAD] = 0.0
    images = np.random.default_rng(0).integers(0, 256, (4, 1, 8, 8), dtype=np.uint8)
    q = QuantViT(model, QuantConfig(rounding=rounding))
    calibrate(q, images)
    return q, images


def test_dead_channel_exports_a_zero_multiplier(tmp_path):
    q, images = _twin()
    # the premise: S_acc / S_q = S_ln1 * 1e-8 / S_q is below 2^-32 for the dead channel
    assert q.scale("b0_ln1") * 1e-8 / q.scale("b0_q") < 2.0**-32
    g = q.export("dead")
    m, e = g.constants["blocks.0.attn.qkv.q.m"], g.constants["blocks.0.attn.qkv.q.e"]
    assert (int(m[DEAD]), int(e[DEAD])) == (0, 0)
    assert np.all(np.abs(np.delete(m, DEAD)) >= 2**30)  # every other channel keeps its dyadic
    save_graph(g, tmp_path / "g")
    loaded = load_graph(tmp_path / "g")  # verifies scales and widths
    res = run_graph(loaded, {"pixels": images}, trace=True)
    logits, pred = q.int_forward(images)
    assert np.array_equal(res.outputs["logits"], logits) and np.array_equal(res.outputs["pred"], pred)
    assert not res.tensors["blocks.0.attn.qkv.q"][..., DEAD].any()


def test_dead_channel_under_floor_rounding_is_refused_in_one_line():
    """floor(acc * r) is -1 for a negative accumulator, so a zero multiplier is not exact there."""
    q, _ = _twin("floor")
    with pytest.raises(ValueError) as exc:
        q.export("dead")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("blocks.0.attn.qkv.q:") and "channel 5" in msg


def test_scale_check_skips_only_the_zero_multiplier_channels():
    """m = 0 claims nothing about its channel's scale; a wrong scale on another channel is still found."""
    from ivit_hw.ir import GraphBuilder, IntType
    from ivit_hw.ir.scales import scale_rule_problems

    def graph(out_scale):
        b = GraphBuilder("rq")
        acc = b.input("acc", (3,), IntType(32), (0.5, 0.5, 0.5))
        y = b.node("requantize", {"acc": acc, "m": b.const("m", np.array([2**30, 0, 2**30]), IntType(32)),
                                  "e": b.const("e", np.array([31, 0, 31]), IntType(8, signed=False))},
                   "y", IntType(8), out_scale, {"out_bits": 8})
        return b.finish([y])

    # S_out = S_acc * 2^e / m = 0.5 * 2 = 1.0 on channels 0 and 2; channel 1 (m = 0) may have any scale
    assert scale_rule_problems(graph((1.0, 123.0, 1.0))) == []
    (problem,) = scale_rule_problems(graph((1.0, 123.0, 1.5)))
    assert "relative difference 5.00e-01" in problem and "nan" not in problem.lower()

"""Quantized Swin: the exported graph on the golden and torch executors (bit-exact), the
twin's eager integers, the new structure (shift via slice/concat, windows, two-term bias
requantize, masked Shiftmax, patch merging, pooled head), and one swin_tiny block
(window 7, shift 3, mask) against the float block's attention."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ivit_hw.frontend.data import load_digits_split  # noqa: E402
from ivit_hw.frontend.swin import roll_windows, unroll_windows  # noqa: E402
from ivit_hw.ir.serialize import load_graph, save_graph  # noqa: E402
from ivit_hw.runtime.numpy_exec import run_graph  # noqa: E402
from ivit_hw.runtime.torch_exec import TorchExecutor  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/swin_graphs.py
from swin_graphs import digits_swin_twin, swin_tiny_shifted_block  # noqa: E402


@pytest.fixture(scope="module")
def digits_swin():
    q = digits_swin_twin(n_calib=64)
    return q, q.export("swin_digits", {"preset": "swin_digits"}), load_digits_split()


def test_swin_digits_graph_golden_equals_twin_and_torch(digits_swin, tmp_path) -> None:
    q, graph, split = digits_swin
    graph = load_graph(save_graph(graph, tmp_path / "g"))
    x = split.test_images
    gold = run_graph(graph, {"pixels": x}).outputs
    eager_logits, eager_pred = q.int_forward(x[:32])
    np.testing.assert_array_equal(gold["logits"][:32], eager_logits)
    torch_out = TorchExecutor(graph).run({"pixels": x}).outputs
    for name in graph.outputs:
        np.testing.assert_array_equal(torch_out[name], gold[name])
    assert len(np.unique(gold["pred"])) > 1  # not a constant answer


def test_swin_digits_graph_structure(digits_swin) -> None:
    _, g, _ = digits_swin
    masked = [n.name for n in g.nodes if n.op == "shiftmax" and "mask" in n.inputs]
    assert masked == ["layers.0.blocks.1.attn.attn_prob"]  # the one shifted block of swin_digits
    assert g.tensor("layers.0.blocks.1.attn.mask").shape == (4, 1, 4, 4)
    scores = g.node("layers.0.blocks.0.attn.scores")
    assert scores.inputs["identity"] == "layers.0.blocks.0.attn.relative_position_bias"
    bias = g.tensor(scores.inputs["identity"])
    assert bias.dtype.bits == 8 and bias.shape == (2, 4, 4)  # [nH, N, N], one copy broadcast over the windows
    assert g.node("layers.1.downsample.order").attrs["perm"] == [0, 2, 3, 1, 4]
    assert g.tensor("layers.1.downsample.cat").shape == (4, 128)
    assert "layers.1.downsample.reduction.bias" not in g.constants
    assert g.node("pool.sum").op == "reduce_sum" and g.tensor("pool.sum").shape == (64,)
    assert [n.op for n in g.nodes if n.name.startswith("layers.0.blocks.1.attn.shift.")] == [
        "slice", "slice", "concat", "slice", "slice", "concat"]
    assert g.meta["swin"]["window_size"] == 2


def _sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    return float(10 * np.log10((ref**2).sum() / ((ref - got) ** 2).sum()))


def test_swin_tiny_shifted_block_golden_torch_and_float() -> None:
    b = swin_tiny_shifted_block()
    blk, g, s_x, xi = b["blk"], b["graph"], b["s_x"], b["xi"]
    gold = run_graph(g, {"x": xi}, trace=True)
    out = g.outputs[0]
    np.testing.assert_array_equal(TorchExecutor(g).run({"x": xi}).outputs[out], gold.outputs[out])
    # the attention output after window reverse and the reverse shift, against the float block's
    with torch.no_grad():
        xf = torch.from_numpy(xi * s_x).float().reshape(1, 56, 56, 96)
        win = roll_windows(blk.norm1(xf), 7, 3)
        att = blk.attn
        qq, kk, vv = att.qkv(win).reshape(-1, 49, 3, 3, 32).permute(2, 0, 3, 1, 4)
        sc = (qq * att.scale) @ kk.transpose(-2, -1) + att.relative_bias()
        sc = (sc.view(1, 64, 3, 49, 49) + blk.attn_mask[None, :, None]).view(-1, 3, 49, 49)
        o = unroll_windows((sc.softmax(-1) @ vv).transpose(1, 2).reshape(-1, 49, 96), 7, 3, 56, 56)
    name = "layers.0.blocks.1.attn.tokens"
    got = gold.tensors[name] * g.tensor(name).scale
    # measured 17.6 dB (8-bit Shiftmax output); the shift in the wrong direction gives 0.2 dB
    assert _sqnr(o.reshape(1, -1, 96).numpy(), got) > 14


def test_scratch_forward_equals_golden_on_digits_swin(digits_swin) -> None:
    from ivit_hw.frontend.scratch_forward import scratch_logits

    _, graph, split = digits_swin
    x = split.test_images[:3]
    gold = run_graph(graph, {"pixels": x}).outputs["logits"]
    np.testing.assert_array_equal(np.array(scratch_logits(graph, x)), gold)


def test_boolean_mask_equals_the_additive_minus_100_mask() -> None:
    """docs/semantics.md section 5, "Swin's shifted-window mask": a masked Shiftmax row is the
    Shiftmax of its kept entries alone with zeros elsewhere (exactly), and in float timm's -100 is
    that same softmax to within e^-100 of each weight."""
    from ivit_hw.frontend.swin_geometry import shift_keep_mask
    from ivit_hw.ops import shiftmax

    rng = np.random.default_rng(0)
    keep = shift_keep_mask(14, 7, 3)  # [4, 49, 49], three kinds of mixed windows
    x = rng.integers(-128, 128, size=(4, 49, 49))
    got = shiftmax(x, -21, 15, 8, keep)
    assert not got[~keep].any()
    for w in range(4):
        for r in range(49):
            kept = keep[w, r]
            np.testing.assert_array_equal(got[w, r, kept], shiftmax(x[w, r, kept][None], -21, 15, 8)[0])
    f = x * 0.05  # float scores of |s| <= 6.4
    additive = torch.softmax(torch.from_numpy(np.where(keep, f, f - 100.0)), dim=-1).numpy()
    alone = np.where(keep, np.exp(f - np.where(keep, f, -np.inf).max(-1, keepdims=True)), 0.0)
    alone /= alone.sum(-1, keepdims=True)
    assert additive[~keep].max() < np.exp(-100 + 2 * 6.4)  # each masked weight, relative to the row's top
    np.testing.assert_allclose(additive[keep], alone[keep], rtol=1e-12)  # float64 rounding only

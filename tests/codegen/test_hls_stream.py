"""The streaming HLS top (``dataflow: stream``) of the digits model: one project, one C-sim build
(sanitizers, ``-Wall -Wextra -Werror``) shared by every test here. The expected figures (stream
depths, fan-out counts) are worked out by hand from the model's shapes, not read from the code."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from ivit_hw.codegen.hls import HlsOptions, render_project
from ivit_hw.codegen.hls.verify import run_csim

IMAGES = 6


@pytest.fixture(scope="module")
def stream_prj(digits_graph, tmp_path_factory):
    from ivit_hw.frontend.data import load_digits_split

    images = load_digits_split().test_images[:IMAGES]
    out = tmp_path_factory.mktemp("stream") / "prj"
    out.mkdir()
    manifest = render_project(digits_graph, out, HlsOptions(samples=IMAGES, trace_samples=1, default_par=8,
                                                            dataflow="stream"),
                              graph_inputs={digits_graph.inputs[0]: images})
    status, text = run_csim(out, sanitize=True, echo=False)
    top = (out / "firmware" / "ivit_top.cpp").read_text()
    summary = json.loads((out / "summary.json").read_text())
    return out, manifest, status, text, top, summary


def _blocks(graph) -> int:
    return sum(1 for n in graph.nodes if n.name.endswith(".res1"))


def test_digits_stream_csim_is_bit_exact(stream_prj):
    _, manifest, status, text, _, _ = stream_prj
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert status == 0, text[-3000:]
    assert not any("runtime error" in ln or "ERROR" in ln for ln in lines)
    assert f"PASS logits: {IMAGES} samples x 10 values bit-exact" in lines
    assert f"PASS pred: {IMAGES} samples x 1 values bit-exact" in lines
    n_pass = sum(ln.startswith("PASS ") for ln in lines)
    assert lines[-1] == f"{n_pass} passed, 0 failed" and n_pass == manifest["layers"]
    # every intermediate compared, the relabelled head split / merge included
    assert "PASS blocks.0.attn.qkv.heads: 1 samples x 3264 values bit-exact" in lines
    assert "PASS blocks.0.attn.attnv.acc: 1 samples x 1088 values bit-exact" in lines


def test_fan_out_is_stream_duplication_not_copies(stream_prj, digits_graph):
    top = stream_prj[4]
    blocks = _blocks(digits_graph)
    # per block: the two residual forks (dup2) and the q/k/v split (dup3); logits go to argmax and out
    assert len(re.findall(r"ivit::dup2<", top)) == 2 * blocks + 1
    assert len(re.findall(r"ivit::dup3<3264, ", top)) == blocks
    for copy in ("fanout2", "stream_to_array", "array_to_stream", "IVIT_BUF", "strided_copy", "concat2"):
        assert copy not in top
    # the embedding forks into block 0's norm1 and its residual add, both from one dup2 of 17 x 64
    assert re.search(r"ivit::dup2<1088, ap_int<\d+>>\(t_embed, t_embed_u0, t_embed_u1\);", top)
    assert "ivit::layernorm_rows<cfg_blocks_0_norm1_out_row, 17>(t_embed_u0," in top
    assert re.search(r"requantize_identity_rows<cfg_blocks_0_res1_row, 17>\([^)]*, t_embed_u1, ", top)
    # the head split and merge move no data: no process, the stream is relabelled
    assert "blocks.0.attn.qkv.heads: transpose (no process: the stream is relabelled)" in top


def _depths(top: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", top)}


def test_stream_declarations_follow_the_plan(stream_prj):
    _, _, _, _, top, summary = stream_prj
    declared = re.findall(r"hls::stream<[^>]*>+ (\w+)\(\"(\w+)\"\);", top)
    depths = _depths(top)
    assert declared and all(a == b for a, b in declared)
    assert sorted(depths) == sorted(a for a, _ in declared)  # one STREAM pragma per stream
    planned = {b["tensor"]: b for b in summary["plan"]["buffers"] if b["kind"] == "stream"}
    assert {k: b["depth"] for k, b in planned.items()} == depths
    assert {s["stream"]: s["depth"] for s in summary["streams"]} == depths
    widths = {m.group(2): int(m.group(1)) for m in re.finditer(r"hls::stream<ap_u?int<(\d+)>> (\w+)\(", top)}
    assert {k: planned[k]["width"] for k in widths} == widths
    # by hand: block 0's first residual skips the attention, which keeps K and V whole: the whole
    # 17 x 64 tensor waits; the second skips norm2, norm2.q, fc1, gelu_in, gelu, gelu.q, fc2 (seven
    # row-buffered layers): eight rows of 64. Every other FIFO is the default depth 2.
    assert depths["t_embed_u1"] == 17 * 64
    assert depths["t_blocks_0_res1_u1"] == 8 * 64
    deep = {k for k, d in depths.items() if d != 2}
    assert all(re.fullmatch(r"t_(embed|blocks_\d+_res[12])_u1", k) for k in deep)


def _struct(params: str, name: str) -> dict[str, int]:
    body = re.search(r"struct " + name + r" \{(.*?)\};", params, re.S).group(1)
    return {k: int(v) for k, v in re.findall(r"static const int (\w+) = (-?\d+);", body)}


def test_attention_keeps_k_and_v_whole_in_token_major_order(stream_prj):
    """K and V arrive with the heads of one token interleaved ([17 tokens, 4 heads, 16]): element
    (head h, token n, d) sits at n * 64 + h * 16 + d, so the P = 8 lanes on d (q @ k^T's reduction,
    attn @ v's output row) read 8 consecutive words: 8 different banks of a cyclic partition by 8."""
    out, _, _, _, top, summary = stream_prj
    params = (out / "firmware" / "parameters.h").read_text()
    for node in ("scores_acc", "attnv_acc"):
        mc = _struct(params, f"cfg_blocks_0_attn_{node}_mc")
        assert mc == {"tok": 1, "BS0": 16, "BS1": 64, "BS2": 1, "b_len": 17 * 64}
        assert _struct(params, f"cfg_blocks_0_attn_{node}")["par"] == 8
        base = [h * mc["BS0"] + n * mc["BS1"] for h in range(4) for n in range(17)]
        for b in base:
            for kb in range(16 // 8):
                assert len({(b + (kb * 8 + p) * mc["BS2"]) % 8 for p in range(8)}) == 8
    whole = [b for b in summary["plan"]["buffers"] if b["kind"] == "whole"]
    # per block K and V (17 x 64 values of 8 bits, 8 banks), and the 8 x 8 image of the patch embedding (K = 4: 4 lanes)
    assert sorted((b["depth"], b["banks"]) for b in whole) == sorted([(1088, 8)] * 2 * 4 + [(64, 4)])
    assert "ivit::matmul_stream<cfg_blocks_0_attn_scores_acc, cfg_blocks_0_attn_scores_acc_mc>" in top


def test_interval_is_the_slowest_layer(stream_prj):
    summary = stream_prj[5]
    cycles = [layer["estimated_cycles"] for layer in summary["layers"]]
    assert summary["plan"]["interval_cycles"] == max(cycles) < sum(cycles)
    assert summary["dataflow"] == "stream"


def test_stream_project_lints_clean(stream_prj):
    from ivit_hw.codegen.hls.lint import lint_project

    found = lint_project(stream_prj[0])
    assert [str(f) for f in found] == []


def test_expected_predictions_are_the_golden_models(stream_prj, digits_graph):
    from ivit_hw.frontend.data import load_digits_split
    from ivit_hw.runtime.numpy_exec import run_graph

    images = load_digits_split().test_images[:IMAGES]
    pred = np.frombuffer((stream_prj[0] / "tb" / "data" / "t_pred.bin").read_bytes()[20:], dtype="<i8")
    golden = run_graph(digits_graph, {digits_graph.inputs[0]: images}).outputs["pred"]
    assert np.array_equal(pred, golden.reshape(-1))

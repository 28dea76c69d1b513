"""The hardware plan in the HLS target: the fit check at codegen (one line, exit 2, nothing written;
``--allow-overfit``), the plan in summary.json and the README, the parallelism a DSP budget gives,
and the array partitions of the attention GEMMs checked bank by bank against the plan."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from ivit_hw import ops
from ivit_hw.cli import main
from ivit_hw.codegen.hls import HlsOptions, render_project
from ivit_hw.ir import GraphBuilder, Interval, IntType, infer_ranges, save_graph

I8, I16, I32, U8 = IntType(8), IntType(16), IntType(32), IntType(8, signed=False)


def wide_graph(k: int = 512, n: int = 256):
    """x [4, k] -> linear (n, int8 weights using both extremes) -> requantize: one big ROM."""
    rng = np.random.default_rng(0)
    b = GraphBuilder("wide")
    x = b.input("x", (4, k), I8, 0.05, Interval(-127, 127))
    w_int = rng.integers(-127, 128, (n, k))
    w_int[0, :2] = (-127, 127)
    acc = b.node("linear", {"x": x, "weight": b.const("fc.weight", w_int, I8, 0.01)}, "fc.acc", I32, 5e-4, name="fc")
    m, e = ops.dyadic(5e-4 / 0.5)
    b.node("requantize", {"acc": acc, "m": b.const("q.m", np.asarray(m), I32), "e": b.const("q.e", np.asarray(e), U8)},
           "y", I8, 0.5, {"out_bits": 8}, name="q")
    return infer_ranges(b.finish(["y"]))


def attention_graph(heads: int = 2, tokens: int = 5, dim: int = 64):
    """q, k [H, T, D] -> q @ k^T (scores) ; probs [H, T, T] @ v [H, T, D] (attn @ v)."""
    b = GraphBuilder("attn")
    q = b.input("q", (heads, tokens, dim), I8, 0.1, Interval(-128, 127))
    k = b.input("k", (heads, tokens, dim), I8, 0.1, Interval(-128, 127))
    p = b.input("p", (heads, tokens, tokens), IntType(9, signed=False), 2.0**-8, Interval(0, 256))
    v = b.input("v", (heads, tokens, dim), I8, 0.1, Interval(-128, 127))
    s = b.node("matmul", {"a": q, "b": k}, "s", I32, 0.01, {"transpose_b": True}, name="qk")
    o = b.node("matmul", {"a": p, "b": v}, "o", I32, 0.1 * 2.0**-8, {"transpose_b": False}, name="av")
    return infer_ranges(b.finish([s, o]))


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_overfit_is_refused_in_one_line_and_nothing_is_written(capsys, tmp_path):
    g = tmp_path / "wide.ivit"
    save_graph(wide_graph(), g)
    out = tmp_path / "prj"
    on_chip = tmp_path / "on_chip.yaml"
    on_chip.write_text("weights: on_chip\n")
    # 131,072 int8 weights: 64 BRAM18 (2K x 9) > the LFE5U-25F's 56
    code, stdout, err = _cli(capsys, "codegen", g, "--target", "hls", "-o", out, "--part", "LFE5U-25F-6BG256C",
                             "--config", on_chip)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and not out.exists()
    assert lines[0].startswith("ivit-hw: error: graph 'wide' does not fit lfe5u-25f: BRAM18: the plan needs ")
    assert "--allow-overfit" in lines[0]
    code, stdout, err = _cli(capsys, "codegen", g, "--target", "hls", "-o", out, "--part", "ecp5-25k",
                             "--config", on_chip, "--allow-overfit")
    assert code == 0, err
    assert "OVERFIT BRAM18" in stdout
    plan = json.loads((out / "summary.json").read_text())["plan"]
    assert plan["fits"] is False and plan["part"]["name"] == "lfe5u-25f"
    rom = next(b for b in plan["buffers"] if b["tensor"] == "c_fc_weight")
    assert (rom["kind"], rom["depth"], rom["width"], rom["memory"], rom["blocks"]) == ("weights", 131072, 8, "bram", 64)
    # the streaming top: fc keeps one input row, 512 words of 8 bits -> 1 BRAM18 (1K x 18)
    row = next(b for b in plan["buffers"] if b["tensor"] == "cfg_fc.x")
    assert (row["kind"], row["depth"], row["width"], row["blocks"]) == ("row", 512, 8, 1)
    assert "OVERFIT BRAM18" in (out / "README.md").read_text()
    # the same graph fits the xczu9eg
    code, stdout, err = _cli(capsys, "codegen", g, "--target", "hls", "-o", tmp_path / "ok")
    assert code == 0 and stdout.splitlines()[2] == "fits"


def test_default_weights_go_off_chip_only_when_on_chip_overfits(capsys, tmp_path):
    """``weights: auto`` (the default): the wide graph's 131,072 weights overfit the LFE5U-25F on chip
    (64 BRAM18 > 56), so they are rendered behind an m_axi port and the project fits; on the xczu9eg
    they fit on chip and stay a ROM."""
    g = tmp_path / "wide.ivit"
    save_graph(wide_graph(), g)
    code, stdout, err = _cli(capsys, "codegen", g, "--target", "hls", "-o", tmp_path / "small", "--part", "ecp5-25k")
    assert code == 0, err
    assert stdout.splitlines()[2] == "fits" and "off chip 1.05 Mbit" in stdout  # 131,072 x 8 bits
    plan = json.loads((tmp_path / "small" / "summary.json").read_text())["plan"]
    assert plan["config"]["weights"] == "off_chip"
    assert next(b for b in plan["buffers"] if b["tensor"] == "c_fc_weight")["memory"] == "dram"
    top = (tmp_path / "small" / "firmware" / "ivit_top.cpp").read_text()
    assert "#pragma HLS INTERFACE m_axi port=c_fc_weight" in top
    code, stdout, err = _cli(capsys, "codegen", g, "--target", "hls", "-o", tmp_path / "big")
    assert code == 0, err
    plan = json.loads((tmp_path / "big" / "summary.json").read_text())["plan"]
    assert plan["config"]["weights"] == "on_chip" and plan["totals"]["bits_off_chip"] == 0
    assert (tmp_path / "big" / "firmware" / "weights" / "c_fc_weight.h").exists()


def test_unknown_part_and_bad_weights(capsys, tmp_path):
    g = tmp_path / "wide.ivit"
    save_graph(wide_graph(8, 4), g)
    code, _, err = _cli(capsys, "codegen", g, "--target", "hls", "-o", tmp_path / "p", "--part", "xc7z999")
    assert code == 2 and "unknown part 'xc7z999'" in err and len(err.strip().splitlines()) == 1
    cfg = tmp_path / "hls.yaml"
    cfg.write_text("weights: dram\n")
    code, _, err = _cli(capsys, "codegen", g, "--target", "hls", "-o", tmp_path / "p", "--config", cfg)
    assert code == 2 and "weights must be one of auto, on_chip, off_chip, got 'dram'" in err
    assert not (tmp_path / "p").exists()


def test_dsp_budget_sets_the_gemm_parallelism(tmp_path):
    g = wide_graph(64, 32)
    render_project(g, tmp_path, HlsOptions(dsp_budget=17, samples=1, trace_samples=0))
    s = json.loads((tmp_path / "summary.json").read_text())
    fc = next(layer for layer in s["layers"] if layer["node"] == "fc")
    # 16 lanes on K = 64 (4 x 32 outputs x 4 cycles = 512) and the requantize's one multiplier
    assert fc["parallelism"] == 16 and fc["estimated_cycles"] == 512 and s["plan"]["totals"]["dsp"] == 17
    assert "cyclic factor=16" in (tmp_path / "firmware" / "ivit_top.cpp").read_text()


def _pragmas(top: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"#pragma HLS ARRAY_PARTITION variable=(\w+) cyclic factor=(\d+) dim=1", top)}


def _call_args(top: str, cfg_prefix: str) -> list[str]:
    m = re.search(r"ivit::matmul<(" + cfg_prefix + r"\w*)>\(([^)]*)\);", top)
    assert m, top
    return [a.strip() for a in m.group(2).split(",")]


@pytest.mark.parametrize("par", [8, 16])
def test_attention_partitions_put_every_parallel_access_in_its_own_bank(tmp_path, par):
    heads, tokens, dim = 2, 5, 64
    render_project(attention_graph(heads, tokens, dim), tmp_path,  # the array top's partition pragmas
                   HlsOptions(default_par=par, samples=1, trace_samples=0, dataflow="tensor"))
    top = (tmp_path / "firmware" / "ivit_top.cpp").read_text()
    banks = _pragmas(top)
    plan = {lp["node"]: lp for lp in json.loads((tmp_path / "summary.json").read_text())["plan"]["layers"]}
    assert plan["qk"]["parallelism"] == par and plan["av"]["parallelism"] == par

    # q @ k^T: lane p of iteration kb reads a[(h*M + i)*K + kb*P + p] and b[(h*N + o)*K + kb*P + p]
    a, b, _ = _call_args(top, "cfg_qk")
    for h in range(heads):
        for i_or_o in range(tokens):
            for kb in range(dim // par):
                for arr in (a, b):
                    addrs = [(h * tokens + i_or_o) * dim + kb * par + p for p in range(par)]
                    assert len({x % banks[arr] for x in addrs}) == par

    # attn @ v: lane p of iteration kk reads b[(h*K + kk)*N + ob*P + p], then writes out[(h*M + i)*N + ob*P + p]
    _, v, out = _call_args(top, "cfg_av")
    assert banks[v] == par and banks[out] == par
    for h in range(heads):
        for kk in range(tokens):
            for ob in range(dim // par):
                addrs = [(h * tokens + kk) * dim + ob * par + p for p in range(par)]
                assert len({x % banks[v] for x in addrs}) == par
                assert len({x % banks[out] for x in addrs}) == par
    # what lanes on the reduction axis would have read: K consecutive rows of v, 64 apart: one bank
    old = [(0 * tokens + p) * dim + 0 for p in range(min(par, tokens))]
    assert len({x % par for x in old}) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    av = next(layer for layer in summary["layers"] if layer["node"] == "av")
    assert av["loops"] == {"MM_B": heads, "MM_M": tokens, "MM_NB": dim // par, "MM_KS": tokens}
    assert av["estimated_cycles"] == heads * tokens * (dim // par) * tokens


@pytest.mark.parametrize("dataflow", ["stream", "tensor"])
def test_attention_at_parallelism_8_csim_is_bit_exact(tmp_path, dataflow):
    from ivit_hw.codegen.hls.verify import run_csim

    render_project(attention_graph(2, 5, 20), tmp_path, HlsOptions(default_par=8, samples=3, trace_samples=0,
                                                                   dataflow=dataflow))
    status, text = run_csim(tmp_path, sanitize=True, echo=False)
    assert status == 0 and text.strip().splitlines()[-1] == "2 passed, 0 failed", text


def test_readme_and_manifest_carry_the_plan(tmp_path):
    manifest = render_project(wide_graph(8, 4), tmp_path, HlsOptions(samples=1, trace_samples=0))
    readme = (tmp_path / "README.md").read_text()
    assert manifest["plan"][0].startswith("plan for xczu9eg: interval ")
    assert manifest["plan"][0] in readme and "fits" in manifest["plan"]




def embed_graph():
    """x [2, 8, 8] u8 -> patch_embed (4 x 4, 6 channels) -> requantize -> linear (5, bias) -> y."""
    rng = np.random.default_rng(5)
    b = GraphBuilder("embed")
    x = b.input("x", (2, 8, 8), U8, 1 / 255, Interval(0, 255))
    w = rng.integers(-127, 128, (6, 2, 4, 4))
    pe = b.node("patch_embed", {"x": x, "weight": b.const("pe.weight", w, I8, 0.01),
                                "bias": b.const("pe.bias", rng.integers(-500, 500, 6), I32, 0.01 / 255)},
                "pe.acc", I32, 0.01 / 255, {"patch": 4}, name="pe")
    m, e = ops.dyadic(0.01 / 255 / 0.05)
    q = b.node("requantize", {"acc": pe, "m": b.const("pe.m", np.asarray(m), I32),
                              "e": b.const("pe.e", np.asarray(e), U8)}, "pe.q", I8, 0.05, {"out_bits": 8}, name="peq")
    fc = b.node("linear", {"x": q, "weight": b.const("fc.weight", rng.integers(-127, 128, (5, 6)), I8, 0.01),
                           "bias": b.const("fc.bias", rng.integers(-300, 300, 5), I32, 5e-4)},
                "fc.acc", I32, 5e-4, name="fc")
    m2, e2 = ops.dyadic(5e-4 / 0.1)
    b.node("requantize", {"acc": fc, "m": b.const("fc.m", np.asarray(m2), I32),
                          "e": b.const("fc.e", np.asarray(e2), U8)}, "y", I8, 0.1, {"out_bits": 8}, name="fcq")
    return infer_ranges(b.finish(["y"]))


def test_off_chip_weights_csim_is_bit_exact(tmp_path):
    from ivit_hw.codegen.hls.verify import run_csim

    opts = HlsOptions(default_par=4, weights="off_chip", samples=6, trace_samples=2)
    render_project(embed_graph(), tmp_path, opts)
    top = (tmp_path / "firmware" / "ivit_top.cpp").read_text()
    for rom, size in (("c_pe_weight", 192), ("c_fc_weight", 30)):
        assert f"#pragma HLS INTERFACE m_axi port={rom} offset=direct bundle=gmem depth={size}" in top
        assert f"const int8_t *{rom}" in top and not (tmp_path / "firmware" / "weights" / f"{rom}.h").exists()
        assert f"variable={rom} " not in top  # no partition on a top-level argument
        assert (tmp_path / "tb" / "data" / f"{rom}.bin").stat().st_size == 4 + 16 + 8 * size
    assert "ivit::linear_axi_rows<" in top and "ivit::patch_embed_axi_stream<" in top
    assert (tmp_path / "firmware" / "weights" / "c_fc_bias.h").exists()  # biases stay on chip
    plan = json.loads((tmp_path / "summary.json").read_text())["plan"]
    dram = sorted(b["tensor"] for b in plan["buffers"] if b["memory"] == "dram")
    assert dram == ["c_fc_weight", "c_pe_weight"] and plan["totals"]["bits_off_chip"] == (192 + 30) * 8
    status, text = run_csim(tmp_path, sanitize=True, echo=False)
    lines = text.strip().splitlines()
    assert status == 0 and lines[-1] == "4 passed, 0 failed", text

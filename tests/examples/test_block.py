"""The sample DeiT block: calibrated (close to its float twin), verified, byte-stable
on disk, inspectable, and run by the CLI exactly as the ops called by hand."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import ivit_ops_reference as ref
import numpy as np
import pytest

from ivit_hw import cli, ops
from ivit_hw.ir.serialize import CONSTANTS_FILE, GRAPH_FILE, load_graph, save_graph
from ivit_hw.ir.verify import verify
from ivit_hw.ops import params as P
from ivit_hw.runtime import run_graph
from ivit_hw.runtime.golden import load_golden_case

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
from load_example import load_example  # noqa: E402

bb = load_example("build_block")


@pytest.fixture(scope="module")
def block():
    return bb.build_block(bb.BlockConfig(tokens=17, seed=0))


@pytest.fixture(scope="module")
def block_dir(block, tmp_path_factory):
    folder = tmp_path_factory.mktemp("block") / "deit_block"
    save_graph(block.graph, folder)
    return folder


def test_block_approximates_the_float_block(block):
    assert block.rel_error < 0.06
    assert block.branch_rel_error < 0.1
    assert block.y_int.shape == (17, 192)


def test_block_uses_the_spec_widths(block):
    t = block.graph.tensors
    assert t["x"].dtype.bits == 16 and t["x1"].dtype.bits == 16 and t["y"].dtype.bits == 16
    for name in ("ln1.q", "q", "k", "v", "scores", "ctx", "ln2.q", "fc1.q", "gelu.q"):
        assert t[name].dtype.bits == 8, name
    assert t["attn"].dtype.bits == 16
    for name in ("qkv.weight", "proj.weight", "fc1.weight", "fc2.weight"):
        assert t[name].dtype.bits == 8 and len(t[name].scale) == t[name].shape[0]
    for name in ("qkv.bias", "qkv.acc", "scores.acc", "ctx.acc", "fc2.acc"):
        assert t[name].dtype.bits == 32
    assert verify(block.graph).tensors == block.graph.tensors


def test_block_round_trips_byte_identically(block_dir, tmp_path):
    again = tmp_path / "again"
    save_graph(load_graph(block_dir), again)
    for name in (GRAPH_FILE, CONSTANTS_FILE):
        assert (block_dir / name).read_bytes() == (again / name).read_bytes()


def test_script_main_writes_the_folder(tmp_path, capsys):
    code = bb.main([str(tmp_path / "b"), "--tokens", "9", "--sample-input", str(tmp_path / "x.npy")])
    out = capsys.readouterr().out
    assert code == 0 and "relative error" in out
    g = load_graph(tmp_path / "b")
    assert g.tensors["x"].shape == (9, 192)
    assert np.load(tmp_path / "x.npy").dtype == np.int16


def test_inspect_on_the_block(block_dir, capsys):
    assert cli.main(["inspect", str(block_dir)]) == 0
    out = capsys.readouterr().out
    assert "per-ch[576]" in out and "attn" in out
    tensor_table = out.split("\n\n")[1]
    rows = {line.split()[0]: line for line in tensor_table.splitlines() if not line.startswith("-")}
    assert rows["x"].split()[1] == "input" and rows["y"].split()[1] == "output"
    assert "shiftmax" in out and "shiftgelu" in out and "ilayernorm" in out


def _by_hand(g, s, x: np.ndarray, cfg) -> np.ndarray:
    """The block with the ops called directly, in graph order, from the graph's constants."""
    c = g.constants
    n, d, h, hd = cfg.tokens, cfg.dim, cfg.heads, cfg.head_dim

    def rq(acc, name, bits, identity=None):
        if identity is None:
            return ops.requantize(acc, c[f"{name}.m"], c[f"{name}.e"], bits)
        return ops.requantize(acc, c[f"{name}.m"], c[f"{name}.e"], bits, identity=identity,
                              m_id=c[f"{name}.m_id"], e_id=c[f"{name}.e_id"])

    def heads(t):  # [N, D] -> [H, N, hd]
        return t.reshape(n, h, hd).transpose(1, 0, 2)

    h1 = rq(ops.ilayernorm(x, c["ln1.bias_int"]), "ln1.q", 8)
    qkv = ops.linear(h1, c["qkv.weight"], c["qkv.bias"])
    q, k, v = (heads(rq(qkv[:, i * d : (i + 1) * d], part, 8)) for i, part in enumerate("qkv"))
    scores = rq(ops.matmul(q, k, transpose_b=True), "scores", 8)
    attn = ops.shiftmax(scores, P.exp_x0(s["scores"]), 15, 16)
    ctx = rq(ops.matmul(attn, v), "ctx", 8).transpose(1, 0, 2).reshape(n, d)
    x1 = rq(ops.linear(ctx, c["proj.weight"], c["proj.bias"]), "x1", 16, identity=x)
    h2 = rq(ops.ilayernorm(x1, c["ln2.bias_int"]), "ln2.q", 8)
    f = rq(ops.linear(h2, c["fc1.weight"], c["fc1.bias"]), "fc1.q", 8)
    g8 = rq(ops.shiftgelu(f, P.gelu_x0(s["f1"]), 23, "scale"), "gelu.q", 8)
    return rq(ops.linear(g8, c["fc2.weight"], c["fc2.bias"]), "y", 16, identity=x1)


def test_cli_run_equals_the_ops_by_hand(block, block_dir, tmp_path, capsys):
    np.save(tmp_path / "x.npy", block.x_int.astype(np.int16))
    code = cli.main(["run", str(block_dir), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
                     "--trace", str(tmp_path / "trace")])
    assert code == 0, capsys.readouterr().err
    y = np.load(tmp_path / "y.npy")
    expected = _by_hand(block.graph, block.scales, block.x_int.astype(np.int64), block.config)
    assert y.shape == expected.shape == (17, 192)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(y, block.y_int)
    attn = load_golden_case(tmp_path / "trace" / "cases" / "attn.npz")
    assert attn.op == "shiftmax" and attn.attrs["x0"] == math.floor(-1 / block.scales["scores"])
    want = ref.shiftmax(attn.inputs["x"].tolist(), attn.attrs["x0"], attn.attrs["n"], attn.attrs["out_bits"])
    np.testing.assert_array_equal(attn.output, want)


def test_block_batches_match_per_sample_runs(block):
    rng = np.random.default_rng(5)
    xs = np.stack([P.quantize(bb.random_residual(block.config, rng, 1)[0], block.scales["x"], 16)
                   for _ in range(3)])
    batched = run_graph(block.graph, {"x": xs}).outputs["y"]
    for i in range(3):
        np.testing.assert_array_equal(batched[i], run_graph(block.graph, {"x": xs[i]}).outputs["y"][0])

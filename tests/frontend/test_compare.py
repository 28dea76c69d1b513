"""The fidelity report ``ivit-hw compare`` (issue 7).

Its numbers are checked against a direct computation: the graph's tensors
from a traced golden run, the float activations from forward hooks on the
torch modules (not the report's own float walk), SQNR and clipping counted
here with exact integers.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from ivit_hw import cli
from ivit_hw.frontend.checkpoint import save_checkpoint
from ivit_hw.frontend.compare import run_compare
from ivit_hw.frontend.data import load_digits_split
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.synthetic import synthetic_graph
from ivit_hw.ir.serialize import save_graph
from ivit_hw.runtime import run_graph

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N = 24


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    graph = synthetic_graph("vit_digits")  # weights of torch.manual_seed(0)
    torch.manual_seed(0)
    model = create_model("vit_digits").eval()
    save_graph(graph, root / "g.ivit")
    save_checkpoint(model, root / "w.safetensors")
    split = load_digits_split()
    return {"root": root, "graph": graph, "model": model, "x": split.test_images[:N], "y": split.test_labels[:N]}


def _hooked_float(model, x):
    """Float activations from forward hooks, keyed by the graph tensor they should match."""
    acts = {}

    def keep(*names):
        def hook(_mod, _inp, out):
            for n in names:
                acts[n] = out.detach().double().numpy()
        return hook

    hooks = [model.head.register_forward_hook(keep("logits", "head.acc"))]
    for i, blk in enumerate(model.blocks):
        p = f"blocks.{i}"
        hooks += [blk.norm1.register_forward_hook(keep(f"{p}.norm1.out", f"{p}.norm1.q")),
                  blk.attn.qkv.register_forward_hook(keep(f"{p}.attn.qkv.acc", f"{p}.attn.qkv.q")),
                  blk.attn.proj.register_forward_hook(keep(f"{p}.attn.proj.acc")),
                  blk.mlp.fc1.register_forward_hook(keep(f"{p}.mlp.fc1.acc", f"{p}.mlp.gelu_in")),
                  blk.mlp.act.register_forward_hook(keep(f"{p}.mlp.gelu", f"{p}.mlp.gelu.q")),
                  blk.mlp.fc2.register_forward_hook(keep(f"{p}.mlp.fc2.acc")),
                  blk.register_forward_hook(keep(f"{p}.res2"))]
    with torch.no_grad():
        model.forward_uint8(torch.as_tensor(x))
    for h in hooks:
        h.remove()
    return acts


def _dequant(spec, q):
    return q.astype(np.float64) * np.asarray(spec.scale, dtype=np.float64)  # per-channel scales: last axis


def _exact_clipped(acc, m, e, bits):
    """Elements of round_half_even(acc * m / 2^e) outside the signed ``bits`` range, with Python ints."""
    m = np.broadcast_to(np.asarray(m, dtype=object), acc.shape)
    e = np.broadcast_to(np.asarray(e, dtype=object), acc.shape)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    count = 0
    for a, mm, ee in zip(acc.astype(object).ravel(), m.ravel(), e.ravel(), strict=True):
        q, r = divmod(int(a) * int(mm), 2 ** int(ee))
        half = 2 ** int(ee) // 2 if ee else 0
        if ee and (r > half or (r == half and q % 2)):
            q += 1
        count += not lo <= q <= hi
    return count


def test_report_numbers_match_a_direct_computation(digits):
    g, model, x, y = digits["graph"], digits["model"], digits["x"], digits["y"]
    report = run_compare(g, model, x, y, batch=7, progress=False)  # batches of 7: sums across uneven batches
    rows = {r["tensor"]: r for r in report["tensors"]}
    traced = run_graph(g, {"pixels": x}, trace=True).tensors
    ref = _hooked_float(model, x)
    checked = 0
    for name, f in ref.items():
        if name not in g.tensors:
            continue
        q = _dequant(g.tensor(name), traced[name])
        want = 10 * math.log10(np.sum(f**2) / np.sum((f - q) ** 2))
        assert rows[name]["sqnr_db"] == pytest.approx(want, rel=1e-9, abs=1e-9), name
        assert rows[name]["elements"] == f.size
        checked += 1
    assert checked == 2 + 4 * 11  # logits, head.acc and eleven tensors per block
    # clipping of every requantize without identity, counted exactly from its traced accumulator
    for node in g.nodes:
        if node.op != "requantize" or "identity" in node.inputs:
            continue
        acc = traced[node.inputs["acc"]]
        m, e = g.constants[node.inputs["m"]], g.constants[node.inputs["e"]]
        want = _exact_clipped(acc, m, e, node.attrs["out_bits"]) / acc.size
        assert rows[node.output]["clip_share"] == want, node.name
    # top-1 agreement and logit error
    fl = ref["logits"]
    il = traced[g.outputs[0]]
    pred = traced[g.outputs[1]].reshape(-1)
    s = report["summary"]
    assert s["images"] == N
    assert s["top1_agreement"] == np.mean(pred == fl.argmax(-1))
    assert s["int_top1"] == np.mean(pred == y) and s["float_top1"] == np.mean(fl.argmax(-1) == y)
    err = _dequant(g.tensor(g.outputs[0]), il) - fl
    assert s["logits"]["max_abs_err"] == pytest.approx(np.abs(err).max(), rel=1e-12)
    assert s["logits"]["mean_abs_err"] == pytest.approx(np.abs(err).mean(), rel=1e-12)
    # graph order, every scaled tensor present
    names = [r["tensor"] for r in report["tensors"]]
    order = [n.output for n in g.nodes]
    assert names == [n for n in order if n in rows]
    # only the qkv layout views (a per-channel scale over a split axis) are not compared
    assert all(n.endswith((".attn.qkv.split", ".attn.qkv.heads")) for n in report["no_float_counterpart"])
    finite = [r for r in report["tensors"] if isinstance(r["sqnr_db"], float)]
    worst = min(finite, key=lambda r: r["sqnr_db"])
    assert s["worst_tensor"] == worst["tensor"]


def test_compare_command_writes_json_md_png(capsys, digits):
    root = digits["root"]
    out = root / "report"
    code = cli.main(["compare", str(root / "g.ivit"), "--float-model", "vit_digits", "--checkpoint",
                     str(root / "w.safetensors"), "--images", "digits", "--max-images", str(N), "--out", str(out),
                     "--quiet"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare.md", "compare.png"]
    saved = json.loads((out / "compare.json").read_text())
    direct = run_compare(digits["graph"], digits["model"], digits["x"], digits["y"], progress=False)
    assert saved["summary"] == json.loads(json.dumps(direct["summary"]))
    assert saved["source"]["images"] == "digits test split"
    md = (out / "compare.md").read_text()
    assert md.startswith("# Fidelity: integer graph `vit_digits`")
    first = saved["tensors"][0]
    assert f"| 0 | `{first['tensor']}` | {first['op']} | {first['bits']} | {first['sqnr_db']:.1f} |" in md
    assert (out / "compare.png").read_bytes().startswith(PNG_MAGIC)
    assert f"top-1 agreement {100 * saved['summary']['top1_agreement']:.2f} %" in stdout
    # the default report folder is 'compare' beside the graph folder
    code = cli.main(["compare", str(root / "g.ivit"), "--float-model", "vit_digits", "--checkpoint",
                     str(root / "w.safetensors"), "--images", "digits", "--max-images", "4", "--quiet"])
    assert code == 0 and (root / "compare" / "compare.md").is_file()
    capsys.readouterr()


def test_compare_errors_come_before_work(capsys, tmp_path, digits):
    root = digits["root"]
    (tmp_path / "file").write_text("x")
    base = ["compare", str(root / "g.ivit"), "--float-model", "vit_digits", "--checkpoint",
            str(root / "w.safetensors"), "--images", "digits"]
    assert cli.main([*base, "--out", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ivit-hw: error: --out") and "is a file" in err
    assert cli.main([*base[:-2], "--images", "digits", "--max-images", "0"]) == 2
    assert "--max-images must be >= 1" in capsys.readouterr().err


def test_compare_deit_tiny_from_a_timm_style_checkpoint(capsys, tmp_path, deit_tiny_graph):
    torch.manual_seed(0)  # the weights deit_tiny_graph was built from
    model = create_model("deit_tiny")
    state = {"model": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 300}
    torch.save(state, tmp_path / "deit_tiny.pth")  # a timm training checkpoint: nested, DDP-prefixed
    save_graph(deit_tiny_graph, tmp_path / "g")
    rng = np.random.default_rng(0)
    (tmp_path / "imgs" / "n01440764").mkdir(parents=True)
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (256, 300, 3), dtype=np.uint8)).save(
            tmp_path / "imgs" / "n01440764" / f"{k}.png")
    code = cli.main(["compare", str(tmp_path / "g"), "--float-model", "deit_tiny", "--checkpoint",
                     str(tmp_path / "deit_tiny.pth"), "--images", str(tmp_path / "imgs"), "--max-images", "1",
                     "--batch", "1", "--out", str(tmp_path / "rep"), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 0, err
    rep = json.loads((tmp_path / "rep" / "compare.json").read_text())
    names = [r["tensor"] for r in rep["tensors"]]
    assert {f"blocks.{i}.res2" for i in range(12)} <= set(names) and names[-1] == "logits"
    assert all(n.endswith((".attn.qkv.split", ".attn.qkv.heads")) for n in rep["no_float_counterpart"])
    assert rep["summary"]["images"] == 1 and rep["summary"]["int_top1"] is None  # 1 folder != 1000 logits
    assert all(isinstance(r["sqnr_db"], float) and r["sqnr_db"] > 0 for r in rep["tensors"]
               if r["sqnr_db"] is not None)


def test_compare_takes_the_float_preset_from_the_graph(capsys, tmp_path, digits):
    """Issue 19 item 5: --float-model defaults to the preset the graph records; none recorded is one line."""
    root = digits["root"]
    common = ["--checkpoint", str(root / "w.safetensors"), "--images", "digits", "--max-images", "4", "--quiet"]
    assert cli.main(["compare", str(root / "g.ivit"), "--float-model", "vit_digits", *common,
                     "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["compare", str(root / "g.ivit"), *common, "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    a, b = (json.loads((tmp_path / d / "compare.json").read_text()) for d in "ab")
    assert a["summary"] == b["summary"] and b["source"]["float_model"] == "vit_digits"
    graph = digits["graph"]
    bare = dataclasses.replace(graph, meta={})
    save_graph(bare, tmp_path / "bare")
    code = cli.main(["compare", str(tmp_path / "bare"), *common, "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("ivit-hw: error: ") and len(err.strip().splitlines()) == 1, err
    assert "does not record the float preset" in err and "--float-model" in err

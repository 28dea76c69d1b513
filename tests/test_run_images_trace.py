"""``ivit-hw run`` on images, and traces that fit (issue 19, items 1 and 2)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ivit_hw.frontend.data import eval_transform
from ivit_hw.ir.serialize import save_graph
from ivit_hw.runtime import run_graph
from ivit_hw.runtime.golden import load_golden_case

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_helpers import assert_one_line_error, run_cli  # noqa: E402


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """vit_digits (random weights) saved twice: recording crop_pct 0.5, and 1.0; five odd-sized images."""
    from ivit_hw.frontend.synthetic import synthetic_graph

    root = tmp_path_factory.mktemp("runimg")
    graph = synthetic_graph("vit_digits", n_calib=8)
    for crop in (0.5, 1.0):
        meta = {**graph.meta, "preprocess": {"crop_pct": crop, "interpolation": "bicubic"}}
        save_graph(dataclasses.replace(graph, meta=meta), root / f"g{crop}")
    rng = np.random.default_rng(0)
    (root / "imgs" / "sub").mkdir(parents=True)
    paths = []
    for k in range(5):
        folder = root / "imgs" / ("sub" if k == 4 else "")
        arr = rng.integers(0, 256, (11 + k, 14, 3), dtype=np.uint8)  # RGB, not square: converted and cropped
        paths.append(folder / f"im{k}.png")
        Image.fromarray(arr).save(paths[-1])
    return {"root": root, "graph": graph, "paths": sorted(paths)}


def _pixels(paths, crop):
    return np.stack([eval_transform(Image.open(p), 8, crop, in_chans=1) for p in paths])


def _logits(graph, pixels):
    return run_graph(graph, {graph.inputs[0]: pixels}).outputs[graph.outputs[0]]


@pytest.mark.parametrize("crop", [0.5, 1.0])
def test_run_reads_an_image_with_the_preprocessing_the_graph_records(capsys, digits, crop, tmp_path):
    image = digits["paths"][0]
    code, out, err = run_cli(capsys, "run", digits["root"] / f"g{crop}", "--input", image, "--output",
                             tmp_path / "y.npz")
    assert code == 0, err
    assert f"read 1 image(s) from {image}" in out and f"crop_pct {crop:g}" in out and "grayscale" in out
    got = np.load(tmp_path / "y.npz")["logits"]
    want = _logits(digits["graph"], _pixels([image], crop))[0]
    assert np.array_equal(got, want)
    other = _logits(digits["graph"], _pixels([image], 1.5 - crop))[0]
    assert not np.array_equal(got, other)  # the crop matters for this image: the test can tell them apart


def test_run_reads_a_folder_and_a_glob_in_sorted_order(capsys, digits, tmp_path):
    root = digits["root"]
    code, out, err = run_cli(capsys, "run", root / "g0.5", "--input", root / "imgs", "--output", tmp_path / "a.npz")
    assert code == 0, err
    assert f"read 5 image(s) from {root / 'imgs'}" in out
    want = _logits(digits["graph"], _pixels(digits["paths"], 0.5))
    assert np.array_equal(np.load(tmp_path / "a.npz")["logits"], want)
    code, out, err = run_cli(capsys, "run", root / "g0.5", "--input", f"{root}/imgs/im[13].png", "--output",
                             tmp_path / "b.npz")
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "b.npz")["logits"], want[[1, 3]])


def test_run_image_errors_are_one_line(capsys, digits, tmp_path):
    root = digits["root"]
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "run", root / "g0.5", "--input", tmp_path / "empty", "--output", tmp_path / "y.npz")
    assert_one_line_error(code, err, "empty", "holds no image")
    code, _, err = run_cli(capsys, "run", root / "g0.5", "--input", f"{tmp_path}/*.jpg", "--output", tmp_path / "y.npz")
    assert_one_line_error(code, err, "*.jpg", "holds no image")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    code, _, err = run_cli(capsys, "run", root / "g0.5", "--input", tmp_path / "bad.png", "--output",
                           tmp_path / "y.npz")
    assert_one_line_error(code, err, "bad.png")
    assert not (tmp_path / "y.npz").exists()


# ----------------------------------------------------------------------------- item 2: traces


@pytest.fixture(scope="module")
def full_trace(tmp_path_factory, digits):
    root = tmp_path_factory.mktemp("fulltrace")
    x = _pixels(digits["paths"], 0.5)
    np.save(root / "x.npy", x)
    code = run_cli_plain("run", digits["root"] / "g0.5", "--input", root / "x.npy", "--output", root / "y.npz",
                         "--trace", root / "t")
    assert code == 0
    return root


def run_cli_plain(*argv):
    from ivit_hw import cli

    return cli.main([str(a) for a in argv])


def _index(folder):
    return yaml.safe_load((folder / "index.yaml").read_text())


def test_trace_nodes_writes_only_the_selected_nodes_identically(capsys, digits, full_trace, tmp_path):
    code, _, err = run_cli(capsys, "run", digits["root"] / "g0.5", "--input", full_trace / "x.npy", "--output",
                           tmp_path / "y.npz", "--trace", tmp_path / "t", "--trace-nodes", "blocks.0.*")
    assert code == 0, err
    graph = digits["graph"]
    picked = [n.name for n in graph.nodes if n.name.startswith("blocks.0.")]
    assert picked and len(picked) < len(graph.nodes)
    idx, full = _index(tmp_path / "t"), _index(full_trace / "t")
    assert sorted(idx["cases"]) == sorted(picked)
    assert set(idx["tensors"]) == {graph.node(n).output for n in picked} | set(graph.inputs)
    assert {k.rpartition("/")[0] for k in idx["internals"]} <= set(picked)
    for node in picked:
        mine, theirs = tmp_path / "t" / idx["cases"][node], full_trace / "t" / full["cases"][node]
        assert mine.read_bytes() == theirs.read_bytes(), node
    for name, rel in idx["tensors"].items():
        assert np.array_equal(np.load(tmp_path / "t" / rel), np.load(full_trace / "t" / full["tensors"][name]))
    code, _, err = run_cli(capsys, "run", digits["root"] / "g0.5", "--input", full_trace / "x.npy", "--output",
                           tmp_path / "z.npz", "--trace", tmp_path / "t2", "--trace-nodes", "blocks.9.*")
    assert_one_line_error(code, err, "'blocks.9.*'", "matches no node")


def test_trace_samples_trace_the_chosen_images_only(capsys, digits, full_trace, tmp_path):
    code, _, err = run_cli(capsys, "run", digits["root"] / "g0.5", "--input", full_trace / "x.npy", "--output",
                           tmp_path / "y.npz", "--trace", tmp_path / "t", "--trace-samples", "1,3")
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "y.npz")["logits"], np.load(full_trace / "y.npz")["logits"])
    idx, full = _index(tmp_path / "t"), _index(full_trace / "t")
    assert idx["samples"] == [1, 3]
    node = digits["graph"].nodes[5].name
    part = load_golden_case(tmp_path / "t" / idx["cases"][node])
    whole = load_golden_case(full_trace / "t" / full["cases"][node])
    assert np.array_equal(part.output, whole.output[[1, 3]])
    code, _, err = run_cli(capsys, "run", digits["root"] / "g0.5", "--input", full_trace / "x.npy", "--output",
                           tmp_path / "z.npz", "--trace", tmp_path / "t3", "--trace-samples", "7")
    assert_one_line_error(code, err, "--trace-samples 7", "5 sample(s)")


def test_trace_files_are_compact_and_exact(digits, full_trace):
    graph = digits["graph"]
    idx = _index(full_trace / "t")
    x = np.load(full_trace / "x.npy")
    ref = run_graph(graph, {graph.inputs[0]: x}, trace=True)
    narrow = 0
    for name, rel in idx["tensors"].items():
        arr = np.load(full_trace / "t" / rel)
        assert np.array_equal(arr.astype(np.int64), ref.tensors[name]), name
        assert arr.dtype.itemsize <= max(1, -(-graph.tensor(name).dtype.bits // 8)) or arr.dtype.itemsize == 8
        narrow += arr.dtype.itemsize < 8
    assert narrow >= len(idx["tensors"]) // 2  # 8-bit activations take one byte, not eight


def test_codegen_help_says_tb_inputs_are_model_pixels_even_for_a_block(capsys):
    from ivit_hw import cli

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["codegen", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    tb = text.rsplit("--tb-inputs FILE.npy", 1)[1][:300]
    assert "pixels" in tb and "block:NAME" in tb, tb

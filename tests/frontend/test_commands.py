"""The frontend CLI commands ``ivit-hw quantize`` and ``ivit-hw eval``, run through :func:`ivit_hw.cli.main`.

Expected values come from the checkpoint and the folder layout the tests build
themselves: the quantized patch embedding is checked against the normalisation
folded by hand, and top-1 against a checkpoint whose head bias forces one class,
so the accuracy is the share of images in the folder that sorts to that index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ivit_hw import cli
from ivit_hw.frontend.checkpoint import save_checkpoint
from ivit_hw.frontend.data import ImageFolderDataset, load_digits_split
from ivit_hw.frontend.models import DIGITS_NORMALIZE, create_model
from ivit_hw.ir.serialize import load_graph
from ivit_hw.runtime import run_graph

FORCED_CLASS = 1
# Folder names listed in creation order, with how many images each gets. Sorted, they are
# alpha (index 0, 4 images), mike (index 1, 10 images), zulu (index 2, 6 images); each folder
# holds test images of the digit equal to its sorted index.
FOLDERS = {"zulu": 6, "alpha": 4, "mike": 10}
N_IMAGES = sum(FOLDERS.values())


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_user_error(code, err, *parts, one_line=True):
    assert code == 2, err
    assert err.startswith("ivit-hw: error: "), err
    assert "Traceback" not in err
    if one_line:
        assert len(err.strip().splitlines()) == 1, err
    for part in parts:
        assert part in err, err


def _random_model(seed: int = 0):
    torch.manual_seed(seed)
    model = create_model("vit_digits")
    with torch.no_grad():  # non-trivial biases so the folded bias is checked too
        model.patch_embed.proj.bias.copy_(torch.linspace(-0.05, 0.05, model.embed_dim))
    return model


def _trained_model():
    """vit_digits after a few epochs on the digits 0, 1, 2 only: predictions that vary with the image."""
    from ivit_hw.frontend.train import train_float

    split = load_digits_split()
    keep = split.train_labels < 3
    model = _random_model(3)
    train_float(model, split.train_images[keep], split.train_labels[keep], epochs=4, lr=1e-3, batch_size=32, seed=0,
                progress=False, max_shift=1, shift_prob=0.5)
    return model


def _forced_model():
    """A model whose head bias makes FORCED_CLASS win for every image, by a wide margin."""
    model = _random_model(1)
    with torch.no_grad():
        model.head.bias.zero_()
        model.head.bias[FORCED_CLASS] = 6.0
    return model


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Checkpoints (.pth, .safetensors; random, forced-class, trained) and the IR folders `quantize` writes."""
    root = tmp_path_factory.mktemp("cmd")
    model = _random_model(0)
    pth = save_checkpoint(model, root / "w.pth")
    st = save_checkpoint(model, root / "w.safetensors")
    forced = save_checkpoint(_forced_model(), root / "forced.safetensors")
    trained_model = _trained_model()
    trained = save_checkpoint(trained_model, root / "trained.safetensors")
    graphs = {}
    for name, ck in (("pth", pth), ("st", st), ("forced", forced), ("trained", trained)):
        out = root / f"{name}.ivit"
        code = cli.main(["quantize", "--model", "vit_digits", "--checkpoint", str(ck), "--calib", "digits",
                         "--max-calib", "32", "-o", str(out)])
        assert code == 0
        graphs[name] = out
    return {"root": root, "model": model, "pth": pth, "st": st, "forced": forced, "graphs": graphs,
            "trained": trained, "trained_model": trained_model}


# ----------------------------------------------------------------------------- quantize


def test_quantize_writes_a_loadable_graph_consistent_with_the_checkpoint(work):
    graph = load_graph(work["graphs"]["pth"])
    assert list(graph.inputs) == ["pixels"]
    assert graph.tensor("pixels").shape == (1, 8, 8)
    assert graph.tensor(graph.outputs[0]).shape == (10,)
    ops = {n.op for n in graph.nodes}
    assert {"shiftmax", "shiftgelu", "ilayernorm", "patch_embed", "argmax"} <= ops

    # the float weight on raw 0..255 pixels: w / (255 * std); bias b - sum(w * mean / std)
    sd = work["model"].state_dict()
    w = sd["patch_embed.proj.weight"].double().numpy()
    b = sd["patch_embed.proj.bias"].double().numpy()
    (mean,), (std,) = DIGITS_NORMALIZE.mean, DIGITS_NORMALIZE.std
    w_fold = w / (255.0 * std)
    b_fold = b - w.reshape(len(w), -1).sum(axis=1) * mean / std

    w_int = np.asarray(graph.constants["patch_embed.weight"])
    assert w_int.shape == w.shape == (64, 1, 2, 2)
    flat_int, flat_f = w_int.reshape(64, -1), w_fold.reshape(64, -1)
    # symmetric per-channel int8: the largest |weight| of each channel maps to 127, signs kept
    assert np.all(np.abs(flat_int).max(axis=1) == 127)
    peak = np.abs(flat_f).argmax(axis=1)
    np.testing.assert_array_equal(np.abs(flat_int)[np.arange(64), peak], 127)
    big = np.abs(flat_f) > 0.01 * np.abs(flat_f).max(axis=1, keepdims=True)
    np.testing.assert_array_equal(np.sign(flat_int)[big], np.sign(flat_f)[big])
    s_w = np.asarray(graph.tensor("patch_embed.weight").scale, dtype=np.float64)
    np.testing.assert_allclose(s_w, np.abs(flat_f).max(axis=1) / 127, rtol=1e-6)  # torch folds in float32
    assert np.all(np.abs(flat_int - flat_f / s_w[:, None]) <= 0.5 + 1e-3)
    b_int = np.asarray(graph.constants["patch_embed.bias"])
    assert np.all(np.abs(b_int - b_fold / s_w) <= 0.5 + 1e-3)


def test_pth_and_safetensors_give_the_same_graph(work):
    a, b = (load_graph(work["graphs"][k]) for k in ("pth", "st"))
    assert [(n.name, n.op) for n in a.nodes] == [(n.name, n.op) for n in b.nodes]
    assert a.constants.keys() == b.constants.keys()
    for name in a.constants:
        np.testing.assert_array_equal(a.constants[name], b.constants[name], err_msg=name)
    assert (work["graphs"]["pth"] / "graph.yaml").read_text().replace("w.pth", "X") == \
        (work["graphs"]["st"] / "graph.yaml").read_text().replace("w.safetensors", "X")


def test_quantize_config_selects_baseline_ops(capsys, tmp_path, work):
    cfg = tmp_path / "q.yaml"
    cfg.write_text("softmax: ibert_softmax\nlayernorm: l1_layernorm\n")
    out = tmp_path / "g"
    code, stdout, err = _run(capsys, "quantize", "--model", "vit_digits", "--checkpoint", work["st"], "--config",
                             cfg, "--calib", "digits", "--max-calib", "16", "-o", out)
    assert code == 0, err
    assert f"wrote {out}" in stdout and "ibert_softmax+shiftgelu+l1_layernorm" in stdout
    ops = [n.op for n in load_graph(out).nodes]
    assert ops.count("ibert_softmax") == 4 and ops.count("l1_layernorm") == 9  # 4 blocks x (1 | 2) + final norm
    assert "shiftmax" not in ops and "ilayernorm" not in ops and ops.count("shiftgelu") == 4


def test_quantize_calibrates_from_an_npy_and_a_folder(capsys, tmp_path, work):
    imgs = load_digits_split().train_images[:12]
    np.save(tmp_path / "c.npy", imgs)
    for k, img in enumerate(imgs):
        (tmp_path / "folder" / "x").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[0], mode="L").save(tmp_path / "folder" / "x" / f"{k}.png")
    for src in (tmp_path / "c.npy", tmp_path / "folder"):
        code, out, err = _run(capsys, "quantize", "--model", "vit_digits", "--checkpoint", work["pth"], "--calib",
                              src, "-o", tmp_path / f"g_{src.stem}")
        assert code == 0, err
        assert "on 12 image(s)" in out
        load_graph(tmp_path / f"g_{src.stem}")


def _bad_state(path: Path, drop: str | None = None, extra: str | None = None) -> Path:
    state = dict(_random_model(2).state_dict())
    if drop:
        del state[drop]
    if extra:
        state[extra] = torch.zeros(3)
    torch.save(state, path)
    return path


def _digits_npy(path: Path, shape, dtype=np.uint8) -> Path:
    np.save(path, np.zeros(shape, dtype))
    return path


@pytest.mark.parametrize(
    "case",
    [
        "missing_checkpoint", "missing_key", "extra_key", "image_size", "channels", "empty_calib",
        "unknown_preset", "bad_config_key", "missing_calib", "missing_calib_npy", "missing_config",
    ],
)
def test_quantize_user_errors(capsys, tmp_path, work, case):
    args = {"--model": "vit_digits", "--checkpoint": work["pth"], "--calib": "digits", "--max-calib": "8"}
    expect: list[str] = []
    one_line = True
    if case == "missing_checkpoint":
        args["--checkpoint"] = tmp_path / "nope.pth"
        expect = ["checkpoint", "nope.pth"]
    elif case == "missing_key":
        args["--checkpoint"] = _bad_state(tmp_path / "m.pth", drop="blocks.2.mlp.fc1.bias")
        expect = ["m.pth", "1 missing key(s), e.g. blocks.2.mlp.fc1.bias"]
    elif case == "extra_key":
        args["--checkpoint"] = _bad_state(tmp_path / "x.pth", extra="blocks.7.attn.qkv.weight")
        expect = ["x.pth", "1 unexpected key(s), e.g. blocks.7.attn.qkv.weight"]
    elif case == "image_size":
        args["--calib"] = _digits_npy(tmp_path / "big.npy", (4, 1, 16, 16))
        expect = ["big.npy", "16x16", "8x8"]
    elif case == "channels":
        args["--calib"] = _digits_npy(tmp_path / "rgb.npy", (4, 3, 8, 8))
        expect = ["rgb.npy", "3 channel(s)", "expects 1"]
    elif case == "empty_calib":
        args["--calib"] = _digits_npy(tmp_path / "none.npy", (0, 1, 8, 8))
        expect = ["none.npy", "empty"]
    elif case == "unknown_preset":
        args["--model"] = "vit_gigantic"
        del args["--checkpoint"]
        expect = ["vit_gigantic"]
    elif case == "bad_config_key":
        (tmp_path / "q.yaml").write_text("softmax: shiftmax\nsoftmux: ibert_softmax\n")
        args["--config"] = tmp_path / "q.yaml"
        expect = ["q.yaml", "softmux"]
    elif case == "missing_calib":
        args["--calib"] = tmp_path / "no_such_images"
        expect = ["no_such_images", "not found"]
    elif case == "missing_calib_npy":
        args["--calib"] = tmp_path / "no_such.npy"
        expect = ["no_such.npy", "does not exist"]
    elif case == "missing_config":
        args["--config"] = tmp_path / "nope.yaml"
        expect = ["nope.yaml"]
    out = tmp_path / "out" / "g.ivit"
    argv = ["quantize", *(x for kv in args.items() for x in kv), "-o", out]
    code, _, err = _run(capsys, *argv)
    if case == "unknown_preset":  # --model lists its choices: argparse refuses it before the command runs
        assert code == 2 and "invalid choice: 'vit_gigantic'" in err and "vit_digits" in err
    else:
        _assert_user_error(code, err, *expect, one_line=one_line)
    assert not (tmp_path / "out").exists()


def test_failed_quantize_leaves_an_existing_graph_alone(capsys, tmp_path, work):
    import shutil

    out = shutil.copytree(work["graphs"]["pth"], tmp_path / "g")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = _run(capsys, "quantize", "--model", "vit_digits", "--checkpoint", work["st"], "--calib",
                        _digits_npy(tmp_path / "big.npy", (2, 1, 16, 16)), "-o", out)
    _assert_user_error(code, err, "16x16")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy", "g"]


# ----------------------------------------------------------------------------- eval


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """FOLDERS filled, in creation order, with digits test images written as 8x8 grayscale PNGs.

    Returns the root and {(folder, file): uint8 image [1, 8, 8]} of what was written.
    """
    root = tmp_path_factory.mktemp("imgs") / "tree"
    split = load_digits_split()
    written = {}
    for name, count in FOLDERS.items():
        digit = sorted(FOLDERS).index(name)
        (root / name).mkdir(parents=True)
        for j, img in enumerate(split.test_images[split.test_labels == digit][:count]):
            Image.fromarray(img[0], mode="L").save(root / name / f"img{j:02d}.png")
            written[(name, f"img{j:02d}.png")] = img
    (root / "alpha" / "notes.txt").write_text("not an image")
    # 3 class folders for a 10-logit graph: the class map says which logit each folder is (line i = logit i)
    (root.parent / "classes.txt").write_text("alpha\nmike\nzulu\n")
    return root, written


def _cmap(root: Path) -> tuple[str, Path]:
    """The --class-map option for the folder fixture (alpha, mike, zulu are logits 0, 1, 2)."""
    return "--class-map", root.parent / "classes.txt"


def _top1(out: str, kind: str) -> tuple[float, int | None]:
    line = next(line for line in out.splitlines() if line.startswith(kind))
    pct = float(line.split(":")[1].split("%")[0])
    n = int(line.split(" on ")[1].split()[0]) if " on " in line else None
    return pct, n


def test_eval_accuracy_follows_the_sorted_folder_names(capsys, work, folder):
    root, _ = folder
    n = sum(FOLDERS.values())
    index = sorted(FOLDERS).index  # the class index of a folder name
    forced_folder = next(f for f in FOLDERS if index(f) == FORCED_CLASS)
    expected = 100 * FOLDERS[forced_folder] / n  # every prediction is FORCED_CLASS: 10 / 20 -> 50 %
    assert expected == 50.0
    code, out, err = _run(capsys, "eval", work["graphs"]["forced"], "--imagefolder", root, *_cmap(root),
                          "--float-model", "vit_digits", "--checkpoint", work["forced"], "--batch", "4")
    assert code == 0, err
    assert _top1(out, "integer top-1") == (expected, n)
    assert _top1(out, "float   top-1")[0] == expected
    assert out.splitlines()[0] == f"integer top-1: {expected:.2f} % on {n} images"
    code, out, err = _run(capsys, "eval", work["graphs"]["forced"], "--imagefolder", root, *_cmap(root),
                          "--max-images", "8")
    assert code == 0, err
    # the first 8 samples in sorted order: alpha (4 images, index 0), then 4 of mike (index 1)
    assert _top1(out, "integer top-1") == (50.0, 8)
    assert "float" not in out


def test_eval_matches_the_golden_executor_on_the_written_images(capsys, work, folder):
    root, written = folder
    graph_dir = work["graphs"]["trained"]
    keys = sorted(written)  # folders, then files, in sorted order: the order eval reads them
    raw = np.stack([written[k] for k in keys])
    labels = np.array([sorted(FOLDERS).index(name) for name, _ in keys])
    graph = load_graph(graph_dir)
    res = run_graph(graph, {"pixels": raw}).outputs
    pred = res[graph.outputs[1]].reshape(-1)
    np.testing.assert_array_equal(pred, res[graph.outputs[0]].argmax(-1))
    assert len(set(pred.tolist())) > 1 and 0 < (pred == labels).sum() < N_IMAGES  # a check with teeth
    expected = 100 * float((pred == labels).mean())
    # --crop-pct 1: 8x8 images reach the graph unchanged
    code, out, err = _run(capsys, "eval", graph_dir, "--imagefolder", root, *_cmap(root), "--batch", "3",
                          "--crop-pct", "1", "--float-model", "vit_digits", "--checkpoint", work["trained"])
    assert code == 0, err
    assert _top1(out, "integer top-1") == (round(expected, 2), N_IMAGES)
    with torch.no_grad():
        fpred = work["trained_model"].forward_uint8(torch.as_tensor(raw)).argmax(-1).numpy()
    assert _top1(out, "float   top-1")[0] == round(100 * float((fpred == labels).mean()), 2)


def test_eval_default_transform_is_the_deit_one(capsys, work, folder):
    root, written = folder
    graph_dir = work["graphs"]["trained"]
    ds = ImageFolderDataset(root, 8, in_chans=1)  # timm's crop_pct 0.9: resize to floor(8 / 0.9) = 8, crop 8
    assert ds.crop_pct == 0.9
    assert ds.classes == ["alpha", "mike", "zulu"]
    assert [(p.parent.name, p.name) for p, _ in ds.samples] == sorted(written)
    images, ds_labels = ds.stack()
    np.testing.assert_array_equal(ds_labels, [sorted(FOLDERS).index(name) for name, _ in sorted(written)])
    np.testing.assert_array_equal(images, np.stack([written[k] for k in sorted(written)]))  # unchanged at 8x8
    assert load_graph(graph_dir).meta["preprocess"] == {"crop_pct": 0.9, "interpolation": "bicubic"}
    graph = load_graph(graph_dir)
    pred = run_graph(graph, {"pixels": images}).outputs[graph.outputs[1]].reshape(-1)
    code, out, err = _run(capsys, "eval", graph_dir, "--imagefolder", root, *_cmap(root))
    assert code == 0, err
    assert _top1(out, "integer top-1") == (round(100 * float((pred == ds_labels).mean()), 2), N_IMAGES)


def test_eval_user_errors(capsys, tmp_path, work, folder):
    root, _ = folder
    graph = work["graphs"]["pth"]
    code, _, err = _run(capsys, "eval", graph, "--imagefolder", tmp_path / "nope")
    _assert_user_error(code, err, "nope", "does not exist")
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "eval", graph, "--imagefolder", tmp_path / "empty")
    _assert_user_error(code, err, "empty", "no class sub-folders")
    (tmp_path / "hollow" / "cat").mkdir(parents=True)
    code, _, err = _run(capsys, "eval", graph, "--imagefolder", tmp_path / "hollow")
    _assert_user_error(code, err, "hollow", "['cat']", "no images")
    code, _, err = _run(capsys, "eval", tmp_path / "no_graph", "--imagefolder", root, *_cmap(root))
    _assert_user_error(code, err, "no_graph", "no such graph folder")
    code, _, err = _run(capsys, "eval", graph, "--imagefolder", root, *_cmap(root), "--float-model", "vit_digits",
                        "--checkpoint", tmp_path / "nope.safetensors")
    _assert_user_error(code, err, "nope.safetensors", "does not exist")
    code, _, err = _run(capsys, "eval", graph, "--imagefolder", root, *_cmap(root),
                        "--float-model", "deit_huge")
    assert code == 2 and "invalid choice: 'deit_huge'" in err
    code, _, err = _run(capsys, "eval", graph, "--imagefolder", root, *_cmap(root),
                        "--float-model", "deit_tiny", "--checkpoint", work["pth"])
    _assert_user_error(code, err, "deit_tiny", "3x224x224", "1x8x8")
    # issue 19 item 5: --checkpoint alone evaluates the float preset the graph records (vit_digits)
    explicit = _run(capsys, "eval", graph, "--imagefolder", root, *_cmap(root), "--float-model", "vit_digits",
                    "--checkpoint", work["pth"], "--quiet")
    implied = _run(capsys, "eval", graph, "--imagefolder", root, *_cmap(root), "--checkpoint", work["pth"],
                   "--quiet")
    assert explicit[0] == implied[0] == 0, implied[2]
    floats = [next(ln for ln in r[1].splitlines() if ln.startswith("float   top-1")) for r in (explicit, implied)]
    assert floats[0] == floats[1], floats
    code, _, err = _run(capsys, "eval", graph, "--imagefolder", root, *_cmap(root), "--crop-pct", "1.5")
    _assert_user_error(code, err, "--crop-pct must be in (0, 1], got 1.5")
    for opt in ("--batch", "--max-images"):
        for bad in ("0", "-1"):
            code, _, err = _run(capsys, "eval", graph, "--imagefolder", root, *_cmap(root), opt, bad)
            _assert_user_error(code, err, f"{opt} must be >= 1, got {bad}")
    code, _, err = _run(capsys, "eval", graph)
    assert code == 2 and "--imagefolder" in err and "Traceback" not in err


def test_eval_refuses_a_graph_that_is_not_a_classifier(capsys, tmp_path, folder):
    from ivit_hw.ir import GraphBuilder, Interval, IntType
    from ivit_hw.ir.serialize import save_graph

    b = GraphBuilder("plain")
    x = b.input("x", (1, 8, 8), IntType(8, signed=False), 1.0, Interval(0, 255))
    b.node("add", {"a": x, "b": x}, "y", IntType(10, signed=False), 1.0)
    save_graph(b.finish(["y"]), tmp_path / "plain")
    code, _, err = _run(capsys, "eval", tmp_path / "plain", "--imagefolder", folder[0])
    _assert_user_error(code, err, "plain", "outputs ['y']", "(logits, prediction)")

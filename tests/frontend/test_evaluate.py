"""``ivit-hw eval`` at scale (issue 7, problem 3): streamed loading in worker
processes, flat memory on 2,000 images, integer and float top-1 with their
agreement, the folder-to-logit check and ``--class-map``, backends.

Expected numbers are computed here from the same images with the golden
executor and the float model directly.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ivit_hw import cli
from ivit_hw.frontend import evaluate as ev
from ivit_hw.frontend.checkpoint import save_checkpoint
from ivit_hw.frontend.data import DataError, ImageFolderDataset, load_digits_split
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.synthetic import synthetic_graph
from ivit_hw.ir.serialize import save_graph
from ivit_hw.runtime import run_graph
from ivit_hw.runtime.clipping import ClipCounter

N_BIG = 2000


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A vit_digits graph and its float checkpoint (same random weights), and 2,000 8x8 PNGs in 10 folders."""
    root = tmp_path_factory.mktemp("evalscale")
    graph = synthetic_graph("vit_digits")  # torch.manual_seed(0) weights, calibrated on synthetic images
    save_graph(graph, root / "g.ivit")
    torch.manual_seed(0)
    model = create_model("vit_digits").eval()
    save_checkpoint(model, root / "w.safetensors")
    ds = load_digits_split()
    pool = np.concatenate([ds.train_images, ds.test_images])
    labels = np.concatenate([ds.train_labels, ds.test_labels])
    idx = np.arange(N_BIG) % len(pool)
    images, lab = pool[idx], labels[idx]
    folder = root / "imgs"
    for d in range(10):
        (folder / str(d)).mkdir(parents=True)
    for k, (img, y) in enumerate(zip(images, lab, strict=True)):
        Image.fromarray(img[0], mode="L").save(folder / str(y) / f"{k:05d}.png")
    # the order eval reads them in: sorted folders, sorted files
    order = sorted(range(N_BIG), key=lambda k: (str(lab[k]), f"{k:05d}.png"))
    return {"root": root, "graph": graph, "model": model, "folder": folder, "images": images[order],
            "labels": lab[order]}


def _expected(setup, n=None, clips=None):
    x, y = setup["images"][:n], setup["labels"][:n]
    g = setup["graph"]
    ipred = run_graph(g, {"pixels": x}, observe=clips).outputs[g.outputs[1]].reshape(-1)
    with torch.no_grad():
        fpred = setup["model"].forward_uint8(torch.as_tensor(x)).argmax(-1).numpy()
    return 100 * np.mean(ipred == y), 100 * np.mean(fpred == y), 100 * np.mean(ipred == fpred)


# Peak RSS of this process: VmHWM (ru_maxrss would also count the pytest process it was forked from, as
# Linux carries the pre-exec high-water mark over). The loader's ru_maxrss (RUSAGE_CHILDREN) has the same
# carry-over from this process at spawn time, so it is an upper bound.
MEASURE = """
import json, resource, sys
from ivit_hw.cli import main
code = main(sys.argv[1:])
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "self_kb": hwm,
                  "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def test_eval_on_2000_images_streams_with_flat_memory_and_reports_agreement(setup):
    s = setup
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, "eval", str(s["root"] / "g.ivit"), "--imagefolder", str(s["folder"]),
         "--float-model", "vit_digits", "--checkpoint", str(s["root"] / "w.safetensors"), "--workers", "1"],
        capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    usage = json.loads(lines[-1])
    assert usage["code"] == 0
    peak_mb = (usage["self_kb"] + usage["children_kb"]) / 1024  # main process + the one loader worker
    print(f"eval on {N_BIG} images: peak RSS main {usage['self_kb'] / 1024:.0f} MB + worker "
          f"{usage['children_kb'] / 1024:.0f} MB")
    assert peak_mb < 1024
    clips = ClipCounter(s["graph"])
    int_top1, float_top1, agree = _expected(s, clips=clips)
    warning = clips.warning()
    assert warning is not None  # calibrated on 4 synthetic images: real digits saturate some requantizes
    assert f"ivit-hw: {warning}" in proc.stderr.splitlines()
    assert lines[0] == f"integer top-1: {int_top1:.2f} % on {N_BIG} images"
    assert lines[1] == f"float   top-1: {float_top1:.2f} %"
    assert lines[2] == f"agreement (integer vs float top-1): {agree:.2f} %"
    assert "img/s (numpy backend, batch " in lines[3] and "1 loader worker(s)" in lines[3]
    assert "eval: " in proc.stderr and " img/s" in proc.stderr  # progress with images/s


def test_eval_never_loads_the_whole_folder(capsys, monkeypatch, setup):
    def no_full_load(*_a, **_k):
        raise AssertionError("eval must stream, not stack the folder")

    monkeypatch.setattr(ImageFolderDataset, "stack", no_full_load)
    code, out, err = _run(capsys, "eval", setup["root"] / "g.ivit", "--imagefolder", setup["folder"],
                          "--max-images", 300, "--workers", 0, "--batch", 64, "--quiet")
    assert code == 0, err
    assert out.splitlines()[0] == f"integer top-1: {_expected(setup, 300)[0]:.2f} % on 300 images"


def test_stream_images_keeps_order_and_labels_with_workers(setup):
    ds = ImageFolderDataset(setup["folder"], 8, in_chans=1)
    idx = list(range(0, 200, 3))
    got = list(ev.stream_images(ds, idx, workers=2, chunk=16))
    assert [len(x) for x, _ in got] == [16, 16, 16, 16, 3]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in got]), setup["images"][idx])
    np.testing.assert_array_equal(np.concatenate([y for _, y in got]), setup["labels"][idx])


def test_folder_to_logit_mapping_is_checked_or_mapped(capsys, tmp_path, setup):
    src = setup["folder"]
    sub = tmp_path / "sub"
    for name in ("3", "7"):  # two class folders of a 10-logit graph
        (sub / name).mkdir(parents=True)
        for p in sorted((src / name).iterdir())[:5]:
            (sub / name / p.name).write_bytes(p.read_bytes())
    g = setup["root"] / "g.ivit"
    code, _, err = _run(capsys, "eval", g, "--imagefolder", sub)
    assert code == 2 and "2 class folder(s) but the graph has 10 logits" in err and "--class-map" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "map.yaml").write_text("'3': 3\n'7': 7\n")
    code, out, err = _run(capsys, "eval", g, "--imagefolder", sub, "--class-map", tmp_path / "map.yaml",
                          "--workers", 0, "--quiet")
    assert code == 0, err
    images = np.stack([np.asarray(Image.open(p))[None] for c in ("3", "7") for p in sorted((sub / c).iterdir())])
    labels = np.array([3] * 5 + [7] * 5)
    graph = setup["graph"]
    pred = run_graph(graph, {"pixels": images}).outputs[graph.outputs[1]].reshape(-1)
    assert out.splitlines()[0] == f"integer top-1: {100 * np.mean(pred == labels):.2f} % on 10 images"
    # a timm-style text map: line i is logit i
    (tmp_path / "map.txt").write_text("\n".join(str(i) for i in range(10)) + "\n")
    code, out2, err = _run(capsys, "eval", g, "--imagefolder", sub, "--class-map", tmp_path / "map.txt",
                           "--workers", 0, "--quiet")
    assert code == 0 and out2.splitlines()[0] == out.splitlines()[0], err
    (tmp_path / "bad.txt").write_text("3\n")
    code, _, err = _run(capsys, "eval", g, "--imagefolder", sub, "--class-map", tmp_path / "bad.txt")
    assert code == 2 and "no entry for class folder(s) ['7']" in err
    (tmp_path / "far.yaml").write_text("'3': 3\n'7': 12\n")
    code, _, err = _run(capsys, "eval", g, "--imagefolder", sub, "--class-map", tmp_path / "far.yaml")
    assert code == 2 and "outside the 10 logits" in err


def test_float_model_without_checkpoint_is_an_error(capsys, setup):
    code, _, err = _run(capsys, "eval", setup["root"] / "g.ivit", "--imagefolder", setup["folder"],
                        "--float-model", "vit_digits")
    assert code == 2 and "needs --checkpoint" in err and "random weights" in err


def test_backends_and_batch_defaults(setup, deit_tiny_graph):
    g = setup["graph"]
    assert ev.make_backend("numpy", g).name == "numpy"
    try:
        import ivit_hw.runtime.torch_exec  # noqa: F401  (built on another branch)
    except ModuleNotFoundError:
        with pytest.raises(DataError, match="no torch executor"):
            ev.make_backend("torch", g)
    else:
        backend = ev.make_backend("torch", g)
        x = setup["images"][:40]
        logits, pred = backend.predict(x)
        gold = run_graph(g, {"pixels": x}).outputs
        np.testing.assert_array_equal(logits, gold[g.outputs[0]])
        assert backend.clips.stats  # measured by the golden executor on the first images
        fused = ev.make_backend("fused", g)  # any executor of the registry
        logits, _ = fused.predict(x)
        np.testing.assert_array_equal(logits, gold[g.outputs[0]])
        assert fused.name == "fused" and ev.default_batch(g, "fused") == ev.TORCH_BATCH
    # numpy: the largest per-batch tensor near 2^18 elements -> big batches for digits, batch 1 for deit_tiny
    assert ev.default_batch(g) == 64
    assert ev.default_batch(deit_tiny_graph) == 1
    assert ev.default_batch(g, "torch") == ev.TORCH_BATCH


def test_peak_memory_measure_is_in_kilobytes():
    # ru_maxrss is in KiB on Linux; this process (with torch) is far above 10 MB and below 100 GB
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert 10 * 1024 < kb < 100 * 1024**2


def test_class_map_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        ev.load_class_map(tmp_path / "none.txt")
    (tmp_path / "dup.txt").write_text("a\nb\na\n")
    with pytest.raises(DataError, match="listed twice"):
        ev.load_class_map(tmp_path / "dup.txt")
    (tmp_path / "m.json").write_text('{"a": "x"}')
    with pytest.raises(DataError, match="mapping of class folder name to logit index"):
        ev.load_class_map(tmp_path / "m.json")
    (tmp_path / "ok.txt").write_text("x\n\ny\n")
    assert ev.load_class_map(tmp_path / "ok.txt") == {"x": 0, "y": 1}

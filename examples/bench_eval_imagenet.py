"""``ivit-hw eval`` at ImageNet scale on a CPU: images/s and the extrapolated 50,000-image time.

    .venv/bin/python examples/bench_eval_imagenet.py --measure 64

Writes (once, then reuses) a folder of 2,000 synthetic JPEGs of ImageNet-like
size (500x375 landscape or 375x500 portrait, smooth colour fields with shapes
and noise; made here, nothing downloaded) in 10 class folders, then streams
the first ``--measure`` images through the same path as ``ivit-hw eval``
(``evaluate_folder``: loader processes decoding ahead of the executor) for
each model, random weights:

- integer: the torch backend (``TorchExecutor``, exact) at each ``--batches``;
- float: the float model (fp32 eager, ``forward_uint8``) at the torch default batch;

plus the decode rate alone (one process), and prints images/s and the
50,000-image time (50,000 / rate) side by side, with the CPU model, its
int8/bf16 flags and the load average (other work on the machine slows every
figure: say so next to them).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ivit_hw.frontend.data import ImageFolderDataset, read_images
from ivit_hw.frontend.evaluate import (
    TORCH_BATCH,
    EvalResult,
    default_workers,
    evaluate_folder,
    float_predict,
    make_backend,
)
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.synthetic import synthetic_graph
from ivit_hw.runtime.clipping import ClipCounter
from ivit_hw.runtime.cpu_info import cpu_summary

IMAGENET_VAL = 50_000


def cpu_line() -> str:
    """The CPU line of :func:`~ivit_hw.runtime.cpu_info.cpu_summary` plus the torch version and threads."""
    return f"{cpu_summary()}; torch {torch.__version__}, {torch.get_num_threads()} threads"


def synthetic_jpeg(rng: np.random.Generator) -> Image.Image:
    """One ImageNet-sized picture: a smooth colour field, a few filled shapes, sensor-like noise."""
    w, h = (500, 375) if rng.random() < 0.75 else (375, 500)
    field = Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    arr = np.asarray(field, dtype=np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(2, 6))):
        cx, cy, rx, ry = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, 150), rng.uniform(20, 150)
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        arr[inside] = rng.integers(0, 256, 3)
    arr += rng.normal(0, 8, arr.shape)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def make_folder(root: Path, n: int, seed: int = 0) -> Path:
    """``root`` holding ``n`` JPEGs (quality 90) in 10 class folders; kept when already complete."""
    files = sorted(root.glob("c*/*.jpg"))
    if len(files) == n:
        return root
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    for k in range(n):
        folder = root / f"c{k % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        synthetic_jpeg(rng).save(folder / f"{k:05d}.jpg", quality=90)
    print(f"wrote {n} JPEGs to {root} in {time.perf_counter() - t:.0f} s")
    return root


class FloatBackend:
    """The float model (fp32 eager) behind the eval backend interface (no clipping to count)."""

    name = "float"

    def __init__(self, model, graph) -> None:
        self.model, self.clips = model, ClipCounter(graph)

    def predict(self, pixels: np.ndarray) -> tuple[None, np.ndarray]:
        return None, float_predict(self.model, pixels)


def measure(backend, ds: ImageFolderDataset, n: int, batch: int, workers: int) -> EvalResult:
    """One warm-up batch, then ``evaluate_folder`` over the first ``n`` images (decode overlapped)."""
    backend.predict(read_images([str(p) for p, _ in ds.samples[:batch]], ds.img_size, ds.in_chans, ds.crop_pct))
    return evaluate_folder(backend, ds, np.zeros(10, np.int64), list(range(n)), batch, workers, progress=False)


def row(model: str, path: str, batch: int, res: EvalResult) -> str:
    rate = res.images / res.seconds
    hours = IMAGENET_VAL / rate / 3600
    return f"| {model} | {path} | {batch} | {res.images} | {rate:.2f} | {hours:.2f} h ({hours * 60:.0f} min) |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=Path(".cache/bench_eval_imagenet"),
                    help="where the JPEG folder is written (reused when complete)")
    ap.add_argument("--images", type=int, default=2000, help="JPEGs in the folder")
    ap.add_argument("--measure", type=int, default=64, help="images timed per configuration")
    ap.add_argument("--models", nargs="+", default=["deit_tiny", "deit_small"])
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 16, TORCH_BATCH], help="integer batch sizes")
    ap.add_argument("--workers", type=int, default=None, help="loader processes (default: eval's)")
    args = ap.parse_args()
    workers = default_workers() if args.workers is None else args.workers
    print(cpu_line())
    root = make_folder(args.folder, args.images)
    ds = ImageFolderDataset(root, 224)
    n = min(args.measure, len(ds))
    t = time.perf_counter()
    read_images([str(p) for p, _ in ds.samples[:32]], 224, 3, ds.crop_pct)
    decode = 32 / (time.perf_counter() - t)
    print(f"decode + eval transform alone, one process: {decode:.1f} img/s "
          f"({IMAGENET_VAL / decode / 60:.0f} min for {IMAGENET_VAL:,}); {workers} loader worker(s) below")
    print("| model | path | batch | images | img/s | 50,000 images |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        graph = synthetic_graph(name)
        integer = make_backend("torch", graph, clip_images=0)  # steady state: no golden clipping pass
        for batch in args.batches:
            print(row(name, "integer (torch backend, exact)", batch, measure(integer, ds, n, batch, workers)),
                  flush=True)
        torch.manual_seed(0)
        fmodel = create_model(name).eval()  # the graph's float model (same seed, same weights)
        print(row(name, "float (fp32 eager)", TORCH_BATCH, measure(FloatBackend(fmodel, graph), ds, n,
                                                                    TORCH_BATCH, workers)), flush=True)
    print("load average at the end: " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()

"""``ivit-hw eval`` at scale: stream a class-per-folder image tree through
loader processes in batches, run the integer graph (and optionally the float
model) batch by batch, and count top-1 and integer-vs-float agreement.

Memory stays flat whatever the folder size: only the file list and a few
batches in flight are held. Folder-to-logit mapping is checked: sorted folder
``i`` is logit ``i`` only when there are exactly as many folders as logits;
otherwise a class map is required (timm's format: one folder name per line,
line ``i`` = logit ``i``; or a YAML / JSON mapping ``name: index``).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from ..ir.graph import Graph
from ..progress import Progress
from ..runtime.clipping import ClipCounter
from ..runtime.executors import EXECUTORS, make_executor
from ..runtime.numpy_exec import run_graph
from .data import DataError, ImageFolderDataset, read_images

__all__ = ["BACKENDS", "EvalResult", "default_batch", "default_workers", "evaluate_folder", "load_class_map",
           "logit_index", "make_backend", "stream_images"]

BACKENDS = tuple(sorted(EXECUTORS))  # the executor registry (ivit_hw.runtime.executors)
#: Images per loader job (independent of the executor batch).
LOAD_CHUNK = 32
#: The numpy executor is fastest when a batch's largest tensor stays around this many elements.
NUMPY_BATCH_ELEMENTS = 2**18  # measured: deit_tiny batch 1 beats 4 and 32 per image (docs/benchmarks.md)
TORCH_BATCH = 64
#: eval traces nothing, so ``--backend torch`` runs the fastest exact torch executor: the fused steps
#: (native row kernels on a CPU, issue 18), not the per-node one
EVAL_EXECUTORS = {"torch": "fused"}
#: ``--backend torch`` measures clipping with the golden executor on this many images.
TORCH_CLIP_IMAGES = 32


def default_batch(graph: Graph, backend: str = "numpy") -> int:
    """A batch size that is fast for ``backend``: torch 64; numpy a power of two (1..256) keeping the
    largest per-batch tensor near 2^18 elements (beyond that the int64 passes fall out of cache)."""
    if not backend.startswith("numpy"):
        return TORCH_BATCH
    largest = max(math.prod(s.shape) for s in graph.tensors.values() if not s.const)
    return int(min(256, max(1, 2 ** math.floor(math.log2(max(1, NUMPY_BATCH_ELEMENTS // largest))))))


def default_workers() -> int:
    """Loader processes: one per core but one (the executor's), at least 1, at most 8."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def load_class_map(path: str | os.PathLike[str]) -> dict[str, int]:
    """A class map file: ``.txt`` (one folder name per line, line i = logit i) or ``.yaml``/``.json`` (name: index)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"--class-map {p}: no such file")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise DataError(f"--class-map {p}: not valid {p.suffix[1:].upper()}: {' '.join(str(exc).split())}") \
                from None
        if not isinstance(data, dict) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                  for v in data.values()):
            raise DataError(f"--class-map {p}: expected a mapping of class folder name to logit index")
        return {str(k): int(v) for k, v in data.items()}
    names = [line.strip() for line in text.splitlines() if line.strip()]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"--class-map {p}: class name(s) listed twice: {dup[:5]}")
    return {name: i for i, name in enumerate(names)}


def logit_index(classes: list[str], num_logits: int, class_map: dict[str, int] | None, folder: str,
                map_name: str | None = None) -> np.ndarray:
    """For each sorted class folder, the logit index it is scored against (checked)."""
    if class_map is None:
        if len(classes) != num_logits:
            raise DataError(
                f"--imagefolder {folder}: {len(classes)} class folder(s) but the graph has {num_logits} logits, so "
                f"sorted folder i cannot simply be logit i; give --class-map FILE (one class name per line, line i "
                "= logit i, or a YAML/JSON mapping name: index)")
        return np.arange(len(classes), dtype=np.int64)
    unknown = [c for c in classes if c not in class_map]
    if unknown:
        raise DataError(f"--class-map {map_name}: no entry for class folder(s) {unknown[:5]}"
                        + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    idx = np.array([class_map[c] for c in classes], dtype=np.int64)
    bad = [c for c, i in zip(classes, idx, strict=True) if not 0 <= i < num_logits]
    if bad:
        raise DataError(f"--class-map {map_name}: class(es) {bad[:5]} map outside the {num_logits} logits")
    return idx


def stream_images(ds: ImageFolderDataset, indices: list[int], workers: int,
                  chunk: int = LOAD_CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(uint8 images [n, C, H, W], folder labels [n]) in order, ``chunk`` images at a time.

    With ``workers > 0`` the files are decoded in that many spawned processes, at most
    ``2 * workers`` chunks ahead of the consumer (memory stays bounded); 0 reads in-process.
    """
    chunks = [indices[i : i + chunk] for i in range(0, len(indices), chunk)]
    labels = [np.array([ds.samples[i][1] for i in c], dtype=np.int64) for c in chunks]

    def job(c: list[int]) -> tuple[list[str], int, int, float]:
        return [str(ds.samples[i][0]) for i in c], ds.img_size, ds.in_chans, ds.crop_pct

    if workers <= 0:
        for c, lab in zip(chunks, labels, strict=True):
            yield read_images(*job(c)), lab
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: deque[Future] = deque()
        todo = iter(chunks)
        for c in todo:
            pending.append(pool.submit(read_images, *job(c)))
            if len(pending) >= 2 * workers:
                break
        for lab in labels:
            images = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(read_images, *job(nxt)))
            yield images, lab


class Backend(Protocol):
    """Runs the integer graph on a batch of uint8 images: (int logits [n, K], predictions [n])."""

    name: str
    clips: ClipCounter

    def predict(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class NumpyBackend:
    """The golden executor, counting requantize clipping on every image."""

    name = "numpy"

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.clips = ClipCounter(graph)

    def predict(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = run_graph(self.graph, {self.graph.inputs[0]: pixels}, observe=self.clips).outputs
        return out[self.graph.outputs[0]], out[self.graph.outputs[1]].reshape(-1)


class TorchBackend:
    """A torch-based executor of the registry (torch, fused, ...); clipping is measured by the golden
    executor on the first :data:`TORCH_CLIP_IMAGES` images."""

    name = "torch"

    def __init__(self, graph: Graph, executor: Any, clip_images: int = TORCH_CLIP_IMAGES,
                 name: str = "torch") -> None:
        self.name = name
        self.graph = graph
        self.executor = executor
        self.golden = NumpyBackend(graph)
        self.clips = self.golden.clips
        self.clip_images = clip_images
        self._clip_seen = 0

    def predict(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._clip_seen < self.clip_images:
            part = pixels[: self.clip_images - self._clip_seen]
            self.golden.predict(part)
            self._clip_seen += len(part)
        out = self.executor.run({self.graph.inputs[0]: pixels}).outputs
        return np.asarray(out[self.graph.outputs[0]]), np.asarray(out[self.graph.outputs[1]]).reshape(-1)


def make_backend(name: str, graph: Graph, device: str = "cpu", clip_images: int | None = None) -> Backend:
    """The executor for ``--backend`` (a name of the executor registry); a missing extra is a one-line
    DataError. ``clip_images``: images a torch-based backend measures clipping on (default
    :data:`TORCH_CLIP_IMAGES`)."""
    if name == "numpy":
        return NumpyBackend(graph)
    if name not in EXECUTORS:
        raise DataError(f"--backend {name}: choose one of {list(BACKENDS)}")
    try:
        executor = make_executor(EVAL_EXECUTORS.get(name, name), graph, device)
    except ValueError as exc:
        raise DataError(f"--backend {name}: {exc}") from None
    clip = TORCH_CLIP_IMAGES if clip_images is None else clip_images
    return TorchBackend(graph, executor, clip, name)


@dataclass
class EvalResult:
    """Counts of one evaluation (fractions via the properties)."""

    images: int = 0
    int_correct: int = 0
    float_correct: int | None = None
    agree: int | None = None
    seconds: float = 0.0
    clips: ClipCounter | None = None

    @property
    def int_top1(self) -> float:
        return self.int_correct / self.images

    @property
    def float_top1(self) -> float | None:
        return None if self.float_correct is None else self.float_correct / self.images

    @property
    def agreement(self) -> float | None:
        return None if self.agree is None else self.agree / self.images


def evaluate_folder(backend: Backend, ds: ImageFolderDataset, logit_of_label: np.ndarray, indices: list[int],
                    batch: int, workers: int, float_model: Any = None, progress: bool = True) -> EvalResult:
    """Top-1 of the integer graph (and of ``float_model``, with agreement) over ``indices`` of ``ds``."""
    res = EvalResult(clips=backend.clips)
    if float_model is not None:
        res.float_correct, res.agree = 0, 0
    with Progress(len(indices), "eval", "img", enabled=progress) as bar:
        for images, labels in stream_images(ds, indices, workers, chunk=max(batch, LOAD_CHUNK)):
            target = logit_of_label[labels]
            for i in range(0, len(images), batch):
                x, y = images[i : i + batch], target[i : i + batch]
                _, pred = backend.predict(x)
                res.int_correct += int((pred == y).sum())
                if float_model is not None:
                    fpred = float_predict(float_model, x)
                    res.float_correct += int((fpred == y).sum())
                    res.agree += int((fpred == pred).sum())
                res.images += len(x)
                bar.update(len(x))
            bar.note(f"integer top-1 {100 * res.int_top1:.2f} %")
        res.seconds = bar.elapsed
    return res


def float_predict(model: Any, pixels: np.ndarray) -> np.ndarray:
    """Float top-1 predictions of ``model.forward_uint8`` on uint8 images."""
    return float_logits(model, pixels).argmax(-1)


def float_logits(model: Any, pixels: np.ndarray) -> np.ndarray:
    """Float logits of ``model.forward_uint8`` on uint8 images (no gradients), as float64 numpy."""
    import torch

    with torch.no_grad():
        return model.forward_uint8(torch.as_tensor(np.ascontiguousarray(pixels))).double().numpy()

"""Image files as the input of ``ivit-hw run``: one image, a folder of images or a glob.

The pixels go through the preprocessing the graph records (``quantize`` writes
``meta.preprocess.crop_pct``): timm's eval transform, a bicubic resize of the
shorter side to ``floor(size / crop_pct)`` and a center crop; the
normalisation is folded into the graph, so the input is the uint8 pixels.
Only the reading needs PIL (imported on first use).
"""

from __future__ import annotations

import glob
import math
from pathlib import Path

import numpy as np

from ..errors import UserValueError
from ..ir.graph import Graph
from .presets import IMAGE_EXTENSIONS

__all__ = ["is_image_source", "load_image_input"]

_GLOB_CHARS = "*?["


def is_image_source(path: str) -> bool:
    """True when ``path`` names images (an image file, a folder or a glob), not a ``.npy`` array."""
    if any(c in path for c in _GLOB_CHARS) and not Path(path).exists():
        return True
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in IMAGE_EXTENSIONS


def _image_files(path: str) -> list[Path]:
    if Path(path).is_dir():
        files = sorted(p for p in Path(path).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        where = f"folder {path}"
    elif Path(path).is_file():
        return [Path(path)]
    elif any(c in path for c in _GLOB_CHARS):
        files = sorted(Path(p) for p in glob.glob(path, recursive=True)
                       if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_EXTENSIONS)
        where = f"pattern {path!r}"
    else:
        raise UserValueError(f"--input {path}: no such file")
    if not files:
        raise UserValueError(f"--input {path}: the {where} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def load_image_input(graph: Graph, name: str, path: str, crop_pct: float) -> tuple[np.ndarray, str]:
    """The pixels of the image(s) at ``path`` for graph input ``name``, uint8 [C, H, W] for one file and
    [N, C, H, W] for a folder or glob, and a line saying what was done."""
    spec = graph.tensor(name)
    if len(spec.shape) != 3 or spec.shape[1] != spec.shape[2] or spec.range is None \
            or not (0 <= spec.range.lo and spec.range.hi <= 255):
        raise UserValueError(f"--input {path}: graph {graph.name!r} input {name!r} is {list(spec.shape)} "
                             f"{spec.dtype}, not image pixels [C, H, W] in 0..255; give a .npy")
    c, size, _ = spec.shape
    files = _image_files(path)
    from .data import read_image  # PIL: a missing extra is one line from the CLI

    pixels = np.stack([read_image(f, size, in_chans=c, resize=True, crop_pct=crop_pct) for f in files])
    single = Path(path).is_file()
    short = math.floor(size / crop_pct)
    note = (f"read {len(files)} image(s) from {path} for input {name!r}: {'RGB' if c == 3 else 'grayscale'}, "
            f"bicubic resize of the shorter side to {short}, center crop {size}x{size} (crop_pct {crop_pct:g}, "
            f"as the graph records); normalisation is folded into the graph")
    return (pixels[0] if single else pixels), note

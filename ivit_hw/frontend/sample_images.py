"""A small class-per-folder tree of JPEG images to try the flow on when no data set is at hand.

    python -m ivit_hw.frontend.sample_images DIR [--classes 2] [--per-class 3] [--seed 0]

Writes ``DIR/class_<k>/<i>.jpg`` (375x500 RGB: smooth colour gradients, a few
discs and sensor-like noise, so resizing and cropping have something to act
on) and ``DIR/classes.txt``, one class folder per line (line k = logit k), as
``eval --class-map`` takes it. Seeded: the same arguments give the same files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 375, 500


def sample_image(rng: np.random.Generator) -> np.ndarray:
    """One uint8 [HEIGHT, WIDTH, 3] image."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    img = np.empty((HEIGHT, WIDTH, 3))
    for c in range(3):
        a, b, phase = rng.uniform(-1, 1, 3)
        img[..., c] = 128 + 90 * np.sin(a * x / 60 + b * y / 45 + 6 * phase)
    for _ in range(3):
        cy, cx, r = rng.uniform(0, HEIGHT), rng.uniform(0, WIDTH), rng.uniform(20, 90)
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_sample_images(folder: str | Path, classes: int = 2, per_class: int = 3, seed: int = 0) -> list[Path]:
    """Write the tree (see the module docstring); the image paths in sorted order."""
    from PIL import Image

    root = Path(folder)
    rng = np.random.default_rng(seed)
    paths = []
    names = [f"class_{k}" for k in range(classes)]
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            paths.append(root / name / f"{i}.jpg")
            Image.fromarray(sample_image(rng)).save(paths[-1], quality=90)
    (root / "classes.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the module."""
    p = argparse.ArgumentParser(prog="python -m ivit_hw.frontend.sample_images", description=__doc__.split("\n")[0])
    p.add_argument("folder", help="where to write the class folders")
    p.add_argument("--classes", type=int, default=2, help="class folders (default 2)")
    p.add_argument("--per-class", type=int, default=3, help="images per class (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = p.parse_args(argv)
    if args.classes < 1 or args.per_class < 1:
        p.error("--classes and --per-class must be >= 1")
    paths = write_sample_images(args.folder, args.classes, args.per_class, args.seed)
    print(f"wrote {len(paths)} images in {args.classes} class folder(s) and classes.txt under {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Image data for the frontend: the digits split, a DeiT-style eval transform, image folders, calibration sets.

Everything here yields uint8 pixels laid out [C, H, W] (or [N, C, H, W]); the
normalisation to float belongs to the model (``VisionTransformer.normalize``),
so the integer graph can take the same uint8 pixels. Only PIL and numpy are used
(no torchvision); sklearn is imported lazily for the digits set.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import UserValueError
from ..progress import Progress
from .presets import DEFAULT_CROP_PCT, IMAGE_EXTENSIONS

if TYPE_CHECKING:
    from .models import ViTConfig

__all__ = [
    "DEFAULT_CROP_PCT",
    "IMAGE_EXTENSIONS",
    "DataError",
    "DigitsSplit",
    "ImageFolderDataset",
    "digits_to_uint8",
    "eval_transform",
    "load_calibration",
    "load_digits_split",
]



class DataError(UserValueError):
    """A data source that cannot be used as asked (missing, empty, wrong size or channels)."""


class DigitsSplit(NamedTuple):
    """The fixed digits train/test split: uint8 images [N, 1, 8, 8] and int64 labels [N]."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def digits_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map sklearn digits intensities 0..16 to uint8 0..255 exactly: ``(v * 255 + 8) // 16``.

    That is round(v * 255 / 16) with ties (only v = 8 -> 127.5) rounded up, so 0 -> 0,
    8 -> 128 and 16 -> 255.
    """
    v = np.asarray(values)
    if not np.all(np.isfinite(v)) or np.any(v != np.round(v)) or v.min(initial=0) < 0 or v.max(initial=0) > 16:
        raise DataError("digits values must be integers in 0..16")
    return ((v.astype(np.int64) * 255 + 8) // 16).astype(np.uint8)


def load_digits_split(seed: int = 0) -> DigitsSplit:
    """The sklearn digits set (1797 8x8 images, 10 classes, offline) as a fixed uint8 split.

    Pixels are scaled with :func:`digits_to_uint8` and shaped [N, 1, 8, 8] (no upsampling).
    The split is ``sklearn.model_selection.train_test_split(test_size=0.25, stratify=labels,
    random_state=seed, shuffle=True)``, giving 1347 train and 450 test images; ``seed=0`` is
    the project's reference split. Labels are int64.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ds = load_digits()
    images = digits_to_uint8(ds.images).reshape(-1, 1, 8, 8)
    labels = ds.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, labels, test_size=0.25, stratify=labels, random_state=seed, shuffle=True
    )
    return DigitsSplit(
        np.ascontiguousarray(x_tr), np.ascontiguousarray(y_tr), np.ascontiguousarray(x_te), np.ascontiguousarray(y_te)
    )


def _to_mode(img: Image.Image, in_chans: int) -> Image.Image:
    if in_chans == 3:
        return img.convert("RGB")
    if in_chans == 1:
        return img.convert("L")
    raise DataError(f"in_chans must be 1 or 3, got {in_chans}")


def _to_chw(img: Image.Image, in_chans: int) -> np.ndarray:
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    if arr.shape[0] != in_chans:  # pragma: no cover - guarded by _to_mode
        raise DataError(f"expected {in_chans} channels, got {arr.shape[0]}")
    return np.ascontiguousarray(arr)


def eval_transform(
    img: Image.Image, img_size: int, crop_pct: float = DEFAULT_CROP_PCT, in_chans: int = 3
) -> np.ndarray:
    """timm/DeiT eval preprocessing with PIL only -> uint8 [C, img_size, img_size].

    Convert to RGB (or L when ``in_chans == 1``); resize so the shorter side is
    ``floor(img_size / crop_pct)`` with bicubic interpolation (the longer side becomes
    ``int(scale * long / short)``, as torchvision's Resize(int)); center-crop img_size with
    the offsets ``round((side - img_size) / 2)``.
    """
    if not 0 < crop_pct <= 1:
        raise DataError(f"crop_pct must be in (0, 1], got {crop_pct}")
    img = _to_mode(img, in_chans)
    scale = math.floor(img_size / crop_pct)
    w, h = img.size
    if w <= h:
        new_w, new_h = scale, int(scale * h / w)
    else:
        new_w, new_h = int(scale * w / h), scale
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left = int(round((new_w - img_size) / 2.0))
    top = int(round((new_h - img_size) / 2.0))
    img = img.crop((left, top, left + img_size, top + img_size))
    return _to_chw(img, in_chans)


class ImageFolderDataset:
    """Class-per-folder images (``root/<class>/<image>``) as (uint8 [C, H, W], label) pairs.

    Classes are the sorted sub-folder names (hidden ones skipped), mapped to 0..K-1; files
    with an extension in :data:`IMAGE_EXTENSIONS` are read in sorted order. With
    ``resize=True`` every image goes through :func:`eval_transform`; with ``resize=False``
    each image must already be img_size x img_size, and any other size raises a
    :class:`DataError` naming the file (never a silent resize).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        img_size: int,
        in_chans: int = 3,
        resize: bool = True,
        crop_pct: float = DEFAULT_CROP_PCT,
    ) -> None:
        self.root = Path(root)
        self.img_size = int(img_size)
        self.in_chans = int(in_chans)
        self.resize = resize
        self.crop_pct = crop_pct
        if in_chans not in (1, 3):
            raise DataError(f"in_chans must be 1 or 3, got {in_chans}")
        if not self.root.is_dir():
            raise DataError(f"image folder {self.root} does not exist or is not a directory")
        self.classes: list[str] = sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        if not self.classes:
            raise DataError(f"image folder {self.root} has no class sub-folders (expected root/<class>/<image>)")
        self.class_to_idx: dict[str, int] = {c: i for i, c in enumerate(self.classes)}
        self.samples: list[tuple[Path, int]] = []
        empty = []
        for cls in self.classes:
            files = sorted(
                p for p in (self.root / cls).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not files:
                empty.append(cls)
            self.samples.extend((p, self.class_to_idx[cls]) for p in files)
        if empty:
            raise DataError(
                f"image folder {self.root}: class folder(s) {empty} contain no images "
                f"(extensions {', '.join(IMAGE_EXTENSIONS)})"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, path: Path) -> np.ndarray:
        """Read one image file as uint8 [C, img_size, img_size], raising DataError naming the file."""
        return read_image(path, self.img_size, self.in_chans, self.resize, self.crop_pct)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[index]
        return self.load(path), label

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for i in range(len(self)):
            yield self[i]

    def stack(self, indices: list[int] | None = None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Load (a subset of) the folder as uint8 [N, C, H, W] and int64 labels [N] (``progress`` on stderr)."""
        idx = range(len(self)) if indices is None else indices
        images = []
        with Progress(len(idx), f"loading {self.root.name}", "img", enabled=progress) as bar:
            for i in idx:
                images.append(self[i][0])
                bar.update()
        labels = np.array([self.samples[i][1] for i in idx], dtype=np.int64)
        shape = (0, self.in_chans, self.img_size, self.img_size)
        return (np.stack(images) if images else np.zeros(shape, np.uint8)), labels


def _subset(n: int, max_images: int | None, seed: int) -> list[int]:
    if max_images is None or max_images >= n:
        return list(range(n))
    if max_images < 1:
        raise DataError(f"max_images must be >= 1, got {max_images}")
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n, size=max_images, replace=False))


def load_calibration(
    source: str | os.PathLike[str],
    config: ViTConfig | None = None,
    *,
    img_size: int | None = None,
    in_chans: int | None = None,
    max_images: int | None = None,
    seed: int = 0,
    resize: bool = True,
    crop_pct: float = DEFAULT_CROP_PCT,
    progress: bool = False,
) -> np.ndarray:
    """Calibration images as uint8 [N, C, H, W] from a ``.npy`` file, an image folder, or ``"digits"``.

    Folders go through :func:`eval_transform` with ``crop_pct``. ``"digits"`` is the train split
    of :func:`load_digits_split` (seed 0). A ``.npy`` must
    hold uint8 [N, C, H, W]. A folder is read with :class:`ImageFolderDataset` (labels
    ignored). img_size / in_chans come from ``config`` unless given. ``max_images`` keeps a
    seeded random subset (sorted indices). Raises DataError (a ValueError) naming the source
    for an empty set or images whose size or channel count do not match.
    """
    if config is not None:
        img_size = config.img_size if img_size is None else img_size
        in_chans = config.in_chans if in_chans is None else in_chans
    name = os.fspath(source)
    path = Path(name)
    if name == "digits":
        images = load_digits_split().train_images
        images = images[_subset(len(images), max_images, seed)]
    elif path.is_dir():
        if img_size is None:
            raise DataError(f"calibration folder {path}: pass a model config or img_size")
        ds = ImageFolderDataset(path, img_size, in_chans=3 if in_chans is None else in_chans, resize=resize,
                                crop_pct=crop_pct)
        images, _ = ds.stack(_subset(len(ds), max_images, seed), progress=progress)
    elif path.suffix.lower() == ".npy":
        if not path.is_file():
            raise DataError(f"calibration file {path} does not exist")
        try:
            images = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read calibration file {path}: {exc}") from exc
        if images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(
                f"calibration file {path} must hold uint8 images [N, C, H, W], got {images.dtype} {list(images.shape)}"
            )
        images = images[_subset(len(images), max_images, seed)]
    elif not path.exists():
        raise DataError(f"calibration source {name!r} not found (expected 'digits', a .npy file or an image folder)")
    else:
        raise DataError(f"calibration source {path} is not a .npy file or an image folder")

    if len(images) == 0:
        raise DataError(f"calibration set {name} is empty")
    _, c, h, w = images.shape
    if in_chans is not None and c != in_chans:
        raise DataError(f"calibration set {name} has {c} channel(s), the model expects {in_chans}")
    if img_size is not None and (h, w) != (img_size, img_size):
        raise DataError(f"calibration set {name} has images {h}x{w}, the model expects {img_size}x{img_size}")
    return np.ascontiguousarray(images)


def read_image(path: str | os.PathLike[str], img_size: int, in_chans: int = 3, resize: bool = True,
               crop_pct: float = DEFAULT_CROP_PCT) -> np.ndarray:
    """One image file as uint8 [C, img_size, img_size] (see :class:`ImageFolderDataset`); DataError names the file."""
    try:
        with Image.open(path) as im:
            im.load()
            img = im.copy()
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc
    if resize:
        return eval_transform(img, img_size, crop_pct, in_chans)
    if img.size != (img_size, img_size):
        raise DataError(
            f"image {path} is {img.size[0]}x{img.size[1]}, expected {img_size}x{img_size} "
            "(pass resize=True to apply the eval transform)"
        )
    return _to_chw(_to_mode(img, in_chans), in_chans)


def read_images(paths: list[str], img_size: int, in_chans: int, crop_pct: float) -> np.ndarray:
    """Image files through :func:`eval_transform` as uint8 [N, C, H, W] (a picklable worker job)."""
    return np.stack([read_image(p, img_size, in_chans, True, crop_pct) for p in paths])

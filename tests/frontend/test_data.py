"""Data: digits scaling and split, the DeiT eval transform, image folders and calibration sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ivit_hw.frontend.data import (
    DataError,
    ImageFolderDataset,
    digits_to_uint8,
    eval_transform,
    load_calibration,
    load_digits_split,
)
from ivit_hw.frontend.models import PRESETS


def test_digits_scaling_rule() -> None:
    v = np.arange(17)
    expected = [0, 16, 32, 48, 64, 80, 96, 112, 128, 143, 159, 175, 191, 207, 223, 239, 255]
    assert digits_to_uint8(v).tolist() == expected
    assert digits_to_uint8(v).dtype == np.uint8
    with pytest.raises(DataError):
        digits_to_uint8(np.array([17]))


def test_digits_split_is_fixed_stratified_and_complete() -> None:
    from sklearn.datasets import load_digits

    s = load_digits_split()
    assert s.train_images.shape == (1347, 1, 8, 8) and s.test_images.shape == (450, 1, 8, 8)
    assert s.train_images.dtype == np.uint8 and s.train_labels.dtype == np.int64
    ds = load_digits()
    full = np.concatenate([s.train_images, s.test_images]).reshape(1797, 64).astype(np.int64)
    ref = (ds.data.astype(np.int64) * 255 + 8) // 16
    # the split is a permutation of the whole set, images with their labels
    key = lambda imgs, lab: sorted(map(tuple, np.column_stack([imgs, lab]).tolist()))  # noqa: E731
    assert key(full, np.concatenate([s.train_labels, s.test_labels])) == key(ref, ds.target)
    # stratified: each class's test share is within one image of 25 %
    for c in range(10):
        n_c = int((ds.target == c).sum())
        assert abs(int((s.test_labels == c).sum()) - n_c * 0.25) <= 1
    again = load_digits_split()
    assert np.array_equal(again.test_images, s.test_images) and np.array_equal(again.test_labels, s.test_labels)
    assert not np.array_equal(load_digits_split(seed=1).test_labels, s.test_labels)


def _marker_image(w: int, h: int, x: int, y: int) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[y, x] = (255, 10, 20)
    return Image.fromarray(arr, "RGB")


def test_eval_transform_center_crop_offsets_without_resize() -> None:
    # shorter side 256 == int(224 / 0.875): no resize; crop offsets round((300-224)/2)=38, (256-224)/2=16
    out = eval_transform(_marker_image(300, 256, 38, 16), 224, crop_pct=0.875)
    assert out.shape == (3, 224, 224) and out.dtype == np.uint8
    assert out[:, 0, 0].tolist() == [255, 10, 20]
    assert int(out.astype(np.int64).sum()) == 255 + 10 + 20
    out = eval_transform(_marker_image(256, 300, 16 + 223, 38 + 223), 224, crop_pct=0.875)
    assert out[:, 223, 223].tolist() == [255, 10, 20]


def test_eval_transform_resizes_shorter_side_and_converts_mode() -> None:
    grey = Image.fromarray(np.full((100, 60), 77, np.uint8), "L")
    out = eval_transform(grey, 32)  # 60 -> 36, 100 -> int(36 * 100 / 60) = 60, crop 32
    assert out.shape == (3, 32, 32)
    assert np.all(out == 77)  # bicubic of a constant image is that constant
    out1 = eval_transform(Image.new("RGB", (50, 50), (10, 200, 30)), 16, in_chans=1)
    assert out1.shape == (1, 16, 16)
    expected_l = (10 * 299 + 200 * 587 + 30 * 114) // 1000  # ITU-R 601-2 luma, PIL's "L" conversion
    assert abs(int(out1[0, 0, 0]) - expected_l) <= 1


def _folder(root: Path, classes: dict[str, list[tuple[int, int]]]) -> Path:
    for cls, sizes in classes.items():
        (root / cls).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            ext = ".png" if i % 2 == 0 else ".JPG"
            Image.new("RGB", (w, h), (i * 40, 100, 200)).save(root / cls / f"img{i}{ext}")
    return root


def test_image_folder_classes_labels_and_filtering(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", {"zebra": [(40, 30), (20, 20)], "ant": [(16, 16)]})
    (root / "ant" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    ds = ImageFolderDataset(root, img_size=16)
    assert ds.classes == ["ant", "zebra"] and ds.class_to_idx == {"ant": 0, "zebra": 1}
    assert len(ds) == 3
    labels = [label for _, label in ds]
    assert labels == [0, 1, 1]
    img, _ = ds[0]
    assert img.shape == (3, 16, 16) and img.dtype == np.uint8
    images, lab = ds.stack()
    assert images.shape == (3, 3, 16, 16) and lab.tolist() == [0, 1, 1]


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing_dir"):
        ImageFolderDataset(tmp_path / "missing_dir", 16)
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        ImageFolderDataset(tmp_path / "flat", 16)
    (tmp_path / "one" / "empty_cls").mkdir(parents=True)
    with pytest.raises(DataError, match="empty_cls"):
        ImageFolderDataset(tmp_path / "one", 16)


def test_image_folder_wrong_size_is_an_error_without_resize(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {"a": [(16, 16), (17, 16)]})
    ds = ImageFolderDataset(root, 16, resize=False)
    assert ds[0][0].shape == (3, 16, 16)
    with pytest.raises(DataError, match=r"img1\.JPG is 17x16, expected 16x16"):
        ds[1]


def test_image_folder_unreadable_file_names_it(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {"a": [(16, 16)]})
    (root / "a" / "broken.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="broken.png"):
        ImageFolderDataset(root, 16).stack()


def test_calibration_from_npy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (10, 1, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "cal.npy", arr)
    cfg = PRESETS["vit_digits"]
    assert np.array_equal(load_calibration(tmp_path / "cal.npy", cfg), arr)
    sub = load_calibration(tmp_path / "cal.npy", cfg, max_images=4, seed=3)
    assert sub.shape == (4, 1, 8, 8)
    assert all(any(np.array_equal(s, a) for a in arr) for s in sub)
    assert np.array_equal(sub, load_calibration(tmp_path / "cal.npy", cfg, max_images=4, seed=3))
    with pytest.raises(DataError, match=r"cal\.npy has 1 channel\(s\), the model expects 3"):
        load_calibration(tmp_path / "cal.npy", PRESETS["deit_tiny"])
    np.save(tmp_path / "small.npy", arr[:, :, :4, :4])
    with pytest.raises(DataError, match=r"small\.npy has images 4x4, the model expects 8x8"):
        load_calibration(tmp_path / "small.npy", cfg)
    np.save(tmp_path / "empty.npy", arr[:0])
    with pytest.raises(DataError, match=r"empty\.npy is empty"):
        load_calibration(tmp_path / "empty.npy", cfg)
    np.save(tmp_path / "float.npy", arr.astype(np.float32))
    with pytest.raises(DataError, match=r"float\.npy must hold uint8"):
        load_calibration(tmp_path / "float.npy", cfg)
    with pytest.raises(ValueError, match="absent.npy"):
        load_calibration(tmp_path / "absent.npy", cfg)


def test_calibration_from_folder_and_digits(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs", {"a": [(40, 30)] * 3, "b": [(30, 40)] * 2})
    from dataclasses import replace

    cfg = replace(PRESETS["deit_tiny"], img_size=32)
    cal = load_calibration(root, cfg)
    assert cal.shape == (5, 3, 32, 32) and cal.dtype == np.uint8
    assert load_calibration(root, cfg, max_images=2).shape == (2, 3, 32, 32)
    digits = load_calibration("digits", PRESETS["vit_digits"])
    assert np.array_equal(digits, load_digits_split().train_images)
    with pytest.raises(DataError, match="1 channel"):
        load_calibration("digits", PRESETS["deit_tiny"])
    with pytest.raises(DataError, match="nowhere"):
        load_calibration(tmp_path / "nowhere", cfg)

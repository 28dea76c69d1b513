"""Graphs without downloads: a preset with random weights and synthetic
calibration images, and a quickly trained digits model. Used by tests,
benchmarks and the GPU validation script (nothing here reads a hub)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from ..ir.graph import Graph
from .data import load_digits_split
from .models import create_model
from .pipeline import quantize_and_export, train_digits_float
from .qconfig import QuantConfig

#: A short float recipe for test graphs of the digits model (accuracy is not the point there).
QUICK_DIGITS_RECIPE: dict[str, Any] = {"epochs": 3}


def synthetic_images(n: int, in_chans: int, img_size: int, seed: int = 0) -> np.ndarray:
    """``n`` uint8 images ``[n, C, H, W]``: smooth random fields plus noise, so activations spread like photos."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(128.0, 50.0, size=(n, in_chans, 4, 4))
    reps = -(-img_size // 4)
    smooth = np.kron(coarse, np.ones((1, 1, reps, reps)))[:, :, :img_size, :img_size]
    noisy = smooth + rng.normal(0.0, 20.0, size=smooth.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def synthetic_graph(preset: str, seed: int = 0, n_calib: int = 4, cfg: QuantConfig | None = None,
                    **overrides: Any) -> Graph:
    """The integer graph of ``preset`` with random weights (``torch.manual_seed(seed)``), calibrated
    on ``n_calib`` synthetic images. ``overrides`` change ViTConfig fields (e.g. ``depth=1``)."""
    torch.manual_seed(seed)
    model = create_model(preset, **overrides)
    calib = synthetic_images(n_calib, model.config.in_chans, model.config.img_size, seed)
    name = preset if not overrides else f"{preset}_" + "_".join(f"{k}{v}" for k, v in sorted(overrides.items()))
    run = quantize_and_export(model, cfg or QuantConfig(), calib, name, seed=seed, progress=False,
                              meta={"preset": preset, "weights": f"random (seed {seed})", **overrides})
    assert run.graph is not None
    return run.graph


@functools.lru_cache(maxsize=2)
def _quick_float(seed: int) -> tuple[torch.nn.Module, Any]:
    """The quick float digits model of ``seed`` and the split, trained once per process (quantize_and_export
    calibrates a copy, so the cached model is never changed)."""
    split = load_digits_split()
    model, _, _ = train_digits_float(split, seed, progress=False, recipe=QUICK_DIGITS_RECIPE)
    return model, split


def quick_digits_graph(seed: int = 0, cfg: QuantConfig | None = None) -> Graph:
    """The digits model after a short float training and calibration on the train split (no QAT); the float
    training runs once per process and seed (graphs of other quantization configs reuse it)."""
    model, split = _quick_float(seed)
    run = quantize_and_export(model, cfg or QuantConfig(), split.train_images, "vit_digits", seed=seed,
                              progress=False, meta={"preset": "vit_digits", "training": "quick (3 epochs)"})
    assert run.graph is not None
    return run.graph

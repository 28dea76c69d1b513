"""The flows a user runs: float model -> calibration -> QAT -> integer IR ->
accuracy. Used by the ``quantize``, ``demo``, ``ablation`` and ``eval``
commands; each function here does one step and reports progress."""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..ir.graph import Graph
from ..ir.serialize import load_graph, save_graph
from ..progress import Progress
from ..runtime.numpy_exec import run_graph
from .data import DigitsSplit
from .qconfig import QuantConfig
from .swin_twin import quant_twin
from .train import DIGITS_RECIPE, evaluate_float, train_float
from .twins import QuantViT, calibrate

#: QAT after calibration: a short fine-tune of the fake-quantized twin.
QAT_RECIPE: dict[str, Any] = {
    "epochs": 6,
    "lr": 1e-4,
    "batch_size": 64,
    "warmup_epochs": 0,
    "weight_decay": 0.0,
    "max_shift": 0,
    "label_smoothing": 0.1,
}
EVAL_BATCH = 256


def graph_predict(
    graph: Graph, images: np.ndarray, batch: int = EVAL_BATCH, desc: str = "golden", progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Run the golden executor over uint8 images: (integer logits [N, K], predictions [N])."""
    logits, preds = [], []
    name_logits, name_pred = graph.outputs[0], graph.outputs[1]
    with Progress(len(images), desc, "img", enabled=progress) as bar:
        for i in range(0, len(images), batch):
            out = run_graph(graph, {graph.inputs[0]: images[i : i + batch]}).outputs
            logits.append(out[name_logits])
            preds.append(out[name_pred])
            bar.update(len(out[name_pred]))
    return np.concatenate(logits), np.concatenate(preds)


def twin_predict(qmodel: QuantViT, images: np.ndarray, batch: int = EVAL_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """The twin's integer eval forward over uint8 images, batch by batch."""
    outs = [qmodel.int_forward(images[i : i + batch]) for i in range(0, len(images), batch)]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


@dataclass
class QuantRun:
    """Everything one quantization run produced."""

    qmodel: QuantViT
    graph: Graph | None = None
    ptq_int_accuracy: float | None = None
    int_accuracy: float | None = None
    #: the exported graph, saved, reloaded and run by the golden executor, gives exactly the integers of the
    #: same integer program run eagerly (the twin's ``int_forward``). Both sides run the same kernels, so this
    #: checks the graph builder, the serialiser and the executor's wiring, not the integer arithmetic.
    export_wiring_exact: bool | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def quantize_and_export(
    model: torch.nn.Module,
    cfg: QuantConfig,
    calib: np.ndarray,
    name: str,
    qat_data: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    qat_recipe: dict[str, Any] | None = None,
    progress: bool = True,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    meta: dict[str, Any] | None = None,
) -> QuantRun:
    """Calibrate a copy of ``model``, optionally QAT it, export the graph, and measure accuracy.

    With ``eval_data``, reports the integer accuracy after calibration only
    (PTQ) and after QAT, and whether the exported graph, through a save and
    load, gives exactly the eager program's integers on every evaluation
    image (:attr:`QuantRun.export_wiring_exact`).
    """
    t0 = time.perf_counter()
    qmodel = quant_twin(copy.deepcopy(model), cfg)
    calibrate(qmodel, calib, progress=progress)
    run = QuantRun(qmodel)
    run.seconds["calibrate"] = time.perf_counter() - t0
    if eval_data is not None:
        t = time.perf_counter()
        _, pred = twin_predict(qmodel, eval_data[0])
        run.ptq_int_accuracy = float((pred == eval_data[1]).mean())
        run.seconds["ptq_eval"] = time.perf_counter() - t
    if qat_data is not None:
        t = time.perf_counter()
        recipe = {**QAT_RECIPE, **(qat_recipe or {})}
        train_float(qmodel, qat_data[0], qat_data[1], seed=seed, progress=progress, **recipe)
        run.seconds["qat"] = time.perf_counter() - t
    t = time.perf_counter()
    run.graph = qmodel.export(name, meta)
    run.seconds["export"] = time.perf_counter() - t
    if eval_data is not None:
        t = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="ivit-export-") as tmp:
            reloaded = load_graph(save_graph(run.graph, Path(tmp) / "g.ivit"))
        g_logits, g_pred = graph_predict(reloaded, eval_data[0], progress=progress)
        t_logits, _ = twin_predict(qmodel, eval_data[0])
        run.int_accuracy = float((g_pred == eval_data[1]).mean())
        run.export_wiring_exact = bool(np.array_equal(g_logits, t_logits))
        run.seconds["int_eval"] = time.perf_counter() - t
    return run


def train_digits_float(
    split: DigitsSplit, seed: int = 0, progress: bool = True, recipe: dict[str, Any] | None = None,
    preset: str = "vit_digits",
) -> tuple[torch.nn.Module, float, float]:
    """Train ``preset`` (``vit_digits`` or ``swin_digits``) with the project recipe: (model, test accuracy, seconds)."""
    from .models import create_model

    r = {**DIGITS_RECIPE, **(recipe or {}), "seed": seed}
    torch.manual_seed(seed)
    model = create_model(preset)
    t = time.perf_counter()
    train_float(model, split.train_images, split.train_labels, progress=progress, **r)
    return model, evaluate_float(model, split.test_images, split.test_labels), time.perf_counter() - t


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Deterministic, human-readable JSON."""
    import json

    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

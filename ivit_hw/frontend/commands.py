"""CLI subcommands of the model frontend: ``quantize``, ``demo``, ``ablation``
and ``eval``. Each is a (name, help, add_arguments, handler) entry in
:data:`COMMANDS`; :mod:`ivit_hw.cli` registers them. Handlers raise
ValueError (or its subclasses) for user errors; the CLI turns those into one
line on stderr and exit status 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _add_quantize(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="preset name (deit_tiny, deit_small, ..., vit_digits)")
    p.add_argument("--checkpoint", help="timm-style .pth/.pt/.safetensors state dict (random weights if omitted)")
    p.add_argument("--config", help="quantization options as YAML (see QuantConfig)")
    p.add_argument("--calib", required=True, help="calibration images: 'digits', a .npy of uint8 [N,C,H,W] or a folder")
    p.add_argument("--max-calib", type=int, default=None, help="use at most this many calibration images")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights and calibration subset")
    p.add_argument("-o", "--output", required=True, help="output IR folder (graph.yaml + constants.npz)")


def _quantize(args: argparse.Namespace) -> int:
    import torch

    from ..ir.serialize import save_graph
    from .checkpoint import load_checkpoint
    from .data import load_calibration
    from .models import create_model
    from .qconfig import QuantConfig
    from .twins import QuantViT, calibrate

    cfg = QuantConfig.load(args.config) if args.config else QuantConfig()
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise ValueError(f"checkpoint not found: {args.checkpoint}")
    torch.manual_seed(args.seed)
    model = create_model(args.model)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    else:
        print(f"ivit-hw: note: no --checkpoint, {args.model} has random weights")
    images = load_calibration(args.calib, model.config, max_images=args.max_calib, seed=args.seed)
    print(f"calibrating {args.model} on {len(images)} image(s) ({cfg.label()})", flush=True)
    qmodel = QuantViT(model, cfg)
    calibrate(qmodel, images, batch_size=32)
    graph = qmodel.export(args.model, {"preset": args.model, "checkpoint": Path(args.checkpoint).name
                                       if args.checkpoint else None})
    save_graph(graph, args.output)
    print(f"wrote {args.output}: {len(graph.nodes)} nodes, {len(graph.constants)} constants")
    return 0


def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--rtl", action="store_true",
                   help="also verify the model's Verilog units on its traced activations (slow; known to stall on "
                        "multi-image requantize streams, see docs/hardware.md)")


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    report = run_demo(args.out, seed=args.seed, progress=not args.quiet, rtl=args.rtl)
    print(f"float {100 * report['fp_accuracy']:.2f} % | integer {100 * report['int_accuracy']:.2f} % | "
          f"export wiring exact {report['export_wiring_exact']} | independent forward exact "
          f"{report['independent_forward_exact']} | {report['seconds']:.0f} s | {args.out}/report.md")
    return 0


def _add_ablation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/ablation", help="output folder (default out/ablation)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default 0 1 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _ablation(args: argparse.Namespace) -> int:
    from .ablation import run_ablation

    run_ablation(args.out, tuple(args.seeds), progress=not args.quiet)
    return 0


def _add_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="IR folder written by 'ivit-hw quantize'")
    p.add_argument("--imagefolder", required=True, help="class-per-folder image tree")
    p.add_argument("--float-model", help="also evaluate this float preset side by side")
    p.add_argument("--checkpoint", help="checkpoint of the float model")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--crop-pct", type=float, default=0.875,
                   help="DeiT eval transform: resize the shorter side to floor(size / crop_pct), center-crop "
                        "(default 0.875; 1.0 passes images already at the graph's size unchanged)")


def _eval(args: argparse.Namespace) -> int:
    from ..ir.serialize import load_graph
    from .data import ImageFolderDataset
    from .pipeline import graph_predict

    if args.checkpoint and not args.float_model:
        raise ValueError("--checkpoint is the float model's: give --float-model too")
    for opt, value in (("--max-images", args.max_images), ("--batch", args.batch)):
        if value is not None and value < 1:
            raise ValueError(f"{opt} must be >= 1, got {value}")
    graph = load_graph(args.graph)
    shape = graph.tensor(graph.inputs[0]).shape if len(graph.inputs) == 1 else ()
    if len(shape) != 3 or len(graph.outputs) != 2:
        raise ValueError(f"graph {args.graph}: expected one image input [C, H, W] and outputs (logits, prediction) "
                         f"as 'ivit-hw quantize' writes, got inputs {list(graph.inputs)} {list(shape)} and "
                         f"outputs {list(graph.outputs)}")
    c, h, w = shape
    if h != w:
        raise ValueError(f"graph {args.graph}: input {h}x{w} is not square")
    if not 0 < args.crop_pct <= 1:
        raise ValueError(f"--crop-pct must be in (0, 1], got {args.crop_pct}")
    ds = ImageFolderDataset(args.imagefolder, h, in_chans=c, crop_pct=args.crop_pct)
    model = None
    if args.float_model:  # build and load it first: a bad preset or checkpoint fails before the long integer run
        from .checkpoint import load_checkpoint
        from .models import create_model

        model = create_model(args.float_model)
        if (model.config.in_chans, model.config.img_size) != (c, h):
            raise ValueError(f"--float-model {args.float_model} takes {model.config.in_chans}x{model.config.img_size}"
                             f"x{model.config.img_size} images, graph {args.graph} takes {c}x{h}x{w}")
        if args.checkpoint:
            load_checkpoint(model, args.checkpoint)
    idx = list(range(len(ds)))[: args.max_images]
    images, labels = ds.stack(idx)
    _, pred = graph_predict(graph, images, args.batch, desc="integer")
    print(f"integer top-1: {100 * float((pred == labels).mean()):.2f} % on {len(labels)} images")
    if model is not None:
        import torch

        with torch.no_grad():
            logits = np.concatenate([model.forward_uint8(torch.as_tensor(images[i : i + args.batch])).numpy()
                                     for i in range(0, len(images), args.batch)])
        print(f"float   top-1: {100 * float((logits.argmax(-1) == labels).mean()):.2f} %")
    return 0


COMMANDS = [
    ("quantize", "calibrate a float ViT/DeiT and export its integer IR", _add_quantize, _quantize),
    ("demo", "end-to-end flow on sklearn digits (train, calibrate, QAT, export, evaluate)", _add_demo, _demo),
    ("ablation", "I-ViT ops vs baselines over seeds, with and without QAT", _add_ablation, _ablation),
    ("eval", "top-1 of an integer IR on a class-per-folder image tree", _add_eval, _eval),
]

"""CLI subcommands of the model frontend: ``quantize``, ``eval``, ``compare``,
``demo`` and ``ablation``. Each is a (name, help, add_arguments, handler) entry
in :data:`COMMANDS`; :mod:`ivit_hw.cli` registers them. Handlers raise
:class:`~ivit_hw.errors.UserError` (or its subclasses) for user errors; the CLI turns those into one
line on stderr and exit status 2.

This module imports neither torch nor PIL at import time (``ivit-hw --help``
works with the core dependencies alone); a handler that needs them imports
them, and the CLI turns a missing package into one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError, UserValueError
from ..paths import check_output_folder, graph_folder
from ..runtime.clipping import CLIP_WARN_SHARE
from ..runtime.executors import EXECUTORS
from .presets import DEFAULT_CROP_PCT, PRESETS

PRESET_CHOICES = sorted(PRESETS)


def _positive(opt: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserValueError(f"{opt} must be >= 1, got {value}")


def _crop(value: float) -> float:
    if not 0 < value <= 1:
        raise UserValueError(f"--crop-pct must be in (0, 1], got {value}")
    return value


def _add_crop_pct(p: argparse.ArgumentParser, default_text: str) -> None:
    p.add_argument("--crop-pct", type=float, default=None, metavar="F",
                   help="eval transform of image folders (timm's): bicubic resize of the shorter side to "
                        f"floor(size / F), center crop; default {default_text}")


def _add_quantize(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=PRESET_CHOICES, metavar="PRESET",
                   help=f"float model preset: {', '.join(PRESET_CHOICES)}")
    p.add_argument("--checkpoint", help="timm-style .pth/.pt/.safetensors state dict (random weights if omitted)")
    p.add_argument("--config", metavar="YAML", help="quantization options as YAML (softmax, gelu, layernorm, "
                   "act_bits, observer, ema_momentum, percentile, rounding, gelu_coef, patch_norm_bits (Swin), "
                   "dyadic_bits (requantize multiplier precision, 8..31; 17 fits one 18x18 multiplier))")
    p.add_argument("--calib", required=True, metavar="SOURCE",
                   help="calibration images: 'digits', a .npy of uint8 [N,C,H,W] or a class-per-folder tree")
    p.add_argument("--max-calib", type=int, default=None, metavar="N",
                   help="use a seeded random subset of at most N calibration images (default: all)")
    _add_crop_pct(p, f"{DEFAULT_CROP_PCT} (timm's for these presets)")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights and the calibration subset")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="keep only the first N transformer blocks (a reduced model to try the flow quickly; the "
                        "checkpoint's later blocks are ignored; the graph records it for eval and compare)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output IR folder (graph.yaml + "
                   "constants.npz), replaced atomically")


def _quantize(args: argparse.Namespace) -> int:
    from .qconfig import QuantConfig

    # everything that can be checked without torch is checked before any long work
    cfg = QuantConfig.load(args.config) if args.config else QuantConfig()
    _positive("--max-calib", args.max_calib)
    _positive("--depth", args.depth)
    crop_pct = _crop(DEFAULT_CROP_PCT if args.crop_pct is None else args.crop_pct)
    check_output_folder(args.output, "-o", marker="graph.yaml")
    if args.checkpoint and Path(args.checkpoint).is_dir():
        raise UserValueError(f"checkpoint {args.checkpoint} is a folder; give the .pth, .pt or .safetensors file")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise UserValueError(f"checkpoint not found: {args.checkpoint}")

    import torch

    from ..ir.serialize import save_graph
    from .checkpoint import load_checkpoint
    from .data import load_calibration
    from .models import create_model
    from .swin_twin import quant_twin
    from .twins import calibrate

    torch.manual_seed(args.seed)
    overrides = {} if args.depth is None else {"depth": args.depth}
    model = create_model(args.model, **overrides)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, keep_blocks=args.depth)
    else:
        print(f"ivit-hw: note: no --checkpoint, {args.model} has random weights", file=sys.stderr)
    images = load_calibration(args.calib, model.config, max_images=args.max_calib, seed=args.seed,
                              crop_pct=crop_pct, progress=True)
    print(f"calibrating {args.model} on {len(images)} image(s) ({cfg.label()})", flush=True)
    qmodel = quant_twin(model, cfg)
    calibrate(qmodel, images, batch_size=32, progress=True, threads=None)
    graph = qmodel.export(args.model, {"preset": args.model, **overrides, "checkpoint": Path(args.checkpoint).name
                                       if args.checkpoint else None,
                                       "preprocess": {"crop_pct": crop_pct, "interpolation": "bicubic"}})
    save_graph(graph, args.output)
    print(f"wrote {args.output}: {len(graph.nodes)} nodes, {len(graph.constants)} constants")
    return 0


def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the float model's init, data order and QAT")
    p.add_argument("--dyadic-bits", type=int, default=None, metavar="B",
                   help="precision of the requantize multipliers (quantize config dyadic_bits, 8..31; default "
                        "17: 18-bit signed m, so the model top fits the ECP5-85k's multipliers)")
    p.add_argument("--no-hls", action="store_true", help="skip the HLS step (whole model, g++ C-simulation)")
    p.add_argument("--no-rtl", action="store_true", help="skip the RTL step (Verilog units, cocotb)")
    p.add_argument("--no-swin", action="store_true",
                   help="skip the Swin step (swin_digits float vs integer, and its HLS C-sim unless --no-hls)")
    p.add_argument("--swin-epochs", type=int, default=None, metavar="N",
                   help="float epochs of the Swin step's swin_digits (default 20)")
    p.add_argument("--rtl-images", type=int, default=4, metavar="N",
                   help="test images whose traced activations the RTL step replays (default 4)")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="icarus", help="RTL step simulator")
    p.add_argument("--no-rtl-top", action="store_true",
                   help="skip the RTL model-top step (the whole model as one Verilog top on Verilator)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _demo(args: argparse.Namespace) -> int:
    """The digits flow, then (unless skipped) the HLS C-sim, Swin and RTL steps; 0 when every check passed."""
    check_output_folder(args.out, "--out", marker="report.json")
    from .demo import DEMO_DYADIC_BITS
    from .qconfig import QuantConfig

    cfg = QuantConfig(dyadic_bits=DEMO_DYADIC_BITS if args.dyadic_bits is None else args.dyadic_bits)
    _positive("--rtl-images", args.rtl_images)
    _positive("--swin-epochs", args.swin_epochs)
    # the tools the later steps need are checked before the model is trained
    from ..eda import EdaMissing
    from ..ir.types import IRError

    try:
        if not args.no_hls:
            from ..codegen.hls.headers import ap_include_dir

            ap_include_dir()
    except IRError as exc:
        raise UserValueError(f"{exc} (or skip the HLS step: --no-hls)") from None
    try:
        if not args.no_rtl:
            from ..eda.cocotb_run import simulator_env

            simulator_env(args.sim)
        if not args.no_rtl_top:
            from ..eda.cocotb_run import simulator_env

            simulator_env("verilator")
    except EdaMissing as exc:
        raise UserValueError(f"{exc} (or skip the RTL steps: --no-rtl, --no-rtl-top)") from None
    from .demo import run_demo

    report = run_demo(args.out, seed=args.seed, progress=not args.quiet, cfg=cfg)
    print(f"float {100 * report['fp_accuracy']:.2f} % | integer {100 * report['int_accuracy']:.2f} % | "
          f"export wiring exact {report['export_wiring_exact']} | independent forward exact "
          f"{report['independent_forward_exact']} | {report['seconds']:.0f} s | {args.out}/report.md")
    ok = bool(report["export_wiring_exact"] and report["independent_forward_exact"])
    if not args.no_hls:
        from ..codegen.hls.demo_step import run_hls_demo

        hls = run_hls_demo(args.out)
        ok &= hls["bit_exact"]
        print(f"HLS C-sim of the whole model on {hls['test_images']} test images: "
              f"{'bit-exact' if hls['bit_exact'] else 'NOT bit-exact'} ({hls['summary']})")
    if not args.no_swin:
        from .demo_swin import SWIN_DEMO_EPOCHS, run_swin_demo, swin_ok, swin_summary

        swin = run_swin_demo(args.out, args.seed, args.swin_epochs or SWIN_DEMO_EPOCHS, hls=not args.no_hls,
                             progress=not args.quiet)
        ok &= swin_ok(swin)
        print(swin_summary(swin))
    if not args.no_rtl:
        from ..codegen.verilog.demo_step import run_rtl_demo

        rtl = run_rtl_demo(args.out, args.rtl_images, args.sim,
                           log=(lambda m: None) if args.quiet else (lambda m: print(m, flush=True)))
        ok &= bool(rtl.get("ok"))
        print(f"RTL units on {rtl['images']} test images' activations ({rtl['simulator']}): "
              + (f"not verified ({rtl['error']})" if "error" in rtl else
                 f"{'pass' if rtl['ok'] else 'FAIL'}, {rtl['passed']} passed, {rtl['failed']} failed"))
    if not args.no_rtl_top:
        from ..codegen.verilog.demo_top_step import run_rtl_top_demo, summary_line

        top = run_rtl_top_demo(args.out, log=(lambda m: None) if args.quiet else (lambda m: print(m, flush=True)))
        ok &= bool(top.get("ok"))
        print(summary_line(top))
    return 0 if ok else 1


def _add_ablation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/ablation", help="output folder (default out/ablation)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default 0 1 2)")
    p.add_argument("--model", choices=("vit_digits", "swin_digits"), default="vit_digits",
                   help="digits model to train and ablate (default vit_digits)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _ablation(args: argparse.Namespace) -> int:
    check_output_folder(args.out, "--out")
    from .ablation import run_ablation

    run_ablation(args.out, tuple(args.seeds), progress=not args.quiet, model=args.model)
    return 0


def _classifier_shape(graph, where: str) -> tuple[int, int, int]:
    shape = graph.tensor(graph.inputs[0]).shape if len(graph.inputs) == 1 else ()
    if len(shape) != 3 or len(graph.outputs) != 2:
        raise UserValueError(f"graph {where}: expected one image input [C, H, W] and outputs (logits, prediction) "
                         f"as 'ivit-hw quantize' writes, got inputs {list(graph.inputs)} {list(shape)} and "
                         f"outputs {list(graph.outputs)}")
    c, h, w = shape
    if h != w:
        raise UserValueError(f"graph {where}: input {h}x{w} is not square")
    return c, h, w


def graph_crop_pct(graph, given: float | None) -> float:
    """``--crop-pct`` if given, else the one the graph was calibrated with, else timm's default."""
    if given is not None:
        return _crop(given)
    pre = graph.meta.get("preprocess") if isinstance(graph.meta, dict) else None
    if isinstance(pre, dict) and isinstance(pre.get("crop_pct"), int | float):
        return _crop(float(pre["crop_pct"]))
    return DEFAULT_CROP_PCT


def graph_float_preset(graph, given: str | None, where: str) -> tuple[str, dict, str | None]:
    """The float preset (and config overrides, e.g. ``depth``) a graph was quantized from, as recorded
    by ``quantize``, and a note to print once the model loaded; an explicit ``--float-model`` wins
    (the note says when it differs from the record)."""
    from dataclasses import fields

    from .presets import ViTConfig

    meta = graph.meta if isinstance(graph.meta, dict) else {}
    recorded = meta.get("preset") if meta.get("preset") in PRESETS else None
    config_keys = {f.name for f in fields(ViTConfig)}
    # integer config fields the graph records beside the preset (quantize --depth); the rest of the meta
    # (e.g. the normalisation, folded into the graph) is not a model override
    overrides = {k: v for k, v in meta.items() if k in config_keys and isinstance(v, int) and not isinstance(v, bool)}
    if given is None:
        if recorded is None:
            raise UserValueError(f"graph {where} does not record the float preset it was quantized from: give "
                                 "--float-model")
        return recorded, overrides, None
    if recorded is not None and given != recorded:
        return given, {}, (f"ivit-hw: note: --float-model {given} is not the preset graph {where} was quantized "
                           f"from ({recorded}); using {given}")
    return given, overrides, None


def load_float_model(preset: str, checkpoint: str | None, shape: tuple[int, int, int], where: str,
                     overrides: dict | None = None):
    """The float preset (with ``overrides``) and its checkpoint, checked against the graph's input shape."""
    if checkpoint is None:
        raise UserValueError(f"--float-model {preset} needs --checkpoint: with random weights its top-1 means nothing")
    from .checkpoint import load_checkpoint
    from .models import create_model

    overrides = overrides or {}
    model = create_model(preset, **overrides)
    c, h, w = shape
    if (model.config.in_chans, model.config.img_size) != (c, h):
        raise UserValueError(f"--float-model {preset} takes {model.config.in_chans}x{model.config.img_size}"
                         f"x{model.config.img_size} images, graph {where} takes {c}x{h}x{w}")
    load_checkpoint(model, checkpoint, keep_blocks=overrides.get("depth"))
    return model.eval()


def _add_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="IR folder written by 'ivit-hw quantize'")
    p.add_argument("--imagefolder", required=True, metavar="DIR", help="class-per-folder image tree (e.g. ImageNet "
                   "val as DIR/<wnid>/<image>)")
    p.add_argument("--class-map", metavar="FILE", help="class folder -> logit index: one folder name per line "
                   "(line i = logit i), or YAML/JSON name: index; needed when the folders are not exactly the "
                   "graph's classes")
    p.add_argument("--float-model", choices=PRESET_CHOICES, metavar="PRESET",
                   help="the float preset evaluated with --checkpoint (default: the one the graph records)")
    p.add_argument("--checkpoint", help="also evaluate the float model with these weights and report agreement")
    p.add_argument("--max-images", type=int, default=None, metavar="N", help="evaluate the first N images "
                   "(sorted order)")
    p.add_argument("--backend", choices=sorted(EXECUTORS), default="numpy",
                   help="integer executor (ivit_hw.runtime.executors): numpy (golden, default), torch (runs the "
                        "fused executor: native CPU kernels, the fast exact path), fused, fused-torch, "
                        "fused-compiled, triton, numpy-spec")
    p.add_argument("--device", default="cpu", help="torch device for --backend torch (default cpu)")
    p.add_argument("--batch", type=int, default=None, metavar="N",
                   help="images per executor call (default: fast for the backend; see evaluate.default_batch)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="image loader processes (default: cores - 1, at least 1; 0 loads in this process)")
    _add_crop_pct(p, f"the graph's (recorded by quantize), else {DEFAULT_CROP_PCT}")
    p.add_argument("--clip-warn", type=float, default=CLIP_WARN_SHARE, metavar="SHARE",
                   help=f"warn when a requantize clips more than this share of its elements (default "
                        f"{CLIP_WARN_SHARE})")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _eval(args: argparse.Namespace) -> int:
    from ..ir.serialize import load_graph
    from .data import ImageFolderDataset
    from .distributed import Shards
    from .evaluate import default_batch, default_workers, evaluate_folder, load_class_map, logit_index, make_backend

    if args.float_model and not args.checkpoint:
        raise UserValueError(f"--float-model {args.float_model} needs --checkpoint: with random weights its top-1 "
                         "means nothing")
    for opt, value in (("--max-images", args.max_images), ("--batch", args.batch)):
        _positive(opt, value)
    if args.workers is not None and args.workers < 0:
        raise UserValueError(f"--workers must be >= 0, got {args.workers}")
    graph = load_graph(graph_folder(args.graph))
    c, h, w = _classifier_shape(graph, args.graph)
    crop_pct = graph_crop_pct(graph, args.crop_pct)
    ds = ImageFolderDataset(args.imagefolder, h, in_chans=c, crop_pct=crop_pct)
    class_map = load_class_map(args.class_map) if args.class_map else None
    logits_n = graph.tensor(graph.outputs[0]).shape[-1]
    logit_of = logit_index(ds.classes, logits_n, class_map, args.imagefolder, args.class_map)
    shards = Shards.from_env()  # under torchrun: this rank's block of the files; rank 0 reports
    device = f"cuda:{shards.local_rank}" if args.device == "cuda" and shards.world > 1 else args.device
    backend = make_backend(args.backend, graph, device, clip_images=None if shards.rank == 0 else 0)
    model = None
    if args.checkpoint:
        preset, overrides, note = graph_float_preset(graph, args.float_model, args.graph)
        model = load_float_model(preset, args.checkpoint, (c, h, w), args.graph, overrides)
        if note and shards.rank == 0:
            print(note, file=sys.stderr)
    batch = args.batch or default_batch(graph, args.backend)
    workers = default_workers() if args.workers is None else args.workers
    indices = shards.part(list(range(len(ds)))[: args.max_images])
    shards.start()
    try:
        res, error = evaluate_folder(backend, ds, logit_of, indices, batch, workers, model,
                                     progress=not args.quiet and shards.rank == 0), None
    except Exception as exc:  # every rank must reach the gather, or the others would wait for this one
        if not isinstance(exc, UserError) and shards.world == 1:
            raise  # a bug: its traceback, not a one-line user error
        res, error = None, str(exc) if isinstance(exc, UserError) else f"internal error {type(exc).__name__}: {exc}"
    res = shards.gather(res, error)
    if res is None:  # a rank other than 0
        return 0
    ranks = f", {shards.world} ranks" if shards.world > 1 else ""
    print(f"integer top-1: {100 * res.int_top1:.2f} % on {res.images} images")
    if res.float_top1 is not None:
        print(f"float   top-1: {100 * res.float_top1:.2f} %")
        print(f"agreement (integer vs float top-1): {100 * res.agreement:.2f} %")
    print(f"{res.images / res.seconds:.1f} img/s ({args.backend} backend, batch {batch}, {workers} loader "
          f"worker(s){ranks}, crop_pct {crop_pct})")
    warning = res.clips.warning(args.clip_warn)
    if warning:
        print(f"ivit-hw: {warning}", file=sys.stderr)
    return 0


def _add_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="IR folder written by 'ivit-hw quantize'")
    p.add_argument("--float-model", choices=PRESET_CHOICES, metavar="PRESET",
                   help="the float preset the graph was quantized from (default: the one the graph records)")
    p.add_argument("--checkpoint", required=True, help="its checkpoint (.pth/.pt/.safetensors)")
    p.add_argument("--images", required=True, metavar="DIR|digits",
                   help="'digits' (the digits test split) or a class-per-folder image tree")
    p.add_argument("--max-images", type=int, default=64, metavar="N", help="images to compare on (default 64)")
    p.add_argument("--batch", type=int, default=None, metavar="N", help="images per executor call")
    _add_crop_pct(p, f"the graph's (recorded by quantize), else {DEFAULT_CROP_PCT}")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default: 'compare' beside the graph folder); compare.json, compare.md, "
                        "compare.png")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _compare(args: argparse.Namespace) -> int:
    from ..ir.serialize import load_graph

    _positive("--max-images", args.max_images)
    _positive("--batch", args.batch)
    folder = graph_folder(args.graph)
    out = Path(args.out) if args.out else folder.resolve().parent / "compare"
    check_output_folder(out, "--out", marker="compare.json")
    graph = load_graph(folder)
    shape = _classifier_shape(graph, args.graph)
    crop_pct = graph_crop_pct(graph, args.crop_pct)
    from .compare import compare_images, run_compare, write_compare

    preset, overrides, note = graph_float_preset(graph, args.float_model, args.graph)
    model = load_float_model(preset, args.checkpoint, shape, args.graph, overrides)
    if note:
        print(note, file=sys.stderr)
    images, labels, source = compare_images(args.images, shape, args.max_images, crop_pct,
                                            graph.tensor(graph.outputs[0]).shape[-1])
    report = run_compare(graph, model, images, labels, batch=args.batch, progress=not args.quiet)
    report["source"] = {"graph": str(args.graph), "float_model": preset,
                        "checkpoint": Path(args.checkpoint).name, "images": source, "crop_pct": crop_pct}
    write_compare(report, out)
    s = report["summary"]
    print(f"wrote {out}/compare.md: {len(report['tensors'])} tensors, top-1 agreement "
          f"{100 * s['top1_agreement']:.2f} % on {s['images']} images, worst SQNR {s['worst_sqnr_db']:.1f} dB "
          f"({s['worst_tensor']})")
    return 0


COMMANDS = [
    ("quantize", "calibrate a float ViT/DeiT/Swin and export its integer IR", _add_quantize, _quantize),
    ("eval", "top-1 of an integer IR (and its float model) on a class-per-folder image tree", _add_eval, _eval),
    ("compare", "per-layer fidelity of an integer IR against its float model (SQNR, clipping, logits)",
     _add_compare, _compare),
    ("demo", "end-to-end flow on sklearn digits (train, calibrate, QAT, export, evaluate, compare, HLS C-sim, "
     "a Swin row, RTL units)", _add_demo, _demo),
    ("ablation", "I-ViT ops vs baselines over seeds, with and without QAT", _add_ablation, _ablation),
]

"""The HLS codegen target: a Vitis HLS C++ project per graph (``ivit-hw codegen --target hls``),
checked by a g++ C-simulation (``ivit-hw verify OUT``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ...ir.graph import Graph
from ...ir.types import IRError
from ..targets import Target, register_target
from .options import HlsOptions, load_config, options_from
from .project import render_project
from .verify import run_csim

__all__ = ["HlsOptions", "render_project", "run_csim"]


def _add_codegen_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("hls target")
    g.add_argument("--top", default=None, help="model (default), block:NAME or node:NAME")
    g.add_argument("--part", default=None, help="FPGA part for build_prj.tcl (default xczu9eg-ffvb1156-2-e)")
    g.add_argument("--clock", type=float, default=None, metavar="NS", help="clock period in ns (default 5)")
    g.add_argument("--allow-overfit", action="store_true",
                   help="write the project even when the hardware plan does not fit the part")
    g.add_argument("--tb-inputs", default=None, metavar="FILE.npy",
                   help="testbench samples for the graph's single input (default: seeded random inputs)")


def _tb_inputs(graph: Graph, path: str | None) -> dict[str, np.ndarray] | None:
    if path is None:
        return None
    if len(graph.inputs) != 1:
        raise IRError(f"--tb-inputs: graph {graph.name!r} has {len(graph.inputs)} inputs; give one .npy per input "
                      "through the Python API")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IRError(f"{path}: not a readable .npy file ({exc})") from None
    spec = graph.tensor(graph.inputs[0])
    if arr.dtype.kind not in "iub" or tuple(arr.shape[1:]) != spec.shape:
        raise IRError(f"{path}: expected integer samples of shape (N, *{spec.shape}), got {arr.dtype} {arr.shape}")
    return {graph.inputs[0]: arr.astype(np.int64)}


def _render(graph: Graph, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    config = load_config(getattr(args, "config", None))
    opts = options_from(config, getattr(args, "top", None), getattr(args, "part", None), getattr(args, "clock", None),
                        allow_overfit=bool(getattr(args, "allow_overfit", False)))
    manifest = render_project(graph, tmp, opts, graph_inputs=_tb_inputs(graph, getattr(args, "tb_inputs", None)))
    for line in manifest["plan"]:
        print(line)
    return manifest


def _add_verify_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("hls target")
    lint = g.add_mutually_exclusive_group()
    lint.add_argument("--lint-only", action="store_true", help="run the synthesizability lint, not the C-simulation")
    lint.add_argument("--no-lint", action="store_true", help="skip the synthesizability lint (needs libclang)")


def _lint(out_dir: Path, manifest: dict[str, Any]) -> int:
    """The synthesizability lint of the project (:mod:`.lint`); 1 when it finds an error."""
    from .lint import lint_project, report

    try:
        findings = lint_project(out_dir, manifest.get("top"))
    except ModuleNotFoundError as exc:
        raise IRError(f"{exc} (or skip the lint with 'ivit-hw verify --no-lint')") from None
    return report(findings)


def _verify(out_dir: Path, manifest: dict[str, Any], args: argparse.Namespace) -> int:
    for line in manifest.get("plan", []):
        print(line)
    if not getattr(args, "no_lint", False):
        status = _lint(out_dir, manifest)
        if status or getattr(args, "lint_only", False):
            return status
    status, _ = run_csim(out_dir)
    return status


register_target(Target("hls", "Vitis HLS C++ project (C-simulation with g++)", _render, _verify,
                       _add_codegen_arguments, _add_verify_arguments))

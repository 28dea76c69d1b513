"""The ``verilog`` codegen target: one streaming unit per non-linear or requantize node.

``ivit-hw codegen GRAPH --target verilog -o OUT [--nodes N ...] [--cases DIR]``
writes ``OUT/rtl/*.v`` (units + library), ``OUT/golden/<node>.npz`` (the
cases ``verify`` replays: from ``--cases``, e.g. the ``cases/`` of
``ivit-hw run --trace``, else conformance-style stimulus through the golden
kernel) and ``manifest.yaml``. ``ivit-hw verify OUT --sim icarus|verilator``
runs the cocotb testbench on every unit (``--units PATTERN ...``: only those).

With ``--top model`` or ``--top block:NAME`` (the option the HLS target also
reads) it renders one top module instead: GEMM engines, the units and the
layout views joined by streams (:mod:`.top`), with ``--parallelism P``
multiply-accumulates per clock per GEMM (default ``budget:156``: the largest plan
that fits the ECP5-85k) and ``--tb-inputs FILE.npy`` as the
golden samples; ``verify`` then drives those samples through the top
(:mod:`.top_verify`).
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path
from typing import Any

from ..targets import Target, register_target
from .render import RTL_OPS, write_units
from .verify import verify_folder, write_golden

__all__ = ["RTL_OPS", "TARGET"]


def _codegen_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", nargs="+", metavar="NODE",
                   help="verilog: nodes to render, by name or fnmatch pattern ('blocks.0.*': its nodes with a unit; "
                        "default: every node with a unit: " + ", ".join(RTL_OPS) + ")")
    p.add_argument("--cases", metavar="DIR",
                   help="verilog: golden cases per node (<node>.npz, e.g. the cases/ folder of 'ivit-hw run --trace')")


    p.add_argument("--parallelism", metavar="P[,GLOB=P...]",
                   help="verilog --top: multiply-accumulates per clock of every GEMM engine, optionally per "
                        "node-name glob (an explicit P must divide that layer's K; 1: P = 1), or budget:N[:PART]: "
                        "the layers balanced under N hard multipliers, fewer while the block RAM does not fit "
                        "(default: budget:156, the largest plan that fits the ECP5-85k)")
    p.add_argument("--samples", type=int, default=None,
                   help="verilog --top: golden samples written for verify (default 3)")


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sim", choices=("icarus", "verilator"), default="icarus", help="verilog: simulator")
    p.add_argument("--jobs", type=int, default=2, help="verilog: simulations run in parallel")
    p.add_argument("--units", nargs="+", metavar="PATTERN",
                   help="verilog: verify only the units whose node matches one of these patterns (fnmatch, e.g. "
                        "'blocks.0.*')")
    p.add_argument("--images", type=int, default=None, help="verilog top: check only the first N golden samples")
    p.add_argument("--trace", action="store_true",
                   help="verilog top: also compare every node's output stream with the golden activations and "
                        "name the first tensor that differs")


def _named_nodes(graph, names: list[str]) -> list:
    """``--nodes``: node names, or fnmatch patterns (``blocks.0.*``) standing for the matching nodes with a unit."""
    nodes = []
    for name in names:
        if not any(c in name for c in "*?["):
            nodes.append(graph.node(name))
            continue
        hits = [n for n in graph.nodes if n.op in RTL_OPS and fnmatch.fnmatchcase(n.name, name)]
        if not hits:
            from ...errors import UserValueError

            raise UserValueError(f"--nodes {name!r}: matches no node with a Verilog unit in graph {graph.name!r}")
        nodes += [n for n in hits if n not in nodes]
    return nodes


def _render(graph, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    top = getattr(args, "top", None)
    if top:
        from .top_render import DEFAULT_SAMPLES, load_samples, write_top

        images = load_samples(graph, getattr(args, "tb_inputs", None))
        samples = getattr(args, "samples", None) or (0 if images is not None else DEFAULT_SAMPLES)
        man = write_top(graph, tmp, top, getattr(args, "parallelism", None), images, samples)
        limit = f" (limit {man['bram_limit']} of the part's, for {man['parallelism']})" if man["bram_limit"] else ""
        print(f"planned: {man['dsp']} MULT18X18D ({man['multipliers']} GEMM lanes), {man['bram']} DP16KD{limit}, "
              f"estimated {man['ff']:,} FF and {man['lut']:,} LUT4")
        for line in man["over_part"]:
            print(f"warning: {line}: this top will not place there")
        return man
    if getattr(args, "nodes", None):
        nodes = _named_nodes(graph, args.nodes)
    else:
        nodes = [n for n in graph.nodes if n.op in RTL_OPS]
        if not nodes:
            from .units_common import UnsupportedError

            raise UnsupportedError(f"graph {graph.name!r} has no node with a Verilog unit ({', '.join(RTL_OPS)})")
    rows = write_units(graph, nodes, tmp)
    sources = write_golden(graph, nodes, rows, tmp, getattr(args, "cases", None))
    return {"graph": graph.name, "golden_source": sources, "units": rows}


def _verify(out_dir: Path, manifest: dict[str, Any], args: argparse.Namespace) -> int:
    if args.jobs < 1:
        from ...errors import UserValueError

        raise UserValueError(f"--jobs must be >= 1, got {args.jobs}")
    if manifest.get("top"):
        from .top_verify import verify_top

        return verify_top(out_dir, manifest, args.sim, getattr(args, "images", None), getattr(args, "trace", False))
    return verify_folder(out_dir, manifest, args.sim, workers=args.jobs, only=getattr(args, "units", None))


TARGET = register_target(Target("verilog", "streaming Verilog units (AXI4-Stream ports) with cocotb checks",
                                _render, _verify, _codegen_args, _verify_args))

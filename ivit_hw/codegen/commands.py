"""The ``codegen`` and ``verify`` subcommands, dispatching on the codegen target."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from ..ir.serialize import atomic_folder, load_graph
from .targets import MANIFEST, get_target, load_targets, read_manifest


def _codegen_args(p: argparse.ArgumentParser) -> None:
    targets = load_targets()
    p.add_argument("graph_dir", metavar="GRAPH", help="IR folder (graph.yaml + constants.npz)")
    p.add_argument("--target", required=True, choices=sorted(targets), help="what to generate")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (replaced atomically)")
    p.add_argument("--config", metavar="YAML", help="target options as YAML (per-layer parallelism, ...)")
    for t in targets.values():
        t.add_codegen_arguments(p)


def cmd_codegen(args: argparse.Namespace) -> int:
    """Render ``GRAPH`` for ``--target`` into ``OUT`` (into a temporary folder first, then moved)."""
    target = get_target(args.target)
    graph = load_graph(args.graph_dir)
    with atomic_folder(args.output, MANIFEST) as tmp:
        manifest = {"target": target.name, **target.render(graph, tmp, args)}
        text = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({target.name})")
    return 0


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT", help="a folder written by 'ivit-hw codegen'")
    for t in load_targets().values():
        t.add_verify_arguments(p)


def cmd_verify(args: argparse.Namespace) -> int:
    """Build and run the checks of a rendered folder; exit 0 only when everything is bit-exact."""
    manifest = read_manifest(args.out_dir)
    target = get_target(manifest["target"])
    return target.verify(Path(args.out_dir), manifest, args)


COMMANDS = [
    ("codegen", "render a graph as an HLS project or Verilog units", _codegen_args, cmd_codegen),
    ("verify", "check a rendered folder bit-exactly against the golden model", _verify_args, cmd_verify),
]

"""The ``ivit-hw`` command line.

Subcommands are entries of :data:`COMMANDS` (name, help, add_arguments,
handler); other modules add theirs with :func:`register_command`. Every user
error prints one ``ivit-hw: error: ...`` line on stderr and exits with 2,
without a traceback and without leaving half-written output behind.
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

from .ir.analysis import headroom_bits
from .ir.graph import Graph
from .ir.serialize import atomic_folder, load_graph, npz_bytes, write_file_atomic
from .ir.types import Scale
from .runtime.golden import node_case_arrays, safe_filename
from .runtime.numpy_exec import run_graph

PROG = "ivit-hw"
EXIT_OK = 0
EXIT_USER = 2
TRACE_INDEX = "index.yaml"


class UserError(Exception):
    """A problem the user can fix (bad path, bad file, bad argument): reported in one line, exit 2."""


class Command(NamedTuple):
    """One subcommand: ``add_arguments(parser)`` declares its options, ``handler(args)`` returns the exit code.

    A plain ``(name, help, add_arguments, handler)`` tuple is accepted wherever a Command is.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


COMMANDS: list[Command] = []
# Modules with a ``COMMANDS`` list of (name, help, add_arguments, handler), registered on first use.
PLUGIN_MODULES = ("ivit_hw.frontend.commands", "ivit_hw.codegen.commands", "ivit_hw.runtime.commands",
                  "ivit_hw.eda.synth_command")
_plugins_loaded = False


def register_command(command: Command | tuple) -> Command:
    """Add a subcommand (once per name)."""
    command = Command(*command)
    if any(c.name == command.name for c in COMMANDS):
        raise ValueError(f"subcommand {command.name!r} registered twice")
    COMMANDS.append(command)
    return command


def _load_plugins() -> None:
    """Register the subcommands of :data:`PLUGIN_MODULES` (a module that is absent is skipped)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module_name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue
            raise
        for entry in getattr(module, "COMMANDS", []):
            register_command(entry)


# ----------------------------------------------------------------------------- inspect


def _sci(v: float) -> str:
    mant, _, exp = f"{v:.1e}".partition("e")
    return f"{mant}e{int(exp)}"


def format_scale(scale: Scale) -> str:
    """A scale for a table: ``-``, one number, or ``per-ch[C] lo..hi``."""
    if scale is None:
        return "-"
    if isinstance(scale, tuple | list):
        return f"per-ch[{len(scale)}] {_sci(min(scale))}..{_sci(max(scale))}"
    return f"{float(scale):.4g}"


def _table(header: Sequence[str], rows: list[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                   strict=True))]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _headroom(spec: object) -> str:
    h = headroom_bits(spec)  # type: ignore[arg-type]
    if h is None:
        return "?"
    return f"{h}!" if h < 0 else str(h)


def inspect_text(graph: Graph) -> str:
    """The two tables printed by ``ivit-hw inspect``, read from the graph as loaded (the
    stored proven ranges; no analysis runs here): tensors, and every node internal."""
    kinds = {**{n: "input" for n in graph.inputs}}
    for n in graph.outputs:
        kinds[n] = "output" if n not in kinds else "in/out"
    rows = []
    for name, spec in graph.tensors.items():
        kind = "const" if spec.const else kinds.get(name, "act")
        rows.append([name, kind, "[" + ", ".join(map(str, spec.shape)) + "]", str(spec.dtype.bits),
                     "yes" if spec.dtype.signed else "no", format_scale(spec.scale),
                     str(spec.range) if spec.range is not None else "?", _headroom(spec)])
    out = [f"graph {graph.name!r}: {len(graph.inputs)} input(s), {len(graph.outputs)} output(s), "
           f"{len(graph.tensors)} tensors, {len(graph.nodes)} nodes", "",
           _table(["tensor", "kind", "shape", "bits", "signed", "scale", "range", "headroom"], rows, {3, 7})]
    irows = [[node.name, node.op, key, str(spec.dtype.bits), "yes" if spec.dtype.signed else "no",
              str(spec.range) if spec.range is not None else "?", _headroom(spec)]
             for node in graph.nodes for key, spec in node.internals.items()]
    out += ["", _table(["node", "op", "internal", "bits", "signed", "range", "headroom"], irows, {3, 6})
            if irows else "(no node internals)"]
    return "\n".join(out)


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph_dir", metavar="GRAPH_DIR", help="folder with graph.yaml and constants.npz")


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print every tensor and node internal with its type and proven range, as stored.

    The graph is loaded verified: a width too narrow for its proven range or a
    scale that contradicts its op's scale rule is an error naming the tensor or
    node (exit 2), and nothing is printed.
    """
    print(inspect_text(load_graph(args.graph_dir)))
    return EXIT_OK


# ----------------------------------------------------------------------------- run


def _load_npy(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file")
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise UserError(f"{path}: expected a .npy array, got an .npz archive")
    if arr.dtype.kind not in "iu":
        raise UserError(f"{path}: expected an integer array, got dtype {arr.dtype}")
    return arr


def _parse_inputs(graph: Graph, specs: list[str]) -> dict[str, np.ndarray]:
    named: dict[str, str] = {}
    for item in specs:
        name, sep, path = item.partition("=")
        if not sep:
            if len(graph.inputs) != 1:
                raise UserError(f"graph {graph.name!r} has inputs {list(graph.inputs)}: use --input NAME=FILE.npy")
            name, path = graph.inputs[0], item
        if name not in graph.inputs:
            raise UserError(f"--input {item}: graph {graph.name!r} has no input {name!r} (inputs: "
                            f"{list(graph.inputs)})")
        if name in named:
            raise UserError(f"--input: input {name!r} given twice")
        named[name] = path
    missing = [n for n in graph.inputs if n not in named]
    if missing:
        raise UserError(f"missing --input for graph input(s) {missing}")
    return {n: _load_npy(p) for n, p in named.items()}


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(arr, order="C", copy=None), allow_pickle=False)
    return buf.getvalue()


def _write_trace(tmp: Path, graph: Graph, result, unbatch: bool) -> None:
    """Fill a trace folder: tensors/, internals/<node>/, cases/ and an index."""
    index: dict = {"graph": graph.name, "batched": not unbatch, "tensors": {}, "internals": {}, "cases": {}}
    used: set[str] = set()

    def put(rel: str, data: bytes) -> str:
        if rel in used:
            raise UserError(f"trace: two names map to the file {rel!r}")
        used.add(rel)
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(data)
        return rel

    for name, arr in result.tensors.items():
        rel = f"tensors/{safe_filename(name)}.npy"
        index["tensors"][name] = put(rel, _npy_bytes(arr[0] if unbatch else arr))
    for key, arr in result.internals.items():
        node, _, internal = key.rpartition("/")
        rel = f"internals/{safe_filename(node)}/{safe_filename(internal)}.npy"
        index["internals"][key] = put(rel, _npy_bytes(arr[0] if unbatch else arr))
    for node, arrays in node_case_arrays(graph, result).items():
        index["cases"][node] = put(f"cases/{safe_filename(node)}.npz", npz_bytes(arrays))
    text = yaml.safe_dump(index, sort_keys=False, default_flow_style=False)
    (tmp / TRACE_INDEX).write_text(text, encoding="utf-8")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph_dir", metavar="GRAPH_DIR", help="folder with graph.yaml and constants.npz")
    p.add_argument("--input", action="append", required=True, metavar="[NAME=]X.npy",
                   help="integer input array (per-sample shape, or with a leading batch axis); "
                        "NAME= is needed when the graph has several inputs")
    p.add_argument("--output", required=True, metavar="Y.npy",
                   help="where to write the output (.npy; an .npz with one array per output when several)")
    p.add_argument("--trace", metavar="DIR",
                   help="also write every tensor and internal (.npy) and the per-node golden cases here")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="numpy: the golden executor (default); torch: the torch executor (needs torch)")
    p.add_argument("--device", default="cpu", help="torch device for --backend torch (default cpu)")
    p.add_argument("--check", action="store_true",
                   help="check every tensor and internal against its declared type (names the node)")


BACKENDS = ("numpy", "torch")


def _execute(graph: Graph, inputs: dict[str, np.ndarray], args: argparse.Namespace):
    """Run with the chosen backend; a missing torch is a one-line user error."""
    if args.backend == "numpy":
        return run_graph(graph, inputs, trace=bool(args.trace), check=args.check)
    try:
        from .runtime.torch_exec import TorchExecutor
    except ModuleNotFoundError as exc:
        raise UserError(f"--backend torch needs torch, which is not installed ({exc.name} missing); "
                        f"install the torch extra") from None
    try:
        executor = TorchExecutor(graph, device=args.device)
    except RuntimeError as exc:
        raise UserError(f"--device {args.device}: {exc}") from None
    return executor.run(inputs, trace=bool(args.trace), check=args.check)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a graph on integer inputs with the golden executor (or the torch executor)."""
    graph = load_graph(args.graph_dir)
    inputs = _parse_inputs(graph, args.input)
    unbatch = all(tuple(arr.shape) == graph.tensor(n).shape for n, arr in inputs.items())
    out_path = Path(args.output)
    if out_path.is_dir():
        raise UserError(f"--output {args.output}: is a folder; give a .npy file name")
    result = _execute(graph, inputs, args)
    outs = {n: (a[0] if unbatch else a) for n, a in result.outputs.items()}
    if len(outs) == 1:
        data = _npy_bytes(next(iter(outs.values())))
    else:
        data = npz_bytes(outs)
    if args.trace:
        with atomic_folder(args.trace, TRACE_INDEX) as tmp:
            _write_trace(tmp, graph, result, unbatch)
            write_file_atomic(out_path, data)
    else:
        write_file_atomic(out_path, data)
    shapes = ", ".join(f"{n} {list(a.shape)}" for n, a in outs.items())
    print(f"wrote {args.output}: {shapes}" + (f"; trace in {args.trace}" if args.trace else ""))
    return EXIT_OK


register_command(Command("inspect", "print tensor widths, scales and proven ranges", _inspect_args, cmd_inspect))
register_command(Command("run", "run a graph with the golden executor (or --backend torch)", _run_args, cmd_run))


# ----------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    _load_plugins()
    parser = argparse.ArgumentParser(prog=PROG, description="Integer-only ViT hardware toolkit.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_handler=cmd.handler)
    return parser


def _one_line(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the error
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USER
    try:
        return int(args._handler(args))
    except (UserError, ValueError, TypeError, OverflowError, OSError, yaml.YAMLError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER


if __name__ == "__main__":
    sys.exit(main())

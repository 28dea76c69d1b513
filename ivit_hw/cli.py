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

from . import __version__
from .ir.analysis import headroom_bits
from .ir.graph import Graph
from .ir.serialize import atomic_folder, load_graph, npz_bytes, write_file_atomic
from .ir.types import Scale
from .paths import check_output_file, graph_folder
from .runtime.clipping import CLIP_WARN_SHARE, ClipCounter
from .runtime.executors import EXECUTORS, make_executor
from .runtime.golden import node_case_arrays, safe_filename
from .runtime.numpy_exec import run_graph

PROG = "ivit-hw"
EXIT_OK = 0
EXIT_USER = 2
EXIT_INTERRUPTED = 130
TRACE_INDEX = "index.yaml"
#: Subcommands in the order a user meets them; any other registered command is listed after these.
WORKFLOW_ORDER = ("quantize", "inspect", "run", "eval", "compare", "goldens", "codegen", "verify", "demo",
                  "ablation")
#: Packages of the optional extras: a command that needs one says so in one line (exit 2).
OPTIONAL_PACKAGES = {"torch": "torch", "PIL": "pillow", "sklearn": "scikit-learn", "matplotlib": "matplotlib",
                     "safetensors": "safetensors", "tqdm": "tqdm"}
#: ``run --trace`` refuses to write more than this many bytes unless ``--trace-limit-mb`` says otherwise.
TRACE_LIMIT_MB = 1024


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


def _numel(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def _mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:.2f} MiB"


def inspect_summary(graph: Graph, n_violations: int) -> str:
    """The closing section of ``ivit-hw inspect``: widest tensor and internal, memory, violations, OK line."""
    acts = [s for s in graph.tensors.values() if not s.const]
    consts = [s for s in graph.tensors.values() if s.const]
    lines = ["summary:"]
    if acts:
        wide = max(acts, key=lambda s: (s.dtype.bits, _numel(s.shape)))
        big = max(acts, key=lambda s: (_numel(s.shape) * s.dtype.bits, s.dtype.bits))
        lines.append(f"  widest tensor:     {wide.name} {wide.dtype} {list(wide.shape)}")
        lines.append(f"  largest tensor:    {big.name} {big.dtype} {list(big.shape)} "
                     f"({_mib(_numel(big.shape) * big.dtype.bits / 8)} per sample at its width)")
    internals = [(n.name, k, spec) for n in graph.nodes for k, spec in n.internals.items()]
    if internals:
        node, key, spec = max(internals, key=lambda t: t[2].dtype.bits)
        lines.append(f"  widest internal:   {node}/{key} {spec.dtype}")
    n_values = sum(_numel(s.shape) for s in consts)
    n_bytes = sum(_numel(s.shape) * s.dtype.bits / 8 for s in consts)
    lines.append(f"  constants:         {len(consts)} tensors, {n_values:,} values, {_mib(n_bytes)} at their "
                 f"declared widths")
    act_bytes = sum(_numel(s.shape) * s.dtype.bits / 8 for s in acts)
    lines.append(f"  activations:       {len(acts)} tensors, {_mib(act_bytes)} per sample if all were kept")
    lines.append(f"  width violations:  {n_violations}")
    if n_violations:
        lines.append(f"FAIL: {n_violations} width violation(s), listed on stderr")
    else:
        lines.append(f"OK: all {len(graph.tensors)} tensors and {len(internals)} internals fit their declared widths")
    return "\n".join(lines)


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph_dir", metavar="GRAPH_DIR", help="folder with graph.yaml and constants.npz (or its "
                   "graph.yaml)")
    p.add_argument("--summary", action="store_true", help="print only the closing summary, not the tables")


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print every tensor and node internal with its type and proven range, as stored, then a summary.

    The graph is loaded verified: a width too narrow for its proven range or a
    scale that contradicts its op's scale rule is an error naming the tensor or
    node (exit 2), and nothing is printed.
    """
    graph = load_graph(graph_folder(args.graph_dir))
    if not args.summary:
        print(inspect_text(graph))
        print()
    print(inspect_summary(graph, 0))
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
    arrays = {n: _load_npy(p) for n, p in named.items()}
    for n, arr in arrays.items():
        if arr.ndim == len(graph.tensor(n).shape) + 1 and arr.shape[0] == 0:
            raise UserError(f"--input {named[n]}: a batch of 0 samples for input {n!r}; give at least one")
    return arrays


def _output_plan(graph: Graph, spec: str) -> tuple[Path, list[str]]:
    """Where ``run`` writes and which outputs: ``Y.npz`` (all), ``Y.npy`` (the only one) or ``NAME=Y.npy``."""
    name, sep, path = spec.partition("=")
    if sep and name in graph.outputs:
        check_output_file(path, "--output", (".npy",))
        return Path(path), [name]
    p = check_output_file(spec, "--output", (".npy", ".npz"))
    if p.suffix.lower() == ".npz":
        return p, list(graph.outputs)
    if len(graph.outputs) != 1:
        first = graph.outputs[0]
        raise UserError(f"--output {spec}: graph {graph.name!r} has {len(graph.outputs)} outputs "
                        f"{list(graph.outputs)}; a .npy holds one array: give --output {p.with_suffix('.npz')} for "
                        f"all of them, or --output {first}={spec} for one")
    return p, list(graph.outputs)


def trace_bytes(graph: Graph, batch: int) -> int:
    """About how many bytes ``run --trace`` keeps in memory and writes for ``batch`` samples (int64 .npy files).

    Every activation tensor, every node internal (counted at the size of the node's largest tensor, an
    upper estimate) and the per-node cases (inputs, constants, output and internals again).
    """
    from .ir.registry import get_op

    def size(name: str) -> int:
        spec = graph.tensor(name)
        return _numel(spec.shape) * (1 if spec.const else batch)

    acts = sum(size(n) for n, s in graph.tensors.items() if not s.const)
    internals = cases = 0
    for node in graph.nodes:
        names = [*node.inputs.values(), node.output]
        per_internal = max(_numel(graph.tensor(t).shape) for t in names) * batch
        n_int = per_internal * len(get_op(node.op).internals)
        internals += n_int
        cases += sum(size(t) for t in names) + n_int
    return 8 * (acts + internals + cases)


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
    p.add_argument("--output", required=True, metavar="Y.npz|Y.npy|NAME=Y.npy",
                   help="where to write: Y.npz holds every output (one array per output name); Y.npy the only "
                        "output of a one-output graph; NAME=Y.npy one named output")
    p.add_argument("--trace", metavar="DIR",
                   help="also write every tensor and internal (.npy) and the per-node golden cases here")
    p.add_argument("--trace-limit-mb", type=float, default=TRACE_LIMIT_MB, metavar="MB",
                   help=f"refuse a --trace larger than about this many MB (default {TRACE_LIMIT_MB})")
    p.add_argument("--clip-warn", type=float, default=CLIP_WARN_SHARE, metavar="SHARE",
                   help=f"warn when a requantize clips more than this share of its elements (default "
                        f"{CLIP_WARN_SHARE}; numpy backend)")
    p.add_argument("--backend", choices=sorted(EXECUTORS), default="numpy",
                   help="the executor (ivit_hw.runtime.executors): numpy, the golden executor (default); torch, "
                        "the per-node torch executor; fused / fused-compiled / triton, the fused steps "
                        "(no --trace / --check)")
    p.add_argument("--device", default="cpu", help="torch device for the torch-based backends (default cpu)")
    p.add_argument("--check", action="store_true",
                   help="check every tensor and internal against its declared type (names the node)")


def _execute(graph: Graph, inputs: dict[str, np.ndarray], args: argparse.Namespace, observe=None):
    """Run with the chosen executor; a missing extra is a one-line user error. ``observe``: numpy only."""
    if args.backend == "numpy":
        return run_graph(graph, inputs, trace=bool(args.trace), check=args.check, observe=observe)
    if (args.trace or args.check) and not EXECUTORS[args.backend].traces:
        raise UserError(f"--backend {args.backend} runs fused steps: --trace / --check need numpy or torch")
    try:
        executor = make_executor(args.backend, graph, args.device)
    except ValueError as exc:
        raise UserError(f"--backend {args.backend}: {exc}") from None
    return executor.run(inputs, trace=bool(args.trace), check=args.check)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a graph on integer inputs with the golden executor (or the torch executor)."""
    graph = load_graph(graph_folder(args.graph_dir))
    out_path, out_names = _output_plan(graph, args.output)
    inputs = _parse_inputs(graph, args.input)
    unbatch = all(tuple(arr.shape) == graph.tensor(n).shape for n, arr in inputs.items())
    if args.trace:
        batch = 1 if unbatch else max(len(a) for a in inputs.values())
        need = trace_bytes(graph, batch)
        if need > args.trace_limit_mb * 2**20:
            raise UserError(f"--trace {args.trace}: would hold and write about {need / 2**20:,.0f} MB for {batch} "
                            f"sample(s) (limit {args.trace_limit_mb:g} MB); trace fewer samples or raise "
                            "--trace-limit-mb")
    clips = ClipCounter(graph)
    result = _execute(graph, inputs, args, observe=clips)
    outs = {n: np.asarray(result.outputs[n][0] if unbatch else result.outputs[n]) for n in out_names}
    data = npz_bytes(outs) if out_path.suffix.lower() == ".npz" else _npy_bytes(outs[out_names[0]])
    if args.trace:
        with atomic_folder(args.trace, TRACE_INDEX) as tmp:
            _write_trace(tmp, graph, result, unbatch)
            write_file_atomic(out_path, data)
    else:
        write_file_atomic(out_path, data)
    shapes = ", ".join(f"{n} {list(a.shape)}" for n, a in outs.items())
    print(f"wrote {out_path}: {shapes}" + (f"; trace in {args.trace}" if args.trace else ""))
    warning = clips.warning(args.clip_warn)
    if warning:
        print(f"{PROG}: {warning}", file=sys.stderr)
    return EXIT_OK


register_command(Command("inspect", "print tensor widths, scales and proven ranges, and a summary", _inspect_args,
                         cmd_inspect))
register_command(Command("run", "run a graph on integer inputs (.npy) with the golden executor (or --backend torch)",
                         _run_args, cmd_run))


# ----------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    _load_plugins()
    parser = argparse.ArgumentParser(
        prog=PROG, description="Integer-only ViT hardware toolkit: quantize a float ViT/DeiT into a fixed-point "
        "graph, inspect and run it exactly, measure its accuracy and fidelity, generate hardware from it.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    rank = {name: i for i, name in enumerate(WORKFLOW_ORDER)}
    for cmd in sorted(COMMANDS, key=lambda c: rank.get(c.name, len(rank))):
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_handler=cmd.handler)
    return parser


def _one_line(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The pip package of an optional extra whose absence raised ``exc`` (None for anything else)."""
    root = (exc.name or "").partition(".")[0]
    return OPTIONAL_PACKAGES.get(root)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the error
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USER
    try:
        return int(args._handler(args))
    except ModuleNotFoundError as exc:
        package = missing_extra(exc)
        if package is None:
            raise
        print(f"{PROG}: error: '{PROG} {args.command}' needs {package}, which is not installed "
              f"(pip install 'ivit_hw[torch]')", file=sys.stderr)
        return EXIT_USER
    except (UserError, ValueError, TypeError, OverflowError, OSError, yaml.YAMLError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

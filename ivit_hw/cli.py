"""The ``ivit-hw`` command line.

Subcommands are entries of :data:`COMMANDS` (name, help, add_arguments,
handler); other modules add theirs with :func:`register_command`. Every user
error (:class:`ivit_hw.errors.UserError`, an ``OSError`` or a YAML error)
prints one ``ivit-hw: error: ...`` line on stderr and exits with 2, without a
traceback and without leaving half-written output behind. Anything else is a
bug in the tool: its traceback is printed with a line asking to report it,
exit status 3.
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

from . import __version__
from .errors import EXIT_INTERNAL, EXIT_USER, UserError
from .ir.analysis import headroom_bits
from .ir.graph import Graph
from .ir.serialize import atomic_folder, load_graph, npz_bytes, write_file_atomic
from .ir.types import Scale
from .paths import check_output_file, graph_folder
from .runtime.clipping import CLIP_WARN_SHARE, ClipCounter
from .runtime.executors import EXECUTORS, make_executor
from .runtime.numpy_exec import run_graph
from .runtime.trace import TRACE_INDEX, select_nodes, trace_bytes, write_trace

PROG = "ivit-hw"
EXIT_OK = 0
EXIT_INTERRUPTED = 130
#: Subcommands in the order a user meets them; any other registered command is listed after these.
WORKFLOW_ORDER = ("quantize", "inspect", "run", "eval", "compare", "goldens", "codegen", "verify", "demo",
                  "ablation")
#: Packages of the optional extras: a command that needs one says so in one line (exit 2).
OPTIONAL_PACKAGES = {"torch": "torch", "PIL": "pillow", "sklearn": "scikit-learn", "matplotlib": "matplotlib",
                     "safetensors": "safetensors", "tqdm": "tqdm"}
#: ``run --trace`` refuses to write more than this many bytes unless ``--trace-limit-mb`` says otherwise.
TRACE_LIMIT_MB = 1024


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


def _load_input(graph: Graph, name: str, path: str) -> np.ndarray:
    """A ``.npy`` array, or image files read with the graph's recorded preprocessing (said on stdout)."""
    from .frontend.image_inputs import is_image_source, load_image_input

    if not is_image_source(path):
        return _load_npy(path)
    from .frontend.commands import graph_crop_pct

    pixels, note = load_image_input(graph, name, path, graph_crop_pct(graph, None))
    print(note)
    return pixels


def _index_list(text: str) -> list[int]:
    """``0,2,5`` -> [0, 2, 5] (argparse type)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sample indices like 0,2,5, got {text!r}") from None
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct indices >= 0, got {text!r}")
    return values


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
    arrays = {n: _load_input(graph, n, p) for n, p in named.items()}
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


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(arr, order="C", copy=None), allow_pickle=False)
    return buf.getvalue()


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph_dir", metavar="GRAPH_DIR", help="folder with graph.yaml and constants.npz")
    p.add_argument("--input", action="append", required=True, metavar="[NAME=]X.npy|IMAGE|DIR|GLOB",
                   help="integer input array (per-sample shape, or with a leading batch axis), or for an image "
                        "input ([C, H, W], 0..255) an image file, a folder of images or a quoted glob, read with "
                        "the preprocessing the graph records (timm's eval transform); NAME= is needed when the "
                        "graph has several inputs")
    p.add_argument("--output", required=True, metavar="Y.npz|Y.npy|NAME=Y.npy",
                   help="where to write: Y.npz holds every output (one array per output name); Y.npy the only "
                        "output of a one-output graph; NAME=Y.npy one named output")
    p.add_argument("--trace", metavar="DIR",
                   help="also write every tensor and internal (compact .npy) and the per-node golden cases here "
                        "(the cases/ folder is what 'codegen --target verilog --cases' takes)")
    p.add_argument("--trace-nodes", nargs="+", metavar="PATTERN",
                   help="trace only the nodes matching these patterns (fnmatch on node names, e.g. 'blocks.0.*')")
    p.add_argument("--trace-samples", type=_index_list, metavar="I[,J...]",
                   help="trace only these samples of the batch (0-based; the outputs still cover every sample)")
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


def _execute(graph: Graph, inputs: dict[str, np.ndarray], args: argparse.Namespace, observe=None,
             trace: bool = False):
    """Run with the chosen executor; a missing extra is a one-line user error. ``observe``: numpy only."""
    if args.backend == "numpy":
        return run_graph(graph, inputs, trace=trace, check=args.check, observe=observe)
    if (trace or args.check) and not EXECUTORS[args.backend].traces:
        raise UserError(f"--backend {args.backend} runs fused steps: --trace / --check need numpy or torch")
    try:
        executor = make_executor(args.backend, graph, args.device)
    except ValueError as exc:
        raise UserError(f"--backend {args.backend}: {exc}") from None
    return executor.run(inputs, trace=trace, check=args.check)


def _trace_plan(graph: Graph, args: argparse.Namespace, inputs: dict[str, np.ndarray],
                unbatch: bool) -> tuple[list[str] | None, list[int] | None]:
    """The nodes (None: all) and samples (None: all) ``--trace`` writes, checked against the size limit."""
    if not args.trace:
        if args.trace_nodes or args.trace_samples:
            raise UserError("--trace-nodes and --trace-samples select what --trace DIR writes: give --trace")
        return None, None
    nodes = select_nodes(graph, args.trace_nodes) if args.trace_nodes else None
    batch = 1 if unbatch else max(len(a) for a in inputs.values())
    samples = args.trace_samples
    if samples is not None:
        if unbatch:
            raise UserError("--trace-samples: the input is one sample (no batch axis); leave the option out")
        if max(samples) >= batch:
            raise UserError(f"--trace-samples {','.join(map(str, samples))}: the batch has {batch} sample(s) "
                            f"(indices 0..{batch - 1})")
    traced = batch if samples is None else len(samples)
    need = trace_bytes(graph, traced, nodes)
    if need > args.trace_limit_mb * 2**20:
        raise UserError(f"--trace {args.trace}: would hold and write about {need / 2**20:,.0f} MB for {traced} "
                        f"sample(s) (limit {args.trace_limit_mb:g} MB); trace fewer samples (--trace-samples) or "
                        "nodes (--trace-nodes), or raise --trace-limit-mb")
    return nodes, samples


def cmd_run(args: argparse.Namespace) -> int:
    """Run a graph on integer inputs (or images) with the golden executor (or the torch executor)."""
    graph = load_graph(graph_folder(args.graph_dir))
    out_path, out_names = _output_plan(graph, args.output)
    inputs = _parse_inputs(graph, args.input)
    unbatch = all(tuple(arr.shape) == graph.tensor(n).shape for n, arr in inputs.items())
    nodes, samples = _trace_plan(graph, args, inputs, unbatch)
    clips = ClipCounter(graph)
    result = _execute(graph, inputs, args, observe=clips, trace=bool(args.trace) and samples is None)
    outs = {n: np.asarray(result.outputs[n][0] if unbatch else result.outputs[n]) for n in out_names}
    data = npz_bytes(outs) if out_path.suffix.lower() == ".npz" else _npy_bytes(outs[out_names[0]])
    if args.trace:
        traced = result if samples is None else _execute(graph, {n: a[samples] for n, a in inputs.items()}, args,
                                                         trace=True)
        with atomic_folder(args.trace, TRACE_INDEX) as tmp:
            write_trace(tmp, graph, traced, unbatch, nodes, samples)
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
register_command(Command("run", "run a graph on integer inputs (.npy) or images with the golden executor (or "
                         "--backend torch)",
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
    except (UserError, OSError, yaml.YAMLError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: never dressed as a user error
        traceback.print_exc()
        print(f"{PROG}: internal error in '{PROG} {args.command}' (version {__version__}); this is a bug, please "
              "report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

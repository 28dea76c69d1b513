"""Render an analysed graph (or one block or node of it) as a Vitis HLS project.

The view-model is built here in Python (names, buffers, steps, structs);
the jinja2 templates under ``templates/hls/project/`` only hold text. The
kernels are copied from ``templates/hls/include/ivit/``. Output is
deterministic: the same graph and options give byte-identical files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from ...hwplan import HardwarePlan
from ...ir.graph import Graph, Node
from ...ir.types import IRError
from .fit import gemm_lanes, project_plan, refuse_overfit
from .layers import Layer, Rom, build_layer, estimated_total
from .names import Namer, comment_text
from .options import HlsOptions
from .vectors import write_bin, write_vectors
from .widths import analysed_graph, const_iv, fitting, native_type

TOP = "ivit_top"
ESTIMATE_NOTE = ("ESTIMATE, not a synthesis result: cycles = loop trip counts at the target II (1) summed over "
                 "layers with no overlap, plus a fixed divider latency; multipliers = multiply operators "
                 "instantiated per layer (the parallelism factor for GEMMs).")


def _template_root() -> Path:
    return Path(str(resources.files("ivit_hw").joinpath("templates", "hls")))


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_template_root() / "project")),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True, autoescape=False)


def _render(env: jinja2.Environment, name: str, **context: Any) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise RuntimeError(f"template {name}: {exc}") from exc


# ----------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    """The nodes a top function holds, its input tensors and its output tensors (all in graph order)."""

    kind: str
    name: str
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _block_nodes(graph: Graph, name: str) -> list[Node]:
    """The nodes of block ``name``: a block of ``ivit_hw.ir.structure.blocks`` (``attention.0``,
    ``mlp.0``, ``residual.1``, ``embed``, ``head``), else every node whose name starts with ``name.``
    (``blocks.0``: a whole transformer block of the frontend's naming)."""
    from ...ir.structure import blocks

    for block in blocks(graph):
        if block.name == name:
            wanted = set(block.nodes)
            return [n for n in graph.nodes if n.name in wanted]
    return [n for n in graph.nodes if n.name.startswith(name + ".")]


def select(graph: Graph, top: str) -> Selection:
    """The part of ``graph`` named by ``--top``: ``model``, ``block:NAME`` or ``node:NAME``."""
    kind, _, name = top.partition(":")
    if kind == "model" and not name:
        nodes = list(graph.nodes)
    elif kind == "node" and name:
        nodes = [graph.node(name)]
    elif kind == "block" and name:
        nodes = _block_nodes(graph, name)
        if not nodes:
            raise IRError(f"--top {top}: graph {graph.name!r} has no block {name!r}")
    else:
        raise IRError(f"--top {top!r}: expected model, block:NAME or node:NAME")
    produced = {n.output for n in nodes}
    inputs: list[str] = []
    for n in nodes:
        for t in n.inputs.values():
            if t not in produced and not graph.tensor(t).const and t not in inputs:
                inputs.append(t)
    used_outside = {t for n in graph.nodes if n not in nodes for t in n.inputs.values()}
    outputs = [n.output for n in nodes if n.output in used_outside or n.output in graph.outputs]
    if not outputs:
        outputs = [nodes[-1].output]
    if not inputs:
        raise IRError(f"--top {top}: the selection has no data input (only constants)")
    return Selection(kind, name or graph.name, tuple(nodes), tuple(inputs), tuple(outputs))


# ----------------------------------------------------------------------------- view-model


def _size(graph: Graph, t: str) -> int:
    shape = graph.tensor(t).shape
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


ROM_LINE = 24  # values per line of a weights header


def _rom_body(rom: Rom) -> str:
    """The initializer lines: ``ROM_LINE`` values a line, four spaces in, ``", "`` between, ``",\n"`` at a line end.

    Vectorised: each distinct value is formatted once (a table over the values' range when that is
    small, as for int8 weights), then one join over the values and their separators."""
    vals = np.asarray(rom.values, dtype=np.int64).reshape(-1)
    if vals.size == 0:
        return ""
    lo, hi = int(vals.min()), int(vals.max())
    if hi - lo < 1 << 16:
        strs = np.array([str(v) for v in range(lo, hi + 1)], dtype=object)[vals - lo]
    else:
        strs = np.array([str(v) for v in vals.tolist()], dtype=object)
    seps = np.full(vals.size, ", ", dtype=object)
    seps[ROM_LINE - 1::ROM_LINE] = ",\n    "
    seps[-1] = ""
    tokens = np.empty(2 * vals.size, dtype=object)
    tokens[0::2], tokens[1::2] = strs, seps
    return "    " + "".join(tokens.tolist())


class _Builder:
    """Collects buffers, steps, structs and ROMs of one project."""

    def __init__(self, graph: Graph, sel: Selection, opts: HlsOptions) -> None:
        self.graph, self.sel, self.opts = graph, sel, opts
        self.tname = Namer("t_")
        self.cname = Namer("c_")
        self.lname = Namer("cfg_")
        self.pname = Namer()
        self.buffers: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.pragmas: list[str] = []
        self.layers: list[Layer] = []
        self.roms: dict[str, Rom] = {}
        self.trace_ids: dict[str, int] = {}
        self.uses: dict[str, list[str]] = {}
        self.streams: list[dict[str, Any]] = []  # the streaming top's FIFOs (none in the array top)
        self.extra_structs: list[dict[str, Any]] = []
        self.needs: list[Any] = []

    def ctype(self, t: str) -> str:
        spec = self.graph.tensor(t)
        return str(fitting(spec.range, f"tensor {t!r}"))

    def buffer(self, t: str, cid: str, comment: str) -> str:
        self.buffers.append({"ctype": self.ctype(t), "cid": cid, "size": _size(self.graph, t),
                             "comment": comment})
        return cid

    def plan_uses(self) -> None:
        """One buffer per consumer: a tensor read by k > 1 kernels (or a kernel and the output
        stream) is copied k ways, since a dataflow channel has one reader."""
        readers: dict[str, int] = {}
        for n in self.sel.nodes:
            for t in n.inputs.values():
                if not self.graph.tensor(t).const:
                    readers[t] = readers.get(t, 0) + 1
        for t in self.sel.outputs:
            readers[t] = readers.get(t, 0) + 1
        self.readers = readers

    def split(self, t: str) -> None:
        """After ``t`` is written: fan it out to one buffer per reader."""
        k = self.readers.get(t, 0)
        base = self.tname(t)
        if k <= 1:
            self.uses[t] = [base] * max(k, 1)
            return
        copies = [self.buffer(t, f"{base}_u{i}", f"{comment_text(t)} (reader {i})") for i in range(k)]
        src, size, ctype = base, _size(self.graph, t), self.ctype(t)
        for i in range(k - 1):
            rest = copies[i + 1] if i == k - 2 else self.buffer(t, f"{base}_r{i + 1}", f"{comment_text(t)} (fan-out)")
            self.steps.append({"kernel": "ivit::fanout2", "targs": [str(size), ctype], "args": [src, copies[i], rest],
                               "comment": "", "trace": None})
            src = rest
        self.uses[t] = copies

    def take(self, t: str) -> str:
        """The buffer the next reader of ``t`` uses (const data tensors get a ROM copied into a buffer)."""
        if self.graph.tensor(t).const:
            rom_cid = self.cname(t)
            if rom_cid not in self.roms:
                vals = np.asarray(self.graph.constants[t], dtype=np.int64)
                self.roms[rom_cid] = Rom(rom_cid, native_type(const_iv(vals), f"constant {t!r}"), vals.reshape(-1), t)
            buf = self.buffer(t, f"{self.tname(t)}_k{len(self.buffers)}", f"constant {comment_text(t)}")
            self.steps.append({"kernel": "ivit::rom_to_array", "targs": [str(_size(self.graph, t))],
                               "args": [rom_cid, buf], "comment": "", "trace": None})
            return buf
        return self.uses[t].pop(0)

    def build(self) -> None:
        g, sel = self.graph, self.sel
        self.lanes = gemm_lanes(g, sel.nodes, self.opts)
        self.plan_uses()
        self.ports = []
        for t in sel.inputs:
            port = self.pname(f"in_{t}")
            self.ports.append(self._port(t, port, "input"))
            self.buffer(t, self.tname(t), f"input {comment_text(t)}")
            self.steps.append({"kernel": "ivit::stream_to_array", "targs": [str(_size(g, t))],
                               "args": [port, self.tname(t)], "comment": f"input {comment_text(t)}", "trace": None})
            self.split(t)
        for node in sel.nodes:
            buffers = {role: self.take(t) for role, t in node.inputs.items() if not _is_param(node, role)}
            out = self.buffer(node.output, self.tname(node.output), f"{node.op} {comment_text(node.name)}")
            par = self.lanes.get(node.name, 1)
            layer = build_layer(g, node, self.lname(node.name), buffers, out, self.cname, par,
                                self.opts.weights == "off_chip")
            self.layers.append(layer)
            for rom in layer.roms:
                self.roms.setdefault(rom.cid, rom)
            trace = None
            if node.output not in sel.outputs and self.opts.trace_samples > 0:
                trace = len(self.trace_ids)
                self.trace_ids[node.output] = trace
            targs = [s.cfg for s in layer.sub_cfgs] or [layer.cfg]
            self.steps.append({"kernel": layer.kernel, "targs": targs, "args": layer.args, "trace": trace,
                               "trace_buf": out, "trace_size": _size(g, node.output),
                               "comment": f"{comment_text(node.name)}: {node.op}"})
            self.split(node.output)
        for t in sel.outputs:
            port = self.pname(f"out_{t}")
            self.ports.append(self._port(t, port, "output"))
            self.steps.append({"kernel": "ivit::array_to_stream", "targs": [str(_size(g, t))],
                               "args": [self.take(t), port], "comment": f"output {comment_text(t)}", "trace": None})

    def finish(self) -> None:
        """After :meth:`build`: the partition pragmas of every layer."""
        self.pragmas = _partition_pragmas(self.layers)

    def _port(self, t: str, port: str, direction: str) -> dict[str, Any]:
        return {"port": port, "type_name": f"{port}_t", "ctype": self.ctype(t), "direction": direction,
                "comment": comment_text(t), "size": _size(self.graph, t), "cid": self.tname(t), "tensor": t}


def _is_param(node: Node, role: str) -> bool:
    from ...ir.registry import get_op
    return get_op(node.op).role(role).param


# which arguments of a GEMM kernel are read (or written) ``par`` at a time at consecutive addresses
PARTITIONED_ARGS = {"ivit::linear": (0, 1), "ivit::patch_embed": (1,), "ivit::log_attn_v": (1, 2),
                    "ivit::linear_axi": (0,), "ivit::patch_embed_axi": (),
                    # the streaming kernels partition their own row / K / V buffers (CFG::par)
                    "ivit::linear_rows": (1,), "ivit::patch_embed_stream": (1,)}


def partitioned_args(layer: Layer) -> tuple[int, ...]:
    """The arguments of ``layer`` to split into ``par`` cyclic banks: the operands its unrolled lanes
    read at consecutive addresses (q @ k^T: a and b; attn @ v: b and the outputs it writes)."""
    if layer.kernel == "ivit::matmul":
        return (0, 1) if dict(layer.consts)["transpose_b"] == "1" else (1, 2)
    return PARTITIONED_ARGS.get(layer.kernel, ())


def _partition_pragmas(layers: list[Layer]) -> list[str]:
    """One cyclic ARRAY_PARTITION per array, the lcm of the factors its readers and writers need."""
    factors: dict[str, int] = {}
    for layer in layers:
        if layer.par > 1:
            for i in partitioned_args(layer):
                var = layer.args[i]
                factors[var] = math.lcm(factors.get(var, 1), layer.par)
    return [f"ARRAY_PARTITION variable={var} cyclic factor={f} dim=1" for var, f in factors.items()]


def _structs(layers: list[Layer]) -> list[dict[str, Any]]:
    out = []
    for layer in layers:
        for part in [*layer.sub_cfgs, layer]:
            consts = [("long long" if v.endswith("LL") else "int", k, v) for k, v in part.consts]
            out.append({"cfg": part.cfg, "types": part.types, "consts": consts,
                        "comment": f"{comment_text(layer.node)}: {layer.op}"})
    return out


def _summary(b: _Builder, opts: HlsOptions, plan: HardwarePlan) -> dict[str, Any]:
    total = estimated_total(b.layers)
    layers = [{"node": layer.node, "op": layer.op, "config": layer.cfg, "kernel": layer.kernel,
               "widths": layer.widths, "loops": layer.loops, "target_ii": 1, "parallelism": layer.par,
               "multipliers": layer.multipliers, "estimated_cycles": layer.cycles} for layer in b.layers]
    return {
        "format": 1, "top": TOP, "selection": opts.top, "dataflow": opts.dataflow, "part": opts.part,
        "clock_ns": opts.clock_ns,
        "estimate_note": ESTIMATE_NOTE,
        "estimated_cycles_per_sample": total,
        "estimated_latency_us": round(total * opts.clock_ns / 1000.0, 3),
        "estimated_dataflow_interval_cycles": max((layer.cycles for layer in b.layers), default=0),
        "multipliers_total": int(sum(layer.multipliers for layer in b.layers)),
        "inputs": [{"tensor": p["tensor"], "port": p["port"], "type": p["ctype"], "size": p["size"]}
                   for p in b.ports if p["direction"] == "input"],
        "outputs": [{"tensor": p["tensor"], "port": p["port"], "type": p["ctype"], "size": p["size"]}
                    for p in b.ports if p["direction"] == "output"],
        "layers": layers,
        "streams": [{"stream": s["cid"], "tensor": s["tensor"], "depth": s["depth"], "width": s["bits"]}
                    for s in b.streams],
        "plan": plan.to_json(),
    }


def _build(graph: Graph, opts: HlsOptions) -> tuple[Selection, _Builder, list[Rom], HardwarePlan]:
    """The view-model of the project of an analysed ``graph`` (the streaming or the array top, as
    ``opts.dataflow`` says), its ROMs and its plan. ``weights: auto`` keeps the weights on chip when
    that plan fits the part and otherwise builds again with the GEMM weights off chip."""
    if opts.weights == "auto":
        on_chip = _build(graph, replace(opts, weights="on_chip"))
        return on_chip if on_chip[3].fits else _build(graph, replace(opts, weights="off_chip"))
    sel = select(graph, opts.top)
    if opts.dataflow == "stream":
        from .stream_build import StreamBuilder
        b: _Builder = StreamBuilder(graph, sel, opts)
    else:
        b = _Builder(graph, sel, opts)
    b.build()
    b.finish()
    roms = sorted(b.roms.values(), key=lambda r: r.cid)
    plan = project_plan(graph, sel.nodes, opts, b.layers, b.buffers, roms, b.pragmas, b.needs)
    return sel, b, roms, plan


def hls_plan(graph: Graph, opts: HlsOptions) -> HardwarePlan:
    """The plan of the project ``render_project`` would write (nothing written, no golden run)."""
    return _build(analysed_graph(graph), opts)[3]


def render_project(graph: Graph, out_dir: Path, opts: HlsOptions,
                   vectors: Mapping[str, np.ndarray] | None = None,
                   graph_inputs: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Write the project for ``graph`` into ``out_dir`` (an empty temporary folder); returns the manifest body.

    Golden vectors for the testbench: ``vectors`` (tensor name -> [samples, ...] arrays for every
    input, output and intermediate of the selection), else the golden model run on
    ``graph_inputs``, else on seeded random inputs.
    """
    graph = analysed_graph(graph)
    sel, b, roms, plan = _build(graph, opts)
    opts = b.opts  # weights: auto resolved
    refuse_overfit(plan, opts)
    env = _env()
    guard = "IVIT_TOP"
    ctx = {"top": TOP, "guard": guard, "graph_comment": comment_text(graph.name),
           "selection_comment": comment_text(opts.top), "ports": b.ports}
    files: dict[str, str] = {}
    axi = [{"cid": r.cid, "ctype": r.ctype, "size": int(r.values.size), "comment": comment_text(r.source)}
           for r in roms if r.off_chip]
    ctx["axi"] = axi
    roms = [r for r in roms if not r.off_chip]
    files[f"firmware/{TOP}.h"] = _render(env, "top.h.j2", **ctx)
    files[f"firmware/{TOP}.cpp"] = _render(env, "top.cpp.j2", **ctx, weight_headers=[r.cid for r in roms],
                                           buffers=b.buffers, pragmas=b.pragmas, steps=b.steps,
                                           streams=b.streams)
    structs = _structs(b.layers) + b.extra_structs
    files["firmware/parameters.h"] = _render(env, "parameters.h.j2", **ctx, structs=structs)
    for rom in roms:
        files[f"firmware/weights/{rom.cid}.h"] = _render(env, "weights.h.j2", rom={
            "cid": rom.cid, "guard": rom.cid.upper(), "ctype": rom.ctype, "size": rom.values.size,
            "comment": comment_text(rom.source), "body": _rom_body(rom)})
    inputs = [p for p in b.ports if p["direction"] == "input"]
    outputs = [p for p in b.ports if p["direction"] == "output"]
    traced = [{"cid": b.tname(t), "size": _size(graph, t), "trace": i, "tensor": t} for t, i in b.trace_ids.items()]
    files["tb/tb.cpp"] = _render(env, "tb.cpp.j2", **ctx, inputs=inputs, outputs=outputs, traced=traced,
                                 trace_samples=opts.trace_samples)
    summary = _summary(b, opts, plan)
    files["build_prj.tcl"] = _render(env, "build_prj.tcl.j2", **ctx, project=f"{TOP}_prj", part=opts.part,
                                     clock_ns=opts.clock_ns)
    files["README.md"] = _render(env, "README.md.j2", **ctx, part=opts.part, clock_ns=opts.clock_ns,
                                 dataflow=opts.dataflow,
                                 samples=opts.samples, trace_samples=opts.trace_samples,
                                 total_cycles=summary["estimated_cycles_per_sample"],
                                 latency_us=summary["estimated_latency_us"], n_layers=len(b.layers),
                                 plan_lines=plan.summary_lines(1000.0 / opts.clock_ns))
    files["summary.json"] = json.dumps(summary, indent=1) + "\n"
    root = _template_root()
    for src in sorted((root / "include" / "ivit").glob("*.h")):
        files[f"firmware/ivit/{src.name}"] = src.read_text(encoding="utf-8")
    files["tb/csim/hls_stream.h"] = (root / "csim" / "hls_stream.h").read_text(encoding="utf-8")
    for rel, text in files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    tensors = {p["tensor"]: p["cid"] for p in inputs + outputs}
    tensors.update({t["tensor"]: t["cid"] for t in traced})
    n_samples = write_vectors(graph, sel, out_dir / "tb" / "data", tensors, [t["tensor"] for t in traced], opts,
                              vectors, graph_inputs)
    for rom in b.roms.values():
        if rom.off_chip:
            write_bin(out_dir / "tb" / "data" / f"{rom.cid}.bin", rom.values.reshape(1, -1))
    return {"top": TOP, "selection": opts.top, "part": opts.part, "clock_ns": opts.clock_ns,
            "samples": n_samples, "layers": len(b.layers),
            "estimated_cycles_per_sample": summary["estimated_cycles_per_sample"],
            "plan": plan.summary_lines(1000.0 / opts.clock_ns)}


def write_project(graph: Graph, out_dir: str | Path, opts: HlsOptions,
                  vectors: Mapping[str, np.ndarray] | None = None,
                  graph_inputs: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """:func:`render_project` into a temporary folder that replaces ``out_dir`` (with its manifest) on success."""
    import yaml

    from ...ir.serialize import atomic_folder
    from ..targets import MANIFEST

    with atomic_folder(out_dir, MANIFEST) as tmp:
        manifest = {"target": "hls", **render_project(graph, tmp, opts, vectors, graph_inputs)}
        (tmp / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return manifest

"""The whole model (or one block) as one Verilog top module: a netlist of streams and engines.

:func:`build_top` turns a selection of the graph (``--top model`` or
``block:NAME``) into the view-model of ``model_top.v.j2`` plus the module
texts it instantiates (the existing units, one GEMM engine per GEMM node).
Schedule: every compute node is its own engine, joined by valid/ready
streams; layout chains are address walks over their source (see
:mod:`.addressing`); a tensor read by several consumers is forked, with a
FIFO of one whole image per branch (the attention buffers a whole image, so
a residual skip must hold one). Every width comes from the stored graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...hwplan.memory import top_memory
from ...ir.graph import Graph, Node
from ...ir.registry import get_op
from ...ir.structure import layout_views
from .addressing import ViewCopy, Walk, access_kind, counters, patch_indices, view_copy, view_indices
from .bram_count import bram_tiles, gemm_blocks, top_blocks, unit_blocks
from .dsp_count import lane_pieces
from .gemm import GEMM_OPS, gemm_cycles, gemm_view, ram_style, ubits
from .logic_count import gemm_logic, slice_logic, top_logic, unit_logic
from .render import BUILDERS, module_name, render_template, render_unit, unit_entry, unit_view
from .units_common import UnsupportedError, input_interval, rom18_tiles, tdata_bits

LAYOUT_OPS = ("reshape", "transpose", "slice", "gather")
STREAM_OPS = ("concat",)
# a buffer reader's prefetch queue: 8 words, more than its credit loop (issue, read, register, queue,
# pop, credit, room: 6 clocks), so a view streams one word a clock
READ_QUEUE_AW = 3
SKID_TEMPLATE = "elementwise.v.j2"  # units whose x_TREADY is combinational from y_TREADY
FORK_SHORT_AW = 4  # a fork branch that is not a residual skip: 16 words (LUT-RAM)
# register slices on each port of the top (x in, y out): the pins, or the on-chip producer and consumer of a
# larger design, may sit far from the engines (the whole digits top's routed critical path was the output
# slice's own ready-to-data select spread over 14.6 ns of routing between the logits unit and the pins);
# a chain lets the placer cover the way in short hops
IO_SLICES = 4
JOIN_SLICE_PORT = "identity"  # the input of a two-input unit (a residual join) that gets a register slice


def supported_ops() -> tuple[str, ...]:
    """Ops a top can hold: units, GEMM engines, layout views, concat (and a final argmax, dropped)."""
    return tuple(sorted({*BUILDERS, *GEMM_OPS, *LAYOUT_OPS, *STREAM_OPS, "argmax"}))


@dataclass
class _Net:
    graph: Graph
    streams: list[dict[str, Any]] = field(default_factory=list)
    insts: list[dict[str, Any]] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)  # file name -> text
    layers: list[dict[str, Any]] = field(default_factory=list)
    interval: int = 1  # clocks per image of the slowest layer

    def stream(self, tensor: str, what: str) -> int:
        spec = self.graph.tensor(tensor)
        self.streams.append({"id": len(self.streams), "w": tdata_bits(spec.dtype.bits), "what": what,
                             "tensor": tensor})
        return len(self.streams) - 1


def _size(graph: Graph, tensor: str) -> int:
    shape = graph.tensor(tensor).shape
    return int(np.prod(shape)) if shape else 1


def _row(graph: Graph, tensor: str) -> int:
    shape = graph.tensor(tensor).shape
    return int(shape[-1]) if shape else 1


def _walk_view(walk: Walk, row: int, size: int, stop: bool) -> dict[str, Any]:
    aw = ubits(size - 1)
    return {"extents": list(walk.extents), "deltas": list(walk.deltas), "offset": walk.offset, "aw": aw,
            "steps": [d % (1 << aw) for d in walk.deltas], "cws": [ubits(e - 1) for e in walk.extents],
            "row": row, "rw": ubits(row - 1), "stop": "1'b1" if stop else "1'b0"}


def _fifo_aw(words: int) -> int:
    return max(2, math.ceil(math.log2(words + 1)))


def _hex(values: np.ndarray, w: int) -> list[str]:
    return [format(int(v) % (1 << w), "X") for v in np.asarray(values, dtype=np.int64).reshape(-1)]


def _data_roles(graph: Graph, node: Node) -> list[str]:
    opdef = get_op(node.op)
    return [r.name for r in opdef.roles if not r.param and r.name in node.inputs]


def build_top(graph: Graph, nodes: list[Node], inputs: tuple[str, ...], outputs: tuple[str, ...],
              par_of: Any, module: str, title: str) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    """``(template view, {file: module text}, layer rows)`` of the top holding ``nodes``.

    ``par_of(node)`` gives a GEMM node's multiply-accumulates per clock.
    UnsupportedError naming the node for an op without RTL, a second data
    input or output, or a layout that is not a nest of strided loops.
    """
    net = _Net(graph)
    names = {n.name for n in nodes}
    views = {t: v for t, v in layout_views(graph).items() if all(x in names for x in v.nodes)}
    compute = [n for n in nodes if n.op not in LAYOUT_OPS]
    for n in compute:
        if n.op not in supported_ops():
            raise UnsupportedError(f"{n.name}: op {n.op!r} has no RTL yet (the Verilog top takes "
                                   f"{', '.join(supported_ops())})")
    outs = list(outputs) or [compute[-1].output]
    if compute and compute[-1].op == "argmax" and compute[-1].output in outs:
        # the logits leave the top; the argmax over them is the host's
        outs = [t for t in outs if t != compute[-1].output]
        outs = outs or [compute[-1].inputs["x"]]
        compute = compute[:-1]
    if len(outs) > 1:
        raise UnsupportedError(f"the selection has {len(outs)} outputs ({', '.join(outs)}); the top has one")
    out_tensor = outs[0]
    for n in compute:
        if n.op == "argmax":
            raise UnsupportedError(f"{n.name}: argmax has no RTL yet (only a final argmax is left to the host)")
    if len(inputs) != 1:
        raise UnsupportedError(f"the selection has {len(inputs)} data inputs ({', '.join(inputs)}); the top has one")
    x = net.stream(inputs[0], f"input {inputs[0]}")
    produced = {inputs[0]: x}
    for n in compute:
        produced[n.output] = net.stream(n.output, f"node {n.name}")
    # taps: every (consumer, role) reading a source tensor, directly or through a layout walk
    taps: dict[str, list[tuple[str, Any, int, int, str]]] = {}
    wants: dict[tuple[str, str], int] = {}
    for n in compute:
        for role in _data_roles(graph, n):
            t = n.inputs[role]
            if n.op == "patch_embed" and role == "x":
                src, idx, row = t, patch_indices(graph, n), int(np.prod(graph.tensor(t).shape[:1])) * \
                    int(n.attrs["patch"]) ** 2
            elif t in views:
                src, idx, row = views[t].source, view_indices(graph, views[t]), _row(graph, t)
            else:
                src, idx, row = t, None, _row(graph, t)
            sid = net.stream(t, f"{n.name}.{role} <- {src}")
            wants[(n.name, role)] = sid
            if graph.tensor(src).const:
                if idx is not None:
                    raise UnsupportedError(f"{n.name}: input {role!r} is a layout view of a constant (no RTL)")
                vals = np.asarray(graph.constants[src], dtype=np.int64)
                if n.op != "concat":
                    vals = np.broadcast_to(vals, graph.tensor(n.output).shape)
                w = net.streams[sid]["w"]
                style = ram_style(top_memory(vals.size, w, rom=True), rom=True)
                flat = [int(v) for v in vals.reshape(-1)]
                # in block RAM: ivit_rom18 tiles of 1024 words (IVIT_ECP5), read through their output register
                tiles = rom18_tiles(flat, w) if style == "block" else None
                net.insts.append({"kind": "const", "out": sid, "what": src, "w": w, "vals": _hex(vals, w),
                                  "style": style, "tiles": tiles,
                                  "aw": ubits(vals.size - 1), "row": row, "rw": ubits(row - 1)})
                continue
            if src not in produced:
                raise UnsupportedError(f"{n.name}: input {role!r} ({src}) is produced outside the selection")
            kind = "direct" if idx is None else access_kind(idx, _size(graph, src))
            walk = None if kind in ("direct", "buffer") else counters(idx, f"{n.name}: input {role!r}")
            if kind == "buffer":
                walk = view_copy(idx, _size(graph, src), f"{n.name}: input {role!r}")
            taps.setdefault(src, []).append((kind, walk, row, sid, f"{n.name}.{role}"))
    if out_tensor not in produced:
        raise UnsupportedError(f"output {out_tensor} is not produced by a node with RTL")
    y = net.stream(out_tensor, f"output {out_tensor}")
    taps.setdefault(out_tensor, []).append(("direct", None, _row(graph, out_tensor), y, "top output"))
    for src, group in taps.items():
        _wire_source(net, src, produced[src], group)
    # rate matching: the units may take the clocks per element that the slowest layer leaves them
    net.interval = max([gemm_cycles(graph, n, par_of(n)) for n in compute if n.op in GEMM_OPS]
                       + [_size(graph, n.output) for n in compute])
    for n in compute:
        _engine(net, n, wants, produced[n.output], par_of)
    io = {"x": x, "y": y, "tdx": net.streams[x]["w"], "tdy": net.streams[y]["w"], "io_slices": IO_SLICES,
          "io_slice_widths": [net.streams[x]["w"] + 1] * IO_SLICES + [net.streams[y]["w"] + 1] * IO_SLICES,
          "in_count": _size(graph, inputs[0]), "out_count": _size(graph, out_tensor),
          "in_row": _row(graph, inputs[0]), "out_row": _row(graph, out_tensor)}
    # with IVIT_TRACE defined, every node's output stream is logged (``verify --trace``)
    trace = [produced[n.output] for n in compute]
    view = {"module": module, "title": title, "graph": graph.name, "streams": net.streams, "insts": net.insts,
            "trace": trace, "read_aw": READ_QUEUE_AW, "bram": top_blocks(net.insts),
            "logic": _plus(top_logic(len(net.streams)), slice_logic(slice_widths(net.insts) + io["io_slice_widths"])),
            **io}
    return view, net.modules, net.layers


def _wire_source(net: _Net, src: str, sid: int, group: list[tuple[str, Any, int, int, str]]) -> None:
    """Connect a source stream to its taps: straight, through a fork, filters and one shared buffer."""
    size = _size(net.graph, src)
    w = net.streams[sid]["w"]
    buffered = [g for g in group if g[0] == "buffer"]
    branches = [g for g in group if g[0] != "buffer"] + ([("buffer-group", None, 0, -1, "")] if buffered else [])
    if len(branches) > 1:
        outs = []
        for _ in branches:
            outs.append(net.stream(src, f"fork branch of {src}"))
        # a residual skip (the identity input of a requantize) holds a whole image while the other branch
        # works; with one skip, the other branches need only a short FIFO (the skip never waits on them)
        skips = [b[4].endswith(".identity") for b in branches]
        aws = [_fifo_aw(size) if skip or sum(skips) != 1 else FORK_SHORT_AW for skip in skips]
        net.insts.append({"kind": "fork", "src": sid, "outs": outs, "w": w, "aws": aws, "size": size,
                          "what": src})
    else:
        outs = [sid]
    for (kind, walk, row, tap, what), feed in zip(branches, outs, strict=True):
        if kind == "direct":
            _alias(net, feed, tap)
        elif kind == "filter":
            net.insts.append({"kind": "filter", "src": feed, "out": tap, "what": f"{what} <- {src}",
                              "walk": _walk_view(walk, row, size, True), "size": size, "sw": ubits(size - 1),
                              "w": w})
        else:
            readers = [_reader(t, f"{wh} <- {src}", copy, rw, size, w) for _, copy, rw, t, wh in buffered]
            net.insts.append({"kind": "buffer", "src": feed, "readers": readers, "w": w, "size": size,
                              "sw": ubits(size - 1), "what": src})


def _reader(out: int, what: str, copy: ViewCopy, row: int, size: int, w: int) -> dict[str, Any]:
    """A buffered view: its copy (two banks of ``copy.words``, bank b at {b, address}), the walk that
    writes it (None: every element), the walk that reads it, and the memory the plan's rule gives the
    copy (:func:`~ivit_hw.hwplan.memory.top_memory`): ``bram`` tiles or a fabric memory (None)."""
    cw = ubits(copy.words - 1)
    mem = top_memory(2 * copy.words, w)
    return {"out": out, "what": what, "words": copy.words, "cw": cw,
            "walk": _walk_view(copy.read, row, copy.words, True),
            "wwalk": None if copy.write is None else _walk_view(copy.write, 1, size, True),
            "bram": bram_tiles(w, cw + 1) if mem == "bram" else None, "memory": mem}


def _alias(net: _Net, a: int, b: int) -> None:
    """Join stream ``a`` (driven) to stream ``b`` (read by its consumer)."""
    net.insts.append({"kind": "alias", "a": a, "b": b})


def slice_widths(insts: list[dict[str, Any]]) -> list[int]:
    """``W`` of every register slice (``ivit_skid``) the template renders for ``insts``: one after each engine
    marked ``skid``, one on each join's sliced input, one after each stream filter
    (a word and its last flag), one before each whole-image buffer (a word)."""
    widths = []
    for i in insts:
        if i["kind"] in ("gemm", "unit"):
            widths += [i["w"] + 1] * bool(i["skid"]) + [i["ws"][port] + 1 for port, _, sliced in i["ins"] if sliced]
        elif i["kind"] == "filter":
            widths.append(i["w"] + 1)
        elif i["kind"] == "buffer":
            widths.append(i["w"])
    return widths


def _plus(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def _engine(net: _Net, n: Node, wants: dict[tuple[str, str], int], out: int, par_of: Any) -> None:
    graph = net.graph
    if n.op == "concat":
        shape_a = graph.tensor(n.inputs["a"]).shape
        axis = int(n.attrs.get("axis", 0)) % max(len(shape_a), 1)
        if any(d != 1 for d in shape_a[:axis]):
            raise UnsupportedError(f"{n.name}: concat along axis {axis} interleaves its inputs (no RTL yet)")
        na, nb = _size(graph, n.inputs["a"]), _size(graph, n.inputs["b"])
        net.insts.append({"kind": "concat", "node": n.name, "a": wants[(n.name, "a")], "b": wants[(n.name, "b")],
                          "na": na, "nb": nb, "cw": ubits(na + nb - 1), "out": out})
        return
    mod = module_name(n)
    if n.op in GEMM_OPS:
        g = gemm_view(graph, n, mod, par_of(n))
        net.modules[f"{mod}.v"] = render_template("gemm.v.j2", g=g)
        ins = [("a", wants[(n.name, "a" if n.op == "matmul" else "x")])]
        if n.op == "matmul":
            ins.append(("b", wants[(n.name, "b")]))
        # a register slice after the engine's queue too: the consumer (an element-wise unit, whose ready is
        # combinational from its output's) would otherwise run its ready on into the queue's pop and the
        # issue credit (a routed critical path of the block top)
        skid = True
        ff, lut = gemm_logic(g)
        net.layers.append({"node": n.name, "op": n.op, "macs": g["macs"], "parallelism": g["p"],
                           "multipliers": g["p"], "dsp": g["p"] * lane_pieces(graph, n), "bram": gemm_blocks(g),
                           "ff": ff, "lut": lut, "cycles": g["cycles"], "acc_bits": g["wacc"]})
    else:
        view = unit_view(graph, n, input_interval(net.interval, _size(graph, n.output)))
        # a stalled element-wise unit's ready is combinational from its output's; one on credit has a register
        skid = view.template == SKID_TEMPLATE and not view.u["credit"]
        net.modules[f"{mod}.v"] = render_unit(view)
        row = unit_entry(n, view, f"rtl/{mod}.v")
        if any(p.get("tuser") for p in row["ports"]["in"]):
            raise UnsupportedError(f"{n.name}: masked {n.op} has no RTL in the top yet")
        ins = [(p["name"], wants[(n.name, p["name"])]) for p in row["ports"]["in"]]
        ff, lut = unit_logic(n.op, view)
        net.layers.append({"node": n.name, "op": n.op, "macs": 0, "parallelism": 1, "multipliers": 0,
                           "dsp": lane_pieces(graph, n), "bram": unit_blocks(view), "ff": ff, "lut": lut,
                           "cycles": _size(graph, n.output) * view.u.get("ii", 1), "latency": row["latency_cycles"]})
    # an element-wise unit's ready is combinational from its output's (one stall enable for its pipeline):
    # a register slice after it keeps every ready path inside one unit. A join (two inputs) makes each
    # input's ready combinational from the other's valid: a register slice on its skip input keeps the
    # one engine's valid out of the other's read enables (the skip FIFO's block RAM)
    slices = [port for port, _ in ins if len(ins) == 2 and port == JOIN_SLICE_PORT]
    net.insts.append({"kind": "gemm" if n.op in GEMM_OPS else "unit", "node": n.name, "op": n.op, "module": mod,
                      "ins": [(port, s, port in slices) for port, s in ins], "out": out, "skid": skid,
                      "w": net.streams[out]["w"], "ws": {port: net.streams[s]["w"] for port, s in ins}})

"""The streaming HLS top (``dataflow: stream``): layers connected by ``hls::stream`` FIFOs.

Every tensor travels as one stream in the row-major order of its axes taken in ``order`` (the
natural order, except after the attention's head split and merge transposes, which only relabel
the axes: the heads of one token stay interleaved). A tensor with k readers is duplicated by a
``dup2``/``dup3`` process into k streams (no copy of the tensor); the residual's identity stream
is as deep as what arrives while its other branch works (:func:`ivit_hw.hwplan.buffers.skip_depth`).
Row ops keep a row, GEMMs their input row; the attention matmuls keep K or V whole, the patch
embedding its image. An op without a stream kernel (or a stream in an order it cannot take) runs
as an *array island*: its inputs are gathered into arrays, the array kernel runs, its output is
streamed on; the island's arrays are whole tensors in the accounting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...hwplan import Need
from ...hwplan.buffers import skip_depth
from ...ir.graph import Node
from .fit import ctype_bits, gemm_lanes
from .layer_base import Layer, Rom
from .layers import _strides, build_layer
from .names import comment_text
from .project import _Builder, _is_param, _size
from .widths import const_iv, native_type

ROW_KERNELS = {"shiftgelu": "ivit::shiftgelu_rows", "ilayernorm": "ivit::layernorm_rows",
               "ibert_layernorm": "ivit::layernorm_rows", "l1_layernorm": "ivit::layernorm_rows",
               "shiftmax": "ivit::shiftmax_rows", "argmax": "ivit::argmax_rows"}


def _natural(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def order_strides(shape: tuple[int, ...], order: tuple[int, ...]) -> list[int]:
    """Per IR axis, its stride in a stream that runs over the axes in ``order`` (outermost first)."""
    out = [0] * len(shape)
    acc = 1
    for a in reversed(order):
        out[a] = acc
        acc *= shape[a]
    return out


class StreamBuilder(_Builder):
    """Collects the streams, processes, structs and ROMs of a streaming top."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams: list[dict[str, Any]] = []
        self.extra_structs: list[dict[str, Any]] = []
        self.needs: list[Need] = []
        self.order: dict[str, tuple[int, ...]] = {}
        self.holds: dict[str, str | None] = {}
        self.stream_names: set[str] = set()

    # ------------------------------------------------------------------ streams

    def shape(self, t: str) -> tuple[int, ...]:
        return self.graph.tensor(t).shape

    def new_stream(self, t: str, cid: str, comment: str, edge: tuple[Node | None, str] | None = None,
                   ctype: str | None = None) -> str:
        ctype = ctype or self.ctype(t)
        bits = ctype_bits(ctype)
        self.streams.append({"ctype": ctype, "cid": cid, "depth": self.opts.fifo_depth, "comment": comment,
                             "tensor": t, "edge": edge, "bits": bits})
        self.stream_names.add(cid)
        return cid

    def plan_edges(self) -> None:
        """Every (reader, role) edge of every data tensor, in the order :meth:`take` pops them."""
        self.edges: dict[str, list[tuple[Node | None, str]]] = {}
        for n in self.sel.nodes:
            for role, t in n.inputs.items():
                if not _is_param(n, role) and not self.graph.tensor(t).const:
                    self.edges.setdefault(t, []).append((n, role))
        for t in self.sel.outputs:
            self.edges.setdefault(t, []).append((None, "output"))

    def publish(self, t: str, src: str, trace: bool) -> None:
        """``src`` now carries ``t``: trace it, then duplicate it for each of its readers."""
        if trace and t not in self.sel.outputs and self.opts.trace_samples > 0:
            tid = len(self.trace_ids)
            self.trace_ids[t] = tid
            self.steps[-1].update({"trace": tid, "trace_buf": src, "trace_w": self.walk(t)})
        edges = self.edges.get(t, [])
        if len(edges) <= 1:
            self.uses[t] = [src] * max(1, len(edges))
            if edges and src in self.stream_names:
                self.streams_by_cid(src)["edge"] = edges[0]
            return
        base = self.tname(t)
        outs = [self.new_stream(t, f"{base}_u{i}", f"{comment_text(t)} (reader {i})", e) for i, e in enumerate(edges)]
        size = str(_size(self.graph, t))
        rest = list(outs)
        while len(rest) > 3:  # a chain: dup2 into the first reader and a stream for the rest
            mid = self.new_stream(t, f"{base}_r{len(outs) - len(rest) + 1}", f"{comment_text(t)} (fan-out)")
            self.steps.append(self._step("ivit::dup2", [size, self.ctype(t)], [src, rest[0], mid]))
            src, rest = mid, rest[1:]
        kernel = "ivit::dup2" if len(rest) == 2 else "ivit::dup3"
        self.steps.append(self._step(kernel, [size, self.ctype(t)], [src, *rest], f"fan-out of {comment_text(t)}"))
        self.uses[t] = outs

    def streams_by_cid(self, cid: str) -> dict[str, Any]:
        return next(s for s in self.streams if s["cid"] == cid)

    def take(self, t: str) -> str:
        """The stream the next reader of ``t`` reads; a constant's ROM name for a constant."""
        if self.graph.tensor(t).const:
            return self.rom_of(t)
        return self.uses[t].pop(0)

    def rom_of(self, t: str) -> str:
        cid = self.cname(t)
        if cid not in self.roms:
            vals = np.asarray(self.graph.constants[t], dtype=np.int64)
            self.roms[cid] = Rom(cid, native_type(const_iv(vals), f"constant {t!r}"), vals.reshape(-1), t)
        return cid

    def walk(self, t: str) -> str:
        """The walk struct of ``t``'s stream order (D0..D5 and the natural strides NS0..NS5)."""
        shape, order = self.shape(t), self.order[t]
        name = f"walk_{self.tname(t)}"
        if any(s["cfg"] == name for s in self.extra_structs):
            return name
        nat = _strides(shape)
        pad = 6 - len(order)
        dims = [1] * pad + [shape[a] for a in order]
        ns = [0] * pad + [nat[a] for a in order]
        consts = [("int", f"D{i}", str(d)) for i, d in enumerate(dims)]
        consts += [("int", f"NS{i}", str(s)) for i, s in enumerate(ns)]
        consts.append(("int", "len", str(_size(self.graph, t))))
        self.extra_structs.append({"cfg": name, "base": None, "types": [], "consts": consts,
                                   "comment": f"stream order of {comment_text(t)}"})
        return name

    def natural(self, t: str, s: str) -> str:
        """``s`` (carrying ``t``) in the natural order: itself, or through a reorder buffer."""
        if self.order[t] == _natural(len(self.shape(t))):
            return s
        out = self.new_stream(t, f"{s}_nat", f"{comment_text(t)} in row-major order")
        self.steps.append(self._step("ivit::reorder_stream", [self.walk(t)], [s, out], f"reorder {comment_text(t)}"))
        self.needs.append(Need(f"{s}.reorder", "whole", _size(self.graph, t), ctype_bits(self.ctype(t)), 1))
        return out

    @staticmethod
    def _step(kernel: str, targs: list[str], args: list[str], comment: str = "") -> dict[str, Any]:
        return {"kernel": kernel, "targs": targs, "args": args, "comment": comment, "trace": None}

    # ------------------------------------------------------------------ build

    def build(self) -> None:
        g, sel = self.graph, self.sel
        self.lanes = gemm_lanes(g, sel.nodes, self.opts)
        self.plan_edges()
        self.ports = []
        for t in sel.inputs:
            port = self.pname(f"in_{t}")
            self.ports.append(self._port(t, port, "input"))
            self.order[t] = _natural(len(self.shape(t)))
            self.publish(t, port, trace=False)
        self.out_ports = {t: self.pname(f"out_{t}") for t in sel.outputs}
        for node in sel.nodes:
            self.node(node)
        for t in sel.outputs:
            port = self.out_ports[t]
            self.ports.append(self._port(t, port, "output"))
            src = self.take(t)
            if src == port:  # its producer wrote the port
                continue
            src = self.natural(t, src)
            self.steps.append(self._step("ivit::pass_stream", [str(_size(g, t)), self.ctype(t)], [src, port],
                                         f"output {comment_text(t)}"))

    def node(self, node: Node) -> None:
        g = self.graph
        par = self.lanes.get(node.name, 1)
        ins = {role: t for role, t in node.inputs.items() if not _is_param(node, role)}
        holders = {role: f"@{role}" for role in ins}
        layer = build_layer(g, node, self.lname(node.name), holders, "@out", self.cname, par,
                            self.opts.weights == "off_chip")
        self.layers.append(layer)
        for rom in layer.roms:
            self.roms.setdefault(rom.cid, rom)
        handler = getattr(self, f"_s_{node.op}", None)
        comment = f"{comment_text(node.name)}: {node.op}"
        if node.op in ROW_KERNELS:
            handler = self._s_row
        if handler is None or not handler(node, layer, ins, comment):
            self._island(node, layer, ins, comment)

    def _out(self, node: Node, order: tuple[int, ...] | None = None) -> str:
        """The stream ``node`` writes: the output port itself when that is its only reader and the
        stream leaves in row-major order (``order``: the output's order, None: natural)."""
        t = node.output
        natural = order is None or order == _natural(len(self.shape(t)))
        if natural and self.edges.get(t) == [(None, "output")]:
            return self.out_ports[t]
        return self.new_stream(t, self.tname(t), f"{node.op} {comment_text(node.name)}")

    def _emit(self, node: Node, layer: Layer, kernel: str, targs: list[str], args: list[str], comment: str,
              order: tuple[int, ...], hold: str | None) -> bool:
        layer.kernel, layer.args = kernel, list(args)
        self.steps.append(self._step(kernel, targs, args, comment))
        self.order[node.output] = order
        self.holds[node.name] = hold
        self.publish(node.output, args[-1], trace=True)
        return True

    def _args(self, layer: Layer, streams: dict[str, str], out: str) -> list[str]:
        return [streams.get(a[1:], a) if a.startswith("@") else a for a in layer.args[:-1]] + [out]

    def _row_cfg(self, layer: Layer, **consts: int) -> str:
        name = f"{layer.cfg}_row"
        self.extra_structs.append({"cfg": name, "base": layer.cfg, "types": [],
                                   "consts": [("int", k, str(v)) for k, v in consts.items()],
                                   "comment": f"{comment_text(layer.node)}: one row"})
        return name

    def _last_axis_last(self, t: str) -> bool:
        order = self.order[t]
        return not order or order[-1] == len(order) - 1

    def _row_need(self, layer: Layer, t: str, n: int, banks: int = 1) -> None:
        self.needs.append(Need(f"{layer.cfg}.{t}", "row", n, ctype_bits(self.ctype(t)), banks))

    # ------------------------------------------------------------------ op handlers

    def _s_requantize(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        c = dict(layer.consts)
        rows, cols = int(c["rows"]), int(c["cols"])
        lens = [int(c["m_len"])] + ([int(c["mid_len"])] if "identity" in ins else [])
        if any(n not in (1, cols) for n in lens) or (cols > 1 and not self._last_axis_last(ins["acc"])):
            return False
        acc = self.order[ins["acc"]]
        ident = ins.get("identity")
        over = {"rows": 1}
        if ident is None:
            kernel = "ivit::requantize_rows"
            streams = {"acc": self.take(ins["acc"])}
        elif g_const(self, ident) and int(c["id_len"]) in (1, cols):
            kernel = "ivit::requantize_const_identity_rows"
            streams = {"acc": self.take(ins["acc"]), "identity": self.rom_of(ident)}
        elif g_const(self, ident):  # a full-size constant (the position embedding): streamed from its ROM
            rom = layer.args[3] if not layer.args[3].startswith("@") else self.rom_of(ident)
            id_t = dict(layer.types)["id_t"]
            s_id = self.new_stream(ident, f"{self.tname(ident)}_s{len(self.streams)}",
                                   f"constant {comment_text(ident)}", None, id_t)  # a ROM waits: no skip depth
            self.steps.append(self._step("ivit::rom_to_stream", [str(rows * cols)], [rom, s_id],
                                         f"constant {comment_text(ident)}"))
            kernel = "ivit::requantize_identity_rows"
            over["id_len"] = cols
            streams = {"acc": self.take(ins["acc"]), "identity": s_id}
        else:
            if self.order[ident] != acc:
                return False
            kernel = "ivit::requantize_identity_rows"
            over["id_len"] = cols
            streams = {"acc": self.take(ins["acc"]), "identity": self.take(ident)}
        rc = self._row_cfg(layer, **over)
        args = self._args(layer, streams, self._out(node, acc))
        if ident is not None and kernel == "ivit::requantize_identity_rows":
            args[3] = streams["identity"]  # a broadcast constant's ROM replaced by its stream
        self._row_need(layer, ins["acc"], cols)
        self._row_need(layer, node.output, cols)
        if kernel == "ivit::requantize_identity_rows":
            self._row_need(layer, ident, cols)
        return self._emit(node, layer, kernel, [rc, str(rows)], args, comment, acc, "row")

    def _s_row(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        c = dict(layer.consts)
        x = ins["x"]
        if not self._last_axis_last(x) or (node.op == "shiftmax" and c.get("has_mask") != "0"):
            return False
        if node.op.endswith("layernorm") and len(self.shape(x)) < 1:
            return False
        rows, cols = int(c["rows"]), int(c["cols"])
        rc = self._row_cfg(layer, rows=1)
        self._row_need(layer, x, cols)
        self._row_need(layer, node.output, 1 if node.op == "argmax" else cols)
        order = self.order[x][:-1] if node.op == "argmax" else self.order[x]
        return self._emit(node, layer, ROW_KERNELS[node.op], [rc, str(rows)],
                          self._args(layer, {"x": self.take(x)}, self._out(node, order)), comment, order, "row")

    def _s_linear(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        x = ins["x"]
        if not self._last_axis_last(x):
            return False
        k = int(dict(layer.consts)["k"])
        self._row_need(layer, x, k, layer.par)
        kernel = "ivit::linear_axi_rows" if "axi" in layer.kernel else "ivit::linear_rows"
        args = self._args(layer, {"x": self.take(x)}, self._out(node, self.order[x]))
        return self._emit(node, layer, kernel, [layer.cfg], args, comment, self.order[x], "row")

    def _s_patch_embed(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        x = self.natural(ins["x"], self.take(ins["x"]))
        self.needs.append(Need(f"{layer.cfg}.x", "whole", _size(self.graph, ins["x"]), ctype_bits(self.ctype(ins["x"])),
                               layer.par))
        kernel = "ivit::patch_embed_axi_stream" if "axi" in layer.kernel else "ivit::patch_embed_stream"
        return self._emit(node, layer, kernel, [layer.cfg], self._args(layer, {"x": x}, self._out(node)), comment,
                          _natural(len(self.shape(node.output))), "whole")

    def _s_matmul(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        a, b = ins["a"], ins["b"]
        ra, rb = len(self.shape(a)), len(self.shape(b))
        if ra not in (2, 3) or rb != ra:
            return False
        oa = self.order[a]
        if oa == _natural(ra):
            tok = 0
        elif ra == 3 and oa == (1, 0, 2):
            tok = 1
        else:
            return False
        bst = order_strides(self.shape(b), self.order[b])
        bst = ([0] if rb == 2 else []) + bst
        mc = f"{layer.cfg}_mc"
        consts = [("tok", tok), ("BS0", bst[0]), ("BS1", bst[1]), ("BS2", bst[2]), ("b_len", _size(self.graph, b))]
        self.extra_structs.append({"cfg": mc, "base": None, "types": [],
                                   "consts": [("int", k, str(v)) for k, v in consts],
                                   "comment": f"{comment_text(node.name)}: stream order"})
        self.needs.append(Need(f"{layer.cfg}.b", "whole", _size(self.graph, b), ctype_bits(self.ctype(b)), layer.par))
        self._row_need(layer, a, self.shape(a)[-1], layer.par)
        streams = {"a": self.take(a), "b": self.take(b)}
        args = self._args(layer, streams, self._out(node, oa))
        return self._emit(node, layer, "ivit::matmul_stream", [layer.cfg, mc], args, comment, oa, "whole")

    def _filter(self, node: Node, layer: Layer, x: str, ax: int, lo: int, hi: int, drop: bool, comment: str) -> bool:
        order = self.order[x]
        w = f"{layer.cfg}_w"
        pad = 6 - len(order)
        shape = self.shape(x)
        consts = [(f"D{i}", d) for i, d in enumerate([1] * pad + [shape[a] for a in order])]
        consts += [("KA", pad + order.index(ax)), ("KLO", lo), ("KHI", hi)]
        self.extra_structs.append({"cfg": w, "base": None, "types": [],
                                   "consts": [("int", k, str(v)) for k, v in consts],
                                   "comment": f"{comment_text(node.name)}: the kept part of the stream"})
        out_order = tuple(a - (a > ax) for a in order if a != ax) if drop else order
        return self._emit(node, layer, "ivit::filter_stream", [w], [self.take(x), self._out(node, out_order)], comment,
                          out_order, None)

    def _s_slice(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        shape = self.shape(ins["x"])
        ax = node.attrs["axis"] % len(shape)
        start = node.attrs["start"]
        return self._filter(node, layer, ins["x"], ax, start, start + self.shape(node.output)[ax], False, comment)

    def _s_gather(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        shape = self.shape(ins["x"])
        idx = node.attrs["index"]
        if not isinstance(idx, int):
            return False
        ax = node.attrs["axis"] % len(shape)
        return self._filter(node, layer, ins["x"], ax, idx, idx + 1, True, comment)

    def _s_concat(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        out_shape = self.shape(node.output)
        ax = node.attrs["axis"] % len(out_shape)
        a, b = node.inputs["a"], node.inputs["b"]
        nat = _natural(len(out_shape))
        if any(d > 1 for d in out_shape[:ax]) or self.graph.tensor(b).const or self.order[b] != nat:
            return False
        na, nb = str(_size(self.graph, a)), str(_size(self.graph, b))
        if self.graph.tensor(a).const:
            kernel, first = "ivit::concat_rom_stream", self.rom_of(a)
        elif self.order[a] == nat:
            kernel, first = "ivit::concat_stream", self.take(a)
        else:
            return False
        return self._emit(node, layer, kernel, [na, nb], [first, self.take(b), self._out(node)], comment, nat, None)

    def _relabel(self, node: Node, layer: Layer, src: str, order: tuple[int, ...], comment: str) -> bool:
        """A layout op that moves no data: its output is its input's stream under other axis labels."""
        layer.kernel, layer.cycles, layer.loops, layer.multipliers = "(stream relabel)", 0, {}, 0
        self.steps.append(self._step("", [], [], f"{comment} (no process: the stream is relabelled)"))
        self.order[node.output] = order
        self.holds[node.name] = None
        self.publish(node.output, src, trace=True)
        return True

    def _s_transpose(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        perm = list(node.attrs["perm"])
        order = tuple(perm.index(a) for a in self.order[ins["x"]])
        return self._relabel(node, layer, self.take(ins["x"]), order, comment)

    def _s_reshape(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> bool:
        src = self.natural(ins["x"], self.take(ins["x"]))
        return self._relabel(node, layer, src, _natural(len(self.shape(node.output))), comment)

    # ------------------------------------------------------------------ the fallback

    def _island(self, node: Node, layer: Layer, ins: dict[str, str], comment: str) -> None:
        """The array kernel between stream adapters: inputs gathered into arrays, output streamed."""
        g = self.graph
        arrays = {}
        for role, t in ins.items():
            if g.tensor(t).const:
                buf = self.buffer(t, f"{self.tname(t)}_k{len(self.buffers)}", f"constant {comment_text(t)}")
                self.steps.append(self._step("ivit::rom_to_array", [str(_size(g, t))], [self.rom_of(t), buf]))
            else:
                src = self.natural(t, self.take(t))
                buf = self.buffer(t, f"{self.tname(t)}_a{len(self.buffers)}", f"{comment_text(t)} (array island)")
                self.steps.append(self._step("ivit::stream_to_array", [str(_size(g, t))], [src, buf]))
            arrays[role] = buf
        out_arr = self.buffer(node.output, f"{self.tname(node.output)}_a", f"{node.op} {comment_text(node.name)}")
        targs = [s.cfg for s in layer.sub_cfgs] or [layer.cfg]
        layer.args = self._args(layer, arrays, out_arr)  # the partition pragmas name these arrays
        self.steps.append(self._step(layer.kernel, targs, layer.args, comment))
        out = self._out(node)
        self.steps.append(self._step("ivit::array_to_stream", [str(_size(g, node.output))], [out_arr, out]))
        self.order[node.output] = _natural(len(self.shape(node.output)))
        self.holds[node.name] = "whole"
        self.publish(node.output, out, trace=True)

    # ------------------------------------------------------------------ after the build

    def finish(self) -> None:
        """Stream depths (the residual identity edges from the branch they skip), the partition
        pragmas of the island arrays and ROMs, the streams' accounting."""
        for s in self.streams:
            edge = s["edge"]
            if edge is not None and edge[0] is not None and edge[0].op == "requantize" and edge[1] == "identity":
                reader = edge[0]
                s["depth"] = max(s["depth"], skip_depth(self.graph, s["tensor"], reader.inputs["acc"], self.holds))
        super().finish()
        self.pragmas = [p for p in self.pragmas if p.split()[1].removeprefix("variable=") not in self.stream_names]
        self.needs += [Need(s["cid"], "stream", s["depth"], s["bits"], 1) for s in self.streams]


def g_const(b: StreamBuilder, t: str) -> bool:
    return bool(b.graph.tensor(t).const)


__all__ = ["StreamBuilder", "order_strides"]

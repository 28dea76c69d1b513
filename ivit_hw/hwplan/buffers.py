"""The buffers of the streaming architecture, per tensor edge and per layer.

- ``stream``: one FIFO per (tensor, reader) edge, in token/row order (row-major order of the IR
  shape). A tensor read by k layers is duplicated by a process that reads it once and writes k
  streams; no tensor is copied. Depth ``fifo_depth``, except a residual's identity edge, which must
  hold what arrives while the other branch works: the whole tensor when that branch holds a
  ``whole`` buffer (attention), else one row per row-buffered layer on it plus one.
- ``row``: a layer that needs a whole row before it can answer (a GEMM's input row of K, a row
  op's row) keeps two rows (ping-pong: the next row fills while this one is used).
- ``whole``: only where the dataflow needs the whole tensor: the second operand of an attention
  matmul (K and V, every head, since the heads of one token arrive together), the CHW image of the
  patch embedding (channel-major order), the input of a transpose that really reorders (outside the
  attention, whose head <-> token transposes are the heads' interleaved stream order), the second
  half of a concat on a non-leading axis. Two copies (ping-pong), so one image fills while the last
  is read.
- ``weights``: every constant once, in ``banks`` = the reading layer's lanes (cyclic), on chip, or
  in DRAM (``weights: off_chip``: the GEMM weight matrices; biases and requantize constants stay).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.registry import get_op
from ..ir.types import Interval, IntType
from .costs import GEMM_OPS, LAYOUT_OPS, ROW_OPS, size_of

PINGPONG = 2
ATTN_OPS = ("matmul", "log_attn_v")


@dataclass(frozen=True)
class Need:
    """A buffer before memory placement: tensor (label), kind, depth, width, banks."""

    tensor: str
    kind: str
    depth: int
    width: int
    banks: int
    off_chip: bool = False


def tensor_bits(graph: Graph, name: str) -> int:
    """Bits of one element: the narrowest type of the proven range (of the values, for constants)."""
    spec = graph.tensor(name)
    if spec.const and name in graph.constants:
        vals = np.asarray(graph.constants[name], dtype=np.int64)
        iv = Interval(int(vals.min()), int(vals.max())) if vals.size else Interval(0, 0)
        return IntType.fitting(iv).bits
    if spec.range is not None:
        return IntType.fitting(spec.range).bits
    return spec.dtype.bits


def _readers(graph: Graph) -> dict[str, list[tuple[Node | None, str]]]:
    """Data tensor -> its (reader, role) edges in graph order (None, "output" for a graph output)."""
    out: dict[str, list[tuple[Node | None, str]]] = {}
    for n in graph.nodes:
        for role, t in n.inputs.items():
            if not graph.tensor(t).const and not get_op(n.op).role(role).param:
                out.setdefault(t, []).append((n, role))
    for t in graph.outputs:
        out.setdefault(t, []).append((None, "output"))
    return out


def _reorders(graph: Graph, node: Node) -> bool:
    """Whether a transpose changes the element order (moves an axis of size > 1 past another)."""
    shape = graph.tensor(node.inputs["x"]).shape
    kept = [p for p in node.attrs["perm"] if shape[p] > 1]
    return kept != sorted(kept)


def attention_layout(graph: Graph) -> set[str]:
    """Layout nodes between the attention's GEMMs and its matmuls (head split and merge): their
    reorders are the interleaved order of the heads in the stream, no buffer."""
    producer = {n.output: n for n in graph.nodes}
    readers = _readers(graph)
    found: set[str] = set()

    def feeds_attention(node: Node) -> bool:
        for r, _ in readers.get(node.output, []):
            if r is None:
                return False
            if r.op in ATTN_OPS:
                continue
            if r.op not in LAYOUT_OPS or not feeds_attention(r):
                return False
        return True

    def fed_by_attention(node: Node) -> bool:
        for t in node.inputs.values():
            p = producer.get(t)
            if p is None:
                continue
            if p.op in ATTN_OPS or ((p.op in LAYOUT_OPS or p.op == "requantize") and fed_by_attention(p)):
                return True
        return False

    for n in graph.nodes:
        if n.op in LAYOUT_OPS and (feeds_attention(n) or fed_by_attention(n)):
            found.add(n.name)
    return found


def _path_nodes(graph: Graph, src: str, dst: str) -> list[Node]:
    """Nodes on some path from tensor ``src`` to tensor ``dst``."""
    fwd, tensors = set(), {src}
    for n in graph.nodes:
        if any(t in tensors for t in n.inputs.values()):
            fwd.add(n.name)
            tensors.add(n.output)
    back, wanted = set(), {dst}
    for n in reversed(graph.nodes):
        if n.output in wanted:
            back.add(n.name)
            wanted.update(n.inputs.values())
    return [n for n in graph.nodes if n.name in fwd and n.name in back]


def _row_len(shape: tuple[int, ...]) -> int:
    return shape[-1] if shape else 1


def node_buffers(graph: Graph, node: Node, lanes: int, attn_layout: set[str]) -> list[Need]:
    """The row and whole buffers ``node`` keeps (its input streams are counted per edge)."""
    op, ins = node.op, node.inputs
    if op == "linear":
        return [Need(f"{ins['x']}@{node.name}.x", "row", PINGPONG * graph.tensor(ins["weight"]).shape[1],
                     tensor_bits(graph, ins["x"]), lanes)]
    if op == "patch_embed":
        return [Need(f"{ins['x']}@{node.name}.x", "whole", PINGPONG * size_of(graph.tensor(ins["x"]).shape),
                     tensor_bits(graph, ins["x"]), lanes)]
    if op in ATTN_OPS:
        (ra, a), (rb, b) = (("a", ins["a"]), ("b", ins["b"])) if op == "matmul" else (("code", ins["code"]),
                                                                                    ("v", ins["v"]))
        return [Need(f"{a}@{node.name}.{ra}", "row", PINGPONG * _row_len(graph.tensor(a).shape),
                     tensor_bits(graph, a), lanes),
                Need(f"{b}@{node.name}.{rb}", "whole", PINGPONG * size_of(graph.tensor(b).shape),
                     tensor_bits(graph, b), lanes)]
    if op in ROW_OPS:
        x = ins["x"]
        return [Need(f"{x}@{node.name}.x", "row", PINGPONG * _row_len(graph.tensor(x).shape),
                     tensor_bits(graph, x), lanes)]
    if op == "transpose" and node.name not in attn_layout and _reorders(graph, node):
        x = ins["x"]
        return [Need(f"{x}@{node.name}.x", "whole", PINGPONG * size_of(graph.tensor(x).shape),
                     tensor_bits(graph, x), 1)]
    if op == "concat":
        axis = node.attrs["axis"] % max(1, len(graph.tensor(node.output).shape))
        lead = next((i for i, d in enumerate(graph.tensor(node.output).shape) if d > 1), 0)
        b = ins["b"]
        if axis > lead and not graph.tensor(b).const:
            return [Need(f"{b}@{node.name}.b", "whole", PINGPONG * size_of(graph.tensor(b).shape),
                         tensor_bits(graph, b), 1)]
    return []


def stream_buffers(graph: Graph, fifo_depth: int, lanes: dict[str, int],
                   kinds: dict[str, list[Need]]) -> list[Need]:
    """One FIFO per (data tensor, reader) edge; a residual identity edge as deep as its branch needs."""
    out: list[Need] = []
    for t, readers in _readers(graph).items():
        bits = tensor_bits(graph, t)
        for r, role in readers:
            label = (f"{t}->{r.name}.{role}" if r is not None else f"{t}->output") if len(readers) > 1 else t
            width = bits * (lanes.get(r.name, 1) if r is not None and r.op not in GEMM_OPS else 1)
            depth = fifo_depth
            if r is not None and r.op == "requantize" and role == "identity":
                depth = max(fifo_depth, _skip_depth(graph, t, r.inputs["acc"], kinds))
            out.append(Need(label, "stream", depth, width, 1))
    return out


def _skip_depth(graph: Graph, identity: str, acc: str, kinds: dict[str, list[Need]]) -> int:
    holds = {name: ("whole" if any(b.kind == "whole" for b in needs) else
                    "row" if any(b.kind == "row" for b in needs) else None) for name, needs in kinds.items()}
    return skip_depth(graph, identity, acc, holds)


def skip_depth(graph: Graph, identity: str, acc: str, holds: dict[str, str | None]) -> int:
    """Words a residual's identity FIFO must hold while the other branch (the nodes on a path from
    ``identity`` to ``acc``) works: the whole tensor when one of them holds a ``whole`` buffer
    (``holds[node]``), else one row per row-buffered node on the path plus one."""
    shape = graph.tensor(identity).shape
    path = _path_nodes(graph, identity, acc)
    if any(holds.get(n.name) == "whole" for n in path):
        return size_of(shape)
    rows = 1 + sum(1 for n in path if holds.get(n.name) == "row")
    return min(size_of(shape), rows * _row_len(shape))


def weight_buffers(graph: Graph, node: Node, lanes: int, off_chip: bool, seen: set[str]) -> list[Need]:
    """Every constant ``node`` reads that no earlier node read: banks = lanes where it has more
    than one value; the GEMM weight matrix in DRAM when ``off_chip``."""
    out = []
    for role, t in node.inputs.items():
        if not graph.tensor(t).const or t in seen:
            continue
        seen.add(t)
        n = size_of(graph.tensor(t).shape)
        dram = off_chip and node.op in GEMM_OPS and role == "weight"
        out.append(Need(t, "weights", n, tensor_bits(graph, t), min(lanes, n) if n > 1 else 1, dram))
    return out


__all__ = ["PINGPONG", "Need", "attention_layout", "node_buffers", "skip_depth", "stream_buffers", "tensor_bits",
           "weight_buffers"]

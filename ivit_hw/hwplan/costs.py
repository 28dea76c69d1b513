"""The work of one IR node in the streaming architecture: MACs, elements, lanes and multipliers.

A GEMM (``linear``, ``matmul``, ``patch_embed``, ``log_attn_v``) runs ``P`` multiply-adds per clock
on its reduction axis: ``cycles = outputs * ceil(K / P)``, ``P`` multipliers (Log-Int-Softmax's
attn @ v shifts and adds: none); attn @ v (``matmul`` without ``transpose_b``, ``log_attn_v``)
splits its output row of N instead: ``cycles = outputs / N * ceil(N / P) * K``. Every other op
handles ``lanes`` elements per clock of its row (the last axis): ``cycles = rows * ceil(cols / lanes)``,
each pass of a row op (max, exp and sum, normalise) being its own pipelined stage, so the passes of
consecutive rows overlap and a pipelined divider's latency is paid once, not per row. Multipliers
per lane are :data:`MULT_PER_LANE`: one abstract multiplier per product, whatever its widths (the HLS
plan's count). A renderer that knows its operand widths passes exact hard-multiplier counts instead
(``plan_layers(..., pieces=...)``; the Verilog top counts MULT18X18D with :func:`.dsp.dsp_pieces`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Node

GEMM_OPS = ("linear", "matmul", "patch_embed", "log_attn_v")
ROW_OPS = ("shiftmax", "shiftgelu", "ibert_softmax", "log_int_softmax", "ilayernorm", "ibert_layernorm",
           "l1_layernorm")
LAYOUT_OPS = ("reshape", "transpose", "slice", "gather", "concat")
MULT_PER_LANE = {
    "linear": 1, "matmul": 1, "patch_embed": 1, "log_attn_v": 0,
    "requantize": 1,  # 2 with an identity (residual) input
    "shiftmax": 1, "shiftgelu": 2, "ibert_softmax": 2, "log_int_softmax": 2, "ibert_gelu": 2,
    "ilayernorm": 2, "ibert_layernorm": 2, "l1_layernorm": 2,
}


def size_of(shape: tuple[int, ...]) -> int:
    """Elements of a per-sample shape."""
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


@dataclass(frozen=True)
class Work:
    """What a node does per image: ``macs`` (GEMMs), ``rows`` x ``cols`` lane-parallel work
    (for a GEMM: outputs x K), the multipliers each lane costs."""

    node: str
    op: str
    macs: int
    rows: int
    cols: int
    mult_per_lane: int

    @property
    def gemm(self) -> bool:
        return self.op in GEMM_OPS

    def cycles(self, lanes: int) -> int:
        """Cycles per image at ``lanes`` multiply-adds (or elements) per clock."""
        return self.rows * -(-self.cols // max(1, min(lanes, self.cols)))



def _shape(graph: Graph, node: Node, role: str) -> tuple[int, ...]:
    return graph.tensor(node.inputs[role]).shape


def node_work(graph: Graph, node: Node) -> Work:
    """The :class:`Work` of ``node``."""
    op, out = node.op, graph.tensor(node.output).shape
    mult = MULT_PER_LANE.get(op, 0)
    if op == "requantize" and "identity" in node.inputs:
        mult = 2
    if op == "linear":
        n, k = graph.tensor(node.inputs["weight"]).shape[:2]
        outputs = size_of(out)
    elif op == "patch_embed":
        w = graph.tensor(node.inputs["weight"]).shape
        k, outputs = size_of(w[1:]), size_of(out)
    elif op == "matmul" and node.attrs.get("transpose_b"):
        k, outputs = _shape(graph, node, "a")[-1], size_of(out)
    elif op in ("matmul", "log_attn_v"):
        # attn @ v: the lanes split the output row (N), each lane summing K terms (b's rows are N
        # apart, so lanes on K would read one memory bank): cycles = outputs / N x ceil(N / P) x K
        k = _shape(graph, node, "a" if op == "matmul" else "code")[-1]
        n = out[-1] if out else 1
        return Work(node.name, op, size_of(out) * k, size_of(out) // n * k, n, mult)
    else:
        src = _main_input(graph, node)
        total = size_of(src) if op in ("slice", "gather", "reduce_sum", "argmax") else size_of(out)
        shape = src if op in ("slice", "gather", "reduce_sum", "argmax") else out
        cols = shape[-1] if shape else 1
        return Work(node.name, op, 0, total // max(cols, 1), cols, mult)
    return Work(node.name, op, outputs * k, outputs, k, mult)


def _main_input(graph: Graph, node: Node) -> tuple[int, ...]:
    for role in ("x", "acc", "a"):
        if role in node.inputs:
            return graph.tensor(node.inputs[role]).shape
    return graph.tensor(node.output).shape


__all__ = ["GEMM_OPS", "LAYOUT_OPS", "MULT_PER_LANE", "ROW_OPS", "Work", "node_work", "size_of"]

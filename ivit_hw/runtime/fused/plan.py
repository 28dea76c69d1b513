"""Group the nodes of an integer graph into fused steps (pure IR: no torch, no triton).

A step is one kernel launch of the fused executor:

- ``gemm``: ``linear`` or ``patch_embed`` followed by the ``requantize`` of its
  accumulator (bias, per-channel m/e, optional residual identity): the
  requantize runs in the GEMM's epilogue.
- ``attention``: ``matmul(q, k^T)`` -> ``requantize`` -> ``shiftmax`` ->
  ``matmul(attn, v)`` -> ``requantize`` (scalar multipliers, no mask).
- ``layernorm``: ``ilayernorm`` (Newton sqrt) -> ``requantize``.
- ``gelu``: ``shiftgelu`` -> ``requantize`` (scalar multiplier).
- ``op``: any other node, alone.

A chain is fused only when each intermediate has exactly one consumer and is
not a graph output, so fusing never changes what the graph computes. The
numbers each kernel needs to stay exact (whether ``acc * m`` can leave int64,
the GEMM's int32 partial sums) come from the proven ranges of range analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...ir.analysis import infer_ranges
from ...ir.graph import Graph, Node
from ...ir.types import IRError

INT64_SAFE = 2**62
INT32_PARTIAL = 2**31
SPLIT_MIN_SHIFT = 17  # the split product needs e > 16
ATTN_SPLIT_MAX = 2**15 - 1  # the largest Shiftmax output the fused attn @ v splits into two int8 halves
LUT_MAX_SPAN = 4096  # widest per-row spread tabulated by the torch ShiftGELU
STEP_KINDS = ("gemm", "attention", "layernorm", "gelu", "op")


@dataclass
class Step:
    """One fused launch: the nodes it replaces, and what it reads and writes."""

    kind: str
    nodes: list[Node]
    output: str
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The name of the last node (the step's output node)."""
        return self.nodes[-1].name


def _max_abs(graph: Graph, tensor: str) -> int:
    """max |value| of a tensor from its proven range (or its constant values)."""
    if tensor in graph.constants:
        v = np.asarray(graph.constants[tensor])
        return int(np.abs(v.astype(np.int64)).max()) if v.size else 0
    rng = graph.tensor(tensor).range
    if rng is None:
        raise IRError(f"tensor {tensor!r} has no proven range; run range analysis first")
    return max(-rng.lo, rng.hi)


def _coef_mul(x: int) -> int:
    """ShiftGELU's shift form of 1.702 x (monotone, so it maps range ends to range ends)."""
    return x + (x >> 1) + (x >> 3) + (x >> 4)


def _consumers(graph: Graph) -> dict[str, list[Node]]:
    uses: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for t in node.inputs.values():
            uses.setdefault(t, []).append(node)
    return uses


def _is_scalar(graph: Graph, tensor: str) -> bool:
    return tensor in graph.constants and np.asarray(graph.constants[tensor]).size == 1


def _needs_split(graph: Graph, acc: str, m: str, e: str, where: str) -> bool:
    """Whether ``acc * m`` may leave int64 (then the split product, which needs every e > 16)."""
    if _max_abs(graph, acc) * _max_abs(graph, m) < INT64_SAFE:
        return False
    if int(np.asarray(graph.constants[e]).min()) < SPLIT_MIN_SHIFT:
        raise IRError(f"node {where!r}: acc * m may exceed int64 and a shift is below {SPLIT_MIN_SHIFT}")
    return True


def requant_info(graph: Graph, rq: Node) -> dict:
    """What a fused epilogue needs from a requantize node (names, widths, split flags)."""
    ins = rq.inputs
    info = {"m": ins["m"], "e": ins["e"], "out_bits": rq.attrs["out_bits"], "rounding": rq.attrs["rounding"],
            "split": _needs_split(graph, ins["acc"], ins["m"], ins["e"], rq.name), "identity": ins.get("identity")}
    if info["identity"] is not None:
        info.update(m_id=ins["m_id"], e_id=ins["e_id"],
                    split_id=_needs_split(graph, ins["identity"], ins["m_id"], ins["e_id"], rq.name))
    return info


class _Matcher:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.uses = _consumers(graph)
        self.outputs = set(graph.outputs)

    def sole_consumer(self, node: Node, op: str, role: str) -> Node | None:
        """The only consumer of ``node``'s output when it is an ``op`` reading it as ``role``."""
        uses = self.uses.get(node.output, [])
        if node.output in self.outputs or len(uses) != 1:
            return None
        nxt = uses[0]
        if nxt.op != op or nxt.inputs.get(role) != node.output:
            return None
        return nxt

    def gemm(self, node: Node) -> Step | None:
        g = self.graph
        if node.op not in ("linear", "patch_embed"):
            return None
        rq = self.sole_consumer(node, "requantize", "acc")
        if rq is None or rq.inputs.get("identity") == node.output:
            return None
        x = node.inputs["x"]
        xt = g.tensor(x)
        w = np.asarray(g.constants.get(node.inputs["weight"], np.zeros(0)))
        if node.inputs["weight"] not in g.constants or (w.size and np.abs(w.astype(np.int64)).max() > 127):
            return None
        rng = xt.range
        if rng is None or not (-128 <= rng.lo and rng.hi <= 127 or 0 <= rng.lo and rng.hi <= 255):
            return None
        k = int(np.prod(w.shape[1:]))
        if 128 * 128 * k >= INT32_PARTIAL:
            return None
        info = requant_info(g, rq)
        info.update(x=x, weight=node.inputs["weight"], bias=node.inputs.get("bias"),
                    offset=128 if rng.lo >= 0 and rng.hi > 127 else 0,
                    patch=node.attrs.get("patch"))
        return Step("gemm", [node, rq], rq.output, info)

    def attention(self, node: Node) -> Step | None:
        g = self.graph
        if node.op != "matmul" or not node.attrs["transpose_b"]:
            return None
        rq1 = self.sole_consumer(node, "requantize", "acc")
        sm = rq1 and self.sole_consumer(rq1, "shiftmax", "x")
        mm2 = sm and self.sole_consumer(sm, "matmul", "a")
        rq2 = mm2 and self.sole_consumer(mm2, "requantize", "acc")
        if rq2 is None or mm2.attrs["transpose_b"] or "mask" in sm.inputs:
            return None
        if "identity" in rq1.inputs or "identity" in rq2.inputs:
            return None
        if not all(_is_scalar(g, r.inputs[k]) for r in (rq1, rq2) for k in ("m", "e")):
            return None
        shape = g.tensor(node.inputs["a"]).shape
        if len(shape) != 3 or shape[1] > 1024 or sm.attrs["out_bits"] > 16 or rq1.attrs["out_bits"] > 8:
            return None
        if rq1.attrs["rounding"] != rq2.attrs["rounding"]:
            return None
        y = g.tensor(sm.output).range  # attn @ v splits y into int8 halves (y < 2^15) or takes |y| <= 128
        if y is None or y.lo < 0 or y.hi > (ATTN_SPLIT_MAX if sm.attrs["out_bits"] > 8 else 128):
            return None  # e.g. a clamped Shiftmax sum (|x0| * 2^n > 2^31): the nodes run one by one
        for t in (node.inputs["a"], node.inputs["b"], mm2.inputs["b"]):
            rng = g.tensor(t).range
            if rng is None or rng.lo < -128 or rng.hi > 127:
                return None
        i1, i2 = requant_info(g, rq1), requant_info(g, rq2)
        if i1["split"] or i2["split"]:
            return None
        c = g.constants
        info = {"q": node.inputs["a"], "k": node.inputs["b"], "v": mm2.inputs["b"],
                "scores_m": int(c[i1["m"]].reshape(-1)[0]), "scores_e": int(c[i1["e"]].reshape(-1)[0]),
                "scores_bits": i1["out_bits"], "x0": sm.attrs["x0"], "n": sm.attrs["n"],
                "out_bits": sm.attrs["out_bits"], "out_m": int(c[i2["m"]].reshape(-1)[0]),
                "out_e": int(c[i2["e"]].reshape(-1)[0]), "o_bits": i2["out_bits"], "rounding": i1["rounding"]}
        return Step("attention", [node, rq1, sm, mm2, rq2], rq2.output, info)

    def layernorm(self, node: Node) -> Step | None:
        if node.op != "ilayernorm" or node.attrs["sqrt"] != "iter":
            return None
        rq = self.sole_consumer(node, "requantize", "acc")
        if rq is None or "identity" in rq.inputs:
            return None
        info = requant_info(self.graph, rq)
        info.update(x=node.inputs["x"], bias_int=node.inputs["bias_int"], iters=node.attrs["iters"],
                    k0=node.attrs["k0"])
        return Step("layernorm", [node, rq], rq.output, info)

    def gelu(self, node: Node) -> Step | None:
        g = self.graph
        if node.op != "shiftgelu":
            return None
        rq = self.sole_consumer(node, "requantize", "acc")
        if rq is None or "identity" in rq.inputs:
            return None
        if not (_is_scalar(g, rq.inputs["m"]) and _is_scalar(g, rq.inputs["e"])):
            return None
        info = requant_info(g, rq)
        if info["split"]:
            return None
        c = g.constants
        rng = g.tensor(node.inputs["x"]).range
        lo, hi = (rng.lo, rng.hi) if node.attrs["coef"] == "scale" else (_coef_mul(rng.lo), _coef_mul(rng.hi))
        info.update(x=node.inputs["x"], x0=node.attrs["x0"], n=node.attrs["n"], coef=node.attrs["coef"],
                    span=hi - lo if hi - lo <= LUT_MAX_SPAN else 0,
                    m_val=int(c[info["m"]].reshape(-1)[0]), e_val=int(c[info["e"]].reshape(-1)[0]))
        return Step("gelu", [node, rq], rq.output, info)


def build_plan(graph: Graph, fuse: bool = True) -> list[Step]:
    """The graph as a list of steps in execution order (``fuse=False``: one ``op`` step per node)."""
    if any(graph.tensor(t).range is None for t in graph.tensors if t not in graph.constants):
        graph = infer_ranges(graph)
    matcher = _Matcher(graph)
    done: set[str] = set()
    steps: list[Step] = []
    for node in graph.nodes:
        if node.name in done:
            continue
        step = None
        if fuse:
            for find in (matcher.attention, matcher.gemm, matcher.layernorm, matcher.gelu):
                step = find(node)
                if step is not None:
                    break
        if step is None:
            step = Step("op", [node], node.output)
        done.update(n.name for n in step.nodes)
        steps.append(step)
    return _ordered(graph, steps)


def _ordered(graph: Graph, steps: list[Step]) -> list[Step]:
    """Steps sorted so every input is produced before use (a fused chain runs at its last node)."""
    produced = set(graph.inputs) | set(graph.constants)
    pending = list(steps)
    out: list[Step] = []
    while pending:
        for i, step in enumerate(pending):
            inner = {n.output for n in step.nodes}
            needs = {t for n in step.nodes for t in n.inputs.values()} - inner
            if needs <= produced:
                out.append(pending.pop(i))
                produced |= inner
                break
        else:
            raise IRError(f"graph {graph.name!r}: fused steps cannot be ordered (at {pending[0].name!r})")
    return out


def plan_summary(steps: list[Step]) -> dict[str, int]:
    """How many steps of each kind (for reports)."""
    counts = {k: 0 for k in STEP_KINDS}
    for s in steps:
        counts[s.kind] += 1
    return counts

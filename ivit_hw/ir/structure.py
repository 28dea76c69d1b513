"""The structure of a graph, as renderers need it, found from the dataflow and
the registry (op families, roles), never from node or tensor names.

- :func:`consumers`: which nodes read each tensor.
- :func:`blocks`: the nodes grouped into ``embed``, ``attention``, ``mlp``,
  ``residual`` and ``head`` blocks. A residual merge is a node with two data
  inputs where one (the *skip*) is a tensor read elsewhere too (the *fork*)
  and the other depends on that other read: the nodes between fork and merge
  are the *branch*, an ``attention`` block when it holds a softmax-family op,
  ``mlp`` when it holds a gelu-family op (``residual`` otherwise); the merge
  node is a ``residual`` block of its own with inputs (branch output, skip).
  What comes before the first branch is ``embed``, after the last merge ``head``.
- :func:`layout_views`: every chain of layout ops (reshape, transpose, slice,
  gather) collapsed into one strided view of its source tensor, and recognised
  as a head split (``[n, C] -> [heads, n, head_dim]``) or head merge (the
  inverse) by its strides, so a backend addresses memory instead of replaying
  the chain.

Backend-neutral: everything is keyed by node and tensor names of the graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from .graph import Graph, Node
from .registry import get_op

BLOCK_KINDS = ("embed", "attention", "mlp", "residual", "head")
_UNARY_LAYOUT = ("reshape", "transpose", "slice", "gather")


@dataclass(frozen=True)
class Block:
    """A group of consecutive nodes. ``inputs``: non-constant tensors read from outside the
    block (for a ``residual`` merge: the branch output, then the skip); ``outputs``: tensors
    it writes that are read outside it or are graph outputs."""

    name: str
    kind: str
    nodes: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class LayoutView:
    """``target`` as a strided view of ``source`` (per sample, row-major flat indices).

    ``mode="gather"``: ``target[i] = source.flat[offset + sum_k i_k * strides[k]]``;
    ``mode="scatter"``: ``target.flat[offset + sum_k j_k * strides[k]] = source[j]``
    (a permutation whose inverse is not a plain view, such as the head merge);
    ``mode="index"``: neither (offset -1, no strides): replay the chain.
    ``kind``: ``head_split`` (target ``[heads, tokens, head_dim]`` from columns of a
    ``[tokens, C]`` source), ``head_merge`` (source ``[heads, tokens, head_dim]`` into
    ``[tokens, heads * head_dim]``) or ``view``. ``nodes``: the layout nodes it replaces.
    """

    target: str
    source: str
    nodes: tuple[str, ...]
    mode: str
    offset: int
    strides: tuple[int, ...]
    kind: str = "view"
    heads: int | None = None
    tokens: int | None = None
    head_dim: int | None = None


def consumers(graph: Graph) -> dict[str, list[str]]:
    """Every tensor of ``graph`` -> the names of the nodes reading it, in execution order."""
    out: dict[str, list[str]] = {name: [] for name in graph.tensors}
    for node in graph.nodes:
        for tname in node.inputs.values():
            if node.name not in out[tname]:
                out[tname].append(node.name)
    return out


class _Flow:
    """Producer and reader indices of a graph, with reachability helpers."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.index = {n.name: i for i, n in enumerate(graph.nodes)}
        self.producer = {n.output: i for i, n in enumerate(graph.nodes)}
        self.readers: dict[str, list[int]] = {}
        for i, n in enumerate(graph.nodes):
            for t in set(n.inputs.values()):
                self.readers.setdefault(t, []).append(i)

    def data_inputs(self, node: Node) -> list[str]:
        opdef = get_op(node.op)
        return [t for r, t in node.inputs.items() if not opdef.role(r).param and not self.g.tensors[t].const]

    def ancestors(self, i: int) -> set[int]:
        seen, todo = set(), [i]
        while todo:
            for t in self.data_inputs(self.g.nodes[todo.pop()]):
                j = self.producer.get(t)
                if j is not None and j not in seen:
                    seen.add(j)
                    todo.append(j)
        return seen

    def descendants(self, tensor: str) -> set[int]:
        seen, todo = set(), [tensor]
        while todo:
            for j in self.readers.get(todo.pop(), []):
                if j not in seen:
                    seen.add(j)
                    todo.append(self.g.nodes[j].output)
        return seen


def _merges(flow: _Flow) -> list[tuple[int, str, str, set[int]]]:
    """Residual merges in order: (merge index, branch output, skip tensor, branch node indices)."""
    found = []
    for i, node in enumerate(flow.g.nodes):
        ins = flow.data_inputs(node)
        if len(ins) != 2:
            continue
        for skip, other in (ins[::-1], ins):
            if len(flow.readers.get(skip, [])) < 2 or other not in flow.producer:
                continue
            branch = flow.descendants(skip) & flow.ancestors(i)
            if flow.producer[other] in branch:
                found.append((i, other, skip, branch))
                break
    return found


def _branch_kind(graph: Graph, nodes: Iterable[int]) -> str:
    families = {get_op(graph.nodes[i].op).family for i in nodes}
    if "softmax" in families:
        return "attention"
    return "mlp" if "gelu" in families else "residual"


def _block(flow: _Flow, name: str, kind: str, members: list[int], first_inputs: tuple[str, ...] = ()) -> Block:
    g = flow.g
    inside = set(members)
    written = {g.nodes[i].output for i in members}
    inputs = list(first_inputs)
    for i in members:
        for t in flow.data_inputs(g.nodes[i]):
            if t not in written and t not in inputs:
                inputs.append(t)
    outputs = [t for t in (g.nodes[i].output for i in members)
               if t in g.outputs or any(j not in inside for j in flow.readers.get(t, []))]
    return Block(name, kind, tuple(g.nodes[i].name for i in members), tuple(inputs), tuple(outputs))


def blocks(graph: Graph) -> tuple[Block, ...]:
    """The nodes of ``graph`` grouped into blocks, in execution order (see the module docstring).

    Every node is in exactly one block. A node outside every branch between
    two merges joins the next block; a graph without residual merges is one
    ``embed`` block.
    """
    flow = _Flow(graph)
    merges = _merges(flow)
    if not merges:
        return (_block(flow, "embed", "embed", list(range(len(graph.nodes)))),) if graph.nodes else ()
    owner: dict[int, int] = {}  # node index -> position in ``plan``
    plan: list[tuple[str, list[int], tuple[str, ...]]] = []
    for i, branch_out, skip, branch in merges:
        members = sorted(j for j in branch if j not in owner)
        for j in members:
            owner[j] = len(plan)
        plan.append((_branch_kind(graph, members), members, ()))
        owner[i] = len(plan)
        plan.append(("residual", [i], (branch_out, skip)))
    last, first = max(owner), min(owner)
    embed = [j for j in range(len(graph.nodes)) if j < first and j not in owner]
    head = [j for j in range(len(graph.nodes)) if j > last and j not in owner]
    leftovers = [j for j in range(len(graph.nodes)) if j not in owner and first < j < last]
    for j in leftovers:  # joins the block of the next owned node
        k = min(owner[o] for o in owner if o > j)
        plan[k][1].append(j)
        plan[k][1].sort()
    out, counts = [], dict.fromkeys(BLOCK_KINDS, 0)
    if embed:
        out.append(_block(flow, "embed", "embed", embed))
    for kind, members, first_inputs in plan:
        out.append(_block(flow, f"{kind}.{counts[kind]}", kind, members, first_inputs))
        counts[kind] += 1
    if head:
        out.append(_block(flow, "head", "head", head))
    return tuple(out)


# ------------------------------------------------------------------ layout --


def apply_layout(node: Node, idx: np.ndarray) -> np.ndarray:
    """Apply one layout node (reshape, transpose, slice, gather) to a per-sample array of source indices."""
    a = node.attrs
    if node.op == "reshape":
        return idx.reshape(a["shape"])
    if node.op == "transpose":
        return idx.transpose(a["perm"])
    if node.op == "slice":
        return np.take(idx, np.arange(a["start"], a["stop"]), axis=a["axis"])
    return np.take(idx, a["index"], axis=a["axis"])


def _affine(idx: np.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """(offset, strides) when ``idx[i] == offset + i . strides`` everywhere, else None."""
    if idx.size == 0:
        return None
    offset = int(idx.reshape(-1)[0])
    strides = []
    for k, n in enumerate(idx.shape):
        step = [0] * idx.ndim
        step[k] = 1 if n > 1 else 0
        strides.append(int(idx[tuple(step)]) - offset if n > 1 else 0)
    grids = np.indices(idx.shape, dtype=np.int64) if idx.ndim else np.zeros((0,), dtype=np.int64)
    want = offset + sum((grids[k] * s for k, s in enumerate(strides)), np.zeros(idx.shape, dtype=np.int64))
    return (offset, tuple(strides)) if np.array_equal(idx, want) else None


def _classify(view: LayoutView, src_shape: tuple[int, ...], dst_shape: tuple[int, ...]) -> LayoutView:
    if view.mode == "gather" and len(src_shape) == 2 and len(dst_shape) == 3:
        heads, tokens, hd = dst_shape
        if tokens == src_shape[0] and view.strides == (hd, src_shape[1], 1) and heads * hd <= src_shape[1]:
            return replace(view, kind="head_split", heads=heads, tokens=tokens, head_dim=hd)
    if view.mode == "scatter" and len(src_shape) == 3 and len(dst_shape) == 2:
        heads, tokens, hd = src_shape
        if dst_shape == (tokens, heads * hd) and view.offset == 0 and view.strides == (hd, heads * hd, 1):
            return replace(view, kind="head_merge", heads=heads, tokens=tokens, head_dim=hd)
    return view


def layout_views(graph: Graph) -> dict[str, LayoutView]:
    """Every tensor written by a chain of unary layout nodes and read by something else than
    a layout node (or a graph output) -> its :class:`LayoutView` of the chain's source."""
    flow = _Flow(graph)
    views = {}
    for node in graph.nodes:
        if node.op not in _UNARY_LAYOUT:
            continue
        readers = [graph.nodes[j] for j in flow.readers.get(node.output, [])]
        if readers and all(r.op in _UNARY_LAYOUT for r in readers) and node.output not in graph.outputs:
            continue  # an inner link of a longer chain
        chain, src = [node], node.inputs["x"]
        while src in flow.producer and graph.nodes[flow.producer[src]].op in _UNARY_LAYOUT:
            chain.append(graph.nodes[flow.producer[src]])
            src = chain[-1].inputs["x"]
        src_shape, dst_shape = graph.tensor(src).shape, graph.tensor(node.output).shape
        idx = np.arange(int(np.prod(src_shape)), dtype=np.int64).reshape(src_shape)
        for link in reversed(chain):
            idx = apply_layout(link, idx)
        names = tuple(n.name for n in reversed(chain))
        found = _affine(idx)
        if found is not None:
            view = LayoutView(node.output, src, names, "gather", *found)
        elif idx.size == np.prod(src_shape):
            inverse = np.empty(idx.size, dtype=np.int64)
            inverse[idx.reshape(-1)] = np.arange(idx.size, dtype=np.int64)
            found = _affine(inverse.reshape(src_shape))
            view = LayoutView(node.output, src, names, "scatter", *found) if found else None
        else:
            view = None
        if view is None:
            view = LayoutView(node.output, src, names, "index", -1, ())
        views[node.output] = _classify(view, src_shape, dst_shape)
    return views

"""Layout ops as buffer addressing: the source address of every element of a consumer's stream.

A layout view (``ir/structure.py``) or a patch embedding's patch order is a
per-image map from the consumer's stream position to the source tensor's
flat index. :func:`view_indices` computes that map (replaying the layout
chain on an index array), :func:`counters` writes it as nested counters
(extent and address step per level, innermost last) so the RTL walks it with
adders instead of a table, and :func:`access_kind` says whether the consumer
can take it straight from the stream (``direct``), by dropping elements
(``filter``: addresses increase) or needs the whole source buffered
(``buffer``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.structure import LayoutView, apply_layout
from .units_common import UnsupportedError


@dataclass(frozen=True)
class Walk:
    """Nested counters: ``extents`` (outermost first) and ``deltas``: the address step when level j
    advances and every inner level wraps to 0. Addresses start at ``offset``."""

    extents: tuple[int, ...]
    deltas: tuple[int, ...]
    offset: int
    count: int


def view_indices(graph: Graph, view: LayoutView) -> np.ndarray:
    """Source flat index of every element of ``view.target`` in row-major order."""
    shape = graph.tensor(view.source).shape
    idx = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    for name in view.nodes:
        idx = apply_layout(graph.node(name), idx)
    return idx.reshape(-1)


def patch_indices(graph: Graph, node: Node) -> np.ndarray:
    """Source flat index of every element of a patch embedding's operand rows (patch-major, then c, i, j)."""
    c, h, w = graph.tensor(node.inputs["x"]).shape
    p = int(node.attrs["patch"])
    idx = np.arange(c * h * w, dtype=np.int64).reshape(c, h // p, p, w // p, p)
    return idx.transpose(1, 3, 0, 2, 4).reshape(-1)


def counters(idx: np.ndarray, what: str) -> Walk:
    """Nested counters walking ``idx``; UnsupportedError naming ``what`` when no such nesting exists."""
    levels: list[tuple[int, int]] = []  # (extent, stride), innermost first
    cur = np.asarray(idx, dtype=np.int64)
    while cur.size > 1:
        best = None
        for ln in range(cur.size, 1, -1):
            if cur.size % ln:
                continue
            rows = cur.reshape(-1, ln)
            stride = int(rows[0, 1] - rows[0, 0])
            if np.array_equal(rows, rows[:, :1] + stride * np.arange(ln)):
                best = (ln, stride)
                break
        if best is None:
            raise UnsupportedError(f"{what}: the layout is not a nest of strided loops (no RTL addressing for it)")
        levels.append(best)
        cur = cur.reshape(-1, best[0])[:, 0]
    levels.reverse()  # outermost first
    extents = tuple(e for e, _ in levels) or (1,)
    strides = [s for _, s in levels] or [0]
    deltas = tuple(strides[j] - sum((extents[i] - 1) * strides[i] for i in range(j + 1, len(extents)))
                   for j in range(len(extents)))
    walk = Walk(extents, deltas, int(idx[0]), int(idx.size))
    if not np.array_equal(walk_addresses(walk), idx):
        raise UnsupportedError(f"{what}: nested counters do not reproduce the layout")
    return walk


def walk_addresses(walk: Walk) -> np.ndarray:
    """Addresses the counters of ``walk`` produce, in order (what the RTL does, for the self-check)."""
    out = np.empty(walk.count, dtype=np.int64)
    ctr = [0] * len(walk.extents)
    addr = walk.offset
    for i in range(walk.count):
        out[i] = addr
        for j in range(len(ctr) - 1, -1, -1):
            if ctr[j] < walk.extents[j] - 1:
                ctr[j] += 1
                addr += walk.deltas[j]
                break
            ctr[j] = 0
    return out


def access_kind(idx: np.ndarray, source_size: int) -> str:
    """``direct`` (the whole source in order), ``filter`` (increasing addresses) or ``buffer``."""
    if idx.size == source_size and np.array_equal(idx, np.arange(source_size)):
        return "direct"
    if idx.size < 2 or bool(np.all(np.diff(idx) > 0)):
        return "filter"
    return "buffer"


@dataclass(frozen=True)
class ViewCopy:
    """A buffered view's own copy of its source: only the ``words`` source elements it reads, in
    source order (``write``: the nested counters of their source addresses, None when it reads every
    element), and ``read``: the walk of the view over the copy's addresses."""

    words: int
    write: Walk | None
    read: Walk


def view_copy(idx: np.ndarray, source_size: int, what: str) -> ViewCopy:
    """The copy a buffered view reads (see :class:`ViewCopy`): a view that reads part of its source
    (q, k or v of the qkv output) keeps only that part. Where the part's addresses are not a nest of
    strided loops the copy holds the whole source."""
    idx = np.asarray(idx, dtype=np.int64)
    part = np.unique(idx)
    write = None
    if part.size < source_size:
        try:
            write = counters(part, what)
        except UnsupportedError:
            part = np.arange(source_size, dtype=np.int64)
    else:
        part = np.arange(source_size, dtype=np.int64)
    return ViewCopy(int(part.size), write, counters(np.searchsorted(part, idx), what))

"""Conformance-style stimulus for a node's unit: edge rows plus random rows inside the input's proven range.

Edge rows: all equal (at each end and zero), all at the low end, alternating
ends, a ramp over the whole range. Expected outputs come from the op's numpy
golden kernel (the registry), never from the RTL.
"""

from __future__ import annotations

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.registry import get_op
from ...runtime.numpy_exec import node_args
from .widths import node_ranges


def edge_rows(lo: int, hi: int, c: int) -> np.ndarray:
    """Rows that hit the corners of a range: constant, extreme, alternating, ramp."""
    rows = [np.full(c, hi), np.full(c, lo), np.zeros(c, dtype=np.int64), np.full(c, min(max(-1, lo), hi)),
            np.where(np.arange(c) % 2 == 0, hi, lo), np.linspace(lo, hi, c).round()]
    one_hot = np.full(c, lo)
    one_hot[c // 3] = hi
    rows.append(one_hot)
    return np.clip(np.stack(rows), lo, hi).astype(np.int64)


def node_case(graph: Graph, node: Node, n_random: int = 8, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``(inputs by role with a batch axis, golden output)`` for ``node``: edge rows then random rows."""
    rng = np.random.default_rng(seed)
    opdef = get_op(node.op)
    rg = node_ranges(graph, node)
    data_roles = [r.name for r in opdef.roles if not r.param and r.name in node.inputs]
    shape = graph.tensor(node.inputs[data_roles[0]]).shape
    c = shape[-1]
    rows_per_sample = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    inputs: dict[str, np.ndarray] = {}
    for i, role in enumerate(data_roles):
        iv = rg[role]
        edges = edge_rows(iv.lo, iv.hi, c)
        if i:
            edges = edges[::-1]
        rand = rng.integers(iv.lo, iv.hi + 1, size=(n_random, c))
        # narrow random rows too (small spread around a random centre), as real activations are
        centre = rng.integers(iv.lo, iv.hi + 1, size=(n_random, 1))
        narrow = np.clip(centre + rng.integers(-8, 9, size=(n_random, c)), iv.lo, iv.hi)
        rows = np.concatenate([edges, rand, narrow])
        total = -(-len(rows) // rows_per_sample) * rows_per_sample
        rows = np.concatenate([rows, rng.integers(iv.lo, iv.hi + 1, size=(total - len(rows), c))])
        inputs[role] = rows.reshape((-1, *shape))
    env = {node.inputs[role]: arr for role, arr in inputs.items()}
    args = node_args(graph, node, env)
    out = np.asarray(opdef.kernel(args, node.attrs, None), dtype=np.int64)
    return args, out

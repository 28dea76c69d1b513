"""What ``ivit-hw run --trace`` writes: every (or a selection of) tensor, node internal and
per-node golden case of a traced run, as compact ``.npy`` / ``.npz`` files and an index.

Arrays are stored in the smallest integer dtype that holds their values
(:func:`~ivit_hw.ir.serialize.compact_int_array`; readers widen to int64), so
an 8-bit activation takes one byte per element, not eight. ``nodes`` selects
the nodes whose output, internals and case are written (fnmatch patterns on
node names, e.g. ``blocks.0.*``); graph inputs are always written.
"""

from __future__ import annotations

import fnmatch
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import yaml

from ..errors import UserValueError
from ..ir.graph import Graph
from ..ir.registry import get_op
from ..ir.serialize import compact_int_array, npz_bytes
from ..ir.types import IntType
from .golden import node_case_arrays, safe_filename

__all__ = ["TRACE_INDEX", "select_nodes", "trace_bytes", "write_trace"]

TRACE_INDEX = "index.yaml"
#: Bytes a trace file or archive member adds to its array (.npy header, zip entry), an upper estimate.
FILE_OVERHEAD = 256


def select_nodes(graph: Graph, patterns: Sequence[str] | None) -> list[str]:
    """Names of the nodes matching any of ``patterns`` (all nodes for None); one line when one matches nothing."""
    if not patterns:
        return [n.name for n in graph.nodes]
    chosen = set()
    for pat in patterns:
        hits = [n.name for n in graph.nodes if fnmatch.fnmatchcase(n.name, pat)]
        if not hits:
            raise UserValueError(f"--trace-nodes {pat!r}: matches no node of graph {graph.name!r} (node names look "
                                 f"like {graph.nodes[0].name!r}, {graph.nodes[-1].name!r})")
        chosen.update(hits)
    return [n.name for n in graph.nodes if n.name in chosen]


def _numel(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def _bytes_per(dtype: IntType) -> int:
    """Bytes per element of the compact storage of a value of type ``dtype`` (an upper bound)."""
    for nbytes in (1, 2, 4):
        if dtype.bits <= 8 * nbytes:
            return nbytes
    return 8


def trace_bytes(graph: Graph, batch: int, nodes: Iterable[str] | None = None) -> int:
    """About how many bytes ``run --trace`` writes for ``batch`` samples and the selected ``nodes`` (all for None).

    Every graph input and selected node output, every internal of a selected node (counted at the size of
    the node's largest tensor, an upper estimate) and the selected nodes' cases (inputs, constants, output
    and internals again), each at the storage width of its declared type.
    """
    keep = set(n.name for n in graph.nodes) if nodes is None else set(nodes)

    def size(name: str) -> int:
        spec = graph.tensor(name)
        return _numel(spec.shape) * (1 if spec.const else batch) * _bytes_per(spec.dtype)

    total = sum(size(n) + FILE_OVERHEAD for n in graph.inputs)
    for node in graph.nodes:
        if node.name not in keep:
            continue
        names = [*node.inputs.values(), node.output]
        per_internal = max(_numel(graph.tensor(t).shape) for t in names) * batch
        n_internals = len(get_op(node.op).internals)
        n_int = sum(per_internal * _bytes_per(node.internals[k].dtype) if k in node.internals else per_internal * 8
                    for k in get_op(node.op).internals)
        files = 2 + 2 * n_internals + len(names) + len(node.attrs) + 3  # .npy files and case members
        total += size(node.output) + n_int + sum(size(t) for t in names) + n_int + FILE_OVERHEAD * files
    return total


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(arr, order="C", copy=None), allow_pickle=False)
    return buf.getvalue()


def write_trace(tmp: Path, graph: Graph, result, unbatch: bool, nodes: Sequence[str] | None = None,
                samples: Sequence[int] | None = None) -> None:
    """Fill a trace folder: tensors/, internals/<node>/, cases/ and ``index.yaml``.

    ``nodes``: the node names to write (all for None); ``samples``: the batch indices traced (recorded
    in the index; the arrays of ``result`` hold only those).
    """
    keep = set(n.name for n in graph.nodes) if nodes is None else set(nodes)
    outputs = {n.output for n in graph.nodes if n.name in keep} | set(graph.inputs)
    index: dict = {"graph": graph.name, "batched": not unbatch, "compact": True,
                   "nodes": "all" if nodes is None else list(nodes),
                   "samples": None if samples is None else [int(s) for s in samples],
                   "tensors": {}, "internals": {}, "cases": {}}
    used: set[str] = set()

    def put(rel: str, data: bytes) -> str:
        if rel in used:
            raise UserValueError(f"trace: two names map to the file {rel!r}")
        used.add(rel)
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(data)
        return rel

    def compact(arr: np.ndarray, name: str) -> np.ndarray:
        return compact_int_array(arr[0] if unbatch else arr, name)

    for name, arr in result.tensors.items():
        if name in outputs:
            rel = f"tensors/{safe_filename(name)}.npy"
            index["tensors"][name] = put(rel, _npy_bytes(compact(arr, f"tensor {name!r}")))
    for key, arr in result.internals.items():
        node, _, internal = key.rpartition("/")
        if node in keep:
            rel = f"internals/{safe_filename(node)}/{safe_filename(internal)}.npy"
            index["internals"][key] = put(rel, _npy_bytes(compact(arr, f"internal {key!r}")))
    for node, arrays in node_case_arrays(graph, result, keep).items():
        index["cases"][node] = put(f"cases/{safe_filename(node)}.npz", npz_bytes(arrays))
    text = yaml.safe_dump(index, sort_keys=False, default_flow_style=False)
    (tmp / TRACE_INDEX).write_text(text, encoding="utf-8")

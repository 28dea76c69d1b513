"""Golden vectors: one ``.npz`` per op application, the shared currency of
every backend test (HLS C-sim, cocotb, GPU), compared with exact equality.

Key convention of a case file (all arrays integer unless noted):

============================  ==================================================
``format``                    0-d int, :data:`GOLDEN_FORMAT` (this layout)
``op``                        0-d string, the op name
``node``                      0-d string, the node name ("" for a bare op case)
``in.<role>``                 data input, with its leading batch axis
``const.<role>``              parameter input (weight, m, e, ...), as stored
``attr.<name>``               0-d int (int attrs; bool as 0/1), 0-d string
                              (str attrs) or 1-d int (list-of-int attrs)
``out``                       the output, with its leading batch axis
``internal.<name>``           an intermediate of the op's spec (trace)
============================  ==================================================

Integer arrays are stored in the smallest of int8, uint8, int16, uint16,
int32, uint32, int64 holding them (read them as int64); files are
byte-for-byte deterministic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..ir.graph import Graph
from ..ir.registry import get_op
from ..ir.serialize import compact_int_array, npz_bytes, write_file_atomic
from ..ir.types import IRError
from .numpy_exec import RunResult, node_args, run_graph

GOLDEN_FORMAT = 1
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class GoldenCase:
    """One op application: op, attributes, inputs by role, output and intermediates."""

    op: str
    inputs: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    attrs: dict[str, Any]
    output: np.ndarray
    internals: dict[str, np.ndarray] = field(default_factory=dict)
    node: str = ""

    def replay(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Recompute the case with the registry's numpy kernel: ``(output, internals)``."""
        opdef = get_op(self.op)
        trace: dict = {}
        out = np.asarray(opdef.kernel({**self.inputs, **self.params}, self.attrs, trace), dtype=np.int64)
        return out, {k: np.asarray(trace[k]) for k in opdef.internals if k in trace}


def safe_filename(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    return _SAFE.sub("_", name) or "_"


def golden_arrays(op: str, inputs: Mapping[str, np.ndarray], output: np.ndarray,
                  attrs: Mapping[str, Any] | None = None, internals: Mapping[str, np.ndarray] | None = None,
                  node: str = "") -> dict[str, np.ndarray]:
    """The named arrays of one case (see the module docstring); inputs mix data and parameter roles."""
    opdef = get_op(op)
    where = f"golden case {node or op!r}"
    opdef.check_roles(inputs, where)
    attrs = opdef.check_attrs(dict(attrs or {}), where)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(GOLDEN_FORMAT, dtype=np.int64),
        "op": np.array(op),
        "node": np.array(node),
        "out": compact_int_array(output, f"{where}: output"),
    }
    for role, value in inputs.items():
        prefix = "const" if opdef.role(role).param else "in"
        arrays[f"{prefix}.{role}"] = compact_int_array(value, f"{where}: input {role!r}")
    for a in opdef.attrs:
        value = attrs[a.name]
        if a.kind == "ints":
            arrays[f"attr.{a.name}"] = np.asarray(value, dtype=np.int64).reshape(-1)
        elif a.kind is str:
            arrays[f"attr.{a.name}"] = np.array(value)
        else:
            arrays[f"attr.{a.name}"] = np.array(int(value), dtype=np.int64)
    for key, value in (internals or {}).items():
        if key not in opdef.internals:
            raise IRError(f"{where}: op {op!r} has no internal {key!r}")
        arrays[f"internal.{key}"] = compact_int_array(value, f"{where}: internal {key!r}")
    return arrays


def dump_golden_case(path: str | os.PathLike, op: str, inputs: Mapping[str, np.ndarray], output: np.ndarray,
                     attrs: Mapping[str, Any] | None = None, internals: Mapping[str, np.ndarray] | None = None,
                     node: str = "") -> Path:
    """Write one golden case to ``path`` (deterministic bytes, atomic); returns the path.

    ``inputs`` maps every role of ``op`` to its array (data with batch axis,
    parameters as stored); attributes are validated and defaults filled.
    """
    data = npz_bytes(golden_arrays(op, inputs, output, attrs, internals, node))
    return write_file_atomic(path, data)


def _text(arr: np.ndarray, key: str, path: Path) -> str:
    if arr.ndim != 0 or arr.dtype.kind != "U":
        raise IRError(f"{path}: {key!r} must be a 0-d string")
    return str(arr)


def load_golden_case(path: str | os.PathLike) -> GoldenCase:
    """Read a case written by :func:`dump_golden_case`; arrays come back as int64, attrs as Python values."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise IRError(f"{path}: cannot read golden case: {exc}") from None
    for key in ("format", "op", "out"):
        if key not in arrays:
            raise IRError(f"{path}: golden case has no {key!r} array")
    if int(arrays["format"]) != GOLDEN_FORMAT:
        raise IRError(f"{path}: golden format {int(arrays['format'])} (this tool reads {GOLDEN_FORMAT})")
    op = _text(arrays["op"], "op", path)
    opdef = get_op(op)
    kinds = {a.name: a.kind for a in opdef.attrs}
    case = GoldenCase(op, {}, {}, {}, arrays["out"].astype(np.int64),
                      node=_text(arrays["node"], "node", path) if "node" in arrays else "")
    for key, arr in arrays.items():
        prefix, _, name = key.partition(".")
        if prefix == "in":
            case.inputs[name] = arr.astype(np.int64)
        elif prefix == "const":
            case.params[name] = arr.astype(np.int64)
        elif prefix == "internal":
            case.internals[name] = arr.astype(np.int64)
        elif prefix == "attr":
            kind = kinds.get(name)
            if kind is None:
                raise IRError(f"{path}: op {op!r} has no attribute {name!r}")
            if kind == "ints":
                case.attrs[name] = [int(v) for v in arr.tolist()]
            elif kind is str:
                case.attrs[name] = _text(arr, key, path)
            elif kind is bool:
                case.attrs[name] = bool(arr)
            else:
                case.attrs[name] = int(arr)
        elif key not in ("format", "op", "node", "out"):
            raise IRError(f"{path}: unexpected array {key!r} in golden case")
    case.attrs = opdef.check_attrs(case.attrs, f"{path}")
    return case


def node_case_arrays(graph: Graph, result: RunResult) -> dict[str, dict[str, np.ndarray]]:
    """The golden-case arrays of every node of a traced run, keyed by node name."""
    cases = {}
    for node in graph.nodes:
        opdef = get_op(node.op)
        inputs = node_args(graph, node, result.tensors)
        internals = {k: result.internals[f"{node.name}/{k}"] for k in opdef.internals
                     if f"{node.name}/{k}" in result.internals}
        cases[node.name] = golden_arrays(node.op, inputs, result.tensors[node.output], node.attrs, internals,
                                         node.name)
    return cases


def dump_node_cases(graph: Graph, inputs: Mapping[str, np.ndarray], folder: str | os.PathLike,
                    result: RunResult | None = None) -> list[Path]:
    """Run ``graph`` with trace (or reuse a traced ``result``) and write ``<folder>/<node>.npz`` per node.

    File names are node names with unsafe characters replaced by ``_``; two
    nodes mapping to the same file name is an error. Returns the paths in
    node order.
    """
    if result is None or not result.tensors:
        result = run_graph(graph, inputs, trace=True)
    cases = node_case_arrays(graph, result)
    names = {}
    for node_name in cases:
        fname = safe_filename(node_name) + ".npz"
        if fname in names:
            raise IRError(f"nodes {names[fname]!r} and {node_name!r} both map to golden file {fname!r}")
        names[fname] = node_name
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fname, node_name in names.items():
        paths.append(write_file_atomic(folder / fname, npz_bytes(cases[node_name])))
    return paths

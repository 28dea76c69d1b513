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
``dtype.<role>``, ``dtype.out``  optional 0-d string (``"i8"``, ``"u16"``): the
                              declared type of an input or of the output, so
                              :func:`case_graph` rebuilds the case's widths
============================  ==================================================

Integer arrays are stored in the smallest of int8, uint8, int16, uint16,
int32, uint32, int64 holding them (read them as int64); files are
byte-for-byte deterministic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..ir.analysis import infer_ranges
from ..ir.builder import GraphBuilder
from ..ir.graph import Graph
from ..ir.registry import get_op
from ..ir.serialize import compact_int_array, npz_bytes, write_file_atomic
from ..ir.types import Interval, IntType, IRError
from ..ir.verify import verify
from .numpy_exec import RunResult, node_args, run_graph

GOLDEN_FORMAT = 1
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_DTYPE = re.compile(r"^([iu])([0-9]+)$")
#: the name of the output tensor (and of the one node) in a :func:`case_graph`
CASE_OUTPUT = "out"


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
    #: declared types by role (and ``"out"``), from the optional ``dtype.*`` keys
    dtypes: dict[str, IntType] = field(default_factory=dict)


def safe_filename(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    return _SAFE.sub("_", name) or "_"


def golden_arrays(op: str, inputs: Mapping[str, np.ndarray], output: np.ndarray,
                  attrs: Mapping[str, Any] | None = None, internals: Mapping[str, np.ndarray] | None = None,
                  node: str = "", dtypes: Mapping[str, IntType] | None = None) -> dict[str, np.ndarray]:
    """The named arrays of one case (see the module docstring); inputs mix data and parameter roles.

    ``dtypes`` optionally maps roles (and ``"out"``) to their declared types.
    """
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
    for key, dtype in (dtypes or {}).items():
        if key != CASE_OUTPUT and key not in inputs:
            raise IRError(f"{where}: dtype given for {key!r}, which is neither an input role nor 'out'")
        arrays[f"dtype.{key}"] = np.array(str(dtype))
    return arrays


def dump_golden_case(path: str | os.PathLike, op: str, inputs: Mapping[str, np.ndarray], output: np.ndarray,
                     attrs: Mapping[str, Any] | None = None, internals: Mapping[str, np.ndarray] | None = None,
                     node: str = "", dtypes: Mapping[str, IntType] | None = None) -> Path:
    """Write one golden case to ``path`` (deterministic bytes, atomic); returns the path.

    ``inputs`` maps every role of ``op`` to its array (data with batch axis,
    parameters as stored); attributes are validated and defaults filled.
    """
    data = npz_bytes(golden_arrays(op, inputs, output, attrs, internals, node, dtypes))
    return write_file_atomic(path, data)


def _text(arr: np.ndarray, key: str, path: Path) -> str:
    if arr.ndim != 0 or arr.dtype.kind != "U":
        raise IRError(f"{path}: {key!r} must be a 0-d string")
    return str(arr)


def _parse_dtype(text: str, key: str, path: Path) -> IntType:
    match = _DTYPE.match(text)
    if match is None:
        raise IRError(f"{path}: {key!r} must name an integer type like 'i8' or 'u16', got {text!r}")
    return IntType(int(match.group(2)), match.group(1) == "i")


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
            if name not in opdef.internals:
                raise IRError(f"{path}: op {op!r} has no internal {name!r}")
            case.internals[name] = arr.astype(np.int64)
        elif prefix == "dtype":
            case.dtypes[name] = _parse_dtype(_text(arr, key, path), key, path)
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
    opdef.check_roles({**case.inputs, **case.params}, f"{path}")
    return case


def _value_type(values: np.ndarray) -> IntType:
    arr = np.asarray(values)
    if arr.size == 0:
        return IntType(8)
    return IntType.fitting(Interval(int(arr.min()), int(arr.max())))


def _rule_scale(case: GoldenCase, shapes: Mapping[str, tuple[int, ...]]) -> Any:
    """The output scale the op's scale rule fixes without any input scale (Shiftmax: 2^-(out_bits-1)),
    else None: a case is pure integers, its tensors carry no scale."""
    try:
        from ..ir.scales import output_scale
    except ImportError:  # a registry without scale rules
        return None
    shapes = {**shapes, **{role: arr.shape for role, arr in case.params.items()}}
    try:
        return output_scale(case.op, {}, case.attrs, case.params, shapes)
    except IRError:  # the rule claims nothing when no input has a scale
        return None


def case_graph(case: GoldenCase) -> tuple[Graph, dict[str, np.ndarray]]:
    """A verified, analysed one-node graph computing ``case`` and its inputs (``{role: array}``).

    Data roles become graph inputs named after the role (per-sample shape,
    declared type from ``case.dtypes`` or else the narrowest type holding the
    values, declared range the whole type, no scale); parameter roles become
    constants. The output has the scale the op's rule fixes without input
    scales (Shiftmax, I-BERT softmax), else none.
    The output tensor is ``"out"``, typed ``case.dtypes["out"]`` or else the
    narrowest type holding its proven range. Every executor and backend can
    run the result: ``run_graph(*case_graph(case))`` recomputes the case.
    """
    opdef = get_op(case.op)
    where = f"golden case {case.node or case.op!r}"
    b = GraphBuilder(safe_filename(f"case_{case.node or case.op}"))
    names: dict[str, str] = {}
    for role in opdef.roles:
        if role.name in case.inputs:
            arr = case.inputs[role.name]
            if arr.ndim == 0:
                raise IRError(f"{where}: input {role.name!r} has no batch axis")
            dtype = case.dtypes.get(role.name) or _value_type(arr)
            dtype.check_values(arr, f"{where}: input {role.name!r}")
            names[role.name] = b.input(role.name, tuple(arr.shape[1:]), dtype, None, Interval.of_type(dtype))
        elif role.name in case.params:
            arr = case.params[role.name]
            dtype = case.dtypes.get(role.name) or _value_type(arr)
            names[role.name] = b.const(role.name, arr, dtype)
    out_type = case.dtypes.get(CASE_OUTPUT)
    out_scale = _rule_scale(case, {role: arr.shape[1:] for role, arr in case.inputs.items()})
    b.node(case.op, names, CASE_OUTPUT, out_type or IntType(64), out_scale, case.attrs, name=CASE_OUTPUT)
    graph = b.finish([CASE_OUTPUT])
    if out_type is None:
        proven = infer_ranges(graph).tensor(CASE_OUTPUT).range
        spec = graph.tensors[CASE_OUTPUT]
        graph = replace(graph, tensors={**graph.tensors, CASE_OUTPUT: replace(spec, dtype=IntType.fitting(proven))})
    return verify(graph), {r: case.inputs[r] for r in graph.inputs}


def node_case_arrays(graph: Graph, result: RunResult,
                     names: Collection[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """The golden-case arrays of every node (or of the nodes in ``names``) of a traced run, keyed by node name."""
    cases = {}
    for node in graph.nodes:
        if names is not None and node.name not in names:
            continue
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

"""The conformance suite: named golden-vector cases for every op of the
registry, written deterministically, with an ``index.yaml`` manifest.

Layout of a suite folder (see docs/semantics.md, "Conformance suite")::

    OUT/index.yaml            format, then one entry per case (below)
    OUT/cases/<case>.npz      one golden case (format of ivit_hw.runtime.golden)

Each index entry: ``case`` (name ``<op>.<config>.<kind>``), ``op``, ``file``
(relative to OUT), ``config``, ``attrs``, ``shapes`` (every input and the
output, with the batch axis), ``rows`` (vectors along the last axis),
``widths`` (``tensors``: each input role and ``out``; ``internals``: each
intermediate; every one as ``bits``, ``signed``, ``range``) and ``covers``
(what the case exercises: ``random``, ``all_equal``, ``all_negative``,
``extremes``, ``rounding_ties_<mode>``, ``em_saturated``, ``masked``,
``row_length_<n>``, ...).

Expected outputs (and internals) come from the numpy golden executor: the
suite is the oracle every other backend is held to.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..ir.registry import REGISTRY, get_op
from ..ir.serialize import atomic_folder, npz_bytes, read_yaml_file
from ..ir.types import IntType, IRError
from .conformance_cases import CaseSpec, all_case_specs
from .executors import make_executor
from .golden import CASE_OUTPUT, GoldenCase, case_graph, golden_arrays, load_golden_case
from .numpy_exec import RunResult, run_graph

SUITE_FORMAT = 1
INDEX = "index.yaml"
CASES_DIR = "cases"

Executor = Callable[[Any, Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class SuiteCase:
    """One case read back from a suite: its index entry and its file."""

    entry: dict[str, Any]
    case: GoldenCase

    @property
    def name(self) -> str:
        """The case name (``<op>.<config>.<kind>``)."""
        return str(self.entry["case"])


def _known_ops(ops: Iterable[str] | None) -> set[str] | None:
    if ops is None:
        return None
    wanted = set(ops)
    for op in sorted(wanted):
        get_op(op)  # IRError naming the unknown op and listing the known ones
    return wanted


def case_specs(ops: Iterable[str] | None = None) -> Iterator[CaseSpec]:
    """The suite's case specs, restricted to ``ops`` (IRError for an op the registry does not have)."""
    wanted = _known_ops(ops)
    for spec in all_case_specs():
        if wanted is None or spec.op in wanted:
            yield spec


def _width(dtype: IntType, interval: Any) -> dict[str, Any]:
    return {"bits": dtype.bits, "signed": dtype.signed, "range": None if interval is None else interval.as_list()}


def _rows(inputs: Mapping[str, np.ndarray], out: np.ndarray) -> int:
    """Vectors along the last axis: of the first data input, or of the output where that has more (patches)."""
    first = inputs[next(iter(inputs))]
    return int(max(math.prod(first.shape[:-1]), math.prod(out.shape[:-1])))


def build_case(spec: CaseSpec) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run one case through the golden executor: (arrays of its ``.npz``, its index entry)."""
    inputs = {role: arr for role, (arr, _) in spec.data.items()}
    params = {role: arr for role, (arr, _) in spec.params.items()}
    dtypes = {role: t for role, (_, t) in {**spec.data, **spec.params}.items()}
    draft = GoldenCase(spec.op, inputs, params, get_op(spec.op).check_attrs(spec.attrs, spec.name),
                       np.zeros(0, np.int64), node=spec.name, dtypes=dtypes)
    graph, feed = case_graph(draft)
    result: RunResult = run_graph(graph, feed, trace=spec.internals)
    out = result.outputs[CASE_OUTPUT]
    node = graph.nodes[0]
    internals = {k: v for k, v in ((k, result.internals.get(f"{CASE_OUTPUT}/{k}")) for k in node.internals)
                 if v is not None}
    out_t = graph.tensor(CASE_OUTPUT).dtype
    arrays = golden_arrays(spec.op, {**inputs, **params}, out, draft.attrs, internals, spec.name,
                           {**dtypes, CASE_OUTPUT: out_t})
    tensors = {role: _width(graph.tensor(role).dtype, graph.tensor(role).range) for role in node.inputs.values()}
    tensors[CASE_OUTPUT] = _width(out_t, graph.tensor(CASE_OUTPUT).range)
    shapes = {role: list(arr.shape) for role, arr in {**inputs, **params}.items()}
    shapes[CASE_OUTPUT] = list(out.shape)
    entry = {
        "case": spec.name,
        "op": spec.op,
        "file": f"{CASES_DIR}/{spec.name}.npz",
        "config": spec.config,
        "attrs": draft.attrs,
        "shapes": shapes,
        "rows": _rows(inputs, out),
        "widths": {"tensors": tensors,
                   "internals": {k: _width(v.dtype, v.range) for k, v in node.internals.items()}},
        "covers": list(spec.covers),
        "internals_stored": sorted(internals),
    }
    return arrays, entry


def write_suite(out_dir: str | os.PathLike, ops: Iterable[str] | None = None,
                progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Write the suite (every op, or only ``ops``) into ``out_dir``, atomically; returns the index entries.

    Same code, same bytes: file contents depend only on the case names.
    """
    specs = list(case_specs(ops))
    entries = []
    with atomic_folder(out_dir, INDEX) as tmp:
        (tmp / CASES_DIR).mkdir()
        for i, spec in enumerate(specs):
            arrays, entry = build_case(spec)
            (tmp / entry["file"]).write_bytes(npz_bytes(arrays))
            entries.append(entry)
            if progress is not None:
                progress(f"[{i + 1}/{len(specs)}] {spec.name}")
        doc = {"format": SUITE_FORMAT, "cases": entries}
        (tmp / INDEX).write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100),
                                 encoding="utf-8")
    return entries


def _read_index(folder: Path) -> list[dict[str, Any]]:
    path = folder / INDEX
    doc = read_yaml_file(path, "not a conformance suite")
    if not isinstance(doc, dict) or doc.get("format") != SUITE_FORMAT or not isinstance(doc.get("cases"), list):
        raise IRError(f"{path}: expected a mapping with format: {SUITE_FORMAT} and a list of cases")
    return doc["cases"]


def load_case_file(path: str | os.PathLike, entry: Mapping[str, Any] | None = None) -> GoldenCase:
    """Read one case file; IRError naming the file (an unknown op, a mismatch with its index entry)."""
    try:
        case = load_golden_case(path)
    except IRError as exc:
        msg = str(exc)
        raise IRError(msg if str(path) in msg else f"{path}: {msg}") from None
    if entry is not None and case.op != entry.get("op"):
        raise IRError(f"{path}: holds op {case.op!r} but {INDEX} says {entry.get('op')!r}")
    return case


def load_suite(path: str | os.PathLike, ops: Iterable[str] | None = None) -> list[SuiteCase]:
    """The cases of a suite folder (or a single case ``.npz``), optionally only those of ``ops``."""
    path = Path(path)
    if path.is_file():
        case = load_case_file(path)
        return [SuiteCase({"case": path.stem, "op": case.op, "file": path.name}, case)]
    if not path.is_dir():
        raise IRError(f"{path}: no such suite folder or case file")
    wanted = None if ops is None else set(ops)
    out = []
    for i, entry in enumerate(_read_index(path)):
        if not isinstance(entry, dict) or not {"case", "op", "file"} <= set(entry):
            raise IRError(f"{path / INDEX}: case #{i} needs case, op and file")
        if wanted is not None and entry["op"] not in wanted:
            continue
        out.append(SuiteCase(entry, load_case_file(path / entry["file"], entry)))
    return out


def suite_executor(name: str, device: str = "cpu") -> Executor:
    """Executor ``name`` of the registry (:mod:`.executors`) as a suite executor: each case's graph is
    built and run once (ValueError naming a missing extra)."""
    return lambda graph, feed: make_executor(name, graph, device).run(feed).outputs[CASE_OUTPUT]


def check_case(case: GoldenCase, executor: Executor) -> str | None:
    """None when ``executor`` reproduces the case's output exactly, else a one-line description."""
    graph, feed = case_graph(case)
    got = np.asarray(executor(graph, feed))
    if got.shape != case.output.shape:
        return f"shape {list(got.shape)} != {list(case.output.shape)}"
    bad = np.argwhere(got != case.output)
    if bad.size:
        first = tuple(int(i) for i in bad[0])
        return (f"{len(bad)} of {got.size} values differ; first at {list(first)}: "
                f"got {int(got[first])}, expected {int(case.output[first])}")
    return None


def registry_ops_without_cases(cases: Iterable[SuiteCase]) -> list[str]:
    """Ops of the registry the suite has no case for (the suite must cover them all)."""
    get_op("add")  # fills the registry
    covered = {c.case.op for c in cases}
    return sorted(set(REGISTRY) - covered)

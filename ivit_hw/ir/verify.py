"""The graph verifier: structural checks on an in-memory graph, separate from
the passes, then range analysis and width checks.

Every problem names the node, tensor or key at fault. The checks collect
every problem they find and raise one :class:`IRError` listing them, so a
broken graph is fixed in one round. :func:`verify` is what
:func:`ivit_hw.ir.serialize.load_graph` runs and what tests run after every
pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .analysis import WidthViolation, infer_ranges, width_violations
from .graph import Graph, Node
from .registry import REGISTRY, OpDef
from .scales import negative_scale_tensors, scale_rule_problems, tensor_scale_problems
from .types import WORD_BITS, InternalSpec, Interval, IntType, IRError, TensorSpec, is_int


def format_problems(where: str, problems: list[str]) -> str:
    """One message for ``problems`` found in ``where``: a single line when there is one."""
    if len(problems) == 1:
        return f"{where}: {problems[0]}"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{where}: {len(problems)} problems:\n{lines}"


def constant_problems(name: str, spec: TensorSpec, value: Any) -> list[str]:
    """Problems with one constant's value: missing, non-integer, wrong shape, outside its declared type."""
    where = f"constant {name!r}"
    if value is None:
        return [f"{where}: no value (missing from the constants / constants.npz)"]
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        return [f"{where}: values must be integers, got dtype {arr.dtype}"]
    out = []
    if tuple(arr.shape) != tuple(spec.shape):
        out.append(f"{where}: value has shape {list(arr.shape)} but the tensor declares {list(spec.shape)}")
    if arr.size and isinstance(spec.dtype, IntType):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < spec.dtype.min or hi > spec.dtype.max:
            out.append(f"{where}: values [{lo}, {hi}] do not fit its declared type {spec.dtype}")
    return out


def _tensor_problems(name: str, spec: Any) -> list[str]:
    where = f"tensor {name!r}"
    if not isinstance(spec, TensorSpec):
        return [f"{where}: spec must be a TensorSpec, got {type(spec).__name__}"]
    out = []
    if spec.name != name:
        out.append(f"{where}: spec is named {spec.name!r}")
    if not isinstance(spec.shape, tuple) or not all(is_int(d) and d >= 1 for d in spec.shape):
        out.append(f"{where}: shape must be a tuple of positive ints, got {spec.shape!r}")
    if not isinstance(spec.dtype, IntType):
        out.append(f"{where}: dtype must be an IntType, got {spec.dtype!r}")
    elif spec.dtype.bits > WORD_BITS:
        out.append(f"{where}: bits must be in [1, {WORD_BITS}] for a tensor, got {spec.dtype.bits}")
    if spec.range is not None and not isinstance(spec.range, Interval):
        out.append(f"{where}: range must be an Interval or None, got {spec.range!r}")
    return out


class _Checker:
    """Walks a graph once, collecting problems."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.problems: list[str] = []
        self.producers: dict[str, list[int]] = {}
        for i, node in enumerate(graph.nodes):
            if isinstance(node, Node):
                self.producers.setdefault(node.output, []).append(i)

    def add(self, msg: str) -> None:
        self.problems.append(msg)

    def run(self) -> list[str]:
        g = self.g
        if not isinstance(g.name, str) or not g.name:
            self.add(f"graph name must be a non-empty string, got {g.name!r}")
        ok_tensors = set()
        negative_ok = negative_scale_tensors(g)
        for name, spec in g.tensors.items():
            found = _tensor_problems(name, spec)
            self.problems += found
            if found:
                continue
            ok_tensors.add(name)
            self.problems += tensor_scale_problems(name, spec, allow_negative=name in negative_ok)
            if spec.const:
                self.problems += constant_problems(name, spec, g.constants.get(name))
        for name in g.constants:
            spec = g.tensors.get(name)
            if spec is None or not getattr(spec, "const", False):
                self.add(f"constants hold a value for {name!r}, which is not a constant tensor")
        self._check_io()
        names = [n.name for n in g.nodes if isinstance(n, Node)]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            self.add(f"node name {dup!r} is used by {names.count(dup)} nodes")
        for i, node in enumerate(g.nodes):
            if not isinstance(node, Node):
                self.add(f"nodes[{i}] is not a Node: {type(node).__name__}")
                continue
            self._check_node(i, node, ok_tensors)
        return self.problems

    def _check_io(self) -> None:
        g = self.g
        for kind, names in (("input", g.inputs), ("output", g.outputs)):
            seen = set()
            for name in names:
                if name in seen:
                    self.add(f"graph {kind} {name!r} is listed twice")
                seen.add(name)
                if name not in g.tensors:
                    self.add(f"graph {kind} {name!r} is not a defined tensor")
        if not g.outputs:
            self.add("graph has no outputs")
        for name in g.inputs:
            spec = g.tensors.get(name)
            if isinstance(spec, TensorSpec) and spec.const:
                self.add(f"graph input {name!r} is marked const")
            if name in self.producers:
                self.add(f"graph input {name!r} is also written by node {g.nodes[self.producers[name][0]].name!r}")
        inputs = set(g.inputs)
        for name, spec in g.tensors.items():
            if not isinstance(spec, TensorSpec) or spec.const or name in inputs:
                continue
            if name not in self.producers:
                self.add(f"tensor {name!r} is neither a graph input, a constant nor the output of any node")
        for name in g.outputs:
            spec = g.tensors.get(name)
            if isinstance(spec, TensorSpec) and spec.const:
                self.add(f"graph output {name!r} is a constant; outputs must be computed")

    def _check_node(self, index: int, node: Node, ok_tensors: set[str]) -> None:
        g = self.g
        where = f"node {node.name!r}"
        if not isinstance(node.name, str) or not node.name:
            self.add(f"nodes[{index}]: name must be a non-empty string, got {node.name!r}")
        if not isinstance(node.op, str):
            self.add(f"{where}: op must be a string, got {node.op!r}")
            return
        opdef = REGISTRY.get(node.op)
        if opdef is None:
            self.add(f"{where}: unknown op {node.op!r}; known ops: {', '.join(sorted(REGISTRY))}")
            return
        if not isinstance(node.inputs, Mapping):
            self.add(f"{where}: inputs must map roles to tensor names, got {node.inputs!r}")
            return
        sound = True
        problems_before = len(self.problems)
        self.problems += opdef.role_problems(node.inputs, where)
        for role, tname in node.inputs.items():
            if not isinstance(tname, str):
                self.add(f"{where}: input {role} must name a tensor, got {tname!r}")
                continue
            spec = g.tensors.get(tname)
            if spec is None:
                self.add(f"{where}: input {role}={tname!r} is not a defined tensor")
                continue
            if tname not in ok_tensors:
                sound = False
                continue
            written = self.producers.get(tname, [])
            if not spec.const and tname not in g.inputs and written and all(w >= index for w in written):
                writer = g.nodes[written[0]].name
                how = "its own output" if written[0] == index else f"written later by node {writer!r}"
                self.add(f"{where}: input {role}={tname!r} is {how}: graph is not topologically ordered")
            known_role = any(r.name == role for r in opdef.roles)
            if known_role and opdef.role(role).param and not spec.const:
                self.add(f"{where}: input {role}={tname!r} must be a constant (a {opdef.name} parameter)")
        if isinstance(node.attrs, Mapping) and isinstance(node.internals, Mapping):
            self.problems += opdef.attr_problems(node.attrs, where, defaults=False)
            self._check_internals(where, opdef, node.internals)
        else:
            self.add(f"{where}: attrs and internals must be mappings")
        out = node.output
        if not isinstance(out, str) or out not in g.tensors:
            self.add(f"{where}: output {out!r} is not a defined tensor")
            return
        spec = g.tensors[out]
        if out not in ok_tensors:
            return
        if spec.const:
            self.add(f"{where}: output {out!r} is a constant")
        written = self.producers.get(out, [])
        if len(written) > 1 and written[0] != index:
            self.add(f"{where}: output {out!r} is already written by node {g.nodes[written[0]].name!r}")
        if sound and len(self.problems) == problems_before:
            self._check_shape(where, opdef, node, spec)

    def _check_internals(self, where: str, opdef: OpDef, internals: Mapping[str, InternalSpec]) -> None:
        for key, spec in internals.items():
            if key not in opdef.internals:
                self.add(f"{where}: unknown internal {key!r} for op {opdef.name!r}; its internals: "
                         f"{list(opdef.internals)}")
            elif not isinstance(spec, InternalSpec) or not isinstance(spec.dtype, IntType):
                self.add(f"{where}: internal {key!r} must be an InternalSpec with an IntType, got {spec!r}")
            elif spec.dtype.bits > WORD_BITS and key not in opdef.wide_internals:
                self.add(f"{where}: internal {key!r} has {spec.dtype.bits} bits; only {list(opdef.wide_internals)} "
                         f"may exceed {WORD_BITS}")

    def _check_shape(self, where: str, opdef: OpDef, node: Node, spec: TensorSpec) -> None:
        shapes = {role: self.g.tensors[t].shape for role, t in node.inputs.items()}
        try:
            want = tuple(opdef.shape(shapes, node.attrs))
        except IRError as exc:
            self.add(f"{where}: {exc}")
            return
        except Exception as exc:  # a shape rule tripping on odd shapes must still name the node
            self.add(f"{where}: shape rule of {opdef.name!r} failed on input shapes {shapes}: {exc}")
            return
        if want != spec.shape:
            self.add(f"{where}: output {node.output!r} declares shape {list(spec.shape)} but op {opdef.name!r} "
                     f"gives {list(want)} for input shapes "
                     + ", ".join(f"{r}={list(s)}" for r, s in shapes.items()))


def structural_problems(graph: Graph) -> list[str]:
    """Every structural problem of ``graph`` (empty when sound); no range analysis."""
    return _Checker(graph).run()


def verify_structure(graph: Graph) -> None:
    """Raise one IRError listing every structural problem of ``graph``."""
    problems = structural_problems(graph)
    if problems:
        raise IRError(format_problems(f"graph {graph.name!r}", problems))


def width_problem(v: WidthViolation) -> str:
    """A width violation as a problem line naming the tensor (or node and internal), need and declaration."""
    if "/" in v.where:
        node, key = v.where.rsplit("/", 1)
        what = f"node {node!r} internal {key!r}"
    else:
        what = f"tensor {v.where!r}"
    return f"{what}: proven range {v.proven} needs {v.needed} but {v.declared} is declared"


def _stale(what: str, stored: Interval | None, proven: Interval | None) -> Iterable[str]:
    if stored is not None and proven is not None and stored != proven:
        yield f"{what}: recorded range {stored} differs from the proven range {proven} (stale; re-run the analysis)"


def range_problems(graph: Graph) -> tuple[Graph | None, list[str]]:
    """Run range analysis on a structurally sound graph: the analysed graph and every problem.

    Problems are width violations and recorded ranges (of non-input tensors
    and internals) that differ from the proven ones.
    """
    try:
        analysed = infer_ranges(graph)
    except IRError as exc:
        return None, [f"range analysis failed: {exc}"]
    problems = [width_problem(v) for v in width_violations(analysed)]
    inputs = set(graph.inputs)
    for name, spec in graph.tensors.items():
        if name not in inputs:
            problems += _stale(f"tensor {name!r}", spec.range, analysed.tensors[name].range)
    for node, done in zip(graph.nodes, analysed.nodes, strict=True):
        for key, internal in node.internals.items():
            problems += _stale(f"node {node.name!r} internal {key!r}", internal.range, done.internals[key].range)
    return analysed, problems


def semantic_problems(graph: Graph) -> tuple[Graph | None, list[str]]:
    """On a structurally sound graph: the analysed graph, and every width violation, stale
    recorded range and scale that contradicts its op's scale rule."""
    analysed, problems = range_problems(graph)
    return analysed, problems + scale_rule_problems(graph)


def verify(graph: Graph) -> Graph:
    """Check ``graph`` completely; return it with every range proven.

    Structural problems come first (all of them, in one IRError); on a sound
    structure, range analysis runs and every width violation is reported
    (tensor or node/internal, the type it needs and the declared one), with
    every scale its op's scale rule contradicts.
    """
    verify_structure(graph)
    analysed, problems = semantic_problems(graph)
    if problems or analysed is None:
        raise IRError(format_problems(f"graph {graph.name!r}", problems))
    return analysed

"""The graph verifier: structural checks on an in-memory graph, separate from
the passes, then range analysis and width checks.

Every problem names the node, tensor or key at fault. The checks collect
every problem they find and raise one :class:`IRError` listing them, so a
broken graph is fixed in one round. :func:`verify` is what
:func:`ivit_hw.ir.serialize.load_graph` runs and what tests run after every
pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .analysis import WidthViolation, infer_ranges, width_violations
from .graph import Graph, Node
from .registry import REGISTRY, OpDef, get_op
from .types import InternalSpec, Interval, IntType, IRError, TensorSpec

# The only tensors allowed a negative scale: LayerNorm outputs (and the
# bias_int added on their scale) carry S_out[c] = gamma[c] * unit, negative
# where gamma is (spec section 7); I-BERT GELU's output scale S * S_u / 2 has
# S_u = S_e^2 * a * 2^14 with a = -0.2888 (spec section 9).
NEGATIVE_SCALE_OPS = frozenset({"ilayernorm", "ibert_layernorm", "l1_layernorm", "ibert_gelu"})
# Per-channel scales run along the last axis, except for tensors bound to a
# ``weight`` role (linear, patch_embed: torch layout [out, ...], quantized per
# output channel, spec section 1): axis 0.
WEIGHT_ROLE = "weight"


def format_problems(where: str, problems: list[str]) -> str:
    """One message for ``problems`` found in ``where``: a single line when there is one."""
    if len(problems) == 1:
        return f"{where}: {problems[0]}"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{where}: {len(problems)} problems:\n{lines}"


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def scale_problems(name: str, spec: TensorSpec, allow_negative: bool = False, axis: int = -1) -> list[str]:
    """Problems with one tensor's scale: not finite, zero/negative, or a per-channel list whose
    length is not that of the channel ``axis`` (-1, or 0 for weights)."""
    scale = spec.scale
    if scale is None:
        return []
    where = f"tensor {name!r}"
    if isinstance(scale, bool) or not isinstance(scale, float | int | tuple | list):
        return [f"{where}: scale must be a number, a list of numbers or null, got {scale!r}"]
    values = list(scale) if isinstance(scale, tuple | list) else [scale]
    if not all(isinstance(v, float | int) and not isinstance(v, bool) for v in values):
        return [f"{where}: scale entries must be numbers, got {scale!r}"]
    out = []
    if isinstance(scale, tuple | list):
        size = spec.shape[axis] if spec.shape else None
        if size != len(values):
            which = "the last axis" if axis == -1 else f"axis {axis} (output channels)"
            out.append(f"{where}: per-channel scale has {len(values)} entries but {which} of shape "
                       f"{list(spec.shape)} has {size if size is not None else 'none (scalar tensor)'}")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        out.append(f"{where}: scale must be finite, got {bad[0]!r}")
    low = [v for v in values if math.isfinite(v) and (v == 0 or (v < 0 and not allow_negative))]
    if low:
        out.append(f"{where}: scale must be positive, got {low[0]!r}")
    return out


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
    if not isinstance(spec.shape, tuple) or not all(_is_int(d) and d >= 1 for d in spec.shape):
        out.append(f"{where}: shape must be a tuple of positive ints, got {spec.shape!r}")
    if not isinstance(spec.dtype, IntType):
        out.append(f"{where}: dtype must be an IntType, got {spec.dtype!r}")
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
        bound = [(n.op, role, t) for n in g.nodes if isinstance(n, Node) and isinstance(n.inputs, Mapping)
                 for role, t in n.inputs.items()]
        weights = {t for _, role, t in bound if role == WEIGHT_ROLE}
        norm_biases = {t for op, role, t in bound if op in NEGATIVE_SCALE_OPS and role == "bias_int"}
        for name, spec in g.tensors.items():
            found = _tensor_problems(name, spec)
            self.problems += found
            if found:
                continue
            ok_tensors.add(name)
            prod = self.producers.get(name, [])
            neg = name in norm_biases or any(g.nodes[i].op in NEGATIVE_SCALE_OPS for i in prod)
            self.problems += scale_problems(name, spec, allow_negative=neg, axis=0 if name in weights else -1)
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
        if node.op not in REGISTRY:
            try:
                get_op(node.op)  # fills the registry on first use
            except IRError:
                self.add(f"{where}: unknown op {node.op!r}; known ops: {', '.join(sorted(REGISTRY))}")
                return
        opdef = get_op(node.op)
        if not isinstance(node.inputs, Mapping):
            self.add(f"{where}: inputs must map roles to tensor names, got {node.inputs!r}")
            return
        sound = True
        problems_before = len(self.problems)
        self._check_roles(where, opdef, node)
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
            self._check_attrs(where, opdef, node.attrs)
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

    def _check_roles(self, where: str, opdef: OpDef, node: Node) -> None:
        names = [r.name for r in opdef.roles]
        unknown = [r for r in node.inputs if r not in names]
        if unknown:
            self.add(f"{where}: unknown input role(s) {unknown} for op {opdef.name!r}; its roles: {names}")
        missing = [r.name for r in opdef.roles if not r.optional and r.name not in node.inputs]
        if missing:
            self.add(f"{where}: missing input role(s) {missing} for op {opdef.name!r}")

    def _check_attrs(self, where: str, opdef: OpDef, attrs: Mapping[str, Any]) -> None:
        known = [a.name for a in opdef.attrs]
        unknown = [k for k in attrs if k not in known]
        if unknown:
            self.add(f"{where}: unknown attribute(s) {unknown} for op {opdef.name!r}; its attributes: {known}")
        for a in opdef.attrs:
            if a.name not in attrs:
                self.add(f"{where}: missing attribute {a.name!r} for op {opdef.name!r}")
                continue
            try:
                a.check(attrs[a.name], where)
            except IRError as exc:
                self.add(str(exc))

    def _check_internals(self, where: str, opdef: OpDef, internals: Mapping[str, InternalSpec]) -> None:
        for key, spec in internals.items():
            if key not in opdef.internals:
                self.add(f"{where}: unknown internal {key!r} for op {opdef.name!r}; its internals: "
                         f"{list(opdef.internals)}")
            elif not isinstance(spec, InternalSpec) or not isinstance(spec.dtype, IntType):
                self.add(f"{where}: internal {key!r} must be an InternalSpec with an IntType, got {spec!r}")

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


def verify(graph: Graph) -> Graph:
    """Check ``graph`` completely; return it with every range proven.

    Structural problems come first (all of them, in one IRError); on a sound
    structure, range analysis runs and every width violation is reported
    (tensor or node/internal, the type it needs and the declared one).
    """
    verify_structure(graph)
    analysed, problems = range_problems(graph)
    if problems or analysed is None:
        raise IRError(format_problems(f"graph {graph.name!r}", problems))
    return analysed

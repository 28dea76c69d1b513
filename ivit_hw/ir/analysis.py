"""Range analysis and width inference over a whole graph.

:func:`infer_ranges` walks the nodes in order, asks each op's range rule for
the interval of its output and intermediates (from the input intervals and the
real constant values), and records them. :func:`width_violations` then
compares every proven range with its declared type.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .graph import Graph
from .registry import RangeInputs, get_op
from .types import MAX_BITS, WORD_BITS, InternalSpec, Interval, IntType, IRError, TensorSpec


@dataclass(frozen=True)
class WidthViolation:
    """A declared type too narrow for its proven range."""

    where: str  # tensor name, or "node/internal"
    declared: IntType
    proven: Interval

    @property
    def needed(self) -> IntType:
        """The narrowest type of the declared signedness that would do."""
        signed = self.declared.signed or self.proven.lo < 0
        return IntType.fitting(self.proven, signed)

    def __str__(self) -> str:
        return (f"{self.where}: proven range {self.proven} needs {self.needed} "
                f"but {self.declared} is declared")


def const_interval(values: np.ndarray) -> Interval:
    """Exact hull of a constant's values."""
    arr = np.asarray(values)
    if arr.size == 0:
        return Interval(0, 0)
    return Interval(int(arr.min()), int(arr.max()))


WORD = Interval.of_type(IntType(WORD_BITS))  # the int64 every executor holds a tensor or internal in


def _check_representable(interval: Interval, where: str, declared: IntType | None, limit: int = WORD_BITS) -> None:
    """IRError naming ``where`` when ``interval`` leaves the signed 64-bit word (``limit`` 64: tensors
    and ordinary internals, which every executor holds in int64, so a u64 value of 2^63 or more is
    refused too) or needs more than ``limit`` bits (128 for an op's ``wide_internals``).

    Without it, IntType.fitting (for an undeclared internal) or
    WidthViolation.needed (signed when the declared type is) would fail
    with a message naming nothing, and an executor would wrap silently.
    """
    if limit == WORD_BITS and not (WORD.lo <= interval.lo and interval.hi <= WORD.hi):
        raise IRError(f"{where}: proven range {interval} needs more than {WORD_BITS} bits "
                      f"(a signed int64, the word every executor holds)") from None
    try:
        bits = IntType.fitting(interval, True if declared is not None and declared.signed else None).bits
    except IRError:
        bits = MAX_BITS + 1
    if bits > limit:
        raise IRError(f"{where}: proven range {interval} needs more than {limit} bits") from None


def infer_ranges(graph: Graph, input_ranges: dict[str, Interval] | None = None) -> Graph:
    """Return ``graph`` with the proven range of every tensor and intermediate filled in.

    Graph inputs take the range given here, else their declared ``range``,
    else the full range of their type. Constants take the hull of their
    values. Internal intermediates with no declared type get the narrowest
    one that holds their proven range.
    """
    input_ranges = input_ranges or {}
    tensors = dict(graph.tensors)
    for name in graph.inputs:
        spec = graph.tensor(name)
        iv = input_ranges.get(name) or spec.range or Interval.of_type(spec.dtype)
        _check_representable(iv, f"input {name!r}", spec.dtype)
        tensors[name] = spec.with_range(iv)
    for name, spec in graph.tensors.items():
        if spec.const:
            tensors[name] = spec.with_range(const_interval(graph.constants[name]))
    nodes = []
    for node in graph.nodes:
        opdef = get_op(node.op)
        intervals, consts, shapes = {}, {}, {}
        for role, tname in node.inputs.items():
            spec = tensors[tname]
            shapes[role] = spec.shape
            if spec.const:
                consts[role] = graph.constants[tname]
            if not opdef.role(role).param:
                intervals[role] = spec.range
        ri = RangeInputs(node.name, intervals, consts, shapes, node.attrs)
        try:
            result = opdef.ranges(ri)
        except IRError:
            raise  # already names the node
        except Exception as exc:  # a rule failing on odd constants must still name the node
            raise IRError(f"{node.name}: range analysis of op {node.op!r} failed: {exc}") from exc
        missing = [k for k in ("out",) + opdef.internals if k not in result]
        if missing:
            raise IRError(f"{node.name}: range rule of {node.op!r} gave no interval for {missing}")
        _check_representable(result["out"], f"{node.name}: output tensor {node.output!r}",
                             tensors[node.output].dtype)
        tensors[node.output] = tensors[node.output].with_range(result["out"])
        internals = {}
        for key in opdef.internals:
            declared = node.internals.get(key)
            _check_representable(result[key], f"{node.name}/{key}", declared.dtype if declared else None,
                                 MAX_BITS if key in opdef.wide_internals else WORD_BITS)
            dtype = declared.dtype if declared is not None else IntType.fitting(result[key])
            internals[key] = InternalSpec(dtype, result[key])
        nodes.append(replace(node, internals=internals))
    return replace(graph, tensors=tensors, nodes=tuple(nodes))


def width_violations(graph: Graph) -> list[WidthViolation]:
    """Every tensor or intermediate whose proven range does not fit its declared type."""
    bad = []
    for name, spec in graph.tensors.items():
        if spec.range is not None and not spec.dtype.holds(spec.range):
            bad.append(WidthViolation(name, spec.dtype, spec.range))
    for node in graph.nodes:
        for key, internal in node.internals.items():
            if internal.range is not None and not internal.dtype.holds(internal.range):
                bad.append(WidthViolation(f"{node.name}/{key}", internal.dtype, internal.range))
    return bad


def check_widths(graph: Graph) -> Graph:
    """Infer ranges and raise one IRError listing every width violation (none: the analysed graph)."""
    analysed = infer_ranges(graph)
    bad = width_violations(analysed)
    if bad:
        lines = "\n  ".join(str(v) for v in bad)
        raise IRError(f"graph {graph.name!r}: {len(bad)} width violation(s):\n  {lines}")
    return analysed


def headroom_bits(spec: TensorSpec) -> int | None:
    """Declared bits minus the bits the proven range needs (None before analysis)."""
    if spec.range is None:
        return None
    return spec.dtype.bits - IntType.fitting(spec.range, spec.dtype.signed or spec.range.lo < 0).bits

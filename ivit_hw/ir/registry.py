"""The closed op set: one :class:`OpDef` per op, holding its input roles,
attribute schema, intermediates, numpy kernel, shape rule, range rule and
scale rule, whether its output may carry a negative scale and its family.

Adding an op means adding one entry (see :mod:`ivit_hw.ir.opset`); the
serialiser, verifier, range analysis, executor and renderers all read it.
The registry is filled when :mod:`ivit_hw.ir` is imported (the package
imports :mod:`ivit_hw.ir.opset`); this module imports no op definitions.
Role and attribute validation lives here only: :meth:`OpDef.role_problems`
and :meth:`OpDef.attr_problems` list every problem (the verifier reports
them all), :meth:`OpDef.check_roles` / :meth:`OpDef.check_attrs` raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import Interval, IRError, is_int

_REQUIRED = object()

Shape = tuple[int, ...]
Kernel = Callable[[Mapping[str, np.ndarray], Mapping[str, Any], "dict | None"], np.ndarray]
ShapeRule = Callable[[Mapping[str, Shape], Mapping[str, Any]], Shape]


@dataclass(frozen=True)
class Role:
    """An input slot of an op. ``param`` roles must be constants and reach the
    kernel without a batch axis (weights, multipliers, masks). ``out_scale``
    marks an input added on the output's scale (a LayerNorm's ``bias_int``):
    its scale, when it has one, must equal the output's, and it may be
    negative where the op's output may."""

    name: str
    param: bool = False
    optional: bool = False
    out_scale: bool = False


@dataclass(frozen=True)
class Attr:
    """One attribute: its Python kind (int, str, bool or a tuple of ints), default and choices."""

    name: str
    kind: type | str
    default: Any = _REQUIRED
    choices: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        """True when the attribute has no default."""
        return self.default is _REQUIRED

    def check(self, value: Any, where: str) -> Any:
        """Validate (and normalise) ``value``; IRError naming ``where`` and the attribute."""
        if self.kind == "ints":
            if not isinstance(value, list | tuple) or not all(is_int(v) for v in value):
                raise IRError(f"{where}: attribute {self.name!r} must be a list of ints, got {value!r}")
            return [int(v) for v in value]
        if self.kind is int and not is_int(value):
            raise IRError(f"{where}: attribute {self.name!r} must be an int, got {value!r}")
        if self.kind is bool and not isinstance(value, bool):
            raise IRError(f"{where}: attribute {self.name!r} must be a bool, got {value!r}")
        if self.kind is str and not isinstance(value, str):
            raise IRError(f"{where}: attribute {self.name!r} must be a string, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise IRError(f"{where}: attribute {self.name!r} must be one of {list(self.choices)}, got {value!r}")
        return int(value) if self.kind is int else value


@dataclass(frozen=True)
class RangeInputs:
    """What a range rule sees: intervals of data inputs, values of constant inputs, shapes, attrs."""

    node: str
    intervals: Mapping[str, Interval]
    consts: Mapping[str, np.ndarray]
    shapes: Mapping[str, Shape]
    attrs: Mapping[str, Any]


RangeRule = Callable[[RangeInputs], Mapping[str, Interval]]


@dataclass(frozen=True)
class ScaleInputs:
    """What a scale rule sees: the scale of every input by role, expanded to a
    per-element array broadcastable to that input's per-sample shape (None for
    an input without a scale), constant values, shapes and attributes."""

    node: str
    scales: Mapping[str, np.ndarray | None]
    consts: Mapping[str, np.ndarray]
    shapes: Mapping[str, Shape]
    attrs: Mapping[str, Any]


@dataclass(frozen=True)
class ScaleClaim:
    """What a scale rule says the output scale must be.

    ``value``: per-element scale broadcastable to the output shape (NaN where
    the rule claims nothing), or None (the output must have no scale: codes, indices). ``rtol``: the relative
    precision of the claim (0 for exact facts; a dyadic multiplier's 2^-30).
    ``why`` names the formula in error messages; ``target`` the tensor
    claimed about.
    """

    value: np.ndarray | None
    rtol: float
    why: str
    target: str = "out"  # "out", or the role whose tensor the claim is about (linear's bias)


#: A scale rule returns the claim(s) on the output scale; () when the op
#: claims nothing for these inputs (an input without a scale).
ScaleRule = Callable[[ScaleInputs], tuple[ScaleClaim, ...]]


@dataclass(frozen=True)
class OpDef:
    """Everything the tool knows about one op. The range rule returns the
    interval of ``"out"`` and of every name in ``internals``; the scale rule
    the claims on the output scale (:mod:`ivit_hw.ir.scale_rules`).

    ``negative_scale``: the output's real scale may be negative per channel
    (LayerNorm's gamma, I-BERT GELU's negative erf coefficient); every other
    tensor's scale must be positive. ``family`` groups ops for structure
    passes (``gemm``, ``requant``, ``softmax``, ``gelu``, ``norm``,
    ``layout``, ``elementwise``, ``reduce``, ``index``). ``wide_internals``:
    internals the kernel computes exactly beyond 64 bits (requantize's
    products): their type may have up to 128 bits, every other value 64.
    """

    name: str
    roles: tuple[Role, ...]
    attrs: tuple[Attr, ...]
    kernel: Kernel
    shape: ShapeRule
    ranges: RangeRule
    internals: tuple[str, ...] = ()
    doc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    scale_rule: ScaleRule | None = None
    negative_scale: bool = False
    family: str = "elementwise"
    wide_internals: tuple[str, ...] = ()

    def role(self, name: str) -> Role:
        """The role called ``name``."""
        for r in self.roles:
            if r.name == name:
                return r
        raise IRError(f"op {self.name!r} has no input role {name!r}")

    def const_arg(self, role: str, values: np.ndarray) -> np.ndarray:
        """A constant as its kernel sees it: as stored for a param role, with a batch axis of 1 as data."""
        return values if self.role(role).param else values[None]

    def attr_problems(self, attrs: Mapping[str, Any], where: str, defaults: bool = True) -> list[str]:
        """Every problem of ``attrs`` against the schema: unknown keys, wrong kinds or choices,
        missing required ones (with ``defaults=False`` a missing defaulted one too)."""
        known = [a.name for a in self.attrs]
        problems = []
        unknown = [k for k in attrs if k not in known]
        if unknown:
            problems.append(f"{where}: unknown attribute(s) {unknown} for op {self.name!r}; its attributes: {known}")
        for a in self.attrs:
            if a.name in attrs:
                try:
                    a.check(attrs[a.name], where)
                except IRError as exc:
                    problems.append(str(exc))
            elif a.required or not defaults:
                problems.append(f"{where}: missing attribute {a.name!r} for op {self.name!r}")
        return problems

    def with_defaults(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """``attrs`` with every missing defaulted attribute filled, in schema order (unknown keys kept last)."""
        out = {a.name: attrs[a.name] if a.name in attrs else a.default for a in self.attrs
               if a.name in attrs or not a.required}
        out.update((k, v) for k, v in attrs.items() if k not in out)
        return out

    def check_attrs(self, attrs: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Validate attributes against the schema; fill defaults; reject unknown keys (IRError, first problem)."""
        problems = self.attr_problems(attrs, where)
        if problems:
            raise IRError(problems[0])
        return {a.name: a.check(attrs[a.name], where) if a.name in attrs else a.default for a in self.attrs}

    def role_problems(self, inputs: Mapping[str, Any], where: str) -> list[str]:
        """Unknown roles and missing required ones, one problem each kind."""
        names = [r.name for r in self.roles]
        problems = []
        unknown = [r for r in inputs if r not in names]
        if unknown:
            problems.append(f"{where}: unknown input role(s) {unknown} for op {self.name!r}; its roles: {names}")
        missing = [r.name for r in self.roles if not r.optional and r.name not in inputs]
        if missing:
            problems.append(f"{where}: missing input role(s) {missing} for op {self.name!r}")
        return problems

    def check_roles(self, inputs: Mapping[str, str], where: str) -> None:
        """Reject unknown roles and missing required ones (IRError, first problem)."""
        problems = self.role_problems(inputs, where)
        if problems:
            raise IRError(problems[0])


REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    """Add ``opdef`` to the closed op set (once per name)."""
    if opdef.name in REGISTRY:
        raise IRError(f"op {opdef.name!r} registered twice")
    REGISTRY[opdef.name] = opdef
    return opdef


def get_op(name: str) -> OpDef:
    """The definition of op ``name``; IRError listing the known ops otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise IRError(f"unknown op {name!r}; known ops: {sorted(REGISTRY)}") from None

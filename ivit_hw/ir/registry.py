"""The closed op set: one :class:`OpDef` per op, holding its input roles,
attribute schema, intermediates, numpy kernel, shape rule and range rule.

Adding an op means adding one entry (see :mod:`ivit_hw.ir.opset`); the
serialiser, verifier, range analysis, executor and renderers all read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import Interval, IRError

_REQUIRED = object()

Shape = tuple[int, ...]
Kernel = Callable[[Mapping[str, np.ndarray], Mapping[str, Any], "dict | None"], np.ndarray]
ShapeRule = Callable[[Mapping[str, Shape], Mapping[str, Any]], Shape]


@dataclass(frozen=True)
class Role:
    """An input slot of an op. ``param`` roles must be constants and reach the
    kernel without a batch axis (weights, multipliers, masks)."""

    name: str
    param: bool = False
    optional: bool = False


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
            if not isinstance(value, list | tuple) or not all(_is_int(v) for v in value):
                raise IRError(f"{where}: attribute {self.name!r} must be a list of ints, got {value!r}")
            return [int(v) for v in value]
        if self.kind is int and not _is_int(value):
            raise IRError(f"{where}: attribute {self.name!r} must be an int, got {value!r}")
        if self.kind is bool and not isinstance(value, bool):
            raise IRError(f"{where}: attribute {self.name!r} must be a bool, got {value!r}")
        if self.kind is str and not isinstance(value, str):
            raise IRError(f"{where}: attribute {self.name!r} must be a string, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise IRError(f"{where}: attribute {self.name!r} must be one of {list(self.choices)}, got {value!r}")
        return int(value) if self.kind is int else value


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


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
class OpDef:
    """Everything the tool knows about one op. The range rule returns the
    interval of ``"out"`` and of every name in ``internals``."""

    name: str
    roles: tuple[Role, ...]
    attrs: tuple[Attr, ...]
    kernel: Kernel
    shape: ShapeRule
    ranges: RangeRule
    internals: tuple[str, ...] = ()
    doc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def role(self, name: str) -> Role:
        """The role called ``name``."""
        for r in self.roles:
            if r.name == name:
                return r
        raise IRError(f"op {self.name!r} has no input role {name!r}")

    def const_arg(self, role: str, values: np.ndarray) -> np.ndarray:
        """A constant as its kernel sees it: as stored for a param role, with a batch axis of 1 as data."""
        return values if self.role(role).param else values[None]

    def check_attrs(self, attrs: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Validate attributes against the schema; fill defaults; reject unknown keys."""
        known = {a.name for a in self.attrs}
        unknown = sorted(set(attrs) - known)
        if unknown:
            raise IRError(f"{where}: unknown attribute(s) {unknown} for op {self.name!r}")
        out: dict[str, Any] = {}
        for a in self.attrs:
            if a.name in attrs:
                out[a.name] = a.check(attrs[a.name], where)
            elif a.required:
                raise IRError(f"{where}: missing attribute {a.name!r} for op {self.name!r}")
            else:
                out[a.name] = a.default
        return out

    def check_roles(self, inputs: Mapping[str, str], where: str) -> None:
        """Reject unknown roles and missing required ones."""
        names = {r.name for r in self.roles}
        unknown = sorted(set(inputs) - names)
        if unknown:
            raise IRError(f"{where}: unknown input role(s) {unknown} for op {self.name!r}")
        missing = [r.name for r in self.roles if not r.optional and r.name not in inputs]
        if missing:
            raise IRError(f"{where}: missing input role(s) {missing} for op {self.name!r}")


REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    """Add ``opdef`` to the closed op set (once per name)."""
    if opdef.name in REGISTRY:
        raise IRError(f"op {opdef.name!r} registered twice")
    REGISTRY[opdef.name] = opdef
    return opdef


def get_op(name: str) -> OpDef:
    """The definition of op ``name``; IRError listing the known ops otherwise."""
    from . import opset  # noqa: F401  (fills the registry on first use)

    try:
        return REGISTRY[name]
    except KeyError:
        raise IRError(f"unknown op {name!r}; known ops: {sorted(REGISTRY)}") from None

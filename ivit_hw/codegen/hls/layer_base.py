"""The view-model of one layer (:class:`Layer`), what a builder gets (:class:`LayerCtx`), the ROMs
it reads (:class:`Rom`) and the small helpers every builder shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.types import Interval, IRError
from .widths import CType, const_iv, fitting, native_type

DIV_LATENCY = 36  # cycles of one pipelined 32-bit divider result (estimate)
MAX_RANK = 6
ROUNDING_ENUM = {"floor": "ivit::FLOOR", "half_up": "ivit::HALF_UP", "half_even": "ivit::HALF_EVEN"}


@dataclass
class Rom:
    """A constant array in a weights header: C name, element type, flat values, IR source name."""

    cid: str
    ctype: str
    values: np.ndarray
    source: str
    off_chip: bool = False


@dataclass
class Layer:
    """One kernel call of the top function and its config struct."""

    node: str
    op: str
    cfg: str
    kernel: str
    types: list[tuple[str, str]] = field(default_factory=list)
    consts: list[tuple[str, str]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    roms: list[Rom] = field(default_factory=list)
    loops: dict[str, int] = field(default_factory=dict)
    multipliers: int = 0
    cycles: int = 0
    par: int = 1
    widths: dict[str, str] = field(default_factory=dict)
    sub_cfgs: list[Layer] = field(default_factory=list)


@dataclass
class LayerCtx:
    """What a builder gets: the node, its intervals, buffer names by role, the output buffer."""

    graph: Graph
    node: Node
    cfg: str
    intervals: dict[str, Interval]
    buffers: dict[str, str]
    out: str
    rom_name: Callable[[str], str]
    par: int
    off_chip: bool = False

    def shape(self, role: str) -> tuple[int, ...]:
        return self.graph.tensor(self.node.inputs[role]).shape

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.graph.tensor(self.node.output).shape

    def const(self, role: str) -> np.ndarray:
        return np.asarray(self.graph.constants[self.node.inputs[role]], dtype=np.int64)

    def ctype(self, key: str) -> CType:
        return fitting(self.intervals[key], f"node {self.node.name!r}: {key}")

    def new_layer(self, kernel: str) -> Layer:
        return Layer(self.node.name, self.node.op, self.cfg, kernel, par=self.par)

    def typed(self, layer: Layer, name: str, key: str | Interval) -> CType:
        """Add ``typedef <type of key> name`` to the config and record the width."""
        if isinstance(key, Interval):
            t = fitting(key, f"node {self.node.name!r}: {name}")
        else:
            t = self.ctype(key)
        layer.types.append((name, str(t)))
        layer.widths[name.removesuffix("_t")] = f"{'i' if t.signed else 'u'}{t.bits}"
        return t

    def rom(self, layer: Layer, role: str, values: np.ndarray | None = None) -> str:
        """A ROM for the constant of ``role`` (optionally given broadcast values); its C name."""
        src = self.node.inputs[role]
        vals = self.const(role) if values is None else np.asarray(values, dtype=np.int64)
        name = self.rom_name(f"{src}" if values is None else f"{self.node.name}.{role}")
        ctype = native_type(const_iv(vals), f"constant {src!r}")
        layer.roms.append(Rom(name, ctype, vals.reshape(-1), src))
        return name


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def _rows_cols(shape: tuple[int, ...]) -> tuple[int, int]:
    cols = shape[-1] if shape else 1
    return _size(shape) // max(cols, 1), cols


def _bcast(ctx: LayerCtx, shape: tuple[int, ...], full: tuple[int, ...], what: str) -> int:
    """1, C (last axis) or N: how a broadcast operand of ``shape`` is indexed against ``full``."""
    size = _size(shape)
    if size == 1:
        return 1
    trimmed = tuple(shape)
    while trimmed and trimmed[0] == 1:
        trimmed = trimmed[1:]
    if full and trimmed == (full[-1],):
        return full[-1]
    if tuple(np.broadcast_shapes(shape, full)) != tuple(full):
        raise IRError(f"node {ctx.node.name!r}: {what} shape {shape} does not broadcast to {full}")
    return _size(full)


def _bcast_values(values: np.ndarray, length: int, full: tuple[int, ...]) -> np.ndarray:
    if length == 1:
        return values.reshape(-1)[:1]
    if full and length == full[-1] and values.size == length:
        return values.reshape(-1)
    return np.broadcast_to(values, full).reshape(-1)


def _i(v: int) -> str:
    """An integer literal of any size that fits 64 bits."""
    return f"{int(v)}LL" if abs(int(v)) >= 2**31 - 1 else str(int(v))

"""Integer types, value intervals and tensor specs: the immutable vocabulary
of the fixed-point IR."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import UserValueError

MAX_BITS = 128  # the widest type: an internal the kernel computes on Python ints (requantize's acc*m)
WORD_BITS = 64  # the widest tensor (and ordinary internal): what an executor holds in one int64


class IRError(UserValueError):
    """A problem with a graph, always naming the node, tensor or key at fault."""


def is_int(v: object) -> bool:
    """True for Python and numpy integers, False for bools (the one integer test of the IR)."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


@dataclass(frozen=True)
class IntType:
    """A two's-complement (signed) or plain binary (unsigned) integer of ``bits`` bits."""

    bits: int
    signed: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or isinstance(self.bits, bool):
            raise IRError(f"IntType bits must be an int, got {self.bits!r}")
        if not 1 <= self.bits <= MAX_BITS:
            raise IRError(f"IntType bits must be in [1, {MAX_BITS}], got {self.bits}")
        if not isinstance(self.signed, bool):
            raise IRError(f"IntType signed must be a bool, got {self.signed!r}")

    @property
    def min(self) -> int:
        """Smallest representable value."""
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        """Largest representable value."""
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def holds(self, interval: Interval) -> bool:
        """True when every value of ``interval`` is representable."""
        return self.min <= interval.lo and interval.hi <= self.max

    def check_values(self, values: np.ndarray, what: str) -> None:
        """Raise IRError naming ``what`` unless every value of ``values`` is representable."""
        arr = np.asarray(values)
        if arr.size and (int(arr.min()) < self.min or int(arr.max()) > self.max):
            raise IRError(f"{what}: values [{arr.min()}, {arr.max()}] do not fit {self}")

    @staticmethod
    def fitting(interval: Interval, signed: bool | None = None) -> IntType:
        """The narrowest type holding ``interval`` (signed iff it has negatives, unless forced)."""
        want_signed = interval.lo < 0 if signed is None else signed
        if want_signed:
            bits = max(max(interval.hi, 0).bit_length(), max(-interval.lo - 1, 0).bit_length()) + 1
        else:
            if interval.lo < 0:
                raise IRError(f"no unsigned type holds {interval}")
            bits = max(interval.hi.bit_length(), 1)
        return IntType(bits, want_signed)

    def __str__(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.bits}"


@dataclass(frozen=True)
class Interval:
    """A closed interval of integers ``[lo, hi]`` with unbounded Python ints."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "lo", int(self.lo))
        object.__setattr__(self, "hi", int(self.hi))
        if self.lo > self.hi:
            raise IRError(f"empty interval [{self.lo}, {self.hi}]")

    @staticmethod
    def of_type(t: IntType) -> Interval:
        """The full range of an integer type."""
        return Interval(t.min, t.max)

    def union(self, other: Interval) -> Interval:
        """Smallest interval holding both."""
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    def as_list(self) -> list[int]:
        """``[lo, hi]`` for serialisation."""
        return [self.lo, self.hi]

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi}]"


Scale = float | tuple[float, ...] | None


@dataclass(frozen=True)
class TensorSpec:
    """A named integer tensor: per-sample shape, declared type, compile-time scale, proven range.

    ``shape`` excludes the batch axis (the executors add one). ``scale`` is the
    real value of one LSB: a float, a tuple of floats (per channel) or None
    for index-like tensors (argmax). A per-channel scale runs along the
    per-sample axis ``scale_axis`` (default: the last axis; 0 for a weight's
    output channels); it is None for a scalar scale. ``range`` is the proven
    interval after range analysis (declared, for graph inputs); ``const``
    marks tensors whose values live in ``constants.npz``.
    """

    name: str
    shape: tuple[int, ...]
    dtype: IntType
    scale: Scale = None
    range: Interval | None = None
    const: bool = False
    doc: str = field(default="", compare=False)
    scale_axis: int | None = None

    def __post_init__(self) -> None:
        # a per-channel scale defaults to the last axis; a negative axis counts from the end
        rank = len(self.shape) if isinstance(self.shape, tuple) else 0
        if isinstance(self.scale, tuple) and self.scale_axis is None and rank:
            object.__setattr__(self, "scale_axis", rank - 1)
        elif is_int(self.scale_axis) and -rank <= self.scale_axis < 0:
            object.__setattr__(self, "scale_axis", int(self.scale_axis) + rank)

    def with_range(self, interval: Interval) -> TensorSpec:
        """A copy carrying a (new) proven range."""
        return replace(self, range=interval)

    def scale_map(self) -> np.ndarray | None:
        """The scale as an array broadcastable to ``shape`` (per-channel entries along
        ``scale_axis``), or None without a scale. Assumes a structurally sound spec."""
        if self.scale is None:
            return None
        if not isinstance(self.scale, tuple):
            return np.asarray(float(self.scale))
        view = [1] * len(self.shape)
        view[self.scale_axis] = len(self.scale)
        return np.asarray(self.scale, dtype=np.float64).reshape(view)


@dataclass(frozen=True)
class InternalSpec:
    """An intermediate value inside a node (e.g. Shiftmax's row sum): declared type and proven range."""

    dtype: IntType
    range: Interval | None = None

"""The data-movement and reduction ops of the IR (add, reshape, transpose,
concat, slice, gather, reduce_sum, argmax), written once against an array
namespace. Data arrays carry a leading batch axis; ``axis`` counts
per-sample axes, as in the IR."""

from __future__ import annotations

from typing import Any

from .xp import NP, ArrayOps


def _batched(axis: int, ndim: int) -> int:
    """A per-sample axis (may be negative) as an axis of the batched array."""
    return axis % (ndim - 1) + 1


def add(a: Any, b: Any, *, xp: ArrayOps = NP) -> Any:
    """Elementwise integer add (broadcasting)."""
    return a + b


def reshape(x: Any, shape: list[int], *, xp: ArrayOps = NP) -> Any:
    """Per-sample reshape; the batch axis is kept."""
    return x.reshape((xp.shape(x)[0], *shape))


def transpose(x: Any, perm: list[int], *, xp: ArrayOps = NP) -> Any:
    """Per-sample axis permutation."""
    return xp.permute(x, (0, *(p + 1 for p in perm)))


def concat(a: Any, b: Any, axis: int, *, xp: ArrayOps = NP) -> Any:
    """Concatenate along a per-sample axis; a batch of one (a constant used as data) is broadcast."""
    sa, sb = xp.shape(a), xp.shape(b)
    batch = max(sa[0], sb[0])
    a = xp.broadcast_to(a, (batch, *sa[1:]))
    b = xp.broadcast_to(b, (batch, *sb[1:]))
    return xp.concat([a, b], _batched(axis, len(sa)))


def slice_axis(x: Any, axis: int, start: int, stop: int, *, xp: ArrayOps = NP) -> Any:
    """The contiguous slice [start, stop) of one per-sample axis."""
    ax = _batched(axis, len(xp.shape(x)))
    return x[(slice(None),) * ax + (slice(start, stop),)]


def gather(x: Any, axis: int, index: int, *, xp: ArrayOps = NP) -> Any:
    """One index of a per-sample axis, dropping that axis."""
    ax = _batched(axis, len(xp.shape(x)))
    return x[(slice(None),) * ax + (index,)]


def reduce_sum(x: Any, axis: int, *, xp: ArrayOps = NP) -> Any:
    """Integer sum over a per-sample axis."""
    return xp.sum(x, _batched(axis, len(xp.shape(x))), keepdims=False)


def argmax(x: Any, *, xp: ArrayOps = NP) -> Any:
    """Index of the first largest value on the last axis."""
    return xp.argmax(x, -1)

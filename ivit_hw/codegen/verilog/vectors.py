"""Stimulus and expected outputs of a unit from a golden case (inputs, output of one node)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...ir.registry import get_op
from ...ir.types import IRError


def _stream(arr: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``arr`` broadcast to ``shape`` (numpy rules, as the golden kernel applies them), flattened."""
    try:
        return np.broadcast_to(np.asarray(arr, dtype=np.int64), shape).reshape(-1)
    except ValueError:
        raise IRError(f"{what}: shape {np.shape(arr)} does not broadcast to the stream's {shape}") from None


def stream_vectors(op: str, inputs: Mapping[str, np.ndarray], output: np.ndarray) -> dict[str, np.ndarray]:
    """Flatten a case (data inputs with batch axis, output) into the element streams of its unit.

    Every stream carries one element per output element: data roles become
    ``in_<role>`` (rows of the last axis, one after the other), broadcast to
    the output's shape first (a constant identity term such as the position
    embedding has no batch axis; the unit still takes one element of it per
    element of ``acc``); a mask (True = keep) becomes ``tuser``, broadcast
    the same way.
    """
    opdef = get_op(op)
    out = np.asarray(output, dtype=np.int64)
    vec: dict[str, np.ndarray] = {}
    for role in opdef.roles:
        if role.param or role.name not in inputs:
            continue
        vec[f"in_{role.name}"] = _stream(inputs[role.name], out.shape, f"{op}: input {role.name!r}")
    if "mask" in inputs:
        keep = np.asarray(inputs["mask"]).astype(bool).astype(np.int64)
        vec["tuser"] = _stream(keep, out.shape, f"{op}: mask")
    vec["out"] = out.reshape(-1)
    return vec

"""Stimulus and expected outputs of a unit from a golden case (inputs, output of one node)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...ir.registry import get_op


def stream_vectors(op: str, inputs: Mapping[str, np.ndarray], output: np.ndarray) -> dict[str, np.ndarray]:
    """Flatten a case (data inputs with batch axis, output) into the element streams of its unit.

    Data roles become ``in_<role>`` (rows of the last axis, one after the
    other); a mask (True = keep) becomes ``tuser``, broadcast to the input.
    """
    opdef = get_op(op)
    vec: dict[str, np.ndarray] = {}
    for role in opdef.roles:
        if role.param or role.name not in inputs:
            continue
        vec[f"in_{role.name}"] = np.asarray(inputs[role.name], dtype=np.int64).reshape(-1)
    if "mask" in inputs:
        main = next(r.name for r in opdef.roles if not r.param)
        shape = np.asarray(inputs[main]).shape
        keep = np.broadcast_to(np.asarray(inputs["mask"]).astype(bool), shape[1:])
        vec["tuser"] = np.broadcast_to(keep, shape).reshape(-1).astype(np.int64)
    vec["out"] = np.asarray(output, dtype=np.int64).reshape(-1)
    return vec

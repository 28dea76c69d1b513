"""Checking scales: each tensor's scale on its own (finite, non-zero, positive
unless its op allows a negative one, a per-channel list as long as its
``scale_axis``), and each node's output scale against its op's scale rule
(:mod:`ivit_hw.ir.scale_rules`). Also :func:`output_scale`, the rules as the
export uses them to compute a scale instead of repeating the formula."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .graph import Graph, Node
from .registry import REGISTRY, ScaleClaim, ScaleInputs, get_op
from .types import IRError, TensorSpec, is_int


def tensor_scale_problems(name: str, spec: TensorSpec, allow_negative: bool = False) -> list[str]:
    """Problems with one tensor's scale: not a number, not finite, zero or negative (unless
    allowed), a per-channel list whose length is not that of the ``scale_axis``."""
    scale, axis = spec.scale, spec.scale_axis
    where = f"tensor {name!r}"
    if scale is None:
        return [] if axis is None else [f"{where}: scale_axis {axis} given without a per-channel scale"]
    if isinstance(scale, bool) or not isinstance(scale, float | int | tuple | list):
        return [f"{where}: scale must be a number, a list of numbers or null, got {scale!r}"]
    values = list(scale) if isinstance(scale, tuple | list) else [scale]
    if not all(isinstance(v, float | int) and not isinstance(v, bool) for v in values):
        return [f"{where}: scale entries must be numbers, got {scale!r}"]
    out = []
    if isinstance(scale, tuple | list):
        rank = len(spec.shape)
        if not is_int(axis) or not 0 <= axis < max(rank, 1) or not rank:
            out.append(f"{where}: per-channel scale needs a scale_axis in [0, {rank}) of shape {list(spec.shape)}, "
                       f"got {axis!r}")
        elif spec.shape[axis] != len(values):
            which = "the last axis" if axis == rank - 1 else f"axis {axis}"
            out.append(f"{where}: per-channel scale has {len(values)} entries but {which} of shape "
                       f"{list(spec.shape)} has {spec.shape[axis]}")
    elif axis is not None:
        out.append(f"{where}: scale_axis {axis} given for a scalar scale")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        out.append(f"{where}: scale must be finite, got {bad[0]!r}")
    low = [v for v in values if math.isfinite(v) and (v == 0 or (v < 0 and not allow_negative))]
    if low:
        out.append(f"{where}: scale must be positive, got {low[0]!r}")
    return out


def negative_scale_tensors(graph: Graph) -> set[str]:
    """Tensors allowed a negative scale: outputs of ops with ``negative_scale`` and the
    inputs those ops add on their output scale (``out_scale`` roles)."""
    allowed = set()
    for node in graph.nodes:
        opdef = REGISTRY.get(node.op) if isinstance(node, Node) and isinstance(node.op, str) else None
        if opdef is None or not opdef.negative_scale:
            continue
        allowed.add(node.output)
        allowed.update(t for r in opdef.roles if r.out_scale and r.name in node.inputs
                       for t in [node.inputs[r.name]])
    return allowed


def _fmt(arr: np.ndarray | None) -> str:
    if arr is None:
        return "none"
    flat = np.ravel(arr)
    kept = flat[~np.isnan(flat)]  # NaN: an element with no claim
    flat = kept if kept.size else flat
    lo, hi = f"{float(flat.min()):.9g}", f"{float(flat.max()):.9g}"
    return lo if lo == hi else f"{lo}..{hi} (per element)"


def _claim_problem(node: Node, tname: str, spec: TensorSpec, claim: ScaleClaim) -> str | None:
    where = f"node {node.name!r}: tensor {tname!r}"
    declared = spec.scale_map()
    rule = f"op {node.op!r} gives {{}} ({claim.why})"
    if claim.value is None or declared is None:
        if claim.value is None and declared is None:
            return None
        return f"{where} has scale {_fmt(declared)} but {rule.format(_fmt(claim.value))}"
    value = np.asarray(claim.value)
    while value.ndim > len(spec.shape) and value.shape[0] == 1:
        value = value[0]  # a claim from a higher-rank tensor (the output, about a bias)
    try:
        want = np.broadcast_to(value, spec.shape)
    except ValueError:
        return (f"{where}: {rule.format('a scale of shape ' + str(list(np.shape(claim.value))))} that does not fit "
                f"its shape {list(spec.shape)}")
    have = np.broadcast_to(declared, spec.shape)
    diff = np.abs(have - want)
    bound = claim.rtol * np.abs(want)
    if np.all((diff <= bound) | np.isnan(want)):  # NaN: no claim on that element (requantize's m = 0)
        return None
    i = int(np.argmax(np.where(np.isnan(want), -np.inf, diff - bound)))
    rel = float(diff.ravel()[i] / abs(want.ravel()[i])) if want.ravel()[i] else math.inf
    return (f"{where} has scale {_fmt(have)} but {rule.format(_fmt(want))}; relative difference {rel:.2e} "
            f"exceeds {claim.rtol:.1e}")


def node_scale_inputs(graph: Graph, node: Node, claimed: Mapping[str, np.ndarray | None] | None = None) -> ScaleInputs:
    """What the scale rule of ``node`` sees (structurally sound graph); ``claimed`` replaces the
    stored scale of tensors already found contradicting their producer's rule (None: unknown)."""
    claimed = claimed or {}
    scales, shapes, consts = {}, {}, {}
    for role, tname in node.inputs.items():
        spec = graph.tensors[tname]
        scales[role] = claimed[tname] if tname in claimed else spec.scale_map()
        shapes[role] = spec.shape
        if spec.const:
            consts[role] = graph.constants[tname]
    return ScaleInputs(node.name, scales, consts, shapes, node.attrs)


def scale_rule_problems(graph: Graph) -> list[str]:
    """Every node whose stored output scale (or a claimed input's) contradicts its op's scale
    rule, and every ``out_scale`` input on a scale other than the output's; one line each.

    A contradicted tensor is reported once: its readers see it as having no
    scale (their rules then claim nothing from it), so one wrong scale does
    not cascade downstream.
    """
    problems: list[str] = []
    claimed: dict[str, np.ndarray | None] = {}
    for node in graph.nodes:
        opdef = get_op(node.op)
        claims: tuple[ScaleClaim, ...] = ()
        if opdef.scale_rule is not None:
            try:
                claims = tuple(opdef.scale_rule(node_scale_inputs(graph, node, claimed)))
            except IRError as exc:
                msg = str(exc)
                problems.append(msg if msg.startswith(f"{node.name}:") else f"{node.name}: {msg}")
                continue
        out = graph.tensors[node.output]
        for r in opdef.roles:
            if r.out_scale and r.name in node.inputs and graph.tensors[node.inputs[r.name]].scale is not None:
                claims += (ScaleClaim(out.scale_map(), 0.0, "the output's scale", target=r.name),)
        for claim in claims:
            tname = node.output if claim.target == "out" else node.inputs[claim.target]
            found = _claim_problem(node, tname, graph.tensors[tname], claim)
            if found:
                problems.append(found)
                if claim.target == "out":
                    claimed[tname] = None
    return problems


def output_scale(op: str, scales: Mapping[str, Any], attrs: Mapping[str, Any] | None = None,
                 consts: Mapping[str, np.ndarray] | None = None,
                 shapes: Mapping[str, tuple[int, ...]] | None = None) -> float | np.ndarray | None:
    """The output scale op ``op``'s scale rule gives for ``scales`` by role.

    A scale is a float, or a 1-D array per channel: along axis 0 for a
    ``weight`` role (output channels), along the last axis otherwise. The
    result is a float, a 1-D per-channel array (last axis) or None. For the
    export, which must not repeat the formulas of the rules; rules that read
    shapes (``matmul`` with ``fold_rsqrt_k``) need ``shapes``.
    """
    opdef = get_op(op)
    maps = {}
    for role, s in scales.items():
        arr = None if s is None else np.asarray(s, dtype=np.float64)
        if arr is not None and arr.ndim == 1 and role == "weight":
            arr = arr.reshape(-1, 1)
        maps[role] = arr
    checked = opdef.check_attrs(dict(attrs or {}), f"scale of op {op!r}")
    si = ScaleInputs(op, maps, dict(consts or {}), dict(shapes or {}), checked)
    claims = opdef.scale_rule(si) if opdef.scale_rule else ()
    claims = [c for c in claims if c.target == "out"]
    if not claims:
        raise IRError(f"op {op!r}: its scale rule gives no output scale for inputs {sorted(scales)}")
    value = claims[0].value
    if value is None:
        return None
    return float(value) if np.ndim(value) == 0 else np.asarray(value).reshape(-1)

"""How often each requantize saturates: the share of elements whose rounded
value (``round(acc*m/2^e)`` plus the rounded identity term) lay outside the
output type and was clamped.

:class:`ClipCounter` is an observer for :func:`ivit_hw.runtime.run_graph`
(``observe=counter``): it recomputes the pre-clamp value of every requantize
node with the same exact integer helpers the kernel uses, so it needs no
trace and keeps only two counters per node, whatever the number of images.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.registry import get_op
from ..ir.types import Interval
from ..ops.intmath import mul_round_shift
from ..ops.requant import float_requantize_ok, float_scale, preclamp_float
from ..ops.xp import range_max_abs

__all__ = ["CLIP_WARN_SHARE", "ClipCounter", "ClipStat"]

#: ``eval`` and ``run`` warn when a requantize clipped more than this share of its elements.
CLIP_WARN_SHARE = 0.01


@dataclass
class ClipStat:
    """Clipped and total element counts of one requantize node."""

    node: str
    out_bits: int
    clipped: int = 0
    total: int = 0

    @property
    def share(self) -> float:
        """clipped / total (0 when nothing was seen)."""
        return self.clipped / self.total if self.total else 0.0


def requantize_preclamp(args: Mapping[str, np.ndarray], attrs: Mapping[str, object]) -> np.ndarray:
    """The value requantize clamps: ``round(acc*m/2^e) [+ round(identity*m_id/2^e_id)]`` (exact).

    ``args`` holds every role (data and param constants) as numpy arrays.
    """
    rounding = str(attrs.get("rounding", "half_even"))
    y = mul_round_shift(np.asarray(args["acc"]), np.asarray(args["m"]), np.asarray(args["e"]), rounding)
    if args.get("identity") is not None:
        ident = mul_round_shift(np.asarray(args["identity"]), np.asarray(args["m_id"]), np.asarray(args["e_id"]),
                                rounding)
        y = y.astype(object) + ident.astype(object) if object in (y.dtype, ident.dtype) else y + ident
    return np.asarray(y)


def float_preclamp_scales(graph: Graph) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """``{node: (scale, scale_id)}`` for the requantize nodes of ``graph`` whose saturation
    :func:`~ivit_hw.ops.requant.preclamp_float` counts exactly (:func:`~ivit_hw.ops.requant.float_requantize_ok`
    from the proven ranges, or the declared types where a range is missing)."""
    out = {}
    for node in graph.nodes:
        if node.op != "requantize":
            continue
        c = {role: graph.constants[t] for role, t in node.inputs.items() if t in graph.constants}
        if not {"m", "e"} <= c.keys() or ("identity" in node.inputs and not {"m_id", "e_id"} <= c.keys()):
            continue
        spans = {role: graph.tensor(node.inputs[role]) for role in ("acc", "identity") if role in node.inputs}
        ivs = {role: spec.range or Interval.of_type(spec.dtype) for role, spec in spans.items()}
        maxes = {role: range_max_abs((iv.lo, iv.hi)) for role, iv in ivs.items()}
        attrs = get_op("requantize").check_attrs(node.attrs, f"node {node.name!r}")
        if float_requantize_ok(maxes["acc"], c["m"], c["e"], attrs["out_bits"], attrs["rounding"],
                               maxes.get("identity"), c.get("m_id"), c.get("e_id")):
            out[node.name] = (float_scale(c["m"], c["e"]),
                              float_scale(c["m_id"], c["e_id"]) if "identity" in node.inputs else None)
    return out


class ClipCounter:
    """Observer counting, per requantize node of ``graph``, the elements that saturated; on the nodes of
    :func:`float_preclamp_scales` in float64 (exact counts, see there)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.stats: dict[str, ClipStat] = {}
        #: the nodes counted through :func:`~ivit_hw.ops.requant.preclamp_float`, with their float scales
        self.float_nodes = float_preclamp_scales(graph)

    def __call__(self, node: Node, args: Mapping[str, np.ndarray], out: np.ndarray) -> None:
        """Called by ``run_graph`` after each node (data arguments in ``args``, params from the graph)."""
        if node.op != "requantize":
            return
        bits = int(node.attrs["out_bits"])
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if node.name in self.float_nodes:
            scale, scale_id = self.float_nodes[node.name]
            pre = preclamp_float(args["acc"], scale, str(node.attrs.get("rounding", "half_even")),
                                 args.get("identity"), scale_id)
        else:
            every = {role: args[role] if role in args else self.graph.constants[t] for role, t in node.inputs.items()}
            pre = requantize_preclamp(every, node.attrs)
        stat = self.stats.setdefault(node.name, ClipStat(node.name, bits))
        stat.clipped += int(np.count_nonzero((pre < lo) | (pre > hi)))
        stat.total += int(pre.size)

    def over(self, share: float = CLIP_WARN_SHARE) -> list[ClipStat]:
        """Nodes that clipped more than ``share`` of their elements, worst first."""
        return sorted((s for s in self.stats.values() if s.share > share), key=lambda s: -s.share)

    def warning(self, share: float = CLIP_WARN_SHARE) -> str | None:
        """One warning line when any requantize clipped more than ``share``, else None."""
        bad = self.over(share)
        if not bad:
            return None
        worst = ", ".join(f"{s.node} {100 * s.share:.2g} %" for s in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        return (f"warning: {len(bad)} requantize node(s) clipped more than {100 * share:g} % of their elements "
                f"(saturated at the output width): {worst}{more}; 'ivit-hw compare' shows every layer")

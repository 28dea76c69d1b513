"""How often each requantize saturates: the share of elements whose rounded
value (``round(acc*m/2^e)`` plus the rounded identity term) lay outside the
output type and was clamped.

:class:`ClipCounter` is an observer for :func:`ivit_hw.runtime.run_graph`
(``observe=counter``): it recomputes the pre-clamp value of every requantize
node with the same exact integer helpers the kernel uses (only for the
elements whose output sits at a bound of its type: every clipped element
does), so it needs no trace and keeps only two counters per node, whatever
the number of images.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Node
from ..ops.intmath import mul_round_shift

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


class ClipCounter:
    """Observer counting, per requantize node of ``graph``, the elements that saturated."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.stats: dict[str, ClipStat] = {}

    def __call__(self, node: Node, args: Mapping[str, np.ndarray], out: np.ndarray) -> None:
        """Called by ``run_graph`` after each node (data arguments in ``args``, params from the graph)."""
        if node.op != "requantize":
            return
        bits = int(node.attrs["out_bits"])
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        out = np.asarray(out)
        stat = self.stats.setdefault(node.name, ClipStat(node.name, bits))
        stat.total += int(out.size)
        # out = clamp(pre), so an element that clipped sits at a bound: recompute only those elements
        at_bound = np.nonzero((out <= lo) | (out >= hi))
        if not at_bound[0].size:
            return
        every = {role: args[role] if role in args else self.graph.constants[t] for role, t in node.inputs.items()}
        pre = requantize_preclamp({role: np.broadcast_to(np.asarray(v), out.shape)[at_bound]
                                   for role, v in every.items()}, node.attrs)
        stat.clipped += int(np.count_nonzero((pre < lo) | (pre > hi)))

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

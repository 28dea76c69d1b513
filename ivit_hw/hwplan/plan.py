"""The hardware plan of a graph on a part: per layer its parallelism and cycles, per buffer its
kind, size and memory, the totals against the part's resources.

The plan models the streaming architecture (``docs/hls.md``): layers connected by FIFOs in
token/row order, all running at once, so the steady-state interval per image is the slowest
layer's cycle count, not the sum. See :mod:`.costs` for cycles, :mod:`.buffers` for which buffers
exist and :mod:`.memory` for how blocks are counted.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..ir.graph import Graph, Node
from .buffers import Need, attention_layout, node_buffers, stream_buffers, weight_buffers
from .costs import GEMM_OPS, Work, node_work
from .memory import blocks_of, small_memory
from .parts import Part, PlanError, get_part

WEIGHTS = ("on_chip", "off_chip")


@dataclass(frozen=True)
class PlanConfig:
    """What the user chooses: ``parallelism`` (MACs per clock of every GEMM, or a mapping of node
    name globs to lanes, ``default`` for GEMMs the globs miss; a glob may also give an element op
    lanes), or a ``dsp_budget`` the plan balances layer cycles under (it then ignores
    ``parallelism``); weight placement; the default stream FIFO depth; ``require_divisor``: refuse a
    GEMM parallelism that does not divide its reduction length (the HLS kernels pad instead);
    ``element_lanes``: whether ops other than GEMMs may get more than one lane (False for a renderer
    whose element kernels handle one element per clock)."""

    parallelism: int | dict[str, int] = 1
    dsp_budget: int | None = None
    weights: str = "on_chip"
    fifo_depth: int = 2
    require_divisor: bool = False
    element_lanes: bool = True

    def __post_init__(self) -> None:
        par = self.parallelism
        if isinstance(par, dict):
            for key, value in par.items():
                _check_pos(value, f"parallelism[{key!r}]")
        else:
            _check_pos(par, "parallelism")
        if self.dsp_budget is not None:
            _check_pos(self.dsp_budget, "dsp_budget")
        if self.weights not in WEIGHTS:
            raise PlanError(f"weights must be one of {list(WEIGHTS)}, got {self.weights!r}")
        _check_pos(self.fifo_depth, "fifo_depth")

    def explicit(self, node: str, gemm: bool) -> int | None:
        """The lanes the config gives ``node``: the first matching glob, else (GEMMs) the default."""
        par = self.parallelism
        if not isinstance(par, dict):
            return par if gemm else None
        for pattern, value in par.items():
            if pattern != "default" and fnmatch.fnmatchcase(node, pattern):
                return value
        return par.get("default", 1) if gemm else None


def _check_pos(value: Any, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PlanError(f"plan config: {key} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class LayerPlan:
    """One layer: MACs per image (0 outside GEMMs), lanes per clock, cycles per image, multipliers."""

    node: str
    op: str
    macs: int
    parallelism: int
    cycles: int
    multipliers: int


@dataclass(frozen=True)
class BufferPlan:
    """One buffer: kind (stream, row, whole, weights), words, bits per word, memory (reg, lutram,
    bram, uram, dram), banks (parallel reads per clock), blocks (BRAM18 or URAM) on the part."""

    tensor: str
    kind: str
    depth: int
    width: int
    memory: str
    banks: int
    blocks: int

    @property
    def bits(self) -> int:
        return self.depth * self.width


@dataclass(frozen=True)
class HardwarePlan:
    """The plan: layers, buffers, the interval (slowest layer), totals and what overflows the part."""

    graph_name: str
    part: Part
    config: PlanConfig
    layers: tuple[LayerPlan, ...]
    buffers: tuple[BufferPlan, ...]
    interval: int
    totals: dict[str, int] = field(default_factory=dict)
    overfit: tuple[str, ...] = ()

    @property
    def fits(self) -> bool:
        return not self.overfit

    def layer(self, node: str) -> LayerPlan:
        """The plan of layer ``node``; PlanError when the graph has none."""
        for lp in self.layers:
            if lp.node == node:
                return lp
        raise PlanError(f"the plan of {self.graph_name!r} has no layer {node!r}")

    def images_per_second(self, clock_mhz: float) -> float:
        """Steady-state throughput at ``clock_mhz``."""
        return clock_mhz * 1e6 / self.interval if self.interval else 0.0

    def utilisation(self) -> float:
        """GEMM MACs per image / (GEMM multipliers x interval): 1.0 when every multiplier works every clock."""
        gemms = [lp for lp in self.layers if lp.op in GEMM_OPS and lp.multipliers]  # not shift-add GEMMs
        mults = sum(lp.multipliers for lp in gemms)
        return sum(lp.macs for lp in gemms) / (mults * self.interval) if mults and self.interval else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole plan."""
        return {"graph": self.graph_name, "part": asdict(self.part), "config": asdict(self.config),
                "interval_cycles": self.interval, "totals": dict(self.totals), "fits": self.fits,
                "overfit": list(self.overfit), "gemm_utilisation": round(self.utilisation(), 4),
                "layers": [asdict(lp) for lp in self.layers],
                "buffers": [asdict(b) for b in self.buffers]}

    def summary_lines(self, clock_mhz: float | None = None) -> list[str]:
        """A few human lines: interval, multipliers, on-chip memory, the verdict."""
        t = self.totals
        lines = [f"plan for {self.part.name}: interval {self.interval:,} cycles/image"
                 + (f" ({self.images_per_second(clock_mhz):,.1f} images/s at {clock_mhz:g} MHz)" if clock_mhz else "")
                 + f", {t['macs']:,} MACs/image, GEMM utilisation {self.utilisation():.1%}",
                 f"multipliers {t['dsp']:,}/{self.part.dsp:,}, BRAM18 {t['bram18']:,}/{self.part.bram18:,}, "
                 f"URAM {t['uram']:,}/{self.part.uram:,}, on chip {t['bits_on_chip'] / 1e6:.2f} Mbit, "
                 f"off chip {t['bits_off_chip'] / 1e6:.2f} Mbit"]
        lines += [f"OVERFIT {line}" for line in self.overfit] or ["fits"]
        return lines


def _lanes_fixed(works: list[Work], config: PlanConfig) -> dict[str, int]:
    lanes = {}
    for w in works:
        p = config.explicit(w.node, w.gemm)
        if p is None or not (w.gemm or config.element_lanes):
            lanes[w.node] = 1
            continue
        if w.gemm and config.require_divisor and w.cols % p:
            raise PlanError(f"layer {w.node!r}: parallelism {p} does not divide its reduction length {w.cols}")
        lanes[w.node] = min(p, w.cols)
    return lanes


def _lanes_for(w: Work, target: int) -> int:
    """The fewest lanes that meet ``target`` cycles per image (all of the row when none do)."""
    per_row = target // max(1, w.rows)  # cycles one row may take
    if per_row < 1:
        return w.cols
    return min(w.cols, -(-w.cols // per_row))


def _lanes_balanced(works: list[Work], budget: int, element_lanes: bool) -> dict[str, int]:
    """HG-PIPE-style balance: the smallest interval whose lanes cost at most ``budget`` multipliers
    (ops other than GEMMs keep one lane unless ``element_lanes``)."""
    free = [w for w in works if w.gemm or element_lanes]
    fixed = [w for w in works if not (w.gemm or element_lanes)]
    fixed_cost = sum(w.mult_per_lane for w in fixed)

    def cost(target: int) -> int:
        return fixed_cost + sum(w.mult_per_lane * _lanes_for(w, target) for w in free)

    lanes = {w.node: 1 for w in fixed}
    floor = max([w.cycles(w.cols) for w in free] + [w.cycles(1) for w in fixed] + [1])
    hi = max([w.cycles(1) for w in works] + [floor])
    if cost(hi) > budget:
        units = f" ({fixed_cost} of them in the one-lane element units)" if fixed_cost else ""
        raise PlanError(f"dsp_budget {budget} is below the {cost(hi)} multipliers of one lane per layer{units}")
    lo = floor
    while lo < hi:
        mid = (lo + hi) // 2
        if cost(mid) <= budget:
            hi = mid
        else:
            lo = mid + 1
    lanes.update({w.node: _lanes_for(w, hi) for w in free})
    return lanes


def _place(needs: list[Need], part: Part) -> list[BufferPlan]:
    """Memory of every buffer: reg/lutram when small, dram when off chip, else BRAM; when BRAM
    overflows and the part has URAM, the largest BRAM buffers move to URAM while it lasts."""
    out = []
    for n in needs:
        mem = "dram" if n.off_chip else (small_memory(n.depth, n.width, n.banks) or "bram")
        out.append(BufferPlan(n.tensor, n.kind, n.depth, n.width, mem, n.banks,
                              blocks_of(mem, n.depth, n.width, n.banks)))
    bram = sum(b.blocks for b in out if b.memory == "bram")
    uram = 0
    if bram > part.bram18 and part.uram:
        for i in sorted(range(len(out)), key=lambda j: -out[j].bits):
            b = out[i]
            if b.memory != "bram":
                continue
            ub = blocks_of("uram", b.depth, b.width, b.banks)
            if uram + ub > part.uram:
                continue
            out[i] = BufferPlan(b.tensor, b.kind, b.depth, b.width, "uram", b.banks, ub)
            uram += ub
            bram -= b.blocks
            if bram <= part.bram18:
                break
    return out


def _totals(layers: list[LayerPlan], buffers: list[BufferPlan]) -> dict[str, int]:
    on = [b for b in buffers if b.memory != "dram"]
    return {"macs": sum(lp.macs for lp in layers), "dsp": sum(lp.multipliers for lp in layers),
            "bram18": sum(b.blocks for b in buffers if b.memory == "bram"),
            "uram": sum(b.blocks for b in buffers if b.memory == "uram"),
            "bits_on_chip": sum(b.bits for b in on),
            "bits_lutram": sum(b.bits for b in on if b.memory == "lutram"),
            "bits_reg": sum(b.bits for b in on if b.memory == "reg"),
            "bits_off_chip": sum(b.bits for b in buffers if b.memory == "dram"),
            "sum_cycles": sum(lp.cycles for lp in layers)}


def _overfit(totals: dict[str, int], part: Part) -> tuple[str, ...]:
    checks = (("multipliers", totals["dsp"], part.dsp, "DSP"), ("BRAM18", totals["bram18"], part.bram18, "BRAM18"),
              ("URAM", totals["uram"], part.uram, "URAM"))
    return tuple(f"{what}: the plan needs {need:,}, {part.name} has {have:,} {unit}"
                 for what, need, have, unit in checks if need > have)


def plan_layers(graph: Graph, config: PlanConfig, nodes: Sequence[Node] | None = None,
                pieces: Callable[[Node], int] | None = None) -> list[LayerPlan]:
    """Per layer (of ``nodes``, default every node) its MACs, lanes (from the config, or balanced
    under ``dsp_budget``), cycles and multipliers in the streaming architecture. ``pieces(node)``, when
    given, is the hard multipliers one lane of ``node`` takes (a renderer that knows its operand widths
    counts them with :func:`~ivit_hw.hwplan.dsp.dsp_pieces`); without it :data:`~.costs.MULT_PER_LANE`."""
    chosen = list(graph.nodes if nodes is None else nodes)
    works = [node_work(graph, n) for n in chosen]
    if pieces is not None:
        works = [replace(w, mult_per_lane=int(pieces(n))) for w, n in zip(works, chosen, strict=True)]
    if config.dsp_budget is not None:
        lanes = _lanes_balanced(works, config.dsp_budget, config.element_lanes)
    else:
        lanes = _lanes_fixed(works, config)
    return [LayerPlan(w.node, w.op, w.macs, lanes[w.node], w.cycles(lanes[w.node]),
                      w.mult_per_lane * lanes[w.node]) for w in works]


def assemble(graph_name: str, part: str | Part, config: PlanConfig, layers: list[LayerPlan],
             needs: list[Need]) -> HardwarePlan:
    """A plan from layers and buffers before placement: memory placement, totals, the overfit lines.
    :func:`make_plan` passes the streaming architecture's buffers; a renderer with another
    architecture passes its own (the HLS target's arrays)."""
    part = get_part(part) if isinstance(part, str) else part
    buffers = _place(needs, part)
    totals = _totals(layers, buffers)
    return HardwarePlan(graph_name, part, config, tuple(layers), tuple(buffers),
                        max((lp.cycles for lp in layers), default=0), totals, _overfit(totals, part))


def make_plan(graph: Graph, part: str | Part, config: PlanConfig | None = None) -> HardwarePlan:
    """The hardware plan of ``graph`` (analysed: proven ranges give the widths) on ``part`` in the
    streaming architecture."""
    part = get_part(part) if isinstance(part, str) else part
    config = config or PlanConfig()
    layers = plan_layers(graph, config)
    lanes = {lp.node: lp.parallelism for lp in layers}
    attn = attention_layout(graph)
    kinds = {n.name: node_buffers(graph, n, lanes[n.name], attn) for n in graph.nodes}
    needs = stream_buffers(graph, config.fifo_depth, lanes, kinds)
    seen: set[str] = set()
    for n in graph.nodes:
        needs += kinds[n.name]
        needs += weight_buffers(graph, n, lanes[n.name], config.weights == "off_chip", seen)
    return assemble(graph.name, part, config, layers, needs)


def config_from(doc: Any, where: str = "plan config") -> PlanConfig:
    """A :class:`PlanConfig` from a YAML mapping (keys ``parallelism``, ``dsp_budget``, ``weights``,
    ``fifo_depth``); PlanError naming a bad key."""
    if doc is None:
        return PlanConfig()
    if not isinstance(doc, dict):
        raise PlanError(f"{where}: expected a mapping")
    keys = ("parallelism", "dsp_budget", "weights", "fifo_depth", "require_divisor", "element_lanes")
    unknown = sorted(set(doc) - set(keys))
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {unknown}; known: {list(keys)}")
    par = doc.get("parallelism", 1)
    if isinstance(par, dict):
        par = {str(k): v for k, v in par.items()}
    return PlanConfig(par, doc.get("dsp_budget"), doc.get("weights", "on_chip"), doc.get("fifo_depth", 2),
                      bool(doc.get("require_divisor", False)), bool(doc.get("element_lanes", True)))


__all__ = ["BufferPlan", "HardwarePlan", "LayerPlan", "PlanConfig", "PlanError", "assemble", "config_from", "make_plan",
           "plan_layers"]

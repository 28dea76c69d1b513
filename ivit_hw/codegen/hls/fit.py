"""The hardware plan of a rendered HLS project: the plan's parallelism for its GEMMs, and its
accounting of what the project really holds (every dataflow channel a whole array, two copies as
Vitis makes ping-pong buffers of them; every ROM), checked against the part."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ...hwplan import HardwarePlan, LayerPlan, Need, PlanError, assemble, get_part, plan_layers
from ...hwplan.costs import node_work
from ...ir.graph import Graph, Node
from ...ir.types import IRError
from .layers import Layer, Rom
from .options import HlsOptions

PIPO = 2  # a DATAFLOW channel array is a ping-pong buffer
_NATIVE_BITS = {"char": 8, "short": 16, "int": 32, "long long": 64}


def gemm_lanes(graph: Graph, nodes: Sequence[Node], opts: HlsOptions) -> dict[str, int]:
    """Parallelism per node from the plan (the config's, or balanced under its DSP budget)."""
    try:
        get_part(opts.part)
        return {lp.node: lp.parallelism for lp in plan_layers(graph, opts.plan_config(), nodes)}
    except PlanError as exc:
        raise IRError(str(exc)) from None


def ctype_bits(ctype: str) -> int:
    """Bits of a C type of the project: ``ap_int<W>``, ``ap_uint<W>``, ``int8_t`` ..., ``unsigned char``."""
    m = re.search(r"<(\d+)>", ctype) or re.search(r"int(\d+)_t", ctype)
    if m:
        return int(m.group(1))
    return _NATIVE_BITS[ctype.replace("unsigned ", "").strip()]


def partitions(pragmas: list[str]) -> dict[str, int]:
    """Array -> cyclic partition factor, from the ``ARRAY_PARTITION`` pragmas."""
    out = {}
    for pr in pragmas:
        m = re.match(r"ARRAY_PARTITION variable=(\w+) cyclic factor=(\d+)", pr)
        if m:
            out[m.group(1)] = max(out.get(m.group(1), 1), int(m.group(2)))
    return out


def project_plan(graph: Graph, nodes: Sequence[Node], opts: HlsOptions, layers: list[Layer],
                 buffers: list[dict[str, Any]], roms: list[Rom], pragmas: list[str],
                 extra: Sequence[Need] = ()) -> HardwarePlan:
    """The plan of the rendered project: its layers' cycles (the kernels' loops) and multipliers,
    its arrays and ROMs and the ``extra`` buffers (the streaming top's FIFOs, row and whole
    buffers) placed and counted on ``opts.part``."""
    by_name = {n.name: n for n in nodes}
    lps = [LayerPlan(layer.node, layer.op, node_work(graph, by_name[layer.node]).macs, layer.par, layer.cycles,
                     layer.multipliers) for layer in layers]
    banks = partitions(pragmas)
    needs = [Need(b["cid"], "whole", PIPO * b["size"], ctype_bits(b["ctype"]), banks.get(b["cid"], 1))
             for b in buffers]
    needs += list(extra)
    needs += [Need(r.cid, "weights", int(r.values.size), ctype_bits(r.ctype), banks.get(r.cid, 1), r.off_chip)
              for r in roms]
    rom_bits = {r.cid: ctype_bits(r.ctype) for r in roms}
    for layer in layers:  # the off-chip kernels' local weight row (one burst), par banks
        if "_axi" in layer.kernel:
            k = int(dict(layer.consts)["k"])
            needs.append(Need(f"{layer.cfg}.wrow", "row", k, rom_bits[layer.args[1]], layer.par))
    try:
        return assemble(graph.name, opts.part, opts.plan_config(), lps, needs)
    except PlanError as exc:
        raise IRError(str(exc)) from None


def refuse_overfit(plan: HardwarePlan, opts: HlsOptions) -> None:
    """IRError (one line) when the plan does not fit and ``--allow-overfit`` was not given."""
    if plan.overfit and not opts.allow_overfit:
        more = f" (and {len(plan.overfit) - 1} more)" if len(plan.overfit) > 1 else ""
        raise IRError(f"graph {plan.graph_name!r} does not fit {plan.part.name}: {plan.overfit[0]}{more}; "
                      "--allow-overfit writes it anyway")

"""The hardware plan's figures for a few graphs, side by side with HG-PIPE's DeiT-T (docs/hls.md).

    python examples/hls_plan_table.py GRAPH.ivit [GRAPH.ivit ...] [--part xczu9eg] [--mhz 300]
        [--budgets 312,2520] [--hls]

For every graph and DSP budget: the streaming plan (weights on chip when they fit, else off chip):
on-chip memory, multipliers, BRAM18/URAM, interval and images/s at ``--mhz``, the ideal interval
(MACs / multipliers) and the GEMM utilisation. ``--hls`` adds the HLS projects' own accounting
(what ``ivit-hw codegen --target hls`` checks): the streaming top (``dataflow: stream``, the
default) at each budget, and the array top (``dataflow: tensor``, every channel a whole ping-pong
array) at parallelism 8.
No timing is measured here: every figure is the plan's own accounting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ivit_hw.hwplan import PlanConfig, make_plan
from ivit_hw.ir.serialize import load_graph

HG_PIPE = {"cycles": 57_625, "dsp": 312, "mhz": 425, "img_s": 7_118}


def _row(name: str, what: str, plan, mhz: float) -> str:
    t = plan.totals
    ideal = t["macs"] / max(1, sum(lp.multipliers for lp in plan.layers if lp.op in ("linear", "matmul",
                                                                                        "patch_embed")))
    return (f"| {name} | {what} | {t['bits_on_chip'] / 1e6:.2f} | {t['bits_off_chip'] / 1e6:.2f} | {t['dsp']:,} | "
            f"{t['bram18']:,} / {t['uram']:,} | {plan.interval:,} | {ideal:,.0f} | {plan.utilisation():.0%} | "
            f"{plan.images_per_second(mhz):,.0f} | {plan.interval / HG_PIPE['cycles']:.1f}x | "
            f"{'yes' if plan.fits else 'no: ' + '; '.join(plan.overfit)} |")


def _hls_plan(graph, part: str, dataflow: str, **kw):
    from ivit_hw.codegen.hls import HlsOptions
    from ivit_hw.codegen.hls.project import hls_plan

    return hls_plan(graph, HlsOptions(part=part, dataflow=dataflow, **kw))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("graphs", nargs="+")
    p.add_argument("--part", default="xczu9eg")
    p.add_argument("--mhz", type=float, default=300.0)
    p.add_argument("--budgets", default="312,2520")
    p.add_argument("--hls", action="store_true")
    a = p.parse_args()
    print("| graph | design | on chip Mbit | off chip Mbit | multipliers | BRAM18 / URAM | interval (cycles) | "
          "MACs / GEMM multipliers | GEMM utilisation | images/s | vs HG-PIPE interval | fits "
          f"{a.part} |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in a.graphs:
        g = load_graph(path)
        name = Path(path).stem
        for budget in (int(x) for x in a.budgets.split(",")):
            for weights in ("on_chip", "off_chip"):
                plan = make_plan(g, a.part, PlanConfig(dsp_budget=budget, weights=weights))
                print(_row(name, f"stream, budget {budget}, weights {weights}", plan, a.mhz))
                if plan.fits:
                    break
        if a.hls:
            for budget in (int(x) for x in a.budgets.split(",")):
                for weights in ("on_chip", "off_chip"):
                    plan = _hls_plan(g, a.part, "stream", dsp_budget=budget, weights=weights)
                    print(_row(name, f"HLS stream top, budget {budget}, weights {weights}", plan, a.mhz))
                    if plan.fits:
                        break
            print(_row(name, "HLS array top (dataflow: tensor, P=8)", _hls_plan(g, a.part, "tensor", default_par=8),
                       a.mhz))
    print(f"| HG-PIPE DeiT-T (VCK190) | published | | | {HG_PIPE['dsp']} DSP (+669 k LUT) | 1,006.5 BRAM | "
          f"{HG_PIPE['cycles']:,} | | | {HG_PIPE['img_s']:,} at {HG_PIPE['mhz']} MHz | 1.0x | |")


if __name__ == "__main__":
    main()

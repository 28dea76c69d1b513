"""Hardware ablation: every I-ViT unit beside its baselines at the same widths and row lengths.

Builds one graph holding the units side by side (ViT-Base sizes: attention rows of 197 tokens,
LayerNorm over 768 channels, GELU over the 3072-wide MLP hidden layer, requantize of a 768-wide
32-bit accumulator), renders it with ``ivit-hw codegen --target verilog`` and synthesises it with
``ivit-hw synth`` (ECP5-25k, place and route at 150 MHz), then writes the table and a PNG.

    python examples/hardware_ablation.py out/hw_ablation        # ~tens of minutes on 2 cores
    python examples/hardware_ablation.py out/hw_ln --groups LayerNorm GELU   # only groups whose label holds a word

With ``--groups`` only the units of the matching groups are synthesised and only their rows of
``docs/hardware_ablation.md`` are replaced (the others keep their last measured values).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ivit_hw import ops
from ivit_hw.cli import main
from ivit_hw.ir import GraphBuilder, Interval, IntType
from ivit_hw.ir.scales import output_scale
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ops.params import exp_x0, gelu_x0, ibert_exp_params, ibert_gelu_params

TOKENS, HIDDEN, MLP = 197, 768, 3072
GROUPS = {"softmax (197 tokens, 8-bit scores)": ("shiftmax", "ibert_softmax", "log_int_softmax"),
          "GELU (3072 hidden, 8-bit)": ("shiftgelu", "ibert_gelu"),
          "LayerNorm (768 channels, 16-bit)": ("ilayernorm", "ibert_layernorm", "l1_layernorm"),
          "requantize (768 channels, 32 -> 8 bit)": ("requantize",)}


def ablation_graph():
    """One graph, nine units, shared inputs at ViT-Base sizes."""
    b = GraphBuilder("hw_ablation")
    scores = b.input("scores", (1, TOKENS), IntType(8), 0.1, Interval(-128, 127))
    hidden = b.input("hidden", (1, MLP), IntType(8), 0.05, Interval(-128, 127))
    resid = b.input("resid", (1, HIDDEN), IntType(16), 0.01, Interval(-32768, 32767))
    acc = b.input("acc", (1, HIDDEN), IntType(32), 1.0, Interval(-(2**31), 2**31 - 1))
    outs = [b.node("shiftmax", {"x": scores}, "y_shiftmax", IntType(16), 2.0**-15, {"x0": exp_x0(0.1)},
                   name="shiftmax")]
    p = ibert_exp_params(0.1)
    outs.append(b.node("ibert_softmax", {"x": scores}, "y_ibert_softmax", IntType(17),
                       output_scale("ibert_softmax", {"x": 0.1}, p), p, name="ibert_softmax"))
    p.pop("h")
    outs.append(b.node("log_int_softmax", {"x": scores}, "y_log_int_softmax", IntType(8), None, p,
                       name="log_int_softmax"))
    outs.append(b.node("shiftgelu", {"x": hidden}, "y_shiftgelu", IntType(16), 0.05 / 128, {"x0": gelu_x0(0.05)},
                       name="shiftgelu"))
    g = ibert_gelu_params(0.05)
    g.pop("out_scale")
    outs.append(b.node("ibert_gelu", {"x": hidden}, "y_ibert_gelu", IntType(32),
                       output_scale("ibert_gelu", {"x": 0.05}, g), g, name="ibert_gelu"))
    rng = np.random.default_rng(0)
    bias = b.const("ln.bias", rng.integers(-3000, 3000, HIDDEN), IntType(32))
    for op in ("ilayernorm", "ibert_layernorm", "l1_layernorm"):
        outs.append(b.node(op, {"x": resid, "bias_int": bias}, f"y_{op}", IntType(32), None, {}, name=op))
    m, e = ops.dyadic(0.001 * (1 + np.arange(HIDDEN) / HIDDEN))
    outs.append(b.node("requantize", {"acc": acc, "m": b.const("rq.m", m, IntType(32)),
                                      "e": b.const("rq.e", e, IntType(8, signed=False))},
                       "y_requantize", IntType(8),
                       output_scale("requantize", {"acc": 1.0, "m": None, "e": None}, {"out_bits": 8},
                                    {"m": m, "e": e}),
                       {"out_bits": 8}, name="requantize"))
    return b.finish(outs)


def selected(groups: list[str] | None) -> list[str]:
    """Units of the groups whose label contains one of ``groups`` (every unit when None)."""
    return [n for label, names in GROUPS.items() if groups is None or any(g in label for g in groups) for n in names]


def _old_rows(table: Path) -> dict[str, dict]:
    """Unit -> {"line", "lut", "ff", "fmax_mhz"} from a table this script wrote before."""
    old: dict[str, dict] = {}
    if not table.exists():
        return old
    for line in table.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 9 and cells[1] in {n for g in GROUPS.values() for n in g}:
            num = [float(c) if c.replace(".", "", 1).isdigit() else None for c in cells[2:7]]
            old[cells[1]] = {"line": line, "lut": num[0], "ff": num[1], "fmax_mhz": num[4]}
    return old


def write_report(out: Path, docs: Path, units: list[str] | None = None) -> None:
    """Markdown table + PNG of ``out/synth.json`` into ``docs``; with ``units``, only their rows are
    replaced and the others keep what the existing table says."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {r["node"]: r for r in json.loads((out / "synth.json").read_text())["units"]}
    old = _old_rows(docs / "hardware_ablation.md") if units is not None else {}
    missing = {"lut": 0, "ff": 0, "dsp": 0, "bram": 0, "fmax_mhz": None, "latency_cycles": "-",
               "elements_per_cycle": "-", "missing": True}
    lines = ["| group | unit | LUT | FF | DSP | BRAM | Fmax (MHz) | latency (cycles) | elements/cycle |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for group, names in GROUPS.items():
        for n in names:
            if units is not None and n not in units and n in old:
                rows[n] = old[n]
                lines.append(old[n]["line"])
                continue
            r = rows.get(n, missing)
            if r.get("missing"):
                lines.append(f"| {group} | {n} | not run | | | | | | |")
                continue
            fm = "-" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"
            lines.append(f"| {group} | {n} | {r['lut']} | {r['ff']} | {r['dsp']} | {r['bram']} | {fm} | "
                         f"{r['latency_cycles']} | {r['elements_per_cycle']} |")
    (docs / "hardware_ablation.md").write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), dpi=110)
    names = [n for g in GROUPS.values() for n in g]
    colors = ["#55a868" if n in ("shiftmax", "shiftgelu", "ilayernorm", "requantize") else "#c44e52" for n in names]
    for ax, key, label in zip(axes, ("lut", "ff", "fmax_mhz"), ("LUT4", "flip-flops", "Fmax (MHz)"), strict=True):
        vals = [rows.get(n, missing).get(key) or 0 for n in names]
        ax.barh(names, vals, color=colors)
        ax.set_xlabel(label)
        ax.invert_yaxis()
        if key == "fmax_mhz":
            ax.axvline(150, color="k", ls="--", lw=1)
    fig.suptitle("I-ViT units (green) vs baselines (red), ECP5-25k, yosys + nextpnr")
    fig.tight_layout()
    fig.savefig(docs / "hardware_ablation.png", metadata={"Software": None})
    plt.close(fig)


def collect(out: Path) -> None:
    """Rebuild ``synth.json`` from the units whose synthesis has finished (for an interrupted run)."""
    import yaml

    from ivit_hw.eda.synth import CELLS, _cell_counts

    manifest = yaml.safe_load((out / "manifest.yaml").read_text())
    rows = []
    for unit in manifest["units"]:
        work = out / "synth_ecp5-25k" / unit["module"]
        if not (work / "stat.txt").exists():
            continue
        counts = _cell_counts((work / "stat.txt").read_text())
        row = {k: sum(counts.get(c, 0) for c in cells) for k, cells in CELLS["ecp5"].items()}
        report = work / "report.json"
        fmax = json.loads(report.read_text()).get("fmax", {}) if report.exists() else {}
        row["fmax_mhz"] = round(min(v["achieved"] for v in fmax.values()), 1) if fmax else None
        rows.append({"node": unit["node"], "op": unit["op"], "module": unit["module"], "device": "ecp5",
                     "row": unit["row"], **row, "latency_cycles": unit["latency_cycles"],
                     "elements_per_cycle": unit["elements_per_cycle"]})
    (out / "synth.json").write_text(json.dumps({"device": "ecp5", "freq_mhz": 150.0, "units": rows}, indent=1))


def run(out_dir: str, groups: list[str] | None = None) -> int:
    """Save the graph, render, synthesise (the units of ``groups`` only, when given) and report."""
    out = Path(out_dir)
    graph_dir = out.parent / (out.name + ".ivit")
    save_graph(ablation_graph(), graph_dir)
    status = main(["codegen", str(graph_dir), "--target", "verilog", "-o", str(out)])
    if status == 0:
        units = selected(groups)
        status = main(["synth", str(out), "--device", "ecp5", *(["--units", *units] if groups else [])])
    if status == 0:
        write_report(out, Path(__file__).parents[1] / "docs", units if groups else None)
    return status


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "--collect":  # report the units an interrupted run finished
        collect(Path(sys.argv[1]))
        write_report(Path(sys.argv[1]), Path(__file__).parents[1] / "docs")
        sys.exit(0)
    args = sys.argv[1:]
    only = args[args.index("--groups") + 1:] if "--groups" in args else None
    if only is not None:
        args = args[:args.index("--groups")]
        if not selected(only):
            sys.exit(f"no group label contains any of {only}; groups: {list(GROUPS)}")
    sys.exit(run(args[0] if args else "out/hw_ablation", only))

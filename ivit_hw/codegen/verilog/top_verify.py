"""``ivit-hw verify`` on a model/block top: cocotb (:mod:`ivit_hw.eda.model_tb`) on Icarus or Verilator.

Drives the golden samples of ``golden/top.npz`` through the top's x stream
with random stalls on both sides, compares every output element with the
golden executor, then times the samples back to back (latency of the first
image, steady-state interval) and prints MAC utilisation.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...ir.types import IRError

TB_MODULE = "ivit_hw.eda.model_tb"


def run_top(out_dir: Path, manifest: dict[str, Any], sim: str, images: int | None = None,
            stall: float = 0.3, stall_images: int | None = None, trace: bool = False,
            timing: bool = True) -> dict[str, Any]:
    """Build the top for ``sim`` and run both tests; ``{passed, failed, timing, checked_images, unstalled_images,
    log, seconds}``. ``stall_images``: only the first so many images run the stalled test (all run unstalled,
    also checked bit for bit). ``trace``: build with ``IVIT_TRACE`` and compare every node's output stream of
    the stalled images with the golden activations (``trace`` in the result: :func:`.top_trace.compare_trace`).
    ``timing=False`` runs the stalled test only (no latency or interval; half the clocks)."""
    from ...eda.cocotb_run import build, simulator_env
    from .top_trace import TRACE_DEFINES, TRACE_FILE, compare_trace

    env = simulator_env(sim)
    import os

    os.environ.update(env)
    from cocotb_tools.runner import get_results, get_runner  # noqa: PLC0415

    out_dir = out_dir.resolve()
    work = out_dir / f"sim_top_{sim}"
    work.mkdir(exist_ok=True)  # a build from an earlier run is reused when the sources did not change
    for old in ("result.json", "results.xml", "sim.log", TRACE_FILE):
        (work / old).unlink(missing_ok=True)
    with np.load(out_dir / manifest["golden_top"]) as npz:
        vec = {k: npz[k] for k in npz.files}
    if images is not None:
        if images < 1 or images > len(vec["x"]):
            raise IRError(f"--images {images}: the folder holds {len(vec['x'])} golden samples")
        vec = {k: v[:images] for k, v in vec.items()}
    np.savez(work / "vectors.npz", **vec)
    ports = manifest["ports"]
    quiet = 8 * int(manifest["predicted_interval"]) + 20000
    cfg = {"x": ports["x"], "y": ports["y"], "quiet": quiet, "stall": stall, "seed": 1, "stall_images": stall_images,
           "model": manifest.get("top") == "model"}
    (work / "tb.json").write_text(json.dumps(cfg), encoding="utf-8")
    t0 = time.perf_counter()
    sources = [str(out_dir / f) for f in manifest["files"]]
    if trace and "trace" not in manifest:
        raise IRError(f"{out_dir}: rendered before verify --trace existed; render it again")
    build_dir = work / ("build_trace" if trace else "build")
    build(sources, manifest["module"], build_dir, sim, TRACE_DEFINES if trace else None)
    result = work / "result.json"
    xml = get_runner(sim).test(test_module=TB_MODULE, hdl_toplevel=manifest["module"], hdl_toplevel_lang="verilog",
                               build_dir=build_dir, test_dir=work, results_xml=str(work / "results.xml"),
                               log_file=work / "sim.log", test_filter=None if timing else "images_with_stalls",
                               extra_env={"IVIT_TB_CONFIG": str(work / "tb.json"),
                                          "IVIT_TB_VECTORS": str(work / "vectors.npz"),
                                          "IVIT_TB_RESULT": str(result)})
    total, failed = get_results(xml)
    res = json.loads(result.read_text(encoding="utf-8")) if result.exists() else {}
    out = {"passed": total - failed, "failed": failed, "timing": res.get("timing"),
           "checked_images": res.get("checked_images"), "unstalled_images": len(vec["y"]),
           "log": str(work / "sim.log"), "seconds": round(time.perf_counter() - t0, 1)}
    if trace:
        out["trace"] = compare_trace(out_dir, manifest, work / TRACE_FILE, stall_images or len(vec["y"]))
    return out


def utilisation(manifest: dict[str, Any], interval: float | None) -> float | None:
    """(MACs per image / multipliers) / interval: the busy fraction of the instantiated multipliers."""
    if not interval or not manifest.get("multipliers"):
        return None
    return manifest["macs_per_image"] / manifest["multipliers"] / interval


def images_per_second(fmax_mhz: float | None, interval: float | None) -> float | None:
    """Fmax / interval: images a second at ``fmax_mhz``; None without either."""
    return fmax_mhz * 1e6 / interval if fmax_mhz and interval else None


def verify_top(out_dir: Path, manifest: dict[str, Any], sim: str, images: int | None = None,
               trace: bool = False) -> int:
    """Run :func:`run_top`, print the verdict and the figures; 0 iff bit-exact (with ``trace``: every node's
    output stream too)."""
    print(f"verify: top {manifest['top']} of {manifest['graph']} on {sim}{' with --trace' if trace else ''} ...",
          file=sys.stderr, flush=True)
    res = run_top(out_dir, manifest, sim, images, trace=trace)
    ok = res["failed"] == 0
    if trace:
        tr = res["trace"]
        ok = ok and not tr["differ"]
        print(f"trace: {tr['tensors'] - len(tr['differ'])} of {tr['tensors']} node output streams bit-exact"
              + (f"; first that differs: {tr['first']}" if tr["first"] else ""))
    t = res["timing"] or {}
    print(f"{manifest['top']}: {'bit-exact' if ok else 'FAILED'} on {sim} "
          f"({res['checked_images'] or 0} image(s) with stalls; {res['passed']} passed, {res['failed']} failed; "
          f"{res['seconds']} s)")
    if t:
        util = utilisation(manifest, t.get("interval"))
        iv = f"{t['interval']:.0f}" if t.get("interval") else "n/a (one image)"
        print(f"cycles/image: latency {t['latency']} (first in to last out), interval {iv}; "
              f"{manifest['macs_per_image']} MACs/image on {manifest['multipliers']} GEMM multipliers"
              + (f" ({manifest['dsp']} MULT18X18D in all)" if manifest.get("dsp") else "")
              + (f", MAC utilisation {100 * util:.1f} %" if util else ""))
    if not ok:
        print(f"  log: {res['log']}")
    return 0 if ok else 1

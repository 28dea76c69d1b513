"""Golden cases of a rendered Verilog folder, and ``ivit-hw verify`` for it (cocotb on every unit)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from ...ir.graph import Graph, Node
from ...ir.serialize import npz_bytes
from ...ir.types import IRError
from ...runtime.golden import golden_arrays, load_golden_case, safe_filename
from .render import LIB_FILES, write_harness
from .stimulus import node_case
from .vectors import stream_vectors

GOLDEN = "golden"
THROUGHPUT_ELEMENTS = 2000


def write_golden(graph: Graph, nodes: list[Node], rows: list[dict[str, Any]], tmp: Path, cases: str | None) -> str:
    """Write ``tmp/golden/<node>.npz`` for every unit; sets each row's ``golden`` path; returns the source."""
    folder = tmp / GOLDEN
    folder.mkdir(parents=True, exist_ok=True)
    src = None
    if cases is not None:
        src = Path(cases)
        if (src / "cases").is_dir():
            src = src / "cases"
        if not src.is_dir():
            raise IRError(f"--cases {cases}: no such folder")
    for node, row in zip(nodes, rows, strict=True):
        fname = safe_filename(node.name) + ".npz"
        if src is not None:
            path = src / fname
            if not path.is_file():
                raise IRError(f"--cases {cases}: no golden case for node {node.name!r} ({fname})")
            case = load_golden_case(path)
            if case.op != node.op:
                raise IRError(f"{path}: case of op {case.op!r}, node {node.name!r} is {node.op!r}")
            data = path.read_bytes()
        else:
            args, out = node_case(graph, node)
            data = npz_bytes(golden_arrays(node.op, args, out, node.attrs, None, node.name))
        (folder / fname).write_bytes(data)
        row["golden"] = f"{GOLDEN}/{fname}"
    return "traced run (--cases)" if src is not None else "conformance-style stimulus through the golden kernels"


def verify_folder(out_dir: Path, manifest: dict[str, Any], sim: str, workers: int = 2) -> int:
    """Run the testbench on every unit of ``out_dir`` with ``sim``; print ``N passed, N failed``; 0 iff none failed."""
    from ...eda.cocotb_run import run_jobs, simulator_env, write_job

    simulator_env(sim)  # one clear line when the simulator is missing
    units = manifest.get("units") or []
    if not units:
        raise IRError(f"{out_dir}: the manifest lists no units")
    work = out_dir / f"sim_{sim}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    lib = [out_dir / "rtl" / name for name in LIB_FILES]
    harness = work / "ivit_harness.v"
    prefixes = write_harness(units, harness)
    all_sources = [str(p) for p in lib] + [str(out_dir / u["file"]) for u in units] + [str(harness)]
    jobs = []
    for unit, prefix in zip(units, prefixes, strict=True):
        case = load_golden_case(out_dir / unit["golden"])
        vec = stream_vectors(unit["op"], {**case.inputs, **case.params}, case.output)
        shared = {"top": "ivit_harness", "build": str(work / "harness_build"), "prefix": prefix,
                  "sources": all_sources}
        jobs.append((write_job(work / safe_filename(unit["node"]), unit, lib + [out_dir / unit["file"]], vec,
                               THROUGHPUT_ELEMENTS, shared=shared), sim))
    print(f"verify: {len(jobs)} unit(s) on {sim} ...", file=sys.stderr, flush=True)
    results = run_jobs(jobs, workers=workers, progress=lambda line: print(line, file=sys.stderr, flush=True))
    passed = sum(r["passed"] for r in results)
    failed = sum(r["failed"] for r in results)
    for unit, res in zip(units, results, strict=True):
        status = "ok" if res["failed"] == 0 else "FAILED"
        tp = res.get("result", {}).get("throughput")
        rate = f", {tp['elements'] / tp['cycles']:.3f} elements/clock" if tp else ""
        print(f"{unit['node']} ({unit['op']}): {status}{rate}")
        if res["failed"] and res.get("error"):
            print("  " + res["error"].replace("\n", "\n  "))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1

"""Golden cases of a rendered Verilog folder, and ``ivit-hw verify`` for it (cocotb on every unit)."""

from __future__ import annotations

import fnmatch
import itertools
import shutil
import sys
from collections.abc import Callable
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


def select_units(units: list[dict[str, Any]], patterns: list[str] | None, out_dir: Path) -> list[dict[str, Any]]:
    """The units whose node name matches any of ``patterns`` (fnmatch; all for None), in manifest order."""
    if not patterns:
        return units
    for pat in patterns:
        if not any(fnmatch.fnmatchcase(u["node"], pat) for u in units):
            raise IRError(f"--units {pat!r}: matches no unit of {out_dir} (units: "
                          f"{', '.join(u['node'] for u in units[:4])}{', ...' if len(units) > 4 else ''})")
    return [u for u in units if any(fnmatch.fnmatchcase(u["node"], pat) for pat in patterns)]


def verify_units(out_dir: Path, manifest: dict[str, Any], sim: str, workers: int = 2,
                 progress: Callable[[str], None] | None = None,
                 only: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the testbench on every unit of ``out_dir`` (or those matching the patterns ``only``) with
    ``sim``; one row per unit, in manifest order.

    A row: ``node``, ``op``, ``passed``, ``failed`` (cocotb tests), ``rate``
    (elements per clock of the unstalled run, or None) and ``error`` (the end
    of the log when a test failed). ``progress`` gets one line per finished
    unit, ``[k/N] node on sim: ...``, after a first line ``verify: N unit(s) on sim ...``.
    """
    from ...eda.cocotb_run import run_jobs, simulator_env, write_job

    units = manifest.get("units") or []
    if not units:
        raise IRError(f"{out_dir}: the manifest lists no units")
    units = select_units(units, only, out_dir)
    simulator_env(sim)  # one clear line when the simulator is missing
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
    if progress:
        progress(f"verify: {len(jobs)} unit(s) on {sim} ...")
    done = itertools.count(1)

    def line(text: str) -> None:
        if progress:
            progress(f"[{next(done)}/{len(jobs)}] {text}")

    results = run_jobs(jobs, workers=workers, progress=line)
    rows = []
    for unit, res in zip(units, results, strict=True):
        tp = res.get("result", {}).get("throughput")
        rows.append({"node": unit["node"], "op": unit["op"], "passed": res["passed"], "failed": res["failed"],
                     "rate": round(tp["elements"] / tp["cycles"], 3) if tp else None,
                     "error": res.get("error") if res["failed"] else None})
    return rows


def verify_folder(out_dir: Path, manifest: dict[str, Any], sim: str, workers: int = 2,
                  only: list[str] | None = None) -> int:
    """``ivit-hw verify``: :func:`verify_units`, one line per unit, then ``N passed, N failed``; 0 iff none failed."""
    rows = verify_units(out_dir, manifest, sim, workers, lambda text: print(text, file=sys.stderr, flush=True), only)
    for row in rows:
        rate = f", {row['rate']:.3f} elements/clock" if row["rate"] is not None else ""
        print(f"{row['node']} ({row['op']}): {'ok' if row['failed'] == 0 else 'FAILED'}{rate}")
        if row["error"]:
            print("  " + row["error"].replace("\n", "\n  "))
    passed, failed = sum(r["passed"] for r in rows), sum(r["failed"] for r in rows)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1

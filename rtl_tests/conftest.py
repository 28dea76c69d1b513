"""Shared set-up of the RTL tests: every unit configuration rendered, simulated once per simulator.

All cocotb runs happen in one session fixture (:func:`rtl_results`): Icarus
builds each unit alone, Verilator builds one harness holding every unit (one
C++ build for the whole suite), and jobs run two at a time.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from unit_graphs import CONFIGS, config_names  # noqa: E402, F401

from ivit_hw.codegen.verilog.render import LIB_FILES, write_harness, write_units  # noqa: E402
from ivit_hw.codegen.verilog.stimulus import node_case  # noqa: E402
from ivit_hw.codegen.verilog.vectors import stream_vectors  # noqa: E402
from ivit_hw.eda.cocotb_run import SIMULATORS, run_jobs, write_job  # noqa: E402

THROUGHPUT_ELEMENTS = 1500


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict:
    """Every configuration rendered into one folder, with its golden vectors; plus the Verilator harness."""
    root = tmp_path_factory.mktemp("rtl")
    units = {}
    for op, fns in CONFIGS.items():
        for fn in fns:
            graph = fn()
            node = graph.nodes[0]
            row = write_units(graph, [node], root / fn.__name__)[0]
            args, out = node_case(graph, node)
            units[f"{op}/{fn.__name__}"] = (root / fn.__name__, row, graph, node, stream_vectors(node.op, args, out))
    lib = sorted((next(iter(units.values()))[0] / "rtl").glob("ivit_*.v"))
    lib = [p for p in lib if p.name in LIB_FILES]
    harness = root / "ivit_harness.v"
    prefixes = write_harness([u[1] for u in units.values()], harness)
    all_sources = [str(p) for p in lib] + [str(u[0] / u[1]["file"]) for u in units.values()] + [str(harness)]
    jobs = {}
    for (name, (folder, row, _g, _n, vec)), prefix in zip(units.items(), prefixes, strict=True):
        sources = lib + [folder / row["file"]]
        shared = {"top": "ivit_harness", "build": str(root / "verilator_build"), "prefix": prefix,
                  "sources": all_sources}
        jobs[name] = write_job(folder / "job", row, sources, vec, THROUGHPUT_ELEMENTS, shared=shared)
    return {"root": root, "units": units, "jobs": jobs, "sources": all_sources}


@pytest.fixture(scope="session")
def rtl_results(rendered) -> dict:
    """``{(config, simulator): result}`` of the cocotb runs (both tests of the testbench each)."""
    if shutil.which("iverilog") is None:
        pytest.fail("iverilog missing: 'make setup' installs it (apt-get install -y iverilog)")
    pairs = [(rendered["jobs"][name], sim) for name in rendered["jobs"] for sim in SIMULATORS]
    results = run_jobs(pairs, workers=2)
    names = [name for name in rendered["jobs"] for _ in SIMULATORS]
    return {(name, sim): res for name, (_, sim), res in zip(names, pairs, results, strict=True)}

"""The ECP5 forms of the top (``IVIT_ECP5``: what ``ivit-hw synth --device ecp5*`` reads) bit-exact under stalls.

Synthesis for ECP5 reads other RTL than the simulators: the GEMM weight ROM as DP16KD blocks
(``ivit_rom18``), the buffers' views as ``ivit_bram`` blocks, the products in MULT18X18D. Here Icarus runs
that RTL with behavioural models of the two primitives in the forms ivit instantiates
(``ecp5_models/``: DP16KD with its INITVAL packing and 18/9/4-bit port widths, MULT18X18D with its input
and output registers), on the small ``patch_matmul`` top against the golden executor.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from top_graphs import TOP_GRAPHS, edge_samples

from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.codegen.verilog.top_verify import run_top
from ivit_hw.eda import cocotb_run

MODELS = Path(__file__).parent / "ecp5_models"


def test_ecp5_forms_match_golden(tmp_path, monkeypatch):
    if shutil.which("iverilog") is None:
        pytest.fail("iverilog missing: 'make setup' installs it (apt-get install -y iverilog)")
    graph = TOP_GRAPHS["patch_matmul"]()
    man = write_top(graph, tmp_path, "model", "4", edge_samples(graph), 0)
    rtl = tmp_path / "rtl"
    assert "ivit_rom18 #(" in (rtl / "ivit_pe_acc.v").read_text()
    assert "ivit_bram #(" in (rtl / "ivit_top.v").read_text()
    models = [str(p) for p in sorted(MODELS.glob("*.v"))]
    build = cocotb_run.build

    def build_ecp5(sources, top, build_dir, sim, defines=None):
        return build([*sources, *models], top, build_dir, sim, {**(defines or {}), "IVIT_ECP5": 1})

    monkeypatch.setattr(cocotb_run, "build", build_ecp5)
    res = run_top(tmp_path, man, "icarus")
    assert res["failed"] == 0 and res["passed"] == 2, f"ECP5 forms: see {res['log']}"
    assert res["checked_images"] == 6

"""The Verilog units of a swin_digits graph against its traced golden activations, on Icarus and Verilator.

The graph is a random-init, calibrated ``swin_digits`` (no training): ``ivit-hw run --trace`` on two test
images writes the golden cases of the shifted block's attention; ``codegen --target verilog --cases``
renders its two-term bias requantize (scores + the [nH, N, N] relative-position bias) and its masked
8-bit Shiftmax (4-token windows, the shifted-window mask on TUSER), and ``verify --sim`` replays them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ivit_hw.cli import main
from ivit_hw.eda.cocotb_run import SIMULATORS
from ivit_hw.runtime.golden import load_golden_case

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/swin_graphs.py

BLOCK = "layers.0.blocks.1.attn"  # swin_digits' shifted block
UNITS = [f"{BLOCK}.scores", f"{BLOCK}.attn_prob"]


@pytest.fixture(scope="module")
def swin_units(tmp_path_factory) -> Path:
    """A rendered folder holding the shifted block's two attention units with traced golden cases."""
    from swin_graphs import digits_swin_twin

    from ivit_hw.frontend.data import load_digits_split
    from ivit_hw.ir.serialize import save_graph

    root = tmp_path_factory.mktemp("swin_rtl")
    graph = save_graph(digits_swin_twin().export("swin_digits"), root / "graph")
    np.save(root / "x.npy", load_digits_split().test_images[:2])
    assert main(["run", str(graph), "--input", str(root / "x.npy"), "--output", str(root / "y.npz"),
                 "--trace", str(root / "trace"), "--trace-nodes", f"{BLOCK}.*"]) == 0
    assert main(["codegen", str(graph), "--target", "verilog", "-o", str(root / "rtl"),
                 "--nodes", *UNITS, "--cases", str(root / "trace")]) == 0
    return root / "rtl"


def test_rendered_units_are_the_masked_shiftmax_and_two_term_requantize(swin_units):
    manifest = yaml.safe_load((swin_units / "manifest.yaml").read_text())
    assert manifest["golden_source"] == "traced run (--cases)"
    units = {u["node"]: u for u in manifest["units"]}
    assert sorted(units) == sorted(UNITS)
    sm = units[f"{BLOCK}.attn_prob"]
    assert sm["op"] == "shiftmax" and sm["row"] == 4 and sm["ports"]["in"][0]["tuser"] == 1  # the mask port
    assert sm["ports"]["out"]["bits"] == 8
    rq = units[f"{BLOCK}.scores"]
    assert rq["op"] == "requantize" and [p["name"] for p in rq["ports"]["in"]] == ["acc", "identity"]
    # the traced case exercises the mask: some entries masked, and those give exactly 0
    case = load_golden_case(swin_units / sm["golden"])
    keep = np.broadcast_to(np.asarray(case.params["mask"]).astype(bool), case.output.shape)
    assert 0 < (~keep).sum() < keep.size
    assert np.all(case.output[~keep] == 0) and np.any(case.output[keep] > 0)


@pytest.mark.parametrize("sim", SIMULATORS)
def test_swin_units_match_the_traced_golden_cases(swin_units, sim, capsys):
    code = main(["verify", str(swin_units), "--sim", sim])
    out = capsys.readouterr().out
    assert code == 0, out
    for node in UNITS:
        assert any(line.startswith(f"{node} (") and ": ok" in line for line in out.splitlines()), out
    assert out.strip().splitlines()[-1] == "4 passed, 0 failed"

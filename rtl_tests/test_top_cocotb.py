"""The Verilog top (``--top``): GEMM engines, layout views, forks and the units joined by streams,
bit-exact against the golden executor under random valid/ready stalls on both sides.

Small graphs (``top_graphs``) cover the GEMM engine alone and with layouts: widths at their limits
(int8 at both ends, a 32-bit accumulator with a 2^30 bias), a uint8 image through patch_embed, both
matmul forms, padded parallelism (P not dividing K), a filter view and a buffered view. The digits
model top runs on real test images (Verilator: two at P = 16; Icarus: one at P = 64) and one transformer block
of it on its traced input (Verilator).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from top_graphs import TOP_GRAPHS, edge_samples

from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.codegen.verilog.top_verify import run_top
from ivit_hw.eda.cocotb_run import SIMULATORS

# (graph, parallelism, simulator): P = 4 pads K = 13 and K = 18 to whole blocks and clamps K = 3 and 4;
# one Verilator build of the small tops (patch_matmul at P = 4 holds every engine form)
SMALL = [("linear_extremes", "4", "icarus"), ("patch_matmul", "4", "icarus"), ("patch_matmul", "1", "icarus"),
         ("cls_slice", "1", "icarus"), ("patch_matmul", "4", "verilator")]
assert {s for *_, s in SMALL} == set(SIMULATORS)


def _need(sim: str) -> None:
    if sim == "icarus" and shutil.which("iverilog") is None:
        pytest.fail("iverilog missing: 'make setup' installs it (apt-get install -y iverilog)")


@pytest.mark.parametrize("name,par,sim", SMALL)
def test_small_top_matches_golden(tmp_path, name, par, sim):
    _need(sim)
    graph = TOP_GRAPHS[name]()
    man = write_top(graph, tmp_path, "model", par, edge_samples(graph), 0)
    res = run_top(tmp_path, man, sim)
    assert res["failed"] == 0 and res["passed"] == 2, f"{name} P={par} on {sim}: see {res['log']}"
    assert res["checked_images"] == 6
    # unstalled, one image is no faster than its slowest GEMM engine
    assert res["timing"]["interval"] >= max(r["cycles"] for r in man["layers"] if r["macs"])


def test_gemm_cycles_follow_parallelism(tmp_path):
    """The interval of a lone GEMM is its N * M * ceil(K / P) cycles: P = 4 on K = 13 takes 4 blocks."""
    _need("icarus")
    graph = TOP_GRAPHS["linear_extremes"]()
    man = write_top(graph, tmp_path, "model", "4", edge_samples(graph), 0)
    res = run_top(tmp_path, man, "icarus")
    assert res["failed"] == 0
    assert res["timing"]["interval"] == 3 * 5 * 4


@pytest.fixture(scope="module")
def digits_images():
    from ivit_hw.frontend.data import load_digits_split

    return load_digits_split().test_images[:3].astype(np.int64)


def test_digits_model_top(tmp_path, digits_graph, digits_images):
    """The whole digits model on two real test images, stalls on both sides; logits bit-exact, TLAST checked.
    Verilator at P = 16 (about 90,000 clocks); Icarus runs it on one image at P = 64 (below)."""
    man = write_top(digits_graph, tmp_path, "model", "16", digits_images[:2], 0)
    assert man["ports"]["x"]["count"] == 64 and man["ports"]["y"]["count"] == 10
    res = run_top(tmp_path, man, "verilator")
    assert res["failed"] == 0 and res["passed"] == 2, f"digits top on verilator: see {res['log']}"
    assert res["checked_images"] == 2
    assert res["timing"]["interval"] >= man["predicted_interval"]


def test_digits_model_top_icarus(tmp_path, digits_graph, digits_images):
    """The whole digits model on Icarus: one real test image with stalls on both sides; logits bit-exact.
    P = 64 (clamped to each layer's K) keeps the clocks few, and the unstalled timing pass is left out (the
    Verilator test above times the top): Icarus pays per clock."""
    _need("icarus")
    man = write_top(digits_graph, tmp_path, "model", "64", digits_images[2:3], 0)
    res = run_top(tmp_path, man, "icarus", timing=False)
    assert res["failed"] == 0 and res["passed"] == 1, f"digits top on icarus: see {res['log']}"
    assert res["checked_images"] == 1 and res["timing"] is None


def test_digits_block_top(tmp_path, digits_graph, digits_images):
    """One transformer block (--top block:blocks.1) on its traced input, on Verilator."""
    man = write_top(digits_graph, tmp_path, "block:blocks.1", "4", digits_images[:2], 0)
    assert man["ports"]["x"]["tensor"] == "blocks.0.res2" and man["ports"]["y"]["tensor"] == "blocks.1.res2"
    res = run_top(tmp_path, man, "verilator")
    assert res["failed"] == 0 and res["passed"] == 2, f"block top: see {res['log']}"

"""The Verilog top (``--top``): GEMM engines, layout views, forks and the units joined by streams,
bit-exact against the golden executor under random valid/ready stalls on both sides.

Small graphs (``top_graphs``) cover the GEMM engine alone and with layouts: widths at their limits
(int8 at both ends, a 32-bit accumulator with a 2^30 bias), a uint8 image through patch_embed, both
matmul forms, padded parallelism (P not dividing K), a filter view and a buffered view, on Icarus
and Verilator. The digits model top and one of its blocks on real images: ``test_model_top.py``.
"""

from __future__ import annotations

import shutil

import pytest
from top_graphs import TOP_GRAPHS, edge_samples

from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.codegen.verilog.top_verify import run_top
from ivit_hw.eda.cocotb_run import SIMULATORS

# (graph, parallelism, simulator): P = 4 pads K = 13 and K = 18 to whole blocks and clamps K = 3 and 4;
# one Verilator build of the small tops (patch_matmul at P = 4 holds every engine form)
SMALL = [("linear_extremes", "4", "icarus"), ("patch_matmul", "4", "icarus"), ("patch_matmul", "1", "icarus"),
         ("cls_slice", "1", "icarus"), ("patch_matmul", "4", "verilator"),
         ("linear_extremes", "13", "icarus"),  # 13 lanes: an odd adder tree (terms passed on a level)
         ("cls_concat", "2", "icarus"),  # constant streams (class token, position embedding) from ROMs
         # views keeping a third of their source, a residual fork; at P = 4 and 8 attn @ v (K = 9) pads its last
         # block: the B lanes past K, never written, are masked like the A lanes (else x out on Icarus)
         ("attn_residual", "1", "icarus"), ("attn_residual", "4", "icarus"), ("attn_residual", "8", "icarus"),
         ("patch_matmul", "2", "icarus"),  # q @ k^T form (B streamed [N, K]) at K = 3 in 2 blocks: padded too
         # a GELU fed one element every 12 (P = 1) or 3 (P = 4) clocks: its divider rate-matched (B = 8, 2);
         # at P = 12 one a clock (ivit_pipediv, the B = 1 form)
         ("linear_gelu", "1", "icarus"), ("linear_gelu", "4", "verilator"), ("linear_gelu", "12", "icarus"),
         # LayerNorm and Shiftmax rows every 10 clocks an element: fewer row engines (3 spread, 1 and 1 dividers)
         ("linear_norm_softmax", "1", "icarus")]
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

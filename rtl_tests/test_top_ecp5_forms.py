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
from ivit_hw.hwplan import memory

MODELS = Path(__file__).parent / "ecp5_models"


# patch_matmul by the plan's rule (the image view in DP16KD, the three views of pe.q in LUT-RAM, the weight
# ROM in the fabric) and with the plan's LUT-RAM and ROM limits at 0 (every memory of more than two words in
# block RAM: the weight ROM as ivit_rom18 blocks, every view); attn_residual: q, k and v views whose copies
# keep a third of the qkv buffer (a write walk), in DP16KD, and a residual fork: the whole-image skip FIFO
# in DP16KD, the short branch in LUT-RAM; at P = 4 its attn @ v (K = 9) pads the last block, the lanes past
# K masked on both operands before the MULT18X18D; with every memory in block RAM, the GEMM lane memories
# (A rows, the matmuls' B operand) are ivit_bram blocks read through their output register too; cls_concat
# with every memory in block RAM: its two constant streams read ivit_rom18 blocks
FORMS = [("patch_matmul", "4", False, {"ivit_top.v": "ivit_bram #("}),
         ("patch_matmul", "4", True, {"ivit_pe_acc.v": "ivit_rom18 #(", "ivit_top.v": "ivit_bram #("}),
         ("attn_residual", "4", False, {"ivit_top.v": "_wpos <= ", "ivit_o_acc.v": "k_b3 = r_last ? "}),
         ("attn_residual", "4", True, {"ivit_o_acc.v": "ivit_bram #(.DW(9), .AW(11)) bm3_m0_0 ",
                                       "ivit_qkv_acc.v": "ivit_bram #(.DW(9), .AW(11)) am0_m0_0 "}),
         # the constant streams (position embedding, class token) as ivit_rom18 blocks, on credits
         ("cls_concat", "2", True, {"ivit_top.v": "ivit_rom18 #("})]


@pytest.mark.parametrize("name,par,all_bram,marks", FORMS)
def test_ecp5_forms_match_golden(tmp_path, monkeypatch, name, par, all_bram, marks):
    if shutil.which("iverilog") is None:
        pytest.fail("iverilog missing: 'make setup' installs it (apt-get install -y iverilog)")
    if all_bram:
        monkeypatch.setattr(memory, "LUTRAM_MAX_BITS", 0)
        monkeypatch.setattr(memory, "ROM_LUT_MAX_WORDS", 0)
    graph = TOP_GRAPHS[name]()
    man = write_top(graph, tmp_path, "model", par, edge_samples(graph), 0)
    rtl = tmp_path / "rtl"
    for file, mark in marks.items():
        assert mark in (rtl / file).read_text(), f"{name}: {file} lacks {mark!r}"
    top = (rtl / "ivit_top.v").read_text()
    if name == "patch_matmul":  # the image view in DP16KD, the views of pe.q too when every memory is
        assert top.count("ivit_bram #(") == (4 if all_bram else 1)
    if name == "cls_concat":  # pos (12 words of 16 bits) and cls (4): one block each
        assert top.count("ivit_rom18 #(") == 2
    if name == "attn_residual" and not all_bram:
        assert top.count("ivit_bram #(") == 4  # q, k, v copies and the merge view: one block each
        assert ".AW(7)) f0_" in top and ".AW(4)) f0_" in top  # skip FIFO (block RAM), short branch
    models = [str(p) for p in sorted(MODELS.glob("*.v"))]
    build = cocotb_run.build

    def build_ecp5(sources, top, build_dir, sim, defines=None):
        return build([*sources, *models], top, build_dir, sim, {**(defines or {}), "IVIT_ECP5": 1})

    monkeypatch.setattr(cocotb_run, "build", build_ecp5)
    res = run_top(tmp_path, man, "icarus")
    assert res["failed"] == 0 and res["passed"] == 2, f"ECP5 forms: see {res['log']}"
    assert res["checked_images"] == 6

"""The hardware plan: parts, block counting, per-layer cycles and per-buffer sizes of small graphs
against hand-computed figures, the overfit lines, the DSP-budget balance and bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ivit_hw import ops
from ivit_hw.hwplan import PARTS, PlanConfig, PlanError, config_from, get_part, make_plan
from ivit_hw.hwplan.memory import bram18_blocks, small_memory, uram_blocks
from ivit_hw.ir import GraphBuilder, Interval, IntType, infer_ranges

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
from tiny_graphs import tiny_graph  # noqa: E402

I8, I32, U8 = IntType(8), IntType(32), IntType(8, signed=False)


def gemm_graph(m: int = 64, k: int = 256, n: int = 128):
    """x [m, k] i8 -> linear (n outputs, int8 weights using both extremes) -> requantize -> y i8."""
    rng = np.random.default_rng(0)
    b = GraphBuilder("gemm")
    x = b.input("x", (m, k), I8, 0.05, Interval(-127, 127))
    w_int = rng.integers(-127, 128, (n, k))
    w_int[0, 0], w_int[0, 1] = -127, 127
    w = b.const("fc.weight", w_int, I8, 0.01)
    acc = b.node("linear", {"x": x, "weight": w}, "fc.acc", I32, 5e-4, name="fc")
    mq, eq = ops.dyadic(5e-4 / 0.5)
    b.node("requantize", {"acc": acc, "m": b.const("q.m", np.asarray(mq), I32),
                          "e": b.const("q.e", np.asarray(eq), U8)}, "y", I8, 0.5, {"out_bits": 8}, name="q")
    return infer_ranges(b.finish(["y"]))


def residual_graph():
    """x [4, 8] -> linear (8) -> requantize with x as the identity: a skip connection."""
    rng = np.random.default_rng(1)
    b = GraphBuilder("res")
    x = b.input("x", (4, 8), I8, 0.05, Interval(-127, 127))
    w = b.const("fc.weight", rng.integers(-127, 128, (8, 8)), I8, 0.01)
    acc = b.node("linear", {"x": x, "weight": w}, "fc.acc", I32, 5e-4, name="fc")
    m, e = ops.dyadic(5e-4 / 0.1)
    mi, ei = ops.dyadic(0.05 / 0.1)
    b.node("requantize", {"acc": acc, "identity": x, "m": b.const("m", np.asarray(m), I32),
                          "e": b.const("e", np.asarray(e), U8), "m_id": b.const("mi", np.asarray(mi), I32),
                          "e_id": b.const("ei", np.asarray(ei), U8)}, "y", I8, 0.1, {"out_bits": 8}, name="res")
    return infer_ranges(b.finish(["y"]))


def _buf(plan, tensor):
    found = [b for b in plan.buffers if b.tensor == tensor]
    assert len(found) == 1, [b.tensor for b in plan.buffers]
    return found[0]


def test_parts_table_and_names():
    assert {"xczu9eg", "xczu7ev", "xcvu9p", "xck26", "xcvc1902", "lfe5u-25f", "lfe5u-45f", "lfe5u-85f"} <= set(PARTS)
    zu9 = get_part("xczu9eg-ffvb1156-2-e")
    assert (zu9.dsp, zu9.bram18, zu9.uram, zu9.lut) == (2520, 1824, 0, 274080)
    assert get_part("kv260") == get_part("xck26-sfvc784-2LV-c") == PARTS["xck26"]
    assert get_part("VCK190").name == "xcvc1902" and get_part("xcvc1902-vsva2197-2MP-e-S").dsp == 1968
    assert get_part("ecp5-85k") == get_part("LFE5U-85F-6BG381C") and PARTS["lfe5u-85f"].bram18 == 208
    assert get_part("ecp5-25k").dsp == 28


def test_unknown_part_is_one_line_naming_it():
    with pytest.raises(PlanError) as exc:
        get_part("xc7z999")
    msg = str(exc.value)
    assert "'xc7z999'" in msg and "xczu9eg" in msg and "\n" not in msg
    with pytest.raises(PlanError, match="unknown part 'nope'"):
        make_plan(tiny_graph(), "nope")


def test_block_counting_rules():
    # BRAM18 shapes 16Kx1 .. 512x36: the fewest blocks over the shapes, per bank
    assert bram18_blocks(1000, 8) == 1         # 1K x 18
    assert bram18_blocks(2048, 9) == 1         # 2K x 9
    assert bram18_blocks(2049, 9) == 2         # 2K x 9 twice (4K x 4 would be 3)
    assert bram18_blocks(512, 72) == 2         # 512 x 36 twice (a BRAM36)
    assert bram18_blocks(300_000, 8, 4) == 148  # 75,000 words a bank: 37 of 2K x 9, four banks
    assert uram_blocks(75_648, 8, 13) == 26    # 5,820 words a bank: two 4K x 72
    assert small_memory(2, 64) == "reg" and small_memory(128, 8) == "lutram" and small_memory(129, 8) is None
    assert small_memory(512, 8, banks=4) == "lutram"


def test_gemm_plan_against_hand_computed_figures():
    g = gemm_graph()
    plan = make_plan(g, "xczu9eg", PlanConfig(parallelism=4))
    fc, q = plan.layer("fc"), plan.layer("q")
    assert (fc.macs, fc.parallelism, fc.cycles, fc.multipliers) == (64 * 128 * 256, 4, 64 * 128 * 64, 4)
    assert (q.macs, q.parallelism, q.cycles, q.multipliers) == (0, 1, 64 * 128, 1)
    assert plan.interval == 524_288 and plan.totals["dsp"] == 5 and plan.totals["macs"] == 2_097_152
    w = _buf(plan, "fc.weight")   # 32,768 int8 in 4 cyclic banks of 8,192: 4 BRAM18 (2K x 9) each
    assert (w.kind, w.depth, w.width, w.banks, w.memory, w.blocks) == ("weights", 32768, 8, 4, "bram", 16)
    row = _buf(plan, "x@fc.x")    # two rows of K = 256 in 4 banks: 128 x 8 bits = 1 kbit a bank
    assert (row.kind, row.depth, row.width, row.banks, row.memory, row.blocks) == ("row", 512, 8, 4, "lutram", 0)
    sx = _buf(plan, "x")
    assert (sx.kind, sx.depth, sx.width, sx.memory) == ("stream", 2, 8, "reg")
    acc_bits = IntType.fitting(g.tensor("fc.acc").range).bits
    s_acc = _buf(plan, "fc.acc")
    assert (s_acc.kind, s_acc.depth, s_acc.width) == ("stream", 2, acc_bits)
    assert plan.totals["bram18"] == 16 and plan.fits and plan.overfit == ()
    off = make_plan(g, "xczu9eg", PlanConfig(parallelism=4, weights="off_chip"))
    w = _buf(off, "fc.weight")
    assert (w.memory, w.blocks) == ("dram", 0)
    assert off.totals["bits_off_chip"] == 32768 * 8 and off.totals["bram18"] == 0
    assert off.totals["bits_on_chip"] == plan.totals["bits_on_chip"] - 32768 * 8


def test_tiny_graph_streams_fanout_and_attention_buffers():
    g = infer_ranges(tiny_graph())
    plan = make_plan(g, "xczu9eg", PlanConfig(parallelism=2))
    # matmul(t, t^T): K = 3 -> 2 lanes, 32 outputs x ceil(3 / 2) cycles
    s = plan.layer("s.acc")
    assert (s.macs, s.parallelism, s.cycles, s.multipliers) == (96, 2, 64, 2)
    assert plan.layer("fc.acc").cycles == 24 * 4 and plan.interval == 96
    # t is read twice by the matmul: two stream edges (duplicated), no copy of the tensor
    edges = sorted(b.tensor for b in plan.buffers if b.tensor.startswith("t->"))
    assert edges == ["t->s.acc.a", "t->s.acc.b"]
    a_row, b_whole = _buf(plan, "t@s.acc.a"), _buf(plan, "t@s.acc.b")
    assert (a_row.kind, a_row.depth, a_row.banks) == ("row", 6, 2)        # two rows of k = 3
    assert (b_whole.kind, b_whole.depth, b_whole.banks) == ("whole", 48, 2)  # 2 x [2, 4, 3]
    # the head transpose feeding the attention matmul is stream order, not a buffer
    assert not [b for b in plan.buffers if b.tensor.endswith("@t.x")]


def test_residual_identity_fifo_covers_the_branch():
    plan = make_plan(residual_graph(), "xczu9eg", PlanConfig())
    skip = _buf(plan, "x->res.identity")
    # the branch holds one row buffer (the linear's): 1 + 1 rows of 8 (of a 32-element tensor)
    assert (skip.kind, skip.depth, skip.width) == ("stream", 16, 8)
    assert _buf(plan, "x->fc.x").depth == 2
    assert plan.layer("res").multipliers == 2


def test_overfit_lines_name_each_resource():
    plan = make_plan(gemm_graph(), "lfe5u-25f", PlanConfig(parallelism=64))
    # 64 multipliers + 1 > 28; the weight in 64 banks of 512 words: 64 BRAM18 > 56
    assert _buf(plan, "fc.weight").blocks == 64
    assert not plan.fits and len(plan.overfit) == 2
    assert plan.overfit[0] == "multipliers: the plan needs 65, lfe5u-25f has 28 DSP"
    assert plan.overfit[1].startswith("BRAM18: the plan needs 6") and plan.overfit[1].endswith("has 56 BRAM18")
    assert any(line.startswith("OVERFIT multipliers") for line in plan.summary_lines())


def test_uram_takes_the_overflow_where_the_part_has_it():
    from ivit_hw.hwplan.buffers import Need
    from ivit_hw.hwplan.plan import _place

    # eight 40,960 x 32-bit buffers: 80 BRAM18 (512 x 36) each, 640 > 288 on the KV260; in URAM
    # (4096 x 72) 10 each. The largest move first until BRAM fits: five move (640 - 400 = 240 <= 288)
    placed = _place([Need(f"b{i}", "whole", 40960, 32, 1) for i in range(8)], get_part("kv260"))
    assert [b.memory for b in placed] == ["uram"] * 5 + ["bram"] * 3
    assert [b.blocks for b in placed] == [10] * 5 + [80] * 3
    g = gemm_graph(m=8, k=1024, n=1024)  # 1 M int8 weights: 512 BRAM18 (2K x 9) in one bank
    zu9 = make_plan(g, "xczu9eg", PlanConfig())
    assert _buf(zu9, "fc.weight").blocks == 512 and zu9.totals["uram"] == 0 and zu9.fits
    k26 = make_plan(g, "kv260", PlanConfig())  # 256 URAMs would hold it, the K26 has 64: stays, overfits
    w = _buf(k26, "fc.weight")
    assert (w.memory, w.blocks) == ("bram", 512)
    assert k26.overfit == ("BRAM18: the plan needs 512, xck26 has 288 BRAM18",)


def test_dsp_budget_balances_layer_cycles():
    g = gemm_graph()
    plan = make_plan(g, "xczu9eg", PlanConfig(dsp_budget=33))
    # 32 lanes on the linear (64 x 128 x 8 cycles = 65,536) leave one multiplier: the requantize
    # needs 8,192 cycles at one lane, below the linear's, so the balance is 32 + 1
    assert plan.layer("fc").parallelism == 32 and plan.layer("q").parallelism == 1
    assert plan.interval == 65_536 and plan.totals["dsp"] == 33
    with pytest.raises(PlanError, match="dsp_budget 1 is below the 2 multipliers"):
        make_plan(g, "xczu9eg", PlanConfig(dsp_budget=1))


def test_config_globs_and_bad_values():
    g = gemm_graph()
    plan = make_plan(g, "xczu9eg", config_from({"parallelism": {"default": 2, "q": 4}}))
    assert plan.layer("fc").parallelism == 2 and plan.layer("q").parallelism == 4
    assert plan.layer("q").cycles == 64 * 32 and plan.layer("q").multipliers == 4
    with pytest.raises(PlanError, match="does not divide its reduction length 256"):
        make_plan(g, "xczu9eg", PlanConfig(parallelism=3, require_divisor=True))
    assert make_plan(g, "xczu9eg", PlanConfig(parallelism=3)).layer("fc").cycles == 64 * 128 * 86
    for bad, what in (({"weights": "ddr"}, "weights must be one of"), ({"parallelism": 0}, "parallelism must be"),
                      ({"fifo": 2}, "unknown key"), ({"dsp_budget": True}, "dsp_budget must be")):
        with pytest.raises(PlanError, match=what):
            config_from(bad)


def test_plan_json_round_figures():
    plan = make_plan(gemm_graph(), "xczu9eg", PlanConfig(parallelism=4))
    doc = plan.to_json()
    assert doc["interval_cycles"] == 524_288 and doc["fits"] is True and doc["part"]["dsp"] == 2520
    assert doc["gemm_utilisation"] == 1.0  # 2,097,152 MACs / (4 multipliers x 524,288 cycles)
    assert len(doc["layers"]) == 2 and {b["kind"] for b in doc["buffers"]} == {"stream", "row", "weights"}

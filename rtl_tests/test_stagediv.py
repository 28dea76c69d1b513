"""ivit_stagediv (the rate-matched pipelined divider) on Icarus: every quotient and remainder equal to
Python's divmod, at edge values, with divisions entering in some slots and not others and with the
enable dropped at random (stalls); out_valid exactly S * B enabled clocks after each entry."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from ivit_hw.codegen.verilog.render import template_dir

CASES = [(31, 31, 1), (31, 31, 3), (31, 31, 16), (31, 31, 31), (33, 20, 7), (12, 5, 4)]


def _vectors(nw: int, dw: int, rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    top_n, top_d = (1 << nw) - 1, (1 << dw) - 1
    edge = [(top_n, 1), (top_n, top_d), (0, 1), (0, top_d), (top_n, 2), (1, 1), (top_d, top_d),
            (top_d - 1, top_d), (top_n, (top_d + 1) // 2)]
    rand = [(int(rng.integers(0, top_n + 1)), int(rng.integers(1, top_d + 1))) for _ in range(n)]
    return [(a, d) for a, d in edge if d <= top_d] + rand


def _bench(nw: int, dw: int, b: int, vecs: list[tuple[int, int]], rng: np.random.Generator, lead: int = 0) -> str:
    """A testbench that offers vecs[k] in slot clocks (skipping some), with en low in random clocks, and
    prints every result with the enabled clocks since its entry, and the enabled clocks where slot
    ("S") and ahead ("A") are high."""
    n = len(vecs)
    nums = "\n".join(f"        nums[{k}] = {nw}'d{a}; dens[{k}] = {dw}'d{d};" for k, (a, d) in enumerate(vecs))
    ens = "".join(str(int(v)) for v in rng.random(64 * n + 4096) > 0.25)
    skips = "".join(str(int(v)) for v in rng.random(64 * n + 4096) > 0.4)
    return f"""`timescale 1ns/1ps
module tb;
    reg clk = 0, rst = 1, en = 0, in_valid = 0;
    reg [{nw - 1}:0] num = 0;
    reg [{dw - 1}:0] den = 1;
    reg [15:0] in_side = 0;
    wire slot, ahead, out_valid;
    wire [{nw - 1}:0] quo;
    wire [{dw - 1}:0] rem;
    wire [15:0] out_side;
    reg [{nw - 1}:0] nums [0:{n - 1}];
    reg [{dw - 1}:0] dens [0:{n - 1}];
    reg [{len(ens) - 1}:0] ens = {len(ens)}'b{ens};
    reg [{len(skips) - 1}:0] offers = {len(skips)}'b{skips};
    integer k = 0, t = 0, done = 0, clocks = 0;
    integer entered [0:{n - 1}];
    ivit_stagediv #(.NW({nw}), .DW({dw}), .SW(16), .B({b}), .LEAD({lead})) dut (
        .clk(clk), .rst(rst), .en(en), .slot(slot), .ahead(ahead), .in_valid(in_valid), .num(num), .den(den),
        .in_side(in_side), .out_valid(out_valid), .quo(quo), .rem(rem), .out_side(out_side));
    initial begin
{nums}
    end
    always #5 clk = !clk;
    always @(negedge clk) begin
        if (t == 3) rst = 0;
        t = t + 1;
        en = (t > 4) && ens[t % {len(ens)}];
        in_valid = 0;
        if (!rst && en && slot && k < {n} && offers[t % {len(skips)}]) begin
            in_valid = 1; num = nums[k]; den = dens[k]; in_side = k;
        end
    end
    always @(posedge clk) begin
        if (!rst && en) begin
            clocks = clocks + 1;
            if (slot) $display("S %0d", clocks);
            if (ahead) $display("A %0d", clocks);
            if (out_valid) begin
                $display("R %0d %0d %0d %0d", out_side, quo, rem, clocks - entered[out_side]);
                done = done + 1;
                if (done == {n}) $finish;
            end
            if (in_valid && slot) begin
                entered[k] = clocks;
                k = k + 1;
            end
        end
        if (t > 200000) begin $display("TIMEOUT"); $finish; end
    end
endmodule
"""


@pytest.mark.parametrize("nw,dw,b", CASES)
def test_stagediv_matches_divmod(tmp_path, nw, dw, b):
    if shutil.which("iverilog") is None:
        pytest.fail("iverilog missing: 'make setup' installs it (apt-get install -y iverilog)")
    rng = np.random.default_rng(nw * 1000 + dw * 10 + b)
    vecs = _vectors(nw, dw, rng, 40)
    (tmp_path / "tb.v").write_text(_bench(nw, dw, b, vecs, rng), encoding="utf-8")
    lib = template_dir() / "lib" / "ivit_stagediv.v"
    subprocess.run(["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "sim"), str(tmp_path / "tb.v"), str(lib)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "sim")], check=True, capture_output=True, text=True).stdout
    assert "TIMEOUT" not in out
    rows = [line.split()[1:] for line in out.splitlines() if line.startswith("R ")]
    assert [int(r[0]) for r in rows] == list(range(len(vecs)))  # in order, none lost or repeated
    stages = -(-nw // b)
    for (a, d), (_k, q, r, lat) in zip(vecs, rows, strict=True):
        assert (int(q), int(r)) == divmod(a, d), (a, d)
        assert int(lat) == stages * b


@pytest.mark.parametrize("b,lead", [(4, 0), (4, 3), (4, 9), (3, 5), (2, 1)])
def test_stagediv_ahead_leads_each_slot(tmp_path, b, lead):
    """ahead is high exactly LEAD enabled clocks before each slot (en low in random clocks between)."""
    if shutil.which("iverilog") is None:
        pytest.fail("iverilog missing: 'make setup' installs it (apt-get install -y iverilog)")
    rng = np.random.default_rng(100 * b + lead)
    vecs = _vectors(12, 6, rng, 12)
    (tmp_path / "tb.v").write_text(_bench(12, 6, b, vecs, rng, lead), encoding="utf-8")
    lib = template_dir() / "lib" / "ivit_stagediv.v"
    subprocess.run(["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "sim"), str(tmp_path / "tb.v"), str(lib)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "sim")], check=True, capture_output=True, text=True).stdout
    slots = {int(line.split()[1]) for line in out.splitlines() if line.startswith("S ")}
    aheads = {int(line.split()[1]) for line in out.splitlines() if line.startswith("A ")}
    last = max(slots | aheads)
    assert len(slots) > 10 and all(c - b not in slots or c in slots for c in range(b + 1, last))  # every B clocks
    assert {c + lead for c in aheads if c + lead <= last} == {c for c in slots if c > lead}

"""The on-chip harness a top is placed and routed in (``eda/harness.py``) on Icarus: it elaborates around a
rendered top (port names and widths from the manifest) and the top's output reaches the fold register,
image after image.

If the harness's stimulus never got through the top (a port left open, a ready held low), yosys would
prune the core and the Fmax would be of an empty design; here the fold must change once the top answers.
"""

from __future__ import annotations

import shutil
import subprocess

from top_graphs import TOP_GRAPHS

from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.eda.harness import HARNESS, write_harness

BENCH = """`timescale 1ns/1ps
module tb;
    reg clk = 0, rst_n = 0;
    wire fold;
    integer t, flips = 0, words = 0;
    reg last;
    {h} dut (.clk(clk), .rst_n(rst_n), .fold(fold));
    always #1 clk = !clk;
    initial begin
        repeat (4) @(posedge clk);
        rst_n = 1;
        @(posedge clk);
        last = 1'bx;
        // the top's output registers hold no reset value: the fold is X until the first word leaves
        for (t = 0; t < {clocks}; t = t + 1) begin
            @(posedge clk);
            if ((fold === 1'b0 || fold === 1'b1) && (last === 1'b0 || last === 1'b1) && fold != last)
                flips = flips + 1;
            last = fold;
            if (dut.core.y_TVALID && dut.core.y_TREADY) words = words + 1;  // y's handshakes
        end
        $display("FLIPS %0d %0d", flips, words);
        $finish;
    end
endmodule
"""


def test_harness_drives_a_top_and_folds_its_output(tmp_path):
    assert shutil.which("iverilog"), "iverilog missing: 'make setup' installs it"
    man = write_top(TOP_GRAPHS["cls_concat"](), tmp_path, "model", "2", None, 1)
    ports = man["ports"]
    harness = write_harness(tmp_path, man["module"], ports["x"]["tdata"], ports["y"]["tdata"])
    (tmp_path / "tb.v").write_text(BENCH.format(h=HARNESS, clocks=4000))
    rtl = sorted(str(p) for p in (tmp_path / "rtl").glob("*.v"))
    build = subprocess.run(["iverilog", "-g2012", "-Wimplicit", "-o", str(tmp_path / "sim"), "-s", "tb",
                            str(tmp_path / "tb.v"), str(harness), *rtl], capture_output=True, text=True)
    assert build.returncode == 0 and "warning" not in build.stderr.lower(), build.stderr
    run = subprocess.run(["vvp", "-n", str(tmp_path / "sim")], capture_output=True, text=True, timeout=300)
    res = [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("FLIPS")]
    assert res, run.stdout[-400:]
    flips, words = int(res[0][0]), int(res[0][1])
    # at least two whole images leave the top, and the fold follows them
    assert words >= 2 * ports["y"]["count"] and flips > 0, (flips, words)

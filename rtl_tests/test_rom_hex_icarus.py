"""The ``$readmemh`` copy of a ROM (``ivit_hw.eda.rom_hex``, used for synthesis) holds the same words
as the ``initial`` assignments the simulators read: both forms dumped by Icarus, against words
written by hand."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ivit_hw.eda.rom_hex import rom_initials_to_hex

DUT = """module rom_dump;
    reg signed [5:0] b_rom [0:2];
    initial begin
        b_rom[0] = 6'sd5;
        b_rom[1] = -6'sd1;
        b_rom[2] = -6'sd32;
    end
    reg [39:0] w_rom [0:1];
    initial begin
        w_rom[0] = 40'h00FF_0000_01;
        w_rom[1] = 40'hABCDEF0123;
    end
    integer i;
    initial begin
        #1;
        for (i = 0; i < 3; i = i + 1) $display("b %0d %h", i, b_rom[i]);
        for (i = 0; i < 2; i = i + 1) $display("w %0d %h", i, w_rom[i]);
    end
endmodule
"""
EXPECTED = ["b 0 05", "b 1 3f", "b 2 20", "w 0 00ff000001", "w 1 abcdef0123"]


def _dump(folder, text: str) -> list[str]:
    (folder / "rom_dump.v").write_text(text)
    subprocess.run(["iverilog", "-o", "sim", "rom_dump.v"], cwd=folder, check=True)
    out = subprocess.run(["vvp", "-n", "sim"], cwd=folder, check=True, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line[:2] in ("b ", "w ")]


def test_readmemh_copy_dumps_the_same_words_as_the_initial_blocks(tmp_path):
    if shutil.which("iverilog") is None:
        pytest.fail("iverilog missing: 'make setup' installs it (apt-get install -y iverilog)")
    direct, hexed = tmp_path / "direct", tmp_path / "hexed"
    direct.mkdir()
    hexed.mkdir()
    text, files = rom_initials_to_hex(DUT, "rom_dump")
    assert len(files) == 2
    for name, body in files.items():
        (hexed / name).write_text(body)
    assert _dump(direct, DUT) == EXPECTED
    assert _dump(hexed, text) == EXPECTED

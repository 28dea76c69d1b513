"""The ``$readmemh`` copy of a ROM (``ivit_hw.eda.rom_hex``, used for synthesis) holds the same words
as the ``initial`` assignments the simulators read: both forms dumped by Icarus, against words
written by hand."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ivit_hw.eda.rom_hex import rom_initials_to_hex

DUT = """module rom_dump;
    reg signed [4:0] s_rom [0:3];
    reg [35:0] h_rom [0:1];
    initial begin
        s_rom[0] = -5'sd16;
        s_rom[1] = 5'sd15;
        s_rom[2] = -5'sd3;
        s_rom[3] = 5'sd0;
    end
    initial begin
        h_rom[0] = 36'h8_0000_0001;
        h_rom[1] = 36'h123456789;
    end
    integer i;
    initial begin
        #1;
        for (i = 0; i < 4; i = i + 1) $display("s %0d %h", i, s_rom[i]);
        for (i = 0; i < 2; i = i + 1) $display("h %0d %h", i, h_rom[i]);
    end
endmodule
"""
EXPECTED = ["s 0 10", "s 1 0f", "s 2 1d", "s 3 00", "h 0 800000001", "h 1 123456789"]


def _dump(folder, text: str) -> list[str]:
    (folder / "rom_dump.v").write_text(text)
    subprocess.run(["iverilog", "-o", "sim", "rom_dump.v"], cwd=folder, check=True)
    out = subprocess.run(["vvp", "-n", "sim"], cwd=folder, check=True, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line[:2] in ("s ", "h ")]


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

"""ROM ``initial`` blocks rewritten as ``$readmemh`` for synthesis: the words, the blocks left alone,
and the copies written into a work folder (expected words written by hand)."""

from __future__ import annotations

from ivit_hw.eda.rom_hex import rom_initials_to_hex, synth_copies, word_value

ROM = """module m;
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
    reg [3:0] gap [0:3];
    initial begin
        gap[0] = 4'd1;
        gap[2] = 4'd2;
    end
endmodule
"""


def test_word_values_are_twos_complement_at_the_memory_width():
    assert word_value("", 6, "d", "5") == 5
    assert word_value("-", 6, "d", "1") == 0x3F
    assert word_value("-", 6, "d", "32") == 0x20
    assert word_value("", 40, "h", "00FF_0000_01") == 0xFF000001
    assert word_value("", 4, "b", "1010") == 10


def test_whole_memory_blocks_become_readmemh_and_others_stay():
    text, files = rom_initials_to_hex(ROM, "m")
    assert files == {"m_b_rom.hex": "05\n3f\n20\n", "m_w_rom.hex": "00ff000001\nabcdef0123\n"}
    assert '    initial $readmemh("m_b_rom.hex", b_rom);\n' in text
    assert '    initial $readmemh("m_w_rom.hex", w_rom);\n' in text
    assert "gap[0] = 4'd1;" in text and "gap[2] = 4'd2;" in text  # not words 0..n-1: kept
    assert "b_rom[1] =" not in text and "w_rom[0] =" not in text


def test_synth_copies_rewrites_only_files_with_roms(tmp_path):
    rom, plain = tmp_path / "rom.v", tmp_path / "plain.v"
    rom.write_text(ROM)
    plain.write_text("module p; endmodule\n")
    work = tmp_path / "work"
    got = synth_copies([rom, plain], work)
    assert got == [work / "rom.v", plain]
    assert (work / "rom_b_rom.hex").read_text() == "05\n3f\n20\n"
    assert "$readmemh" in (work / "rom.v").read_text() and rom.read_text() == ROM  # the source is untouched


def test_synth_design_reads_roms_as_readmemh_whoever_calls_it(tmp_path, monkeypatch):
    # the rewrite lives in synth_design itself, so every caller (synth, examples/unit_timing.py) gets it;
    # yosys is stubbed: what it would read is the work folder as handed over
    from ivit_hw.eda import synth

    rom, plain = tmp_path / "rom.v", tmp_path / "plain.v"
    rom.write_text(ROM)
    plain.write_text("module p; endmodule\n")
    seen = {}

    def fake_yosys(work, names, top, dev, env, hierarchical=False):
        seen.update({n: (work / n).read_text() for n in sorted(p.name for p in work.iterdir())})
        seen["names"] = names
        return {}

    monkeypatch.setattr(synth, "_yosys", fake_yosys)
    synth.synth_design([rom, plain], "m", "ecp5-25k", work=tmp_path / "w", place_route=False)
    assert seen["names"] == ["rom.v", "plain.v"]
    assert seen["rom_b_rom.hex"] == "05\n3f\n20\n" and seen["rom_w_rom.hex"] == "00ff000001\nabcdef0123\n"
    assert '$readmemh("rom_b_rom.hex", b_rom)' in seen["rom.v"] and "b_rom[1] =" not in seen["rom.v"]
    assert seen["plain.v"] == "module p; endmodule\n" and rom.read_text() == ROM

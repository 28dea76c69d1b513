"""Checks that come first and stay short (issue 19, item 4)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_helpers import assert_one_line_error, run_cli  # noqa: E402
from tiny_graphs import tiny_graph  # noqa: E402


def test_quantize_into_a_foreign_non_empty_folder_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my own files")
    import ivit_hw.frontend.data as data

    def no_calibration(*args, **kwargs):
        raise AssertionError("calibration images were loaded before the output folder was checked")

    monkeypatch.setattr(data, "load_calibration", no_calibration)
    code, out_text, err = run_cli(capsys, "quantize", "--model", "vit_digits", "--calib", "digits", "-o", out)
    assert_one_line_error(code, err, f"-o {out}", "non-empty", "graph.yaml")
    assert "calibrat" not in out_text
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_bad_crc_in_one_constant_is_one_line_naming_the_file_and_member(capsys, tmp_path):
    save_graph(verify(tiny_graph()), tmp_path / "tiny")
    npz = tmp_path / "tiny" / "constants.npz"
    with zipfile.ZipFile(npz) as zf:
        info = zf.infolist()[-1]
        member = info.filename
    blob = bytearray(npz.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    blob[start + info.compress_size - 1] ^= 0xFF  # the member's last data byte: its CRC no longer matches
    npz.write_bytes(bytes(blob))
    with zipfile.ZipFile(npz) as zf:
        assert zf.testzip() == member  # the damage is where the test meant it
    code, out, err = run_cli(capsys, "inspect", tmp_path / "tiny")
    assert_one_line_error(code, err, "constants.npz", member)
    assert out == ""

"""examples/plot_top_timing.py: its reader takes docs/top_timing.md's two tables row by row (a malformed row
of the record fails here), and the plot is drawn from them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
from load_example import load_example  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _load():
    return load_example("plot_top_timing")


def test_reader_takes_each_table_row_by_row():
    text = """# t
## Block
| step | ports | Fmax (MHz) |
|---|---|---:|
| b0 | pins | 118.3 |
| b1 | harness | 125.4 |
prose between
## Whole
| step | ports | Fmax (MHz) |
|---|---|---:|
| w0 | pins | 94.5 |
"""
    tables = _load().read_tables(text)
    assert list(tables) == ["Block", "Whole"]
    assert [r["step"] for r in tables["Block"]] == ["b0", "b1"] and tables["Whole"][0]["Fmax (MHz)"] == "94.5"


def test_the_record_is_well_formed_and_plots(tmp_path):
    mod = _load()
    tables = mod.read_tables((ROOT / "docs" / "top_timing.md").read_text(encoding="utf-8"))
    assert len(tables) == 2
    for rows in tables.values():
        assert rows
        for r in rows:
            assert r["ports"] in ("pins", "harness") and 0 < float(r["Fmax (MHz)"]) < 1000, r
            assert len(r["commit"]) == 7 and r["critical path after routing"], r
    mod.plot(tables, tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"

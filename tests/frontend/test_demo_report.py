"""The steps after ``ivit-hw demo`` each own one report key and one report section."""

from __future__ import annotations

import json

from ivit_hw.frontend.demo_report import add_to_report, replace_section

BASE = "# demo\n\ntext\n\n| stage | seconds |\n|---|---|\n\nTotal: 1.0 s.\n"


def test_sections_are_appended_then_replaced_in_place():
    one = replace_section(BASE, "HLS C-simulation", "hls v1")
    assert one == BASE + "\n## HLS C-simulation\n\nhls v1\n"
    two = replace_section(one, "RTL units", "rtl v1")
    assert two == one + "\n## RTL units\n\nrtl v1\n"
    # running the HLS step again replaces its own section and keeps the RTL one after it
    assert replace_section(two, "HLS C-simulation", "hls v2") == (
        BASE + "\n## HLS C-simulation\n\nhls v2\n\n## RTL units\n\nrtl v1\n")
    assert replace_section(two, "RTL units", "rtl v2") == one + "\n## RTL units\n\nrtl v2\n"


def test_add_to_report_sets_its_key_and_keeps_the_others(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps({"int_accuracy": 0.99, "hls_csim": {"bit_exact": True}}))
    (tmp_path / "report.md").write_text(BASE)
    add_to_report(tmp_path, "rtl", {"ok": True, "passed": 112}, "RTL units", "all pass")
    assert json.loads((tmp_path / "report.json").read_text()) == {
        "int_accuracy": 0.99, "hls_csim": {"bit_exact": True}, "rtl": {"ok": True, "passed": 112}}
    assert (tmp_path / "report.md").read_text() == BASE + "\n## RTL units\n\nall pass\n"

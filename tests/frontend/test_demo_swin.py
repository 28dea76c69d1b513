"""The demo's Swin step on a very short recipe: its report entry and section beside the ViT's, with the
integer accuracy re-measured from the saved graph (golden executor, digits test split)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from ivit_hw.frontend.data import load_digits_split  # noqa: E402
from ivit_hw.frontend.demo_swin import TITLE, run_swin_demo, swin_ok, swin_section, swin_summary  # noqa: E402
from ivit_hw.ir.serialize import load_graph  # noqa: E402
from ivit_hw.runtime import run_graph  # noqa: E402

VIT = {"fp_accuracy": 0.98, "int_accuracy": 0.9756, "model": "vit_digits"}


def test_swin_step_adds_its_row_beside_the_vit(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "report.json").write_text(json.dumps(VIT))
    (demo / "report.md").write_text("# ivit_hw demo\n\n## HLS C-simulation\n\nbit-exact\n")
    r = run_swin_demo(demo, epochs=1, hls=False, progress=False, qat_recipe={"epochs": 1})
    saved = json.loads((demo / "report.json").read_text())
    assert saved["fp_accuracy"] == VIT["fp_accuracy"]  # the ViT's keys stay
    assert saved["swin"] == json.loads(json.dumps(r)) and "hls_csim" not in r
    assert r["model"] == "swin_digits" and r["float_epochs"] == 1 and r["export_wiring_exact"] is True
    split = load_digits_split()
    graph = load_graph(demo / "swin.ivit")
    assert "swin" in graph.meta and any("mask" in n.inputs for n in graph.nodes)
    pred = run_graph(graph, {graph.inputs[0]: split.test_images}).outputs["pred"]
    assert float((np.asarray(pred) == split.test_labels).mean()) == r["int_accuracy"]
    md = (demo / "report.md").read_text()
    assert "## HLS C-simulation\n\nbit-exact" in md and f"## {TITLE}" in md
    assert "| vit_digits | 98.00 % | 97.56 % | -0.44 |" in md
    assert (f"| swin_digits (1 float epochs) | {100 * r['fp_accuracy']:.2f} % | {100 * r['int_accuracy']:.2f} % |"
            in md)
    assert swin_ok(r)


def test_swin_section_and_summary_carry_the_csim_verdict():
    r = {"float_epochs": 12, "fp_accuracy": 0.9, "int_accuracy": 0.9022, "export_wiring_exact": True,
         "graph": "swin.ivit", "seconds": 99.6,
         "hls_csim": {"bit_exact": False, "summary": "3 passed, 2 failed", "test_images": 450,
                      "project": "/x/swin_hls"}}
    text = swin_section(r, None)
    assert "vit_digits" not in text and "| swin_digits (12 float epochs) | 90.00 % | 90.22 % | +0.22 |" in text
    assert "on all 450 test images: **NOT bit-exact** against the golden model (3 passed, 2 failed)" in text
    assert not swin_ok(r)
    assert swin_summary(r).endswith("| HLS C-sim NOT bit-exact (3 passed, 2 failed) | 100 s")
    r["hls_csim"]["bit_exact"] = True
    assert swin_ok(r) and "**bit-exact**" in swin_section(r, VIT)

"""The digits demo and the ablation study, on very short training recipes.

The demo's integer accuracy is re-measured from the files it wrote (the saved
graph, the golden executor and the digits test split), not taken from the run.
"""

from __future__ import annotations

import json
import shutil
import statistics

import numpy as np
import pytest
from PIL import Image

from ivit_hw import cli
from ivit_hw.frontend import ablation as ablation_mod
from ivit_hw.frontend import demo as demo_mod
from ivit_hw.frontend.ablation import VARIANTS, run_ablation
from ivit_hw.frontend.data import load_digits_split
from ivit_hw.frontend.demo import run_demo
from ivit_hw.ir.serialize import load_graph
from ivit_hw.runtime import run_graph

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N_TEST = 450
FAST = {"float_recipe": {"epochs": 3}, "qat_recipe": {"epochs": 1}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "d"
    report = run_demo(out, progress=False, **FAST)
    return out, report


def _is_count_of(acc: float, n: int) -> bool:
    return 0.0 <= acc <= 1.0 and abs(acc * n - round(acc * n)) < 1e-9


def test_demo_report_fields(demo):
    out, report = demo
    assert sorted(p.name for p in out.iterdir()) == ["accuracy.png", "compare", "float_qat.safetensors", "model.ivit",
                                                      "report.json", "report.md"]
    saved = json.loads((out / "report.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["model"] == "vit_digits" and saved["seed"] == 0
    assert saved["train_images"] == 1347 and saved["test_images"] == N_TEST
    for key in ("fp_accuracy", "ptq_int_accuracy", "int_accuracy"):
        assert _is_count_of(saved[key], N_TEST), (key, saved[key])
    assert saved["export_wiring_exact"] is True
    assert saved["independent_forward_exact"] is True and saved["independent_forward_images"] == 3
    assert saved["accuracy_drop_points"] == pytest.approx(100 * (saved["fp_accuracy"] - saved["int_accuracy"]))
    assert saved["quant_config"]["softmax"] == "shiftmax"
    stages = saved["stage_seconds"]
    assert {"float_train", "calibrate", "ptq_eval", "qat", "export", "int_eval", "compare"} <= set(stages)
    assert all(v >= 0 for v in stages.values())
    assert saved["seconds"] >= sum(stages.values()) > 0
    # three short epochs already learn something on 10 classes (chance is 0.1)
    assert saved["fp_accuracy"] > 0.2 and saved["int_accuracy"] > 0.2


def test_demo_integer_accuracy_reproduces_from_the_saved_graph(demo):
    out, report = demo
    graph = load_graph(out / "model.ivit")
    assert graph.tensor(graph.inputs[0]).shape == (1, 8, 8)
    assert len(graph.nodes) == report["graph_nodes"] and len(graph.constants) == report["graph_constants"]
    assert graph.meta.get("preset") == "vit_digits"
    split = load_digits_split()
    res = run_graph(graph, {graph.inputs[0]: split.test_images}).outputs
    logits, pred = res[graph.outputs[0]], res[graph.outputs[1]]
    assert logits.shape == (N_TEST, 10)
    np.testing.assert_array_equal(pred.reshape(-1), logits.argmax(-1))
    correct = int((logits.argmax(-1) == split.test_labels).sum())
    assert correct == round(report["int_accuracy"] * N_TEST)
    assert correct / N_TEST == report["int_accuracy"]


def test_demo_markdown_and_plot(demo):
    out, report = demo
    md = (out / "report.md").read_text()
    assert md.startswith("# ivit_hw demo")
    assert f"| float (fp32) | {100 * report['fp_accuracy']:.2f} % |" in md
    assert f"| integer, calibration only (PTQ) | {100 * report['ptq_int_accuracy']:.2f} % |" in md
    assert f"| integer, after QAT (exported IR, golden executor) | {100 * report['int_accuracy']:.2f} % |" in md
    assert "**True**" in md and f"{N_TEST} images" in md
    data = (out / "accuracy.png").read_bytes()
    assert data.startswith(PNG_MAGIC)
    with Image.open(out / "accuracy.png") as im:
        assert im.format == "PNG" and im.size == (600, 384)  # 5 x 3.2 inches at 120 dpi


def test_demo_run_again_overwrites_cleanly(tmp_path, demo):
    """A second run into the folder of a first (the module's demo, copied) replaces every file it writes,
    a stale graph folder whole, and leaves the user's own files."""
    first_out, first = demo
    out = tmp_path / "d"
    shutil.copytree(first_out, out)
    (out / "notes.txt").write_text("mine")
    (out / "model.ivit" / "stale.bin").write_bytes(b"old")  # a stale graph folder with an extra file is replaced whole
    (out / "report.json").write_text("{not json")
    second = run_demo(out, seed=1, progress=False, float_recipe={"epochs": 1}, qat_recipe={"epochs": 1})
    assert not (out / "model.ivit" / "stale.bin").exists()
    assert first["seed"] == 0 and second["seed"] == 1
    saved = json.loads((out / "report.json").read_text())
    assert saved["seed"] == 1 and saved["int_accuracy"] == second["int_accuracy"]
    assert sorted(p.name for p in out.iterdir()) == ["accuracy.png", "compare", "float_qat.safetensors", "model.ivit",
                                                      "notes.txt", "report.json", "report.md"]
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "model.ivit").iterdir()) == ["constants.npz", "graph.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temporary folders left behind
    assert f"{100 * second['int_accuracy']:.2f} %" in (out / "report.md").read_text()
    graph = load_graph(out / "model.ivit")
    split = load_digits_split()
    pred = run_graph(graph, {graph.inputs[0]: split.test_images}).outputs[graph.outputs[1]].reshape(-1)
    assert float((pred == split.test_labels).mean()) == second["int_accuracy"]


# ----------------------------------------------------------------------------- ablation


def test_ablation_two_variants(tmp_path, capsys):
    variants = [VARIANTS[0], VARIANTS[1]]
    assert variants[1][1] == {"softmax": "ibert_softmax"}
    out = tmp_path / "a"
    result = run_ablation(out, seeds=(0,), progress=False, float_recipe={"epochs": 2}, qat_recipe={"epochs": 1},
                          variants=variants)
    assert "[ablation] done" in capsys.readouterr().out
    saved = json.loads((out / "ablation.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["seeds"] == [0] and len(saved["float_accuracy"]) == 1
    assert saved["float"]["mean"] == statistics.fmean(saved["float_accuracy"])
    rows = saved["rows"]
    assert [r["variant"] for r in rows] == [name for name, _ in variants]
    assert rows[0]["ops"]["softmax"] == "shiftmax" and rows[1]["ops"]["softmax"] == "ibert_softmax"
    assert rows[1]["ops"]["gelu"] == "shiftgelu" and rows[1]["ops"]["layernorm"] == "ilayernorm"
    for r in rows:
        assert r["seeds"] == [0] and r["export_wiring_exact"] is True
        for key in ("ptq", "qat"):
            accs = r[f"{key}_accuracy"]
            assert len(accs) == 1 and all(_is_count_of(a, N_TEST) for a in accs)
            assert r[key]["mean"] == pytest.approx(sum(accs) / len(accs), abs=1e-12)
            assert r[key]["spread"] == pytest.approx(max(accs) - min(accs), abs=1e-12)
    md = (out / "ablation.md").read_text().splitlines()
    assert md[0].startswith("# Ablation on sklearn digits")
    header = next(i for i, line in enumerate(md) if line.startswith("| variant |"))
    table = md[header + 2 :]
    assert len(table) == len(rows)
    for line, r in zip(table, rows, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == r["variant"]
        assert cells[3] == f"{100 * r['qat']['mean']:.2f}" and cells[1] == f"{100 * r['ptq']['mean']:.2f}"
        assert cells[5] == f"{100 * r['qat_accuracy'][0]:.2f}" and cells[6] == "True"
    assert (out / "ablation.png").read_bytes().startswith(PNG_MAGIC)


def test_ablation_summary_over_several_seeds():
    s = ablation_mod._summary([0.5, 0.75, 1.0])
    assert s["mean"] == 0.75 and s["spread"] == 0.5
    assert s["std"] == pytest.approx(((0.25**2 + 0 + 0.25**2) / 3) ** 0.5)
    assert ablation_mod._summary([0.4]) == {"mean": 0.4, "spread": 0.0, "std": 0.0}


# ----------------------------------------------------------------------------- CLI wiring


def test_demo_and_ablation_commands_pass_their_options(capsys, monkeypatch, tmp_path):
    calls = []

    def fake_demo(out, seed=0, progress=True, rtl=False, cfg=None):
        calls.append(("demo", out, seed, progress, cfg.dyadic_bits))
        return {"fp_accuracy": 0.9876, "int_accuracy": 0.97, "export_wiring_exact": True,
                "independent_forward_exact": True, "seconds": 12.4}

    def fake_ablation(out, seeds, progress=True, model="vit_digits"):
        calls.append(("ablation", out, seeds, progress, model))
        return {}

    monkeypatch.setattr(demo_mod, "run_demo", fake_demo)
    monkeypatch.setattr(ablation_mod, "run_ablation", fake_ablation)
    assert cli.main(["demo", "--out", str(tmp_path / "x"), "--seed", "3", "--quiet", "--no-hls", "--no-rtl",
                     "--no-swin", "--no-rtl-top"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (f"float 98.76 % | integer 97.00 % | export wiring exact True | independent forward "
                           f"exact True | 12 s | {tmp_path / 'x'}/report.md")
    assert cli.main(["ablation", "--out", str(tmp_path / "y"), "--seeds", "4", "5"]) == 0
    assert calls == [("demo", str(tmp_path / "x"), 3, False, 17),  # the demo's 17-bit multipliers by default
                     ("ablation", str(tmp_path / "y"), (4, 5), True, "vit_digits")]
    assert cli.main(["demo", "--out", str(tmp_path / "z"), "--dyadic-bits", "31", "--quiet", "--no-hls", "--no-rtl",
                     "--no-swin", "--no-rtl-top"]) == 0
    assert calls[-1][-1] == 31
    assert cli.main(["demo", "--seed", "x"]) == 2
    assert "invalid int value" in capsys.readouterr().err
    assert cli.main(["demo", "--out", str(tmp_path / "w"), "--dyadic-bits", "40"]) == 2
    err = capsys.readouterr().err
    assert "dyadic_bits must be in [8, 31], got 40" in err and len(err.strip().splitlines()) == 1


def test_demo_writes_its_fidelity_report_from_the_saved_files(demo):
    """compare/ is what 'ivit-hw compare' gives on the saved graph and float checkpoint (make demo writes it)."""
    from ivit_hw.frontend.checkpoint import load_checkpoint
    from ivit_hw.frontend.compare import run_compare
    from ivit_hw.frontend.models import create_model

    out, report = demo
    saved = json.loads((out / "compare" / "compare.json").read_text())
    assert sorted(p.name for p in (out / "compare").iterdir()) == ["compare.json", "compare.md", "compare.png"]
    model = load_checkpoint(create_model("vit_digits"), out / "float_qat.safetensors").eval()
    split = load_digits_split()
    again = run_compare(load_graph(out / "model.ivit"), model, split.test_images, split.test_labels, progress=False)
    assert saved["summary"] == json.loads(json.dumps(again["summary"]))
    assert saved["summary"]["images"] == N_TEST
    assert report["top1_agreement_int_vs_float"] == saved["summary"]["top1_agreement"]
    assert saved["summary"]["int_top1"] == report["int_accuracy"]

"""``ivit-hw ablation --model swin_digits`` at tiny size: the Swin graph takes each op variant (the
masked window softmax, GELU and the norms, patch merging's included), and the saved graphs say so."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from ivit_hw import cli  # noqa: E402
from ivit_hw.frontend import ablation as ablation_mod  # noqa: E402
from ivit_hw.frontend.ablation import VARIANTS, model_variants, run_ablation  # noqa: E402

N_TEST = 450


def test_swin_ablation_runs_each_variant_on_the_swin_graph(tmp_path, monkeypatch):
    graphs = []
    real = ablation_mod.quantize_and_export

    def spy(*args, **kwargs):
        run = real(*args, **kwargs)
        graphs.append(run.graph)
        return run

    monkeypatch.setattr(ablation_mod, "quantize_and_export", spy)
    # one run covers the three baselines that take Swin's masked windows: Log-Int-Softmax, I-BERT GELU and LN
    variants = [("baselines", {"softmax": "log_int_softmax", "gelu": "ibert_gelu", "layernorm": "ibert_layernorm"})]
    out = tmp_path / "a"
    result = run_ablation(out, seeds=(0,), progress=False, float_recipe={"epochs": 1}, qat_recipe={"epochs": 1},
                          variants=variants, model="swin_digits")
    saved = json.loads((out / "ablation.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["model"] == "swin_digits" and [r["variant"] for r in saved["rows"]] == ["baselines"]
    md = (out / "ablation.md").read_text()
    assert md.startswith("# Ablation on sklearn digits (fixed split, 450 test images), model swin_digits")
    row = saved["rows"][0]
    assert row["export_wiring_exact"] is True  # the saved graph on the golden executor = the twin's integers
    for acc in row["ptq_accuracy"] + row["qat_accuracy"]:
        assert 0.0 <= acc <= 1.0 and abs(acc * N_TEST - round(acc * N_TEST)) < 1e-9
    (g,) = graphs
    assert "swin" in g.meta
    ops = {n.op for n in g.nodes}
    assert {"log_int_softmax", "log_attn_v", "ibert_gelu", "ibert_layernorm"} <= ops, ops
    assert not ({"shiftmax", "shiftgelu", "ilayernorm"} & ops)
    masked = [n.name for n in g.nodes if "mask" in n.inputs]
    assert masked == ["layers.0.blocks.1.attn.attn_code"] and g.node(masked[0]).op == "log_int_softmax"
    assert g.node("layers.1.downsample.norm.out").op == "ibert_layernorm"


def test_swin_default_variants_leave_out_the_maskless_softmax():
    run, skipped = model_variants("swin_digits")
    assert skipped == [name for name, ops in VARIANTS if ops.get("softmax") == "ibert_softmax"]
    assert len(skipped) == 2 and len(run) + len(skipped) == len(VARIANTS)
    assert all(ops.get("softmax") != "ibert_softmax" for _, ops in run) and run[0] == VARIANTS[0]
    assert model_variants("vit_digits") == (VARIANTS, [])
    res = {"dataset": "d", "model": "swin_digits", "seeds": [0], "float": {"mean": 0.5, "spread": 0.0}, "rows": [],
           "not_run": dict.fromkeys(skipped, ablation_mod.SWIN_SKIP_REASON)}
    md = ablation_mod.render_ablation_md(res)
    assert md.count("Not run on swin_digits: ") == 2 and "takes no mask" in md


def test_ablation_cli_takes_the_model(tmp_path, monkeypatch):
    seen = {}

    def fake(out, seeds, progress=True, model="vit_digits"):
        seen.update(out=out, seeds=seeds, model=model)
        return {}

    monkeypatch.setattr(ablation_mod, "run_ablation", fake)
    out = tmp_path / "o"
    assert cli.main(["ablation", "--model", "swin_digits", "--seeds", "3", "--out", str(out), "--quiet"]) == 0
    assert seen == {"out": str(out), "seeds": (3,), "model": "swin_digits"}

"""The ablation study: each I-ViT op swapped for its baselines, one at a time
(plus all-I-BERT), over several seeds, with and without QAT, on digits, for
``vit_digits`` (default) or ``swin_digits`` (the variants apply to the windowed
attention and the patch-merging norm too; the I-BERT softmax rows are not run on
Swin: that op has no mask input, and the shifted windows need one).

For each seed one float model is trained and shared by every variant, so the
variants differ only in their integer ops.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from .data import load_digits_split
from .pipeline import quantize_and_export, train_digits_float, write_json
from .qconfig import QuantConfig

#: the digits models the ablation trains
MODELS = ("vit_digits", "swin_digits")

#: (variant name, op choices). The first row is I-ViT itself.
VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("I-ViT (shiftmax, shiftgelu, ilayernorm)", {}),
    ("softmax: I-BERT", {"softmax": "ibert_softmax"}),
    ("softmax: Log-Int-Softmax", {"softmax": "log_int_softmax"}),
    ("GELU: I-BERT", {"gelu": "ibert_gelu"}),
    ("LayerNorm: I-BERT", {"layernorm": "ibert_layernorm"}),
    ("LayerNorm: L1", {"layernorm": "l1_layernorm"}),
    ("all I-BERT", {"softmax": "ibert_softmax", "gelu": "ibert_gelu", "layernorm": "ibert_layernorm"}),
]


#: why a variant cannot run on a Swin graph (its shifted windows need a softmax with a mask input)
SWIN_SKIP_REASON = "I-BERT softmax takes no mask, and the shifted windows need one; Shiftmax and Log-Int-Softmax do"


def model_variants(model: str) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
    """The default variants that run on ``model`` and the names of those that cannot (for Swin: any with
    the I-BERT softmax, which has no mask input)."""
    if model != "swin_digits":
        return list(VARIANTS), []
    run = [(name, ops) for name, ops in VARIANTS if ops.get("softmax") != "ibert_softmax"]
    return run, [name for name, ops in VARIANTS if ops.get("softmax") == "ibert_softmax"]


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "spread": (max(values) - min(values)) if values else 0.0,
            "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


def run_ablation(out_dir: str | Path, seeds: tuple[int, ...] = (0, 1, 2), progress: bool = True,
                 float_recipe: dict[str, Any] | None = None, qat_recipe: dict[str, Any] | None = None,
                 variants: list[tuple[str, dict[str, str]]] | None = None,
                 model: str = "vit_digits") -> dict[str, Any]:
    """Run every variant for every seed, with and without QAT, on ``model`` (one of :data:`MODELS`);
    write ablation.json/.md/.png."""
    if model not in MODELS:
        raise ValueError(f"ablation model {model!r}: choose one of {MODELS}")
    t0 = time.perf_counter()
    skipped: list[str] = []
    if variants is None:
        variants, skipped = model_variants(model)
    split = load_digits_split()
    test = (split.test_images, split.test_labels)
    rows = {name: {"ops": QuantConfig(**ops).as_dict(), "ptq": [], "qat": [], "wiring": []}
            for name, ops in variants}
    float_acc = []
    for seed in seeds:
        print(f"[ablation] seed {seed}: training float {model}", flush=True)
        fmodel, fp_acc, _ = train_digits_float(split, seed, progress, float_recipe, preset=model)
        float_acc.append(fp_acc)
        for k, (name, ops) in enumerate(variants):
            print(f"[ablation] seed {seed} variant {k + 1}/{len(variants)}: {name}", flush=True)
            run = quantize_and_export(fmodel, QuantConfig(**ops), split.train_images, "ablation",
                                      (split.train_images, split.train_labels), seed, qat_recipe, progress, test)
            rows[name]["ptq"].append(run.ptq_int_accuracy)
            rows[name]["qat"].append(run.int_accuracy)
            rows[name]["wiring"].append(run.export_wiring_exact)
    table = []
    for name, _ in variants:
        r = rows[name]
        table.append({"variant": name, "ops": r["ops"], "seeds": list(seeds),
                      "ptq_accuracy": r["ptq"], "qat_accuracy": r["qat"],
                      "ptq": _summary(r["ptq"]), "qat": _summary(r["qat"]),
                      "export_wiring_exact": all(r["wiring"])})
    result = {"dataset": "sklearn digits (fixed split, 450 test images)", "model": model,
              "seeds": list(seeds), "float_accuracy": float_acc, "float": _summary(float_acc),
              "rows": table, "not_run": {name: SWIN_SKIP_REASON for name in skipped},
              "seconds": time.perf_counter() - t0}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "ablation.json", result)
    (out / "ablation.md").write_text(render_ablation_md(result))
    plot_ablation(result, out / "ablation.png")
    print(f"[ablation] done in {result['seconds']:.0f} s -> {out}", flush=True)
    return result


def render_ablation_md(res: dict[str, Any]) -> str:
    """The ablation table in markdown (accuracies in %, mean and max-min spread over seeds)."""
    f = res["float"]
    lines = [
        f"# Ablation on {res['dataset']}, model {res['model']}, seeds {res['seeds']}\n",
        f"Float accuracy: {100 * f['mean']:.2f} % (spread {100 * f['spread']:.2f}).\n",
        "| variant | PTQ mean | PTQ spread | QAT mean | QAT spread | per-seed QAT | export wiring exact |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        seeds = ", ".join(f"{100 * a:.2f}" for a in r["qat_accuracy"])
        lines.append(f"| {r['variant']} | {100 * r['ptq']['mean']:.2f} | {100 * r['ptq']['spread']:.2f} | "
                     f"{100 * r['qat']['mean']:.2f} | {100 * r['qat']['spread']:.2f} | {seeds} | "
                     f"{r['export_wiring_exact']} |")
    lines += [f"\nNot run on {res['model']}: {name} ({why})." for name, why in res.get("not_run", {}).items()]
    return "\n".join(lines) + "\n"


def plot_ablation(res: dict[str, Any], path: Path) -> None:
    """Grouped bars (PTQ, QAT) per variant with the per-seed spread as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = res["rows"]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 4), dpi=120)
    for off, key, color in ((-0.2, "ptq", "#dd8452"), (0.2, "qat", "#55a868")):
        means = [100 * r[key]["mean"] for r in rows]
        lo = [100 * (r[key]["mean"] - min(r[f"{key}_accuracy"])) for r in rows]
        hi = [100 * (max(r[f"{key}_accuracy"]) - r[key]["mean"]) for r in rows]
        ax.bar(x + off, means, 0.4, yerr=[lo, hi], capsize=3, color=color, label=key.upper())
    ax.axhline(100 * res["float"]["mean"], color="#4c72b0", linestyle="--", label="float")
    ax.set_xticks(x, [r["variant"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("top-1 accuracy (%)")
    all_vals = [100 * a for r in rows for a in r["ptq_accuracy"] + r["qat_accuracy"]]
    ax.set_ylim(max(0, min(all_vals) - 5), 100.5)
    ax.legend(fontsize=8)
    ax.set_title(f"Integer-op ablation, {res['model']} on digits (mean over seeds, bars = min..max)")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)

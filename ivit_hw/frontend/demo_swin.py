"""The Swin step of ``make demo``: ``swin_digits`` float vs integer beside the ViT, and its HLS C-sim.

    python -m ivit_hw.frontend.demo_swin out/demo [--epochs N] [--no-hls]

Trains the float ``swin_digits`` on a short recipe (:data:`SWIN_DEMO_EPOCHS` epochs:
the demo's time stays modest; docs/accuracy.md has the 40-epoch, 3-seed figures),
calibrates its twin, runs the project's QAT, exports the graph to
``out/demo/swin.ivit`` and evaluates it with the golden executor on the test split.
Unless skipped, the whole graph is then an HLS project (``out/demo/swin_hls``)
C-simulated with g++ on every test image. Adds ``report.json["swin"]`` and the
section "Swin (swin_digits)" of ``report.md``, with the ViT's row beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..ir.serialize import save_graph
from .data import load_digits_split
from .demo_report import add_to_report
from .pipeline import quantize_and_export, train_digits_float
from .qconfig import QuantConfig

SWIN_DEMO_EPOCHS = 20
TITLE = "Swin (swin_digits)"


def _hls(graph_dir: Path, out: Path, images) -> dict[str, Any]:
    """The whole graph as an HLS project in ``out``, C-simulated on ``images``: verdict and last line."""
    from ..codegen.hls.options import HlsOptions
    from ..codegen.hls.project import write_project
    from ..codegen.hls.verify import run_csim
    from ..ir.serialize import load_graph

    t = time.perf_counter()
    graph = load_graph(graph_dir)
    write_project(graph, out, HlsOptions(samples=len(images), trace_samples=1), graph_inputs={graph.inputs[0]: images})
    status, text = run_csim(out, echo=False)
    lines = text.strip().splitlines()
    return {"bit_exact": status == 0, "summary": lines[-1] if lines else "no output", "test_images": int(len(images)),
            "failed_lines": [ln for ln in lines if ln.startswith(("FAIL", "ERROR"))][:20],
            "seconds": round(time.perf_counter() - t, 1), "project": str(out)}


def run_swin_demo(demo_dir: str | Path, seed: int = 0, epochs: int = SWIN_DEMO_EPOCHS, hls: bool = True,
                  progress: bool = True, qat_recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train, quantize, export and evaluate ``swin_digits`` (and C-simulate it unless ``hls`` is False);
    add the result to the demo's report in ``demo_dir``; return it."""
    demo = Path(demo_dir)
    t0 = time.perf_counter()
    split = load_digits_split()
    log = (lambda m: print(f"[demo] {m}", flush=True)) if progress else (lambda m: None)
    log(f"training float swin_digits ({epochs} epochs)")
    model, fp_acc, train_s = train_digits_float(split, seed, progress, {"epochs": epochs}, preset="swin_digits")
    log(f"swin_digits float test accuracy {fp_acc:.4f} ({train_s:.0f} s); calibrating + QAT")
    run = quantize_and_export(model, QuantConfig(), split.train_images, "swin_digits",
                              (split.train_images, split.train_labels), seed, qat_recipe, progress,
                              (split.test_images, split.test_labels),
                              {"preset": "swin_digits", "dataset": "sklearn digits, test_size=0.25, seed 0"})
    graph_dir = save_graph(run.graph, demo / "swin.ivit")
    result: dict[str, Any] = {
        "model": "swin_digits", "seed": seed, "float_epochs": epochs, "fp_accuracy": fp_acc,
        "ptq_int_accuracy": run.ptq_int_accuracy, "int_accuracy": run.int_accuracy,
        "accuracy_drop_points": 100.0 * (fp_acc - run.int_accuracy),
        "export_wiring_exact": run.export_wiring_exact, "graph": graph_dir.name,
        "stage_seconds": {"float_train": train_s, **run.seconds},
    }
    if hls:
        log("HLS C-sim of the whole swin_digits model on the test split")
        result["hls_csim"] = _hls(graph_dir, demo / "swin_hls", split.test_images)
    result["seconds"] = time.perf_counter() - t0
    add_to_report(demo, "swin", result, TITLE, swin_section(result, _vit_row(demo)))
    return result


def _vit_row(demo: Path) -> dict[str, Any] | None:
    """The ViT's accuracies from the demo's report.json, if there."""
    path = demo / "report.json"
    if not path.is_file():
        return None
    r = json.loads(path.read_text(encoding="utf-8"))
    return r if "fp_accuracy" in r and "int_accuracy" in r else None


def swin_section(r: dict[str, Any], vit: dict[str, Any] | None) -> str:
    """The markdown of the Swin section: float vs integer next to the ViT's, and the C-sim verdict."""
    rows = []
    if vit is not None:
        rows.append(f"| vit_digits | {100 * vit['fp_accuracy']:.2f} % | {100 * vit['int_accuracy']:.2f} % | "
                    f"{100 * (vit['int_accuracy'] - vit['fp_accuracy']):+.2f} |")
    rows.append(f"| swin_digits ({r['float_epochs']} float epochs) | {100 * r['fp_accuracy']:.2f} % | "
                f"{100 * r['int_accuracy']:.2f} % | {100 * (r['int_accuracy'] - r['fp_accuracy']):+.2f} |")
    text = ("| model | float top-1 | integer top-1 (QAT, golden executor) | integer - float |\n|---|---|---|---|\n"
            + "\n".join(rows) + "\n\n"
            f"The Swin graph is `{r['graph']}/` (shifted windows with the mask, relative-position bias, patch "
            f"merging, pooled head); export wiring exact: **{r['export_wiring_exact']}**. The float model is "
            f"trained on a short recipe here; docs/accuracy.md has 40 epochs over 3 seeds.")
    h = r.get("hls_csim")
    if h is not None:
        verdict = "bit-exact" if h["bit_exact"] else "NOT bit-exact"
        text += (f"\n\nHLS C-simulation of the whole swin_digits model (`{Path(h['project']).name}/`, g++) on all "
                 f"{h['test_images']} test images: **{verdict}** against the golden model ({h['summary']}).")
    return text + f"\n\nSwin step: {r['seconds']:.0f} s."


def main(argv: list[str] | None = None) -> int:
    """``python -m ivit_hw.frontend.demo_swin DEMO_DIR``: 0 when the export is exact and the C-sim bit-exact."""
    p = argparse.ArgumentParser(prog="python -m ivit_hw.frontend.demo_swin", description=__doc__.split("\n")[0])
    p.add_argument("demo_dir", nargs="?", default="out/demo")
    p.add_argument("--epochs", type=int, default=SWIN_DEMO_EPOCHS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-hls", action="store_true")
    a = p.parse_args(argv)
    r = run_swin_demo(a.demo_dir, a.seed, a.epochs, hls=not a.no_hls)
    print(swin_summary(r))
    return 0 if swin_ok(r) else 1


def swin_ok(r: dict[str, Any]) -> bool:
    """The Swin step passed: exact export, and a bit-exact C-sim where one ran."""
    return bool(r["export_wiring_exact"]) and bool(r.get("hls_csim", {"bit_exact": True})["bit_exact"])


def swin_summary(r: dict[str, Any]) -> str:
    """One line for the console."""
    line = (f"swin_digits: float {100 * r['fp_accuracy']:.2f} % | integer {100 * r['int_accuracy']:.2f} % | "
            f"export wiring exact {r['export_wiring_exact']}")
    if "hls_csim" in r:
        h = r["hls_csim"]
        line += f" | HLS C-sim {'bit-exact' if h['bit_exact'] else 'NOT bit-exact'} ({h['summary']})"
    return line + f" | {r['seconds']:.0f} s"


if __name__ == "__main__":
    sys.exit(main())

"""results.json, results.md and latency.png of a validation run (each written atomically)."""

from __future__ import annotations

import io
import json
import platform
from pathlib import Path

import torch

from ivit_hw.ir.serialize import write_file_atomic
from ivit_hw.runtime.cpu_info import cpu_model, cpu_summary


def environment(device: torch.device) -> dict:
    """Device name and the versions that matter for the figures."""
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return {"device": name, "device_type": device.type, "torch": torch.__version__, "cuda": torch.version.cuda,
            "triton": triton_version, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "cpu": cpu_summary()}


def add_speedups(rows: list[dict]) -> None:
    """Fill ``speedup_vs_fp32`` / ``speedup_vs_bf16`` of every row from the fp32 eager / bf16 rows."""
    base = {}
    for r in rows:
        if r["path"] in ("fp32_eager", "bf16_compiled_sdpa") and r["median_ms"]:
            base[(r["model"], r["batch"], r["path"])] = r["median_ms"]
    for r in rows:
        fp32 = base.get((r["model"], r["batch"], "fp32_eager"))
        bf16 = base.get((r["model"], r["batch"], "bf16_compiled_sdpa"))
        ms = r["median_ms"]
        r["speedup_vs_fp32"] = round(fp32 / ms, 3) if fp32 and ms else None
        r["speedup_vs_bf16"] = round(bf16 / ms, 3) if bf16 and ms else None


def markdown(env: dict, rows: list[dict], note: str) -> str:
    """The results table as markdown."""
    lines = [f"Device: {env['device']} ({env['device_type']}); torch {env['torch']}, CUDA {env['cuda']}, "
             f"Triton {env['triton']}, Python {env['python']}, {env['threads']} CPU threads.", "",
             f"{env.get('cpu', '')} (when the run started)", ""]
    if note:
        lines += [note, ""]
    lines += ["| model | batch | path | median ms | images/s | vs fp32 eager | vs bf16 compiled | bit-exact |",
              "|---|---|---|---|---|---|---|---|"]

    def x(v):
        return "-" if v is None else f"{v:.2f}x"

    for r in rows:
        exact = "-" if r["bit_exact"] is None else ("yes" if r["bit_exact"] else "**NO**")
        if r["median_ms"] is None:
            lines.append(f"| {r['model']} | {r['batch']} | {r['path']} | failed: {r['error']} | | | | {exact} |")
            continue
        lines.append(f"| {r['model']} | {r['batch']} | {r['path']} | {r['median_ms']:.2f} | {r['images_per_s']:.1f} "
                     f"| {x(r['speedup_vs_fp32'])} | {x(r['speedup_vs_bf16'])} | {exact} |")
    return "\n".join(lines) + "\n"


def plot_png(rows: list[dict]) -> bytes | None:
    """Grouped bars of median latency per (model, batch), one bar per path; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    groups = sorted({(r["model"], r["batch"]) for r in rows}, key=lambda g: (g[0], g[1]))
    paths = list(dict.fromkeys(r["path"] for r in rows))
    ms = {(r["model"], r["batch"], r["path"]): r["median_ms"] for r in rows if r["median_ms"]}
    if not ms:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4))
    width = 0.8 / max(1, len(paths))
    for j, p in enumerate(paths):
        xs = [i + j * width for i in range(len(groups))]
        ax.bar(xs, [ms.get((g[0], g[1], p), 0.0) for g in groups], width, label=p)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))])
    ax.set_xticklabels([f"{m}\nbatch {b}" for m, b in groups], fontsize=8)
    ax.set_ylabel("median latency per batch (ms, log)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_reports(out: Path, env: dict, rows: list[dict], note: str = "") -> list[Path]:
    """Write the three files into ``out`` (each through a temporary file and a rename)."""
    add_speedups(rows)
    doc = {"environment": env, "note": note, "rows": rows}
    paths = [write_file_atomic(out / "results.json", (json.dumps(doc, indent=2) + "\n").encode()),
             write_file_atomic(out / "results.md", markdown(env, rows, note).encode())]
    png = plot_png(rows)
    if png is not None:
        paths.append(write_file_atomic(out / "latency.png", png))
    return paths

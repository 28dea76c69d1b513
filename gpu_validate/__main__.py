"""``python -m gpu_validate --models deit_tiny deit_small deit_base swin_tiny --batch 1 8 64 --out DIR [--device D]``

For each preset (random weights, synthetic calibration; nothing is downloaded): build the integer
graph and the float model with the same weights; per batch size, check every integer path against
the numpy golden executor (exact equality on the first ``--check-images`` images of the batch) and
time every path (CUDA events after warm-up, median of ``--runs``). Writes DIR/results.json,
DIR/results.md and DIR/latency.png after every measurement, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import traceback
from pathlib import Path

PRESETS = ("deit_tiny", "deit_small", "deit_base", "swin_tiny")
DEFAULT_MODELS = ("deit_tiny", "deit_small", "deit_base")
CPU_NOTE = ("CPU figures on a shared machine: other jobs were running, so read the ratios between paths "
            "(measured in one run, same process), not the absolute times.")


def _args(argv: list[str] | None):
    from .paths import PATHS

    p = argparse.ArgumentParser(prog="python -m gpu_validate", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS),
                   help="presets (default deit_tiny deit_small deit_base; also swin_tiny)")
    p.add_argument("--batch", nargs="+", type=int, default=[1, 8, 64], help="batch sizes")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default: cuda when available")
    p.add_argument("--paths", nargs="+", choices=sorted(PATHS), default=None,
                   help="what to time (default: cuda: int_triton, int_triton_graph, int_torch_exec + the float paths; "
                        "cpu: int_torch, int_torch_exec, fp32_eager, fp32_compiled; int_torch_compiled is opt-in: "
                        "compiling the integer graph takes 17-26 min per batch size on a 2-core CPU)")
    p.add_argument("--depth", type=int, default=None,
                   help="override the number of blocks of a ViT, or keep the first N stages of a Swin (small CPU runs)")
    p.add_argument("--img-size", type=int, default=None, help="override the image size (small CPU runs)")
    p.add_argument("--check-images", type=int, default=2, help="images per batch checked against the golden model")
    p.add_argument("--warmup", type=int, default=None, help="warm-up runs (default cuda 10, cpu 2)")
    p.add_argument("--runs", type=int, default=None, help="timed runs (default cuda 50, cpu 5)")
    p.add_argument("--budget-s", type=float, default=20.0, help="stop timing a path after this many seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    a = p.parse_args(argv)
    bad = [m for m in a.models if m not in PRESETS]
    if bad:
        p.error(f"unknown model(s) {bad}; choose from {list(PRESETS)}")
    if any(b < 1 for b in a.batch):
        p.error("--batch values must be >= 1")
    return a


def main(argv: list[str] | None = None) -> int:
    """Run the validation; exit status 0 when every integer path was bit-exact, 1 if not, 2 on bad use."""
    a = _args(argv)
    try:
        import torch
    except ImportError:
        print("gpu_validate: needs torch (pip install torch)", file=sys.stderr)
        return 2
    from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images

    from .baselines import (
        check_bit_exact,
        float_model,
        float_runner,
        int_runner,
        is_swin,
        model_overrides,
        set_exact_float32,
    )
    from .paths import FLOAT_PATHS
    from .report import environment, write_reports
    from .timing import median_ms

    device_name = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device_name == "cuda" and not torch.cuda.is_available():
        print("gpu_validate: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    device = torch.device(device_name)
    paths = a.paths or (["int_triton", "int_triton_graph", "int_torch_exec", "fp32_eager", "fp32_compiled",
                         "bf16_compiled_sdpa"]
                        if device.type == "cuda"
                        else ["int_torch", "int_torch_exec", "fp32_eager", "fp32_compiled"])
    if "int_triton_graph" in paths and device.type != "cuda":
        print("gpu_validate: path int_triton_graph needs CUDA", file=sys.stderr)
        return 2
    if "int_triton" in paths and device.type == "cpu":
        import os

        if os.environ.get("TRITON_INTERPRET") != "1":
            print("gpu_validate: int_triton on CPU needs TRITON_INTERPRET=1 (very slow)", file=sys.stderr)
            return 2
    if "int_triton" in paths:
        from ivit_hw.runtime.fused.executor import triton_available

        if not triton_available():
            print("gpu_validate: path int_triton needs the triton package", file=sys.stderr)
            return 2
    if a.threads:
        torch.set_num_threads(a.threads)
    set_exact_float32()
    warmup = a.warmup if a.warmup is not None else (10 if device.type == "cuda" else 2)
    runs = a.runs if a.runs is not None else (50 if device.type == "cuda" else 5)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(device)
    print(env["cpu"], flush=True)
    note = CPU_NOTE if device.type == "cpu" else ""
    rows: list[dict] = []
    all_exact = True
    t_start = time.perf_counter()
    for model_name in a.models:
        t0 = time.perf_counter()
        overrides = model_overrides(model_name, a.depth, a.img_size)
        graph = synthetic_graph(model_name, seed=a.seed, **overrides)
        fmodel = float_model(model_name, a.seed, **overrides)
        compiled: dict = {}
        c, h, _ = graph.tensor(graph.inputs[0]).shape
        print(f"[{model_name}] graph with {len(graph.nodes)} nodes built in {time.perf_counter() - t0:.1f} s",
              flush=True)
        for batch in a.batch:
            pixels = torch.from_numpy(synthetic_images(batch, c, h, seed=a.seed + batch)).to(device)
            for path in paths:
                if path == "bf16_compiled_sdpa" and is_swin(model_name) and a.paths is None:
                    continue  # a default path that has no Swin baseline
                row = {"model": model_name, "batch": batch, "path": path, "median_ms": None, "images_per_s": None,
                       "bit_exact": None, "error": None}
                try:
                    t1 = time.perf_counter()
                    if path in FLOAT_PATHS:
                        fn = float_runner(path, fmodel, pixels, device, compiled)
                    else:
                        fn = int_runner(path, graph, pixels, device)
                        row["bit_exact"] = check_bit_exact(graph, fn, pixels, min(batch, a.check_images))
                        all_exact &= row["bit_exact"]
                    ms = median_ms(fn, device, warmup, runs, a.budget_s)
                    row.update(median_ms=round(ms, 4), images_per_s=round(batch * 1000.0 / ms, 2))
                    print(f"[{model_name}] batch {batch:3d} {path:20s} {ms:10.3f} ms  "
                          f"{batch * 1000.0 / ms:9.1f} img/s  bit_exact={row['bit_exact']}  "
                          f"({time.perf_counter() - t1:.0f} s)", flush=True)
                except Exception as exc:  # one failing path must not lose the others' figures
                    row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                    print(f"[{model_name}] batch {batch} {path}: FAILED {row['error']}", flush=True)
                    traceback.print_exc()
                    if path not in FLOAT_PATHS:
                        all_exact = False
                rows.append(row)
                write_reports(out, env, rows, note)
                fn = None
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        fmodel = graph = compiled = None
    print(f"wrote {out}/results.json, results.md, latency.png in {time.perf_counter() - t_start:.0f} s")
    if not all_exact:
        print("gpu_validate: an integer path was NOT bit-exact (or failed); see results.json", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Golden executor A/B: this checkout's ``run_graph`` against another checkout's (e.g. main) and torch
float32 eager, interleaved in one process on the same graph and image, so a busy machine slows all
three alike. Wall and CPU time (``time.process_time``: every thread of the process) per image, for
each numpy BLAS thread count asked (the golden GEMMs are float BLAS matmuls; the rest is one thread).

    .venv/bin/python examples/bench_golden_ab.py --baseline /work/main --models deit_tiny deit_small \\
        --threads 1 2 --clip 8

``--clip N`` adds a row per model for ``eval --backend torch``'s clipping pass (the golden executor
observed by ``ClipCounter`` on a batch of N images; eval runs it on its first 32 images).

The baseline's ``ivit_hw`` package is copied into a temporary folder under another name (its imports
are relative), the graph is exported here, saved and loaded by the baseline, and both outputs are
checked equal before timing. BLAS threads are limited for both checkouts alike (threadpoolctl);
torch runs with ``--torch-threads``. ``--heap default`` skips this checkout's glibc heap setting
(:func:`ivit_hw.runtime.numpy_threads.keep_heap_pages`, process-wide, so it speeds the baseline too
when on): run both to see its share.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images
from ivit_hw.ir.serialize import save_graph
from ivit_hw.runtime import numpy_threads
from ivit_hw.runtime.cpu_info import cpu_summary


def _baseline(checkout: Path, tmp: Path):
    """The baseline checkout's ``ivit_hw`` imported as ``ivit_baseline``."""
    shutil.copytree(checkout / "ivit_hw", tmp / "ivit_baseline")
    sys.path.insert(0, str(tmp))
    return (importlib.import_module("ivit_baseline.runtime").run_graph,
            importlib.import_module("ivit_baseline.ir.serialize").load_graph)


class _Baseline:
    """The baseline checkout's run_graph, load_graph and ClipCounter."""

    def __init__(self, run, load) -> None:
        self.run, self.load = run, load
        self.ClipCounter = importlib.import_module("ivit_baseline.runtime.clipping").ClipCounter


def _timed(fn: Callable[[], object], wall: list[float], cpu: list[float]) -> None:
    t, c = time.perf_counter(), time.process_time()
    fn()
    wall.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)


def _ms(values: list[float]) -> float:
    return 1e3 * statistics.median(values)


def _bench_model(name: str, args: argparse.Namespace, tmp: Path, run_old, load_old, run_graph) -> None:
    """Print one table row per BLAS thread count for preset ``name``."""
    graph = synthetic_graph(name)
    save_graph(graph, tmp / name)
    old_graph = load_old(tmp / name)
    image = synthetic_images(1, 3, 224, seed=1)
    feed = {graph.inputs[0]: image}
    torch.manual_seed(0)
    model = create_model(name).eval()
    pixels = torch.as_tensor(image)
    new_out, old_out = run_graph(graph, feed).outputs, run_old(old_graph, feed).outputs
    if any(not np.array_equal(new_out[k], old_out[k]) for k in new_out):
        raise SystemExit(f"{name}: outputs differ from the baseline")
    for threads in args.threads:
        times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("old", "new", "fp32")}
        with numpy_threads.limited_blas_threads(threads), torch.no_grad():
            model.forward_uint8(pixels)  # warm-up
            for _ in range(args.repeats):
                _timed(lambda: run_old(old_graph, feed), *times["old"])
                _timed(lambda t=threads: run_graph(graph, feed, threads=t), *times["new"])
                _timed(lambda: model.forward_uint8(pixels), *times["fp32"])
        (ow, oc), (nw, nc), (fw, fc) = ((_ms(times[k][0]), _ms(times[k][1])) for k in ("old", "new", "fp32"))
        print(f"| {name} | {threads} | {ow:.1f} / {oc:.1f} | {nw:.1f} / {nc:.1f} | {nw / ow:.2f}x | "
              f"{fw:.1f} / {fc:.1f} | {nw / fw:.2f}x, {nc / fc:.2f}x |", flush=True)


def _bench_clip(name: str, args: argparse.Namespace, tmp: Path, baseline, run_graph) -> None:
    """One row: eval's clipping pass (golden run observed by ClipCounter, as ``eval --backend torch`` runs
    it on its first TORCH_CLIP_IMAGES images), batch ``--clip``, both checkouts, seconds per image."""
    from ivit_hw.runtime.clipping import ClipCounter

    graph = synthetic_graph(name)
    save_graph(graph, tmp / f"{name}_clip")
    old_graph = baseline.load(tmp / f"{name}_clip")
    feed = {graph.inputs[0]: synthetic_images(args.clip, 3, 224, seed=2)}
    old_counter, new_counter = baseline.ClipCounter(old_graph), ClipCounter(graph)
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("old", "new")}
    with numpy_threads.limited_blas_threads(1):
        for _ in range(max(1, args.repeats // 2)):
            _timed(lambda: baseline.run(old_graph, feed, observe=old_counter), *times["old"])
            _timed(lambda: run_graph(graph, feed, observe=new_counter, threads=1), *times["new"])
    old_stats = {k: (v.clipped, v.total) for k, v in old_counter.stats.items()}
    if old_stats != {k: (v.clipped, v.total) for k, v in new_counter.stats.items()}:
        raise SystemExit(f"{name}: clip counts differ from the baseline")
    (ow, oc), (nw, nc) = ((_ms(times[k][0]) / args.clip, _ms(times[k][1]) / args.clip) for k in ("old", "new"))
    print(f"| {name} | clip pass, batch {args.clip} | {ow:.1f} / {oc:.1f} | {nw:.1f} / {nc:.1f} | {nw / ow:.2f}x "
          f"| - | - |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, type=Path, help="a checkout whose ivit_hw/ is the baseline")
    ap.add_argument("--models", nargs="+", default=["deit_tiny", "deit_small"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="numpy BLAS thread counts to time")
    ap.add_argument("--torch-threads", type=int, default=2, help="torch threads of the fp32 eager model")
    ap.add_argument("--clip", type=int, default=0,
                    help="also time eval's clipping pass (golden + ClipCounter) on a batch of this many images")
    ap.add_argument("--heap", choices=["keep", "default"], default="keep",
                    help="keep: this checkout's glibc heap setting (process-wide); default: glibc's own")
    args = ap.parse_args()
    if args.heap == "default":
        numpy_threads.keep_heap_pages = lambda: False  # the executor calls it when it is built
    torch.set_num_threads(args.torch_threads)
    print(cpu_summary())
    print(f"numpy {np.__version__}, BLAS threads by default {numpy_threads.blas_threads()}, torch "
          f"{torch.__version__} with {torch.get_num_threads()} threads (fp32 eager), heap setting {args.heap}; "
          f"median of {args.repeats} interleaved runs, batch 1", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run_old, load_old = _baseline(args.baseline, tmp)
        from ivit_hw.runtime import run_graph

        print("| model | BLAS threads | baseline golden ms wall / cpu | this golden ms wall / cpu | "
              "this/baseline (wall) | fp32 eager ms wall / cpu | this golden / fp32 eager (wall, cpu) |")
        print("|---|---|---|---|---|---|---|")
        for name in args.models:
            _bench_model(name, args, tmp, run_old, load_old, run_graph)
            if args.clip:
                _bench_clip(name, args, tmp, _Baseline(run_old, load_old), run_graph)
    print("load average at the end: " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()

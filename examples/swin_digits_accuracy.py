"""Digits Swin: float vs integer top-1 over seeds (the table in docs/accuracy.md).

For each seed: train ``swin_digits`` in float (the digits recipe), calibrate its
quantized twin on the train split, QAT (the project's short recipe), export the IR
and evaluate it with the golden executor on the test split. Prints a markdown table.

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python examples/swin_digits_accuracy.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--model", default="swin_digits")
    p.add_argument("--epochs", type=int, default=None, help="float epochs (default: the digits recipe's)")
    a = p.parse_args()
    from ivit_hw.frontend.data import load_digits_split
    from ivit_hw.frontend.pipeline import quantize_and_export, train_digits_float
    from ivit_hw.frontend.qconfig import QuantConfig

    split = load_digits_split()
    recipe = {} if a.epochs is None else {"epochs": a.epochs}
    print(f"# {a.model} on sklearn digits ({platform.processor() or platform.machine()}, load "
          f"{os.getloadavg()[0]:.1f})\n")
    print("| seed | float top-1 | integer PTQ | integer QAT | delta (QAT - float) | export exact | seconds |")
    print("|---|---|---|---|---|---|---|")
    for seed in a.seeds:
        t = time.perf_counter()
        model, fp, _ = train_digits_float(split, seed, progress=False, recipe=recipe, preset=a.model)
        run = quantize_and_export(model, QuantConfig(), split.train_images, a.model,
                                  (split.train_images, split.train_labels), seed, None, False,
                                  (split.test_images, split.test_labels), {"preset": a.model})
        print(f"| {seed} | {100 * fp:.2f} % | {100 * run.ptq_int_accuracy:.2f} % | {100 * run.int_accuracy:.2f} % | "
              f"{100 * (run.int_accuracy - fp):+.2f} | {run.export_wiring_exact} | {time.perf_counter() - t:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()

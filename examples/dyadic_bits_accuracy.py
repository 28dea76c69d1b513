"""Integer test accuracy of the digits model with 31-bit (default) and narrower requantize multipliers.

Trains the float digits model once (the quick recipe of ``ivit_hw.frontend.synthetic``, or with
``--demo`` the demo's float recipe followed by its QAT, as ``make demo`` does), quantizes it at every
``--bits`` (the quantizer's ``dyadic_bits``), runs the golden executor on the 450-image test
split and prints accuracy and agreement with the first setting's graph. ``--save DIR``
writes each graph to ``DIR/digits_m<bits>.ivit``.

    PYTHONPATH=. .venv/bin/python examples/dyadic_bits_accuracy.py --bits 31 17 --save out
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, nargs="+", default=[31, 17], help="dyadic_bits values (default 31 17)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--demo", action="store_true", help="the demo's float training and QAT (minutes)")
    ap.add_argument("--save", metavar="DIR", help="write each graph to DIR/digits_m<bits>.ivit")
    args = ap.parse_args()

    from ivit_hw.frontend.data import load_digits_split
    from ivit_hw.frontend.pipeline import quantize_and_export, train_digits_float
    from ivit_hw.frontend.qconfig import QuantConfig
    from ivit_hw.frontend.synthetic import QUICK_DIGITS_RECIPE
    from ivit_hw.ir.serialize import save_graph
    from ivit_hw.runtime.numpy_exec import run_graph

    print(f"load average {os.getloadavg()[0]:.2f} (the machine is shared; times are not benchmarks)")
    split = load_digits_split()
    t0 = time.perf_counter()
    recipe = None if args.demo else QUICK_DIGITS_RECIPE
    model, fp_acc, _ = train_digits_float(split, args.seed, progress=False, recipe=recipe)
    state = copy.deepcopy(model.state_dict())
    print(f"float test accuracy {fp_acc:.4f} ({time.perf_counter() - t0:.0f} s)")
    preds: dict[int, np.ndarray] = {}
    for bits in args.bits:
        cfg = QuantConfig(dyadic_bits=bits)
        model.load_state_dict(state)  # QAT trains the model in place: every setting starts from the same float
        qat = (split.train_images, split.train_labels) if args.demo else None
        run = quantize_and_export(model, cfg, split.train_images, "vit_digits", qat, args.seed, None, False,
                                  meta={"preset": "vit_digits", "training": "demo" if args.demo else "quick"})
        g = run.graph
        logits = run_graph(g, {g.inputs[0]: split.test_images}).outputs[g.outputs[0]]
        preds[bits] = np.argmax(np.asarray(logits).reshape(len(split.test_images), -1), axis=-1)
        acc = float(np.mean(preds[bits] == split.test_labels))
        ms = [np.abs(np.asarray(g.constants[n.inputs[r]], dtype=np.int64)).max()
              for n in g.nodes if n.op == "requantize" for r in ("m", "m_id") if r in n.inputs]
        agree = float(np.mean(preds[bits] == preds[args.bits[0]]))
        print(f"dyadic_bits {bits:2d}: int test accuracy {acc:.4f} ({len(split.test_images)} images), "
              f"largest |m| {max(ms)} ({int(max(ms)).bit_length()} bits), top-1 agreement with "
              f"dyadic_bits {args.bits[0]}: {agree:.4f}")
        if args.save:
            print(f"  saved {save_graph(g, Path(args.save) / f'digits_m{bits}.ivit')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

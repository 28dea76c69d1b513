"""Measure I-ViT's patch-norm weak spot on a Swin graph: how often the 10-step Newton square
root from k0 = 2^16 differs from the exact one in ``patch_embed.norm``, with the graph's own
16-bit input (this project's default) and with that input cut to 8 bits (I-ViT's choice).

    PYTHONPATH=$PWD .venv/bin/python examples/swin_patch_norm_weak_spot.py GRAPH_DIR [IMAGES.npy|digits]

It reads the traced input of ``patch_embed.norm`` from the golden executor, forms the row sums
of squares of the centred values (docs/semantics.md section 7) and compares ``isqrt_iter`` with
the exact integer root, for the input as is and requantized to 8 bits (scale x 2^8, rounded).
"""

from __future__ import annotations

import os
import sys

import numpy as np


def _stats(x: np.ndarray) -> tuple[float, float, float]:
    from ivit_hw.ops.layernorm import isqrt_iter

    x = x.reshape(-1, x.shape[-1]).astype(np.int64)
    mean = np.round(x.sum(-1, keepdims=True) / x.shape[-1]).astype(np.int64)
    v = ((x - mean) ** 2).sum(-1)
    k_iter = isqrt_iter(v)
    k_exact = np.array([int(np.floor(np.sqrt(float(t)))) for t in v])
    k_exact = np.where((k_exact + 1) ** 2 <= v, k_exact + 1, np.where(k_exact**2 > v, k_exact - 1, k_exact))
    wrong = k_iter != k_exact
    rel = np.abs(k_iter - k_exact) / np.maximum(k_exact, 1)
    return float(wrong.mean()), float(rel.max()), float(np.median(v))


def main() -> None:
    from ivit_hw.frontend.data import load_digits_split
    from ivit_hw.ir.serialize import load_graph
    from ivit_hw.runtime.numpy_exec import run_graph

    g = load_graph(sys.argv[1])
    src = sys.argv[2] if len(sys.argv) > 2 else "digits"
    images = load_digits_split().test_images if src == "digits" else np.load(src)
    x = run_graph(g, {"pixels": images}, trace=True).tensors["patch_embed.out"]
    print(f"graph {g.name}, {len(images)} image(s), load {os.getloadavg()[0]:.1f}")
    print("| patch-norm input | rows with a wrong Newton root | worst relative root error | median sum of squares |")
    print("|---|---|---|---|")
    for label, arr in (("16-bit (default)", x), ("8-bit (I-ViT)", np.clip(np.round(x / 256), -128, 127))):
        wrong, worst, med = _stats(arr)
        print(f"| {label} | {100 * wrong:.2f} % | {100 * worst:.1f} % | {med:.3g} |")


if __name__ == "__main__":
    main()

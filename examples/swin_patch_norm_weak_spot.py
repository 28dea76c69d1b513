"""Measure I-ViT's patch-norm weak spot on a Swin graph: how often the 10-step Newton square
root from k0 = 2^16 differs from the exact one in ``patch_embed.norm``, with the graph's own
16-bit input (this project's default) and with that input cut to 8 bits (I-ViT's choice).

    PYTHONPATH=$PWD .venv/bin/python examples/swin_patch_norm_weak_spot.py GRAPH_DIR [IMAGES.npy|digits]
    PYTHONPATH=$PWD .venv/bin/python examples/swin_patch_norm_weak_spot.py --swin-tiny [N_IMAGES]

It reads the traced input of ``patch_embed.norm`` from the golden executor, forms the row sums
of squares of the centred values (docs/semantics.md section 7) and compares ``isqrt_iter`` with
the exact integer root, for the input as is and requantized to 8 bits (scale x 2^8, rounded).

``--swin-tiny``: random-weight swin_tiny (seed 0, 224x224) quantized twice from the same float model and
the same synthetic calibration images, once per ``patch_norm_bits`` choice (16, the default; 8, I-ViT's),
run on the golden executor on N synthetic images (default 2): per choice the Newton-root table above on
the graph's own ``patch_embed.norm`` input, the SQNR of the norm's requantized output and of the logits
against the float model's, and the top-1 agreement with it.
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


def _swin_tiny(n_images: int) -> None:
    import torch

    from ivit_hw.frontend.models import create_model
    from ivit_hw.frontend.pipeline import quantize_and_export
    from ivit_hw.frontend.qconfig import QuantConfig
    from ivit_hw.frontend.synthetic import synthetic_images
    from ivit_hw.runtime.cpu_info import cpu_summary
    from ivit_hw.runtime.numpy_exec import run_graph

    torch.manual_seed(0)
    model = create_model("swin_tiny").eval()
    calib = synthetic_images(4, 3, 224, 0)
    images = synthetic_images(n_images, 3, 224, 1)
    with torch.no_grad():
        x = torch.from_numpy(images)
        ref = model.forward_uint8(x).numpy().astype(np.float64)
        ref_pe = model.patch_embed(model.normalize_uint8(x)).reshape(n_images, -1, model.config.embed_dim)
        ref_pe = ref_pe.numpy().astype(np.float64)
    print(cpu_summary())
    print(f"swin_tiny, random weights (seed 0), calibrated on 4 synthetic images, {n_images} other synthetic "
          f"image(s), load {os.getloadavg()[0]:.1f}")
    print("| patch_norm_bits | rows with a wrong Newton root | worst relative root error | median sum of squares "
          "| patch_embed.norm.q SQNR (dB) | logits SQNR (dB) | top-1 = float |")
    print("|---|---|---|---|---|---|---|")
    for bits in (16, 8):
        g = quantize_and_export(model, QuantConfig(patch_norm_bits=bits), calib, "swin_tiny", progress=False).graph
        seen: dict[str, list[np.ndarray]] = {"patch_embed.out": [], "patch_embed.norm.q": [], "logits": [],
                                             "pred": []}

        def keep(node, args, out, seen=seen):
            if node.name in seen:
                seen[node.name].append(np.asarray(out))

        for i in range(0, n_images, 2):  # two images at a time, no whole trace: swin_tiny's is large
            run_graph(g, {"pixels": images[i:i + 2]}, observe=keep)
        got = {k: np.concatenate(v) for k, v in seen.items()}
        wrong, worst, med = _stats(got["patch_embed.out"])
        pe = got["patch_embed.norm.q"] * np.asarray(g.tensor("patch_embed.norm.q").scale)
        logits = got["logits"] * g.tensor("logits").scale
        agree = int((got["pred"] == ref.argmax(-1)).sum())
        print(f"| {bits} | {100 * wrong:.2f} % | {100 * worst:.1f} % | {med:.3g} | {_sqnr(ref_pe, pe):.2f} | "
              f"{_sqnr(ref, logits):.2f} | {agree}/{n_images} |", flush=True)


def _sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of ``got`` against ``ref``, in dB."""
    return float(10 * np.log10((ref**2).sum() / ((ref - got) ** 2).sum()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--swin-tiny":
        _swin_tiny(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
        return
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

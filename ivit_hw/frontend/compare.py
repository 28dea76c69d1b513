"""The fidelity report (``ivit-hw compare``): the float model and the integer
graph on the same images, tensor by tensor.

For every graph tensor that has a scale and a float counterpart, in graph
order: the SQNR of ``int * scale`` against the float model's activation
(``10 log10(sum f^2 / sum (f - int*scale)^2)`` over all images), and for each
requantize the share of elements that saturated (:mod:`ivit_hw.runtime.clipping`);
then top-1 agreement and the logit error. Sums are accumulated batch by batch
through the executor's observer, so no trace is kept. Written as
``compare.json``, ``compare.md`` and ``compare.png`` (SQNR per layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserValueError
from ..ir.graph import Graph, Node
from ..ir.serialize import atomic_folder
from ..progress import Progress
from ..runtime.clipping import CLIP_WARN_SHARE, ClipCounter
from ..runtime.numpy_exec import run_graph
from .models import VisionTransformer

__all__ = ["compare_images", "float_activations", "run_compare", "scaled", "sqnr_db", "write_compare"]

COMPARE_BATCH = 8
REPORT_FILES = ("compare.json", "compare.md", "compare.png")


def compare_images(source: str, shape: tuple[int, int, int], max_images: int, crop_pct: float,
                   num_logits: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(uint8 images, labels or None, description) for ``--images``: 'digits' (test split) or a folder.

    A folder's labels (sorted folder index) are kept only when it has exactly ``num_logits`` class
    folders; otherwise they would not name logits, and only agreement with the float model is reported.
    """
    from .data import ImageFolderDataset, load_digits_split

    c, h, _ = shape
    if source == "digits":
        split = load_digits_split()
        if (c, h) != split.test_images.shape[1:3]:
            raise UserValueError(f"--images digits: digits images are 1x8x8, the graph takes {c}x{h}x{h}")
        return split.test_images[:max_images], split.test_labels[:max_images], "digits test split"
    ds = ImageFolderDataset(source, h, in_chans=c, crop_pct=crop_pct)
    images, labels = ds.stack(list(range(min(len(ds), max_images))), progress=True)
    return (images, labels if len(ds.classes) == num_logits else None,
            f"image folder {source} ({len(ds.classes)} classes)")


def activation_store() -> tuple[dict[str, np.ndarray], Callable[..., None]]:
    """An empty name -> float64 array dict and ``put(tensor, *names)`` that stores a tensor under names."""
    acts: dict[str, np.ndarray] = {}

    def put(t: torch.Tensor, *names: str) -> None:
        arr = t.detach().to(torch.float64).numpy()
        for name in names:
            acts[name] = arr

    return acts, put


def float_activations(model: VisionTransformer, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The float model's activations on uint8 pixels, named and laid out as the exported graph's tensors.

    Batched float64 arrays keyed by graph tensor name (see :meth:`QuantViT.program` for the names;
    a Swin's come from :func:`~.swin_compare.swin_float_activations`).
    """
    from .swin import SwinTransformer

    if isinstance(model, SwinTransformer):
        from .swin_compare import swin_float_activations

        return swin_float_activations(model, pixels)
    m = model
    acts, put = activation_store()
    with torch.no_grad():
        x = m.normalize_uint8(torch.as_tensor(np.ascontiguousarray(pixels)))
        b = x.shape[0]
        tok = m.patch_embed(x)
        put(tok, "patch_embed.acc")
        tok = tok + m.pos_embed[:, 1:]
        put(tok, "patch_embed.out")
        x = torch.cat([(m.cls_token + m.pos_embed[:, :1]).expand(b, -1, -1), tok], dim=1)
        put(x, "embed")
        n, d = x.shape[1], x.shape[2]
        for i, blk in enumerate(m.blocks):
            p, att = f"blocks.{i}", blk.attn
            a = blk.norm1(x)
            put(a, f"{p}.norm1.out", f"{p}.norm1.q")
            qkv = att.qkv(a)
            put(qkv, f"{p}.attn.qkv.acc", f"{p}.attn.qkv.q")
            q, k, v = qkv.reshape(b, n, 3, att.num_heads, att.head_dim).permute(2, 0, 3, 1, 4)
            put(q, f"{p}.attn.q")
            put(k, f"{p}.attn.k")
            put(v, f"{p}.attn.v")
            # the graph's scores matmul folds 1/sqrt(head_dim) into its scale (fold_rsqrt_k): its
            # accumulator stands for the scaled scores, as does the requantized tensor after it
            s = (q @ k.transpose(-2, -1)) * att.scale
            put(s, f"{p}.attn.scores.acc", f"{p}.attn.scores")
            prob = s.softmax(dim=-1)
            put(prob, f"{p}.attn.attn_prob")
            o = prob @ v
            put(o, f"{p}.attn.attnv.acc", f"{p}.attn.out")
            o = o.transpose(1, 2)
            put(o, f"{p}.attn.out.tokens")
            o = o.reshape(b, n, d)
            put(o, f"{p}.attn.out.merged")
            o = att.proj(o)
            put(o, f"{p}.attn.proj.acc")
            x = residual_mlp_acts(blk, p, x + o, put)
        cls = x[:, 0]
        put(cls, "cls")
        a = m.norm(cls)
        put(a, "norm.out", "norm.q")
        put(m.head(a), "head.acc", "logits")
    return acts


def residual_mlp_acts(blk: torch.nn.Module, p: str, x: torch.Tensor, put: Callable[..., None]) -> torch.Tensor:
    """A block's residual after attention (``{p}.res1``) through its MLP to ``{p}.res2``, recording each step."""
    put(x, f"{p}.res1")
    a = blk.norm2(x)
    put(a, f"{p}.norm2.out", f"{p}.norm2.q")
    h = blk.mlp.fc1(a)
    put(h, f"{p}.mlp.fc1.acc", f"{p}.mlp.gelu_in")
    g = blk.mlp.act(h)
    put(g, f"{p}.mlp.gelu", f"{p}.mlp.gelu.q")
    o = blk.mlp.fc2(g)
    put(o, f"{p}.mlp.fc2.acc")
    x = x + o
    put(x, f"{p}.res2")
    return x


def scaled(graph: Graph, name: str, values: np.ndarray) -> np.ndarray:
    """``values * scale`` of tensor ``name`` (batched; a per-channel scale runs along its ``scale_axis``)."""
    spec = graph.tensor(name)
    scale = np.asarray(spec.scale, dtype=np.float64)
    if scale.ndim:
        axis = getattr(spec, "scale_axis", None)
        axis = len(spec.shape) - 1 if axis is None else axis
        shape = [1] * values.ndim
        shape[axis + 1] = scale.size
        scale = scale.reshape(shape)
    return values.astype(np.float64) * scale


def sqnr_db(signal_power: float, noise_power: float) -> float:
    """``10 log10(signal / noise)``; +inf when there is no noise."""
    if noise_power == 0:
        return math.inf
    if signal_power == 0:
        return -math.inf
    return 10.0 * math.log10(signal_power / noise_power)


class _Accumulator:
    """Observer summing, per tensor, the float signal power and the error power of ``int * scale``."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.float_acts: Mapping[str, np.ndarray] = {}
        self.sums: dict[str, list[float]] = {}
        self.clips = ClipCounter(graph)

    def __call__(self, node: Node, args: Mapping[str, np.ndarray], out: np.ndarray) -> None:
        self.clips(node, args, out)
        name = node.output
        ref = self.float_acts.get(name)
        if ref is None or self.graph.tensor(name).scale is None or ref.shape != out.shape:
            return
        err = ref - scaled(self.graph, name, out)
        acc = self.sums.setdefault(name, [0.0, 0.0, 0])
        acc[0] += float(np.sum(ref * ref))
        acc[1] += float(np.sum(err * err))
        acc[2] += int(out.size)


def run_compare(graph: Graph, model: VisionTransformer, images: np.ndarray, labels: np.ndarray | None = None,
                batch: int | None = None, progress: bool = True,
                clip_warn: float = CLIP_WARN_SHARE) -> dict[str, Any]:
    """Run both models over ``images`` and build the report (see the module docstring)."""
    if len(images) == 0:
        raise ValueError("compare: no images")
    batch = batch or COMPARE_BATCH
    acc = _Accumulator(graph)
    name_logits, name_pred = graph.outputs[0], graph.outputs[1]
    f_logits, i_logits, i_pred = [], [], []
    model.eval()
    with Progress(len(images), "compare", "img", enabled=progress) as bar:
        for i in range(0, len(images), batch):
            x = images[i : i + batch]
            acc.float_acts = float_activations(model, x)
            out = run_graph(graph, {graph.inputs[0]: x}, observe=acc).outputs
            f_logits.append(acc.float_acts["logits"])
            i_logits.append(out[name_logits])
            i_pred.append(out[name_pred].reshape(-1))
            bar.update(len(x))
    acc.float_acts = {}
    f_l, i_l, pred = np.concatenate(f_logits), np.concatenate(i_logits), np.concatenate(i_pred)
    deq = scaled(graph, name_logits, i_l)
    err = deq - f_l
    rows = []
    missing = []
    for node in graph.nodes:
        name = node.output
        spec = graph.tensor(name)
        stat = acc.clips.stats.get(node.name)
        sums = acc.sums.get(name)
        if sums is None and stat is None:
            if spec.scale is not None:
                missing.append(name)
            continue
        rows.append({"tensor": name, "op": node.op, "bits": spec.dtype.bits,
                     "sqnr_db": None if sums is None else _json_float(sqnr_db(sums[0], sums[1])),
                     "clip_share": None if stat is None else stat.share,
                     "elements": None if sums is None else sums[2]})
    finite = [r for r in rows if isinstance(r["sqnr_db"], float)]
    worst = min(finite, key=lambda r: r["sqnr_db"]) if finite else None
    summary = {
        "images": int(len(images)),
        "top1_agreement": float(np.mean(pred == f_l.argmax(-1))),
        "int_top1": None if labels is None else float(np.mean(pred == labels)),
        "float_top1": None if labels is None else float(np.mean(f_l.argmax(-1) == labels)),
        "logits": {"max_abs_err": float(np.abs(err).max()), "mean_abs_err": float(np.abs(err).mean()),
                   "rel_err": float(np.linalg.norm(err) / max(np.linalg.norm(f_l), 1e-300)),
                   "sqnr_db": _json_float(sqnr_db(float(np.sum(f_l**2)), float(np.sum(err**2))))},
        "worst_sqnr_db": worst["sqnr_db"] if worst else None,
        "worst_tensor": worst["tensor"] if worst else None,
        "clip_warn_share": clip_warn,
        "clipping_over_warn": [s.node for s in acc.clips.over(clip_warn)],
    }
    return {"graph": graph.name, "summary": summary, "tensors": rows, "no_float_counterpart": missing}


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def render_compare_md(r: dict[str, Any]) -> str:
    """The report as markdown: summary, then one table row per tensor in graph order."""
    s, lg = r["summary"], r["summary"]["logits"]
    src = r.get("source", {})
    lines = [f"# Fidelity: integer graph `{r['graph']}` vs its float model", ""]
    if src:
        lines += [f"Float model `{src.get('float_model')}` ({src.get('checkpoint')}), images: {src.get('images')}, "
                  f"crop_pct {src.get('crop_pct')}.", ""]
    lines += [f"- images: {s['images']}",
              f"- top-1 agreement (integer vs float): {100 * s['top1_agreement']:.2f} %"]
    if s["int_top1"] is not None:
        lines.append(f"- top-1: integer {100 * s['int_top1']:.2f} %, float {100 * s['float_top1']:.2f} %")
    lines += [f"- logits (int x scale vs float): max |err| {lg['max_abs_err']:.4g}, mean |err| "
              f"{lg['mean_abs_err']:.4g}, relative {lg['rel_err']:.4g}, SQNR {_fmt_db(lg['sqnr_db'])} dB",
              f"- worst SQNR: {_fmt_db(s['worst_sqnr_db'])} dB at `{s['worst_tensor']}`",
              f"- requantize nodes clipping more than {100 * s['clip_warn_share']:g} %: "
              f"{', '.join(s['clipping_over_warn']) or 'none'}", "",
              "SQNR = 10 log10(sum f^2 / sum (f - int*scale)^2) over all images; clipped = share of the "
              "requantize's elements that saturated at its output width.", "",
              "| # | tensor | op | bits | SQNR (dB) | clipped |", "|---|---|---|---|---|---|"]
    for k, row in enumerate(r["tensors"]):
        clip = "" if row["clip_share"] is None else f"{100 * row['clip_share']:.3g} %"
        lines.append(f"| {k} | `{row['tensor']}` | {row['op']} | {row['bits']} | {_fmt_db(row['sqnr_db'])} | "
                     f"{clip} |")
    if r["no_float_counterpart"]:
        lines += ["", f"No float counterpart (not compared): {', '.join(r['no_float_counterpart'])}."]
    return "\n".join(lines) + "\n"


def _fmt_db(v: float | str | None) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else f"{v:.1f}"


def plot_sqnr(r: dict[str, Any], path: Path) -> None:
    """SQNR per tensor in graph order; requantize outputs marked, clipping above the warn share in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in r["tensors"] if isinstance(row["sqnr_db"], float)]
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=110)
    xs = np.arange(len(rows))
    ax.plot(xs, [row["sqnr_db"] for row in rows], color="#4c72b0", lw=1, marker=".", ms=4, label="SQNR")
    warn = r["summary"]["clip_warn_share"]
    bad = [k for k, row in enumerate(rows) if (row["clip_share"] or 0) > warn]
    if bad:
        ax.scatter(bad, [rows[k]["sqnr_db"] for k in bad], color="#c44e52", zorder=3,
                   label=f"requantize clipping > {100 * warn:g} %")
    step = max(1, len(rows) // 24)
    ax.set_xticks(xs[::step], [rows[k]["tensor"] for k in xs[::step]], rotation=60, ha="right", fontsize=6)
    ax.set_ylabel("SQNR (dB)")
    ax.set_title(f"{r['graph']}: int*scale vs float, per tensor in graph order "
                 f"(top-1 agreement {100 * r['summary']['top1_agreement']:.1f} %)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def write_compare(report: dict[str, Any], out: str | Path) -> Path:
    """Write compare.json, compare.md and compare.png into ``out`` atomically."""
    from .pipeline import write_json

    with atomic_folder(out, REPORT_FILES[0]) as tmp:
        write_json(tmp / "compare.json", report)
        (tmp / "compare.md").write_text(render_compare_md(report))
        plot_sqnr(report, tmp / "compare.png")
    return Path(out)

"""An integer forward of the class-token ViT written from scratch, as a check
that cannot share code with the model.

Plain Python ints and lists only: nothing here imports ``ivit_hw.ops``, the
executors or the op registry, and no node of the graph is executed. It reads
the graph's checkpoint-derived constants by name (weights, biases,
multipliers and shifts, LayerNorm biases, the class token and position
embedding), the calibrated scales of the Shiftmax and ShiftGELU inputs (x0
is ``floor(-1 / S)``), the quantization options in ``graph.meta["quant"]``
and the head count; the wiring and every integer step are re-derived from
docs/semantics.md. Supported: the I-ViT ops (Shiftmax, ShiftGELU,
I-LayerNorm), any rounding mode, 16- or 8-bit activations.

Compare :func:`scratch_logits` with the golden executor's logits: equality
means the export, the kernels and the executor all compute the documented
integers.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

INT32_MAX = 2**31 - 1
SHIFTMAX_N, SHIFTGELU_N = 15, 23
GELU_COEF = 1.702


def _round_shift(p: int, s: int, mode: str) -> int:
    if s == 0:
        return p
    if mode == "floor":
        return p >> s
    if mode == "half_up":
        return (p + (1 << (s - 1))) >> s
    q, rem = divmod(p, 1 << s)
    half = 1 << (s - 1)
    return q + 1 if rem > half or (rem == half and q % 2) else q


def _clamp(v: int, bits: int) -> int:
    return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, v))


class ScratchViT:
    """The integer program of a class-token ViT graph, evaluated one image at a time with Python ints."""

    def __init__(self, graph: Any) -> None:
        self.read_common(graph)
        self.depth = sum(1 for k in self.c if k.startswith("blocks.") and k.endswith(".norm1.bias_int"))
        self.heads = graph.node("blocks.0.attn.qkv.split").attrs["shape"][2]

    def read_common(self, graph: Any) -> None:
        """The quantization options (I-ViT ops only), constants by name and tensor scales."""
        quant = graph.meta.get("quant", {})
        wanted = {"softmax": "shiftmax", "gelu": "shiftgelu", "layernorm": "ilayernorm"}
        for key, op in wanted.items():
            if quant.get(key, op) != op:
                raise ValueError(f"scratch forward covers the I-ViT ops only; graph uses {key}={quant[key]!r}")
        self.rounding = quant.get("rounding", "half_even")
        self.act_bits = int(quant.get("act_bits", 16))
        self.gelu_coef = quant.get("gelu_coef", "scale")
        self.c = {k: v.tolist() for k, v in graph.constants.items()}
        self.scale = {k: spec.scale for k, spec in graph.tensors.items()}

    # -------------------------------------------------------------- integer steps
    def requant(self, name: str, acc: list[list[int]], bits: int, identity: list[list[int]] | None = None
                ) -> list[list[int]]:
        """round(acc * m / 2^e) [+ round(identity * m_id / 2^e_id)], clamped (m, e per channel or scalar)."""
        m, e = self.c[f"{name}.m"], self.c[f"{name}.e"]
        cols = len(acc[0])
        ms = m if isinstance(m, list) else [m] * cols
        es = e if isinstance(e, list) else [e] * cols
        out = []
        for r, row in enumerate(acc):
            vals = [_round_shift(a * ms[j], es[j], self.rounding) for j, a in enumerate(row)]
            if identity is not None:
                mi, ei = self.c[f"{name}.m_id"], self.c[f"{name}.e_id"]
                vals = [v + _round_shift(identity[r][j] * mi, ei, self.rounding) for j, v in enumerate(vals)]
            out.append([_clamp(v, bits) for v in vals])
        return out

    def linear(self, name: str, x: list[list[int]]) -> list[list[int]]:
        """x @ W^T + b with W [out, in] as stored."""
        w, b = self.c[f"{name}.weight"], self.c.get(f"{name}.bias")
        return [[sum(xv * wv for xv, wv in zip(row, wr, strict=True)) + (b[o] if b else 0)
                 for o, wr in enumerate(w)] for row in x]

    def layernorm(self, name: str, x: list[list[int]]) -> list[list[int]]:
        """I-LayerNorm: centre (mean rounded half to even), ten Newton steps from 2^16, (y * f) >> 1 + bias."""
        bias = self.c[f"{name}.bias_int"]
        out = []
        for row in x:
            mean = round(Fraction(sum(row), len(row)))  # Python's round of a Fraction ties to even
            ys = [v - mean for v in row]
            var = sum(y * y for y in ys)
            k = 1 << 16
            for _ in range(10):
                k = (k + var // k) // 2
            f = INT32_MAX // k
            out.append([((y * f) >> 1) + bias[j] for j, y in enumerate(ys)])
        return out

    @staticmethod
    def shift_exp(x: int, x0: int, n: int) -> int:
        """2^(x * log2 e) by shifts: p = 1.4375 x, integer/fractional split by x0, linear fraction."""
        p = max(x + (x >> 1) - (x >> 4), n * x0)
        q = p // x0
        r = p - x0 * q
        t = r - 2 * x0
        s = n - q - 1
        return max(t << s if s >= 0 else t >> -s, 0)

    def shiftmax(self, scores: list[list[int]], scale: float, out_bits: int | None = None,
                 keep: list[list[bool]] | None = None) -> list[list[int]]:
        """Shiftmax rows; ``keep`` leaves positions out of the maximum and the sum (they output 0)."""
        x0, out, bits = math.floor(-1 / scale), [], out_bits or self.act_bits
        for r, row in enumerate(scores):
            kept = [True] * len(row) if keep is None else keep[r]
            top = max(v for v, k in zip(row, kept, strict=True) if k)
            es = [self.shift_exp(v - top, x0, SHIFTMAX_N) if k else 0 for v, k in zip(row, kept, strict=True)]
            f = INT32_MAX // min(sum(es), INT32_MAX)
            out.append([(e * f) >> (32 - bits) for e in es])
        return out

    def shiftgelu(self, x: list[list[int]], scale: float) -> list[list[int]]:
        if self.gelu_coef == "scale":
            x0, zs = math.floor(-1 / (GELU_COEF * scale)), x
        else:
            x0 = math.floor(-1 / scale)
            zs = [[v + (v >> 1) + (v >> 3) + (v >> 4) for v in row] for row in x]
        out = []
        for row, zrow in zip(x, zs, strict=True):
            top = max(zrow)
            em = self.shift_exp(-top, x0, SHIFTGELU_N)  # exact, however wide (Python ints)
            g_row = []
            for z in zrow:
                e = self.shift_exp(z - top, x0, SHIFTGELU_N)
                g_row.append((e * (INT32_MAX // min(e + em, INT32_MAX))) >> 24)
            out.append([v * g for v, g in zip(row, g_row, strict=True)])
        return out

    # -------------------------------------------------------------- wiring
    def embed(self, image: list[list[list[int]]]) -> list[list[int]]:
        """Stride-p convolution over non-overlapping patches (row-major grid), + position, class token first."""
        tokens = self.requant("patch_embed.out", self.patch_acc(image), self.act_bits, self.c["pos_embed"])
        return self.c["cls_token"] + tokens

    def patch_acc(self, image: list[list[list[int]]]) -> list[list[int]]:
        """The patch embedding's accumulator: a stride-p convolution, one row per patch (row-major grid)."""
        w = self.c["patch_embed.weight"]
        p = len(w[0][0])
        chans, size = len(image), len(image[0])
        flat_w = [[w[o][c][i][j] for c in range(chans) for i in range(p) for j in range(p)] for o in range(len(w))]
        patches = [[image[c][gy * p + i][gx * p + j] for c in range(chans) for i in range(p) for j in range(p)]
                   for gy in range(size // p) for gx in range(size // p)]
        b = self.c["patch_embed.bias"]
        return [[sum(a * v for a, v in zip(patch, wr, strict=True)) + b[o] for o, wr in enumerate(flat_w)]
                for patch in patches]

    def attention(self, i: int, x: list[list[int]]) -> list[list[int]]:
        pre = f"blocks.{i}"
        a = self.requant(f"{pre}.norm1.q", self.layernorm(f"{pre}.norm1", x), 8)
        qkv = self.requant(f"{pre}.attn.qkv.q", self.linear(f"{pre}.attn.qkv", a), 8)
        d = len(qkv[0]) // 3
        hd = d // self.heads
        merged = [[] for _ in qkv]
        for h in range(self.heads):
            q = [row[h * hd:(h + 1) * hd] for row in qkv]
            k = [row[d + h * hd:d + (h + 1) * hd] for row in qkv]
            v = [row[2 * d + h * hd:2 * d + (h + 1) * hd] for row in qkv]
            sc = [[sum(a_ * b_ for a_, b_ in zip(qr, kr, strict=True)) for kr in k] for qr in q]
            sc = self.requant(f"{pre}.attn.scores", sc, 8)
            attn = self.shiftmax(sc, self.scale[f"{pre}.attn.scores"])
            o = [[sum(attn_row[t] * v[t][c] for t in range(len(v))) for c in range(hd)] for attn_row in attn]
            o = self.requant(f"{pre}.attn.out", o, 8)
            for t, row in enumerate(o):
                merged[t] += row
        proj = self.linear(f"{pre}.attn.proj", merged)
        return self.requant(f"{pre}.res1", proj, self.act_bits, x)

    def mlp(self, i: int, x: list[list[int]]) -> list[list[int]]:
        return self.mlp_at(f"blocks.{i}", x)

    def mlp_at(self, pre: str, x: list[list[int]]) -> list[list[int]]:
        """norm2, fc1, ShiftGELU, fc2 and the residual requantize of the block named ``pre``."""
        a = self.requant(f"{pre}.norm2.q", self.layernorm(f"{pre}.norm2", x), 8)
        g = self.requant(f"{pre}.mlp.gelu_in", self.linear(f"{pre}.mlp.fc1", a), 8)
        g = self.requant(f"{pre}.mlp.gelu.q", self.shiftgelu(g, self.scale[f"{pre}.mlp.gelu_in"]), 8)
        return self.requant(f"{pre}.res2", self.linear(f"{pre}.mlp.fc2", g), self.act_bits, x)

    def logits(self, image: list[list[list[int]]]) -> list[int]:
        """Integer logits (16 bits) of one uint8 image [C][H][W]."""
        x = self.embed(image)
        for i in range(self.depth):
            x = self.mlp(i, self.attention(i, x))
        cls = self.requant("norm.q", self.layernorm("norm", x[:1]), 8)
        return self.requant("logits", self.linear("head", cls), 16)[0]


def scratch_logits(graph: Any, images: Any) -> list[list[int]]:
    """Integer logits of each uint8 image ``[N, C, H, W]`` by the from-scratch forward (ViT or Swin graph)."""
    if "swin" in graph.meta:
        from .scratch_swin import ScratchSwin

        model: ScratchViT = ScratchSwin(graph)
    else:
        model = ScratchViT(graph)
    return [model.logits([[[int(v) for v in row] for row in chan] for chan in img]) for img in images]

"""The from-scratch integer forward of a Swin graph (see :mod:`.scratch_forward`).

Plain Python ints and lists again: the geometry (cyclic shift, windows, the shifted-
window regions, patch merging order, average pool) is re-derived here from the
architecture in ``graph.meta["swin"]`` and docs/semantics.md, not read from the graph's
layout nodes or from :mod:`.swin_geometry`. Constants (weights, multipliers, the
quantized relative-position bias) are read by name.
"""

from __future__ import annotations

from typing import Any

from .scratch_forward import ScratchViT

#: Shiftmax output bits inside a Swin block (docs/semantics.md section 5)
SWIN_SOFTMAX_BITS = 8

Rows = list[list[int]]


def _region(c: int, size: int, window: int, shift: int) -> int:
    """timm's three bands of a shifted axis: [0, size-window), [size-window, size-shift), [size-shift, size)."""
    return 0 if c < size - window else 1 if c < size - shift else 2


class ScratchSwin(ScratchViT):
    """The integer program of a Swin graph, one image at a time with Python ints."""

    def __init__(self, graph: Any) -> None:
        self.read_common(graph)
        sw = graph.meta["swin"]
        self.depths, self.heads_per_stage = list(sw["depths"]), list(sw["num_heads"])
        self.window_size, self.patch = int(sw["window_size"]), int(sw["patch_size"])
        self.grid = int(sw["img_size"]) // self.patch

    def window_attention(self, pre: str, x: Rows, res: int, heads: int, shift: int) -> Rows:
        """norm1, shifted-window attention with the relative-position bias and the mask, proj, residual."""
        win = min(self.window_size, res)
        a = self.requant(f"{pre}.norm1.q", self.layernorm(f"{pre}.norm1", x), 8)
        merged: Rows = [[] for _ in x]
        for wi in range(res // win):
            for wj in range(res // win):
                # window token t sits at (h, w) of the rolled image, i.e. at ((h+shift)%res, (w+shift)%res)
                pos = [(wi * win + t // win, wj * win + t % win) for t in range(win * win)]
                src = [((h + shift) % res) * res + (w + shift) % res for h, w in pos]
                keep = None
                if shift:
                    lab = [3 * _region(h, res, win, shift) + _region(w, res, win, shift) for h, w in pos]
                    keep = [[li == lj for lj in lab] for li in lab]
                out = self._window(pre, [a[i] for i in src], heads, keep)
                for i, row in zip(src, out, strict=True):
                    merged[i] = row
        proj = self.linear(f"{pre}.attn.proj", merged)
        return self.requant(f"{pre}.res1", proj, self.act_bits, x)

    def _window(self, pre: str, tokens: Rows, heads: int, keep: list[list[bool]] | None) -> Rows:
        qkv = self.requant(f"{pre}.attn.qkv.q", self.linear(f"{pre}.attn.qkv", tokens), 8)
        d = len(qkv[0]) // 3
        hd = d // heads
        bias = self.c[f"{pre}.attn.relative_position_bias"]  # [nH][N][N]: the same for every window
        merged: Rows = [[] for _ in tokens]
        for h in range(heads):
            q = [row[h * hd:(h + 1) * hd] for row in qkv]
            k = [row[d + h * hd:d + (h + 1) * hd] for row in qkv]
            v = [row[2 * d + h * hd:2 * d + (h + 1) * hd] for row in qkv]
            sc = [[sum(a_ * b_ for a_, b_ in zip(qr, kr, strict=True)) for kr in k] for qr in q]
            sc = self.requant(f"{pre}.attn.scores", sc, 8, bias[h])
            attn = self.shiftmax(sc, self.scale[f"{pre}.attn.scores"], SWIN_SOFTMAX_BITS, keep)
            o = [[sum(attn_row[t] * v[t][c] for t in range(len(v))) for c in range(hd)] for attn_row in attn]
            for t, row in enumerate(self.requant(f"{pre}.attn.out", o, 8)):
                merged[t] += row
        return merged

    def merge(self, s: int, x: Rows, res: int) -> Rows:
        """Patch merging: neighbours (0,0), (1,0), (0,1), (1,1) (row offset, column offset) side by side."""
        p = f"layers.{s}.downsample"
        cat = [x[(2 * i) * res + 2 * j] + x[(2 * i + 1) * res + 2 * j] + x[(2 * i) * res + 2 * j + 1]
               + x[(2 * i + 1) * res + 2 * j + 1] for i in range(res // 2) for j in range(res // 2)]
        a = self.requant(f"{p}.norm.q", self.layernorm(f"{p}.norm", cat), 8)
        return self.requant(f"{p}.out", self.linear(f"{p}.reduction", a), self.act_bits)

    def logits(self, image: list[list[list[int]]]) -> list[int]:
        """Integer logits (16 bits) of one uint8 image [C][H][W]."""
        x = self.requant("patch_embed.out", self.patch_acc(image), self.act_bits)
        x = self.requant("patch_embed.norm.q", self.layernorm("patch_embed.norm", x), self.act_bits)
        res = self.grid
        for s, depth in enumerate(self.depths):
            if s > 0:
                x, res = self.merge(s, x, res), res // 2
            for b in range(depth):
                pre = f"layers.{s}.blocks.{b}"
                shift = min(self.window_size, res) // 2 if b % 2 and res > self.window_size else 0
                x = self.mlp_at(pre, self.window_attention(pre, x, res, self.heads_per_stage[s], shift))
        a = self.requant("norm.q", self.layernorm("norm", x), 8)
        pooled = self.requant("pool", [[sum(col) for col in zip(*a, strict=True)]], 8)
        return self.requant("logits", self.linear("head.fc", pooled), 16)[0]

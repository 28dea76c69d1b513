"""The quantized twin of a float Swin Transformer.

:class:`QuantSwin` shares :class:`~.twins.QuantViT`'s machinery (points, requantize,
linear, norms, MLP, Shiftmax + attn @ v, export, ``int_forward``) and writes Swin's
program once more for each side: the fake-quantized float forward (calibration, QAT)
and the integer :meth:`QuantSwin.program`. What Swin adds, all with existing IR ops:

- cyclic shift: per axis a ``slice`` pair and a ``concat`` (pure data movement);
- window partition / reverse: ``reshape`` + ``transpose`` + ``reshape``;
- relative-position bias: the gathered ``[nH, N, N]`` bias as an 8-bit constant with its
  own scale (one constant, broadcast over the windows), added to q @ k^T as the second (identity) term of
  the scores' requantize;
- shifted-window mask: a boolean keep-mask ``[nW, 1, N, N]`` on the Shiftmax (masked
  entries give e = 0 and output 0; docs/semantics.md section 5);
- patch merging: reshape / transpose to the (0,0), (1,0), (0,1), (1,1) order on
  channels, I-LayerNorm over 4C, requantize, linear 4C -> 2C (no bias), requantize;
- average pool: ``reduce_sum`` over the tokens, its 1/L in the next requantize.

Per-sample activations are ``[L, C]`` tokens (row-major over H, W) between blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..ir.scales import output_scale
from ..ir.types import IntType
from ..ops import params as P
from .emit import AUTO, Emitter
from .fakequant import ActQuant, fake_quant, fake_quant_weight
from .swin import SwinBlock, SwinTransformer, roll_windows, unroll_windows
from .swin_geometry import shift_keep_mask
from .twins import I8, I32, QuantViT, _np, fold_normalization

__all__ = ["QuantSwin", "quant_twin"]

BOOL = IntType(1, signed=False)
#: Shiftmax output bits in a Swin block (probabilities on 2^-7, the 8-bit attn @ v of I-ViT's Swin)
SWIN_ATTN_BITS = 8


def _block_points(pt: str, ab: int, gelu_bits: int) -> list[tuple[str, int]]:
    bits = {"ln1": 8, "q": 8, "k": 8, "v": 8, "scores": 8, "attnv": 8, "res1": ab, "ln2": 8,
            "gelu_in": gelu_bits, "gelu_out": 8, "res2": ab}
    return [(f"{pt}_{n}", b) for n, b in bits.items()]


def bias_scale(bias: np.ndarray) -> float:
    """Symmetric 8-bit scale of the gathered relative-position bias (one scale per block)."""
    return float(P.symmetric_scale(-np.abs(bias).max(), np.abs(bias).max(), 8))


class QuantSwin(QuantViT):
    """Quantized twin of :class:`SwinTransformer`; see the module docstring."""

    def __init__(self, model: SwinTransformer, cfg=None) -> None:  # noqa: D107 - QuantViT's, other points
        torch.nn.Module.__init__(self)
        from .qconfig import QuantConfig

        self.model = model
        self.cfg = cfg or QuantConfig()
        ab = self.cfg.act_bits
        gelu_bits = 16 if self.cfg.gelu == "ibert_gelu" else 8
        c = model.config
        names: list[tuple[str, int]] = [("embed", self.cfg.patch_norm_bits), ("pe_norm", ab)]
        for s, depth in enumerate(c.depths):
            if s > 0:
                names += [(f"m{s}_ln", 8), (f"m{s}_out", ab)]
            for b in range(depth):
                names += _block_points(f"s{s}b{b}", ab, gelu_bits)
        names += [("norm", 8), ("pool", 8), ("logits", 16)]
        self.points = torch.nn.ModuleDict({n: ActQuant(n, b, self.cfg) for n, b in names})

    # ----------------------------------------------------------------- float side
    def _float_bias(self, blk: SwinBlock) -> torch.Tensor:
        bias = blk.attn.relative_bias()
        s = torch.tensor(bias_scale(_np(bias)), dtype=bias.dtype)
        return fake_quant(bias, s, 8)

    def _float_block(self, blk: SwinBlock, pt: str, x: torch.Tensor) -> torch.Tensor:
        bsz, n_tok, c = x.shape
        r, w, sh, att = blk.resolution, blk.window, blk.shift, blk.attn
        a = self._pt(f"{pt}_ln1", self._float_norm(blk.norm1, x)).reshape(bsz, r, r, c)
        win = roll_windows(a, w, sh)
        bw, n = win.shape[:2]
        qkv = F.linear(win, fake_quant_weight(att.qkv.weight), att.qkv.bias)
        qkv = qkv.reshape(bw, n, 3, att.num_heads, att.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = (self._pt(f"{pt}_{t}", qkv[j]) for j, t in enumerate("qkv"))
        s = self._pt(f"{pt}_scores", (q @ k.transpose(-2, -1)) * att.scale + self._float_bias(blk))
        if blk.attn_mask is not None:
            nw = blk.attn_mask.shape[0]
            keep = (blk.attn_mask == 0)[None, :, None]
            s = s.view(-1, nw, att.num_heads, n, n).masked_fill(~keep, float("-inf")).view(bw, att.num_heads, n, n)
        o = self._pt(f"{pt}_attnv", s.softmax(dim=-1) @ v).transpose(1, 2).reshape(bw, n, c)
        o = unroll_windows(o, w, sh, r, r).reshape(bsz, n_tok, c)
        x = self._pt(f"{pt}_res1", x + F.linear(o, fake_quant_weight(att.proj.weight), att.proj.bias))
        a = self._pt(f"{pt}_ln2", self._float_norm(blk.norm2, x))
        mlp = blk.mlp
        h = self._pt(f"{pt}_gelu_in", F.linear(a, fake_quant_weight(mlp.fc1.weight), mlp.fc1.bias))
        h = self._pt(f"{pt}_gelu_out", self._float_gelu(h))
        return self._pt(f"{pt}_res2", x + F.linear(h, fake_quant_weight(mlp.fc2.weight), mlp.fc2.bias))

    def forward_uint8(self, pixels: torch.Tensor) -> torch.Tensor:
        """Fake-quantized float forward on uint8 pixels [B, C, H, W] -> float logits."""
        m, c = self.model, self.model.config
        w, b = fold_normalization(m)
        x = F.conv2d(pixels.to(w.dtype), fake_quant_weight(w), b, stride=c.patch_size).flatten(2).transpose(1, 2)
        x = self._pt("embed", x)
        x = self._pt("pe_norm", self._float_norm(m.patch_embed.norm, x))
        for s, stage in enumerate(m.layers):
            if s > 0:
                bsz, n_tok, ch = x.shape
                r = c.resolution(s - 1)
                x = x.reshape(bsz, r // 2, 2, r // 2, 2, ch).permute(0, 1, 3, 4, 2, 5).reshape(bsz, -1, 4 * ch)
                ds = stage.downsample
                x = self._pt(f"m{s}_ln", self._float_norm(ds.norm, x))
                x = self._pt(f"m{s}_out", F.linear(x, fake_quant_weight(ds.reduction.weight)))
            for bi, blk in enumerate(stage.blocks):
                x = self._float_block(blk, f"s{s}b{bi}", x)
        x = self._pt("norm", self._float_norm(m.norm, x))
        x = self._pt("pool", x.mean(dim=1))
        return self._pt("logits", F.linear(x, fake_quant_weight(m.head.fc.weight), m.head.fc.bias))

    # --------------------------------------------------------------- integer side
    def _roll(self, em: Emitter, name: str, x: Any, r: int, k: int, t: IntType, s: float) -> Any:
        """Cyclic shift of [R, R, C] so that row / column k comes first (roll by -k on axes 0 and 1)."""
        for ax in (0, 1):
            hi = em.op("slice", {"x": x}, f"{name}.{ax}.hi", t, s, {"axis": ax, "start": k, "stop": r})
            lo = em.op("slice", {"x": x}, f"{name}.{ax}.lo", t, s, {"axis": ax, "start": 0, "stop": k})
            x = em.op("concat", {"a": hi, "b": lo}, f"{name}.{ax}", t, s, {"axis": ax})
        return x

    def _windows(self, em: Emitter, pre: str, x: Any, blk: SwinBlock, c: int, s: float) -> Any:
        """[L, C] -> (cyclic shift) -> [nW, N, C] windows."""
        r, w, sh = blk.resolution, blk.window, blk.shift
        x = em.op("reshape", {"x": x}, f"{pre}.grid", I8, s, {"shape": [r, r, c]})
        if sh:
            x = self._roll(em, f"{pre}.shift", x, r, sh, I8, s)
        x = em.op("reshape", {"x": x}, f"{pre}.win.split", I8, s, {"shape": [r // w, w, r // w, w, c]})
        x = em.op("transpose", {"x": x}, f"{pre}.win.order", I8, s, {"perm": [0, 2, 1, 3, 4]})
        return em.op("reshape", {"x": x}, f"{pre}.win", I8, s, {"shape": [(r // w) ** 2, w * w, c]})

    def _unwindows(self, em: Emitter, pre: str, x: Any, blk: SwinBlock, c: int, s: float) -> Any:
        """[nW, N, C] windows -> (reverse shift) -> [L, C]."""
        r, w, sh = blk.resolution, blk.window, blk.shift
        x = em.op("reshape", {"x": x}, f"{pre}.unwin.split", I8, s, {"shape": [r // w, r // w, w, w, c]})
        x = em.op("transpose", {"x": x}, f"{pre}.unwin.order", I8, s, {"perm": [0, 2, 1, 3, 4]})
        x = em.op("reshape", {"x": x}, f"{pre}.unwin", I8, s, {"shape": [r, r, c]})
        if sh:
            x = self._roll(em, f"{pre}.unshift", x, r, r - sh, I8, s)
        return em.op("reshape", {"x": x}, f"{pre}.tokens", I8, s, {"shape": [r * r, c]})

    def _swin_attention(self, em: Emitter, blk: SwinBlock, pre: str, pt: str, x: Any, x_scale: float,
                        c: int) -> tuple[Any, float]:
        att, ab = blk.attn, self.cfg.act_bits
        h, hd, n = att.num_heads, att.head_dim, blk.window**2
        a, s_a = self._norm(em, f"{pre}.norm1", x, blk.norm1, f"{pt}_ln1")
        win = self._windows(em, f"{pre}.attn", a, blk, c, s_a)
        nw = (blk.resolution // blk.window) ** 2
        acc, s_acc = self._linear(em, f"{pre}.attn.qkv", win, s_a, att.qkv)
        s_q, s_k, s_v = (self.scale(f"{pt}_{t}") for t in "qkv")
        target = np.repeat([s_q, s_k, s_v], c)
        qkv = self._requant(em, f"{pre}.attn.qkv.q", acc, s_acc / target, 8, target)
        s_qkv = (s_q, s_k, s_v)
        qkv = em.op("reshape", {"x": qkv}, f"{pre}.attn.qkv.split", I8, s_qkv, {"shape": [nw, n, 3, h, hd]}, 2)
        qkv = em.op("transpose", {"x": qkv}, f"{pre}.attn.qkv.heads", I8, s_qkv, {"perm": [2, 0, 3, 1, 4]}, 0)
        q, k, v = (
            em.op("gather", {"x": qkv}, f"{pre}.attn.{t}", I8, sc, {"axis": 0, "index": j})
            for j, (t, sc) in enumerate(zip("qkv", s_qkv, strict=True))
        )
        attrs = {"transpose_b": True, "fold_rsqrt_k": True}
        s_sc = output_scale("matmul", {"a": s_q, "b": s_k}, attrs, shapes={"a": (nw, h, n, hd)})
        sc = em.op("matmul", {"a": q, "b": k}, f"{pre}.attn.scores.acc", I32, s_sc, attrs)
        bias = _np(att.relative_bias())
        s_b = bias_scale(bias)
        # one [heads, n, n] constant, broadcast over the windows by the requantize's identity term
        bias_q = em.const(f"{pre}.attn.relative_position_bias", P.quantize(bias, s_b, 8), I8, s_b)
        s_s = self.scale(f"{pt}_scores")
        sc = self._requant(em, f"{pre}.attn.scores", sc, s_sc / s_s, 8, s_s, bias_q, s_b / s_s)
        keep = shift_keep_mask(blk.resolution, blk.window, blk.shift)
        mask = None if keep is None else em.const(f"{pre}.attn.mask", keep[:, None].astype(np.int64), BOOL)
        o_acc, s_oacc = self._softmax_attn_v(em, f"{pre}.attn", sc, s_s, v, s_v, SWIN_ATTN_BITS, mask)
        s_o = self.scale(f"{pt}_attnv")
        o = self._requant(em, f"{pre}.attn.out", o_acc, s_oacc / s_o, 8, s_o)
        o = em.op("transpose", {"x": o}, f"{pre}.attn.out.tokens", I8, s_o, {"perm": [0, 2, 1, 3]})
        o = em.op("reshape", {"x": o}, f"{pre}.attn.out.merged", I8, s_o, {"shape": [nw, n, c]})
        o = self._unwindows(em, f"{pre}.attn", o, blk, c, s_o)
        p_acc, s_p = self._linear(em, f"{pre}.attn.proj", o, s_o, att.proj)
        s_r = self.scale(f"{pt}_res1")
        return self._requant(em, f"{pre}.res1", p_acc, s_p / s_r, ab, s_r, x, x_scale / s_r), s_r

    def _merge(self, em: Emitter, s: int, x: Any, x_scale: float) -> tuple[Any, float]:
        """Patch merging at the start of stage ``s``: [R*R, C] -> [R*R/4, 2C]."""
        cfg, ab, pre = self.model.config, self.cfg.act_bits, f"layers.{s}.downsample"
        r, c, t = cfg.resolution(s - 1), cfg.stage_dim(s - 1), IntType(ab)
        x = em.op("reshape", {"x": x}, f"{pre}.split", t, x_scale, {"shape": [r // 2, 2, r // 2, 2, c]})
        x = em.op("transpose", {"x": x}, f"{pre}.order", t, x_scale, {"perm": [0, 2, 3, 1, 4]})
        x = em.op("reshape", {"x": x}, f"{pre}.cat", t, x_scale, {"shape": [(r // 2) ** 2, 4 * c]})
        ds = self.model.layers[s].downsample
        a, s_a = self._norm(em, f"{pre}.norm", x, ds.norm, f"m{s}_ln")
        acc, s_acc = self._linear(em, f"{pre}.reduction", a, s_a, ds.reduction)
        s_o = self.scale(f"m{s}_out")
        return self._requant(em, f"{pre}.out", acc, s_acc / s_o, ab, s_o), s_o

    def program(self, em: Emitter, pixels: Any) -> tuple[Any, Any]:
        """The integer forward, written once: uint8 pixels -> (logits int16, predicted class)."""
        m, c, ab = self.model, self.model.config, self.cfg.act_bits
        acc, s_w = self._patch_embed(em, pixels)
        s_e = self.scale("embed")
        x = self._requant(em, "patch_embed.out", acc, s_w / s_e, self.cfg.patch_norm_bits, s_e)
        x, s_x = self._norm(em, "patch_embed.norm", x, m.patch_embed.norm, "pe_norm", ab)
        for s, stage in enumerate(m.layers):
            if s > 0:
                x, s_x = self._merge(em, s, x, s_x)
            for bi, blk in enumerate(stage.blocks):
                pre, pt = f"layers.{s}.blocks.{bi}", f"s{s}b{bi}"
                x, s_x = self._swin_attention(em, blk, pre, pt, x, s_x, c.stage_dim(s))
                x, s_x = self._mlp_block(em, blk, pre, pt, x, s_x)
        a, s_a = self._norm(em, "norm", x, m.norm, "norm")
        n_tok = c.resolution(c.num_stages - 1) ** 2
        s_sum = output_scale("reduce_sum", {"x": s_a}, {"axis": 0}, shapes={"x": (n_tok, c.num_features)})
        pooled = em.op("reduce_sum", {"x": a}, "pool.sum", AUTO, s_sum, {"axis": 0})
        s_p = self.scale("pool")
        pooled = self._requant(em, "pool", pooled, s_sum / s_p, 8, s_p)
        acc, s_acc = self._linear(em, "head.fc", pooled, s_p, m.head.fc)
        s_l = self.scale("logits")
        logits = self._requant(em, "logits", acc, s_acc / s_l, 16, s_l)
        return logits, em.op("argmax", {"x": logits}, "pred", IntType(32), None)


    def swin_meta(self) -> dict[str, Any]:
        """The architecture facts a Swin graph records in ``meta["swin"]`` (for readers of the graph)."""
        c = self.model.config
        return {"depths": list(c.depths), "num_heads": list(c.num_heads), "window_size": c.window_size,
                "patch_size": c.patch_size, "embed_dim": c.embed_dim, "img_size": c.img_size}

    @torch.no_grad()
    def export(self, name: str = "ivit", meta: dict[str, Any] | None = None):
        """:meth:`QuantViT.export` with ``meta["swin"]`` added."""
        return super().export(name, {"swin": self.swin_meta()} | (meta or {}))

    @torch.no_grad()
    def observe_block(self, stage: int, block: int, x: torch.Tensor) -> None:
        """Calibrate one block's points on float residual-stream input x [B, L, C] (the block alone)."""
        pt = f"s{stage}b{block}"
        for name, point in self.points.items():
            point.mode = "observe" if name.startswith(pt + "_") else "off"
        self._float_block(self.model.layers[stage].blocks[block], pt, x)
        self.set_mode("qat")

    @torch.no_grad()
    def export_block(self, stage: int, block: int, x_scale: float, name: str = "swin_block"):
        """One block as a graph: residual stream ``x`` [L, C] on ``x_scale`` -> the block's ``res2``."""
        from ..ir.types import Interval
        from .emit import GraphEmitter

        c, ab = self.model.config, self.cfg.act_bits
        em = GraphEmitter(name)
        t = IntType(ab)
        x = em.input("x", (c.resolution(stage) ** 2, c.stage_dim(stage)), t, x_scale, Interval(t.min, t.max))
        pre, pt = f"layers.{stage}.blocks.{block}", f"s{stage}b{block}"
        blk = self.model.layers[stage].blocks[block]
        y, _ = self._swin_attention(em, blk, pre, pt, x, x_scale, c.stage_dim(stage))
        y, _ = self._mlp_block(em, blk, pre, pt, y, self.scale(f"{pt}_res1"))
        return em.finish([y], {"quant": self.cfg.as_dict(), "swin": self.swin_meta(), "block": [stage, block]})


def quant_twin(model: torch.nn.Module, cfg=None) -> QuantViT:
    """The quantized twin of a float model: :class:`QuantSwin` for a Swin, :class:`QuantViT` otherwise."""
    return QuantSwin(model, cfg) if isinstance(model, SwinTransformer) else QuantViT(model, cfg)

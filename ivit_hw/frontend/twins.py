"""The quantized twin of a float ViT/DeiT.

:class:`QuantViT` wraps a :class:`VisionTransformer` and adds one
:class:`ActQuant` point wherever the integer graph holds an activation
(spec section 8). It has two forwards:

- ``forward_uint8`` (float, for calibration and QAT): the float model with
  the input normalisation folded into the patch embedding, per-channel
  fake-quantized weights and fake-quantized activations, with straight-
  through gradients;
- :meth:`QuantViT.int_forward` (integer eval): the integer program of
  :meth:`QuantViT.program` run op by op with the golden kernels.

:meth:`QuantViT.export` records the same program as an IR graph, so the
exported graph computes exactly the twin's integers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserValueError
from ..ir.graph import Graph
from ..ir.scales import output_scale
from ..ir.types import Interval, IntType
from ..ops import dyadic
from ..ops import params as P
from ..ops.requant import dyadic_or_zero
from .emit import AUTO, EagerEmitter, Emitter, GraphEmitter
from .fakequant import ActQuant, fake_quant_weight
from .models import VisionTransformer
from .qconfig import QuantConfig

I8, U8, I32 = IntType(8), IntType(8, signed=False), IntType(32)
SHIFT_T = IntType(8, signed=False)  # requantize shift amounts (0..62)
ACC_MAX = 2**31  # |acc| bound of a requantized i32 accumulator (GEMMs); norm and GELU outputs have none


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy()


def fold_normalization(model: VisionTransformer) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch-embedding weight and bias acting on raw 0..255 pixels (differentiable).

    ``w' = w / (255 std_c)`` and ``b' = b - sum_{c,i,j} w mean_c / std_c``.
    """
    proj = model.patch_embed.proj
    mean = torch.tensor(model.normalize.mean, dtype=proj.weight.dtype).view(1, -1, 1, 1)
    std = torch.tensor(model.normalize.std, dtype=proj.weight.dtype).view(1, -1, 1, 1)
    w = proj.weight / (255.0 * std)
    b = proj.bias - (proj.weight * (mean / std)).sum(dim=(1, 2, 3))
    return w, b


class QuantViT(nn.Module):
    """Quantized twin of a class-token ViT; see the module docstring."""

    def __init__(self, model: VisionTransformer, cfg: QuantConfig | None = None) -> None:
        super().__init__()
        if not model.config.class_token:
            raise ValueError("QuantViT needs a class-token model (class_token=True)")
        self.model = model
        self.cfg = cfg or QuantConfig()
        ab = self.cfg.act_bits
        gelu_bits = 16 if self.cfg.gelu == "ibert_gelu" else 8
        names: list[tuple[str, int]] = [("embed", ab)]
        for i in range(model.config.depth):
            names += [
                (f"b{i}_{n}", b)
                for n, b in (
                    ("ln1", 8),
                    ("q", 8),
                    ("k", 8),
                    ("v", 8),
                    ("scores", 8),
                    ("attnv", 8),
                    ("res1", ab),
                    ("ln2", 8),
                    ("gelu_in", gelu_bits),
                    ("gelu_out", 8),
                    ("res2", ab),
                )
            ]
        names += [("norm", 8), ("logits", 16)]
        self.points = nn.ModuleDict({n: ActQuant(n, b, self.cfg) for n, b in names})

    # ----------------------------------------------------------------- float side
    def set_mode(self, mode: str) -> None:
        """Set every point to "off", "observe" (calibration) or "qat"."""
        for p in self.points.values():
            p.mode = mode

    def _pt(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.points[name](x)

    def _float_norm(self, ln: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.layernorm != "l1_layernorm":
            return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
        y = x - x.mean(dim=-1, keepdim=True)
        spread = y.abs().mean(dim=-1, keepdim=True) * math.sqrt(math.pi / 2) + ln.eps
        return y / spread * ln.weight + ln.bias

    def _float_gelu(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.gelu == "shiftgelu":
            return x * torch.sigmoid(1.702 * x)
        return F.gelu(x)

    def forward_uint8(self, pixels: torch.Tensor) -> torch.Tensor:
        """Fake-quantized float forward on uint8 pixels [B, C, H, W] -> float logits."""
        m, c = self.model, self.model.config
        w, b = fold_normalization(m)
        x = F.conv2d(pixels.to(w.dtype), fake_quant_weight(w), b, stride=c.patch_size).flatten(2).transpose(1, 2)
        pos = m.pos_embed
        cls = (m.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        x = self._pt("embed", torch.cat([cls, x + pos[:, 1:]], dim=1))
        bsz, n, d = x.shape
        for i, blk in enumerate(m.blocks):
            a = self._pt(f"b{i}_ln1", self._float_norm(blk.norm1, x))
            att = blk.attn
            qkv = F.linear(a, fake_quant_weight(att.qkv.weight), att.qkv.bias)
            qkv = qkv.reshape(bsz, n, 3, att.num_heads, att.head_dim).permute(2, 0, 3, 1, 4)
            q, k, v = (self._pt(f"b{i}_{t}", qkv[j]) for j, t in enumerate("qkv"))
            s = self._pt(f"b{i}_scores", (q @ k.transpose(-2, -1)) * att.scale)
            o = self._pt(f"b{i}_attnv", s.softmax(dim=-1) @ v).transpose(1, 2).reshape(bsz, n, d)
            x = self._pt(f"b{i}_res1", x + F.linear(o, fake_quant_weight(att.proj.weight), att.proj.bias))
            a = self._pt(f"b{i}_ln2", self._float_norm(blk.norm2, x))
            mlp = blk.mlp
            h = self._pt(f"b{i}_gelu_in", F.linear(a, fake_quant_weight(mlp.fc1.weight), mlp.fc1.bias))
            h = self._pt(f"b{i}_gelu_out", self._float_gelu(h))
            x = self._pt(f"b{i}_res2", x + F.linear(h, fake_quant_weight(mlp.fc2.weight), mlp.fc2.bias))
        cls_tok = self._pt("norm", self._float_norm(m.norm, x[:, 0]))
        return self._pt("logits", F.linear(cls_tok, fake_quant_weight(m.head.weight), m.head.bias))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`forward_uint8` (training loops call the module directly)."""
        return self.forward_uint8(pixels)

    @property
    def normalize(self):
        """The wrapped model's input normalisation (folded into the patch embedding)."""
        return self.model.normalize

    # --------------------------------------------------------------- integer side
    def scale(self, point: str) -> float:
        """Calibrated scale of a quantization point."""
        return self.points[point].scale

    def _requant(
        self,
        em: Emitter,
        name: str,
        acc: Any,
        ratio: Any,
        bits: int,
        out_scale: Any,
        identity: Any = None,
        id_ratio: float | None = None,
        acc_max: int | None = ACC_MAX,
    ) -> Any:
        """A requantize of ``acc`` by ``ratio`` (per channel) to ``bits``; ``acc_max`` bounds |acc|
        (None where the accumulator is wider than 32 bits: a ratio below the dyadic's smallest is then refused)."""
        try:  # a dead channel (ratio below 2^-32 at 31 bits) gets the exact multiplier 0 or is refused, naming it
            m, e = dyadic_or_zero(ratio, acc_max, self.cfg.rounding, self.cfg.dyadic_bits)
        except ValueError as exc:
            raise UserValueError(f"{name}: {exc}") from None
        if np.ndim(ratio) == 0:
            m, e = m.reshape(()), e.reshape(())
        ins = {
            "acc": acc,
            "m": em.const(f"{name}.m", np.asarray(m), I32),
            "e": em.const(f"{name}.e", np.asarray(e), SHIFT_T),
        }
        if identity is not None:
            m_id, e_id = dyadic(id_ratio, self.cfg.dyadic_bits)
            ins.update(
                identity=identity,
                m_id=em.const(f"{name}.m_id", np.asarray(m_id), I32),
                e_id=em.const(f"{name}.e_id", np.asarray(e_id), SHIFT_T),
            )
        return em.op(
            "requantize", ins, name, IntType(bits), out_scale, {"out_bits": bits, "rounding": self.cfg.rounding}
        )

    def _linear(self, em: Emitter, name: str, x: Any, x_scale: float, lin: nn.Linear) -> tuple[Any, np.ndarray]:
        w_int, s_w = P.quantize_weight(_np(lin.weight))
        ins = {"x": x, "weight": em.const(f"{name}.weight", w_int, I8, s_w, scale_axis=0)}
        s_acc = output_scale("linear", {"x": x_scale, "weight": s_w})
        if lin.bias is not None:
            ins["bias"] = em.const(f"{name}.bias", P.quantize_bias(_np(lin.bias), x_scale, s_w), I32, s_acc)
        return em.op("linear", ins, f"{name}.acc", I32, s_acc), s_acc

    def _norm(self, em: Emitter, name: str, x: Any, ln: nn.LayerNorm, point: str, bits: int = 8) -> tuple[Any, float]:
        op = self.cfg.layernorm
        helper = P.l1_layernorm_params if op == "l1_layernorm" else P.layernorm_params
        try:
            s_out, bias_int = helper(_np(ln.weight), _np(ln.bias))
        except ValueError as exc:
            raise UserValueError(f"{name}: {exc}") from None
        bias_t = IntType.fitting(Interval(int(min(bias_int.min(), -1)), int(max(bias_int.max(), 1))), True)
        ins = {"x": x, "bias_int": em.const(f"{name}.bias_int", bias_int, IntType(max(32, bias_t.bits)))}
        z = em.op(op, ins, f"{name}.out", AUTO, s_out)
        s_a = self.scale(point)
        return self._requant(em, f"{name}.q", z, s_out / s_a, bits, s_a, acc_max=None), s_a

    def _attention(self, em: Emitter, i: int, x: Any, x_scale: float) -> tuple[Any, float]:
        blk, c, ab = self.model.blocks[i], self.model.config, self.cfg.act_bits
        pre, att = f"blocks.{i}", self.model.blocks[i].attn
        n, d, h, hd = c.num_tokens, c.embed_dim, c.num_heads, c.head_dim
        a, s_a = self._norm(em, f"{pre}.norm1", x, blk.norm1, f"b{i}_ln1")
        acc, s_acc = self._linear(em, f"{pre}.attn.qkv", a, s_a, att.qkv)
        s_q, s_k, s_v = (self.scale(f"b{i}_{t}") for t in "qkv")
        target = np.repeat([s_q, s_k, s_v], d)
        qkv = self._requant(em, f"{pre}.attn.qkv.q", acc, s_acc / target, 8, target)
        s_qkv = (s_q, s_k, s_v)  # the split's axis 1 (then the heads' axis 0) picks q, k or v
        qkv = em.op("reshape", {"x": qkv}, f"{pre}.attn.qkv.split", I8, s_qkv, {"shape": [n, 3, h, hd]}, 1)
        qkv = em.op("transpose", {"x": qkv}, f"{pre}.attn.qkv.heads", I8, s_qkv, {"perm": [1, 2, 0, 3]}, 0)
        q, k, v = (
            em.op("gather", {"x": qkv}, f"{pre}.attn.{t}", I8, s, {"axis": 0, "index": j})
            for j, (t, s) in enumerate(zip("qkv", (s_q, s_k, s_v), strict=True))
        )
        attrs = {"transpose_b": True, "fold_rsqrt_k": True}  # the 1/sqrt(head_dim) lives in the scale
        s_sc = output_scale("matmul", {"a": s_q, "b": s_k}, attrs, shapes={"a": (h, n, hd)})
        sc = em.op("matmul", {"a": q, "b": k}, f"{pre}.attn.scores.acc", I32, s_sc, attrs)
        s_s = self.scale(f"b{i}_scores")
        sc = self._requant(em, f"{pre}.attn.scores", sc, s_sc / s_s, 8, s_s)
        o_acc, s_oacc = self._softmax_attn_v(em, f"{pre}.attn", sc, s_s, v, s_v, ab)
        s_o = self.scale(f"b{i}_attnv")
        o = self._requant(em, f"{pre}.attn.out", o_acc, s_oacc / s_o, 8, s_o)
        o = em.op("transpose", {"x": o}, f"{pre}.attn.out.tokens", I8, s_o, {"perm": [1, 0, 2]})
        o = em.op("reshape", {"x": o}, f"{pre}.attn.out.merged", I8, s_o, {"shape": [n, d]})
        p_acc, s_p = self._linear(em, f"{pre}.attn.proj", o, s_o, att.proj)
        s_r = self.scale(f"b{i}_res1")
        return self._requant(em, f"{pre}.res1", p_acc, s_p / s_r, ab, s_r, x, x_scale / s_r), s_r

    def _softmax_attn_v(
        self, em: Emitter, pre: str, sc: Any, s_s: float, v: Any, s_v: float, ab: int, mask: Any = None
    ) -> tuple[Any, float]:
        op = self.cfg.softmax
        ins = {"x": sc} if mask is None else {"x": sc, "mask": mask}
        if op == "log_int_softmax":
            p = P.ibert_exp_params(s_s)
            code = em.op(
                op, ins, f"{pre}.attn_code", AUTO, None, {k: p[k] for k in ("x0", "b_int", "c_int", "n")}
            )
            s_acc = output_scale("log_attn_v", {"v": s_v})
            return em.op("log_attn_v", {"code": code, "v": v}, f"{pre}.attnv.acc", I32, s_acc), s_acc
        if op == "shiftmax":
            attrs, t = {"x0": P.exp_x0(s_s), "out_bits": ab}, IntType(ab)  # n: the registry default (15)
        elif mask is not None:
            raise ValueError(f"{pre}: softmax {op!r} takes no mask; shifted windows need shiftmax or log_int_softmax")
        else:
            p = P.ibert_exp_params(s_s)
            attrs, t = {k: p[k] for k in ("x0", "b_int", "c_int", "n", "h")} | {"out_bits": ab}, AUTO
        s_attn = output_scale(op, {"x": s_s}, attrs)
        attn = em.op(op, ins, f"{pre}.attn_prob", t, s_attn, attrs)
        s_acc = output_scale("matmul", {"a": s_attn, "b": s_v})
        return em.op("matmul", {"a": attn, "b": v}, f"{pre}.attnv.acc", I32, s_acc), s_acc

    def _mlp(self, em: Emitter, i: int, x: Any, x_scale: float) -> tuple[Any, float]:
        return self._mlp_block(em, self.model.blocks[i], f"blocks.{i}", f"b{i}", x, x_scale)

    def _mlp_block(self, em: Emitter, blk: nn.Module, pre: str, pt: str, x: Any, x_scale: float) -> tuple[Any, float]:
        """norm2 -> fc1 -> GELU -> fc2 -> residual requantize of one block (node prefix ``pre``, points ``pt_*``)."""
        ab = self.cfg.act_bits
        a, s_a = self._norm(em, f"{pre}.norm2", x, blk.norm2, f"{pt}_ln2")
        acc, s_acc = self._linear(em, f"{pre}.mlp.fc1", a, s_a, blk.mlp.fc1)
        s_g = self.scale(f"{pt}_gelu_in")
        g_bits = self.points[f"{pt}_gelu_in"].bits
        g_in = self._requant(em, f"{pre}.mlp.gelu_in", acc, s_acc / s_g, g_bits, s_g)
        if self.cfg.gelu == "shiftgelu":
            coef = self.cfg.gelu_coef
            attrs = {"x0": P.gelu_x0(s_g, coef), "coef": coef}  # n: the registry default (23)
        else:
            p = P.ibert_gelu_params(s_g)
            attrs = {k: p[k] for k in ("b_int", "c_int", "one")}
        s_out = output_scale(self.cfg.gelu, {"x": s_g}, attrs)
        g = em.op(self.cfg.gelu, {"x": g_in}, f"{pre}.mlp.gelu", AUTO, s_out, attrs)
        s_h = self.scale(f"{pt}_gelu_out")
        g = self._requant(em, f"{pre}.mlp.gelu.q", g, s_out / s_h, 8, s_h, acc_max=None)
        o_acc, s_o = self._linear(em, f"{pre}.mlp.fc2", g, s_h, blk.mlp.fc2)
        s_r = self.scale(f"{pt}_res2")
        return self._requant(em, f"{pre}.res2", o_acc, s_o / s_r, ab, s_r, x, x_scale / s_r), s_r

    def _patch_embed(self, em: Emitter, pixels: Any) -> tuple[Any, np.ndarray]:
        """The patch embedding on raw pixels (normalisation folded): (int32 accumulator, weight scales)."""
        w, b = fold_normalization(self.model)
        w_int, s_w = P.quantize_weight(_np(w))
        b_int = P.quantize_bias(_np(b), 1.0, s_w)
        attrs = {"patch": self.model.config.patch_size}
        s_acc = output_scale("patch_embed", {"x": 1.0, "weight": s_w}, attrs)  # pixels are on scale 1
        ins = {"x": pixels, "weight": em.const("patch_embed.weight", w_int, I8, s_w, scale_axis=0),
               "bias": em.const("patch_embed.bias", b_int, I32, s_acc)}
        return em.op("patch_embed", ins, "patch_embed.acc", I32, s_acc, attrs), s_w

    def program(self, em: Emitter, pixels: Any) -> tuple[Any, Any]:
        """The integer forward, written once: uint8 pixels -> (logits int16, predicted class)."""
        m, c, ab = self.model, self.model.config, self.cfg.act_bits
        acc, s_w = self._patch_embed(em, pixels)
        s_e = self.scale("embed")
        pos = _np(m.pos_embed[0])
        pos_q = em.const("pos_embed", P.quantize(pos[1:], s_e, ab), IntType(ab), s_e)
        tok = self._requant(em, "patch_embed.out", acc, s_w / s_e, ab, s_e, pos_q, 1.0)
        cls_q = em.const("cls_token", P.quantize(_np(m.cls_token[0]) + pos[:1], s_e, ab), IntType(ab), s_e)
        x = em.op("concat", {"a": cls_q, "b": tok}, "embed", IntType(ab), s_e, {"axis": 0})
        s_x = s_e
        for i in range(c.depth):
            x, s_x = self._attention(em, i, x, s_x)
            x, s_x = self._mlp(em, i, x, s_x)
        cls_tok = em.op("gather", {"x": x}, "cls", IntType(ab), s_x, {"axis": 0, "index": 0})
        a, s_a = self._norm(em, "norm", cls_tok, m.norm, "norm")
        acc, s_acc = self._linear(em, "head", a, s_a, m.head)
        s_l = self.scale("logits")
        logits = self._requant(em, "logits", acc, s_acc / s_l, 16, s_l)
        return logits, em.op("argmax", {"x": logits}, "pred", IntType(32), None)

    @torch.no_grad()
    def int_forward(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer eval forward on uint8 pixels [B, C, H, W]: (int logits [B, K], predictions [B])."""
        arr = np.asarray(pixels)
        if arr.dtype != np.uint8:
            raise TypeError(f"int_forward expects uint8 pixels, got {arr.dtype}")
        logits, pred = self.program(EagerEmitter(), arr.astype(np.int64))
        return logits, pred

    @torch.no_grad()
    def export(self, name: str = "ivit", meta: dict[str, Any] | None = None) -> Graph:
        """Record :meth:`program` as an IR graph with uint8 pixel input ``pixels``."""
        c = self.model.config
        em = GraphEmitter(name)
        pixels = em.input("pixels", (c.in_chans, c.img_size, c.img_size), U8, 1.0, Interval(0, 255))
        logits, pred = self.program(em, pixels)
        info = {
            "quant": self.cfg.as_dict(),
            "normalize": {"mean": list(c.normalize.mean), "std": list(c.normalize.std)},
            "num_classes": c.num_classes,
        } | (meta or {})
        return em.finish([logits, pred], info)


def calibrate(qmodel: QuantViT, images_uint8: np.ndarray, batch_size: int = 128, progress: bool = False,
              threads: int | None = 1) -> None:
    """Run the float twin over calibration images with every point observing (no fake quant).

    Runs on ``threads`` torch threads (default 1, so the scales do not depend on the machine's thread
    count; None keeps the current count, faster for big models); ``progress`` prints images done and
    images/s on stderr.
    """
    from ..progress import Progress
    from .train import fixed_threads

    if len(images_uint8) == 0:
        raise ValueError("calibration set is empty")
    qmodel.eval()
    qmodel.set_mode("observe")
    x = torch.as_tensor(np.asarray(images_uint8))
    n_threads = threads or torch.get_num_threads()
    with torch.no_grad(), fixed_threads(n_threads), Progress(len(x), "calibrate", "img", enabled=progress) as bar:
        for i in range(0, len(x), batch_size):
            qmodel.forward_uint8(x[i : i + batch_size])
            bar.update(len(x[i : i + batch_size]))
    qmodel.set_mode("qat")

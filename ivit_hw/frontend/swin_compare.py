"""The float Swin's activations named and laid out as the exported graph's tensors
(the Swin half of :func:`~.compare.float_activations`; names from :class:`~.swin_twin.QuantSwin`)."""

from __future__ import annotations

import numpy as np
import torch

from .compare import activation_store, residual_mlp_acts
from .swin import SwinBlock, SwinTransformer, roll_windows, unroll_windows

__all__ = ["swin_float_activations"]


def _block(blk: SwinBlock, p: str, x: torch.Tensor, put) -> torch.Tensor:
    b, n_tok, c = x.shape
    r, w, sh, att = blk.resolution, blk.window, blk.shift, blk.attn
    a = blk.norm1(x)
    put(a, f"{p}.norm1.out", f"{p}.norm1.q")
    win = roll_windows(a.reshape(b, r, r, c), w, sh)
    bw, n = win.shape[:2]
    nw = bw // b
    put(win.reshape(b, nw, n, c), f"{p}.attn.win")
    qkv = att.qkv(win)
    put(qkv.reshape(b, nw, n, -1), f"{p}.attn.qkv.acc", f"{p}.attn.qkv.q")
    q, k, v = qkv.reshape(bw, n, 3, att.num_heads, att.head_dim).permute(2, 0, 3, 1, 4)
    for t, val in zip("qkv", (q, k, v), strict=True):
        put(val.reshape(b, nw, *val.shape[1:]), f"{p}.attn.{t}")
    s = (q @ k.transpose(-2, -1)) * att.scale
    put(s.reshape(b, nw, *s.shape[1:]), f"{p}.attn.scores.acc")
    s = (s + att.relative_bias()).reshape(b, nw, att.num_heads, n, n)
    put(s, f"{p}.attn.scores")
    if blk.attn_mask is not None:
        s = s + blk.attn_mask[None, :, None]
    prob = s.softmax(dim=-1)
    put(prob, f"{p}.attn.attn_prob")
    o = prob.reshape(bw, att.num_heads, n, n) @ v
    put(o.reshape(b, nw, *o.shape[1:]), f"{p}.attn.attnv.acc", f"{p}.attn.out")
    o = unroll_windows(o.transpose(1, 2).reshape(bw, n, c), w, sh, r, r).reshape(b, n_tok, c)
    put(o, f"{p}.attn.tokens")
    o = att.proj(o)
    put(o, f"{p}.attn.proj.acc")
    return residual_mlp_acts(blk, p, x + o, put)


def swin_float_activations(model: SwinTransformer, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Batched float64 activations of ``model`` on uint8 pixels, keyed by graph tensor name."""
    m, c = model, model.config
    acts, put = activation_store()
    with torch.no_grad():
        img = m.normalize_uint8(torch.as_tensor(np.ascontiguousarray(pixels)))
        x = m.patch_embed.proj(img).flatten(2).transpose(1, 2)
        put(x, "patch_embed.acc", "patch_embed.out")
        x = m.patch_embed.norm(x)
        put(x, "patch_embed.norm.out", "patch_embed.norm.q")
        for s, stage in enumerate(m.layers):
            if s > 0:
                p, b, ch, r = f"layers.{s}.downsample", x.shape[0], x.shape[2], c.resolution(s - 1)
                x = x.reshape(b, r // 2, 2, r // 2, 2, ch).permute(0, 1, 3, 4, 2, 5).reshape(b, -1, 4 * ch)
                put(x, f"{p}.cat")
                x = stage.downsample.norm(x)
                put(x, f"{p}.norm.out", f"{p}.norm.q")
                x = stage.downsample.reduction(x)
                put(x, f"{p}.reduction.acc", f"{p}.out")
            for bi, blk in enumerate(stage.blocks):
                x = _block(blk, f"layers.{s}.blocks.{bi}", x, put)
        x = m.norm(x)
        put(x, "norm.out", "norm.q")
        x = x.mean(dim=1)
        put(x, "pool.sum", "pool")
        put(m.head.fc(x), "head.fc.acc", "logits")
    return acts

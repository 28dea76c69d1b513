"""The float baselines of a preset (same random weights as its integer graph) and the integer path,
each as a zero-argument callable that runs one batch on the device."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ivit_hw.frontend.models import VisionTransformer, create_model

from .paths import FLOAT_PATHS, PATHS  # noqa: F401  (re-exported)


def is_swin(preset: str) -> bool:
    """A Swin preset (windowed attention, no flat block list)."""
    return preset.startswith("swin")


def model_overrides(preset: str, depth: int | None, img_size: int | None) -> dict:
    """Config overrides of a small run: ``depth`` blocks of a ViT, or the first ``depth`` stages of a Swin."""
    out: dict = {} if img_size is None else {"img_size": img_size}
    if depth is not None and is_swin(preset):
        from ivit_hw.frontend.presets import PRESETS as CONFIGS

        cfg = CONFIGS[preset]
        out.update(depths=cfg.depths[:depth], num_heads=cfg.num_heads[:depth])
    elif depth is not None:
        out["depth"] = depth
    return out


def float_model(preset: str, seed: int, **overrides) -> VisionTransformer:
    """The float model whose weights ``synthetic_graph(preset, seed, **overrides)`` quantized."""
    torch.manual_seed(seed)
    return create_model(preset, **overrides).eval()


class SdpaBlock(torch.nn.Module):
    """A pre-norm block of ``model`` with its attention through ``F.scaled_dot_product_attention``."""

    def __init__(self, blk: torch.nn.Module) -> None:
        super().__init__()
        self.blk = blk

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        blk, a = self.blk, self.blk.attn
        b, n, d = t.shape
        qkv = a.qkv(blk.norm1(t)).reshape(b, n, 3, a.num_heads, a.head_dim).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        t = t + a.proj(o.transpose(1, 2).reshape(b, n, d))
        return t + blk.mlp(blk.norm2(t))


def forward_blocks(model: VisionTransformer, x: torch.Tensor, blocks) -> torch.Tensor:
    """``model.forward`` with its transformer blocks replaced by ``blocks`` (same weights)."""
    t = model.patch_embed(x)
    if model.cls_token is not None:
        t = torch.cat([model.cls_token.expand(t.shape[0], -1, -1), t], dim=1)
    t = t + model.pos_embed
    for blk in blocks:
        t = blk(t)
    t = model.norm(t)
    return model.head(t[:, 0] if model.cls_token is not None else t.mean(dim=1))


def float_runner(path: str, model: VisionTransformer, pixels: torch.Tensor, device: torch.device,
                 cache: dict) -> Callable:
    """A callable running one batch of ``pixels`` (uint8, on device) through float path ``path``.

    Compiled paths compile each block (the blocks share one compiled graph, so compiling is
    quick); ``cache`` keeps them per model across batch sizes, so a new batch size recompiles
    at most once (torch's automatic dynamic shapes).
    """
    x = model.normalize_uint8(pixels)
    if path == "fp32_eager":
        m = model.to(device)
        return lambda: m(x)
    if path == "fp32_compiled" and not isinstance(model, VisionTransformer):  # a Swin: the whole model compiled
        m = model.to(device)
        if path not in cache:
            cache[path] = torch.compile(m)
        return lambda: cache[path](x)
    if path == "bf16_compiled_sdpa" and not isinstance(model, VisionTransformer):
        raise ValueError("bf16_compiled_sdpa swaps a ViT's attention for SDPA; a Swin has no such baseline here")
    if path == "fp32_compiled":
        m = model.to(device)
        if path not in cache:
            cache[path] = [torch.compile(b) for b in m.blocks]
        blocks = cache[path]
        return lambda: forward_blocks(m, x, blocks)
    if path == "bf16_compiled_sdpa":
        if path not in cache:
            m16 = copy.deepcopy(model).to(device=device, dtype=torch.bfloat16)
            cache[path] = (m16, [torch.compile(SdpaBlock(b)) for b in m16.blocks])
        m16, blocks = cache[path]
        x16 = x.to(torch.bfloat16)
        return lambda: forward_blocks(m16, x16, blocks)
    raise ValueError(f"unknown float path {path!r}")


def set_exact_float32() -> None:
    """TF32 off for matmuls and convolutions (the fp32 baselines are true float32)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def _captured(fn: Callable) -> Callable:
    """``fn`` captured into a CUDA graph after warm-up (autotuning done); returns a callable that
    replays it and returns the captured outputs (static tensors, refreshed by each replay)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.no_grad():
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        out = fn()

    def replay():
        graph.replay()
        return out

    return replay


#: integer path -> executor of the registry (ivit_hw.runtime.executors)
INT_EXECUTORS = {"int_triton": "triton", "int_triton_graph": "triton", "int_torch": "fused",
                 "int_torch_compiled": "fused-compiled", "int_torch_exec": "torch"}


def int_runner(path: str, graph, pixels: torch.Tensor, device: torch.device) -> Callable:
    """A callable running integer path ``path`` on device ``pixels`` and returning its outputs."""
    from ivit_hw.runtime.executors import FusedRunner, make_executor

    name = graph.inputs[0]
    if path == "int_torch_int64":  # the fused torch path as it was before issue 18
        ex = FusedRunner(graph, str(device), "torch", int8_gemm=False, float_requant=False)
    elif path in INT_EXECUTORS:
        ex = make_executor(INT_EXECUTORS[path], graph, str(device))
    else:
        raise ValueError(f"unknown integer path {path!r}")
    run = lambda: ex.forward({name: pixels})  # noqa: E731
    if path == "int_triton_graph":
        if device.type != "cuda":
            raise ValueError("int_triton_graph needs CUDA")
        return _captured(run)
    return run


def check_bit_exact(graph, run: Callable, pixels: torch.Tensor, n_check: int) -> bool:
    """Run the golden numpy executor on the first ``n_check`` images and compare with the integer
    path's outputs for the whole batch (so the batched launch itself is checked), exactly."""
    from ivit_hw.runtime import run_graph

    name = graph.inputs[0]
    with torch.no_grad():
        out = run()
    ref = run_graph(graph, {name: pixels[:n_check].cpu().numpy()})
    return all(np.array_equal(out[k][:n_check].to(torch.int64).cpu().numpy(), v) for k, v in ref.outputs.items())

"""Per-node torch code for the nodes the fused executor does not fuse.

Each entry takes ``(args, attrs, info)``: ``args`` maps roles to torch
tensors (data with the batch axis; params as stored), ``info`` holds what the
plan proved about the node (requantize split flags, GEMM sum bounds). Ops
without an entry run their numpy golden kernel on the host (exact, slow):
:func:`run_single` does that transparently.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ...ir.registry import get_op
from . import torch_ops as T

SingleOp = Callable[[dict, dict, dict], torch.Tensor]


def _requantize(a: dict, at: dict, info: dict) -> torch.Tensor:
    return T.requantize(a["acc"], a["m"], a["e"], at["out_bits"], at["rounding"], a.get("identity"),
                        a.get("m_id"), a.get("e_id"), info.get("split", False), info.get("split_id", False))


def _gemm_rows(x: torch.Tensor, w: torch.Tensor, bound: int) -> torch.Tensor:
    """Exact x [..., K] @ w.T for w [N, K] (int64 out); bound = max|x| * max|w| * K."""
    lead = x.shape[:-1]
    rows = x.reshape(-1, x.shape[-1])
    out = T.exact_matmul(rows, w.t(), bound)
    return out.reshape(*lead, w.shape[0])


def _linear(a: dict, at: dict, info: dict) -> torch.Tensor:
    acc = _gemm_rows(a["x"], a["weight"], info["bound"])
    return acc + a["bias"].to(torch.int64) if "bias" in a else acc


def im2col(x: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, (H/p)*(W/p), C*p*p] patches, row-major grid, each flattened as (C, p, p)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // patch, patch, w // patch, patch).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // patch) * (w // patch), c * patch * patch)


def _patch_embed(a: dict, at: dict, info: dict) -> torch.Tensor:
    w = a["weight"].reshape(a["weight"].shape[0], -1)
    acc = _gemm_rows(im2col(a["x"], at["patch"]), w, info["bound"])
    return acc + a["bias"].to(torch.int64) if "bias" in a else acc


def _matmul(a: dict, at: dict, info: dict) -> torch.Tensor:
    b = a["b"].transpose(-1, -2) if at["transpose_b"] else a["b"]
    if info.get("split16"):
        return T.attn_v_split(a["a"], b)
    return T.exact_matmul(a["a"], b, info["bound"])


def _concat(a: dict, at: dict, info: dict) -> torch.Tensor:
    x, y = a["a"], a["b"]
    batch = max(x.shape[0], y.shape[0])
    x = x.expand(batch, *x.shape[1:])
    y = y.expand(batch, *y.shape[1:])
    return torch.cat([x, y.to(x.dtype)], dim=at["axis"] % (x.ndim - 1) + 1)


def _axis(at: dict, x: torch.Tensor) -> int:
    return at["axis"] % (x.ndim - 1) + 1


SINGLE_OPS: dict[str, SingleOp] = {
    "requantize": _requantize,
    "linear": _linear,
    "patch_embed": _patch_embed,
    "matmul": _matmul,
    "add": lambda a, at, i: a["a"].to(torch.int64) + a["b"].to(torch.int64),
    "shiftmax": lambda a, at, i: T.shiftmax(a["x"], at["x0"], at["n"], at["out_bits"], a.get("mask")),
    "shiftgelu": lambda a, at, i: T.shiftgelu(a["x"], at["x0"], at["n"], at["coef"]),
    "ilayernorm": lambda a, at, i: T.ilayernorm(a["x"], a["bias_int"], at["iters"], at["k0"], at["sqrt"]),
    "reshape": lambda a, at, i: a["x"].reshape(a["x"].shape[0], *at["shape"]),
    "transpose": lambda a, at, i: a["x"].permute(0, *(p + 1 for p in at["perm"])),
    "gather": lambda a, at, i: a["x"].select(_axis(at, a["x"]), at["index"]),
    "slice": lambda a, at, i: a["x"].narrow(_axis(at, a["x"]), at["start"], at["stop"] - at["start"]),
    "concat": _concat,
    "reduce_sum": lambda a, at, i: a["x"].to(torch.int64).sum(dim=_axis(at, a["x"])),
    "argmax": lambda a, at, i: torch.argmax(a["x"], dim=-1),
}


def run_single(op: str, args: dict, attrs: dict, info: dict) -> torch.Tensor:
    """Run one node with its torch code, or with its numpy golden kernel on the host."""
    fn = SINGLE_OPS.get(op)
    if fn is not None:
        return fn(args, attrs, info)
    device = next(iter(args.values())).device
    host = {k: v.cpu().numpy().astype(np.int64) for k, v in args.items()}
    out = np.asarray(get_op(op).kernel(host, attrs, None), dtype=np.int64)
    return torch.from_numpy(out).to(device)

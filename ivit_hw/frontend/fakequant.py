"""Observers and straight-through fake quantization for calibration and QAT.

During calibration an :class:`ActQuant` point only watches its tensor; during
QAT it also rounds it onto the integer grid of its scale, passing gradients
straight through the rounding (as I-ViT's QAT does).
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops.params import SCALE_FLOOR
from .qconfig import QuantConfig


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even in the forward pass, identity gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


def fake_quant(x: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """``clamp(round(x/S)) * S`` with straight-through gradients (signed ``bits``)."""
    qmax = 2 ** (bits - 1) - 1
    q = torch.clamp(round_ste(x / scale), -qmax - 1, qmax)
    return q * scale


def weight_scale(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Per-output-channel symmetric scale of a weight (axis 0), as in ops.params.quantize_weight."""
    flat = w.detach().reshape(w.shape[0], -1).to(torch.float64)
    amax = torch.maximum(-flat.min(dim=1).values, flat.max(dim=1).values)
    return torch.clamp(amax / (2 ** (bits - 1) - 1), min=SCALE_FLOOR).to(w.dtype)


def fake_quant_weight(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Per-channel fake quantization of a weight tensor with straight-through gradients."""
    s = weight_scale(w, bits).reshape((-1,) + (1,) * (w.ndim - 1))
    return fake_quant(w, s, bits)


class ActQuant(nn.Module):
    """One activation quantization point: observer + (optional) fake quantization.

    ``mode`` is "off" (pass through), "observe" (calibration: track range only)
    or "qat" (track range and fake-quantize). The observed |x| bound follows an
    EMA of per-batch max|x| (or of a per-batch percentile of |x|).
    """

    def __init__(self, name: str, bits: int, cfg: QuantConfig) -> None:
        super().__init__()
        self.name = name
        self.bits = bits
        self.cfg = cfg
        self.mode = "off"
        self.register_buffer("amax", torch.zeros((), dtype=torch.float64))
        self.register_buffer("seen", torch.zeros((), dtype=torch.int64))

    def _batch_amax(self, x: torch.Tensor) -> torch.Tensor:
        a = x.detach().abs().to(torch.float64).flatten()
        if self.cfg.observer == "percentile" and a.numel() > 1:
            return torch.quantile(
                a[torch.randperm(a.numel())[:100_000]] if a.numel() > 100_000 else a, self.cfg.percentile / 100.0
            )
        return a.max()

    def observe(self, x: torch.Tensor) -> None:
        """Fold one batch into the running bound."""
        cur = self._batch_amax(x)
        if int(self.seen) == 0:
            self.amax.copy_(cur)
        else:
            m = self.cfg.ema_momentum
            self.amax.copy_(m * self.amax + (1 - m) * cur)
        self.seen += 1

    @property
    def scale(self) -> float:
        """The symmetric scale of this point: ``amax / (2^(b-1) - 1)``, floored."""
        if int(self.seen) == 0:
            raise ValueError(f"quantization point {self.name!r} was never calibrated")
        return max(float(self.amax) / (2 ** (self.bits - 1) - 1), SCALE_FLOOR)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "off":
            return x
        if self.training or self.mode == "observe":
            self.observe(x)
        if self.mode == "qat":
            return fake_quant(x, torch.tensor(self.scale, dtype=x.dtype, device=x.device), self.bits)
        return x

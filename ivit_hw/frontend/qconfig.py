"""Quantization configuration: bit widths, observer and the op chosen for
each non-linearity (I-ViT's or a baseline), loadable from a YAML file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserValueError
from ..ops.requant import DYADIC_BITS, DYADIC_BITS_RANGE

SOFTMAX_CHOICES = ("shiftmax", "ibert_softmax", "log_int_softmax")
GELU_CHOICES = ("shiftgelu", "ibert_gelu")
LAYERNORM_CHOICES = ("ilayernorm", "ibert_layernorm", "l1_layernorm")
OBSERVER_CHOICES = ("ema", "percentile")


@dataclass(frozen=True)
class QuantConfig:
    """How a float ViT becomes an integer one.

    ``act_bits`` is the width of the "16-bit" activations of spec section 8
    (residual stream, Shiftmax output); 8 gives the "all 8-bit" option.
    ``ema_momentum`` weighs the running min/max; ``percentile`` is used when
    ``observer == "percentile"`` (of |x| per batch, then averaged).
    ``patch_norm_bits`` (Swin only) is the width of ``patch_embed.norm``'s input: 16 (default, the
    residual width) or 8 (I-ViT's; its small sums of squares put the 10-step Newton root off the
    integer root, docs/accuracy.md "The patch-norm weak spot").
    ``dyadic_bits`` is the precision of every requantize multiplier (spec section 2:
    2^(bits-1) <= |m| <= 2^bits - 1): 31 (default, 32-bit m) or fewer, e.g. 17 (18-bit signed m, one
    18x18 hard multiplier digit; docs/hardware.md "Requantize multipliers").
    """

    softmax: str = "shiftmax"
    gelu: str = "shiftgelu"
    layernorm: str = "ilayernorm"
    act_bits: int = 16
    observer: str = "ema"
    ema_momentum: float = 0.9
    percentile: float = 99.99
    rounding: str = "half_even"
    gelu_coef: str = "scale"
    patch_norm_bits: int = 16
    dyadic_bits: int = DYADIC_BITS

    def __post_init__(self) -> None:
        checks = {
            "softmax": SOFTMAX_CHOICES,
            "gelu": GELU_CHOICES,
            "layernorm": LAYERNORM_CHOICES,
            "observer": OBSERVER_CHOICES,
            "rounding": ("half_even", "half_up", "floor"),
            "gelu_coef": ("scale", "shift"),
        }
        for key in ("act_bits", "patch_norm_bits", "dyadic_bits"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise UserValueError(f"quant config: {key} must be an integer, got {value!r} "
                                 f"({type(value).__name__})")
        for key in ("ema_momentum", "percentile"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UserValueError(f"quant config: {key} must be a number, got {value!r} ({type(value).__name__})")
        for key, allowed in checks.items():
            if not isinstance(getattr(self, key), str) or getattr(self, key) not in allowed:
                raise UserValueError(f"quant config: {key} must be one of {list(allowed)}, got {getattr(self, key)!r}")
        for key in ("act_bits", "patch_norm_bits"):
            if getattr(self, key) not in (8, 16):
                raise UserValueError(f"quant config: {key} must be 8 or 16, got {getattr(self, key)!r}")
        lo, hi = DYADIC_BITS_RANGE
        if not lo <= self.dyadic_bits <= hi:
            raise UserValueError(f"quant config: dyadic_bits must be in [{lo}, {hi}], got {self.dyadic_bits!r}")
        if not 0.0 <= self.ema_momentum < 1.0:
            raise UserValueError(f"quant config: ema_momentum must be in [0, 1), got {self.ema_momentum!r}")
        if not 50.0 < self.percentile <= 100.0:
            raise UserValueError(f"quant config: percentile must be in (50, 100], got {self.percentile!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> QuantConfig:
        """Build from a mapping; unknown keys are an error naming them and ``source``."""
        if not isinstance(data, dict):
            raise UserValueError(f"{source}: expected a mapping of quantization options")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserValueError(f"{source}: unknown quantization option(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise UserValueError(f"{source}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> QuantConfig:
        """Read a YAML file of options (missing keys keep their defaults)."""
        p = Path(path)
        if not p.is_file():
            raise UserValueError(f"quant config file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UserValueError(f"quant config {p}: invalid YAML: {exc}") from None
        return cls.from_dict(data, str(p))

    def as_dict(self) -> dict[str, Any]:
        """Plain mapping (for reports and graph metadata); ``dyadic_bits`` only when it is not the
        default, so graphs quantized before the option existed keep their metadata."""
        out = asdict(self)
        if out["dyadic_bits"] == DYADIC_BITS:
            del out["dyadic_bits"]
        return out

    def label(self) -> str:
        """Short name of the op choices, e.g. ``shiftmax+shiftgelu+ilayernorm``."""
        return (f"{self.softmax}+{self.gelu}+{self.layernorm}" + ("" if self.act_bits == 16 else "+all8")
                + ("" if self.dyadic_bits == DYADIC_BITS else f"+m{self.dyadic_bits}"))

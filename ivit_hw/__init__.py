"""ivit_hw: fixed-point modelling and code generation for integer-only ViTs (I-ViT)."""

__version__ = "0.1.0"

"""Fused, bit-exact torch / Triton kernels for the integer graph (the GPU path).

- :mod:`.torch_ops`: exact torch formulations of every op the ViT graph uses
  (int64 element-wise chains, exact GEMMs); ``torch.compile`` fuses them.
- :mod:`.triton_kernels`: Triton kernels (int8 ``tl.dot`` GEMM with a fused
  requantize epilogue, integer attention, I-LayerNorm and ShiftGELU with their
  requantize); they also run on CPU under ``TRITON_INTERPRET=1``.
- :mod:`.plan`: groups graph nodes into fused steps (pure IR, no torch).
- :mod:`.executor`: :class:`FusedExecutor`, which runs a plan on a device.

Everything here equals the numpy golden model (:mod:`ivit_hw.ops`) exactly.
"""

"""Fused, bit-exact torch / Triton kernels for the integer graph (the fast CPU path and the GPU path).

- :mod:`.torch_kernels`: the fused steps' torch kernels, composed from the spec kernels of
  :mod:`ivit_hw.ops` on the torch namespace, plus named fast paths proven equal (float64
  requantize, ShiftExp tables, the split ``attn @ v``, exact GEMM routes).
- :mod:`.triton_kernels`: Triton kernels (int8 ``tl.dot`` GEMM with a fused
  requantize epilogue, integer attention, I-LayerNorm and ShiftGELU with their
  requantize); they also run on CPU under ``TRITON_INTERPRET=1``.
- :mod:`.steps`: groups graph nodes into fused steps (pure IR, no torch).
- :mod:`.executor`: :class:`FusedExecutor`, which runs the steps on a device.

Everything here equals the numpy golden model (:mod:`ivit_hw.ops`) exactly.
"""

"""The paths ``--paths`` can name (no torch import here, so bad use is reported at once)."""

PATHS = {
    "int_triton": "integer graph, fused Triton kernels (int8 tl.dot, exact)",
    "int_triton_graph": "int_triton replayed from one captured CUDA graph (no per-kernel launch cost)",
    "int_torch": "integer graph, fused exact torch code (GEMM route per CPU: int8 _int_mm with VNNI/AMX), eager",
    "int_torch_int64": "int_torch as before issue 18: float32 BLAS GEMMs, every requantize in int64",
    "int_torch_compiled": "integer graph, exact torch code through torch.compile",
    "int_torch_exec": "integer graph, the per-node torch executor (ivit_hw.runtime.torch_exec, unfused)",
    "fp32_eager": "float32 eager, TF32 off",
    "fp32_compiled": "float32 torch.compile, TF32 off",
    "bf16_compiled_sdpa": "bfloat16 torch.compile with fused attention (scaled_dot_product_attention)",
}
FLOAT_PATHS = ("fp32_eager", "fp32_compiled", "bf16_compiled_sdpa")

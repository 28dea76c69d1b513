#!/usr/bin/env bash
# Every GPU measurement of issue 10 in one go, on the GPU machine's own python (no venv):
#   bash gpu_validate/run_all.sh [OUT]        (default OUT: out/gpu; about 8 minutes on one H200)
# 1. the fused-kernel equality tests, compiled for the GPU (not interpreted), when pytest is there;
# 2. python -m gpu_validate on deit_tiny/small/base at batch 1, 8, 64: bit-exactness on CUDA and the
#    latency table (int_triton, int_triton_graph, int_torch_exec, fp32 eager, fp32 compiled, bf16 compiled SDPA).
# Results are rewritten after every measurement, so a run cut short keeps what it measured.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-out/gpu}
PY=${PYTHON:-python3}
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  $PY -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

if $PY -c "import pytest" 2>/dev/null; then
  # --noconftest: the shared conftest needs hypothesis, which the GPU machine may lack
  timeout 120 $PY -m pytest -q --noconftest -p no:cacheprovider tests/fused/test_fused_kernels.py \
    > "$OUT/kernel_tests.txt" 2>&1
  echo "kernel tests on CUDA: exit $? (see $OUT/kernel_tests.txt)"; tail -3 "$OUT/kernel_tests.txt"
else
  echo "pytest not installed: kernel tests skipped (gpu_validate still checks every model bit for bit)" \
    | tee "$OUT/kernel_tests.txt"
fi

timeout 420 $PY -m gpu_validate --device cuda --models deit_tiny deit_small deit_base --batch 1 8 64 \
  --warmup 10 --runs 50 --budget-s 6 --out "$OUT" 2>&1 | tee "$OUT/gpu_validate.log"
status=${PIPESTATUS[0]}
echo "gpu_validate exit status: $status (0 = every integer path bit-exact; 124 = cut short by the timeout)"
cat "$OUT/results.md" 2>/dev/null
exit "$status"

"""The table fast paths under ``torch.compile``: a second call with the same shapes reuses the
compiled graph. (A hit counter bumped inside the compiled region used to become a guard that
failed on every call, so the ``fused-compiled`` executor recompiled its attention step per call.)"""

import numpy as np
import pytest
import torch
import torch._dynamo as dynamo

from ivit_hw import ops
from ivit_hw.ops import tables
from ivit_hw.runtime.fused import torch_kernels as T


@pytest.mark.parametrize("kernel", ["shiftmax", "shiftgelu"])
def test_table_path_compiles_once(kernel):
    dynamo.reset()
    rng = np.random.default_rng(7)  # 32,768 elements in 32 rows: both table paths are taken
    x_np = rng.integers(-128, 128, size=(2, 16, 1024)).astype(np.int64)
    x = torch.from_numpy(x_np)
    x0, n, span = -158, 15, 255
    table = T.lut(x0, n, span, x.device)
    if kernel == "shiftmax":
        def body(v):
            return T.shiftmax_lut(v, x0, n, 8, span, table)
        want = ops.shiftmax(x_np, x0, n, 8)
    else:
        def body(v):
            return T.shiftgelu_lut(v, x0, n, "scale", span, table)
        want = ops.shiftgelu(x_np, x0, n, "scale")
    compiled = torch.compile(body, dynamic=False, backend="eager")
    first = compiled(x)
    before = dict(tables.HITS)
    with dynamo.config.patch(error_on_recompile=True):
        second = compiled(x)  # a recompile here raises
    np.testing.assert_array_equal(first.numpy(), want)
    np.testing.assert_array_equal(second.numpy(), want)
    assert dict(tables.HITS) == before  # nothing counted from inside the compiled region

"""The fused path on the conformance suite (``ivit_hw.runtime.conformance``), exactly:

- (every case's one-node graph through the fused executor: tests/runtime/test_conformance.py,
  which runs every executor of the registry);
- the ShiftGELU and I-LayerNorm cases through the fused Triton row kernels and their torch twins
  (with an identity requantize, m = 1, e = 0, so the kernel's output is the op's output);
- the unmasked Shiftmax cases with narrow rows through the tabulated Shiftmax of the fused
  attention step.
The Triton attention kernel cannot take the suite's raw Shiftmax rows (it computes its scores
itself); it is checked on attention inputs in test_fused_kernels.py and on whole models.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton decorates the kernels

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ivit_hw.runtime.conformance import load_suite, write_suite  # noqa: E402
from ivit_hw.runtime.fused import executor as X  # noqa: E402
from ivit_hw.runtime.fused import torch_kernels as T  # noqa: E402
from ivit_hw.runtime.fused import triton_kernels as K  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("fused_conformance") / "suite"
    write_suite(out)
    cases = load_suite(out)
    assert len(cases) > 100
    return cases


def _of(suite, op):
    found = [c for c in suite if c.case.op == op]
    assert found, op
    return found


def _t(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.int64, device=DEV)


def test_shiftgelu_cases_through_the_fused_kernels(suite):
    for c in _of(suite, "shiftgelu"):
        x, a = c.case.inputs["x"], c.case.attrs
        got = K.gelu_requant(_t(x), a["x0"], a["n"], a["coef"], 1, 0, 64)
        assert np.array_equal(got.to(torch.int64).cpu().numpy(), c.case.output), c.name
        z_lo, z_hi = int(x.min()), int(x.max())
        if a["coef"] == "shift":
            z_lo, z_hi = (v + (v >> 1) + (v >> 3) + (v >> 4) for v in (z_lo, z_hi))
        for span in (0, z_hi - z_lo):
            got = X.gelu_step(_t(x), _t(a["x0"]), _t(1), _t(0), a["n"], a["coef"], 64, "half_even", span)
            assert np.array_equal(got.cpu().numpy(), c.case.output), (c.name, span)


def test_ilayernorm_cases_through_the_fused_kernels(suite):
    for c in _of(suite, "ilayernorm"):
        x, bias, a = c.case.inputs["x"], c.case.params["bias_int"], c.case.attrs
        if a["sqrt"] == "iter":
            got = K.layernorm_requant(_t(x), _t(bias), 1, 0, 64, a["iters"], a["k0"])
            assert np.array_equal(got.to(torch.int64).cpu().numpy(), c.case.output), c.name
        got = T.ilayernorm(_t(x), _t(bias), a["iters"], a["k0"], a["sqrt"])
        assert np.array_equal(got.cpu().numpy(), c.case.output), c.name


def test_shiftmax_cases_through_the_lookup_formulation(suite):
    for c in _of(suite, "shiftmax"):
        x, a = c.case.inputs["x"], c.case.attrs
        mask = c.case.params.get("mask")
        span = int(x.max()) - int(x.min())
        if mask is None and span <= 4096:
            got = T.shiftmax_lut(_t(x), a["x0"], a["n"], a["out_bits"], span)
            assert np.array_equal(got.cpu().numpy(), c.case.output), c.name

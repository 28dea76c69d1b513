"""HLS requantize with an identity term that broadcasts over leading axes (a Swin's relative-position
bias [heads, n, n] added to scores [windows, heads, n, n]): the C-sim equals the golden executor."""

from __future__ import annotations

import numpy as np
import pytest

from ivit_hw import ops
from ivit_hw.codegen.hls import HlsOptions, render_project
from ivit_hw.codegen.hls.verify import run_csim
from ivit_hw.ir import GraphBuilder, Interval, IntType, IRError

I8, I32, U8 = IntType(8), IntType(32), IntType(8, signed=False)


def _graph(identity_is_input: bool = False):
    rng = np.random.default_rng(3)
    b = GraphBuilder("bcast_identity")
    acc = b.input("acc", (3, 2, 4, 4), I32, 0.01, Interval(-5000, 5000))
    if identity_is_input:
        ident = b.input("bias", (2, 4, 4), I8, 0.2, Interval(-128, 127))
    else:
        ident = b.const("bias", rng.integers(-128, 128, (2, 4, 4)), I8, 0.2)
    m, e = ops.dyadic(0.01 / 0.5)
    m_id, e_id = ops.dyadic(0.2 / 0.5)
    y = b.node("requantize", {"acc": acc, "m": b.const("y.m", np.asarray(m), I32),
                              "e": b.const("y.e", np.asarray(e), U8), "identity": ident,
                              "m_id": b.const("y.m_id", np.asarray(m_id), I32),
                              "e_id": b.const("y.e_id", np.asarray(e_id), U8)},
               "y", I8, 0.5, {"out_bits": 8})
    return b.finish([y])


def test_a_constant_identity_broadcast_over_windows_is_bit_exact_in_csim(tmp_path):
    render_project(_graph(), tmp_path, HlsOptions(samples=3, trace_samples=0))
    status, text = run_csim(tmp_path, sanitize=True, echo=False)
    assert status == 0, text
    assert "PASS y: 3 samples x 96 values bit-exact" in text, text


def test_a_non_constant_identity_broadcast_is_refused_naming_the_node(tmp_path):
    with pytest.raises(IRError, match="node 'y'.*broadcasts to"):
        render_project(_graph(identity_is_input=True), tmp_path, HlsOptions(samples=1, trace_samples=0))
